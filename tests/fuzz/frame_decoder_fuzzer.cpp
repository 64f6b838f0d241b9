// libFuzzer target for netasync::wire::frame_decoder.
//
// Input layout:
//   byte 0      config: bits 0-2 pick the max frame size (kMaxSizes), bits 3-5
//               the split pattern (splitter::raw), bits 6-7 are ignored
//   bytes 1-2   split parameter, 16 bit big-endian (meaning depends on mode)
//   bytes 3..   the byte stream fed to the decoder
// Inputs shorter than 3 bytes are ignored. tests/fuzz/make_seeds.py writes
// seeds in this layout.
//
// Every run decodes the stream three times and checks each pass against a
// plain reference parser of docs/protocol.md section 3 (model below):
//   1. in one piece;
//   2. in chunks chosen by the split pattern, continuing to feed after an
//      error;
//   3. the delivered payloads re-encoded with encode_frame, in chunks.
// Invariants (any violation calls __builtin_trap()):
//   (a) one piece and chunked deliver the same payloads (each equal to the
//       model's, so equal to each other), the same heartbeat count and the
//       same error code; the error is reported by the very consume() call
//       that completes the offending header, never earlier or later;
//   (b) every delivered payload is non-empty, at most the max frame size and
//       passes check_payload;
//   (c) after an error every further consume() returns an error with the
//       same code and delivers nothing; counters and buffered() stay put;
//   (d) buffered() <= 4 + max frame size, buffered() <= bytes fed since the
//       last completed frame or heartbeat (equal while not failed), and no
//       allocation during decoding exceeds max(64 KiB initial reserve,
//       2 * bytes fed, 4 KiB for the error context): a header announcing a
//       large size costs only the bytes that arrived;
//   (e) encode_frame(payload) equals the payload's original bytes on the wire
//       and decoding the re-encoded payloads round-trips with no heartbeat,
//       no error and nothing left buffered.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include <sanitizer/allocator_interface.h>

#include "netasync/bytes.hpp"
#include "netasync/error.hpp"
#include "wire/frame_decoder.hpp"
#include "wire/frame_encoder.hpp"
#include "wire/header.hpp"

using netasync::bytes;
using netasync::code_of;
namespace wire = netasync::wire;
using ecode = netasync::error;

// The harness's own code is kept out of the coverage instrumentation
// (-fsanitize=fuzzer traces every comparison): its checks would only add
// noise features and cost a third of the time. ASan and UBSan still apply.
// The decoder is called through feed(), which is instrumented and never
// inlined into harness code.
#define NO_COV __attribute__((no_sanitize("coverage")))

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond))                                                               \
      fail(#cond, __LINE__);                                                   \
  } while (false)

namespace {

[[noreturn]] NO_COV void fail(const char* what, int line) {
  fprintf(stderr, "frame_decoder_fuzzer: invariant violated at line %d: %s\n",
          line, what);
  fflush(stderr);
  __builtin_trap();
}

// -- allocation tracking ----------------------------------------------------

// Largest single allocation while `alloc_tracking` is on. Uses the sanitizer
// malloc hooks (ASan calls them for malloc and operator new alike).
bool alloc_tracking = false;
size_t alloc_largest = 0;

NO_COV void on_malloc(const volatile void*, size_t size) {
  if (alloc_tracking && size > alloc_largest)
    alloc_largest = size;
}

NO_COV void on_free(const volatile void*) {
  // nop
}

struct alloc_scope {
  NO_COV alloc_scope() {
    alloc_largest = 0;
    alloc_tracking = true;
  }
  NO_COV ~alloc_scope() {
    alloc_tracking = false;
  }
};

// -- configuration ----------------------------------------------------------

constexpr uint32_t kMaxSizes[8] = {
  0x10,       0x100,       0x10000,     0x4000000, // 16 B, 256 B, 64 KiB, 64 MiB
  1,          0x7fffffff,  0xffffffff,  0,         // edge values
};

// Chunk sizes for the chunked passes. May return 0 (an empty consume call),
// never twice in a row, so every pass ends.
struct splitter {
  unsigned mode;
  uint16_t param;
  size_t len;
  size_t pos = 0;
  size_t calls = 0;
  uint32_t rng;
  bool last_empty = false;

