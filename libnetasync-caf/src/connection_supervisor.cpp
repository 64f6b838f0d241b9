#include "connection_supervisor.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "connection_worker.hpp"
#include "liveness.hpp"
#include "reconnect_schedule.hpp"
#include "netasync/error.hpp"
#include "outbound_buffer.hpp"
#include "subscriber_delivery.hpp"
#include "subscriber_watch.hpp"
#include "wire/frame_encoder.hpp"

namespace netasync {

namespace {

using reconnect_tick_atom = caf::atom_constant<caf::atom("na_redial")>;
using linger_tick_atom = caf::atom_constant<caf::atom("na_linger")>;
using finish_tick_atom = caf::atom_constant<caf::atom("na_finish")>;
// A server connection's liveness check of its link: (link id, due time).
using liveness_tick_atom = caf::atom_constant<caf::atom("na_live")>;

// How long a finishing connection waits for its link's end report.
constexpr caf::timespan finish_fallback = std::chrono::seconds(1);

// How much of the outbound buffer is handed to a link before the transport
// confirms writes: bounds the transport's queue (memory) without stalling it.
constexpr size_t write_window_messages = 1024;
constexpr size_t write_window_bytes = 4 * 1024 * 1024;

enum class phase {
  waiting,   // link down, a reconnect is scheduled (client)
  dialing,   // an attempt is under way (client)
  up,        // the link is alive
  ending,    // the link is closing: waiting for it to report its end
  done,      // closed
};

struct current_link {
  uint64_t id = 0;
  transport_ptr tr;
  caf::actor worker; // client: its liveness watchdog, while alive
  std::optional<detail::liveness_rule> rule; // server: its liveness
  bool close_asked = false;
  caf::actor_clock::time_point up_since; // when it went up
  caf::timestamp up_at;                  // the same, for the stats
  uint64_t acked = 0; // frames the link confirmed written
  caf::error reason;
};

struct supervisor_state {
  supervisor_state() : out(outbound_buffer::limits{0, 0, {}}) {
    // nop
  }

  supervisor_config cfg;
  connection handle;
  // Owned here; the live link's delivery reads its snapshots.
  detail::subscriber_set_ptr subscribers
    = std::make_shared<detail::subscriber_set>();
  // The live link, for the cleanup of a supervisor however it ends (a
  // second close of an ended link does nothing).
  std::shared_ptr<transport_ptr> live = std::make_shared<transport_ptr>();
  outbound_buffer out;
  // Server: stops the link's reading while `out` is over its high-water
  // mark, or while this connection holds much of its acceptor's budget.
  detail::read_gate_ptr gate;
  // Payloads received, counted by the links' deliveries.
  detail::receive_counters_ptr received
    = std::make_shared<detail::receive_counters>();
  phase ph = phase::waiting;
  current_link link;
  uint64_t next_link_id = 0;
  // Token of the current dial or scheduled dial: stale replies and ticks
  // carry an older one.
  uint64_t attempt = 0;
  // Client: the reconnect policy's waits, and when the scheduled attempt is
  // due.
  std::optional<detail::reconnect_schedule> retry;
  caf::actor_clock::time_point retry_due;
  bool closing = false;
  // finish() waits for the link's end before it announces `closed`.
  bool finishing = false;
  caf::error final_reason;
  std::vector<caf::actor_clock::time_point> failures; // within the window
  connection_stats stats;
  static inline const char* name = "netasync.connection_supervisor";
};

using supervisor_actor = caf::stateful_actor<supervisor_state>;

const char* phase_name(const supervisor_state& st) {
  if ((st.closing || st.finishing) && st.ph != phase::done)
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
  for (auto& sub : self->state.subscribers->owned())
    self->send(sub, msg);
}

void finish(supervisor_actor* self, caf::error reason, bool wait = true);

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
  if (!batch.empty())
    st.link.tr->write(std::move(batch)); // thread-safe: posts to its strand
}

// A server connection's read gate follows its outbound buffer: closed from
// three quarters of either bound, open again at half (the hysteresis keeps a
// link about as fast as its peer from pausing at every message). A client
// reads on: two peers that each stopped reading while their own buffer is
// full would wait for each other forever in a bulk transfer both ways.
void update_gate(supervisor_actor* self) {
  auto& st = self->state;
  if (st.cfg.side != role::server)
    return;
  auto& o = *st.cfg.opts;
  auto bytes = st.out.size_bytes();
  auto msgs = st.out.size();
  st.gate->set_outbound_bytes(bytes);
  if (bytes >= o.max_outbound_bytes / 4 * 3
      || msgs >= o.max_outbound_messages / 4 * 3)
    st.gate->set_output_full(true);
  else if (bytes <= o.max_outbound_bytes / 2
           && msgs <= o.max_outbound_messages / 2)
    st.gate->set_output_full(false);
}

// Closing: once everything is written, end the link gracefully.
void maybe_complete_close(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.closing || !st.out.empty())
    return;
  if (st.ph == phase::up) {
    if (!st.link.close_asked) {
      st.link.close_asked = true;
      st.link.tr->close(close_mode::graceful, caf::error{});
    }
  } else if (st.ph == phase::waiting || st.ph == phase::dialing)
    finish(self, caf::error{});
}

