#include "acceptor_actor.hpp"

#include <algorithm>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>

#include "connection_supervisor.hpp"
#include "http_exchange.hpp"
#include "traffic_totals.hpp"
#include "netasync/error.hpp"

namespace netasync {

namespace {

struct acceptor_state {
  acceptor_config cfg;
  acceptor handle;
  // max-buffered-bytes across the connections it hands out.
  detail::buffer_budget_ptr budget;
  detail::traffic_totals_ptr totals
    = std::make_shared<detail::traffic_totals>();
  uint64_t accepted = 0;
  uint64_t refused = 0;
  // Connections handed out and still alive (for max_connections).
  std::set<caf::actor_addr> live;
  bool done = false;
  caf::error reason;
  static inline const char* name = "netasync.acceptor";
};

using acceptor_actor = caf::stateful_actor<acceptor_state>;

using close_timeout_atom = caf::atom_constant<caf::atom("na_ltime")>;

// How long closed may wait for the listener to confirm the port is free.
constexpr auto listener_close_bound = std::chrono::seconds(2);

void report_closed(acceptor_actor* self) {
  auto& st = self->state;
  auto msg = caf::make_message(closed_atom::value, st.handle, st.reason);
  for (auto& sub : st.cfg.subscribers) {
    self->send(sub, msg);
    self->demonitor(sub); // see connection_supervisor.cpp: finish()
  }
  for (auto& conn : st.live)
    self->demonitor(conn);
  self->quit();
}

// Subscribers learn closed once the port is free, so they may bind it again
// at once; `wait` is false at shutdown, when nobody will bind again.
void stop(acceptor_actor* self, caf::error reason, bool wait) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  st.reason = std::move(reason);
  st.cfg.listen->close();
  if (!wait) {
    report_closed(self);
    return;
  }
  self->delayed_send(self, listener_close_bound, close_timeout_atom::value);
}

acceptor_stats current_stats(acceptor_actor* self) {
  auto& st = self->state;
  acceptor_stats s;
  s.open = st.live.size();
  s.accepted = st.accepted;
  s.refused = st.refused;
  s.handshake_failures = st.cfg.listen->handshake_failures();
  s.buffered_bytes = st.budget ? st.budget->total() : 0;
  auto& t = *st.totals;
  s.received = t.messages_in.load(std::memory_order_relaxed);
  s.bytes_received = t.bytes_in.load(std::memory_order_relaxed);
  s.sent = t.messages_out.load(std::memory_order_relaxed);
  s.bytes_sent = t.bytes_out.load(std::memory_order_relaxed);
  return s;
}

// GET /metrics: the Prometheus text exposition format (version 0.0.4).
std::string prometheus_text(const acceptor_stats& s) {
  std::string r;
  auto metric = [&](const char* name, const char* type, const char* help,
                    uint64_t value) {
    r += std::string{"# HELP netasync_"} + name + " " + help + "\n";
    r += std::string{"# TYPE netasync_"} + name + " " + type + "\n";
    r += std::string{"netasync_"} + name + " " + std::to_string(value) + "\n";
  };
  metric("connections_open", "gauge", "Connections open now.", s.open);
  metric("connections_accepted_total", "counter",
         "Connections accepted since the start.", s.accepted);
  metric("connections_refused_total", "counter",
         "Connections reset at once (max-connections, no subscriber).",
         s.refused);
  metric("handshake_failures_total", "counter",
         "TLS and WebSocket handshakes that failed or timed out.",
         s.handshake_failures);
  metric("buffered_bytes", "gauge",
         "Bytes held in outbound buffers and unprocessed payloads.",
         s.buffered_bytes);
  metric("messages_received_total", "counter", "Payloads received.",
         s.received);
  metric("bytes_received_total", "counter", "Payload bytes received.",
         s.bytes_received);
  metric("messages_sent_total", "counter", "Payloads written completely.",
         s.sent);
  metric("bytes_sent_total", "counter", "Payload bytes written completely.",
         s.bytes_sent);
  return r;
}

caf::behavior acceptor_behavior(acceptor_actor* self, acceptor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.handle = caf::actor_cast<acceptor>(self);
  if (st.cfg.opts->max_buffered_bytes > 0)
    st.budget = std::make_shared<detail::buffer_budget>(
      st.cfg.opts->max_buffered_bytes);
  for (auto& sub : st.cfg.subscribers)
    self->monitor(sub);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (self->state.live.erase(dm.source) > 0)
      return;
    auto& subs = self->state.cfg.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(),
                              [&](const caf::actor& x) {
                                return x == dm.source;
                              }),
               subs.end());
  });
  self->set_exit_handler([=](caf::exit_msg& em) {
    stop(self,
         em.reason == caf::exit_reason::user_shutdown
           ? make_error(error::shutting_down)
           : em.reason,
         false);
  });
  // Closing the listener in every way this actor can end, exceptions too.
  self->attach_functor([l = st.cfg.listen] { l->close(); });
  st.cfg.listen->start(caf::actor{self});
  return {
    [=](listener_accepted_atom, transport_ptr& tr) {
      auto& st = self->state;
      // Nobody could ever take this connection: refuse it rather than keep
      // an orphan alive (net.async's 7.4).
      if (st.done || st.cfg.subscribers.empty()) {
        tr->close(close_mode::abortive, make_error(error::closed_by_user));
        ++st.refused;
        return;
      }
      // Past the limit: reset at once, so the client learns it now and
      // retries, rather than waiting unserved in the backlog.
      auto max = st.cfg.opts->max_connections;
      if (max > 0 && st.live.size() >= max) {
        tr->close(close_mode::abortive,
                  make_error(error::too_many_connections));
        ++st.refused;
        return;
      }
      ++st.accepted;
      supervisor_config sc;
      sc.side = role::server;
      sc.accepted = std::move(tr);
      sc.opts = st.cfg.opts;
      sc.observers = st.cfg.subscribers;
      sc.track = st.cfg.track;
      sc.watch = st.cfg.watch;
      sc.budget = st.budget;
      sc.totals = st.totals;
      auto conn = spawn_connection_supervisor(self->system(), std::move(sc));
      self->monitor(conn);
      st.live.insert(conn.address());
      auto msg = caf::make_message(accepted_atom::value, st.handle, conn);
      for (auto& sub : st.cfg.subscribers)
        self->send(sub, msg);
      // Only now: whatever the link causes comes after `accepted`.
      self->send(caf::actor_cast<caf::actor>(conn), start_link_atom::value);
    },
    [=](subscribe_atom, caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      if (sub && std::find(subs.begin(), subs.end(), sub) == subs.end()) {
        self->monitor(sub);
        subs.push_back(std::move(sub));
      }
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      auto i = std::find(subs.begin(), subs.end(), sub);
      if (i != subs.end()) {
        subs.erase(i);
        self->demonitor(sub);
      }
    },
    [=](close_atom) { stop(self, caf::error{}, true); },
    [=](listener_closed_atom) {
      if (self->state.done)
        report_closed(self);
    },
    [=](close_timeout_atom) {
      if (self->state.done)
        report_closed(self);
    },
    [=](get_atom, port_atom) { return self->state.cfg.listen->port(); },
    [=](get_atom, stats_atom) { return current_stats(self); },
    [=](detail::http_exchange_atom, detail::http_exchange_ptr& ex) {
      if (ex->what() == detail::http_exchange::kind::metrics) {
        ex->respond(http_response{
          200,
          {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
          prometheus_text(current_stats(self))});
        return;
      }
      auto& handler = self->state.cfg.opts->ws.http_handler;
      if (!handler) {
        ex->respond(http_response{404, {}, "not found\n"});
        return;
      }
      // A little less than the HTTP connection's own bound, so that the
      // client hears 504 rather than a reset.
      auto bound = self->state.cfg.opts->ws.handshake_timeout * 9 / 10;
      self->request(handler, bound, ex->request())
        .then([ex](http_response& res) { ex->respond(std::move(res)); },
              [ex](caf::error& err) {
                bool late = err == caf::sec::request_timeout;
                ex->respond(http_response{
                  static_cast<uint16_t>(late ? 504 : 500),
                  {{"Content-Type", "text/plain; charset=utf-8"}},
                  late ? "the handler did not answer in time\n"
                       : "the handler failed\n"});
              });
    },
  };
}

} // namespace

acceptor spawn_acceptor(caf::actor_system& sys, acceptor_config cfg) {
  auto track = cfg.track;
  auto hdl = sys.spawn<caf::hidden>(acceptor_behavior, std::move(cfg));
  if (track)
    track(hdl);
  return caf::actor_cast<acceptor>(hdl);
}

} // namespace netasync
