#pragma once

// A transport without a socket, for deterministic actor tests: records what
// the actors ask of it and lets the test inject what a peer would do. It
// receives as the real transport does: through the worker's receive sink
// while one is installed (the path production takes), held for the worker
// otherwise.

#include <string>
#include <vector>

#include <caf/send.hpp>

#include "transport.hpp"

namespace netasync::test {

class fake_transport : public transport {
public:
  // -- transport --------------------------------------------------------------

  void start(sinks to) override {
    to_ = to;
    started = true;
    // Like the real transport, writes queued before start complete after it
    // (the supervisor may write before the worker has started the link).
    if (auto_complete)
      complete_writes();
  }

  void rebind(caf::actor worker) override {
    ++rebinds;
    sink_.reset(); // the new worker decides afresh
    to_.worker = worker;
    if (!pending_.empty())
      caf::anon_send(worker, transport_rx_atom::value);
    if (closed)
      caf::anon_send(worker, transport_down_atom::value, down_reason_);
  }

  void take_received(
    const std::function<void(std::vector<bytes>&)>& deliver) override {
    std::vector<bytes> result;
    result.swap(pending_);
    pending_bytes_ = 0;
    deliver(result);
  }

  size_t received_pending_bytes() const override {
    return pending_bytes_;
  }

  receive_progress progress() const override {
    return decoder;
  }

  caf::actor_clock::time_point last_received() const override {
    return last_read;
  }

  uint64_t submitted() const override {
    return submitted_;
  }

  void write(std::vector<shared_bytes> payloads) override {
    submitted_ += payloads.size();
    if (closed)
      return;
    for (auto& p : payloads) {
      written.emplace_back(p->begin(), p->end());
      log.emplace_back("data:" + written.back());
    }
    if (auto_complete && started)
      complete_writes();
  }

  void keep_alive(caf::timespan period) override {
    keep_alive_period = period;
    ++keep_alive_calls;
  }

  /// As the real transport: refused while payloads wait (they must reach
  /// the subscribers first, through the worker).
  void deliver_directly(receive_sink_ptr sink) override {
    direct = sink != nullptr;
    ++direct_calls;
    if (closed || !sink) {
      sink_.reset();
      return;
    }
    if (pending_bytes_ > 0) {
      sink_.reset();
      caf::anon_send(to_.worker, transport_direct_off_atom::value);
      return;
    }
    sink_ = std::move(sink);
  }

  void pause_reading() override {
    paused = true;
  }

  void resume_reading() override {
    paused = false;
  }

  void close(close_mode mode, caf::error reason) override {
    if (closed)
      return;
    closed = true;
    sink_.reset();
    closed_gracefully = mode == close_mode::graceful;
    if (closed_gracefully)
      complete_writes();
    down_reason_ = reason;
    caf::anon_send(to_.worker, transport_down_atom::value, reason);
    caf::anon_send(to_.supervisor, transport_closed_atom::value, to_.link,
                   completed, std::move(reason));
  }

  std::string peer() const override {
    return "fake";
  }

  // -- what a peer or the kernel does ----------------------------------------

  /// Bytes arrived that completed these payloads (none: a heartbeat).
  void receive(std::vector<std::string> payloads = {}) {
    if (sink_ && !payloads.empty()) {
      std::vector<bytes> ps;
      for (auto& p : payloads)
        ps.emplace_back(p.begin(), p.end());
      ++sink_deliveries;
      if (!sink_->deliver(ps)) { // a window behind: the worker takes over
        sink_.reset();
        caf::anon_send(to_.worker, transport_direct_off_atom::value);
      }
      // The real transport sends no event for whole payloads (it moves
      // last_received() instead); the fake has no clock, so it tells the
      // worker that bytes arrived, as for a heartbeat.
      caf::anon_send(to_.worker, transport_rx_atom::value);
      return;
    }
    for (auto& p : payloads) {
      pending_bytes_ += p.size();
      pending_.emplace_back(p.begin(), p.end());
    }
    caf::anon_send(to_.worker, transport_rx_atom::value);
  }

  /// A read of whole heartbeats at `now`: like the real transport, it sends
  /// the worker no event, only moves last_received().
  void receive_heartbeats_at(caf::actor_clock::time_point now) {
    last_read = now;
  }

  /// All written payload frames reached the kernel.
  void complete_writes() {
    auto n = written.size() - completed;
    if (n == 0)
      return;
    completed = written.size();
    caf::anon_send(to_.supervisor, transport_sent_atom::value, to_.link,
                   static_cast<uint64_t>(n));
  }

  /// The peer went away (EOF, reset, I/O error).
  void fail(caf::error reason) {
    close(close_mode::abortive, std::move(reason));
  }

  // -- observed state ---------------------------------------------------------

  bool started = false;
  bool paused = false;
  bool closed = false;
  bool closed_gracefully = false;
  bool auto_complete = true;
  /// What the worker asked for (the heartbeat timer itself is the real
  /// transport's; loopback_test checks the heartbeats on the wire).
  caf::timespan keep_alive_period{0};
  size_t keep_alive_calls = 0;
  size_t rebinds = 0;
  bool direct = false;
  size_t direct_calls = 0;
  /// Reads whose payloads went out through the sink.
  size_t sink_deliveries = 0;
  caf::actor_clock::time_point last_read{};
  /// What the "decoder" reports; tests set it.
  receive_progress decoder;
  uint64_t completed = 0;
  std::vector<std::string> written;
  std::vector<std::string> log;

private:
  sinks to_;
  receive_sink_ptr sink_;
  uint64_t submitted_ = 0;
  std::vector<bytes> pending_;
  size_t pending_bytes_ = 0;
  caf::error down_reason_;
};

} // namespace netasync::test
