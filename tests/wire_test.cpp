// Specification of the wire codec (src/wire): 4-byte big-endian length
// prefix, length 0 = heartbeat, lengths >= 2^31 invalid, max frame size
// checked on the header before anything of the announced size is allocated.
// Pure code: no sockets, no actors.

#define BOOST_TEST_MODULE wire
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <ostream>
#include <string>
#include <vector>

#include "netasync/bytes.hpp"
#include "netasync/error.hpp"
#include "wire/frame_decoder.hpp"
#include "wire/frame_encoder.hpp"
#include "wire/header.hpp"

// -- allocation probe ---------------------------------------------------------
//
// Records the largest single heap allocation made while a probe is active, so
// that "rejected before allocating" and "a lying header costs no memory" are
// observable, not just promised by a comment.

namespace {

std::atomic<bool> probe_active{false};
std::atomic<size_t> probe_largest{0};

void* counted_alloc(size_t n) {
  if (probe_active.load(std::memory_order_relaxed)) {
    auto prev = probe_largest.load(std::memory_order_relaxed);
    while (n > prev
           && !probe_largest.compare_exchange_weak(prev, n,
                                                   std::memory_order_relaxed)) {
      // retry
    }
  }
  if (auto p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc{};
}

/// While alive, tracks the largest allocation.
struct allocation_probe {
  allocation_probe() {
    probe_largest = 0;
    probe_active = true;
  }
  ~allocation_probe() {
    probe_active = false;
  }
  size_t largest() const {
    return probe_largest.load();
  }
};

} // namespace

void* operator new(size_t n) {
  return counted_alloc(n);
}

void* operator new[](size_t n) {
  return counted_alloc(n);
}

void operator delete(void* p) noexcept {
  std::free(p);
}

void operator delete[](void* p) noexcept {
  std::free(p);
}

void operator delete(void* p, size_t) noexcept {
  std::free(p);
}

void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}

// -- printing for Boost.Test ----------------------------------------------------

namespace netasync {

std::ostream& operator<<(std::ostream& out, error x) {
  return out << "netasync::error::" << to_string(x);
}

} // namespace netasync

// -- helpers --------------------------------------------------------------------

namespace {

using netasync::bytes;
using netasync::code_of;
using netasync::error;
namespace wire = netasync::wire;

constexpr uint32_t default_max = 64u * 1024 * 1024; // 64 MiB

bytes from_hex(const std::string& hex) {
  bytes out;
  std::string digits;
  for (auto c : hex)
    if (c != ' ')
      digits += c;
  BOOST_REQUIRE(digits.size() % 2 == 0);
  for (size_t i = 0; i < digits.size(); i += 2)
    out.push_back(static_cast<char>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  return out;
}

std::string to_hex(const bytes& xs) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto c : xs) {
    auto b = static_cast<unsigned char>(c);
    if (!out.empty())
      out += ' ';
    out += digits[b >> 4];
    out += digits[b & 0x0f];
  }
  return out;
}

bytes str(const std::string& s) {
  return bytes(s.begin(), s.end());
}

/// A payload of `n` bytes whose content depends on its position and `seed`,
/// so that shifted, truncated or swapped payloads never compare equal.
bytes pattern(size_t n, unsigned seed = 0) {
  bytes out(n);
  for (size_t i = 0; i < n; ++i)
    out[i] = static_cast<char>((i * 131 + (i >> 8) * 7 + seed * 17 + 1) & 0xff);
  return out;
}

