// netasync-kv-server: a key-value service whose operations are calls
// (sessions): "put KEY VALUE" answers "ok", "get KEY" the value or the error
// "no such key", "del KEY" "ok". One actor owns the map; calls from every
// connection reach it and are answered in the order they arrive.
//
//   netasync-kv-server --listen URL [--drain-timeout MS]
//                      [--tls-cert PEM --tls-key PEM]
//
// Prints "listening on URL" (port 0 works). SIGINT/SIGTERM drain: no new
// connections, calls in flight answered, every connection closed (at most
// --drain-timeout, default 5000 ms); then "drained: C connections closed, K
// calls completed, A calls abandoned, D messages dropped", exit 0. A client
// whose link drops resumes its session: the same connection here, nothing
// lost, no call run twice.

#include <signal.h>

#include <iostream>
#include <map>
#include <string>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;
using namespace netasync;

namespace {

struct kv_state {
  std::map<std::string, std::string> data;
  uint64_t calls = 0;
};

std::string str(const bytes& x) {
  return std::string(x.begin(), x.end());
}

bytes to_bytes(const std::string& x) {
  return bytes(x.begin(), x.end());
}

caf::behavior kv_service(caf::stateful_actor<kv_state>* self) {
  return {
    [=](accepted_atom, const acceptor&, const connection& conn) {
      self->send(conn, subscribe_atom::value, caf::actor{self});
    },
    [=](call_atom, const connection&, const bytes& request)
      -> caf::result<bytes> {
      ++self->state.calls;
      auto text = str(request);
      auto sp1 = text.find(' ');
      auto op = text.substr(0, sp1);
      auto rest = sp1 == std::string::npos ? "" : text.substr(sp1 + 1);
      auto& data = self->state.data;
      if (op == "put") {
        auto sp2 = rest.find(' ');
        if (sp2 == std::string::npos || sp2 == 0)
          return make_error(error::invalid_argument, "usage: put KEY VALUE");
        data[rest.substr(0, sp2)] = rest.substr(sp2 + 1);
        return to_bytes("ok");
      }
      if (op == "get" && !rest.empty()) {
        auto i = data.find(rest);
        if (i == data.end())
          return make_error(error::invalid_argument, "no such key");
        return to_bytes(i->second);
      }
      if (op == "del" && !rest.empty()) {
        data.erase(rest);
        return to_bytes("ok");
      }
      return make_error(error::invalid_argument,
                        "unknown request (put, get, del)");
    },
    [=](const connection&, const bytes&) {
      // One-way messages: this service has none.
    },
    [=](connected_atom, const connection&) {},
    [=](disconnected_atom, const connection&, const caf::error& err) {
      std::cerr << "[kv] a client's link dropped (" << describe(err)
                << "): its session waits for it" << std::endl;
    },
    [=](closed_atom, const connection&, const caf::error& err) {
      std::cerr << "[kv] connection closed: " << describe(err) << std::endl;
    },
    [=](closed_atom, const acceptor&, const caf::error&) {},
  };
}

} // namespace

int main(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "--listen URL [--drain-timeout MS]"
                  " [--tls-cert PEM --tls-key PEM]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]"};
  auto url = cli::url_flag(p, "listen");
  auto drain_ms = p.num("drain-timeout", 1, 86400000, 5000);
  tls_options tls;
  cli::tls_flags(cli::side::server, p, tls);
  p.finish();
  auto sigs = cli::block_termination_signals();
  system_config cfg;
  if (!cli::load_config(cfg, p.config_args()))
    return 2;
  auto opts = options::from(cfg);
  opts.session = true;
  cli::apply_tls_flags(tls, opts.tls);
  caf::actor_system sys{cfg};
  auto service = sys.spawn(kv_service);
  auto acc = accept(sys, to_string(url), opts, {service});
  if (!acc) {
    std::cerr << argv[0] << ": cannot listen on " << to_string(url) << ": "
              << describe(acc.error()) << std::endl;
    caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
    return 2;
  }
  auto port = bound_port(sys, *acc);
  if (!port)
    return 1;
  url.port = *port;
  std::cout << "listening on " << to_string(url) << std::endl;
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0)
    ; // nop
  int rc = cli::drain_and_report(sys, *acc, drain_ms) ? 0 : 1;
  caf::anon_send_exit(service, caf::exit_reason::user_shutdown);
  return rc;
}