  NO_COV splitter(unsigned m, uint16_t p, size_t n)
    : mode(m), param(p), len(n), rng(0x9e3779b9u ^ p) {
    // nop
  }

  NO_COV bool done() const {
    return pos >= len;
  }

  NO_COV size_t next() {
    size_t want = raw();
    if (want == 0 && last_empty)
      want = 1;
    last_empty = want == 0;
    ++calls;
    want = std::min(want, len - pos);
    pos += want;
    return want;
  }

  NO_COV uint32_t rand() {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
  }

  NO_COV size_t raw() {
    switch (mode) {
      default:
      case 0: // byte by byte
        return 1;
      case 1: // fixed chunk size 1..256
        return 1 + (param & 0xff);
      case 2: { // pseudo-random sizes, mostly small, some empty calls
        auto r = rand();
        return (r & 0x300) ? r % 9 : r % 300;
      }
      case 3: { // one split point: [0, p) [p, len)
        size_t p = param % (len + 1);
        return calls == 0 ? p : len;
      }
      case 4: { // two split points, one per parameter byte
        size_t a = (param >> 8) % (len + 1);
        size_t b = (param & 0xff) % (len + 1);
        if (a > b)
          std::swap(a, b);
        if (calls == 0)
          return a;
        if (calls == 1)
          return b - a;
        return len;
      }
      case 5: // 3 and 5 alternating: every header split at shifting points
        if (calls == 0)
          return param % 8;
        return (calls & 1) ? 3 : 5;
      case 6: // sizes 1..4 with an empty consume call in between
        if (calls & 1)
          return 0;
        return 1 + ((param >> ((calls / 2) % 8 * 2)) & 3);
      case 7: // growing chunks k, k+1, k+2, ...
        return (param % 16) + calls;
    }
  }
};

// -- reference model --------------------------------------------------------

struct model_frame {
  size_t offset; // payload offset in the stream
  size_t size;
};

struct model {
  // Frames with a payload, in order (offsets into the stream, no copies).
  model_frame frames[1 << 12];
  size_t num_frames = 0;
  // End offsets of every completed frame or heartbeat, in order.
  size_t ends[1 << 12];
  size_t num_ends = 0;
  // Number of heartbeats before each entry of `ends` and in total.
  size_t heartbeats = 0;
  ecode err = ecode::none;
  // Stream offset right after the offending header.
  size_t err_at = 0;
  // Bytes of the trailing partial frame (no error only).
  size_t tail = 0;