void dial(supervisor_actor* self) {
  auto& st = self->state;
  st.ph = phase::dialing;
  st.cfg.dial->dial(dialer::request{st.cfg.host, st.cfg.port,
                                    st.cfg.opts->connect_timeout,
                                    caf::actor{self}, ++st.attempt});
}

// After a lost link or a failed attempt (`reason`): the next attempt when
// the reconnect policy says, or the end past its attempt limit.
void schedule_reconnect(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  if (st.retry->exhausted()) {
    finish(self, make_error(error::reconnect_limit,
                            std::to_string(st.retry->attempts())
                              + " attempts since the last stable link, last: "
                              + describe(reason)));
    return;
  }
  auto wait = st.retry->next();
  st.ph = phase::waiting;
  st.retry_due = self->clock().now() + wait;
  self->delayed_send(self, wait, reconnect_tick_atom::value, ++st.attempt);
}

// A server connection's next liveness check of its link.
void arm_liveness(supervisor_actor* self) {
  auto& st = self->state;
  auto due = st.link.rule->due();
  self->delayed_send(self, due - self->clock().now(),
                     liveness_tick_atom::value, st.link.id,
                     detail::ticks_of(due));
}

void spawn_worker(supervisor_actor* self) {
  auto& st = self->state;
  worker_config wc{st.link.tr, caf::actor{self},
                   st.cfg.opts->effective_heartbeat_timeout(),
                   st.cfg.opts->frame_timeout};
  st.link.worker = spawn_connection_worker(self->system(), std::move(wc));
  if (st.cfg.track)
    st.cfg.track(st.link.worker);
  self->monitor(st.link.worker);
}

// Starts watching the new link's liveness. A client spawns a worker for it,
// which it restarts when it fails. A server connection ends with its link
// (net.async's rule), so an actor to restart would buy nothing: it checks
// the link itself, and saves an actor per connection.
void watch_link(supervisor_actor* self) {
  auto& st = self->state;
  if (st.cfg.side == role::client) {
    spawn_worker(self);
    return;
  }
  st.link.rule.emplace(st.cfg.opts->effective_heartbeat_timeout(),
                       st.cfg.opts->frame_timeout, self->clock().now());
  arm_liveness(self);
}

// The liveness rule judged the link dead (silent peer, trickled frame):
// close it; its end report decides what comes next.
void drop_link(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  if (!st.link.reason)
    st.link.reason = std::move(reason);
  st.link.tr->close(close_mode::abortive, st.link.reason);
  st.ph = phase::ending; // until the link reports its end
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
                                            > st.cfg.opts->restart_window;
                                   }),
                    st.failures.end());
  if (st.failures.size() > st.cfg.opts->max_restarts) {
    finish(self, make_error(error::restart_intensity_exceeded,
                            std::to_string(st.failures.size())
                              + " worker failures, last: "
                              + describe(reason)));
    return false;
  }
  ++st.stats.restarts;
  return true;
}

// A worker failed while its link lives on: a new one watches the same link.
// The link itself holds no actor state (writes come from here, payloads go
// from its strand to the subscribers), so nothing is lost or written twice.
void restart_worker(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  st.stats.last_error = reason;
  if (!admit_restart(self, reason))
    return;
  notify(self, disconnected_atom::value, st.handle, reason);
  notify(self, connected_atom::value, st.handle);
  spawn_worker(self);
}

