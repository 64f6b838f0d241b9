#pragma once

// A link without a socket, for deterministic actor tests: records what the
// actors ask of it and lets the test inject what a peer would do. It talks
// to its upper exactly as stream_transport does: payloads go through the
// production upper (subscriber_delivery), which sends them to the
// subscribers, holds them back or stops reading; writes and the end are
// reported through it too. Time comes from the test's virtual clock.

#include <string>
#include <vector>

#include <caf/actor_clock.hpp>

#include "transport.hpp"

namespace netasync::test {

class fake_transport : public transport {
public:
  explicit fake_transport(caf::actor_clock* clock = nullptr) : clock(clock) {
    // nop
  }

  // -- transport --------------------------------------------------------------

  void start(link_upper_ptr up, caf::timespan heartbeat_period) override {
    up_ = std::move(up);
    ++starts;
    keep_alive_period = heartbeat_period;
    last_read = now();
    if (closed) { // closed before it started: the end is reported now
      end();
      return;
    }
    // Like the real link, writes queued before start complete after it.
    if (auto_complete)
      complete_writes();
  }

  void write(std::vector<shared_bytes> payloads) override {
    if (closed)
      return;
    for (auto& p : payloads) {
      written.emplace_back(p->begin(), p->end());
      log.emplace_back("data:" + written.back());
    }
    if (auto_complete && up_)
      complete_writes();
  }

  /// As the real link: offers what the upper left, then reads on. A resume
  /// asked for from inside the upper (the credit) waits until it returns,
  /// as the real link's posted resume does.
  void resume_reading() override {
    if (closed)
      return;
    if (in_upper_) {
      resume_asked_ = true;
      return;
    }
    if (!paused) { // held for want of a subscriber: offered at once
      offer();
      return;
    }
    last_read = now();
    if (decoder.in_frame)
      frame_started = now();
    paused = false;
    offer();
  }

  void close(close_mode mode, caf::error reason) override {
    if (closed || close_deferred)
      return;
    if (defer_close) { // the real link ends later, on its strand
      close_deferred = true;
      deferred_mode_ = mode;
      reason_ = std::move(reason);
      return;
    }
    closed = true;
    closed_gracefully = mode == close_mode::graceful;
    if (closed_gracefully)
      complete_writes();
    reason_ = std::move(reason);
    if (up_)
      end();
  }

  liveness_info liveness() const override {
    liveness_info r;
    r.last_received = last_read;
    r.in_frame = decoder.in_frame;
    r.frame_started = frame_started;
    r.held_back = paused;
    return r;
  }

  std::string peer() const override {
    return "fake";
  }

  // -- what a peer or the kernel does ----------------------------------------

  /// A read completed these payloads (none: only heartbeats, or a part of
  /// a frame, as `decoder` says). While the link does not read, the bytes
  /// wait (in the kernel, for the real link) and come with the resume.
  void receive(std::vector<std::string> payloads = {}) {
    if (closed)
      return;
    if (paused) {
      for (auto& p : payloads)
        received_.emplace_back(p.begin(), p.end());
      return;
    }
    auto t = now();
    last_read = t;
    // As the real decoder: a frame left incomplete counts from this read if
    // it is new (none before, or frames completed since).
    if (decoder.in_frame
        && (!was_in_frame_ || decoder.completed != frame_no_))
      frame_started = t;
    was_in_frame_ = decoder.in_frame;
    frame_no_ = decoder.completed;
    for (auto& p : payloads)
      received_.emplace_back(p.begin(), p.end());
    offer();
  }

  /// A read of whole heartbeats at `t` (no clock needed).
  void receive_heartbeats_at(caf::actor_clock::time_point t) {
    last_read = t;
  }

  /// All written payload frames reached the kernel.
  void complete_writes() {
    auto n = written.size() - completed;
    if (n == 0 || !up_)
      return;
    completed = written.size();
    up_->on_sent(static_cast<uint64_t>(n));
  }

  /// Ends a close that defer_close held back.
  void end_deferred_close() {
    close_deferred = false;
    defer_close = false;
    close(deferred_mode_, reason_);
  }

  /// The peer went away (EOF, reset, I/O error).
  void fail(caf::error reason) {
    close(close_mode::abortive, std::move(reason));
  }

  // -- observed state ---------------------------------------------------------

  caf::actor_clock* clock;
  size_t starts = 0;
  /// True while the upper holds reading back.
  bool paused = false;
  bool closed = false;
  bool closed_gracefully = false;
  bool auto_complete = true;
  /// When set, close() is only noted (close_deferred) until
  /// end_deferred_close(): the gap between asking for a close and the end
  /// report, in which the real link may still deliver.
  bool defer_close = false;
  bool close_deferred = false;
  /// What the supervisor asked for (the heartbeat timer itself is the real
  /// link's; loopback_test checks the heartbeats on the wire).
  caf::timespan keep_alive_period{0};
  /// Reads whose payloads went to the upper.
  size_t upper_deliveries = 0;
  caf::actor_clock::time_point last_read{};
  caf::actor_clock::time_point frame_started{};
  /// What the "decoder" reports; tests set it.
  struct progress {
    uint64_t completed = 0;
    bool in_frame = false;
  } decoder;
  uint64_t completed = 0;
  std::vector<std::string> written;
  std::vector<std::string> log;

private:
  caf::actor_clock::time_point now() const {
    return clock ? clock->now() : last_read;
  }

  void offer() {
    if (received_.empty() || !up_)
      return;
    ++upper_deliveries;
    in_upper_ = true;
    auto more = up_->on_payloads(received_);
    in_upper_ = false;
    paused = !more;
    if (resume_asked_) {
      resume_asked_ = false;
      resume_reading();
    }
  }

  void end() {
    auto up = std::move(up_);
    up->on_ended(completed, reason_);
  }

  link_upper_ptr up_;
  std::vector<bytes> received_;
  bool in_upper_ = false;
  bool resume_asked_ = false;
  bool was_in_frame_ = false;
  close_mode deferred_mode_ = close_mode::abortive;
  uint64_t frame_no_ = 0;
  caf::error reason_;
};

} // namespace netasync::test
