// netasync-http-hello: Aleph's HTTP examples as routes on an http:// (or
// https://) listener.
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
//   GET /numbers?count=N    the numbers 0 to N-1 (default 10), one line
//                           every 100 ms, streamed: each line goes once
//                           the one before it is written
//   GET /clock              server-sent events, the time once a second
//   GET /                   a page that shows /clock (EventSource)
//   anything else           404; another method on these paths: 405
// A stream whose client goes away prints "[NAME] stream ended: REASON" on
// stderr.
// SIGINT/SIGTERM: closes the listener and exits 0. Bind errors exit 2.

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <iostream>
#include <optional>
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

using tick_atom = caf::atom_constant<caf::atom("tick")>;

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

caf::behavior numbers(caf::event_based_actor* self) {
  return {
    [=](const netasync::http_request& req) {
      int count = 10;
      for (auto& [k, v] : req.query)
        if (k == "count")
          count = std::max(0, std::min(std::atoi(v.c_str()), 100000));
      auto producer = self->spawn<caf::linked>(
        ticker, "numbers", std::chrono::milliseconds(100),
        std::function<std::optional<std::string>(int)>(
          [count](int i) -> std::optional<std::string> {
            if (i >= count)
              return std::nullopt;
            return std::to_string(i) + "\n";
          }));
      auto res = text("");
      res.producer = producer;
      return res;
    },
  };
}

caf::behavior sse_clock(caf::event_based_actor* self) {
  return {
    [=](const netasync::http_request&) {
      auto producer = self->spawn<caf::linked>(
        ticker, "clock", std::chrono::milliseconds(1000),
        std::function<std::optional<std::string>(int)>(
          [](int) -> std::optional<std::string> {
            auto now = std::time(nullptr);
            char buf[32];
            std::strftime(buf, sizeof(buf), "%H:%M:%S", std::gmtime(&now));
            return netasync::sse_event(std::string{buf} + " UTC");
          }));
      return netasync::sse_response(producer);
    },
  };
}

constexpr const char* clock_page = R"(<!doctype html>
<meta charset="utf-8"><title>clock</title>
<p>The server's clock, by server-sent events: <b id="t">…</b></p>
<script>
new EventSource("/clock").onmessage = (e) => {
  document.getElementById("t").textContent = e.data;
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
  std::vector<caf::actor> handlers{sys.spawn(hello), sys.spawn(delayed_hello),
                                   sys.spawn(numbers), sys.spawn(sse_clock),
                                   sys.spawn(page)};
  auto router = netasync::spawn_http_router(
    sys, {{"GET", "/hello", handlers[0]},
          {"GET", "/hello/<name>", handlers[0]},
          {"GET", "/delayed-hello", handlers[1]},
          {"GET", "/numbers", handlers[2]},
          {"GET", "/clock", handlers[3]},
          {"GET", "/", handlers[4]}});
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
