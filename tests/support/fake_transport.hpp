#pragma once

// The link of the deterministic actor tests: link_core itself, the state
// machine every production link runs (queue, written count, demand and
// resume, close modes, the held end report, liveness), driven by a scripted
// peer instead of a socket. Only the driver is the test's: bytes "arrive"
// when the test says (through the real length-prefix decoder), writes
// complete when it says, and the liveness inputs read the test's virtual
// clock, as does the link's timer (heartbeats, and a server link's own
// liveness verdict): actor_fixture::advance() fires what is due. So the
// actor tests check the contract production links keep, not a copy of it.
//
// Threads: everything runs on the test's thread. Each link has an
// io_context of its own; the calls the actors make (start, write, close,
// resume_reading) post to its strand as in production, and run when the
// fixture polls the links (actor_fixture::run(), after the actors ran) or
// never, while the test holds the link (hold(): the gap in which a real
// link has not yet seen a close). What the peer does (receive(), fail(),
// complete_writes()) runs at once, as a read or a write completing on the
// strand would: the test's thread is the strand whenever no poll runs.

#include <algorithm>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <caf/actor_clock.hpp>

#include "link_core.hpp"
#include "netasync/options.hpp"
#include "wire/frame_decoder.hpp"
#include "wire/header.hpp"

namespace netasync::test {

/// The io_context of a fake link, made before the link_core it drives.
struct fake_io {
  boost::asio::io_context ctx;
  detail::io_strand strand{boost::asio::make_strand(ctx)};
};

class fake_transport;

/// Every fake link alive, for the fixture's polls.
inline std::vector<fake_transport*>& fake_links() {
  static std::vector<fake_transport*> xs;
  return xs;
}

class fake_transport : private fake_io, public detail::link_core {
public:
  explicit fake_transport(caf::actor_clock* clock = nullptr)
    : link_core(fake_io::strand),
      clock(clock),
      sock_(fake_io::strand),
      decoder_(options{}.max_frame_size) {
    peer_ = "fake";
    fake_links().push_back(this);
  }

  ~fake_transport() override {
    auto& xs = fake_links();
    xs.erase(std::remove(xs.begin(), xs.end(), this), xs.end());
  }

  // -- what a peer or the kernel does ----------------------------------------

  /// These payloads arrive as frames (none: one heartbeat). The link reads
  /// them now if it reads; while its upper holds it back they wait, as in
  /// the kernel, and come with the resume.
  void receive(const std::vector<std::string>& payloads = {}) {
    std::string wire;
    if (payloads.empty())
      wire = frame_header(0);
    for (auto& p : payloads)
      wire += frame_header(p.size()) + p;
    receive_bytes(wire);
  }

  /// Raw bytes arrive (a part of a frame, several frames, ...).
  void receive_bytes(const std::string& raw) {
    inbound_ += raw;
    if (reading_)
      read_now();
  }

  /// The header of a frame of `n` bytes.
  static std::string frame_header(size_t n) {
    auto h = wire::make_header(static_cast<uint32_t>(n));
    return std::string(h.begin(), h.end());
  }

  /// The write under way completes, and every one after it, until the
  /// queue is written.
  void complete_writes() {
    while (writing_)
      complete(batch_);
  }

  /// Of the write under way, the kernel takes the first `n` payloads; the
  /// link writes on (and waits) with the rest.
  void complete_writes(size_t n) {
    if (writing_)
      complete(std::min(n, batch_));
  }

  /// The peer went away (EOF, reset, I/O error), seen by a read.
  void fail(caf::error reason) {
    finish(close_mode::abortive, std::move(reason));
  }

  /// Holds the link's strand: what the actors ask of the link waits until
  /// release() (the gap between asking and the link's strand doing it).
  void hold() {
    held_ = true;
  }

  void release() {
    held_ = false;
    poll();
  }

  /// Runs what was posted to the link's strand; the number of handlers.
  size_t poll() {
    if (held_)
      return 0;
    // A handler may drop the last other reference to this link.
    auto keep = weak_from_this().lock();
    if (!keep)
      return 0;
    auto n = ctx.poll();
    ctx.restart();
    return n;
  }

  /// Polls every fake link until none has work left; the handlers run.
  static size_t poll_all() {
    size_t total = 0;
    for (;;) {
      size_t n = 0;
      each_link([&](fake_transport& x) { n += x.poll(); });
      if (n == 0)
        return total;
      total += n;
    }
  }

  /// Fires the link's timer while it is due on the virtual clock (the test's
  /// thread is the strand); the number of times it fired.
  size_t fire_timer() {
    size_t n = 0;
    while (!held_ && timer_due_ && clock && *timer_due_ <= clock->now()) {
      // A timer that comes due again at once would spin an I/O thread in
      // production: that is a failure, not something to stop counting.
      if (++n > 100)
        throw std::logic_error("fake_transport: the link's timer spins");
      timer_due_.reset();
      on_timer();
    }
    return n;
  }

