#pragma once

// The state machine every link shares, written once: start, the write queue
// and the count of payloads written completely, demand (the upper's
// "enough", resume_reading), the close modes, the end report held back for
// payloads no subscriber took yet, the heartbeat timer, the liveness
// inputs and (watch_liveness, a server's link) the liveness verdict on that
// same timer. What differs per kind of link is only how messages meet bytes:
// a driver, a subclass, reads and decodes (a length prefix over a byte
// stream: stream_transport; WebSocket messages through Beast:
// ws_transport), writes what is queued, sends a heartbeat and performs its
// stream's orderly close. A new kind of link is a driver, not a copy.
//
// Threads: the transport functions post to the link's strand and return at
// once; everything else, the hooks included, runs on that strand, one call
// at a time. liveness() reads atomics, from any thread.
//
// The hooks, and what the core promises around them:
// - do_read(): post a read unless may_read() says no. A read's payloads go
//   into received_, then offer(); read progress is marked with
//   bytes_arrived(), frame_begun() and frame_done(); a failed read ends the
//   link with finish().
// - write_some(): called with writing_ false, the queue not empty and no
//   orderly close out; writes from the front of queue_, sets writing_, and
//   on completion clears it, pops what it completed, reports it with
//   written() and calls after_write().
// - send_heartbeat(): the link wrote nothing for a heartbeat period and
//   nothing is queued or being written.
// - write_stalled(): a write has been under way for a heartbeat period
//   (asked each period until it completes); by default nothing.
// - close_out(): the queue is written after a graceful close; send our end
//   of the orderly close (a FIN, a close frame) and read on until the
//   peer's (offer() then drops what arrives), ending with finish().
// - lowest(): the TCP socket below everything, for peer names, options and
//   the final close.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/system/error_code.hpp>

#include <caf/error.hpp>

#include "io_types.hpp"
#include "lazy_deque.hpp"
#include "liveness.hpp"
#include "transport.hpp"
#include "wire/frame_decoder.hpp"

