// netasync-supervised-echo: a scripted demo of the supervision. An echo
// server (acceptor) and a client live in one process on 127.0.0.1, each
// connection under its supervisor. Phases, each waiting for events (bounded
// by timeouts):
//
//   (a) connect, echo a few messages;
//   (b) drop the link: the server closes its connection handle; the client
//       sees disconnected, then connected again; echo resumes;
//   (c) crash a connection worker (crash_atom to the client handle): the
//       client sees disconnected ("worker failed"), then connected; the
//       client's stats show restarts = 1; echo resumes;
//   (d) restart the listener: close the acceptor (and the server's
//       connections, as a server restart would), see the client's reconnect
//       attempt refused, accept again on the same port; the client
//       reconnects; echo resumes.
//
// Then a summary. Exit 0 when every phase passed, 1 otherwise; the whole run
// is bounded by about 14 s.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace {

// Commands to the server actor.
using listen_atom = caf::atom_constant<caf::atom("listen")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using unlisten_atom = caf::atom_constant<caf::atom("unlisten")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using summary_atom = caf::atom_constant<caf::atom("summary")>;

// Driver messages.
using run_atom = caf::atom_constant<caf::atom("run")>;
using step_timeout_atom = caf::atom_constant<caf::atom("step_tout")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using close_wait_atom = caf::atom_constant<caf::atom("closewait")>;

constexpr auto host = "127.0.0.1";
constexpr int echoes_per_phase = 5;
constexpr auto step_timeout = std::chrono::seconds(3);
constexpr auto overall_deadline = std::chrono::seconds(14);

using clock_type = std::chrono::steady_clock;
const clock_type::time_point t0 = clock_type::now();

// Status lines are printed as they happen, e.g. "[client] connected".
void say(const std::string& line) {
  std::cout << line + "\n" << std::flush;
}

// Phase headers carry the time since start.
void header(const std::string& title) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              clock_type::now() - t0)
              .count();
  say("== " + title + " (t=" + std::to_string(ms) + " ms) ==");
}

netasync::options demo_options() {
  netasync::options opts;
  opts.heartbeat_period = std::chrono::milliseconds(200);
  opts.heartbeat_timeout = caf::timespan{std::chrono::milliseconds(1000)};
  opts.reconnect_period = std::chrono::milliseconds(200);
  opts.connect_timeout = std::chrono::seconds(1);
  opts.close_linger = std::chrono::seconds(1);
  return opts;
}

// -- the server ---------------------------------------------------------------

struct server_state {
  netasync::options opts;
  netasync::acceptor acc;
  bool listening = false;
  std::vector<netasync::connection> conns;
  caf::response_promise unlisten_done;
  caf::response_promise shutdown_done;
  std::map<std::string, int> statuses;
  uint64_t echoed = 0;
  static inline const char* name = "demo-server";
};

using server_actor = caf::stateful_actor<server_state>;

void note(server_actor* self, const std::string& status,
          const std::string& detail = "") {
  self->state.statuses[status] += 1;
  say("[server] " + status + (detail.empty() ? "" : ": " + detail));
}

void maybe_shutdown_done(server_actor* self) {
  auto& st = self->state;
  if (st.shutdown_done.pending() && !st.listening && st.conns.empty())
    st.shutdown_done.deliver(caf::unit);
}

