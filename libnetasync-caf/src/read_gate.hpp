#pragma once

// Why a server connection's link may not read on, besides its receive
// window: its outbound buffer is over its high-water mark. A peer that does
// not read what it is sent gets nothing more read from it (TCP then pushes
// back on it), so an echo or request/response server holds at most its
// outbound bound for such a peer however much it sends. (A client does not
// use it: if both ends stopped reading while their own buffer is full, a
// bulk transfer both ways would wait forever.) One gate per connection,
// owned by the connection's actor and outliving its links; the link's upper
// asks it at each read: the same "enough" answer as the receive window's,
// one mechanism. Like a full receive window, a closed gate excuses the
// peer's silence (transport::liveness_info::held_back): the peer is not
// dropped for it, it only costs bounded memory.
//
// Who calls whom, on which thread:
// - The connection's actor: set_link(), set_output_full() (which resumes
//   the link that waits for it, through transport::resume_reading, which
//   only posts).
// - The link's upper, on the link's strand: may_read().

#include <atomic>
#include <memory>

#include "transport.hpp"

namespace netasync::detail {

class read_gate {
public:
  /// The connection's actor: the live link (or none).
  void set_link(std::weak_ptr<transport> link) {
    link_ = std::move(link);
  }

  /// The connection's actor: whether the outbound buffer is over its
  /// high-water mark. Clearing it resumes a link that stopped for it.
  void set_output_full(bool full) {
    if (full) {
      output_full_ = true;
      return;
    }
    if (!output_full_.exchange(false))
      return;
    if (waiting_.exchange(false))
      if (auto link = link_.lock())
        link->resume_reading();
  }

  bool output_full() const noexcept {
    return output_full_.load();
  }

  /// The link's upper: whether the link may read on. If not, the link is
  /// resumed when it may.
  bool may_read() {
    if (!output_full_.load())
      return true;
    waiting_ = true;
    // Cleared meanwhile: no resume may come (it found nobody waiting).
    if (!output_full_.load() && waiting_.exchange(false))
      return true;
    return false;
  }

private:
  std::weak_ptr<transport> link_;
  std::atomic<bool> output_full_{false};
  std::atomic<bool> waiting_{false};
};

using read_gate_ptr = std::shared_ptr<read_gate>;

} // namespace netasync::detail
