#include "connection_worker.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/atoms.hpp"
#include "netasync/error.hpp"

namespace netasync {

namespace {

// The liveness tick carries its due time, so an earlier re-arm makes the
// older tick stale.
using stuck_tick_atom = caf::atom_constant<caf::atom("na_stktick")>;

struct worker_state {
  worker_config cfg;
  // When the peer was last heard of, and when the partial frame being
  // received started (as this worker saw them: a hold-back counts as heard).
  caf::actor_clock::time_point last_rx;
  caf::actor_clock::time_point frame_start;
  // Due time of the liveness tick that counts.
  caf::actor_clock::time_point next_check;
  static inline const char* name = "netasync.connection_worker";
};

using worker_actor = caf::stateful_actor<worker_state>;

int64_t ticks_of(caf::actor_clock::time_point t) {
  return t.time_since_epoch().count();
}

void arm_check(worker_actor* self, caf::actor_clock::time_point due) {
  auto& st = self->state;
  st.next_check = due;
  self->delayed_send(self, due - self->clock().now(), stuck_tick_atom::value,
                     ticks_of(due));
}

// Quits with the reason if the peer is silent or trickles a frame too long.
// Otherwise arms the next check: at the earlier deadline, and at least every
// frame-timeout, so that a frame begun after this check is seen before its
// deadline (the link sends no event when a frame begins).
void check_liveness(worker_actor* self) {
  auto& st = self->state;
  auto now = self->clock().now();
  auto timeout = st.cfg.heartbeat_timeout;
  auto frame_timeout = st.cfg.frame_timeout;
  auto info = st.cfg.link->liveness();
  st.last_rx = std::max(st.last_rx, info.last_received);
  bool in_frame = info.in_frame;
  if (in_frame)
    st.frame_start = std::max(st.frame_start, info.frame_started);
  if (info.held_back) {
    // The link does not read because the subscribers are behind: the peer
    // is not to blame for silence or slowness.
    st.last_rx = now;
    st.frame_start = now;
  }
  auto ms = [](caf::timespan d) {
    return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  if (now - st.last_rx >= timeout) {
    self->quit(make_error(error::heartbeat_timeout,
                          "nothing received for " + ms(now - st.last_rx)
                            + " ms"));
    return;
  }
  if (in_frame && now - st.frame_start >= frame_timeout) {
    self->quit(make_error(error::frame_timeout,
                          "a frame incomplete for "
                            + ms(now - st.frame_start) + " ms"));
    return;
  }
  auto next = std::min(st.last_rx + timeout, now + frame_timeout);
  if (in_frame)
    next = std::min(next, st.frame_start + frame_timeout);
  arm_check(self, next);
}

caf::behavior worker_behavior(worker_actor* self, worker_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  auto now = self->clock().now();
  st.last_rx = now;
  st.frame_start = now;
  // Without a supervisor there is nobody to tell.
  self->monitor(st.cfg.supervisor);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.cfg.supervisor)
      self->quit();
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
  arm_check(self,
            now + std::min(st.cfg.heartbeat_timeout, st.cfg.frame_timeout));
  return {
    [=](stuck_tick_atom, int64_t due) {
      if (due == ticks_of(self->state.next_check))
        check_liveness(self);
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