void start_link(supervisor_actor* self, transport_ptr tr) {
  auto& st = self->state;
  st.link = current_link{};
  st.link.id = ++st.next_link_id;
  st.link.tr = tr;
  st.link.up_since = self->clock().now();
  st.link.up_at = caf::make_timestamp();
  *st.live = tr;
  st.gate->set_link(tr);
  st.ph = phase::up;
  ++st.stats.connects;
  // Sent before the link starts, so it precedes every payload.
  notify(self, connected_atom::value, st.handle);
  auto& o = *st.cfg.opts;
  tr->start(std::make_shared<detail::subscriber_delivery>(
              detail::subscriber_delivery::config{
                caf::actor{self}, st.link.id, st.handle, st.subscribers,
                o.receive_window, o.batch_delivery, st.gate, st.received},
              tr),
            o.heartbeat_period);
  watch_link(self);
  pump(self);
  maybe_complete_close(self);
}

// Ends the link's watchdog without counting it as a failure.
void stop_worker(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.link.worker)
    return;
  self->demonitor(st.link.worker);
  self->send_exit(st.link.worker, caf::exit_reason::kill);
  st.link.worker = nullptr;
}

// The link reported its end: decide what comes next.
void end_link(supervisor_actor* self) {
  auto& st = self->state;
  stop_worker(self);
  st.out.return_in_flight();
  auto reason = st.link.reason;
  // A link that stayed up for a heartbeat-timeout was stable: the waits
  // start over. (A server that accepts and drops at once does not reset
  // them on every short success.)
  if (st.retry
      && self->clock().now() - st.link.up_since
           >= st.cfg.opts->effective_heartbeat_timeout())
    st.retry->reset();
  st.link = current_link{};
  st.live->reset();
  st.gate->set_link({});
  if (reason)
    st.stats.last_error = reason;
  if (st.closing && st.out.empty()) {
    finish(self, std::move(reason));
    return;
  }
  if (st.cfg.side == role::server) {
    // An accepted connection cannot be re-established from this side.
    finish(self, std::move(reason));
    return;
  }
  ++st.stats.disconnects;
  notify(self, disconnected_atom::value, st.handle, reason);
  schedule_reconnect(self, reason);
}

// A subscriber's end arrives as its down_msg, through the actor system's
// subscriber_watch: one monitor per subscriber, whatever the number of
// connections it subscribed to (see subscriber_watch.hpp for why).
void watch(supervisor_actor* self, const caf::actor& sub) {
  self->send(self->state.cfg.watch, detail::watch_atom::value, sub,
             self->address());
}

void unwatch(supervisor_actor* self, const caf::actor& sub) {
  self->send(self->state.cfg.watch, detail::unwatch_atom::value, sub,
             self->address());
}

connection_stats current_stats(supervisor_actor* self);

// Tells the subscribers `closed` and quits.
void announce_closed(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  st.ph = phase::done;
  auto subs = st.subscribers->snapshot();
  st.subscribers->clear();
  // Nobody subscribed yet (a server-side connection that ended at once):
  // tell those who were handed it, so that no handle dies unannounced.
  const auto& told = subs->empty() ? st.cfg.observers : *subs;
  if (st.cfg.opts->final_stats) {
    // A closed handle cannot be asked any more: the last counters come
    // with its end.
    auto last = caf::make_message(stats_atom::value, st.handle,
                                  current_stats(self));
    for (auto& x : told)
      self->send(x, last);
  }
  auto msg = caf::make_message(closed_atom::value, st.handle, reason);
  for (auto& x : told)
    self->send(x, msg);
  // The watch would keep this actor's address (and memory) for as long as
  // each subscriber lives. (A killed supervisor never gets here: the
  // functor attached in supervisor_behavior unwatches for it.)
  for (auto& sub : *subs)
    unwatch(self, sub);
  st.cfg.observers.clear();
  self->quit();
}

// Ends the connection. With a live link, `closed` waits until the link has
// reported its end (its last delivery is then behind us), so that it is the
// last message subscribers get; an actor that must quit at once (its
// exception handler) passes wait = false.
void finish(supervisor_actor* self, caf::error reason, bool wait) {
  auto& st = self->state;
  if (st.ph == phase::done || st.finishing)
    return;
  if (reason)
    st.stats.last_error = reason;
  auto unsent = st.out.clear();
  st.stats.dropped = st.out.dropped();
  st.gate->set_outbound_bytes(0);
  st.gate->set_output_full(false);
  if (unsent > 0 && !reason)
    reason = make_error(error::linger_expired,
                        std::to_string(unsent) + " messages unsent");
  stop_worker(self);
  if (!st.link.tr || !wait) {
    if (st.link.tr)
      st.link.tr->close(close_mode::abortive,
                        make_error(error::closed_by_user));
    announce_closed(self, reason);
    return;
  }
  st.finishing = true;
  st.final_reason = std::move(reason);
  st.link.tr->close(close_mode::abortive, make_error(error::closed_by_user));
  // An abortive close ends on the link's strand at once; should the report
  // never come, the connection still ends.
  self->delayed_send(self, finish_fallback, finish_tick_atom::value);
}

