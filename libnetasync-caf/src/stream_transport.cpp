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
  : link_core(sock.get_executor()),
    sock_(std::move(sock)),
    decoder_(max_frame_size) {
  name_peer();
  auto& lowest = sock_.lowest_layer();
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
void stream_transport<Stream>::do_read() {
  if (!may_read())
    return;
  reading_ = true;
  if constexpr (reads_on_readiness) {
    // Wait for readiness, then read into the thread's buffer: a connection
    // that waits for data owns no buffer.
    sock_.async_wait(Stream::wait_read,
                     [self = self()](const boost::system::error_code& ec) {
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
      [self = self()](const boost::system::error_code& ec, size_t n) {
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
  if (close_out_) { // the peer answered our FIN (or gave up)
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

// One read's bytes: decoded and handed up (link_core::consume_frames).
template <class Stream>
bool stream_transport<Stream>::consume_read(const char* data, size_t n) {
  received_any_ = true;
  return consume_frames(decoder_, data, n);
}

// The idle link's heartbeat: four zero bytes from a shared constant, not
// through the queue (whose storage an idle link does not keep), so a
// heartbeat costs no allocation.
template <class Stream>
void stream_transport<Stream>::send_heartbeat() {
  static const wire::header zero = wire::heartbeat();
  writing_ = true;
  asio::async_write(sock_, asio::buffer(zero), transfer_all_at_once{},
                    [self = self()](const boost::system::error_code& ec,
                                    size_t) {
                      self->writing_ = false;
                      self->after_write(ec ? from_asio(ec, self->peer_)
                                           : caf::error{});
                    });
}

template <class Stream>
void stream_transport<Stream>::write_some() {
  // The frames of this write, in order: small ones copied with their
  // headers into wbuf_, large payloads referenced where they are. Offsets
  // first, buffers after: wbuf_ must not move once buffers point into it.
  struct segment {
    size_t begin; // in wbuf_, or the payload when `large`
    size_t end;
    const bytes* large;
  };
  // Reused by every link of this I/O thread (write_some does not nest).
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
  for (auto& payload : queue_) {
    auto sz = payload->size();
    if (batch_frames_ > 0
        && (batch_frames_ == max_batch_frames
            || batch_bytes + sz > max_batch_bytes))
      break;
    auto head = wire::make_header(static_cast<uint32_t>(sz));
    append(head.data(), head.size());
    if (sz > copy_threshold)
      segs.push_back(segment{0, sz, payload.get()});
    else
      append(payload->data(), sz);
    batch_bytes += wire::header_size + sz;
    ++batch_frames_;
  }
  auto done = [self = self()](const boost::system::error_code& ec, size_t n) {
    self->on_written(ec, n);
  };
  writing_ = true;
  if (segs.size() == 1 && !segs[0].large) {
    // Small frames only (the usual case): one contiguous buffer.
    asio::async_write(sock_,
                      asio::buffer(wbuf_.data() + segs[0].begin,
                                   segs[0].end - segs[0].begin),
                      transfer_all_at_once{}, std::move(done));
    return;
  }
  std::vector<asio::const_buffer> bufs;
  bufs.reserve(segs.size());
  for (auto& sg : segs)
    bufs.emplace_back(sg.large ? asio::const_buffer(sg.large->data(), sg.end)
                               : asio::const_buffer(wbuf_.data() + sg.begin,
                                                    sg.end - sg.begin));
  asio::async_write(sock_, bufs, transfer_all_at_once{}, std::move(done));
}

// Counts the frames a write completed, even if it failed midway.
template <class Stream>
void stream_transport<Stream>::on_written(const boost::system::error_code& ec,
                                          size_t n) {
  writing_ = false;
  uint64_t completed = 0;
  size_t completed_bytes = 0;
  while (completed < batch_frames_ && !queue_.empty()) {
    auto sz = queue_.front()->size();
    if (n < wire::header_size + sz)
      break;
    n -= wire::header_size + sz;
    completed_bytes += sz;
    queue_.pop_front();
    ++completed;
  }
  batch_frames_ = 0;
  if (wbuf_.capacity() > kept_write_buffer)
    std::vector<char>{}.swap(wbuf_);
  if (completed > 0)
    written(completed, completed_bytes);
  after_write(ec ? from_asio(ec, peer_) : caf::error{});
}

template <class Stream>
void stream_transport<Stream>::close_out() {
  // FIN to the peer, then read until it closes too: closing with unread
  // input would make the kernel send RST instead of FIN.
  closing_out(true);
  boost::system::error_code ec;
  // TLS too: no close_notify (see docs/protocol.md, "TLS"); the length
  // prefix already tells a whole message from a torn one.
  sock_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  do_read();
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
