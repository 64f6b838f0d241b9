#pragma once

// Read-side backpressure without any help from subscribers. Each payload is
// delivered in a message whose storage returns its size to a shared credit
// when it is destroyed, i.e. when every subscriber has processed it (or died).
// The link's upper (subscriber_delivery) stops the link's reading while the
// receive window is outstanding, and the release that brings it down to half
// the window resumes the link. Subscribers see an ordinary
// (connection, bytes) message.

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/detail/tuple_vals.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/make_counted.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include "netasync/bytes.hpp"
#include "netasync/connection.hpp"
#include "read_gate.hpp"
#include "transport.hpp"

namespace netasync::detail {

/// What each received payload counts against the receive window beyond its
/// bytes: its message, or its place in the link's list while it waits for
/// a subscriber (about that much, measured). Without it, a window of 1-byte
/// payloads would hold millions of messages.
constexpr size_t payload_overhead = 64;

class receive_credit {
public:
  /// `link` is resumed when the credit comes back to `low_water`; `gate`
  /// (if any) learns what is held, for its connection's share of the
  /// acceptor's budget.
  receive_credit(std::weak_ptr<transport> link, size_t low_water,
                 read_gate_ptr gate = nullptr)
    : link_(std::move(link)), low_water_(low_water), gate_(std::move(gate)) {
    // nop
  }

  void acquire(size_t n) {
    outstanding_ += n;
    if (gate_)
      gate_->add_received(static_cast<int64_t>(n));
  }

  /// Called from any thread when a delivered payload is gone.
  void release(size_t n) {
    if (gate_)
      gate_->add_received(-static_cast<int64_t>(n));
    auto left = outstanding_.fetch_sub(n) - n;
    if (left <= low_water_ && waiting_.exchange(false))
      if (auto link = link_.lock())
        link->resume_reading(); // only posts to the link's strand
  }

  size_t outstanding() const noexcept {
    return outstanding_.load();
  }

  /// Reading stops: ask for a wake-up. Returns false if the subscribers
  /// already caught up (no wake-up will come; read on).
  bool await_release() {
    waiting_ = true;
    if (outstanding_.load() <= low_water_ && waiting_.exchange(false))
      return false;
    return true;
  }

private:
  std::weak_ptr<transport> link_;
  size_t low_water_;
  read_gate_ptr gate_;
  std::atomic<size_t> outstanding_{0};
  std::atomic<bool> waiting_{false};
};

using receive_credit_ptr = std::shared_ptr<receive_credit>;

/// The credit of one delivered payload: acquired when made, returned when
/// destroyed. A move hands it on (to the message CAF makes of a mailbox
/// element's content), so it is returned exactly once.
class credit_hold {
public:
  credit_hold(receive_credit_ptr credit, size_t size)
    : credit_(std::move(credit)), size_(size) {
    credit_->acquire(size_);
  }

  credit_hold(credit_hold&& other) noexcept
    : credit_(std::move(other.credit_)), size_(std::exchange(other.size_, 0)) {
    // nop
  }

  credit_hold& operator=(credit_hold&&) = delete;

  ~credit_hold() {
    if (size_ > 0)
      credit_->release(size_);
  }

private:
  receive_credit_ptr credit_;
  size_t size_;
};

/// The storage of one delivered message: (connection, bytes), or
/// (connection, std::vector<bytes>) under batch delivery.
template <class Payload>
class tracked_payload final
  : public caf::detail::tuple_vals<connection, Payload> {
public:
  using super = caf::detail::tuple_vals<connection, Payload>;

  tracked_payload(credit_hold hold, connection hdl, Payload payload)
    : super(std::move(hdl), std::move(payload)), hold_(std::move(hold)) {
    // nop
  }

  // A copy (copy-on-write for a subscriber that takes the payload by mutable
  // reference while others share it) is untracked: the original still is.
  super* copy() const override {
    return new super(static_cast<const super&>(*this));
  }

private:
  credit_hold hold_;
};

/// A (connection, Payload) message that returns its credit when processed.
template <class Payload>
caf::message make_tracked_message(credit_hold hold, const connection& hdl,
                                  Payload payload) {
  auto ptr = caf::make_counted<tracked_payload<Payload>>(
    std::move(hold), hdl, std::move(payload));
  return caf::message{caf::detail::message_data::cow_ptr{std::move(ptr)}};
}

/// The mailbox element of a payload for a connection's only subscriber: it
/// holds (connection, Payload) itself, so one allocation carries the payload
/// to the actor, where a shared message takes two (its storage, and a
/// wrapper element per subscriber). The credit comes back when the element
/// is destroyed, after the subscriber's handler ran. Should CAF take the
/// content out into a message (a catch-all handler, a function view), the
/// credit moves with it, so it is never returned early.
template <class Payload>
class tracked_element final
  : public caf::mailbox_element,
    public caf::detail::tuple_vals_impl<caf::type_erased_tuple, connection,
                                        Payload> {
public:
  using vals = caf::detail::tuple_vals_impl<caf::type_erased_tuple,
                                            connection, Payload>;

  tracked_element(credit_hold hold, connection hdl, Payload payload)
    : caf::mailbox_element(nullptr, caf::make_message_id(), {}),
      vals(std::move(hdl), std::move(payload)),
      hold_(std::move(hold)) {
    // nop
  }

  caf::type_erased_tuple& content() override {
    return *this;
  }

  const caf::type_erased_tuple& content() const override {
    return *this;
  }

  caf::message move_content_to_message() override {
    auto& xs = this->data();
    return make_tracked_message(std::move(hold_), std::get<0>(xs),
                                std::move(std::get<1>(xs)));
  }

  caf::message copy_content_to_message() const override {
    auto& xs = this->data();
    return caf::make_message(std::get<0>(xs), std::get<1>(xs));
  }

private:
  credit_hold hold_;
};

/// Sends one tracked (connection, Payload) to `subs`: in an element of its
/// own to a single subscriber, as one shared message to several (fan-out
/// copies no payload).
template <class Payload>
void send_tracked(const std::vector<caf::actor>& subs,
                  const receive_credit_ptr& credit, size_t size,
                  const connection& hdl, Payload payload) {
  credit_hold hold{credit, size};
  if (subs.size() == 1) {
    caf::mailbox_element_ptr element{new tracked_element<Payload>(
      std::move(hold), hdl, std::move(payload))};
    subs.front()->enqueue(std::move(element), nullptr);
    return;
  }
  auto msg = make_tracked_message(std::move(hold), hdl, std::move(payload));
  for (auto& sub : subs)
    caf::anon_send(sub, msg);
}

/// Hands `payloads` to `subs` as tracked messages: one per payload, or one
/// (connection, std::vector<bytes>) for all under batch delivery.
inline void deliver_tracked(std::vector<bytes>& payloads, bool batch,
                            const receive_credit_ptr& credit,
                            const connection& hdl,
                            const std::vector<caf::actor>& subs) {
  if (payloads.empty())
    return;
  if (batch) {
    size_t size = 0;
    for (auto& payload : payloads)
      size += payload.size() + payload_overhead;
    send_tracked(subs, credit, size, hdl, std::move(payloads));
  } else {
    for (auto& payload : payloads) {
      auto size = payload.size() + payload_overhead;
      send_tracked(subs, credit, size, hdl, std::move(payload));
    }
  }
  payloads.clear();
}

} // namespace netasync::detail
