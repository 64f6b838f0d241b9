#pragma once

#include <cstdint>
#include <string>

#include <caf/error.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/timespan.hpp>
#include <caf/timestamp.hpp>

namespace netasync {

/// Counters of one connection handle, answered to (get_atom, stats_atom),
/// and sent to the subscribers as (stats_atom, connection, connection_stats)
/// right before `closed` with the option final-stats.
struct connection_stats {
  /// "connecting", "connected", "disconnected", "closing" or "closed".
  std::string state;
  /// Links established (first connect, reconnects and restarts).
  uint64_t connects = 0;
  /// Links lost and connection attempts failed.
  uint64_t disconnects = 0;
  /// Worker failures handled by restarting.
  uint64_t restarts = 0;
  /// Payload frames written completely to the socket, and their payload
  /// bytes.
  uint64_t sent = 0;
  uint64_t bytes_sent = 0;
  /// Payloads received and handed to the subscribers, and their bytes.
  uint64_t received = 0;
  uint64_t bytes_received = 0;
  /// Messages discarded by a drop policy, or left unsent at close.
  uint64_t dropped = 0;
  /// Messages refused under the reject policy (or empty or oversized).
  uint64_t rejected = 0;
  /// Messages and bytes in the outbound buffer now.
  uint64_t buffered_messages = 0;
  uint64_t buffered_bytes = 0;
  /// Client: reconnect attempts since the last stable link (the one under
  /// way or waited for; 0 after a link that stayed up a heartbeat-timeout).
  uint64_t attempt = 0;
  /// Client: how long until the next attempt, while one is scheduled
  /// (state "disconnected"); zero otherwise.
  caf::timespan next_retry_in{0};
  /// The reason of the last lost link, failed attempt or worker failure
  /// (none before the first).
  caf::error last_error;
  /// When the current link went up (system clock); the epoch while down.
  caf::timestamp link_up_at;
  /// Sessions: links that resumed the session (the first link not counted),
  /// numbered messages sent again on them, and received duplicates dropped.
  uint64_t resumes = 0;
  uint64_t resent = 0;
  uint64_t duplicates = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_stats& x) {
  return f(caf::meta::type_name("connection_stats"), x.state, x.connects,
           x.disconnects, x.restarts, x.sent, x.bytes_sent, x.received,
           x.bytes_received, x.dropped, x.rejected, x.buffered_messages,
           x.buffered_bytes, x.attempt, x.next_retry_in, x.last_error,
           x.link_up_at, x.resumes, x.resent, x.duplicates);
}

} // namespace netasync
