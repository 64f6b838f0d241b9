#pragma once

// The session layer's frames (docs/protocol.md, section 13): what a session
// link carries inside each length-prefixed (or WebSocket) message. Pure code:
// encoding and decoding only, no sockets, no actors.
//
// Every session frame starts with a type byte. Integers are big-endian.
//   HELLO   01 "netasync" version:u8 role:u8 flags:u8 id:16 next:u64   (36 B)
//   DATA    02 seq:u64 payload
//   ACK     03 next:u64
//   REFUSE  04 code:u8 text
//   CALL    05 seq:u64 call:u64 payload
//   REPLY   06 seq:u64 call:u64 status:u8 payload (status 1: error text)
//   CLOSE   07 code:u8
// DATA, CALL and REPLY are numbered by one sequence per direction and per
// session; `next` (HELLO, ACK) is the sequence number a side expects next,
// i.e. it has received every numbered frame below it.

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "netasync/bytes.hpp"

namespace netasync::detail::session {

constexpr uint8_t version = 1;

enum class type : uint8_t {
  hello = 1,
  data = 2,
  ack = 3,
  refuse = 4,
  call = 5,
  reply = 6,
  close = 7,
};

enum class refuse_code : uint8_t {
  /// The server does not know the session (expired, or the process
  /// restarted).
  unknown_session = 1,
  /// The HELLO's version is not spoken here.
  version = 2,
  /// The server is draining: no new sessions, no resumes.
  draining = 3,
};

enum class close_code : uint8_t {
  /// The peer's application closed the connection.
  closed = 0,
  /// The peer drained (graceful shutdown).
  draining = 1,
};

using session_id = std::array<uint8_t, 16>;

constexpr char magic[8] = {'n', 'e', 't', 'a', 's', 'y', 'n', 'c'};
constexpr size_t hello_size = 1 + 8 + 1 + 1 + 1 + 16 + 8;
constexpr size_t seq_header = 1 + 8;              // DATA
constexpr size_t call_header = 1 + 8 + 8;         // CALL
constexpr size_t reply_header = 1 + 8 + 8 + 1;    // REPLY
constexpr uint8_t flag_resume = 0x01;

/// The largest header any numbered frame adds to its payload.
constexpr size_t max_overhead = reply_header;

/// The send window (docs/protocol.md 13.4.1): a sender has at most this
/// many numbered frames, of at most this many bytes in all, written and not
/// acknowledged; a larger frame only alone. A receiver may therefore hold
/// back frames it has no room for, unacknowledged, and read on for the ACKs
/// behind them: what the peer can send meanwhile is bounded.
constexpr uint64_t window_frames = 1024;
constexpr uint64_t window_bytes = 4 * 1024 * 1024;

enum class side : uint8_t { client = 0, server = 1 };

struct hello {
  side from = side::client;
  /// Client: it has had a session with this id before (the server must know
  /// it, or refuse with unknown_session).
  bool resume = false;
  session_id id{};
  /// The sequence number this side expects next.
  uint64_t next = 0;
  uint8_t ver = version;
};

inline void put_u64(char* out, uint64_t x) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(x & 0xff);
    x >>= 8;
  }
}

inline uint64_t get_u64(const char* in) {
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x = (x << 8) | static_cast<uint8_t>(in[i]);
  return x;
}

inline bytes encode_hello(const hello& h) {
  bytes out(hello_size);
  auto p = out.data();
  p[0] = static_cast<char>(type::hello);
  std::memcpy(p + 1, magic, 8);
  p[9] = static_cast<char>(h.ver);
  p[10] = static_cast<char>(h.from);
  p[11] = static_cast<char>(h.resume ? flag_resume : 0);
  std::memcpy(p + 12, h.id.data(), 16);
  put_u64(p + 28, h.next);
  return out;
}

