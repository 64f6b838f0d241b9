// netasync-echo-server: accepts net.async connections and echoes every
// message back unchanged on the connection it came from.
//
//   netasync-echo-server --listen URL [--tls-cert PEM --tls-key PEM]
//                        [--tls-ca PEM] [--tls-require-client-cert]
//                        [--heartbeat-period MS] [--heartbeat-timeout MS]
//                        [--max-frame-size BYTES] [--session]
//                        [--drain-timeout MS]
//   netasync-echo-server --host H --port P ...   (= --listen tcp://H:P)
//
// URL: tcp://H:P or tls://H:P ([::1]:P for IPv6). Prints "listening on URL"
// with the bound port (so port 0 works), e.g. "listening on
// tls://127.0.0.1:40123"; with --host/--port, "listening on H:P".
// --session: sessions (docs/protocol.md section 13); calls are answered
// with their own bytes. SIGINT/SIGTERM: closes every connection and the
// acceptor, waits (at most 2 s) for their closed statuses, exits 0. With
// --drain-timeout MS, SIGTERM drains instead: stops listening, lets calls in
// flight be answered and buffers flush for at most MS, closes every
// connection (closed, draining), prints "drained: C connections closed, K
// calls completed, A calls abandoned, D messages dropped" and exits 0.
// Bind errors exit 2.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;

namespace {

using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using set_acc_atom = caf::atom_constant<caf::atom("set_acc")>;
using shutdown_timeout_atom = caf::atom_constant<caf::atom("shut_tout")>;

constexpr auto shutdown_wait = std::chrono::seconds(2);

// -- command line -------------------------------------------------------------

struct args {
  // --netasync.KEY=VALUE and --config-file=INI, for the configuration.
  std::vector<std::string> config;
  netasync::endpoint listen;
  bool have_listen = false; // --listen URL, not --host/--port
  netasync::tls_options tls;
  long long heartbeat_period_ms = -1;
  long long heartbeat_timeout_ms = -1;
  long long max_frame_size = -1;
  bool session = false;
  long long drain_timeout_ms = -1;
};

args parse_args(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "(--listen URL | --host H --port P)"
                  " [--tls-cert PEM --tls-key PEM] [--tls-ca PEM]"
                  " [--tls-require-client-cert] [--heartbeat-period MS]"
                  " [--heartbeat-timeout MS] [--max-frame-size BYTES]"
                  " [--session] [--drain-timeout MS]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]",
                  flags::layout::flags_only,
                  {"tls-require-client-cert", "session"}};
  args res;
  cli::tls_flags(cli::side::server, p, res.tls);
  if (p.given("listen")) {
    if (p.given("host") || p.given("port"))
      p.usage_error("--listen replaces --host and --port");
    res.listen = cli::url_flag(p, "listen");
    res.have_listen = true;
  } else {
    res.listen = netasync::endpoint{
      netasync::scheme::tcp, p.str("host"),
      static_cast<uint16_t>(p.num("port", 0, 65535)), {}};
  }
  res.heartbeat_period_ms = p.num("heartbeat-period", 1, 86400000, -1);
  res.heartbeat_timeout_ms = p.num("heartbeat-timeout", 1, 86400000, -1);
  res.max_frame_size = p.num("max-frame-size", 1, 0x7fffffff, -1);
  res.session = p.on("session");
  res.drain_timeout_ms = p.num("drain-timeout", 1, 86400000, -1);
  res.config = p.config_args();
  p.finish();
  return res;
}

// -- the echo actor -----------------------------------------------------------

struct echo_state {
  netasync::acceptor acc;
  bool acc_live = false;
  std::vector<netasync::connection> conns; // live connections
  bool shutting_down = false;
  caf::response_promise done;
  static inline const char* name = "echo-server";
};

using echo_actor = caf::stateful_actor<echo_state>;

void maybe_finish_shutdown(echo_actor* self) {
  auto& st = self->state;
  if (st.shutting_down && st.done.pending() && !st.acc_live
      && st.conns.empty())
    st.done.deliver(caf::unit);
}

void forget(echo_actor* self, const netasync::connection& conn) {
  auto& v = self->state.conns;
  v.erase(std::remove(v.begin(), v.end(), conn), v.end());
}