bytes concat(std::initializer_list<bytes> parts) {
  bytes out;
  for (auto& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

bytes heartbeat_bytes() {
  auto h = wire::heartbeat();
  return bytes(h.begin(), h.end());
}

/// Decoder plus everything it delivered.
struct sink {
  explicit sink(uint32_t max = default_max) : dec(max) {
    // nop
  }

  caf::error feed(const char* data, size_t size) {
    return dec.consume(data, size,
                       [this](bytes&& payload) { out.push_back(std::move(payload)); });
  }

  caf::error feed(const bytes& xs) {
    return feed(xs.data(), xs.size());
  }

  wire::frame_decoder dec;
  std::vector<bytes> out;
};

/// Checks that `got` equals `want`, payload by payload, without printing
/// megabytes on failure.
void check_payloads(const std::vector<bytes>& got, const std::vector<bytes>& want,
                    const std::string& context) {
  BOOST_TEST_CONTEXT(context) {
    BOOST_TEST(got.size() == want.size());
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      BOOST_TEST_CONTEXT("payload #" << i) {
        BOOST_TEST(got[i].size() == want[i].size());
        BOOST_TEST((got[i] == want[i]));
      }
    }
  }
}

/// Several frames with heartbeats between, before and after them.
struct multi_frame_stream {
  std::vector<bytes> payloads{
    str("a"),
    pattern(300, 1),
    str("hello"),
    pattern(1, 2),
    pattern(17, 3),
  };
  bytes wire_bytes = concat({
    heartbeat_bytes(),
    wire::encode_frame(payloads[0]),
    heartbeat_bytes(),
    wire::encode_frame(payloads[1]),
    heartbeat_bytes(),
    heartbeat_bytes(),
    wire::encode_frame(payloads[2]),
    wire::encode_frame(payloads[3]),
    heartbeat_bytes(),
    wire::encode_frame(payloads[4]),
    heartbeat_bytes(),
  });
  static constexpr uint64_t heartbeats = 6;
};

/// Feeds `stream` split at the given offsets (ascending) and checks the
/// outcome is the same as for unsplit input.
void check_split(const multi_frame_stream& stream, const std::vector<size_t>& cuts) {
  sink s;
  size_t pos = 0;
  std::string ctx = "cuts at";
  for (auto c : cuts)
    ctx += ' ' + std::to_string(c);
  auto& in = stream.wire_bytes;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    auto end = i < cuts.size() ? cuts[i] : in.size();
    auto err = s.feed(in.data() + pos, end - pos);
    if (err) {
      BOOST_ERROR(ctx << ": unexpected error " << netasync::describe(err));
      return;
    }
    pos = end;
  }
  check_payloads(s.out, stream.payloads, ctx);
  BOOST_TEST_CONTEXT(ctx) {
    BOOST_TEST(s.dec.frames() == stream.payloads.size());
    BOOST_TEST(s.dec.heartbeats() == multi_frame_stream::heartbeats);
    BOOST_TEST(s.dec.idle());
    BOOST_TEST(s.dec.buffered() == 0u);
  }
}

} // namespace

// -- header -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(header)

BOOST_AUTO_TEST_CASE(length_is_four_bytes_big_endian) {
  auto h = wire::make_header(0x01020304u);
  BOOST_TEST(to_hex(bytes(h.begin(), h.end())) == "01 02 03 04");
  BOOST_TEST(wire::read_header(h.data()) == 0x01020304u);
}

