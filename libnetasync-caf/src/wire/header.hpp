#pragma once

// The frame header: a 4-byte big-endian payload length. Length 0 is a
// heartbeat. Lengths of 2^31 and above read as negative to a net.async (JVM)
// peer and are never valid.

#include <array>
#include <cstddef>
#include <cstdint>

namespace netasync::wire {

constexpr size_t header_size = 4;

/// Largest length a net.async peer can read (signed 32-bit).
constexpr uint32_t max_wire_length = 0x7fffffffu;

using header = std::array<char, header_size>;

inline header make_header(uint32_t length) {
  return {{static_cast<char>((length >> 24) & 0xff),
           static_cast<char>((length >> 16) & 0xff),
           static_cast<char>((length >> 8) & 0xff),
           static_cast<char>(length & 0xff)}};
}

inline uint32_t read_header(const char* in) {
  auto b = [in](int i) { return static_cast<uint32_t>(static_cast<unsigned char>(in[i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

/// The heartbeat frame.
inline header heartbeat() {
  return make_header(0);
}

} // namespace netasync::wire
