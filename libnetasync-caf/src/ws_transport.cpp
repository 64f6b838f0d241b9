#include "ws_transport.hpp"

#include <algorithm>


#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "netasync/error.hpp"
#include "tcp_acked.hpp"
#include "tls.hpp"

namespace netasync::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

// RFC 6455 section 7.4.1's name of a close code, for error texts.
const char* close_code_name(uint16_t code) {
  switch (code) {
    case 1000: return "normal";
    case 1001: return "going away";
    case 1002: return "protocol error";
    case 1003: return "unsupported data";
    case 1005: return "no status";
    case 1006: return "abnormal";
    case 1007: return "invalid payload";
    case 1008: return "policy violation";
    case 1009: return "message too big";
    case 1010: return "extension required";
    case 1011: return "internal error";
    case 1012: return "service restart";
    case 1013: return "try again later";
    default: return "application code";
  }
}

} // namespace

template <class NextLayer>
ws_transport<NextLayer>::ws_transport(ws_stream ws, uint32_t max_frame_size,
                                      bool refuse_text)
  : link_core(ws.get_executor()),
    ws_(std::move(ws)),
    max_frame_size_(max_frame_size),
    refuse_text_(refuse_text),
    flush_timer_(ws_.get_executor()) {
  name_peer();
  boost::system::error_code ec;
  lowest().set_option(asio::ip::tcp::no_delay{true}, ec);
  ws_.binary(true);
  // Beast does not cut messages into frames: write_some() does, at
  // write_fragment bytes, so that a pong can go out between them.
  ws_.auto_fragment(false);
  // max-frame-size is checked as a message arrives (too_big); Beast's own
  // limit, checked on each frame header before anything is buffered, only
  // stops hostile lengths (2^63).
  ws_.read_message_max(std::max<uint64_t>(uint64_t{max_frame_size} * 16,
                                          uint64_t{1} << 30));
  // The closing handshake of a close we start is bounded; our liveness
  // rule (heartbeat-timeout) watches an open link, not Beast's idle timer.
  websocket::stream_base::timeout opt{close_handshake_timeout,
                                      websocket::stream_base::none(), false};
  ws_.set_option(opt);
}

template <class NextLayer>
ws_transport<NextLayer>::~ws_transport() {
  boost::system::error_code ec;
  beast::get_lowest_layer(ws_).close(ec);
}

template <class NextLayer>
void ws_transport<NextLayer>::on_start() {
  // Pongs (and pings, and a close) are life too: a peer that only answers
  // our pings is alive, if not reading (backpressure's case).
  std::weak_ptr<ws_transport> weak = self();
  ws_.control_callback(
    [weak](websocket::frame_type kind, beast::string_view) {
      auto s = weak.lock();
      if (!s)
        return;
      s->bytes_arrived();
      if (kind == websocket::frame_type::ping)
        s->pong_owed_ = true; // Beast reads on once its pong is written
    });
}

template <class NextLayer>
void ws_transport<NextLayer>::on_finish(close_mode) {
  flush_timer_.cancel();
}

// Beast reads nothing past a ping until its pong is written, and the pong
// waits for our write under way, which waits for the peer to read. A peer
// that reads slowly (its subscribers are behind) is then not heard, though
// alive: while that lasts, the peer acknowledging more of our bytes
// (tcp_acked.hpp) is its sign of life. A peer that reads nothing fills its
// receive buffer, acknowledges nothing more, and goes after
// heartbeat-timeout.
template <class NextLayer>
void ws_transport<NextLayer>::write_stalled() {
  if (pong_owed_ && peer_took_more())
    bytes_arrived();
}

template <class NextLayer>
bool ws_transport<NextLayer>::peer_took_more() {
  auto n = tcp_bytes_acked(lowest().native_handle());
  bool more = acked_ != 0 && n > acked_;
  acked_ = n;
  return more;
}

template <class NextLayer>
void ws_transport<NextLayer>::do_read() {
  if (!may_read())
    return;
  reading_ = true;
  ws_.async_read_some(rbuf_, read_chunk,
                      [self = self()](const boost::system::error_code& ec,
                                      size_t n) { self->on_read(ec, n); });
}