/// A HELLO, or nothing if `x` is not one (wrong type, size or magic). The
/// version is returned as sent; the caller decides whether it speaks it.
inline std::optional<hello> decode_hello(const bytes& x) {
  if (x.size() != hello_size || static_cast<uint8_t>(x[0]) != 1
      || std::memcmp(x.data() + 1, magic, 8) != 0
      || static_cast<uint8_t>(x[10]) > 1)
    return std::nullopt;
  hello h;
  h.ver = static_cast<uint8_t>(x[9]);
  h.from = static_cast<side>(x[10]);
  h.resume = (static_cast<uint8_t>(x[11]) & flag_resume) != 0;
  std::memcpy(h.id.data(), x.data() + 12, 16);
  h.next = get_u64(x.data() + 28);
  return h;
}

/// A numbered frame: `header` bytes of type, sequence number and (CALL,
/// REPLY) call id and status, then the payload copied after them.
inline bytes encode_numbered(type t, uint64_t seq, const bytes& payload,
                             uint64_t call = 0, uint8_t status = 0) {
  size_t header = t == type::data   ? seq_header
                  : t == type::call ? call_header
                                    : reply_header;
  bytes out(header + payload.size());
  auto p = out.data();
  p[0] = static_cast<char>(t);
  put_u64(p + 1, seq);
  if (t != type::data)
    put_u64(p + 9, call);
  if (t == type::reply)
    p[17] = static_cast<char>(status);
  if (!payload.empty())
    std::memcpy(p + header, payload.data(), payload.size());
  return out;
}

inline bytes encode_ack(uint64_t next) {
  bytes out(9);
  out[0] = static_cast<char>(type::ack);
  put_u64(out.data() + 1, next);
  return out;
}

inline bytes encode_refuse(refuse_code code, const std::string& text) {
  bytes out(2 + text.size());
  out[0] = static_cast<char>(type::refuse);
  out[1] = static_cast<char>(code);
  std::memcpy(out.data() + 2, text.data(), text.size());
  return out;
}

inline bytes encode_close(close_code code) {
  return bytes{static_cast<char>(type::close), static_cast<char>(code)};
}

/// One received frame, parsed in place: what it is and where its parts are.
struct view {
  type t = type::data;
  uint64_t seq = 0;    // DATA, CALL, REPLY
  uint64_t next = 0;   // ACK
  uint64_t call = 0;   // CALL, REPLY
  uint8_t code = 0;    // REFUSE, CLOSE; REPLY: status
  size_t header = 0;   // where the payload (or REFUSE's text) starts
};

/// Parses a frame received after the handshake; nothing if it is malformed
/// (unknown type, too short). A HELLO here is malformed too.
inline std::optional<view> parse(const bytes& x) {
  if (x.empty())
    return std::nullopt;
  view v;
  auto n = x.size();
  auto p = x.data();
  switch (static_cast<type>(static_cast<uint8_t>(p[0]))) {
    case type::data:
      if (n < seq_header)
        return std::nullopt;
      v.t = type::data;
      v.seq = get_u64(p + 1);
      v.header = seq_header;
      return v;
    case type::ack:
      if (n != 9)
        return std::nullopt;
      v.t = type::ack;
      v.next = get_u64(p + 1);
      return v;
    case type::refuse:
      if (n < 2)
        return std::nullopt;
      v.t = type::refuse;
      v.code = static_cast<uint8_t>(p[1]);
      v.header = 2;
      return v;
    case type::call:
      if (n < call_header)
        return std::nullopt;
      v.t = type::call;
      v.seq = get_u64(p + 1);
      v.call = get_u64(p + 9);
      v.header = call_header;
      return v;
    case type::reply:
      if (n < reply_header || static_cast<uint8_t>(p[17]) > 1)
        return std::nullopt;
      v.t = type::reply;
      v.seq = get_u64(p + 1);
      v.call = get_u64(p + 9);
      v.code = static_cast<uint8_t>(p[17]);
      v.header = reply_header;
      return v;
    case type::close:
      if (n != 2)
        return std::nullopt;
      v.t = type::close;
      v.code = static_cast<uint8_t>(p[1]);
      return v;
    default:
      return std::nullopt;
  }
}

/// The header a numbered frame of type `t` puts before its payload.
inline size_t header_of(type t) {
  return t == type::data ? seq_header
                         : t == type::call ? call_header : reply_header;
}

} // namespace netasync::detail::session
