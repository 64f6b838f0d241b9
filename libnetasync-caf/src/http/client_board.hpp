#pragma once

// The HTTP clients of one actor system, for the acceptors' GET /metrics:
// each live client owns its stats and is asked for them by message (one
// owner per piece of state); a client that ends leaves its counters here,
// so that the sums never go back. Shared by the io_module and each
// client's state, which may outlive one another. Private to the library.
//
// Threads: any, each call under the board's mutex.

#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_cast.hpp>

#include "netasync/http_client.hpp"

namespace netasync::detail {

/// Adds `x`'s counters to `sum`, and its gauges unless `counters_only`.
inline void add_up(http_client_stats& sum, const http_client_stats& x,
                   bool counters_only = false) {
  sum.responses += x.responses;
  sum.failures += x.failures;
  sum.created += x.created;
  sum.reused += x.reused;
  sum.retried += x.retried;
  if (counters_only)
    return;
  sum.open += x.open;
  sum.idle += x.idle;
  sum.waiting += x.waiting;
}

class http_client_board {
public:
  void join(const caf::actor& client) {
    std::lock_guard<std::mutex> guard{mtx_};
    live_.emplace(client.id(), client.address());
  }

  /// `last`: the client's final stats (its gauges are over).
  void leave(caf::actor_id id, const http_client_stats& last) {
    std::lock_guard<std::mutex> guard{mtx_};
    live_.erase(id);
    add_up(retired_, last, true);
  }

  /// The live clients to ask, and the counters of those that ended.
  std::pair<std::vector<caf::actor>, http_client_stats> snapshot() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<caf::actor> xs;
    for (auto& [id, addr] : live_)
      if (auto x = caf::actor_cast<caf::actor>(addr))
        xs.push_back(std::move(x));
    return {std::move(xs), retired_};
  }

private:
  std::mutex mtx_;
  std::unordered_map<caf::actor_id, caf::actor_addr> live_;
  http_client_stats retired_;
};

using http_client_board_ptr = std::shared_ptr<http_client_board>;

} // namespace netasync::detail