// n messages of `bytes` in all were written completely.
void count_sent(supervisor_actor* self, uint64_t n, uint64_t bytes) {
  auto& st = self->state;
  st.stats.sent += n;
  st.stats.bytes_sent += bytes;
  if (st.cfg.totals)
    st.cfg.totals->sent(n, bytes);
}

connection_stats current_stats(supervisor_actor* self) {
  auto& st = self->state;
  auto s = st.stats;
  s.state = phase_name(st);
  s.dropped = st.out.dropped();
  s.buffered_messages = st.out.size();
  s.buffered_bytes = st.out.size_bytes();
  s.received = st.received->messages.load(std::memory_order_relaxed);
  s.bytes_received = st.received->bytes.load(std::memory_order_relaxed);
  s.link_up_at = st.link.up_at;
  if (st.retry) {
    s.attempt = st.retry->attempts();
    if (st.ph == phase::waiting && !st.closing)
      s.next_retry_in = std::max(caf::timespan{0},
                                 caf::timespan{st.retry_due
                                               - self->clock().now()});
  }
  return s;
}

// Puts one message into the outbound buffer, or says why not (counted).
caf::error admit(supervisor_actor* self, bytes& payload) {
  auto& st = self->state;
  auto refused = [&](caf::error err) {
    ++st.stats.rejected;
    return err;
  };
  if (st.closing || st.finishing || st.ph == phase::done)
    return refused(make_error(error::closed_by_user, "connection is closing"));
  if (auto err = wire::check_payload(payload.size(), st.cfg.opts->max_frame_size))
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
  update_gate(self);
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
  update_gate(self);
  return reply_to_send(self, std::move(first));
}