template <class NextLayer>
void ws_transport<NextLayer>::on_read(const boost::system::error_code& ec,
                                      size_t n) {
  reading_ = false;
  pong_owed_ = false; // a read completes only after its pong was written
  acked_ = 0;         // the next wait for a pong counts from its own start
  if (closed_)
    return;
  if (n > 0)
    bytes_arrived();
  if (ec) {
    if (close_out_) { // the peer answered our close (or gave up)
      finish(close_mode::graceful, close_reason_, true);
      return;
    }
    // A batch read before the end goes up first: the upper must have
    // seen what the end holds for it (transport.hpp, on_ended).
    batch_bytes_ = 0;
    offer();
    finish(close_mode::abortive, failed(ec));
    return;
  }
  if (close_out_) {
    // After our close: read (and drop) until the peer's close frame.
    rbuf_.clear();
    do_read();
    return;
  }
  if (rbuf_.size() > max_frame_size_) {
    too_big();
    return;
  }
  if (!ws_.is_message_done()) {
    frame_begun();
    do_read();
    return;
  }
  frame_done();
  if (ws_.got_text() && refuse_text_) {
    rbuf_.clear();
    batch_bytes_ = 0;
    offer(); // what came before the violation is good
    send_close(websocket::close_reason{websocket::close_code::unknown_data,
                                       "text messages are refused"},
               make_error(error::ws_protocol_violation,
                          peer_ + ": a text message (ws.refuse-text is on); "
                                  "closed with 1003"),
               false);
    return;
  }
  auto data = rbuf_.data();
  // An empty message is not a payload (that cannot be sent): as a
  // heartbeat on TCP, it only counts as life.
  if (data.size() > 0) {
    auto p = static_cast<const char*>(data.data());
    received_.emplace_back(p, p + data.size());
    batch_bytes_ += data.size();
  }
  rbuf_.clear();
  // A large message's buffer is not kept for the small ones after it.
  if (rbuf_.capacity() > 2 * read_chunk)
    rbuf_.shrink_to_fit();
  // Small messages are handed up together while more bytes wait in the
  // socket: each hand-off may wake a subscriber, and one per message cost
  // most of the time at 64 B (a WebSocket read yields one message). The
  // bytes waiting may be no message (a ping, a message's first part): a
  // short timer hands up what is held if the next read does not complete.
  boost::system::error_code ec2;
  auto pending = lowest().available(ec2);
  if (!ec2 && pending > 0 && received_.size() < max_batch_messages
      && batch_bytes_ < max_batch_bytes) {
    if (!flush_armed_) {
      flush_armed_ = true;
      flush_timer_.expires_after(max_batch_delay);
      flush_timer_.async_wait(
        [self = self()](const boost::system::error_code&) {
          self->flush_armed_ = false;
          if (self->closed_ || self->held_back_.load())
            return;
          self->batch_bytes_ = 0;
          self->offer(); // a read is pending: it reads on, or stops
        });
    }
    do_read();
    return;
  }
  batch_bytes_ = 0;
  if (!offer())
    return;
  do_read();
}

// A message past max-frame-size, checked as it arrives (Beast's own limit,
// read_message_max, is kept far above it for hostile frame headers: on it
// Beast 1.74 closes with 1009 but resets the socket with the rest unread,
// and the peer then loses our close frame and reports 1006). Our close
// 1009 instead, and reading on, dropping the rest, until the peer's close
// (RFC 6455 7.1.1), bounded by close_handshake_timeout.
template <class NextLayer>
void ws_transport<NextLayer>::too_big() {
  rbuf_.clear();
  rbuf_.shrink_to_fit();
  batch_bytes_ = 0;
  offer(); // the messages before it are good
  send_close(websocket::close_reason{websocket::close_code::too_big,
                                     "message too big"},
             make_error(error::frame_too_large,
                        peer_ + ": a message over max-frame-size ("
                          + std::to_string(max_frame_size_)
                          + " bytes); closed with 1009"),
             false);
}

// A ping, unless the last one is still under way.
template <class NextLayer>
void ws_transport<NextLayer>::send_heartbeat() {
  if (pinging_)
    return;
  pinging_ = true;
  ws_.async_ping({}, [self = self()](const boost::system::error_code& ec) {
    self->pinging_ = false;
    if (ec && !self->closed_ && !self->close_out_)
      self->finish(close_mode::abortive, self->failed(ec));
  });
}

