#include "stream_transport.hpp"

#include <algorithm>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <caf/send.hpp>

#include "netasync/error.hpp"
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
void stream_transport<Stream>::start(sinks to) {
  asio::post(sock_.get_executor(), [self = this->shared_from_this(), to] {
    if (self->started_)
      return;
    self->started_ = true;
    self->to_ = to;
    if (self->closed_) {
      // Closed before it started: report the end once, as promised.
      auto reason = self->close_reason_;
      self->closed_ = false;
      self->finish(close_mode::abortive, reason);
      return;
    }
    self->last_write_ = std::chrono::steady_clock::now();
    self->do_read();
    self->do_write();
    self->arm_heartbeat();
  });
}

template <class Stream>
void stream_transport<Stream>::rebind(caf::actor worker) {
  asio::post(sock_.get_executor(), [self = this->shared_from_this(), worker] {
    // The new worker decides about direct delivery afresh.
    self->sink_.reset();
    if (self->received_pending_bytes() > 0)
      caf::anon_send(worker, transport_rx_atom::value);
    if (self->closed_) {
      caf::anon_send(worker, transport_down_atom::value, self->down_reason_);
      return;
    }
    self->to_.worker = worker;
  });
}

template <class Stream>
void stream_transport<Stream>::take_received(
  const std::function<void(std::vector<bytes>&)>& deliver) {
  std::vector<bytes> result;
  std::unique_lock<std::mutex> guard{rx_mtx_};
  result.swap(rx_pending_);
  rx_pending_bytes_ = 0;
  deliver(result);
}

template <class Stream>
typename stream_transport<Stream>::receive_progress
stream_transport<Stream>::progress() const {
  std::unique_lock<std::mutex> guard{rx_mtx_};
  return {decoder_.frames() + decoder_.heartbeats(), !decoder_.idle()};
}

template <class Stream>
caf::actor_clock::time_point stream_transport<Stream>::last_received() const {
  using clock = std::chrono::steady_clock;
  return clock::time_point{clock::duration{last_read_.load()}};
}

template <class Stream>
size_t stream_transport<Stream>::received_pending_bytes() const {
  std::unique_lock<std::mutex> guard{rx_mtx_};
  return rx_pending_bytes_;
}

template <class Stream>
uint64_t stream_transport<Stream>::submitted() const {
  return submitted_.load();
}

template <class Stream>
void stream_transport<Stream>::write(std::vector<shared_bytes> payloads) {
  submitted_ += payloads.size();
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
void stream_transport<Stream>::keep_alive(caf::timespan period) {
  asio::post(sock_.get_executor(), [self = this->shared_from_this(), period] {
    self->heartbeat_period_ = period;
    self->arm_heartbeat();
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
      if (now - self->last_write_ >= self->heartbeat_period_) {
        self->queue_.push_back(pending{wire::heartbeat(), nullptr});
        self->last_write_ = now;
        self->do_write();
      }
      self->arm_heartbeat();
    });
}

template <class Stream>
void stream_transport<Stream>::deliver_directly(receive_sink_ptr sink) {
  asio::post(sock_.get_executor(),
             [self = this->shared_from_this(), sink = std::move(sink)]() mutable {
               if (self->closed_ || !sink) {
                 self->sink_.reset();
                 return;
               }
               // Held payloads must reach the subscribers first, through
               // the worker.
               if (self->received_pending_bytes() > 0) {
                 self->sink_.reset();
                 caf::anon_send(self->to_.worker,
                                transport_direct_off_atom::value);
                 return;
               }
               self->sink_ = std::move(sink);
             });
}

template <class Stream>
void stream_transport<Stream>::pause_reading() {
  asio::post(sock_.get_executor(),
             [self = this->shared_from_this()] { self->paused_ = true; });
}

template <class Stream>
void stream_transport<Stream>::resume_reading() {
  asio::post(sock_.get_executor(), [self = this->shared_from_this()] {
    self->paused_ = false;
    self->do_read();
  });
}

template <class Stream>
void stream_transport<Stream>::close(close_mode mode, caf::error reason) {
  asio::post(sock_.get_executor(), [self = this->shared_from_this(), mode,
                                    reason = std::move(reason)]() mutable {
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
    self->finish(close_mode::abortive, std::move(reason));
  });
}

template <class Stream>
std::string stream_transport<Stream>::peer() const {
  return peer_;
}

template <class Stream>
void stream_transport<Stream>::do_read() {
  if (reading_ || paused_ || closed_ || !started_)
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
          self->on_read(self->own_rbuf_.get(), n);
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
  caf::error err;
  bool got = false;
  // The worker hears of payloads it must deliver and of partial frames (it
  // times out a trickled one); whole heartbeats only move last_read_.
  bool in_frame = false;
  bool payloads = false;
  // With a sink, payloads never enter rx_pending_ (where the worker could
  // take them concurrently and deliver them after newer ones).
  std::vector<bytes> direct;
  for (size_t i = 0; i < max_reads_per_event && !paused_; ++i) {
    auto n = sock_.read_some(asio::buffer(buf), ec);
    if (ec)
      break;
    got = true;
    err = decode(buf.data(), n, in_frame, payloads, direct);
    if (err || n < buf.size())
      break; // a short read drained the socket
  }
  after_reads(got, std::move(err), in_frame, payloads, direct);
  if (closed_)
    return;
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    read_failed(ec);
    return;
  }
  do_read();
}

