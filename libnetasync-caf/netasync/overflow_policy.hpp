#pragma once

#include <cstdint>
#include <string>

#include <caf/optional.hpp>

namespace netasync {

/// What happens to a message sent while the outbound buffer is full.
enum class overflow_policy : uint8_t {
  /// Refuse the new message; a request gets error::outbound_buffer_full.
  reject,
  /// Accept the send but discard the new message (counted).
  drop_newest,
  /// Discard the oldest message not yet handed to the socket (counted).
  drop_oldest,
};

/// "reject", "drop-newest" or "drop-oldest".
const char* to_string(overflow_policy x);

/// Parses the names of to_string.
caf::optional<overflow_policy> parse_overflow_policy(const std::string& str);

} // namespace netasync