caf::behavior supervisor_behavior(supervisor_actor* self,
                                  supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.handle = caf::actor_cast<connection>(self);
  st.gate = std::make_shared<detail::read_gate>(std::move(st.cfg.budget));
  st.received->totals = st.cfg.totals;
  st.out = outbound_buffer{outbound_buffer::limits{
    st.cfg.opts->max_outbound_messages, st.cfg.opts->max_outbound_bytes,
    st.cfg.opts->overflow}};
  for (auto& sub : st.cfg.subscribers)
    if (st.subscribers->add(sub))
      watch(self, sub);
  st.cfg.subscribers.clear();
  // A kill skips finish(): what this actor still watches is unwatched all
  // the same (announce_closed empties the set first on every other path).
  self->attach_functor([w = st.cfg.watch, subs = st.subscribers,
                        me = self->address()] {
    for (auto& sub : *subs->snapshot())
      caf::anon_send(w, detail::unwatch_atom::value, sub, me);
  });
  // However this actor ends (even killed), its live link is closed.
  self->attach_functor([live = st.live] {
    if (*live)
      (*live)->close(close_mode::abortive, make_error(error::closed_by_user));
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.link.worker && dm.source == st.link.worker) {
      st.link.worker = nullptr;
      // A worker that quits with our own error judged the link dead (silent
      // peer, trickled frame); any other reason (an exception, a kill) is a
      // failure of the worker, not of the link.
      if (dm.reason && dm.reason.category() != error_category) {
        if (st.ph == phase::up)
          restart_worker(self,
                         make_error(error::worker_failed,
                                    self->system().render(dm.reason)));
        return;
      }
      drop_link(self, dm.reason ? dm.reason
                                : make_error(error::connection_lost));
      return;
    }
    auto& subs = st.subscribers->owned();
    auto i = std::find_if(subs.begin(), subs.end(),
                          [&](const caf::actor& x) { return x == dm.source; });
    if (i != subs.end())
      st.subscribers->remove(caf::actor{*i});
  });
  // An exit (the module's shutdown, or an application's send_exit) closes the
  // connection properly: subscribers learn it, the link is reset.
  self->set_exit_handler([=](caf::exit_msg& em) {
    finish(self, em.reason == caf::exit_reason::user_shutdown
                   ? make_error(error::shutting_down)
                   : em.reason);
  });
  // A failure of this actor ends the connection at once (the handler must
  // return the exit reason): `closed` may then overtake payloads the link
  // is delivering at that moment. A server connection's failure is that of
  // its only actor, so it reports worker_failed, as a client reports its
  // worker's.
  self->set_exception_handler([=](std::exception_ptr& eptr) -> caf::error {
    auto what = what_of(eptr);
    auto err = self->state.cfg.side == role::server
                 ? make_error(error::worker_failed, what)
                 : make_error(error::io_error,
                              "connection supervisor failed: " + what);
    finish(self, err, false);
    return err;
  });
  if (st.cfg.side == role::client)
    st.retry.emplace(*st.cfg.opts);
  if (st.cfg.side == role::server)
    // Until the acceptor starts it; the functor above closes it if this
    // actor ends first.
    *st.live = st.cfg.accepted;
  else
    dial(self);
  return {
    [=](bytes& payload) { return on_send(self, payload); },
    [=](start_link_atom) {
      auto& st = self->state;
      if (st.cfg.accepted && st.ph == phase::waiting && !st.finishing)
        start_link(self, std::move(st.cfg.accepted));
    },
    [=](std::vector<bytes>& payloads) { return on_send_batch(self, payloads); },
    [=](subscribe_atom, caf::actor& sub) {
      auto& st = self->state;
      auto& cur = st.subscribers->owned();
      if (!sub || std::find(cur.begin(), cur.end(), sub) != cur.end())
        return;
      if (st.finishing) { // too late for the link: only its end remains
        self->send(sub, closed_atom::value, st.handle, st.final_reason);
        return;
      }
      // A late subscriber learns the current status before the link can
      // send it a payload (it does so once the snapshot is published). A
      // link that is ending may still deliver until it reports its end.
      auto live = st.ph == phase::up || st.ph == phase::ending;
      if (live)
        self->send(sub, connected_atom::value, st.handle);
      auto first = cur.empty();
      st.subscribers->add(sub);
      watch(self, sub);
      // A link holding payloads for want of a subscriber reads on. (One held
      // back by the receive window waits for the credit, as before.)
      if (first && live)
        st.link.tr->resume_reading();
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& st = self->state;
      if (st.subscribers->remove(sub))
        unwatch(self, sub);
    },
    [=](close_atom) {
      auto& st = self->state;
      if (st.closing)
        return;
      st.closing = true;
      self->delayed_send(self, st.cfg.opts->close_linger,
                         linger_tick_atom::value);
      maybe_complete_close(self);
    },
    [=](get_atom, stats_atom) { return current_stats(self); },
    [=](crash_atom) {
      auto& st = self->state;
      if (st.cfg.side == role::server)
        throw std::runtime_error("injected connection failure");
      if (st.ph == phase::up && st.link.worker)
        self->send(st.link.worker, crash_atom::value);
    },
    [=](liveness_tick_atom, uint64_t link, int64_t due) {
      auto& st = self->state;
      if (link != st.link.id || st.ph != phase::up || !st.link.rule
          || due != detail::ticks_of(st.link.rule->due()))
        return;
      if (auto err = st.link.rule->check(st.link.tr->liveness(),
                                         self->clock().now()))
        drop_link(self, std::move(err));
      else
        arm_liveness(self);
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
      st.stats.last_error = reason;
      notify(self, disconnected_atom::value, st.handle, reason);
      schedule_reconnect(self, reason);
    },
    [=](reconnect_tick_atom, uint64_t attempt) {
      auto& st = self->state;
      if (attempt == st.attempt && st.ph == phase::waiting)
        dial(self);
    },
    [=](detail::link_sent_atom, uint64_t link, uint64_t n) {
      auto& st = self->state;
      if (link != st.link.id)
        return;
      auto before = st.out.size_bytes();
      st.out.ack(n);
      count_sent(self, n, before - st.out.size_bytes());
      st.link.acked += n;
      update_gate(self);
      pump(self);
      maybe_complete_close(self);
    },
    [=](detail::link_ended_atom, uint64_t link, uint64_t written,
        caf::error& reason) {
      auto& st = self->state;
      if (link != st.link.id)
        return;
      if (st.finishing) {
        announce_closed(self, st.final_reason);
        return;
      }
      if (written > st.link.acked) {
        auto before = st.out.size_bytes();
        st.out.ack(written - st.link.acked);
        count_sent(self, written - st.link.acked,
                   before - st.out.size_bytes());
        st.link.acked = written;
        update_gate(self);
      }
      if (!st.link.reason)
        st.link.reason = std::move(reason);
      end_link(self);
    },
    [=](finish_tick_atom) {
      auto& st = self->state;
      if (st.finishing && st.ph != phase::done)
        announce_closed(self, st.final_reason);
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
