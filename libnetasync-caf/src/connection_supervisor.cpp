#include "connection_supervisor.hpp"

#include <algorithm>
#include <deque>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "connection_worker.hpp"
#include "netasync/error.hpp"
#include "outbound_buffer.hpp"
#include "wire/frame_encoder.hpp"

namespace netasync {

namespace {

using reconnect_tick_atom = caf::atom_constant<caf::atom("na_redial")>;
using linger_tick_atom = caf::atom_constant<caf::atom("na_linger")>;

// How much of the outbound buffer is handed to a link before the transport
// confirms writes: bounds the transport's queue (memory) without stalling it.
constexpr size_t write_window_messages = 1024;
constexpr size_t write_window_bytes = 4 * 1024 * 1024;

enum class phase {
  waiting,   // link down, a reconnect is scheduled (client)
  dialing,   // an attempt is under way (client)
  up,        // worker and transport alive
  ending,    // the link is ending: waiting for worker and transport to finish
  done,      // closed
};

struct current_link {
  uint64_t id = 0;
  transport_ptr tr;
  caf::actor worker;
  bool worker_gone = false;
  bool transport_gone = false;
  bool worker_failed = false;
  uint64_t acked = 0;   // frames the transport confirmed written
  uint64_t handed = 0;  // frames handed to this link's workers
  caf::error reason;
};

struct supervisor_state {
  supervisor_state() : out(outbound_buffer::limits{0, 0, {}}) {
    // nop
  }

