#pragma once

// An acceptor's sums over all its connections, live and ended: messages and
// bytes each way. Each connection adds what it counts for itself (its
// link's delivery what was written and received; the supervisor the writes
// only a link's end reports, and a session's confirmed messages); the
// acceptor reads them for GET /metrics. Private to the library.
//
// Threads: any thread adds; relaxed atomics (counters, no ordering).

#include <atomic>
#include <cstdint>
#include <memory>

namespace netasync::detail {

struct traffic_totals {
  std::atomic<uint64_t> messages_in{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> messages_out{0};
  std::atomic<uint64_t> bytes_out{0};
  // Sends refused (reject) or dropped (drop policies, a close's leftovers).
  std::atomic<uint64_t> sends_lost{0};

  void received(uint64_t n, uint64_t bytes) {
    messages_in.fetch_add(n, std::memory_order_relaxed);
    bytes_in.fetch_add(bytes, std::memory_order_relaxed);
  }

  void lost(uint64_t n) {
    sends_lost.fetch_add(n, std::memory_order_relaxed);
  }

  void sent(uint64_t n, uint64_t bytes) {
    messages_out.fetch_add(n, std::memory_order_relaxed);
    bytes_out.fetch_add(bytes, std::memory_order_relaxed);
  }
};

using traffic_totals_ptr = std::shared_ptr<traffic_totals>;

} // namespace netasync::detail