caf::behavior echo_server(echo_actor* self) {
  return {
    [=](set_acc_atom, const netasync::acceptor& acc) {
      self->state.acc = acc;
      self->state.acc_live = true;
    },
    [=](netasync::accepted_atom, const netasync::acceptor&,
        const netasync::connection& conn) {
      auto& st = self->state;
      std::cerr << "[server] accepted connection (" << st.conns.size() + 1
                << " live)" << std::endl;
      st.conns.push_back(conn);
      self->send(conn, netasync::subscribe_atom::value,
                 caf::actor_cast<caf::actor>(self));
      if (st.shutting_down)
        self->send(conn, netasync::close_atom::value);
    },
    [=](const netasync::connection& conn, netasync::bytes& payload) {
      // Plain send: a refused echo (buffer full, connection closing) is only
      // counted by the connection.
      self->send(conn, std::move(payload));
    },
    [=](netasync::call_atom, const netasync::connection&,
        netasync::bytes& payload) {
      // Sessions: a call is answered with its own bytes.
      return std::move(payload);
    },
    [=](netasync::connected_atom, const netasync::connection&) {
      // The late-subscriber notice of an accepted connection: nothing to do.
    },
    [=](netasync::disconnected_atom, const netasync::connection&,
        const caf::error& reason) {
      std::cerr << "[server] connection disconnected: "
                << netasync::describe(reason) << std::endl;
    },
    [=](netasync::closed_atom, const netasync::connection& conn,
        const caf::error& reason) {
      forget(self, conn);
      std::cerr << "[server] connection closed: " << netasync::describe(reason)
                << " (" << self->state.conns.size() << " live)" << std::endl;
      maybe_finish_shutdown(self);
    },
    [=](netasync::closed_atom, const netasync::acceptor&,
        const caf::error& reason) {
      self->state.acc_live = false;
      std::cerr << "[server] acceptor closed: " << netasync::describe(reason)
                << std::endl;
      maybe_finish_shutdown(self);
    },
    [=](shutdown_atom) -> caf::result<void> {
      auto& st = self->state;
      st.shutting_down = true;
      st.done = self->make_response_promise();
      for (auto& conn : st.conns)
        self->send(conn, netasync::close_atom::value);
      if (st.acc_live)
        self->send(st.acc, netasync::close_atom::value);
      self->delayed_send(self, shutdown_wait, shutdown_timeout_atom::value);
      maybe_finish_shutdown(self);
      return st.done;
    },
    [=](shutdown_timeout_atom) {
      auto& st = self->state;
      if (st.done.pending()) {
        std::cerr << "[server] shutdown: gave up waiting after 2 s ("
                  << st.conns.size() << " connections"
                  << (st.acc_live ? " and the acceptor" : "")
                  << " not closed)" << std::endl;
        st.done.deliver(caf::unit);
      }
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  auto a = parse_args(argc, argv);
  auto sigs = cli::block_termination_signals();
  netasync::system_config cfg;
  if (!cli::load_config(cfg, a.config))
    return 2;
  auto opts = netasync::options::from(cfg);
  if (a.heartbeat_period_ms > 0)
    opts.heartbeat_period = std::chrono::milliseconds(a.heartbeat_period_ms);
  if (a.heartbeat_timeout_ms > 0)
    opts.heartbeat_timeout = caf::timespan{
      std::chrono::milliseconds(a.heartbeat_timeout_ms)};
  if (a.max_frame_size > 0)
    opts.max_frame_size = static_cast<uint32_t>(a.max_frame_size);
  if (a.session)
    opts.session = true;
  cli::apply_tls_flags(a.tls, opts.tls);
  int rc = 0;
  {
    caf::actor_system sys{cfg};
    auto server = sys.spawn(echo_server);
    auto acc = netasync::accept(sys, netasync::to_string(a.listen), opts,
                                {server});
    if (!acc) {
      std::cerr << argv[0] << ": cannot listen on "
                << netasync::to_string(a.listen) << ": "
                << netasync::describe(acc.error()) << std::endl;
      caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
      return 2;
    }
    caf::anon_send(server, set_acc_atom::value, *acc);
    auto port = netasync::bound_port(sys, *acc);
    if (!port) {
      std::cerr << argv[0] << ": cannot read the bound port: "
                << netasync::describe(port.error()) << std::endl;
      caf::anon_send(*acc, netasync::close_atom::value);
      caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
      return 1;
    }
    auto bound = a.listen;
    bound.port = *port;
    if (a.have_listen)
      std::cout << "listening on " << netasync::to_string(bound) << std::endl;
    else
      std::cout << "listening on " << a.listen.host << ":" << *port
                << std::endl;
    int sig = 0;
    while (sigwait(&sigs, &sig) != 0)
      ; // nop
    // Not silent: sends the connections refused or dropped (an echo server
    // that lost echoes would say so here).
    {
      caf::scoped_actor self{sys};
      self->request(*acc, std::chrono::seconds(5), netasync::get_atom::value,
                    netasync::stats_atom::value)
        .receive(
          [&](netasync::acceptor_stats& s) {
            std::cerr << "[server] " << s.received << " messages received, "
                      << s.sent << " sent, " << s.sends_lost
                      << " sends refused or dropped" << std::endl;
          },
          [&](caf::error& err) {
            std::cerr << "[server] no stats: " << netasync::describe(err)
                      << std::endl;
          });
    }
    if (sig == SIGTERM && a.drain_timeout_ms > 0) {
      std::cerr << "[server] SIGTERM: draining for at most "
                << a.drain_timeout_ms << " ms" << std::endl;
      if (!cli::drain_and_report(sys, *acc, a.drain_timeout_ms))
        rc = 1;
    } else {
      std::cerr << "[server] " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                << ": closing connections" << std::endl;
    }
    {
      caf::scoped_actor self{sys};
      self->request(server, std::chrono::seconds(10), shutdown_atom::value)
        .receive([&] { /* all closed, or the 2 s bound passed */ },
                 [&](caf::error& err) {
                   std::cerr << "[server] shutdown failed: "
                             << netasync::describe(err) << std::endl;
                   rc = 1;
                 });
    }
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  }
  return rc;
}
