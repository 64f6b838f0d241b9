#include "acceptor_actor.hpp"

#include <algorithm>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "connection_supervisor.hpp"
#include "netasync/error.hpp"

namespace netasync {

namespace {

struct acceptor_state {
  acceptor_config cfg;
  acceptor handle;
  // max-buffered-bytes across the connections it hands out.
  detail::buffer_budget_ptr budget;
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
    [=](get_atom, stats_atom) {
      auto& st = self->state;
      acceptor_stats s;
      s.open = st.live.size();
      s.accepted = st.accepted;
      s.refused = st.refused;
      s.handshake_failures = st.cfg.listen->handshake_failures();
      s.buffered_bytes = st.budget ? st.budget->total() : 0;
      return s;
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
