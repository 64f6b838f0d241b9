#pragma once

// Encodes payloads into frames. Pure code: no sockets, no actors.

#include <cstring>

#include <caf/error.hpp>

#include "netasync/bytes.hpp"
#include "netasync/error.hpp"
#include "wire/header.hpp"

namespace netasync::wire {

/// Checks that `payload_size` can go on the wire as a data frame: not empty
/// (that would be a heartbeat) and at most `max_frame_size`.
inline caf::error check_payload(size_t payload_size, uint32_t max_frame_size) {
  if (payload_size == 0)
    return make_error(error::empty_payload);
  if (payload_size > max_frame_size || payload_size > max_wire_length)
    return make_error(error::frame_too_large,
                      std::to_string(payload_size) + " > "
                        + std::to_string(max_frame_size));
  return caf::none;
}

/// Appends one frame (header and payload) to `out`. An empty payload appends
/// a heartbeat.
inline void append_frame(bytes& out, const char* payload, size_t size) {
  auto h = make_header(static_cast<uint32_t>(size));
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), payload, payload + size);
}

inline bytes encode_frame(const bytes& payload) {
  bytes out;
  out.reserve(header_size + payload.size());
  append_frame(out, payload.data(), payload.size());
  return out;
}

} // namespace netasync::wire
