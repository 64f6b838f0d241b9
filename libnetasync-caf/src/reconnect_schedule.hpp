#pragma once

// When a client dials again, apart from any actor: the reconnect policy of
// `options` (reconnect-period, -backoff, -max-period, -jitter,
// max-reconnect-attempts) as a sequence of waits. The connector asks next()
// after every lost link or failed attempt, and reset() after a link that
// stayed up for a heartbeat-timeout (a flapping server does not reset it).
//
// The n-th wait since the last reset (n = 1, 2, ...) is
//   base(n) = min(reconnect-period × backoff^(n-1), cap)
// with cap = max(reconnect-max-period, reconnect-period), then
//   none:  base(n)
//   full:  uniform in [0, base(n))            (nng, AWS "full jitter")
//   equal: base(n)/2 + uniform in [0, base(n)/2)
// The random numbers come from splitmix64, seeded per connection: from
// reconnect-seed when it is set (reproducible, for tests), else from the
// system's entropy.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include <caf/timespan.hpp>

#include "netasync/options.hpp"

namespace netasync::detail {

class reconnect_schedule {
public:
  explicit reconnect_schedule(const options& o)
    : period_(o.reconnect_period),
      cap_(std::max(o.reconnect_max_period, o.reconnect_period)),
      backoff_(std::max(o.reconnect_backoff, 1.0)),
      jitter_(o.reconnect_jitter),
      limit_(o.max_reconnect_attempts),
      state_(o.reconnect_seed != 0 ? o.reconnect_seed : entropy()) {
    // nop
  }

  /// Whether the attempt limit allows no further attempt.
  bool exhausted() const {
    return limit_ > 0 && attempts_ >= limit_;
  }

  /// The wait before the next attempt, which it counts.
  caf::timespan next() {
    ++attempts_;
    auto base = base_of(attempts_);
    switch (jitter_) {
      case jitter_policy::none:
        return base;
      case jitter_policy::full:
        return scaled(base, unit());
      case jitter_policy::equal:
        return base / 2 + scaled(base - base / 2, unit());
    }
    return base;
  }

  /// Attempts counted since the last reset.
  uint64_t attempts() const {
    return attempts_;
  }

  /// A stable link: the next wait is the first again.
  void reset() {
    attempts_ = 0;
  }

private:
  // base(n), without overflow: the factor stops growing once it reaches the
  // cap.
  caf::timespan base_of(uint64_t n) const {
    auto p = static_cast<double>(period_.count());
    auto c = static_cast<double>(cap_.count());
    auto x = p;
    for (uint64_t i = 1; i < n && x < c && backoff_ > 1.0; ++i)
      x *= backoff_;
    return caf::timespan{static_cast<caf::timespan::rep>(std::min(x, c))};
  }

  static caf::timespan scaled(caf::timespan d, double u) {
    return caf::timespan{static_cast<caf::timespan::rep>(
      std::floor(static_cast<double>(d.count()) * u))};
  }

  // Uniform in [0, 1], from the top 53 bits of splitmix64.
  double unit() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / static_cast<double>(1ULL << 53);
  }

  static uint64_t entropy() {
    std::random_device rd;
    return (uint64_t{rd()} << 32) ^ rd();
  }

  caf::timespan period_;
  caf::timespan cap_;
  double backoff_;
  jitter_policy jitter_;
  uint64_t limit_;
  uint64_t attempts_ = 0;
  uint64_t state_;
};

} // namespace netasync::detail