  NO_COV void parse(const char* data, size_t len, uint32_t max) {
    num_frames = num_ends = heartbeats = 0;
    err = ecode::none;
    err_at = tail = 0;
    size_t pos = 0;
    while (len - pos >= wire::header_size) {
      uint32_t n = 0;
      for (size_t i = 0; i < 4; ++i)
        n = (n << 8) | static_cast<unsigned char>(data[pos + i]);
      if (n >= 0x80000000u) {
        err = ecode::invalid_frame_length;
        err_at = pos + 4;
        return;
      }
      if (n > max) {
        err = ecode::frame_too_large;
        err_at = pos + 4;
        return;
      }
      if (n == 0) {
        ++heartbeats;
        pos += 4;
        ends[num_ends++] = pos;
        continue;
      }
      if (len - pos - 4 < n)
        break;
      frames[num_frames++] = model_frame{pos + 4, n};
      pos += 4 + n;
      ends[num_ends++] = pos;
    }
    tail = len - pos;
  }
};

// Inputs are at most a few KiB (-max_len); bigger ones are still decoded but
// only within the model's capacity. 4096 entries cover every frame of a
// 16 KiB input (a frame takes at least 4 bytes).
constexpr size_t kMaxStream = 4 * (1 << 12);

model ref;

// -- one decode pass --------------------------------------------------------

struct pass_result {
  size_t delivered = 0;
  uint64_t heartbeats = 0;
  ecode err = ecode::none;
};

// Decodes `data` fed per `split` (or in one piece when `split` is null),
// checking each delivered payload against `expect` (payload views) and the
// decoder state after every call against the model `m` of the same stream.
// The decoder under test, instrumented for coverage.
template <class OnFrame>
__attribute__((noinline)) caf::error
feed(wire::frame_decoder& dec, const char* data, size_t size, OnFrame& f) {
  return dec.consume(data, size, f);
}

template <class Expect>
NO_COV pass_result run_pass(const char* data, size_t len, uint32_t max,
                     splitter* split, const model& m, Expect&& expect) {
  pass_result res;
  wire::frame_decoder dec{max};
  CHECK(dec.idle());
  CHECK(dec.buffered() == 0);
  CHECK(dec.max_frame_size() == max);
  size_t fed = 0;
  size_t ends_seen = 0; // entries of m.ends <= fed
  bool failed = false;
  size_t buffered_at_failure = 0;
  uint64_t frames_at_failure = 0;
  uint64_t heartbeats_at_failure = 0;
  auto on_frame = [&](bytes&& payload) NO_COV {
    CHECK(!failed);                           // (c)
    CHECK(!payload.empty());                  // (b)
    CHECK(payload.size() <= max);             // (b)
    CHECK(payload.size() <= wire::max_wire_length);
    CHECK(!wire::check_payload(payload.size(), max));
    CHECK(res.delivered < m.num_frames);
    expect(res.delivered, std::move(payload));
    ++res.delivered;
  };
  for (;;) {
    size_t k;
    if (split == nullptr)
      k = len - fed;
    else if (split->done())
      break;
    else
      k = split->next();
    auto err = feed(dec, data + fed, k, on_frame);
    fed += k;
    while (ends_seen < m.num_ends && m.ends[ends_seen] <= fed)
      ++ends_seen;
    // Stream offset where the last completed frame or heartbeat ended.
    size_t last_end = ends_seen == 0 ? 0 : m.ends[ends_seen - 1];
    if (failed) {
      // (c): stays failed with the same code, nothing moves.
      CHECK(err);
      CHECK(code_of(err) == res.err);
      CHECK(dec.buffered() == buffered_at_failure);
      CHECK(dec.frames() == frames_at_failure);
      CHECK(dec.heartbeats() == heartbeats_at_failure);
    } else if (err) {
      // The first error: exactly in the call that completed the bad header.
      CHECK(m.err != ecode::none);
      CHECK(code_of(err) == m.err);
      CHECK(fed >= m.err_at && fed - k < m.err_at);
      CHECK(res.delivered == m.num_frames);
      CHECK(dec.frames() == m.num_frames);
      CHECK(dec.heartbeats() == m.heartbeats);
      res.err = m.err;
      failed = true;
      buffered_at_failure = dec.buffered();
      frames_at_failure = dec.frames();
      heartbeats_at_failure = dec.heartbeats();
      // (d): never more than a header is held for a bad frame.
      CHECK(dec.buffered() <= wire::header_size);
    } else {
      CHECK(m.err == ecode::none || fed < m.err_at);
      // (d): exactly the bytes since the last completed frame are buffered.
      CHECK(dec.buffered() == fed - last_end);
      CHECK(dec.idle() == (dec.buffered() == 0));
      CHECK(dec.frames() == res.delivered);
    }
    // (d) in every state.
    CHECK(dec.buffered() <= wire::header_size + uint64_t{max});
    CHECK(dec.buffered() <= fed);
    CHECK(dec.buffered() <= fed - last_end);
    CHECK(dec.frames() == res.delivered);
    if (split == nullptr)
      break;
  }
  CHECK(fed == len);
  res.heartbeats = dec.heartbeats();
  if (!failed) {
    CHECK(m.err == ecode::none);
    CHECK(res.delivered == m.num_frames);
    CHECK(res.heartbeats == m.heartbeats);
    CHECK(dec.buffered() == m.tail);
    CHECK(dec.idle() == (m.tail == 0));
  }
  return res;
}

// The payloads delivered by the one-piece pass and their re-encoding (reused
// across runs: no allocation once grown).
std::vector<bytes> delivered;
bytes reencoded;
model ref2;

} // namespace

