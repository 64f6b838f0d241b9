#include "stream_transport.hpp"

#include <algorithm>
#include <limits>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <caf/send.hpp>

#include "netasync/error.hpp"
#include "link_factory.hpp"
#include "tls.hpp"

namespace netasync::detail {

namespace {

template <class Socket>
std::string endpoint_string(const Socket& sock) {
  boost::system::error_code ec;
  auto ep = sock.remote_endpoint(ec);
  if (ec)
    return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

caf::error from_asio(const boost::system::error_code& ec,
                     const std::string& peer) {
  // A TLS peer that closes the socket without close_notify ends the stream
  // as a plain peer's FIN does (the library's own peers close that way).
  if (ec == asio::error::eof || ec == asio::error::connection_reset
      || ec == asio::error::broken_pipe
      || ec == asio::ssl::error::stream_truncated)
    return make_error(error::connection_lost, peer + ": " + tls_reason(ec));
  return make_error(error::io_error, peer + ": " + tls_reason(ec));
}

// One read buffer per I/O thread, used only inside a read handler.
std::vector<char>& thread_read_buffer() {
  thread_local std::vector<char> buf(tcp_transport::read_buffer_size);
  return buf;
}

// asio::async_write's own conditions (transfer_all, transfer_exactly) hand
// each write_some at most 64 KiB, so a 1 MiB write took 17 system calls,
// each behind a round through the reactor. This one offers the whole rest,
// within what one write_some takes anyway: at most 16 buffers over a plain
// socket (asio's prepared_buffers), one record's worth over TLS (the SSL
// stream writes the first buffer only). So it is contiguous and large-frame
// writes over TCP that gain.
struct transfer_all_at_once {
  size_t operator()(const boost::system::error_code& ec, size_t) const {
    return ec ? 0 : std::numeric_limits<size_t>::max();
  }
};

} // namespace

template <class Stream>
stream_transport<Stream>::stream_transport(Stream sock,
                                           uint32_t max_frame_size)
  : sock_(std::move(sock)),
    decoder_(max_frame_size),
    heartbeat_timer_(sock_.get_executor()),
    last_write_(std::chrono::steady_clock::now()),
    last_read_(last_write_.time_since_epoch().count()) {
  auto& lowest = sock_.lowest_layer();
  peer_ = endpoint_string(lowest);
  boost::system::error_code ec;
  // Small frames go out at once; the write queue does the coalescing.
  lowest.set_option(asio::ip::tcp::no_delay{true}, ec);
  // A plain socket is read when readable, without blocking (TLS reads are
  // asynchronous operations, which a non-blocking socket serves as well).
  lowest.non_blocking(true, ec);
}

template <class Stream>
stream_transport<Stream>::~stream_transport() {
  boost::system::error_code ec;
  sock_.lowest_layer().close(ec);
}

template <class Stream>
std::chrono::steady_clock::rep stream_transport<Stream>::now_ticks() {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

template <class Stream>
void stream_transport<Stream>::start(link_upper_ptr up,
                                     caf::timespan heartbeat_period) {
  asio::post(sock_.get_executor(), [self = this->shared_from_this(),
                                    up = std::move(up), heartbeat_period] {
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
    self->last_write_ = std::chrono::steady_clock::now();
    self->last_read_.store(now_ticks());
    self->do_read();
    self->do_write();
    self->arm_heartbeat();
  });
}

template <class Stream>
typename stream_transport<Stream>::liveness_info
stream_transport<Stream>::liveness() const {
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

template <class Stream>
void stream_transport<Stream>::write(std::vector<shared_bytes> payloads) {
  asio::post(sock_.get_executor(),
             [self = this->shared_from_this(), ps = std::move(payloads)]() mutable {
               if (self->closed_ || self->closing_)
                 return;
               for (auto& p : ps)
                 self->queue_.push_back(
                   pending{wire::make_header(static_cast<uint32_t>(p->size())),
                           std::move(p)});
               self->do_write();
             });
}

template <class Stream>
void stream_transport<Stream>::arm_heartbeat() {
  if (!started_ || closed_ || closing_
      || heartbeat_period_ <= caf::timespan{0})
    return;
  // Re-arming cancels the pending wait (its handler sees the abort).
  auto due = last_write_ + heartbeat_period_;
  auto grid = std::min(heartbeat_period_ / 20, max_heartbeat_grid);
  if (grid.count() > 0) {
    auto rest = due.time_since_epoch() % grid;
    if (rest.count() > 0)
      due += grid - rest;
  }
  heartbeat_timer_.expires_at(due);
  heartbeat_timer_.async_wait(
    [self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_ || self->closing_)
        return;
      auto now = std::chrono::steady_clock::now();
      // A write in progress is traffic already (and a heartbeat queued
      // behind it could not go out earlier).
      if (now - self->last_write_ >= self->heartbeat_period_
          && !self->writing_ && self->queue_.empty())
        self->write_heartbeat();
      self->arm_heartbeat();
    });
}

template <class Stream>
void stream_transport<Stream>::resume_reading() {
  asio::post(sock_.get_executor(), [self = this->shared_from_this()] {
    if (self->end_held_) {
      // The upper takes all or none; once taken, the end follows them.
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
    auto now = now_ticks();
    self->last_read_.store(now);
    if (self->frame_started_.load() != 0)
      self->frame_started_.store(now);
    self->held_back_.store(false);
    if (!self->offer())
      return;
    self->do_read();
  });
}

template <class Stream>
void stream_transport<Stream>::close(close_mode mode, caf::error reason) {
  asio::post(sock_.get_executor(), [self = this->shared_from_this(), mode,
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
      self->sock_.lowest_layer().close(ec);
      return;
    }
    if (mode == close_mode::graceful) {
      if (self->closing_)
        return;
      self->closing_ = true;
      self->close_reason_ = std::move(reason);
      self->do_write(); // half-closes once the queue is empty
      return;
    }
    self->finish(close_mode::abortive, std::move(reason), true);
  });
}

template <class Stream>
std::string stream_transport<Stream>::peer() const {
  return peer_;
}

template <class Stream>
void stream_transport<Stream>::do_read() {
  if (reading_ || held_back_.load() || closed_ || !started_)
    return;
  reading_ = true;
  if constexpr (reads_on_readiness) {
    // Wait for readiness, then read into the thread's buffer: a connection
    // that waits for data owns no buffer.
    sock_.async_wait(Stream::wait_read,
                     [self = this->shared_from_this()](
                       const boost::system::error_code& ec) {
                       self->reading_ = false;
                       if (self->closed_ || self->read_failed(ec))
                         return;
                       self->on_readable();
                     });
  } else {
    if (!own_rbuf_)
      own_rbuf_.reset(new char[own_read_buffer_size]);
    sock_.async_read_some(
      asio::buffer(own_rbuf_.get(), own_read_buffer_size),
      [self = this->shared_from_this()](const boost::system::error_code& ec,
                                        size_t n) {
        self->reading_ = false;
        if (self->closed_)
          return;
        if (n > 0)
          self->consume_read(self->own_rbuf_.get(), n);
        if (self->closed_ || self->read_failed(ec))
          return;
        self->do_read();
      });
  }
}

template <class Stream>
bool stream_transport<Stream>::read_failed(
  const boost::system::error_code& ec) {
  if (!ec)
    return false;
  if (half_closed_) { // the peer answered our FIN (or gave up)
    finish(close_mode::graceful, close_reason_);
    return true;
  }
  auto reason = from_asio(ec, peer_);
  // TLS 1.3: a client's handshake is complete before the server has checked
  // the client's certificate; the server's refusal is an alert that the
  // first read meets. Before any data, such an error ends the handshake.
  if (!received_any_ && ec.category() == asio::error::get_ssl_category()
      && ec != asio::ssl::error::stream_truncated)
    reason = make_error(error::tls_handshake_failed,
                        peer_ + ": the peer ended the handshake: "
                          + tls_reason(ec));
  finish(close_mode::abortive, std::move(reason));
  return true;
}

template <class Stream>
void stream_transport<Stream>::on_readable() {
  auto& buf = thread_read_buffer();
  boost::system::error_code ec;
  for (size_t i = 0; i < max_reads_per_event; ++i) {
    auto n = sock_.read_some(asio::buffer(buf), ec);
    if (ec)
      break;
    if (!consume_read(buf.data(), n))
      return; // ended, or resume_reading() reads on
    if (n < buf.size())
      break; // a short read drained the socket
  }
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    read_failed(ec);
    return;
  }
  do_read();
}

// One read's bytes: decoded and handed up. False when the link ended or the
// upper said "enough".
template <class Stream>
bool stream_transport<Stream>::consume_read(const char* data, size_t n) {
  received_any_ = true;
  last_read_.store(now_ticks());
  auto err = decode(data, n);
  // Frames before a violation are good and go first.
  auto more = offer();
  if (err) {
    finish(close_mode::abortive, std::move(err));
    return false;
  }
  return more && !closed_;
}

template <class Stream>
caf::error stream_transport<Stream>::decode(const char* data, size_t n) {
  auto was_idle = decoder_.idle();
  auto before = decoder_.frames() + decoder_.heartbeats();
  auto err = decoder_.consume(
    data, n, [&](bytes&& p) { received_.emplace_back(std::move(p)); });
  // The frame timeout counts from the first byte of a frame that a read
  // leaves incomplete.
  if (decoder_.idle())
    frame_started_.store(0);
  else if (was_idle || decoder_.frames() + decoder_.heartbeats() != before)
    frame_started_.store(now_ticks());
  return err;
}

// Hands what was decoded to the upper; false when it said "enough".
template <class Stream>
bool stream_transport<Stream>::offer() {
  if (received_.empty() || closed_)
    return true;
  if (drop_after_fin_) {
    received_.clear();
    return true;
  }
  auto more = up_->on_payloads(received_);
  if (half_closed_) {
    // Our FIN is out: read on until the peer's, whatever the demand. What
    // the upper leaves, and everything after its first "enough", is
    // dropped with the link (bounded memory and mailboxes against a peer
    // that keeps sending).
    drop_after_fin_ = !more;
    received_.clear();
    return true;
  }
  // What the upper left waits for the next offer; after "enough", for
  // resume_reading().
  held_back_.store(!more);
  return more;
}

// The idle link's heartbeat: four zero bytes from a shared constant, not
// through the queue (whose storage an idle link does not keep), so a
// heartbeat costs no allocation.
template <class Stream>
void stream_transport<Stream>::write_heartbeat() {
  static const wire::header zero = wire::heartbeat();
  writing_ = true;
  last_write_ = std::chrono::steady_clock::now();
  asio::async_write(
    sock_, asio::buffer(zero), transfer_all_at_once{},
    [self = this->shared_from_this()](const boost::system::error_code& ec,
                                      size_t) {
      self->writing_ = false;
      self->after_write(ec);
    });
}

// The end of any write: report a close that happened meanwhile (only now is
// the count of completely written frames final), fail on an error, or write
// on (what was queued meanwhile, or the half-close).
template <class Stream>
void stream_transport<Stream>::after_write(
  const boost::system::error_code& ec) {
  if (closed_) {
    report_end_when_done();
    return;
  }
  if (ec) {
    finish(close_mode::abortive, from_asio(ec, peer_));
    return;
  }
  do_write();
}

template <class Stream>
void stream_transport<Stream>::do_write() {
  if (writing_ || closed_ || !started_)
    return;
  if (queue_.empty()) {
    if (closing_)
      half_close();
    return;
  }
  // The frames of this write, in order: small ones copied with their
  // headers into wbuf_, large payloads referenced where they are. Offsets
  // first, buffers after: wbuf_ must not move once buffers point into it.
  struct segment {
    size_t begin; // in wbuf_, or the payload when `large`
    size_t end;
    const bytes* large;
  };
  // Reused by every link of this I/O thread (do_write does not nest).
  thread_local std::vector<segment> segs;
  segs.clear();
  wbuf_.clear();
  size_t batch_bytes = 0;
  batch_frames_ = 0;
  auto append = [&](const char* p, size_t n) {
    if (!segs.empty() && !segs.back().large) {
      segs.back().end += n;
    } else {
      segs.push_back(segment{wbuf_.size(), wbuf_.size() + n, nullptr});
    }
    wbuf_.insert(wbuf_.end(), p, p + n);
  };
  for (auto& f : queue_) {
    auto sz = f.payload ? f.payload->size() : 0;
    if (batch_frames_ > 0
        && (batch_frames_ == max_batch_frames
            || batch_bytes + sz > max_batch_bytes))
      break;
    append(f.head.data(), f.head.size());
    if (sz > copy_threshold)
      segs.push_back(segment{0, sz, f.payload.get()});
    else if (sz > 0)
      append(f.payload->data(), sz);
    batch_bytes += wire::header_size + sz;
    ++batch_frames_;
  }
  auto on_written = [self = this->shared_from_this()](
                      const boost::system::error_code& ec, size_t n) {
    self->writing_ = false;
    // Count the frames this write completed, even if it failed midway.
    uint64_t completed = 0;
    size_t done = 0;
    while (done < self->batch_frames_ && !self->queue_.empty()) {
      auto& f = self->queue_.front();
      auto sz = wire::header_size + (f.payload ? f.payload->size() : 0);
      if (n < sz)
        break;
      n -= sz;
      if (f.payload)
        ++completed;
      self->queue_.pop_front();
      ++done;
    }
    self->batch_frames_ = 0;
    self->written_total_ += completed;
    if (self->wbuf_.capacity() > kept_write_buffer)
      std::vector<char>{}.swap(self->wbuf_);
    if (completed > 0 && !self->closed_)
      self->up_->on_sent(completed);
    self->after_write(ec);
  };
  writing_ = true;
  last_write_ = std::chrono::steady_clock::now();
  if (segs.size() == 1 && !segs[0].large) {
    // Small frames only (the usual case): one contiguous buffer.
    asio::async_write(sock_,
                      asio::buffer(wbuf_.data() + segs[0].begin,
                                   segs[0].end - segs[0].begin),
                      transfer_all_at_once{}, std::move(on_written));
    return;
  }
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(segs.size());
  for (auto& sg : segs)
    bufs.emplace_back(sg.large ? asio::const_buffer(sg.large->data(), sg.end)
                               : asio::const_buffer(wbuf_.data() + sg.begin,
                                                    sg.end - sg.begin));
  asio::async_write(sock_, bufs, transfer_all_at_once{},
                    std::move(on_written));
}

template <class Stream>
void stream_transport<Stream>::half_close() {
  if (half_closed_)
    return;
  half_closed_ = true;
  // FIN to the peer, then read until it closes too: closing with unread
  // input would make the kernel send RST instead of FIN.
  boost::system::error_code ec;
  // TLS too: no close_notify (see docs/protocol.md, "TLS"); the length
  // prefix already tells a whole message from a torn one.
  sock_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  // Read until the peer's FIN, whatever the upper's demand (see offer()).
  received_.clear();
  held_back_.store(false);
  do_read();
}

template <class Stream>
void stream_transport<Stream>::finish(close_mode mode, caf::error reason,
                                      bool by_us) {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ec;
  if (mode == close_mode::abortive) {
    // RST at once: nothing of a stuck peer's socket lingers in the kernel.
    sock_.lowest_layer().set_option(asio::socket_base::linger{true, 0}, ec);
  }
  sock_.lowest_layer().close(ec);
  heartbeat_timer_.cancel();
  final_reason_ = std::move(reason);
  keep_received_ = !by_us;
  report_end_when_done();
}

// A write in progress still references the queue and may still complete
// frames: its handler reports instead. Payloads held for want of a
// subscriber hold the report back (see end_held_).
template <class Stream>
void stream_transport<Stream>::report_end_when_done() {
  if (writing_)
    return;
  queue_.clear();
  if (keep_received_ && !received_.empty() && up_) {
    end_held_ = true;
    return;
  }
  received_.clear();
  report_ended();
}

template <class Stream>
void stream_transport<Stream>::report_ended() {
  // The upper is let go: it holds the subscribers and the receive credit.
  if (auto up = std::move(up_))
    up->on_ended(written_total_, final_reason_);
}

template class stream_transport<tcp_socket>;
template class stream_transport<tls_stream>;

link_factory::~link_factory() = default;

handshake_pending::~handshake_pending() = default;

namespace {

class length_prefix_factory : public link_factory {
public:
  explicit length_prefix_factory(uint32_t max_frame_size)
    : max_frame_size_(max_frame_size) {
    // nop
  }

  handshake_pending_ptr make(tcp_socket sock, caf::timespan,
                             handshake_done done) override {
    done(transport_ptr{
      std::make_shared<tcp_transport>(std::move(sock), max_frame_size_)});
    return nullptr;
  }

  handshake_pending_ptr make(tls_stream stream, caf::timespan,
                             handshake_done done) override {
    done(transport_ptr{
      std::make_shared<tls_transport>(std::move(stream), max_frame_size_)});
    return nullptr;
  }

private:
  uint32_t max_frame_size_;
};

} // namespace

link_factory_ptr make_length_prefix_factory(uint32_t max_frame_size) {
  return std::make_shared<length_prefix_factory>(max_frame_size);
}

} // namespace netasync::detail