BOOST_AUTO_TEST_CASE(read_header_treats_bytes_as_unsigned) {
  auto in = from_hex("ff fe 80 81");
  BOOST_TEST(wire::read_header(in.data()) == 0xfffe8081u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- test vectors of shared/protocol/README.md ----------------------------------

BOOST_AUTO_TEST_SUITE(test_vectors)

BOOST_AUTO_TEST_CASE(five_byte_message_encodes_to_nine_bytes) {
  auto frame = wire::encode_frame(from_hex("30 3a e1 5f 36"));
  BOOST_TEST(to_hex(frame) == "00 00 00 05 30 3a e1 5f 36");
}

BOOST_AUTO_TEST_CASE(hello_encodes_with_length_prefix_five) {
  auto frame = wire::encode_frame(str("hello"));
  BOOST_TEST(to_hex(frame) == "00 00 00 05 68 65 6c 6c 6f");
}

BOOST_AUTO_TEST_CASE(heartbeat_is_four_zero_bytes) {
  BOOST_TEST(to_hex(heartbeat_bytes()) == "00 00 00 00");
  BOOST_TEST(to_hex(wire::encode_frame(bytes{})) == "00 00 00 00");
}

BOOST_AUTO_TEST_CASE(one_mib_message_has_header_00_10_00_00) {
  auto frame = wire::encode_frame(pattern(1024 * 1024));
  BOOST_REQUIRE(frame.size() == 4u + 1048576u);
  BOOST_TEST(to_hex(bytes(frame.begin(), frame.begin() + 4)) == "00 10 00 00");
}

BOOST_AUTO_TEST_CASE(five_byte_vector_decodes_to_the_message) {
  sink s;
  BOOST_TEST(!s.feed(from_hex("00 00 00 05 30 3a e1 5f 36")));
  BOOST_REQUIRE(s.out.size() == 1u);
  BOOST_TEST(to_hex(s.out[0]) == "30 3a e1 5f 36");
}

BOOST_AUTO_TEST_CASE(hello_vector_decodes_to_hello) {
  sink s;
  BOOST_TEST(!s.feed(from_hex("00 00 00 05 68 65 6c 6c 6f")));
  BOOST_REQUIRE(s.out.size() == 1u);
  BOOST_TEST((s.out[0] == str("hello")));
}

BOOST_AUTO_TEST_CASE(heartbeat_vector_is_counted_not_delivered) {
  sink s;
  BOOST_TEST(!s.feed(from_hex("00 00 00 00")));
  BOOST_TEST(s.out.empty());
  BOOST_TEST(s.dec.heartbeats() == 1u);
  BOOST_TEST(s.dec.frames() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- splitting ------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(splitting)

BOOST_AUTO_TEST_CASE(unsplit_multi_frame_input_decodes_all_payloads_in_order) {
  multi_frame_stream stream;
  check_split(stream, {});
}

BOOST_AUTO_TEST_CASE(two_pieces_split_at_every_offset_decode_the_same_payloads) {
  multi_frame_stream stream;
  for (size_t i = 0; i <= stream.wire_bytes.size(); ++i)
    check_split(stream, {i});
}

BOOST_AUTO_TEST_CASE(one_byte_at_a_time_decodes_the_same_payloads) {
  multi_frame_stream stream;
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.wire_bytes.size(); ++i)
    cuts.push_back(i);
  check_split(stream, cuts);
}

BOOST_AUTO_TEST_CASE(three_pieces_split_at_any_two_offsets_decode_the_same_payloads) {
  multi_frame_stream stream;
  auto n = stream.wire_bytes.size();
  // Every pair of offsets (i <= j; i == j also yields an empty middle piece).
  for (size_t i = 0; i <= n; ++i)
    for (size_t j = i; j <= n; ++j)
      check_split(stream, {i, j});
}

BOOST_AUTO_TEST_CASE(empty_input_changes_nothing) {
  sink s;
  auto frame = wire::encode_frame(str("hello"));
  BOOST_TEST(!s.feed(frame.data(), 0));
  BOOST_TEST(!s.feed(frame.data(), 2));
  BOOST_TEST(!s.feed(frame.data() + 2, 0));
  BOOST_TEST(s.dec.buffered() == 2u);
  BOOST_TEST(!s.feed(frame.data() + 2, frame.size() - 2));
  BOOST_REQUIRE(s.out.size() == 1u);
  BOOST_TEST((s.out[0] == str("hello")));
}

BOOST_AUTO_TEST_CASE(partial_frame_is_buffered_until_complete) {
  sink s;
  auto frame = wire::encode_frame(pattern(100));
  BOOST_TEST(!s.feed(frame.data(), 3));
  BOOST_TEST(s.dec.buffered() == 3u);
  BOOST_TEST(!s.dec.idle());
  BOOST_TEST(!s.feed(frame.data() + 3, 50));
  BOOST_TEST(s.dec.buffered() == 53u);
  BOOST_TEST(s.out.empty());
  BOOST_TEST(!s.feed(frame.data() + 53, frame.size() - 53));
  BOOST_TEST(s.out.size() == 1u);
  BOOST_TEST(s.dec.buffered() == 0u);
  BOOST_TEST(s.dec.idle());
}

BOOST_AUTO_TEST_SUITE_END()

// -- heartbeats -------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(heartbeats)

BOOST_AUTO_TEST_CASE(heartbeats_are_counted_never_delivered) {
  sink s;
  auto in = concat({heartbeat_bytes(), heartbeat_bytes(), heartbeat_bytes()});
  BOOST_TEST(!s.feed(in));
  BOOST_TEST(s.out.empty());
  BOOST_TEST(s.dec.heartbeats() == 3u);
  BOOST_TEST(s.dec.frames() == 0u);
  BOOST_TEST(s.dec.idle());
}

BOOST_AUTO_TEST_CASE(heartbeat_split_byte_by_byte_is_counted_never_delivered) {
  sink s;
  auto in = concat({heartbeat_bytes(), wire::encode_frame(str("x")), heartbeat_bytes()});
  for (auto& c : in)
    BOOST_TEST(!s.feed(&c, 1));
  BOOST_REQUIRE(s.out.size() == 1u);
  BOOST_TEST((s.out[0] == str("x")));
  BOOST_TEST(s.dec.heartbeats() == 2u);
  BOOST_TEST(s.dec.frames() == 1u);
}

BOOST_AUTO_TEST_CASE(heartbeats_between_frames_do_not_alter_payloads) {
  sink s;
  auto in = concat({wire::encode_frame(str("ab")), heartbeat_bytes(),
                    wire::encode_frame(str("cd"))});
  BOOST_TEST(!s.feed(in));
  check_payloads(s.out, {str("ab"), str("cd")}, "ab, heartbeat, cd");
  BOOST_TEST(s.dec.heartbeats() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- round trips --------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(round_trip)

BOOST_AUTO_TEST_CASE(empty_payload_encodes_to_a_heartbeat_that_decodes_to_nothing) {
  auto frame = wire::encode_frame(bytes{});
  BOOST_TEST(to_hex(frame) == "00 00 00 00");
  sink s;
  BOOST_TEST(!s.feed(frame));
  BOOST_TEST(s.out.empty());
  BOOST_TEST(s.dec.heartbeats() == 1u);
}

BOOST_AUTO_TEST_CASE(payloads_of_boundary_sizes_round_trip_byte_for_byte) {
  const std::vector<size_t> sizes{1, 255, 256, 65535, 65536, 65537, 1024 * 1024};
  unsigned seed = 0;
  for (auto n : sizes) {
    BOOST_TEST_CONTEXT("payload size " << n) {
      auto payload = pattern(n, ++seed);
      auto frame = wire::encode_frame(payload);
      BOOST_REQUIRE(frame.size() == wire::header_size + n);
      BOOST_TEST(wire::read_header(frame.data()) == n);
      BOOST_TEST((bytes(frame.begin() + 4, frame.end()) == payload));
      // Whole.
      sink whole;
      BOOST_TEST(!whole.feed(frame));
      check_payloads(whole.out, {payload}, "whole");
      // In odd-sized chunks, so that header and body are split.
      sink chunked;
      for (size_t pos = 0; pos < frame.size(); pos += 4093)
        BOOST_TEST(!chunked.feed(frame.data() + pos,
                                 std::min<size_t>(4093, frame.size() - pos)));
      check_payloads(chunked.out, {payload}, "chunked");
      BOOST_TEST(chunked.dec.idle());
    }
  }
}

BOOST_AUTO_TEST_CASE(append_frame_appends_after_existing_bytes) {
  bytes out = str("xy");
  auto payload = str("hello");
  wire::append_frame(out, payload.data(), payload.size());
  wire::append_frame(out, nullptr, 0);
  BOOST_TEST(to_hex(out) == "78 79 00 00 00 05 68 65 6c 6c 6f 00 00 00 00");
}

BOOST_AUTO_TEST_SUITE_END()

// -- max frame size ---------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(max_frame_size)

BOOST_AUTO_TEST_CASE(frame_of_exactly_max_size_is_accepted) {
  sink s(1000);
  auto payload = pattern(1000);
  BOOST_TEST(!s.feed(wire::encode_frame(payload)));
  check_payloads(s.out, {payload}, "max size frame");
}

BOOST_AUTO_TEST_CASE(frame_of_exactly_max_size_split_is_accepted) {
  sink s(1000);
  auto payload = pattern(1000);
  auto frame = wire::encode_frame(payload);
  BOOST_TEST(!s.feed(frame.data(), 2));
  BOOST_TEST(!s.feed(frame.data() + 2, frame.size() - 2));
  check_payloads(s.out, {payload}, "max size frame, split header");
}

BOOST_AUTO_TEST_CASE(frame_one_over_max_size_is_rejected_as_frame_too_large) {
  sink s(1000);
  auto err = s.feed(wire::encode_frame(pattern(1001)));
  BOOST_TEST(code_of(err) == error::frame_too_large);
  BOOST_TEST(s.out.empty());
  BOOST_TEST(s.dec.frames() == 0u);
}

BOOST_AUTO_TEST_CASE(header_one_over_max_size_split_is_rejected_as_frame_too_large) {
  sink s(1000);
  auto in = wire::make_header(1001);
  BOOST_TEST(!s.feed(in.data(), 1));
  BOOST_TEST(!s.feed(in.data() + 1, 2));
  auto err = s.feed(in.data() + 3, 1);
  BOOST_TEST(code_of(err) == error::frame_too_large);
}

BOOST_AUTO_TEST_CASE(header_7fffffff_is_rejected_before_allocating) {
  sink s(default_max);
  auto in = from_hex("7f ff ff ff");
  caf::error err;
  size_t largest;
  {
    allocation_probe probe;
    err = s.dec.consume(in.data(), in.size(), [](bytes&&) {});
    largest = probe.largest();
  }
  BOOST_TEST(code_of(err) == error::frame_too_large);
  BOOST_TEST(s.dec.buffered() <= wire::header_size);
  // Only the error (message with a context string) may allocate.
  BOOST_TEST(largest < 4096u);
}

BOOST_AUTO_TEST_CASE(header_7fffffff_fed_byte_by_byte_is_rejected_before_allocating) {
  sink s(default_max);
  auto in = from_hex("7f ff ff ff");
  caf::error err;
  size_t largest;
  {
    allocation_probe probe;
    for (auto& c : in) {
      err = s.dec.consume(&c, 1, [](bytes&&) {});
      if (err)
        break;
    }
    largest = probe.largest();
  }
  BOOST_TEST(code_of(err) == error::frame_too_large);
  BOOST_TEST(s.dec.buffered() <= wire::header_size);
  BOOST_TEST(largest < 4096u);
}

BOOST_AUTO_TEST_CASE(lying_header_under_max_costs_only_the_bytes_that_arrived) {
  // Announces 60 MiB (max 64 MiB), then sends only 10 bytes.
  sink s(default_max);
  auto in = concat({from_hex("03 c0 00 00"), pattern(10)});
  BOOST_REQUIRE(wire::read_header(in.data()) == 60u * 1024 * 1024);
  caf::error err;
  size_t largest;
  {
    allocation_probe probe;
    err = s.dec.consume(in.data(), in.size(), [](bytes&&) {});
    largest = probe.largest();
  }
  BOOST_TEST(!err);
  BOOST_TEST(s.dec.buffered() == 14u);
  BOOST_TEST(!s.dec.idle());
  BOOST_TEST(s.out.empty());
  // The body buffer did not jump to 60 MiB.
  BOOST_TEST(largest <= wire::frame_decoder::initial_reserve);
}

BOOST_AUTO_TEST_CASE(lying_header_costs_at_most_the_growth_factor_times_what_arrived) {
  // Announces 60 MiB, then sends 200 KiB of it: the body buffer reaches one
  // 4× step beyond what arrived, never the announced size.
  sink s(default_max);
  auto in = concat({from_hex("03 c0 00 00"), pattern(200 * 1024)});
  size_t largest;
  {
    allocation_probe probe;
    BOOST_CHECK(!s.dec.consume(in.data(), in.size(), [](bytes&&) {}));
    largest = probe.largest();
  }
  BOOST_TEST(s.dec.buffered() == wire::header_size + 200 * 1024);
  BOOST_TEST(largest <= wire::frame_decoder::growth_factor * 200 * 1024);
  BOOST_TEST(largest < 60u * 1024 * 1024);
}

BOOST_AUTO_TEST_CASE(large_frame_is_decoded_whole_across_many_reads) {
  sink s(default_max);
  auto body = pattern(1024 * 1024 + 7);
  auto h = wire::make_header(static_cast<uint32_t>(body.size()));
  auto in = concat({bytes(h.begin(), h.end()), body});
  for (size_t i = 0; i < in.size(); i += 16 * 1024)
    BOOST_REQUIRE(!s.feed(in.data() + i,
                          std::min<size_t>(16 * 1024, in.size() - i)));
  BOOST_REQUIRE_EQUAL(s.out.size(), 1u);
  BOOST_TEST(s.out[0] == body);
}

BOOST_AUTO_TEST_CASE(lying_header_split_costs_only_the_bytes_that_arrived) {
  sink s(default_max);
  auto in = concat({from_hex("03 c0 00 00"), pattern(10)});
  size_t largest;
  {
    allocation_probe probe;
    for (auto& c : in)
      BOOST_CHECK(!s.dec.consume(&c, 1, [](bytes&&) {}));
    largest = probe.largest();
  }
  BOOST_TEST(s.dec.buffered() == 14u);
  BOOST_TEST(largest <= wire::frame_decoder::initial_reserve);
}

BOOST_AUTO_TEST_SUITE_END()

// -- invalid lengths ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(invalid_length)

BOOST_AUTO_TEST_CASE(header_80000000_is_rejected_as_invalid_frame_length) {
  // Even when the max frame size would let it through.
  for (uint32_t max : {default_max, wire::max_wire_length, 0xffffffffu}) {
    BOOST_TEST_CONTEXT("max frame size " << max) {
      sink s(max);
      auto err = s.feed(from_hex("80 00 00 00"));
      BOOST_TEST(code_of(err) == error::invalid_frame_length);
      BOOST_TEST(s.out.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(header_ffffffff_is_rejected_as_invalid_frame_length) {
  for (uint32_t max : {default_max, wire::max_wire_length, 0xffffffffu}) {
    BOOST_TEST_CONTEXT("max frame size " << max) {
      sink s(max);
      auto err = s.feed(from_hex("ff ff ff ff"));
      BOOST_TEST(code_of(err) == error::invalid_frame_length);
      BOOST_TEST(s.out.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(negative_header_split_is_rejected_as_invalid_frame_length) {
  sink s(wire::max_wire_length);
  auto in = from_hex("80 00 00 00");
  BOOST_TEST(!s.feed(in.data(), 3));
  auto err = s.feed(in.data() + 3, 1);
  BOOST_TEST(code_of(err) == error::invalid_frame_length);
}

BOOST_AUTO_TEST_CASE(header_7fffffff_passes_length_check_when_max_allows) {
  // 2^31 - 1 is a valid wire length; only the max frame size refuses it.
  sink s(wire::max_wire_length);
  BOOST_TEST(!s.feed(from_hex("7f ff ff ff 01 02")));
  BOOST_TEST(s.dec.buffered() == 6u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- after a violation ----------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(violation)

BOOST_AUTO_TEST_CASE(decoder_stays_failed_after_a_violation) {
  sink s(1000);
  auto first = s.feed(from_hex("80 00 00 00"));
  BOOST_REQUIRE(code_of(first) == error::invalid_frame_length);
  auto frames_before = s.dec.frames();
  auto heartbeats_before = s.dec.heartbeats();
  // Valid input afterwards is not consumed; the first error is repeated.
  auto again = s.feed(concat({wire::encode_frame(str("hello")), heartbeat_bytes()}));
  BOOST_TEST(code_of(again) == error::invalid_frame_length);
  BOOST_TEST(s.out.empty());
  BOOST_TEST(s.dec.frames() == frames_before);
  BOOST_TEST(s.dec.heartbeats() == heartbeats_before);
  // Even an empty feed reports the failure.
  BOOST_TEST(code_of(s.feed(nullptr, 0)) == error::invalid_frame_length);
}

BOOST_AUTO_TEST_CASE(decoder_stays_failed_after_frame_too_large) {
  sink s(10);
  BOOST_REQUIRE(code_of(s.feed(wire::make_header(11).data(), 4))
                == error::frame_too_large);
  BOOST_TEST(code_of(s.feed(wire::encode_frame(str("ok")))) == error::frame_too_large);
  BOOST_TEST(s.out.empty());
}

BOOST_AUTO_TEST_CASE(frames_before_a_violation_in_the_same_input_are_delivered) {
  sink s(1000);
  auto in = concat({wire::encode_frame(str("hello")), heartbeat_bytes(),
                    wire::encode_frame(str("world")), from_hex("ff ff ff ff"),
                    wire::encode_frame(str("never"))});
  auto err = s.feed(in);
  BOOST_TEST(code_of(err) == error::invalid_frame_length);
  check_payloads(s.out, {str("hello"), str("world")}, "before violation");
  BOOST_TEST(s.dec.heartbeats() == 1u);
}

BOOST_AUTO_TEST_CASE(frames_before_an_oversize_header_fed_byte_by_byte_are_delivered) {
  sink s(100);
  auto in = concat({wire::encode_frame(str("hello")), heartbeat_bytes(),
                    wire::encode_frame(pattern(100)), from_hex("00 00 00 65"),
                    wire::encode_frame(str("never"))});
  caf::error err;
  for (auto& c : in) {
    err = s.feed(&c, 1);
    if (err)
      break;
  }
  BOOST_TEST(code_of(err) == error::frame_too_large);
  check_payloads(s.out, {str("hello"), pattern(100)}, "before violation");
}

BOOST_AUTO_TEST_SUITE_END()

// -- check_payload ----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(check_payload)

BOOST_AUTO_TEST_CASE(empty_payload_is_rejected_as_empty_payload) {
  BOOST_TEST(code_of(wire::check_payload(0, 1000)) == error::empty_payload);
}

BOOST_AUTO_TEST_CASE(payload_of_max_size_is_accepted) {
  BOOST_TEST(!wire::check_payload(1, 1000));
  BOOST_TEST(!wire::check_payload(1000, 1000));
}

BOOST_AUTO_TEST_CASE(payload_over_max_size_is_rejected_as_frame_too_large) {
  BOOST_TEST(code_of(wire::check_payload(1001, 1000)) == error::frame_too_large);
  BOOST_TEST(code_of(wire::check_payload(size_t{1} << 40, 1000))
             == error::frame_too_large);
}

BOOST_AUTO_TEST_CASE(payload_over_wire_limit_is_rejected_even_with_larger_max) {
  BOOST_TEST(code_of(wire::check_payload(size_t{wire::max_wire_length} + 1, 0xffffffffu))
             == error::frame_too_large);
  BOOST_TEST(!wire::check_payload(wire::max_wire_length, 0xffffffffu));
}

BOOST_AUTO_TEST_SUITE_END()
