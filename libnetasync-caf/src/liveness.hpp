#pragma once

// The liveness rule of one link, apart from any actor: a link is dead when
// the peer was silent for heartbeat-timeout, or trickled one frame for
// longer than frame-timeout. Whoever watches the link (a client connection's
// worker; a server link itself, on its own timer: link_core) asks check()
// at the due time it last returned; it reads the link's own record
// (transport::liveness), so the link sends no event per read, per payload
// or per heartbeat. Times come from the watcher's clock (the actor clock,
// or the link's): tests run both in virtual time.

#include <algorithm>
#include <chrono>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/error.hpp>
#include <caf/timespan.hpp>

#include "netasync/error.hpp"
#include "transport.hpp"

namespace netasync::detail {

class liveness_rule {
public:
  using time_point = caf::actor_clock::time_point;

  liveness_rule(caf::timespan heartbeat_timeout, caf::timespan frame_timeout,
                time_point now)
    : heartbeat_timeout_(heartbeat_timeout),
      frame_timeout_(frame_timeout),
      last_rx_(now),
      frame_start_(now),
      due_(now + std::min(heartbeat_timeout, frame_timeout)) {
    // nop
  }

  /// When check() is to be asked next.
  time_point due() const {
    return due_;
  }

  /// The link's verdict at `now`: an error (heartbeat_timeout or
  /// frame_timeout) if it is dead; otherwise none, and due() is the next
  /// check: at the earlier deadline, and at least every frame-timeout, so
  /// that a frame begun after this check is seen before its deadline (the
  /// link sends no event when a frame begins).
  caf::error check(const transport::liveness_info& info, time_point now) {
    last_rx_ = std::max(last_rx_, info.last_received);
    if (info.in_frame)
      frame_start_ = std::max(frame_start_, info.frame_started);
    if (info.held_back) {
      // The link does not read because the subscribers are behind: the
      // peer is not to blame for silence or slowness.
      last_rx_ = now;
      frame_start_ = now;
    }
    if (now - last_rx_ >= heartbeat_timeout_)
      return make_error(error::heartbeat_timeout,
                        "nothing received for " + ms(now - last_rx_) + " ms");
    if (info.in_frame && now - frame_start_ >= frame_timeout_)
      return make_error(error::frame_timeout, "a frame incomplete for "
                                                + ms(now - frame_start_)
                                                + " ms");
    auto next = std::min(last_rx_ + heartbeat_timeout_, now + frame_timeout_);
    if (info.in_frame)
      next = std::min(next, frame_start_ + frame_timeout_);
    due_ = next;
    return caf::error{};
  }

private:
  static std::string ms(caf::timespan d) {
    return std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  }

  caf::timespan heartbeat_timeout_;
  caf::timespan frame_timeout_;
  // When the peer was last heard of, and when the partial frame being
  // received started (as the watcher saw them: a hold-back counts as heard).
  time_point last_rx_;
  time_point frame_start_;
  time_point due_;
};

/// A check's due time as a message field: a tick that carries another due
/// time than the current one is stale.
inline int64_t ticks_of(caf::actor_clock::time_point t) {
  return t.time_since_epoch().count();
}

} // namespace netasync::detail
