#pragma once

// Read-side flow control of one connection: demand, one mechanism. The link
// hands a payload up only if what the connection holds leaves room for it;
// otherwise the link reads no further (what it decoded waits in it) until
// the gate resumes it. Nothing is dropped on the way up, and nothing read is
// ever refused on the way back.
//
// What a connection holds, counted here:
// - R: payloads handed to subscribers and not processed yet (each with
//   payload_overhead), returned by a credit_hold when its message is gone;
// - with `holds_replies` (a server connection): also S, the sends to
//   the connection on their way through its mailbox (counted when CAF
//   enqueues them, by send_counter), and O, its outbound buffer.
// The rules, checked payload by payload:
// - R + size ≤ receive-window;
// - with holds_replies: O + S + R + size ≤ max-outbound-bytes, and one more
//   message within max-outbound-messages.
// Either may be passed by one payload while nothing is held (a payload
// larger than a bound moves alone). A reply to a payload is sent before the
// handler returns, so it is counted in S before its payload leaves R: an
// application that answers each payload with at most its size (an echo, a
// request/response server) always finds room in the outbound buffer, and the
// connection's memory stays within the bounds. A stopped link is resumed once
// the waiting payload fits and the hold is down to half a bound (so that a
// link about as fast as its peer does not stop at every message).
// A client does not hold its replies: if both ends of a link stopped reading
// while their own buffer is full, a bulk transfer both ways would wait
// forever. The client's peer is then a server that reads on whenever its
// replies drain, which the client's reading (bounded by its window alone)
// makes them do.
// With sessions the outbound buffer empties only as the peer's ACKs are
// read, so on a server "the link reads no further" would wait for them
// forever. There the payload that does not fit and the frames after it wait
// in the link, unacknowledged, while it reads on and takes the ACKs;
// the peer's send window (docs/protocol.md 13.4.1) bounds what can arrive
// meanwhile (subscriber_delivery::deliver_session). Their outbound buffer
// stays out of the budget below, which stops the reading.
//
// Besides: an acceptor's buffer_budget (max-buffered-bytes across all its
// connections). When it is exceeded, a connection that holds more than a
// quarter of its share (max-buffered-bytes / 4 / connections) stops after
// the read under way: those holding most stop, those holding little (a good
// client among hostile ones) read on.
//
// A stopped link's silence is not its peer's fault
// (transport::liveness_info::held_back).
//
// Who calls whom, on which thread:
// - The connection's actor: set_link(), set_outbound(), sent_taken().
// - Any thread: the send_counter (sends enqueued, by the connection's actor
//   class), received() (credit holds: taken on the link's strand, returned
//   by whoever processed the payload last), and wake() (the budget).
// - The link's upper, on the link's strand: fits(), wait_for(),
//   budget_allows(), holding(). O shrinks only when the actor counts the
//   link's writes (subscriber_delivery.hpp, write_count): while the link is
//   held, the upper has the actor count them at once.
// A stopped link is resumed through transport::resume_reading, which only
// posts to its strand.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "transport.hpp"

namespace netasync::detail {

/// What each received payload counts beyond its bytes: its message, or its
/// place in the link's list while it waits for a subscriber (about that
/// much, measured). Without it, a window of 1-byte payloads would hold
/// millions of messages.
constexpr size_t payload_overhead = 64;

class read_gate;

/// The bytes all connections of one acceptor hold (outbound buffers and
/// received payloads not yet processed), against max-buffered-bytes.
class buffer_budget {
public:
  explicit buffer_budget(size_t max) : max_(max) {
    // nop
  }

  size_t max() const noexcept {
    return max_;
  }

  size_t total() const noexcept {
    return static_cast<size_t>(std::max<int64_t>(0, total_.load()));
  }

  size_t connections() const noexcept {
    return connections_.load();
  }

  bool over() const noexcept {
    return max_ > 0 && total_.load() > static_cast<int64_t>(max_);
  }

  /// Any thread. Lowering the total to the low-water mark (9/10 of the
  /// bound) wakes the paused connections.
  void add(int64_t delta);

  void attach() {
    ++connections_;
  }

  void detach() {
    --connections_;
  }

