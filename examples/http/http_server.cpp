// netasync-http-server: Aleph's HTTP examples as routes, with WebSocket
// routes (an echo and the chat) on the same port and static files.
//
//   netasync-http-server --listen http://HOST:PORT [--static DIR]
//                        [--tls-cert PEM --tls-key PEM] [--tls-ca PEM]
//                        [--tls-require-client-cert]
//                        [--netasync.KEY=VALUE ...] [--config-file=INI]
//
// Also https:// URLs (with --tls-cert and --tls-key); port 0 picks one.
// Prints "listening on URL" with the bound port once bound. Routes:
//   GET /hello              200 "hello world!" (text/plain)
//   GET /delayed_hello      the same one second later, without holding a
//                           thread meanwhile (a response promise the actor
//                           keeps, answered by a timer message)
//   GET /numbers?count=N    the lines 0 to N-1 (default 10), one every
//                           100 ms, chunked: each line goes once the one
//                           before it is written
//   GET /events             server-sent events: "data: <unix ms>" a second
//   GET /clock              a page that shows /events (EventSource)
//   POST /echo              the request's body back
//   GET /ws                 upgrades to a WebSocket echo
//   GET /chat               upgrades to the chat of netasync-chat-server
//                           (examples/chat/: --static examples/chat/www
//                           serves its page at /)
//   anything else           from --static, or 404 (405 for another method
//                           on a route's path)
// A stream whose client went away prints "[NAME] stream ended: REASON" on
// stderr. SIGINT/SIGTERM: drains (WebSocket connections closed with
// `draining`, at most 5 s) and exits 0. Bind errors exit 2.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "chat/rooms.hpp"

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;

namespace {

using later_atom = caf::atom_constant<caf::atom("later")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using promise = caf::typed_response_promise<netasync::http_response>;

netasync::http_response text(std::string body) {
  return netasync::http_response{
    200, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
}

// Each route is an actor, as an application's would be.
caf::behavior hello(caf::event_based_actor*) {
  return {[](const netasync::http_request&) { return text("hello world!"); }};
}

caf::behavior delayed_hello(caf::event_based_actor* self) {
  return {
    [=](const netasync::http_request&) {
      auto rp = self->make_response_promise<netasync::http_response>();
      self->delayed_send(self, std::chrono::seconds(1), later_atom::value, rp);
      return rp;
    },
    [](later_atom, promise& rp) { rp.deliver(text("hello world!")); },
  };
}

caf::behavior echo_body(caf::event_based_actor*) {
  return {[](const netasync::http_request& req) { return text(req.body); }};
}

// A streamed body: `next(i)` is the i-th piece (none: the end), sent
// `every` apart, each once the one before is written.
struct ticker_state {
  caf::actor stream;
  int i = 0;
};

caf::behavior ticker(caf::stateful_actor<ticker_state>* self, std::string name,
                     std::chrono::milliseconds every,
                     std::function<std::optional<std::string>(int)> next) {
  auto ended = [=](const caf::error& why) {
    std::cerr << "[" << name << "] stream ended: " << netasync::describe(why)
              << std::endl;
    self->quit();
  };
  return {
    [=](netasync::http_stream_atom, caf::actor stream,
        const netasync::http_request&) {
      self->state.stream = std::move(stream);
      self->send(self, tick_atom::value);
    },
    [=](tick_atom) {
      auto& st = self->state;
      auto piece = next(st.i++);
      if (!piece) {
        self->send(st.stream, netasync::close_atom::value);
        self->quit();
        return;
      }
      // Answered once written: the client's reading sets the pace.
      self->request(st.stream, std::chrono::seconds(10), std::move(*piece))
        .then([=] { self->delayed_send(self, every, tick_atom::value); },
              [=](caf::error& why) { ended(why); });
    },
    // The stream ended on its own (the request's error says it first).
    [=](netasync::closed_atom, const caf::actor&, const caf::error& why) {
      ended(why);
    },
  };
}

using next_piece = std::function<std::optional<std::string>(int)>;

caf::behavior numbers(caf::event_based_actor* self) {
  return {
    [=](const netasync::http_request& req) {
      int count = 10;
      for (auto& [k, v] : req.query)
        if (k == "count")
          count = std::max(0, std::min(std::atoi(v.c_str()), 100000));
      auto res = text("");
      res.producer = self->spawn<caf::linked>(
        ticker, "numbers", std::chrono::milliseconds(100),
        next_piece([count](int i) -> std::optional<std::string> {
          if (i >= count)
            return std::nullopt;
          return std::to_string(i) + "\n";
        }));
      return res;
    },
  };
}

caf::behavior events(caf::event_based_actor* self) {
  return {
    [=](const netasync::http_request&) {
      return netasync::sse_response(self->spawn<caf::linked>(
        ticker, "events", std::chrono::milliseconds(1000),
        next_piece([](int) -> std::optional<std::string> {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
          return netasync::sse_event(std::to_string(ms.count()));
        })));
    },
  };
}

constexpr const char* clock_page = R"(<!doctype html>
<meta charset="utf-8"><title>clock</title>
<p>The server's clock, by server-sent events: <b id="t">…</b></p>
<script>
new EventSource("/events").onmessage = (e) => {
  document.getElementById("t").textContent =
    new Date(Number(e.data)).toISOString();
};
</script>
)";

caf::behavior page(caf::event_based_actor*) {
  return {
    [](const netasync::http_request&) {
      return netasync::http_response{
        200, {{"Content-Type", "text/html; charset=utf-8"}}, clock_page};
    },
  };
}

// The WebSocket echo at /ws: each accepted connection, each message back.
caf::behavior ws_echo(caf::event_based_actor* self) {
  return {
    [=](netasync::accepted_atom, const netasync::acceptor&,
        const netasync::connection& conn) {
      self->send(conn, netasync::subscribe_atom::value, caf::actor{self});
    },
    [=](const netasync::connection& conn, netasync::bytes& payload) {
      self->send(conn, std::move(payload));
    },
    [](netasync::connected_atom, const netasync::connection&) {},
    [](netasync::disconnected_atom, const netasync::connection&,
       const caf::error&) {},
    [](netasync::closed_atom, const netasync::connection&,
       const caf::error&) {},
    [](netasync::closed_atom, const netasync::acceptor&, const caf::error&) {},
  };
}

} // namespace

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(promise)

