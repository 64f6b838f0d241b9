#include "connection_worker.hpp"

#include <algorithm>
#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/error.hpp"
#include "receive_credit.hpp"

namespace netasync {

namespace {

// The liveness tick carries its due time, so an earlier re-arm makes the
// older tick stale. (Heartbeats are written by the transport on its own
// timer: see transport::keep_alive.)
using stuck_tick_atom = caf::atom_constant<caf::atom("na_stktick")>;

struct worker_state {
  worker_config cfg;
  // When the peer was last heard of: the latest rx event, or the
  // transport's last read (see check_liveness).
  caf::actor_clock::time_point last_rx;
  // True while we stopped reading: the subscribers are a receive window
  // behind (or there is none).
  bool paused = false;
  detail::receive_credit_ptr credit;
  // Whether the transport delivers payloads itself (a sink installed), and
  // whether that sink's subscriber snapshot is out of date.
  bool direct = false;
  bool direct_stale = false;
  // The partial frame being received, if any: which one, since when.
  bool in_frame = false;
  uint64_t frame_no = 0;
  caf::actor_clock::time_point frame_start;
  // Due time of the liveness tick that counts.
  caf::actor_clock::time_point next_check;
  static inline const char* name = "netasync.connection_worker";
};

using worker_actor = caf::stateful_actor<worker_state>;

// Bytes received and not yet processed: delivered and outstanding, plus,
// while nobody subscribes, held in the transport.
size_t behind(worker_actor* self) {
  auto& st = self->state;
  auto n = st.credit->outstanding();
  if (st.cfg.subscribers.empty())
    n += st.cfg.link->received_pending_bytes();
  return n;
}

// While reading and subscribed, the transport delivers payloads from its I/O
// thread (one hand-off less per message); otherwise they wait for us.
void leave_direct(worker_actor* self) {
  auto& st = self->state;
  if (st.direct) {
    st.direct = false;
    st.cfg.link->deliver_directly(nullptr);
  }
}

void go_direct(worker_actor* self) {
  auto& st = self->state;
  if (st.cfg.subscribers.empty()) {
    leave_direct(self);
    return;
  }
  if (st.direct && !st.direct_stale)
    return;
  st.direct = true;
  st.direct_stale = false;
  st.cfg.link->deliver_directly(std::make_shared<detail::subscriber_sink>(
    st.cfg.subscribers, st.credit, st.cfg.handle, st.cfg.opts.receive_window,
    st.cfg.opts.batch_delivery));
}

void resume(worker_actor* self) {
  auto& st = self->state;
  st.paused = false;
  // Our own pause must not count as peer silence or a slow frame.
  auto now = self->clock().now();
  st.last_rx = now;
  st.frame_start = now;
  st.cfg.link->resume_reading();
  go_direct(self);
}

// Stops reading past the receive window; reads again at half of it.
void update_flow(worker_actor* self) {
  auto& st = self->state;
  if (!st.paused) {
    if (behind(self) < st.cfg.opts.receive_window) {
      go_direct(self);
      return;
    }
    st.paused = true;
    leave_direct(self);
    st.cfg.link->pause_reading();
  } else if (behind(self) <= st.credit->low_water()) {
    st.credit->cancel_wait();
    resume(self);
    return;
  }
  // Paused. With subscribers, the release that brings us to half the window
  // wakes us (unless they caught up already); without, the next subscriber.
  if (!st.cfg.subscribers.empty() && !st.credit->await_release())
    resume(self);
}

// Delivers what the transport holds to the subscribers. While there is no
// subscriber, payloads stay in the transport (in order, safe from a failure
// of this worker).
void deliver_received(worker_actor* self) {
  auto& st = self->state;
  if (!st.cfg.subscribers.empty()) {
    // Sent under the transport's receive lock (see take_received).
    st.cfg.link->take_received([&](std::vector<bytes>& payloads) {
      detail::deliver_tracked(payloads, st.cfg.opts.batch_delivery, st.credit,
                              st.cfg.handle, [&](const caf::message& msg) {
                                for (auto& sub : st.cfg.subscribers)
                                  self->send(sub, msg);
                              });
    });
  }
  update_flow(self);
}

int64_t ticks_of(caf::actor_clock::time_point t) {
  return t.time_since_epoch().count();
}

void arm_check(worker_actor* self, caf::actor_clock::time_point due) {
  auto& st = self->state;
  st.next_check = due;
  self->delayed_send(self, due - self->clock().now(), stuck_tick_atom::value,
                     ticks_of(due));
}

// Notes when a partial frame started (a new one, when frames completed since).
void track_frame(worker_actor* self, caf::actor_clock::time_point now) {
  auto& st = self->state;
  auto p = st.cfg.link->progress();
  if (!p.in_frame) {
    st.in_frame = false;
  } else if (!st.in_frame || p.completed != st.frame_no) {
    st.in_frame = true;
    st.frame_no = p.completed;
    st.frame_start = now;
    auto deadline = now + st.cfg.opts.frame_timeout;
    if (deadline < st.next_check)
      arm_check(self, deadline);
  }
}

// Drops the link if the peer is silent or trickles a frame too long; returns
// false then. Otherwise arms the next check at the earlier deadline.
bool check_liveness(worker_actor* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto timeout = st.cfg.opts.effective_heartbeat_timeout();
  // Reads of heartbeats alone send no event; the transport notes their time.
  st.last_rx = std::max(st.last_rx, st.cfg.link->last_received());
  if (st.paused) {
    // We stopped reading: the peer is not to blame for silence or slowness.
    st.last_rx = now;
    st.frame_start = now;
  }
  auto ms = [](caf::timespan d) {
    return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  caf::error reason;
  if (now - st.last_rx >= timeout)
    reason = make_error(error::heartbeat_timeout,
                        "nothing received for " + ms(now - st.last_rx) + " ms");
  else if (st.in_frame && now - st.frame_start >= st.cfg.opts.frame_timeout)
    reason = make_error(error::frame_timeout,
                        "a frame incomplete for " + ms(now - st.frame_start)
                          + " ms");
  if (reason) {
    st.cfg.link->close(close_mode::abortive, reason);
    self->quit(std::move(reason));
    return false;
  }
  auto next = st.last_rx + timeout;
  if (st.in_frame)
    next = std::min(next, st.frame_start + st.cfg.opts.frame_timeout);
  arm_check(self, next);
  return true;
}

caf::behavior worker_behavior(worker_actor* self, worker_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.credit = std::make_shared<detail::receive_credit>(
    caf::actor{self}, st.cfg.opts.receive_window / 2);
  auto now = self->clock().now();
  st.last_rx = now;
  auto link = st.cfg.link;
  // Without a supervisor nobody would ever close the link.
  self->monitor(st.cfg.supervisor);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.cfg.supervisor) {
      self->state.cfg.link->close(close_mode::abortive,
                                  make_error(error::closed_by_user));
      self->quit();
    }
  });
  // A failure becomes the exit reason the supervisor reports; CAF's default
  // handler would also print to stderr.
  self->set_exception_handler([](std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      return caf::make_error(caf::sec::runtime_error, e.what());
    } catch (...) {
      return caf::make_error(caf::sec::runtime_error, "unknown exception");
    }
  });
  if (st.cfg.replaces_failed)
    link->rebind(caf::actor{self});
  else
    link->start(transport::sinks{caf::actor{self}, st.cfg.supervisor,
                                 st.cfg.link_id});
  link->keep_alive(st.cfg.opts.heartbeat_period);
  arm_check(self, now + st.cfg.opts.effective_heartbeat_timeout());
  return {
    [=](transport_rx_atom) {
      auto now = self->clock().now();
      self->state.last_rx = now;
      track_frame(self, now);
      deliver_received(self);
    },
    [=](detail::credit_atom) { update_flow(self); },
    [=](transport_direct_off_atom) {
      // Refused (payloads were waiting) or handed back (a window behind):
      // deliver what waits, then decide again.
      self->state.direct = false;
      deliver_received(self);
    },
    [=](transport_down_atom, caf::error& reason) {
      self->quit(std::move(reason));
    },
    [=](stuck_tick_atom, int64_t due) {
      if (due == ticks_of(self->state.next_check))
        check_liveness(self);
    },
    [=](subscribe_atom, caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      if (std::find(subs.begin(), subs.end(), sub) == subs.end()) {
        subs.emplace_back(std::move(sub));
        self->state.direct_stale = true;
      }
      deliver_received(self);
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      auto n = subs.size();
      subs.erase(std::remove(subs.begin(), subs.end(), sub), subs.end());
      if (subs.size() != n) {
        self->state.direct_stale = true;
        update_flow(self);
      }
    },
    [=](close_atom) {
      self->state.cfg.link->close(close_mode::graceful, caf::error{});
    },
    [=](crash_atom) -> caf::result<void> {
      throw std::runtime_error("injected connection worker failure");
    },
  };
}

} // namespace

caf::actor spawn_connection_worker(caf::actor_system& sys, worker_config cfg) {
  return sys.spawn<caf::hidden>(worker_behavior, std::move(cfg));
}

} // namespace netasync
