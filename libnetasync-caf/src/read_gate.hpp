#pragma once

// Why a server connection's link may not read on, besides its receive
// window:
// - its outbound buffer is over its high-water mark: a peer that does not
//   read what it is sent gets nothing more read from it (TCP then pushes
//   back on it), so an echo or request/response server holds at most its
//   outbound bound for such a peer however much it sends;
// - its acceptor's buffer_budget (max-buffered-bytes, across all its
//   connections) is exceeded and this connection holds more than a quarter
//   of its share (max-buffered-bytes / 4 / connections): the connections
//   holding most stop, those holding little (a good client among hostile
//   ones) read on. A soft bound: a connection below that mark finishes the
//   read under way (256 KiB) before it stops, so the total stays below
//   1.25 × max-buffered-bytes + 256 KiB × connections.
// A client does not use it: if both ends stopped reading while their own
// buffer is full, a bulk transfer both ways would wait forever.
//
// One gate per connection, owned by the connection's actor and outliving its
// links; the link's upper asks it at each read: the same "enough" answer as
// the receive window's, one mechanism. Like a full receive window, a closed
// gate excuses the peer's silence (transport::liveness_info::held_back): the
// peer is not dropped for it, it only costs bounded memory.
//
// Who calls whom, on which thread:
// - The connection's actor: set_link(), set_output_full(),
//   set_outbound_bytes().
// - The receive credit, from any thread: add_received() (for the budget;
//   what the connection holds received is the credit's own count).
// - The link's upper, on the link's strand: may_read(), with that count.
// - The budget, from whichever thread brought the total down: wake().
// A gate that stopped its link resumes it through
// transport::resume_reading, which only posts.

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "transport.hpp"

namespace netasync::detail {

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

class read_gate : public std::enable_shared_from_this<read_gate> {
public:
  /// `budget` may be null (no bound across connections).
  explicit read_gate(buffer_budget_ptr budget = nullptr)
    : budget_(std::move(budget)) {
    if (budget_)
      budget_->attach();
  }

  ~read_gate() {
    if (budget_) {
      budget_->add(-outbound_.load());
      budget_->detach();
    }
  }

  read_gate(const read_gate&) = delete;
  read_gate& operator=(const read_gate&) = delete;

  /// The connection's actor: the live link (or none).
  void set_link(std::weak_ptr<transport> link) {
    std::lock_guard<std::mutex> guard{mtx_};
    link_ = std::move(link);
  }

  /// The connection's actor: whether the outbound buffer is over its
  /// high-water mark. Clearing it resumes a link that stopped for it.
  void set_output_full(bool full) {
    if (full) {
      output_full_ = true;
      return;
    }
    if (output_full_.exchange(false))
      wake();
  }

  bool output_full() const noexcept {
    return output_full_.load();
  }

  /// The connection's actor: the outbound buffer's bytes now.
  void set_outbound_bytes(size_t n) {
    auto delta = static_cast<int64_t>(n) - outbound_.exchange(
                   static_cast<int64_t>(n));
    if (budget_ && delta != 0)
      budget_->add(delta);
  }

  /// The receive credit: received bytes taken (> 0) or processed (< 0).
  /// (The credit outlives no hold, and the gate outlives the credit, so
  /// every byte added here is taken back before the gate goes.)
  void add_received(int64_t delta) {
    if (budget_)
      budget_->add(delta);
  }

  /// The link's upper: whether the link may read on, with `received` bytes
  /// of its payloads not processed yet (its receive credit's count). If not,
  /// the link is resumed when it may.
  bool may_read(size_t received) {
    if (output_full_.load()) {
      waiting_ = true;
      // Cleared meanwhile: no wake-up may come (it found nobody waiting).
      if (output_full_.load() || !waiting_.exchange(false))
        return false;
    }
    if (budget_ && budget_->over()
        && holding(received) * 4 * budget_->connections()
             > budget_->max()) {
      waiting_ = true;
      if (budget_->pause(shared_from_this()))
        return false;
      waiting_ = false;
    }
    return true;
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
  // What this connection holds: its outbound buffer and `received`.
  size_t holding(size_t received) const noexcept {
    return static_cast<size_t>(std::max<int64_t>(0, outbound_.load()))
           + received;
  }

  buffer_budget_ptr budget_;
  std::mutex mtx_; // link_: set by the actor, read by whoever wakes
  std::weak_ptr<transport> link_;
  std::atomic<bool> output_full_{false};
  std::atomic<bool> waiting_{false};
  std::atomic<int64_t> outbound_{0};
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