int main(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "--listen http://HOST:PORT [--static DIR]"
                  " [--tls-cert PEM --tls-key PEM] [--tls-ca PEM]"
                  " [--tls-require-client-cert]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]",
                  flags::layout::flags_only, {"tls-require-client-cert"}};
  auto listen = cli::url_flag(p, "listen");
  if (listen.kind != netasync::scheme::http
      && listen.kind != netasync::scheme::https)
    p.usage_error("--listen takes an http:// or https:// URL");
  auto static_dir = p.str("static", "");
  netasync::tls_options tls;
  cli::tls_flags(cli::side::server, p, tls);
  auto config = p.config_args();
  p.finish();
  auto sigs = cli::block_termination_signals();
  netasync::system_config cfg;
  if (!cli::load_config(cfg, config))
    return 2;
  auto opts = netasync::options::from(cfg);
  cli::apply_tls_flags(tls, opts.tls);
  if (!static_dir.empty())
    opts.ws.static_dir = static_dir;
  caf::actor_system sys{cfg};
  std::vector<caf::actor> actors{sys.spawn(hello),     sys.spawn(delayed_hello),
                                 sys.spawn(numbers),   sys.spawn(events),
                                 sys.spawn(page),      sys.spawn(echo_body),
                                 sys.spawn(ws_echo),   sys.spawn(cli::rooms)};
  auto router = netasync::spawn_http_router(
    sys, {{"GET", "/hello", actors[0]},
          {"GET", "/delayed_hello", actors[1]},
          {"GET", "/numbers", actors[2]},
          {"GET", "/events", actors[3]},
          {"GET", "/clock", actors[4]},
          {"POST", "/echo", actors[5]}});
  if (!router) {
    std::cerr << argv[0] << ": " << netasync::describe(router.error())
              << std::endl;
    return 1;
  }
  actors.push_back(*router);
  // Aleph's server: its HTTP routes and its WebSocket routes on one port,
  // each WebSocket route's connections to their own actor.
  opts.ws.routes = {{"/ws", {actors[6]}, {}}, {"/chat", {actors[7]}, {}}};
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
  {
    caf::scoped_actor self{sys};
    self->request(*acc, std::chrono::seconds(15), netasync::drain_atom::value,
                  caf::timespan{std::chrono::seconds(5)})
      .receive([](netasync::drain_report&) {},
               [](caf::error& err) {
                 std::cerr << "drain failed: " << netasync::describe(err)
                           << std::endl;
               });
  }
  for (auto& a : actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  return 0;
}
