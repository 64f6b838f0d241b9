#include "link_core.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace netasync::detail {

namespace asio = boost::asio;

link_core::link_core(const io_strand& ex)
  : ex_(ex),
    last_write_(std::chrono::steady_clock::now()), // start() sets it
    heartbeat_timer_(ex),
    last_read_(last_write_.time_since_epoch().count()) {
  // nop
}

link_core::~link_core() {
  // nop (the driver closes its stream)
}

void link_core::name_peer() {
  boost::system::error_code ec;
  auto ep = lowest().remote_endpoint(ec);
  peer_ = ec ? std::string{"?"}
             : ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string link_core::peer() const {
  return peer_;
}

void link_core::start(link_upper_ptr up, caf::timespan heartbeat_period) {
  asio::post(ex_, [self = shared_from_this(), up = std::move(up),
                   heartbeat_period] {
    if (self->started_)
      return;
    self->started_ = true;
    self->up_ = up;
    self->heartbeat_period_ = heartbeat_period;
    if (self->closed_) {
      // Closed before it started: report the end once, as promised.
      auto reason = self->close_reason_;
      self->closed_ = false;
      self->finish(close_mode::abortive, reason);
      return;
    }
    self->on_start();
    self->last_write_ = self->liveness_now();
    self->last_read_.store(self->now_ticks());
    self->do_read();
    self->do_write();
    self->arm_heartbeat();
  });
}

transport::liveness_info link_core::liveness() const {
  using clock = std::chrono::steady_clock;
  auto at = [](clock::rep ticks) {
    return clock::time_point{clock::duration{ticks}};
  };
  liveness_info r;
  r.last_received = at(last_read_.load());
  auto fs = frame_started_.load();
  r.in_frame = fs != 0;
  r.frame_started = at(fs);
  r.held_back = held_back_.load();
  return r;
}

void link_core::write(std::vector<shared_bytes> payloads) {
  {
    inbox_lock guard{inbox_busy_};
    if (inbox_.empty())
      inbox_.swap(payloads);
    else
      inbox_.insert(inbox_.end(), std::make_move_iterator(payloads.begin()),
                    std::make_move_iterator(payloads.end()));
    if (inbox_posted_)
      return; // the drain under way takes these too
    inbox_posted_ = true;
  }
  // (Another thread may append between the unlock and this post, and post
  // its close() first: a graceful close moves the inbox to the queue
  // itself, so the caller's writes still go out before it.)
  asio::post(ex_, [self = shared_from_this()] {
    self->move_inbox();
    self->do_write();
  });
}

void link_core::move_inbox() {
  std::vector<shared_bytes> ps;
  {
    inbox_lock guard{inbox_busy_};
    ps.swap(inbox_);
    inbox_posted_ = false;
  }
  if (closed_ || closing_)
    return; // as a write after the close: the written count says so
  for (auto& p : ps)
    queue_.push_back(std::move(p));
}

void link_core::watch_liveness(caf::timespan heartbeat_timeout,
                               caf::timespan frame_timeout) {
  asio::post(ex_, [self = shared_from_this(), heartbeat_timeout,
                   frame_timeout] {
    if (self->closed_)
      return;
    // From now: the link's start counts as the peer's last word (as the
    // liveness info says until bytes arrive).
    self->rule_.emplace(heartbeat_timeout, frame_timeout,
                        self->liveness_now());
    self->arm_heartbeat();
  });
}

void link_core::resume_reading() {
  asio::post(ex_, [self = shared_from_this()] {
    if (self->end_held_) {
      // The upper takes what fits; once all is taken, the end follows.
      self->up_->on_payloads(self->received_);
      if (self->received_.empty()) {
        self->end_held_ = false;
        self->report_ended();
      }
      return;
    }
    if (self->closed_ || !self->started_)
      return;
    if (!self->held_back_.load()) {
      // Reading, with payloads held for want of a subscriber: the first
      // one gets them now, not at the next read.
      self->offer();
      return;
    }
    // Our own pause must count neither as peer silence nor against the
    // frame timeout.
    auto now = self->now_ticks();
    self->last_read_.store(now);
    if (self->frame_started_.load() != 0)
      self->frame_started_.store(now);
    self->held_back_.store(false);
    if (!self->offer())
      return;
    self->do_read();
  });
}

void link_core::close(close_mode mode, caf::error reason) {
  asio::post(ex_, [self = shared_from_this(), mode,
                   reason = std::move(reason)]() mutable {
    if (self->end_held_) { // nobody took them: dropped with the link
      self->end_held_ = false;
      self->received_.clear();
      self->report_ended();
      return;
    }
    if (self->closed_)
      return;
    if (!self->started_) {
      // Remember; start() reports it.
      self->closed_ = true;
      self->close_reason_ = std::move(reason);
      boost::system::error_code ec;
      self->lowest().close(ec);
      return;
    }
    if (mode == close_mode::graceful) {
      if (self->closing_)
        return;
      self->move_inbox(); // written before the close, whatever posted first
      self->closing_ = true;
      self->close_reason_ = std::move(reason);
      self->do_write(); // the orderly close follows the queue
      return;
    }
    self->finish(close_mode::abortive, std::move(reason), true);
  });
}

bool link_core::offer() {
  if (received_.empty() || closed_)
    return true;
  if (drop_after_close_) {
    received_.clear();
    return true;
  }
  auto more = up_->on_payloads(received_);
  if (close_out_) {
    drop_after_close_ = !more;
    received_.clear();
    return true;
  }
  // What the upper left waits for the next offer; after "enough", for
  // resume_reading().
  held_back_.store(!more);
  return more;
}

bool link_core::consume_frames(wire::frame_decoder& decoder,
                               const char* data, size_t n) {
  bytes_arrived();
  auto was_idle = decoder.idle();
  auto before = decoder.frames() + decoder.heartbeats();
  auto err = decoder.consume(
    data, n, [&](bytes&& p) { received_.emplace_back(std::move(p)); });
  if (decoder.idle())
    frame_done();
  else if (was_idle || decoder.frames() + decoder.heartbeats() != before)
    frame_restarted();
  auto more = offer();
  if (err) {
    finish(close_mode::abortive, std::move(err));
    return false;
  }
  return more && !closed_;
}

void link_core::do_write() {
  if (writing_ || closed_ || !started_ || close_out_)
    return;
  if (queue_.empty()) {
    if (closing_)
      close_out();
    return;
  }
  last_write_ = liveness_now();
  write_some();
}

void link_core::written(uint64_t n, size_t bytes) {
  written_total_ += n;
  unreported_ += n;
  unreported_bytes_ += bytes;
  // Batched, but never held while the queue is dry (the connection may
  // then hand out what waits).
  if (unreported_ > 0 && !closed_
      && (queue_.empty() || unreported_ >= report_every_messages
          || unreported_bytes_ >= report_every_bytes)) {
    up_->on_sent(unreported_, unreported_bytes_);
    unreported_ = 0;
    unreported_bytes_ = 0;
  }
}

void link_core::after_write(caf::error err) {
  if (closed_) {
    report_end_when_done();
    return;
  }
  if (err) {
    finish(close_mode::abortive, std::move(err));
    return;
  }
  do_write();
}

void link_core::closing_out(bool by_us) {
  close_out_ = true;
  // Heartbeats stop; a link that judges its peer goes on judging it until
  // the peer's end comes (a peer that falls silent meanwhile is dead too).
  if (rule_)
    arm_heartbeat();
  else
    cancel_timer();
  if (by_us) {
    // Read until the peer's end, whatever the upper's demand (see offer()).
    received_.clear();
    held_back_.store(false);
  }
}

void link_core::arm_heartbeat() {
  auto beats = heartbeat_period_ > caf::timespan{0} && !close_out_;
  if (!started_ || closed_ || (!beats && !rule_))
    return;
  auto due = std::chrono::steady_clock::time_point::max();
  if (beats) {
    // While a write is under way the next look is a period from now:
    // counted from the write's start, a write stuck for longer than a
    // period (a peer that does not read) would make the timer fire again
    // at once, a busy loop.
    due = (writing_ ? liveness_now() : last_write_) + heartbeat_period_;
    auto grid = std::min(heartbeat_period_ / 20, max_heartbeat_grid);
    if (grid.count() > 0) {
      auto rest = due.time_since_epoch() % grid;
      if (rest.count() > 0)
        due += grid - rest;
    }
  }
  // The verdict is due exactly then (a live peer's heartbeats keep it
  // behind the next heartbeat, so idle links still wake up together).
  if (rule_)
    due = std::min(due, rule_->due());
  arm_timer(due);
}

void link_core::arm_timer(std::chrono::steady_clock::time_point due) {
  // Re-arming cancels the pending wait (its handler sees the abort).
  heartbeat_timer_.expires_at(due);
  heartbeat_timer_.async_wait(
    [self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec)
        self->on_timer();
    });
}

