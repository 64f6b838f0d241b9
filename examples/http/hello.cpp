// netasync-http-hello: Aleph's first HTTP examples as routes on an
// http:// (or https://) listener.
//
//   netasync-http-hello --listen URL [--tls-cert PEM --tls-key PEM]
//                       [--netasync.KEY=VALUE ...] [--config-file=INI]
//
// URL: http://H:P or https://H:P (port 0 picks one). Prints "listening on
// URL" with the bound port once bound. Routes:
//   GET /hello              "hello world!"
//   GET /hello/<name>       "hello <name>!" (the segment percent-decoded)
//   GET /delayed-hello      "hello world!" one second later, without
//                           holding a thread meanwhile (a response promise
//                           the actor keeps, answered by a timer message)
//   anything else           404; another method on these paths: 405
// SIGINT/SIGTERM: closes the listener and exits 0. Bind errors exit 2.

#include <signal.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;

namespace {

using later_atom = caf::atom_constant<caf::atom("later")>;

netasync::http_response text(std::string body) {
  return netasync::http_response{
    200, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
}

// Each route is an actor, as an application's would be.
caf::behavior hello(caf::event_based_actor*) {
  return {
    [](const netasync::http_request& req) {
      for (auto& [k, v] : req.params)
        if (k == "name")
          return text("hello " + v + "!\n");
      return text("hello world!\n");
    },
  };
}

caf::behavior delayed_hello(caf::event_based_actor* self) {
  return {
    [=](const netasync::http_request&) {
      auto rp = self->make_response_promise<netasync::http_response>();
      self->delayed_send(self, std::chrono::seconds(1), later_atom::value, rp);
      return rp;
    },
    [](later_atom, caf::typed_response_promise<netasync::http_response>& rp) {
      rp.deliver(text("hello world!\n"));
    },
  };
}

} // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(
  caf::typed_response_promise<netasync::http_response>)

int main(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "--listen URL [--tls-cert PEM --tls-key PEM]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]"};
  auto listen = cli::url_flag(p, "listen");
  netasync::tls_options tls;
  tls.cert_file = p.str("tls-cert", "");
  tls.key_file = p.str("tls-key", "");
  auto config = p.config_args();
  p.finish();
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  netasync::system_config cfg;
  if (!cli::load_config(cfg, config))
    return 2;
  auto opts = netasync::options::from(cfg);
  cli::apply_tls_flags(tls, opts.tls);
  caf::actor_system sys{cfg};
  std::vector<caf::actor> handlers{sys.spawn(hello), sys.spawn(delayed_hello)};
  auto router = netasync::spawn_http_router(
    sys, {{"GET", "/hello", handlers[0]},
          {"GET", "/hello/<name>", handlers[0]},
          {"GET", "/delayed-hello", handlers[1]}});
  if (!router) {
    std::cerr << argv[0] << ": " << netasync::describe(router.error())
              << std::endl;
    return 1;
  }
  auto acc = netasync::accept(sys, netasync::to_string(listen), opts,
                              {*router});
  if (!acc) {
    std::cerr << argv[0] << ": cannot listen on " << netasync::to_string(listen)
              << ": " << netasync::describe(acc.error()) << std::endl;
    return 2;
  }
  auto port = netasync::bound_port(sys, *acc);
  if (!port) {
    std::cerr << argv[0] << ": cannot read the bound port: "
              << netasync::describe(port.error()) << std::endl;
    return 1;
  }
  auto bound = listen;
  bound.port = *port;
  std::cout << "listening on " << netasync::to_string(bound) << std::endl;
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0)
    ; // nop
  caf::anon_send(*acc, netasync::close_atom::value);
  handlers.push_back(*router);
  for (auto& h : handlers)
    caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
  return 0;
}