template <class Stream>
void stream_transport<Stream>::on_read(const char* data, size_t n) {
  bool in_frame = false;
  bool payloads = false;
  std::vector<bytes> direct;
  auto err = decode(data, n, in_frame, payloads, direct);
  after_reads(true, std::move(err), in_frame, payloads, direct);
}

template <class Stream>
caf::error stream_transport<Stream>::decode(const char* data, size_t n,
                                            bool& in_frame, bool& payloads,
                                            std::vector<bytes>& direct) {
  std::unique_lock<std::mutex> guard{rx_mtx_};
  in_frame = in_frame || !decoder_.idle();
  auto err = decoder_.consume(data, n, [&](bytes&& p) {
    if (sink_) {
      direct.emplace_back(std::move(p));
      return;
    }
    rx_pending_bytes_ += p.size();
    rx_pending_.emplace_back(std::move(p));
    payloads = true;
  });
  in_frame = in_frame || !decoder_.idle();
  return err;
}

template <class Stream>
void stream_transport<Stream>::after_reads(bool got, caf::error err,
                                           bool in_frame, bool payloads,
                                           std::vector<bytes>& direct) {
  received_any_ = received_any_ || got;
  if (got)
    last_read_.store(
      std::chrono::steady_clock::now().time_since_epoch().count());
  // Frames before a violation are good and go first.
  if (!direct.empty()) {
    if (!sink_->deliver(direct)) {
      // A window behind: the worker takes over (and stops our reading).
      sink_.reset();
      caf::anon_send(to_.worker, transport_direct_off_atom::value);
    }
  }
  if (payloads || in_frame)
    caf::anon_send(to_.worker, transport_rx_atom::value);
  if (err)
    finish(close_mode::abortive, std::move(err));
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
  std::vector<segment> segs;
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
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(segs.size());
  for (auto& sg : segs)
    bufs.emplace_back(sg.large ? asio::const_buffer(sg.large->data(), sg.end)
                               : asio::const_buffer(wbuf_.data() + sg.begin,
                                                    sg.end - sg.begin));
  writing_ = true;
  last_write_ = std::chrono::steady_clock::now();
  asio::async_write(
    sock_, bufs,
    [self = this->shared_from_this()](const boost::system::error_code& ec,
                                size_t n) {
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
      if (self->closed_) {
        // finish() ran while this write was in flight: only now is the
        // count of completely written frames final.
        self->queue_.clear();
        self->report_closed();
        return;
      }
      if (completed > 0)
        caf::anon_send(self->to_.supervisor, transport_sent_atom::value,
                       self->to_.link, completed);
      if (ec) {
        self->finish(close_mode::abortive, from_asio(ec, self->peer_));
        return;
      }
      self->do_write();
    });
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
  paused_ = false;
  do_read();
}

template <class Stream>
void stream_transport<Stream>::finish(close_mode mode, caf::error reason) {
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
  sink_.reset(); // lets go of the subscribers and the credit
  final_reason_ = reason;
  down_reason_ = reason;
  caf::anon_send(to_.worker, transport_down_atom::value, std::move(reason));
  to_.worker = nullptr;
  // A write in progress still references the queue and may still complete
  // frames: its handler clears the queue and reports.
  if (!writing_) {
    queue_.clear();
    report_closed();
  }
}

template <class Stream>
void stream_transport<Stream>::report_closed() {
  caf::anon_send(to_.supervisor, transport_closed_atom::value, to_.link,
                 written_total_, std::move(final_reason_));
  to_.supervisor = nullptr;
}

template class stream_transport<asio::ip::tcp::socket>;
template class stream_transport<tls_stream>;

} // namespace netasync::detail