void link_core::cancel_timer() {
  heartbeat_timer_.cancel();
}

void link_core::on_timer() {
  if (closed_ || (close_out_ && !rule_))
    return;
  auto now = liveness_now();
  auto beats = heartbeat_period_ > caf::timespan{0} && !close_out_;
  // A write in progress is traffic already (and a heartbeat queued behind
  // it could not go out earlier); what the peer acknowledged of it may be
  // its life (ws: write_stalled), so it is looked at before the verdict.
  if (beats && writing_)
    write_stalled();
  // Asked at every firing, not only when due: each answer moves the due
  // time behind the next heartbeat while the peer lives, so the verdict
  // never needs a wake-up of its own.
  if (rule_) {
    if (auto err = rule_->check(liveness(), now)) {
      // As the owner's close would: what no subscriber took is dropped and
      // the end is reported now (a silent peer's payloads do not hold it).
      finish(close_mode::abortive, std::move(err), true);
      return;
    }
  }
  if (beats && !writing_ && now - last_write_ >= heartbeat_period_
      && queue_.empty()) {
    last_write_ = now;
    send_heartbeat();
    if (up_ && !closed_)
      up_->on_idle();
  }
  arm_heartbeat();
}

void link_core::finish(close_mode mode, caf::error reason, bool by_us) {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ec;
  auto& sock = lowest();
  if (mode == close_mode::abortive) {
    // RST at once: nothing of a stuck peer's socket lingers in the kernel.
    sock.set_option(asio::socket_base::linger{true, 0}, ec);
  }
  sock.close(ec);
  cancel_timer();
  on_finish(mode);
  final_reason_ = std::move(reason);
  keep_received_ = !by_us;
  report_end_when_done();
}

// A write in progress still references the queue and may still complete
// payloads: its handler reports instead. Payloads held for want of a
// subscriber hold the report back (see end_held_).
void link_core::report_end_when_done() {
  if (writing_)
    return;
  queue_.clear();
  if (keep_received_ && !received_.empty() && up_) {
    end_held_ = true;
    // What the upper waits for may have depended on this link (replies to
    // be written, a session peer's ACKs): it decides anew, at the offer.
    up_->on_reading_ended();
    resume_reading();
    return;
  }
  received_.clear();
  report_ended();
}

void link_core::report_ended() {
  // The upper is let go: it holds the subscribers and the read gate.
  if (auto up = std::move(up_))
    up->on_ended(written_total_, final_reason_);
}

} // namespace netasync::detail
