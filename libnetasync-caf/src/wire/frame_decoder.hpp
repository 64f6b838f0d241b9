#pragma once

// Incremental frame decoder. Pure code: feed it bytes in any split or
// coalescing and it yields the same payloads. Heartbeats (length 0) are
// counted, never yielded. The max frame size is checked on the header, before
// anything of the claimed size is allocated; the body buffer grows with the
// bytes that actually arrive (by 4× steps, up to the announced size), so a
// lying header costs at most 4× what its sender really sent.

#include <algorithm>
#include <cstdint>
#include <utility>

#include <caf/error.hpp>

#include "netasync/bytes.hpp"
#include "netasync/error.hpp"
#include "wire/header.hpp"

namespace netasync::wire {

class frame_decoder {
public:
  explicit frame_decoder(uint32_t max_frame_size)
    : max_frame_size_(max_frame_size) {
    // nop
  }

  /// Consumes `size` bytes; calls `on_frame(bytes&&)` for each complete
  /// payload, in order. Returns the first protocol violation; after one the
  /// decoder stays failed and consumes nothing more.
  template <class OnFrame>
  caf::error consume(const char* data, size_t size, OnFrame&& on_frame) {
    if (failure_)
      return failure_;
    while (size > 0) {
      if (header_fill_ < header_size) {
        // Fast path: a whole frame in the input, copied once into its payload.
        if (header_fill_ == 0 && size >= header_size) {
          auto n = read_header(data);
          if (auto err = check_length(n))
            return err;
          if (n == 0) {
            ++heartbeats_;
            data += header_size;
            size -= header_size;
            continue;
          }
          if (size - header_size >= n) {
            on_frame(bytes(data + header_size, data + header_size + n));
            ++frames_;
            data += header_size + n;
            size -= header_size + n;
            continue;
          }
        }
        auto k = std::min(header_size - header_fill_, size);
        std::copy(data, data + k, header_buf_.begin() + header_fill_);
        header_fill_ += k;
        data += k;
        size -= k;
        if (header_fill_ < header_size)
          return caf::none;
        expected_ = read_header(header_buf_.data());
        if (auto err = check_length(expected_))
          return err;
        if (expected_ == 0) {
          ++heartbeats_;
          header_fill_ = 0;
          continue;
        }
        body_.clear();
        // Reserve what is plausible now; the rest grows as bytes arrive.
        body_.reserve(std::min<size_t>(expected_, initial_reserve));
      }
      auto k = std::min<size_t>(expected_ - body_.size(), size);
      if (body_.size() + k > body_.capacity()) {
        // 4× steps instead of the vector's 2×: a 1 MiB body is moved twice
        // (64 KiB, 256 KiB) instead of four times (960 KiB copied again).
        body_.reserve(std::min<size_t>(
          expected_, std::max(body_.size() + k,
                              growth_factor * body_.capacity())));
      }
      body_.insert(body_.end(), data, data + k);
      data += k;
      size -= k;
      if (body_.size() == expected_) {
        on_frame(std::move(body_));
        ++frames_;
        body_ = bytes{};
        header_fill_ = 0;
      }
    }
    return caf::none;
  }

  /// True when no partial frame is buffered.
  bool idle() const noexcept {
    return header_fill_ == 0;
  }

  /// Bytes of the partial frame buffered so far (header and body).
  size_t buffered() const noexcept {
    return header_fill_ + body_.size();
  }

  uint64_t frames() const noexcept {
    return frames_;
  }

  uint64_t heartbeats() const noexcept {
    return heartbeats_;
  }

  uint32_t max_frame_size() const noexcept {
    return max_frame_size_;
  }

  static constexpr size_t initial_reserve = 64 * 1024;
  static constexpr size_t growth_factor = 4;

private:
  caf::error check_length(uint32_t n) {
    if (n > max_wire_length)
      failure_ = make_error(error::invalid_frame_length,
                            "header announces " + std::to_string(n)
                              + " bytes (negative for a net.async peer)");
    else if (n > max_frame_size_)
      failure_ = make_error(error::frame_too_large,
                            "header announces " + std::to_string(n)
                              + " bytes, max frame size is "
                              + std::to_string(max_frame_size_));
    return failure_;
  }

  uint32_t max_frame_size_;
  header header_buf_{};
  size_t header_fill_ = 0;
  uint32_t expected_ = 0;
  bytes body_;
  caf::error failure_;
  uint64_t frames_ = 0;
  uint64_t heartbeats_ = 0;
};

} // namespace netasync::wire