namespace netasync::detail {

class link_core : public transport,
                  public std::enable_shared_from_this<link_core> {
public:
  ~link_core() override;

  void start(link_upper_ptr up, caf::timespan heartbeat_period) final;
  void write(std::vector<shared_bytes> payloads) final;
  void resume_reading() final;
  void close(close_mode mode, caf::error reason) final;
  void watch_liveness(caf::timespan heartbeat_timeout,
                      caf::timespan frame_timeout) final;
  liveness_info liveness() const override;
  std::string peer() const final;

  /// Writes are reported up (on_sent) when the queue runs dry, or every
  /// this many payloads or bytes.
  static constexpr uint64_t report_every_messages = 256;
  static constexpr size_t report_every_bytes = 256 * 1024;

  /// Heartbeat due times are rounded up to a grid of 1/20 of the period, at
  /// most this: the timers of many idle links expire together, one wake-up
  /// for all of them instead of one per link.
  static constexpr caf::timespan max_heartbeat_grid
    = std::chrono::milliseconds(50);

protected:
  explicit link_core(const io_strand& ex);

  // -- hooks (the strand) -----------------------------------------------------

  virtual void do_read() = 0;
  virtual void write_some() = 0;
  virtual void send_heartbeat() = 0;
  virtual void close_out() = 0;
  virtual tcp_lowest& lowest() = 0;
  /// The link is starting (before its first read).
  virtual void on_start() {
    // nop
  }
  /// The link ended (reset when abortive): stop the driver's own timers.
  virtual void on_finish(close_mode) {
    // nop
  }
  /// A write has been under way for a heartbeat period.
  virtual void write_stalled() {
    // nop
  }
  /// The link's clock (heartbeat and liveness times, the timer): the
  /// steady clock, which is a production actor system's clock too. The
  /// deterministic actor tests' link answers their virtual time.
  virtual std::chrono::steady_clock::time_point liveness_now() const {
    return std::chrono::steady_clock::now();
  }
  /// The link's one timer: on_timer() at `due` (re-arming replaces the
  /// wait). By default an Asio timer on the strand; the actor tests' link
  /// fires it in virtual time.
  virtual void arm_timer(std::chrono::steady_clock::time_point due);
  virtual void cancel_timer();
  /// The timer fired (the strand): the liveness verdict, a heartbeat when
  /// one is due, the next wait.
  void on_timer();

  // -- for drivers (the strand) -----------------------------------------------

  /// Names the peer (call once the socket is connected).
  void name_peer();

  /// Started, not closed, and not held back by the upper: may read.
  bool may_read() const noexcept {
    return started_ && !closed_ && !reading_ && !held_back_.load();
  }

  /// Hands received_ to the upper; false when it said "enough" (the link
  /// then reads no further until resume_reading()). After our orderly close
  /// is out, what the upper leaves, and everything after its first
  /// "enough", is dropped (bounded memory against a peer that keeps
  /// sending while we wait for its end).
  bool offer();

  /// Writes what is queued, or begins the orderly close once the queue is
  /// written after a graceful close.
  void do_write();

  /// `n` payloads of `bytes` bytes were written completely.
  void written(uint64_t n, size_t bytes);

  /// The end of any write: reports a close that happened meanwhile (only
  /// now is the count of written payloads final), ends the link if the
  /// write failed (`err`), or writes on.
  void after_write(caf::error err = caf::error{});

  /// Our orderly close is going out: heartbeats stop; with `by_us`, what
  /// the upper has not taken is dropped and reading goes on regardless of
  /// demand, until the peer's end.
  void closing_out(bool by_us);

  /// Ends the link: resets the socket (abortive) or closes it, and reports
  /// the end once the write under way (if any) completed and the upper took
  /// what it may still take (see keep_received_). Idempotent.
  void finish(close_mode mode, caf::error reason, bool by_us = false);

  /// One read's bytes of a length-prefixed stream: decoded into received_
  /// (the frame timeout counting from the first byte of a frame that the
  /// read leaves incomplete) and offered up. Frames before a violation go
  /// up first; the violation ends the link. False when the link ended or
  /// the upper said "enough".
  bool consume_frames(wire::frame_decoder& decoder, const char* data,
                      size_t n);

  void bytes_arrived() {
    last_read_.store(now_ticks());
  }

  void frame_begun() {
    if (frame_started_.load() == 0)
      frame_started_.store(now_ticks());
  }

  void frame_restarted() {
    frame_started_.store(now_ticks());
  }

  void frame_done() {
    frame_started_.store(0);
  }

  std::chrono::steady_clock::rep now_ticks() const {
    return liveness_now().time_since_epoch().count();
  }

  // -- state (the strand; atomics: any thread) --------------------------------

  io_strand ex_;
  std::string peer_;
  link_upper_ptr up_;
  // Payloads read and not yet taken by the upper.
  std::vector<bytes> received_;
  lazy_deque<shared_bytes> queue_;
  caf::timespan heartbeat_period_{0};
  std::chrono::steady_clock::time_point last_write_;
  uint64_t written_total_ = 0;
  bool started_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;   // graceful close asked
  bool close_out_ = false; // our orderly close is out: the peer's end next
  bool closed_ = false;
  caf::error close_reason_;
  std::atomic<bool> held_back_{false}; // the upper said "enough"

private:
  void arm_heartbeat();
  void move_inbox();
  // Payloads passed to write() and not yet on the strand: appended by the
  // caller, taken by one posted drain. A connection that hands out its
  // messages one by one then costs a lock per message, not a post (an
  // allocation and possibly a wake-up of the I/O thread) per message, and
  // the link writes them in one batch.
  // (A spin lock: held for a vector append or swap, between the
  // connection's thread and the strand, at most; a std::mutex would be 40
  // bytes more per idle connection.)
  class inbox_lock {
  public:
    explicit inbox_lock(std::atomic_flag& f) : f_(f) {
      while (f_.test_and_set(std::memory_order_acquire))
        std::this_thread::yield();
    }
    ~inbox_lock() {
      f_.clear(std::memory_order_release);
    }

  private:
    std::atomic_flag& f_;
  };
  std::atomic_flag inbox_busy_ = ATOMIC_FLAG_INIT;
  bool inbox_posted_ = false;
  std::vector<shared_bytes> inbox_;
  // Set by watch_liveness: the link judges its peer itself (liveness.hpp).
  std::optional<liveness_rule> rule_;
  void report_end_when_done();
  void report_ended();

  strand_timer heartbeat_timer_;
  uint64_t unreported_ = 0;
  size_t unreported_bytes_ = 0;
  // Ticks of the last read, and of the start of a partial frame (0: none).
  std::atomic<std::chrono::steady_clock::rep> last_read_;
  std::atomic<std::chrono::steady_clock::rep> frame_started_{0};
  // After our close: the upper said "enough" once; the rest is dropped.
  bool drop_after_close_ = false;
  // Ended by the peer (or by a failure) while payloads wait in received_
  // for want of a subscriber: the end is reported once the upper took them
  // (resume_reading) or our own close() dropped them, so a peer that sends
  // and closes at once loses nothing to a subscriber that comes a moment
  // late.
  bool keep_received_ = false;
  bool end_held_ = false;
  caf::error final_reason_;
};

} // namespace netasync::detail