  /// Registers `gate` for a wake-up; false if the budget is no longer over
  /// (read on: no wake-up would come).
  bool pause(const std::shared_ptr<read_gate>& gate);

private:
  size_t max_;
  std::atomic<int64_t> total_{0};
  std::atomic<size_t> connections_{0};
  std::atomic<size_t> paused_count_{0};
  std::mutex mtx_;
  std::vector<std::weak_ptr<read_gate>> paused_;
};

using buffer_budget_ptr = std::shared_ptr<buffer_budget>;

/// Sends to a connection on their way through its mailbox: counted by the
/// connection's actor when CAF enqueues them (any thread) and taken back
/// when it has admitted or refused them. Owned by the actor and shared with
/// its gate, which may outlive it in a link.
struct send_counter {
  std::atomic<int64_t> bytes{0};
  std::atomic<int64_t> messages{0};
};

using send_counter_ptr = std::shared_ptr<send_counter>;

class read_gate : public std::enable_shared_from_this<read_gate> {
public:
  struct limits {
    /// The receive window (bytes with payload_overhead each).
    size_t window = 0;
    /// A server connection: replies count too, against the outbound
    /// bounds below.
    bool holds_replies = false;
    size_t max_bytes = 0;
    size_t max_messages = 0;
    /// The outbound buffer counts against the acceptor's budget too. Not
    /// with sessions: their buffer empties only as the peer's ACKs are
    /// read, which a budget that stopped the reading would prevent.
    bool replies_in_budget = false;
  };

  /// `budget` may be null (no bound across connections); `sends` may be
  /// null without holds_replies.
  read_gate(limits lim, send_counter_ptr sends,
            buffer_budget_ptr budget = nullptr)
    : lim_(lim), sends_(std::move(sends)), budget_(std::move(budget)) {
    if (!sends_)
      lim_.holds_replies = false;
    if (!lim_.holds_replies)
      lim_.replies_in_budget = false;
    if (budget_)
      budget_->attach();
  }

  ~read_gate() {
    if (budget_) {
      if (lim_.replies_in_budget)
        budget_->add(-out_bytes_.load());
      budget_->detach();
    }
  }

  read_gate(const read_gate&) = delete;
  read_gate& operator=(const read_gate&) = delete;

  const limits& bounds() const noexcept {
    return lim_;
  }

  /// The connection's actor: the live link (or none).
  void set_link(std::weak_ptr<transport> link) {
    std::lock_guard<std::mutex> guard{mtx_};
    link_ = std::move(link);
  }

  /// The connection's actor: its outbound buffer now.
  void set_outbound(size_t bytes, size_t messages) {
    auto delta = static_cast<int64_t>(bytes)
                 - out_bytes_.exchange(static_cast<int64_t>(bytes));
    out_msgs_ = static_cast<int64_t>(messages);
    if (budget_ && lim_.replies_in_budget && delta != 0)
      budget_->add(delta);
    maybe_wake();
  }

  /// Received payloads handed up (> 0) or processed (< 0); any thread.
  void received(int64_t bytes, int64_t messages) {
    recv_bytes_ += bytes;
    // (Messages count only against the outbound bounds.)
    if (lim_.holds_replies)
      recv_msgs_ += messages;
    if (budget_)
      budget_->add(bytes);
    if (bytes < 0)
      maybe_wake();
  }

  /// The connection's actor: sends it took from its mailbox (the counter's
  /// other half is send_counter's).
  void sent_taken(int64_t bytes, int64_t messages) {
    if (!sends_)
      return;
    sends_->bytes -= bytes;
    sends_->messages -= messages;
    maybe_wake();
  }

  /// The link's upper: whether `bytes` (with overhead) in `messages` more
  /// payloads may be handed up now. A first payload always may while
  /// nothing is held.
  bool fits(size_t bytes, size_t messages) const noexcept {
    auto r = recv_bytes_.load();
    if (!within(r, bytes, messages, lim_.window))
      return false;
    if (!lim_.holds_replies || replies_off_.load())
      return true;
    auto [held, held_msgs] = held_with_replies();
    return within(held, bytes, messages, lim_.max_bytes)
           && within(held_msgs, messages, messages, lim_.max_messages);
  }

  /// The link's upper, having stopped before a payload of `bytes` (with
  /// overhead) that does not fit: the link is resumed when it does. That
  /// may be at once (a release raced with the check).
  void wait_for(size_t bytes) {
    need_ = bytes;
    waiting_ = true;
    maybe_wake();
  }

  /// The link's upper, after a read: whether the acceptor's budget lets
  /// this connection read on. If not, the budget resumes it later.
  bool budget_allows() {
    if (!over_budget())
      return true;
    waiting_ = true;
    if (budget_->pause(shared_from_this()))
      return false;
    waiting_ = false;
    return true;
  }

  /// The link's upper, when its peer ended the link with payloads left:
  /// replies can no longer be written, so they stop counting (the room they
  /// take would never be made); the receive window still does.
  void reading_ended() {
    replies_off_ = true;
    maybe_wake();
  }