// One message, in frames of at most write_fragment bytes: Beast reads
// nothing past a ping until its pong is written, and a pong waits for the
// write under way. Written whole, a large message would keep a peer that
// reads slowly (its subscribers are behind) from being heard for as long
// as the message takes; between fragments its pong goes out, and only a
// peer that reads nothing at all falls silent (and is dropped after
// heartbeat-timeout, as any silent peer).
template <class NextLayer>
void ws_transport<NextLayer>::write_some() {
  writing_ = true;
  auto& p = *queue_.front();
  auto rest = p.size() - write_offset_;
  auto n = std::min(rest, write_fragment);
  bool fin = n == rest;
  ws_.async_write_some(fin, asio::buffer(p.data() + write_offset_, n),
                       [self = self(), n, fin](const boost::system::error_code& ec,
                                               size_t) {
                         self->writing_ = false;
                         if (!ec) {
                           if (self->pong_owed_ && self->peer_took_more())
                             self->bytes_arrived(); // see write_stalled()
                           self->write_offset_ += n;
                           if (fin) {
                             auto size = self->queue_.front()->size();
                             self->queue_.pop_front();
                             self->write_offset_ = 0;
                             self->written(1, size);
                           }
                         }
                         self->after_write(ec ? self->failed(ec)
                                              : caf::error{});
                       });
}

template <class NextLayer>
void ws_transport<NextLayer>::close_out() {
  send_close(websocket::close_reason{websocket::close_code::normal},
             close_reason_, true);
}

// Starts the closing handshake: our close frame (after any write under
// way), then Beast reads until the peer's answer and shuts the stream
// down. `reason` is what the end reports; `by_us` drops what the upper
// has not taken (as any close of ours does).
template <class NextLayer>
void ws_transport<NextLayer>::send_close(websocket::close_reason why,
                                         caf::error reason, bool by_us) {
  if (close_out_ || closed_)
    return;
  closing_out(by_us);
  close_reason_ = std::move(reason);
  ws_.async_close(why, [self = self(), by_us](const boost::system::error_code&) {
    self->finish(close_mode::graceful, self->close_reason_, by_us);
  });
  // Reading goes on until the peer's close frame (offer() drops what the
  // upper leaves): a peer must be read to see its answer.
  do_read();
}

template <class NextLayer>
caf::error ws_transport<NextLayer>::peer_closed() const {
  auto r = ws_.reason();
  // A close frame without a code is 1005 (RFC 6455 7.1.5); Beast says 0.
  auto code = r.code == 0 ? uint16_t{1005} : static_cast<uint16_t>(r.code);
  std::string text = peer_ + ": the peer closed the WebSocket with "
                     + std::to_string(code) + " (" + close_code_name(code)
                     + ")";
  if (!r.reason.empty())
    text += ": " + std::string{r.reason.data(), r.reason.size()};
  return make_error(error::connection_lost, std::move(text));
}

template <class NextLayer>
caf::error
ws_transport<NextLayer>::failed(const boost::system::error_code& ec) const {
  if (ec == websocket::error::closed)
    return peer_closed();
  if (ec == websocket::error::message_too_big)
    return make_error(error::frame_too_large,
                      peer_ + ": a message over max-frame-size ("
                        + std::to_string(max_frame_size_)
                        + " bytes); closed with 1009");
  if (ec == asio::error::eof || ec == asio::error::connection_reset
      || ec == asio::error::broken_pipe
      || ec == asio::ssl::error::stream_truncated)
    return make_error(error::connection_lost,
                      peer_ + ": the connection ended without a close frame "
                              "(1006, abnormal)");
  if (ec == websocket::error::bad_frame_payload)
    return make_error(error::ws_protocol_violation,
                      peer_ + ": " + ec.message() + "; closed with 1007");
  if (ec == websocket::condition::protocol_violation)
    return make_error(error::ws_protocol_violation,
                      peer_ + ": " + ec.message() + "; closed with 1002");
  return make_error(error::io_error, peer_ + ": " + tls_reason(ec));
}

template class ws_transport<tcp_socket>;
template class ws_transport<tls_stream>;

} // namespace netasync::detail