  /// Fires every fake link's due timer.
  static size_t fire_all_timers() {
    size_t n = 0;
    each_link([&](fake_transport& x) { n += x.fire_timer(); });
    return n;
  }

  /// Ends every link still open (held ones too), at the end of a test.
  static void end_all() {
    each_link([](fake_transport& x) {
      x.held_ = false;
      x.close(close_mode::abortive, caf::error{});
      x.poll();
    });
  }

  // -- observed state ---------------------------------------------------------

  /// The link ended (its socket closed).
  bool closed() const {
    return closed_;
  }

  /// The upper said "enough": the link does not read.
  bool paused() const {
    return held_back_.load();
  }

  /// The heartbeat period the connection started the link with.
  caf::timespan keep_alive_period() const {
    return heartbeat_period_;
  }

  caf::actor_clock* clock;
  size_t starts = 0;
  /// Our orderly close went out (after the queue was written).
  bool closed_gracefully = false;
  /// How the link ended: closed in order, or reset.
  close_mode ended_by = close_mode::abortive;
  /// Written when a write began (before it completes), heartbeats aside.
  bool auto_complete = true;
  std::vector<std::string> written;
  /// Reads whose payloads went to the upper.
  size_t upper_deliveries = 0;
  size_t heartbeats_sent = 0;

private:
  // -- link_core's hooks ------------------------------------------------------

  void do_read() override {
    if (!may_read())
      return;
    reading_ = true;
    if (!inbound_.empty())
      boost::asio::post(ex_, [self = self()] { self->read_now(); });
  }

  void read_now() {
    if (!reading_ || inbound_.empty())
      return;
    reading_ = false;
    if (closed_)
      return;
    std::string chunk;
    chunk.swap(inbound_);
    auto frames = decoder_.frames();
    auto more = consume_frames(decoder_, chunk.data(), chunk.size());
    if (decoder_.frames() != frames)
      ++upper_deliveries;
    if (more)
      do_read();
  }

  void write_some() override {
    batch_ = queue_.size();
    for (auto& p : queue_)
      written.emplace_back(p->begin(), p->end());
    writing_ = true;
    if (auto_complete)
      complete(batch_);
  }

  void complete(size_t n) {
    writing_ = false;
    size_t bytes = 0;
    for (size_t i = 0; i < n; ++i) {
      bytes += queue_.front()->size();
      queue_.pop_front();
    }
    batch_ = 0;
    if (n > 0)
      link_core::written(n, bytes);
    after_write();
  }

  void send_heartbeat() override {
    ++heartbeats_sent;
    after_write();
  }

  void close_out() override {
    closing_out(true);
    closed_gracefully = true;
    // The peer answers our end with its own.
    boost::asio::post(ex_, [self = self()] {
      self->finish(close_mode::graceful, self->close_reason_);
    });
  }

  detail::tcp_lowest& lowest() override {
    return sock_; // never opened: the link's end closes nothing
  }

  void on_start() override {
    ++starts;
  }

  void on_finish(close_mode mode) override {
    ended_by = mode;
    // A write under way fails with the socket, as Asio reports it: later,
    // through the strand, having written nothing more.
    if (writing_)
      boost::asio::post(ex_, [self = self()] {
        if (self->writing_) {
          self->writing_ = false;
          self->batch_ = 0;
          self->after_write();
        }
      });
  }

  std::chrono::steady_clock::time_point liveness_now() const override {
    return clock ? clock->now() : link_core::liveness_now();
  }

  void arm_timer(std::chrono::steady_clock::time_point due) override {
    timer_due_ = due;
  }

  void cancel_timer() override {
    timer_due_.reset();
  }

  /// Calls f for every link still alive and owned, holding it meanwhile:
  /// what f runs may end (and free) any link, this one included.
  template <class F>
  static void each_link(F f) {
    auto xs = fake_links();
    for (auto* x : xs)
      if (std::find(fake_links().begin(), fake_links().end(), x)
          != fake_links().end())
        if (auto keep = x->weak_from_this().lock())
          f(*x);
  }

  std::shared_ptr<fake_transport> self() {
    return std::static_pointer_cast<fake_transport>(shared_from_this());
  }

  detail::tcp_socket sock_;
  wire::frame_decoder decoder_;
  std::string inbound_; // arrived, not read yet
  size_t batch_ = 0;    // front payloads of queue_ in the write under way
  bool held_ = false;
  std::optional<std::chrono::steady_clock::time_point> timer_due_;
};

} // namespace netasync::test