  supervisor_config cfg;
  connection handle;
  std::vector<caf::actor> subscribers;
  outbound_buffer out;
  phase ph = phase::waiting;
  current_link link;
  uint64_t next_link_id = 0;
  uint64_t attempt = 0;
  bool closing = false;
  std::vector<caf::actor_clock::time_point> failures; // within the window
  connection_stats stats;
  static inline const char* name = "netasync.connection_supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

const char* phase_name(const supervisor_state& st) {
  if (st.closing && st.ph != phase::done)
    return "closing";
  switch (st.ph) {
    case phase::waiting: return "disconnected";
    case phase::dialing: return "connecting";
    case phase::up: return "connected";
    case phase::ending: return "disconnected";
    case phase::done: return "closed";
  }
  return "closed";
}

template <class... Ts>
void notify(supervisor_actor* self, Ts&&... xs) {
  auto msg = caf::make_message(std::forward<Ts>(xs)...);
  for (auto& sub : self->state.subscribers)
    self->send(sub, msg);
}

void finish(supervisor_actor* self, caf::error reason);

// Hands waiting messages to the live link, within the write window.
void pump(supervisor_actor* self) {
  auto& st = self->state;
  if (st.ph != phase::up || st.out.waiting() == 0)
    return;
  auto in_flight = st.out.in_flight();
  auto in_flight_bytes = st.out.in_flight_bytes();
  if (in_flight >= write_window_messages || in_flight_bytes >= write_window_bytes)
    return;
  auto batch = st.out.take(write_window_messages - in_flight,
                           write_window_bytes - in_flight_bytes);
  if (!batch.empty()) {
    // Straight to the transport (thread-safe; it writes on its own strand):
    // a hop through the worker cost a thread hand-off per message batch.
    st.link.handed += batch.size();
    st.link.tr->write(std::move(batch));
  }
}

// Closing: once everything is written, end the link gracefully.
void maybe_complete_close(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.closing || !st.out.empty())
    return;
  if (st.ph == phase::up)
    self->send(st.link.worker, close_atom::value);
  else if (st.ph == phase::waiting || st.ph == phase::dialing)
    finish(self, caf::error{});
}

void dial(supervisor_actor* self) {
  auto& st = self->state;
  st.ph = phase::dialing;
  st.cfg.dial->dial(dialer::request{st.cfg.host, st.cfg.port,
                                    st.cfg.opts.connect_timeout,
                                    st.cfg.opts.max_frame_size,
                                    caf::actor{self}, ++st.attempt});
}

void schedule_reconnect(supervisor_actor* self) {
  auto& st = self->state;
  st.ph = phase::waiting;
  self->delayed_send(self, st.cfg.opts.reconnect_period,
                     reconnect_tick_atom::value, ++st.attempt);
}

void spawn_worker(supervisor_actor* self, bool replaces_failed) {
  auto& st = self->state;
  worker_config wc{st.link.tr,      st.link.id,   caf::actor{self},
                   st.handle,       st.cfg.opts,  st.subscribers,
                   replaces_failed};
  st.link.worker = spawn_connection_worker(self->system(), std::move(wc));
  if (st.cfg.track)
    st.cfg.track(st.link.worker);
  self->monitor(st.link.worker);
}

// Counts a worker failure; false if it exceeds the restart intensity (the
// connection is then finished).
bool admit_restart(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  auto now = self->clock().now();
  st.failures.push_back(now);
  st.failures.erase(std::remove_if(st.failures.begin(), st.failures.end(),
                                   [&](caf::actor_clock::time_point t) {
                                     return now - t
                                            > st.cfg.opts.restart_window;
                                   }),
                    st.failures.end());
  if (st.failures.size() > st.cfg.opts.max_restarts) {
    finish(self, make_error(error::restart_intensity_exceeded,
                            std::to_string(st.failures.size())
                              + " worker failures, last: "
                              + describe(reason)));
    return false;
  }
  ++st.stats.restarts;
  return true;
}

// A worker failed while its link lives on: bind a new worker to the same
// link. Messages handed to the dead worker that never reached the transport
// are handed out again; the transport still writes the others.
void restart_worker(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  if (!admit_restart(self, reason))
    return;
  auto lost = st.link.handed - st.link.tr->submitted();
  st.out.return_newest_in_flight(lost);
  st.link.handed -= lost;
  st.link.worker_gone = false;
  st.link.worker_failed = false;
  notify(self, disconnected_atom::value, st.handle, reason);
  notify(self, connected_atom::value, st.handle);
  spawn_worker(self, true);
  pump(self);
  maybe_complete_close(self);
}

void start_link(supervisor_actor* self, transport_ptr tr) {
  auto& st = self->state;
  st.link = current_link{};
  st.link.id = ++st.next_link_id;
  st.link.tr = tr;
  st.ph = phase::up;
  ++st.stats.connects;
  // Sent before the worker exists, so it precedes every payload.
  notify(self, connected_atom::value, st.handle);
  spawn_worker(self, false);
  pump(self);
  maybe_complete_close(self);
}

// Both the worker and the transport have finished: decide what comes next.
void end_link(supervisor_actor* self) {
  auto& st = self->state;
  st.out.return_in_flight();
  auto reason = st.link.reason;
  auto failed = st.link.worker_failed;
  st.link = current_link{};
  if (st.closing && st.out.empty() && !failed) {
    finish(self, std::move(reason));
    return;
  }
  if (failed && !admit_restart(self, reason))
    return;
  if (st.cfg.side == role::server) {
    // An accepted connection cannot be re-established from this side.
    finish(self, std::move(reason));
    return;
  }
  ++st.stats.disconnects;
  notify(self, disconnected_atom::value, st.handle, reason);
  if (failed)
    dial(self); // a restart reconnects at once
  else
    schedule_reconnect(self);
}

void maybe_end_link(supervisor_actor* self) {
  auto& st = self->state;
  if (st.ph == phase::ending && st.link.worker_gone && st.link.transport_gone)
    end_link(self);
}

void finish(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  if (st.ph == phase::done)
    return;
  auto unsent = st.out.clear();
  st.stats.dropped = st.out.dropped();
  if (unsent > 0 && !reason)
    reason = make_error(error::linger_expired,
                        std::to_string(unsent) + " messages unsent");
  if (st.link.worker && !st.link.worker_gone)
    self->send_exit(st.link.worker, caf::exit_reason::kill);
  if (st.link.tr)
    st.link.tr->close(close_mode::abortive, make_error(error::closed_by_user));
  st.ph = phase::done;
  if (st.subscribers.empty()) {
    // Nobody subscribed yet (a server-side connection that ended at once):
    // tell those who were handed it, so that no handle dies unannounced.
    auto msg = caf::make_message(closed_atom::value, st.handle, reason);
    for (auto& obs : st.cfg.observers)
      self->send(obs, msg);
  } else {
    notify(self, closed_atom::value, st.handle, reason);
  }
  // A monitor outlives its monitoring actor in CAF 0.17 and would keep this
  // actor's memory alive in every long-lived subscriber.
  for (auto& sub : st.subscribers)
    self->demonitor(sub);
  st.subscribers.clear();
  st.cfg.observers.clear();
  self->quit();
}

// Puts one message into the outbound buffer, or says why not (counted).
caf::error admit(supervisor_actor* self, bytes& payload) {
  auto& st = self->state;
  auto refused = [&](caf::error err) {
    ++st.stats.rejected;
    return err;
  };
  if (st.closing || st.ph == phase::done)
    return refused(make_error(error::closed_by_user, "connection is closing"));
  if (auto err = wire::check_payload(payload.size(), st.cfg.opts.max_frame_size))
    return refused(std::move(err));
  auto v = st.out.push(std::make_shared<const bytes>(std::move(payload)));
  st.stats.dropped = st.out.dropped();
  if (v == outbound_buffer::verdict::rejected)
    return refused(make_error(error::outbound_buffer_full,
                              std::to_string(st.out.size()) + " messages, "
                                + std::to_string(st.out.size_bytes())
                                + " bytes buffered"));
  return caf::error{};
}

// Only a request can take an error reply: an error sent in reply to a plain
// send would terminate a sender without an error handler.
caf::result<void> reply_to_send(supervisor_actor* self, caf::error err) {
  if (err && self->current_message_id().is_request())
    return err;
  return caf::unit;
}

caf::result<void> on_send(supervisor_actor* self, bytes& payload) {
  auto err = admit(self, payload);
  pump(self);
  return reply_to_send(self, std::move(err));
}

// A batch is admitted message by message, in order; a request learns the
// first refusal (each one is counted).
caf::result<void> on_send_batch(supervisor_actor* self,
                                std::vector<bytes>& payloads) {
  caf::error first;
  for (auto& payload : payloads)
    if (auto err = admit(self, payload); err && !first)
      first = std::move(err);
  pump(self);
  return reply_to_send(self, std::move(first));
}

caf::behavior supervisor_behavior(supervisor_actor* self,
                                  supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.handle = caf::actor_cast<connection>(self);
  st.out = outbound_buffer{outbound_buffer::limits{
    st.cfg.opts.max_outbound_messages, st.cfg.opts.max_outbound_bytes,
    st.cfg.opts.overflow}};
  for (auto& sub : st.cfg.subscribers) {
    if (sub && std::find(st.subscribers.begin(), st.subscribers.end(), sub)
                 == st.subscribers.end()) {
      st.subscribers.push_back(sub);
      self->monitor(sub);
    }
  }
  st.cfg.subscribers.clear();
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.link.worker && dm.source == st.link.worker) {
      st.link.worker_gone = true;
      // A worker that quits with our own error reports the link's fate; any
      // other reason (an exception, a kill) is a failure of the worker.
      if (dm.reason && dm.reason.category() != error_category) {
        auto reason = make_error(error::worker_failed,
                                 self->system().render(dm.reason));
        if (!st.link.transport_gone && st.ph == phase::up) {
          restart_worker(self, std::move(reason));
          return;
        }
        st.link.worker_failed = true;
        st.link.reason = std::move(reason);
      } else if (!st.link.reason) {
        st.link.reason = dm.reason;
        if (!st.link.reason && !st.closing)
          st.link.reason = make_error(error::connection_lost);
      }
      st.link.tr->close(close_mode::abortive, st.link.reason);
      st.ph = phase::ending;
      maybe_end_link(self);
      return;
    }
    auto& subs = st.subscribers;
    auto i = std::find_if(subs.begin(), subs.end(),
                          [&](const caf::actor& x) { return x == dm.source; });
    if (i != subs.end()) {
      if (st.link.worker && !st.link.worker_gone)
        self->send(st.link.worker, unsubscribe_atom::value, *i);
      subs.erase(i);
    }
  });
  // An exit (the module's shutdown, or an application's send_exit) closes the
  // connection properly: subscribers learn it, the link is reset.
  self->set_exit_handler([=](caf::exit_msg& em) {
    finish(self, em.reason == caf::exit_reason::user_shutdown
                   ? make_error(error::shutting_down)
                   : em.reason);
  });
  self->set_exception_handler([=](std::exception_ptr&) -> caf::error {
    auto err = make_error(error::io_error, "connection supervisor failed");
    finish(self, err);
    return err;
  });
  if (st.cfg.side == role::server)
    start_link(self, std::move(st.cfg.accepted));
  else
    dial(self);
  return {
    [=](bytes& payload) { return on_send(self, payload); },
    [=](std::vector<bytes>& payloads) { return on_send_batch(self, payloads); },
    [=](subscribe_atom, caf::actor& sub) {
      auto& st = self->state;
      if (!sub || std::find(st.subscribers.begin(), st.subscribers.end(), sub)
                    != st.subscribers.end())
        return;
      st.subscribers.push_back(sub);
      self->monitor(sub);
      if (st.ph == phase::up) {
        // A late subscriber learns the current status first.
        self->send(sub, connected_atom::value, st.handle);
        self->send(st.link.worker, subscribe_atom::value, sub);
      }
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& st = self->state;
      auto& subs = st.subscribers;
      auto i = std::find(subs.begin(), subs.end(), sub);
      if (i == subs.end())
        return;
      subs.erase(i);
      self->demonitor(sub);
      if (st.ph == phase::up)
        self->send(st.link.worker, unsubscribe_atom::value, sub);
    },
    [=](close_atom) {
      auto& st = self->state;
      if (st.closing)
        return;
      st.closing = true;
      self->delayed_send(self, st.cfg.opts.close_linger,
                         linger_tick_atom::value);
      maybe_complete_close(self);
    },
    [=](get_atom, stats_atom) {
      auto& st = self->state;
      auto s = st.stats;
      s.state = phase_name(st);
      s.dropped = st.out.dropped();
      s.buffered_messages = st.out.size();
      s.buffered_bytes = st.out.size_bytes();
      return s;
    },
    [=](crash_atom) {
      auto& st = self->state;
      if (st.ph == phase::up)
        self->send(st.link.worker, crash_atom::value);
    },
    [=](dial_ok_atom, uint64_t attempt, transport_ptr& tr) {
      auto& st = self->state;
      if (attempt != st.attempt || st.ph != phase::dialing) {
        tr->close(close_mode::abortive, make_error(error::closed_by_user));
        return;
      }
      start_link(self, std::move(tr));
    },
    [=](dial_failed_atom, uint64_t attempt, caf::error& reason) {
      auto& st = self->state;
      if (attempt != st.attempt || st.ph != phase::dialing)
        return;
      ++st.stats.disconnects;
      notify(self, disconnected_atom::value, st.handle, reason);
      schedule_reconnect(self);
    },
    [=](reconnect_tick_atom, uint64_t attempt) {
      auto& st = self->state;
      if (attempt == st.attempt && st.ph == phase::waiting)
        dial(self);
    },
    [=](transport_sent_atom, uint64_t link, uint64_t n) {
      auto& st = self->state;
      if (link != st.link.id || st.link.transport_gone)
        return;
      st.out.ack(n);
      st.link.acked += n;
      st.stats.sent += n;
      pump(self);
      maybe_complete_close(self);
    },
    [=](transport_closed_atom, uint64_t link, uint64_t written,
        caf::error& reason) {
      auto& st = self->state;
      if (link != st.link.id || st.link.transport_gone)
        return;
      if (written > st.link.acked) {
        st.out.ack(written - st.link.acked);
        st.stats.sent += written - st.link.acked;
        st.link.acked = written;
      }
      st.link.transport_gone = true;
      if (!st.link.reason)
        st.link.reason = std::move(reason);
      if (st.ph == phase::up) {
        // The worker learns it too (transport_down) and quits.
        st.ph = phase::ending;
      }
      maybe_end_link(self);
    },
    [=](linger_tick_atom) {
      auto& st = self->state;
      if (st.ph != phase::done)
        finish(self, caf::error{});
    },
  };
}

} // namespace

connection spawn_connection_supervisor(caf::actor_system& sys,
                                       supervisor_config cfg) {
  auto track = cfg.track;
  auto hdl = sys.spawn<caf::hidden>(supervisor_behavior, std::move(cfg));
  if (track)
    track(hdl);
  return caf::actor_cast<connection>(hdl);
}

} // namespace netasync
