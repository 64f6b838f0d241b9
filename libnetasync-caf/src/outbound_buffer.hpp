#pragma once

// The bounded outbound buffer of one connection: messages accepted from the
// application and not yet written to a socket. It lives in the connection's
// supervisor, so it survives reconnects and worker restarts.
//
// The front `in_flight()` messages have been handed to the current link; the
// rest wait. When a link ends, the transport reports how many of the handed
// messages it wrote completely: those are acknowledged, the others are
// returned to the waiting part, to be sent again whole on the next link.
// With sessions, a message stays until the peer acknowledged it (confirm),
// not merely until a link wrote it, and after a reconnect everything the
// peer did not receive is handed out again.
// Pure code: no sockets, no actors.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "netasync/bytes.hpp"
#include "lazy_deque.hpp"
#include "netasync/overflow_policy.hpp"

namespace netasync {

class outbound_buffer {
public:
  struct limits {
    size_t max_messages;
    size_t max_bytes;
    overflow_policy policy;
  };

  enum class verdict {
    /// Queued.
    accepted,
    /// Not queued: the sender must be told (policy reject).
    rejected,
    /// Not queued, counted as dropped (policy drop_newest).
    dropped_newest,
    /// Queued after dropping older waiting messages (policy drop_oldest).
    dropped_oldest,
  };

  explicit outbound_buffer(limits lim) : limits_(lim) {
    // nop
  }

  verdict push(shared_bytes msg);

  /// Queues `msg` past the bounds (sessions: a call's reply, which the
  /// peer's caller waits for; their number is bounded by the calls handled
  /// at once).
  void push_unbounded(shared_bytes msg) {
    bytes_ += msg->size();
    queue_.emplace_back(std::move(msg));
  }

  /// Calls f(message) for each of the `n` oldest messages.
  template <class F>
  void for_front(size_t n, F f) const {
    for (size_t i = 0; i < n && i < queue_.size(); ++i)
      f(*queue_[i]);
  }

  /// Hands out waiting messages (oldest first) to the current link, at most
  /// `max_messages` and `max_bytes`. A larger message goes alone: as the
  /// first of the batch, or with `alone` only while none is in flight (a
  /// session's send window, docs/protocol.md 13.4.1).
  std::vector<shared_bytes> take(size_t max_messages, size_t max_bytes,
                                 bool alone = false);

  /// The link wrote `n` more handed-out messages completely.
  void ack(size_t n);

  /// Sessions: the peer received the `n` oldest messages (handed out or
  /// not: after a reconnect, all wait again); they leave the buffer.
  /// Returns their bytes.
  size_t confirm(size_t n);

  /// The link ended: the handed-out messages not acknowledged wait again.
  void return_in_flight() noexcept {
    in_flight_ = 0;
    in_flight_bytes_ = 0;
  }

  /// Discards everything; returns how many messages were discarded (and
  /// counts them as dropped).
  size_t clear();

  size_t size() const noexcept {
    return queue_.size();
  }

  bool empty() const noexcept {
    return queue_.empty();
  }

  size_t size_bytes() const noexcept {
    return bytes_;
  }

  size_t in_flight() const noexcept {
    return in_flight_;
  }

  size_t in_flight_bytes() const noexcept {
    return in_flight_bytes_;
  }

  size_t waiting() const noexcept {
    return queue_.size() - in_flight_;
  }

  /// Messages discarded by a drop policy or by clear().
  uint64_t dropped() const noexcept {
    return dropped_;
  }

  /// Messages refused under the reject policy.
  uint64_t rejected() const noexcept {
    return rejected_;
  }

  const limits& bounds() const noexcept {
    return limits_;
  }

  /// Whether one more message of `extra_bytes` is within both bounds.
  bool fits(size_t extra_bytes) const noexcept {
    return queue_.size() + 1 <= limits_.max_messages
           && bytes_ + extra_bytes <= limits_.max_bytes;
  }

private:

  limits limits_;
  detail::lazy_deque<shared_bytes> queue_;
  size_t bytes_ = 0;
  size_t in_flight_ = 0;
  size_t in_flight_bytes_ = 0;
  uint64_t dropped_ = 0;
  uint64_t rejected_ = 0;
};

} // namespace netasync
