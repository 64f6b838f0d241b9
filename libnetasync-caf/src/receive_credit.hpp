#pragma once

// The credit of a delivered payload: a payload is delivered in a message
// whose storage returns its size to the connection's read gate when it is
// destroyed, i.e. when every subscriber has processed it (or died). The gate
// (read_gate.hpp) decides from that count whether the link reads on.
// Subscribers see an ordinary (connection, bytes) message.

#include <algorithm>
#include <cstddef>
#include <iterator>
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

namespace netasync::detail {

/// The credit of delivered payloads: taken from the gate when made, returned
/// when destroyed. A move hands it on (to the message CAF makes of a mailbox
/// element's content), so it is returned exactly once.
class credit_hold {
public:
  credit_hold(read_gate_ptr gate, size_t size, size_t messages)
    : gate_(std::move(gate)), size_(size), messages_(messages) {
    gate_->received(static_cast<int64_t>(size_),
                    static_cast<int64_t>(messages_));
  }

  credit_hold(credit_hold&& other) noexcept
    : gate_(std::move(other.gate_)),
      size_(std::exchange(other.size_, 0)),
      messages_(std::exchange(other.messages_, 0)) {
    // nop
  }

  credit_hold& operator=(credit_hold&&) = delete;

  ~credit_hold() {
    if (size_ > 0 || messages_ > 0)
      gate_->received(-static_cast<int64_t>(size_),
                      -static_cast<int64_t>(messages_));
  }

private:
  read_gate_ptr gate_;
  size_t size_;
  size_t messages_;
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
                  const read_gate_ptr& gate, size_t size, size_t messages,
                  const connection& hdl, Payload payload) {
  credit_hold hold{gate, size, messages};
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

/// Hands the first `n` of `payloads` to `subs` as tracked messages, and
/// removes them: one per payload, or one (connection, std::vector<bytes>)
/// for all under batch delivery. What follows them stays.
inline void deliver_tracked(std::vector<bytes>& payloads, size_t n,
                            bool batch, const read_gate_ptr& gate,
                            const connection& hdl,
                            const std::vector<caf::actor>& subs) {
  n = std::min(n, payloads.size());
  if (n == 0)
    return;
  auto first = payloads.begin();
  auto last = first + static_cast<ptrdiff_t>(n);
  if (batch) {
    size_t size = 0;
    for (auto i = first; i != last; ++i)
      size += i->size() + payload_overhead;
    std::vector<bytes> taken;
    if (n == payloads.size())
      taken.swap(payloads);
    else
      taken.assign(std::make_move_iterator(first),
                   std::make_move_iterator(last));
    send_tracked(subs, gate, size, n, hdl, std::move(taken));
  } else {
    for (auto i = first; i != last; ++i) {
      // (Sized before the move: arguments are evaluated in any order.)
      auto size = i->size() + payload_overhead;
      send_tracked(subs, gate, size, 1, hdl, std::move(*i));
    }
  }
  payloads.erase(payloads.begin(),
                 payloads.begin() + static_cast<ptrdiff_t>(
                   std::min(n, payloads.size())));
}

} // namespace netasync::detail