  /// Whether the link stopped for this gate (and is not resumed yet).
  bool holding() const noexcept {
    return waiting_.load();
  }

  /// Resumes the link if it stopped for this gate.
  void wake() {
    if (!waiting_.exchange(false))
      return;
    std::shared_ptr<transport> link;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      link = link_.lock();
    }
    if (link)
      link->resume_reading();
  }

private:
  // `held` plus `n` (in `msgs` payloads) stays within `max`, or nothing is
  // held and it is one payload.
  static bool within(int64_t held, size_t n, size_t msgs, size_t max) {
    if (held <= 0)
      return msgs <= 1 || n <= max;
    return static_cast<uint64_t>(held) + n <= max;
  }

  // Bytes and messages held with the replies: received (R), on their way
  // (S), buffered (O). Loaded in that order, the order in which a byte moves
  // (a reply is counted in S before its payload leaves R, in O before it
  // leaves S): whatever moved meanwhile is counted twice, never missed.
  std::pair<int64_t, int64_t> held_with_replies() const noexcept {
    auto r = recv_bytes_.load();
    auto r_msgs = recv_msgs_.load();
    auto s = sends_->bytes.load();
    auto s_msgs = sends_->messages.load();
    auto o = out_bytes_.load();
    auto o_msgs = out_msgs_.load();
    return {r + s + o, r_msgs + s_msgs + o_msgs};
  }

  // Whether this connection holds too much of its acceptor's budget.
  bool over_budget() const noexcept {
    return budget_ && budget_->over()
           && held_for_budget() * 4 * budget_->connections() > budget_->max();
  }

  // Whether a stopped link may go on: the payload it stopped before fits,
  // the hold is down to half of each bound, and the budget does not hold it
  // (then the budget's wake-up resumes it).
  bool may_resume() const noexcept {
    if (over_budget())
      return false;
    auto need = need_.load();
    if (!fits(need, 1) || recv_bytes_.load() > static_cast<int64_t>(lim_.window / 2))
      return false;
    if (!lim_.holds_replies || replies_off_.load())
      return true;
    auto [held, held_msgs] = held_with_replies();
    return held <= static_cast<int64_t>(lim_.max_bytes / 2)
           && held_msgs <= static_cast<int64_t>(lim_.max_messages / 2);
  }

  // Seq_cst both ways: a releaser lowers its count before it reads
  // waiting_, and wait_for() sets waiting_ before it reads the counts, so one
  // of the two sees the other.
  void maybe_wake() {
    if (waiting_.load() && may_resume())
      wake();
  }

  // What this connection holds, for its share of the acceptor's budget.
  size_t held_for_budget() const noexcept {
    auto out = lim_.replies_in_budget ? out_bytes_.load() : 0;
    return static_cast<size_t>(std::max<int64_t>(0, out)
                               + std::max<int64_t>(0, recv_bytes_.load()));
  }

  limits lim_;
  send_counter_ptr sends_;
  buffer_budget_ptr budget_;
  std::mutex mtx_; // link_: set by the actor, read by whoever wakes
  std::weak_ptr<transport> link_;
  std::atomic<bool> waiting_{false};
  std::atomic<bool> replies_off_{false}; // reading_ended()
  std::atomic<size_t> need_{0};
  std::atomic<int64_t> recv_bytes_{0};
  std::atomic<int64_t> recv_msgs_{0};
  std::atomic<int64_t> out_bytes_{0};
  std::atomic<int64_t> out_msgs_{0};
};

using read_gate_ptr = std::shared_ptr<read_gate>;

inline void buffer_budget::add(int64_t delta) {
  auto now = total_ += delta;
  // Dekker with pause(): the total is written before the count is read,
  // and pause() writes the count before it reads the total (all seq_cst),
  // so one of the two sees the other.
  if (delta < 0 && paused_count_.load() > 0
      && now <= static_cast<int64_t>(max_ / 10 * 9)) {
    std::vector<std::weak_ptr<read_gate>> woken;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      woken.swap(paused_);
      paused_count_ = 0;
    }
    for (auto& x : woken)
      if (auto gate = x.lock())
        gate->wake();
  }
}

inline bool buffer_budget::pause(const std::shared_ptr<read_gate>& gate) {
  std::lock_guard<std::mutex> guard{mtx_};
  ++paused_count_;
  if (total_.load() <= static_cast<int64_t>(max_ / 10 * 9)) {
    --paused_count_;
    return false;
  }
  paused_.push_back(gate);
  return true;
}

} // namespace netasync::detail