extern "C" NO_COV int LLVMFuzzerInitialize(int*, char***) {
  __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
  return 0;
}

extern "C" NO_COV int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 3)
    return 0;
  const uint32_t max = kMaxSizes[raw[0] & 7];
  const unsigned mode = (raw[0] >> 3) & 7;
  const uint16_t param = static_cast<uint16_t>((raw[1] << 8) | raw[2]);
  const char* data = reinterpret_cast<const char*>(raw + 3);
  const size_t len = std::min(size - 3, kMaxStream);
  ref.parse(data, len, max);
  const size_t alloc_limit
    = std::max({wire::frame_decoder::initial_reserve, 2 * len, size_t{4096}});
  // The model's view of a payload; also checks (e) on the original bytes.
  auto expect_original = [&](size_t i, const bytes& payload) NO_COV {
    auto& f = ref.frames[i];
    CHECK(payload.size() == f.size);
    CHECK(std::memcmp(payload.data(), data + f.offset, f.size) == 0);
  };
  // The same, keeping the payloads for (e).
  delivered.clear();
  delivered.reserve(ref.num_frames); // not inside the allocation check
  auto expect_and_keep = [&](size_t i, bytes&& payload) NO_COV {
    expect_original(i, payload);
    delivered.emplace_back(std::move(payload));
  };
  // 1. One piece.
  pass_result whole;
  {
    alloc_scope scope;
    whole = run_pass(data, len, max, nullptr, ref, expect_and_keep);
    CHECK(alloc_largest <= alloc_limit); // (d)
  }
  // 2. In chunks.
  pass_result chunked;
  {
    splitter split{mode, param, len};
    alloc_scope scope;
    chunked = run_pass(data, len, max, &split, ref, expect_original);
    CHECK(alloc_largest <= alloc_limit); // (d)
  }
  // (a)
  CHECK(whole.delivered == chunked.delivered);
  CHECK(whole.heartbeats == chunked.heartbeats);
  CHECK(whole.err == chunked.err);
  // (e) Re-encode every delivered payload: each frame equals the original
  // wire bytes, and the whole decodes back to the same payloads.
  CHECK(delivered.size() == ref.num_frames);
  reencoded.clear();
  for (size_t i = 0; i < ref.num_frames; ++i) {
    auto& f = ref.frames[i];
    auto frame = wire::encode_frame(delivered[i]);
    CHECK(frame.size() == wire::header_size + f.size);
    CHECK(std::memcmp(frame.data(), data + f.offset - wire::header_size,
                      frame.size())
          == 0);
    reencoded.insert(reencoded.end(), frame.begin(), frame.end());
  }
  ref2.parse(reencoded.data(), reencoded.size(), max);
  CHECK(ref2.err == ecode::none);
  CHECK(ref2.num_frames == ref.num_frames);
  CHECK(ref2.heartbeats == 0);
  CHECK(ref2.tail == 0);
  splitter split2{mode, static_cast<uint16_t>(param ^ 0x5a5a),
                  reencoded.size()};
  pass_result again;
  {
    alloc_scope scope;
    // Compared with the original payloads again.
    again = run_pass(reencoded.data(), reencoded.size(), max, &split2, ref2,
                     expect_original);
    CHECK(alloc_largest <= alloc_limit); // (d)
  }
  CHECK(again.delivered == ref.num_frames);
  CHECK(again.heartbeats == 0);
  CHECK(again.err == ecode::none);
  return 0;
}