caf::behavior demo_server(server_actor* self, netasync::options opts) {
  self->state.opts = opts;
  return {
    [=](listen_atom, uint16_t port) -> caf::result<uint16_t> {
      auto& st = self->state;
      auto acc = netasync::accept(self->system(), host, port, st.opts,
                                  {caf::actor_cast<caf::actor>(self)});
      if (!acc)
        return std::move(acc.error());
      st.acc = *acc;
      st.listening = true;
      // Ask the acceptor for the bound port (port may be 0).
      auto rp = self->make_response_promise<uint16_t>();
      self->request(st.acc, std::chrono::seconds(2), netasync::get_atom::value,
                    netasync::port_atom::value)
        .then([=](uint16_t bound) mutable {
                note(self, "listening",
                     std::string{host} + ":" + std::to_string(bound));
                rp.deliver(bound);
              },
              [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](netasync::accepted_atom, const netasync::acceptor&,
        const netasync::connection& conn) {
      auto& st = self->state;
      note(self, "accepted connection");
      st.conns.push_back(conn);
      self->send(conn, netasync::subscribe_atom::value,
                 caf::actor_cast<caf::actor>(self));
    },
    [=](const netasync::connection& conn, netasync::bytes& payload) {
      ++self->state.echoed;
      self->send(conn, std::move(payload));
    },
    [=](netasync::connected_atom, const netasync::connection&) {
      note(self, "connected");
    },
    [=](netasync::disconnected_atom, const netasync::connection&,
        const caf::error& reason) {
      note(self, "disconnected", netasync::describe(reason));
    },
    [=](netasync::closed_atom, const netasync::connection& conn,
        const caf::error& reason) {
      auto& v = self->state.conns;
      v.erase(std::remove(v.begin(), v.end(), conn), v.end());
      note(self, "connection closed", netasync::describe(reason));
      maybe_shutdown_done(self);
    },
    [=](netasync::closed_atom, const netasync::acceptor& acc,
        const caf::error& reason) {
      auto& st = self->state;
      note(self, "acceptor closed", netasync::describe(reason));
      if (acc == st.acc) {
        st.listening = false;
        if (st.unlisten_done.pending())
          st.unlisten_done.deliver(caf::unit);
      }
      maybe_shutdown_done(self);
    },
    // Drops every live link from the server side.
    [=](drop_atom) -> size_t {
      auto& st = self->state;
      for (auto& conn : st.conns)
        self->send(conn, netasync::close_atom::value);
      return st.conns.size();
    },
    // Stops listening and closes the connections (a server restart);
    // answers once the acceptor reported closed.
    [=](unlisten_atom) -> caf::result<void> {
      auto& st = self->state;
      if (!st.listening)
        return caf::unit;
      st.unlisten_done = self->make_response_promise();
      self->send(st.acc, netasync::close_atom::value);
      for (auto& conn : st.conns)
        self->send(conn, netasync::close_atom::value);
      return st.unlisten_done;
    },
    [=](shutdown_atom) -> caf::result<void> {
      auto& st = self->state;
      st.shutdown_done = self->make_response_promise();
      if (st.listening)
        self->send(st.acc, netasync::close_atom::value);
      for (auto& conn : st.conns)
        self->send(conn, netasync::close_atom::value);
      auto rp = st.shutdown_done;
      maybe_shutdown_done(self);
      return rp;
    },
    [=](summary_atom) {
      auto& st = self->state;
      std::string res;
      for (auto& kvp : st.statuses) {
        if (!res.empty())
          res += ", ";
        res += kvp.first + " x" + std::to_string(kvp.second);
      }
      res += "; " + std::to_string(st.echoed) + " messages echoed";
      return res;
    },
  };
}

// -- the driver (and client subscriber) ---------------------------------------

enum class step {
  idle,
  a_listen,
  a_connect,
  a_echo,
  b_drop,
  b_disconnected,
  b_connected,
  b_echo,
  c_disconnected,
  c_connected,
  c_stats,
  c_echo,
  d_unlisten,
  d_disconnected,
  d_refused,
  d_listen,
  d_connected,
  d_echo,
  summary,
  closing,
  over,
};

const char* describe_step(step x) {
  switch (x) {
    case step::idle: return "idle";
    case step::a_listen: return "(a) server starts listening";
    case step::a_connect: return "(a) client connected";
    case step::a_echo: return "(a) echoes";
    case step::b_drop: return "(b) server drops its connection";
    case step::b_disconnected: return "(b) client disconnected";
    case step::b_connected: return "(b) client connected again";
    case step::b_echo: return "(b) echoes";
    case step::c_disconnected: return "(c) client disconnected (worker failed)";
    case step::c_connected: return "(c) client connected again";
    case step::c_stats: return "(c) client stats";
    case step::c_echo: return "(c) echoes";
    case step::d_unlisten: return "(d) acceptor closed";
    case step::d_disconnected: return "(d) client disconnected";
    case step::d_refused: return "(d) client reconnect attempt refused";
    case step::d_listen: return "(d) server listens again on the same port";
    case step::d_connected: return "(d) client connected again";
    case step::d_echo: return "(d) echoes";
    case step::summary: return "summary";
    case step::closing: return "closing";
    case step::over: return "over";
  }
  return "?";
}

struct driver_state {
  caf::actor server;
  netasync::options opts;
  netasync::connection conn;
  uint16_t port = 0;
  step cur = step::idle;
  uint64_t step_gen = 0;
  caf::response_promise result;
  bool failed = false;
  std::string failure;
  // Echo bookkeeping.
  std::vector<std::string> outstanding; // sent, echo not yet seen, in order
  int echoed_in_phase = 0;
  uint64_t echoed_total = 0;
  int listen_retries = 0;
  // Client statuses seen, by name and reason.
  std::map<std::string, int> statuses;
  netasync::connection_stats last_stats;
  static inline const char* name = "demo-driver";
};

using driver_actor = caf::stateful_actor<driver_state>;

void enter(driver_actor* self, step next);

void fail(driver_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.cur == step::over || st.cur == step::closing)
    return;
  st.failed = true;
  st.failure = why;
  say("[demo] FAILED in " + std::string{describe_step(st.cur)} + ": " + why);
  enter(self, step::closing);
}

void send_echoes(driver_actor* self, const std::string& phase) {
  auto& st = self->state;
  st.echoed_in_phase = 0;
  for (int i = 1; i <= echoes_per_phase; ++i) {
    auto text = "phase " + phase + " message " + std::to_string(i);
    st.outstanding.push_back(text);
    self->request(st.conn, std::chrono::seconds(2),
                  netasync::bytes(text.begin(), text.end()))
      .then([] {},
            [=](caf::error& err) {
              fail(self, "send refused: " + netasync::describe(err));
            });
  }
}

void listen(driver_actor* self, uint16_t port);

void enter(driver_actor* self, step next) {
  auto& st = self->state;
  st.cur = next;
  auto gen = ++st.step_gen;
  if (next != step::over)
    self->delayed_send(self, step_timeout, step_timeout_atom::value, gen);
  switch (next) {
    case step::a_listen:
      header("phase (a): connect and echo");
      listen(self, 0);
      break;
    case step::a_connect: {
      auto conn = netasync::connect(self->system(), host, st.port, st.opts,
                                    {caf::actor_cast<caf::actor>(self)});
      if (!conn) {
        fail(self, "connect: " + netasync::describe(conn.error()));
        return;
      }
      st.conn = *conn;
      break;
    }
    case step::a_echo:
      send_echoes(self, "a");
      break;
    case step::b_drop:
      header("phase (b): the server drops the link");
      self->request(st.server, step_timeout, drop_atom::value)
        .then(
          [=](size_t n) {
            if (n != 1)
              fail(self, "the server had " + std::to_string(n)
                           + " connections, expected 1");
            else if (self->state.cur == step::b_drop)
              enter(self, step::b_disconnected);
          },
          [=](caf::error& err) { fail(self, netasync::describe(err)); });
      break;
    case step::b_echo:
      send_echoes(self, "b");
      break;
    case step::c_disconnected:
      header("phase (c): crash the client's connection worker");
      self->send(st.conn, netasync::crash_atom::value);
      break;
    case step::c_stats:
      self
        ->request(st.conn, step_timeout, netasync::get_atom::value,
                  netasync::stats_atom::value)
        .then(
          [=](const netasync::connection_stats& s) {
            self->state.last_stats = s;
            say("[client] stats: state " + s.state + ", connects "
                + std::to_string(s.connects) + ", disconnects "
                + std::to_string(s.disconnects) + ", restarts "
                + std::to_string(s.restarts));
            if (s.restarts != 1)
              fail(self, "restarts = " + std::to_string(s.restarts)
                           + ", expected 1");
            else
              enter(self, step::c_echo);
          },
          [=](caf::error& err) { fail(self, netasync::describe(err)); });
      break;
    case step::c_echo:
      send_echoes(self, "c");
      break;
    case step::d_unlisten:
      header("phase (d): restart the listener");
      self->request(st.server, step_timeout, unlisten_atom::value)
        .then(
          [=] {
            if (self->state.cur == step::d_unlisten)
              enter(self, step::d_disconnected);
          },
          [=](caf::error& err) { fail(self, netasync::describe(err)); });
      break;
    case step::d_listen:
      st.listen_retries = 0;
      listen(self, st.port);
      break;
    case step::d_echo:
      send_echoes(self, "d");
      break;
    case step::summary:
      self
        ->request(st.conn, step_timeout, netasync::get_atom::value,
                  netasync::stats_atom::value)
        .then(
          [=](const netasync::connection_stats& s) {
            auto& st = self->state;
            st.last_stats = s;
            self->request(st.server, step_timeout, summary_atom::value)
              .then(
                [=](const std::string& server_summary) {
                  auto& st = self->state;
                  std::string client_summary;
                  for (auto& kvp : st.statuses) {
                    if (!client_summary.empty())
                      client_summary += ", ";
                    client_summary += kvp.first + " x"
                                      + std::to_string(kvp.second);
                  }
                  auto& s = st.last_stats;
                  auto connected_seen = st.statuses["connected"];
                  header("summary");
                  std::cout
                    << "client statuses seen: " << client_summary << "\n"
                    << "server: " << server_summary << "\n"
                    << "messages echoed: " << st.echoed_total << " of "
                    << 4 * echoes_per_phase << "\n"
                    << "restarts: " << s.restarts << "\n"
                    << "reconnects: " << (connected_seen > 0
                                           ? connected_seen - 1 : 0)
                    << " (connected statuses after the first; new links "
                    << (s.connects > 0 ? s.connects - 1 : 0)
                    << " by the stats: connects " << s.connects
                    << ", disconnects and failed attempts "
                    << s.disconnects << ")\n"
                    << "sent " << s.sent << ", dropped " << s.dropped
                    << ", rejected " << s.rejected << std::endl;
                  enter(self, step::closing);
                },
                [=](caf::error& err) { fail(self, netasync::describe(err)); });
          },
          [=](caf::error& err) { fail(self, netasync::describe(err)); });
      break;
    case step::closing:
      // Close the client (its closed status ends this step), then the server.
      if (st.conn)
        self->send(st.conn, netasync::close_atom::value);
      else
        enter(self, step::over);
      break;
    case step::over:
      self->request(st.server, std::chrono::seconds(2), shutdown_atom::value)
        .then(
          [=] {
            auto& st = self->state;
            header(st.failed ? "FAILED: " + st.failure
                             : "all phases passed");
            st.result.deliver(st.failed ? 1 : 0);
            self->quit();
          },
          [=](caf::error& err) {
            auto& st = self->state;
            say("[demo] server shutdown: " + netasync::describe(err));
            st.result.deliver(1);
            self->quit();
          });
      break;
    default:
      break;
  }
}

void listen(driver_actor* self, uint16_t port) {
  auto& st = self->state;
  self->request(st.server, step_timeout, listen_atom::value, port)
    .then(
      [=](uint16_t bound) {
        auto& st = self->state;
        if (st.listen_retries > 0)
          say("[demo] note: binding port " + std::to_string(port)
              + " again took " + std::to_string(st.listen_retries + 1)
              + " attempts");
        st.port = bound;
        if (st.cur == step::a_listen)
          enter(self, step::a_connect);
        else if (st.cur == step::d_listen)
          enter(self, step::d_connected);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        // The acceptor's closed status may come before the kernel released
        // the port: retry a few times, and say so.
        if (st.cur == step::d_listen
            && netasync::code_of(err) == netasync::error::bind_failed
            && ++st.listen_retries < 20) {
          say("[demo] listen again failed (" + netasync::describe(err)
              + "), retrying");
          self->delayed_send(self, std::chrono::milliseconds(20),
                             listen_atom::value, port);
          return;
        }
        fail(self, "listen: " + netasync::describe(err));
      });
}

// A crashed worker's reason: "worker failed" in the text (older library
// versions: io_error "connection worker failed: ...") or the worker_failed
// code ("netasync::worker_failed (...)").
bool mentions_worker_failure(const caf::error& reason) {
  auto text = netasync::describe(reason);
  return text.find("worker failed") != std::string::npos
         || text.find("worker_failed") != std::string::npos;
}

void client_status(driver_actor* self, const std::string& status,
                   const caf::error& reason, bool with_reason) {
  auto& st = self->state;
  auto key = status;
  if (with_reason && reason)
    key += " (" + std::string{netasync::to_string(netasync::code_of(reason))}
           + ")";
  st.statuses[key] += 1;
  say("[client] " + status
      + (with_reason ? ": " + netasync::describe(reason) : ""));
}

caf::behavior demo_driver(driver_actor* self, caf::actor server) {
  auto& st = self->state;
  st.server = std::move(server);
  st.opts = demo_options();
  return {
    [=](run_atom) -> caf::result<int> {
      auto& st = self->state;
      st.result = self->make_response_promise();
      self->delayed_send(self, overall_deadline, deadline_atom::value);
      enter(self, step::a_listen);
      return st.result;
    },
    [=](listen_atom, uint16_t port) {
      if (self->state.cur == step::d_listen)
        listen(self, port);
    },
    [=](netasync::connected_atom, const netasync::connection&) {
      auto& st = self->state;
      client_status(self, "connected", caf::error{}, false);
      switch (st.cur) {
        case step::a_connect: enter(self, step::a_echo); break;
        case step::b_connected: enter(self, step::b_echo); break;
        case step::c_connected: enter(self, step::c_stats); break;
        case step::d_connected: enter(self, step::d_echo); break;
        case step::closing: break;
        default: fail(self, "unexpected connected");
      }
    },
    [=](netasync::disconnected_atom, const netasync::connection&,
        const caf::error& reason) {
      auto& st = self->state;
      client_status(self, "disconnected", reason, true);
      auto code = netasync::code_of(reason);
      switch (st.cur) {
        case step::b_drop: // the drop may be seen before the reply
        case step::b_disconnected:
          if (code != netasync::error::connection_lost)
            fail(self, "expected connection_lost");
          else
            enter(self, step::b_connected);
          break;
        case step::c_disconnected:
          if (!mentions_worker_failure(reason))
            fail(self, "expected a \"worker failed\" reason");
          else
            enter(self, step::c_connected);
          break;
        case step::d_unlisten:
        case step::d_disconnected:
          if (code != netasync::error::connection_lost)
            fail(self, "expected connection_lost");
          else
            enter(self, step::d_refused);
          break;
        case step::d_refused:
          if (code != netasync::error::connect_failed)
            fail(self, "expected connect_failed");
          else
            enter(self, step::d_listen);
          break;
        case step::d_listen:
        case step::d_connected:
          // Further refused attempts until the listener is back.
          if (code != netasync::error::connect_failed)
            fail(self, "expected connect_failed");
          break;
        case step::closing: break;
        default:
          fail(self, "unexpected disconnect: " + netasync::describe(reason));
      }
    },
    [=](netasync::closed_atom, const netasync::connection&,
        const caf::error& reason) {
      auto& st = self->state;
      client_status(self, "closed", reason, true);
      st.conn = nullptr;
      if (st.cur == step::closing)
        enter(self, step::over);
      else
        fail(self, "unexpected closed: " + netasync::describe(reason));
    },
    [=](const netasync::connection&, netasync::bytes& payload) {
      auto& st = self->state;
      std::string text(payload.begin(), payload.end());
      if (st.outstanding.empty() || st.outstanding.front() != text) {
        fail(self, "unexpected echo \"" + text + "\""
                     + (st.outstanding.empty()
                          ? std::string{}
                          : ", expected \"" + st.outstanding.front() + "\""));
        return;
      }
      st.outstanding.erase(st.outstanding.begin());
      ++st.echoed_total;
      say("[client] echo: " + text);
      if (++st.echoed_in_phase < echoes_per_phase)
        return;
      switch (st.cur) {
        case step::a_echo: enter(self, step::b_drop); break;
        case step::b_echo: enter(self, step::c_disconnected); break;
        case step::c_echo: enter(self, step::d_unlisten); break;
        case step::d_echo: enter(self, step::summary); break;
        default: fail(self, "echoes complete in an unexpected step");
      }
    },
    [=](step_timeout_atom, uint64_t gen) {
      auto& st = self->state;
      if (gen != st.step_gen)
        return;
      if (st.cur == step::closing) {
        say("[demo] the client's closed status did not come");
        st.failed = true;
        if (st.failure.empty())
          st.failure = "no closed status after close";
        enter(self, step::over);
        return;
      }
      fail(self, "timed out after "
                   + std::to_string(std::chrono::duration_cast<
                                      std::chrono::milliseconds>(step_timeout)
                                      .count())
                   + " ms");
    },
    [=](deadline_atom) {
      auto& st = self->state;
      if (st.cur == step::over)
        return;
      say("[demo] overall deadline passed");
      st.failed = true;
      if (st.failure.empty())
        st.failure = "overall deadline";
      if (st.cur != step::closing)
        enter(self, step::closing);
      else
        enter(self, step::over);
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  flags::parser{argc, argv, "(no flags)"}.finish();
  netasync::system_config cfg;
  if (!netasync::examples::load_config(cfg))
    return 2;
  int rc = 1;
  {
    caf::actor_system sys{cfg};
    auto server = sys.spawn(demo_server, demo_options());
    auto driver = sys.spawn(demo_driver, server);
    {
      caf::scoped_actor self{sys};
      self->request(driver, std::chrono::seconds(20), run_atom::value)
        .receive([&](int x) { rc = x; },
                 [&](caf::error& err) {
                   std::cerr << "demo failed: " << netasync::describe(err)
                             << std::endl;
                   rc = 1;
                 });
    }
    caf::anon_send_exit(driver, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(server, caf::exit_reason::user_shutdown);
  }
  return rc;
}
