#include "ws_transport.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "netasync/error.hpp"
#include "tls.hpp"

namespace netasync::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

template <class Socket>
std::string endpoint_string(const Socket& sock) {
  boost::system::error_code ec;
  auto ep = sock.remote_endpoint(ec);
  if (ec)
    return "?";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

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
  : ws_(std::move(ws)),
    refuse_text_(refuse_text),
    heartbeat_timer_(ws_.get_executor()),
    flush_timer_(ws_.get_executor()),
    last_write_(std::chrono::steady_clock::now()),
    last_read_(last_write_.time_since_epoch().count()) {
  auto& lowest = beast::get_lowest_layer(ws_);
  peer_ = endpoint_string(lowest);
  boost::system::error_code ec;
  lowest.set_option(asio::ip::tcp::no_delay{true}, ec);
  ws_.binary(true);
  // One frame per message: nothing gains from fragments of our own.
  ws_.auto_fragment(false);
  // Checked on each frame header, before the message is buffered.
  ws_.read_message_max(max_frame_size);
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
std::chrono::steady_clock::rep ws_transport<NextLayer>::now_ticks() {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

template <class NextLayer>
void ws_transport<NextLayer>::start(link_upper_ptr up,
                                    caf::timespan heartbeat_period) {
  asio::post(ws_.get_executor(), [self = this->shared_from_this(),
                                  up = std::move(up), heartbeat_period] {
    if (self->started_)
      return;
    self->started_ = true;
    self->up_ = up;
    self->heartbeat_period_ = heartbeat_period;
    if (self->closed_) {
      auto reason = self->close_reason_;
      self->closed_ = false;
      self->finish(close_mode::abortive, reason);
      return;
    }
    // Pongs (and pings, and a close) are life too: a peer that only
    // answers our pings is alive, if not reading (backpressure's case).
    std::weak_ptr<ws_transport> weak = self;
    self->ws_.control_callback(
      [weak](websocket::frame_type kind, beast::string_view) {
        auto s = weak.lock();
        if (!s)
          return;
        auto now = now_ticks();
        s->last_read_.store(now);
        // Beast answers a ping before it reads on, and the pong waits
        // behind our writes (see liveness()).
        if (kind == websocket::frame_type::ping)
          s->pong_owed_since_.store(now);
      });
    self->last_write_ = std::chrono::steady_clock::now();
    self->last_read_.store(now_ticks());
    self->do_read();
    self->do_write();
    self->arm_heartbeat();
  });
}

template <class NextLayer>
typename ws_transport<NextLayer>::liveness_info
ws_transport<NextLayer>::liveness() const {
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
  // Beast reads nothing more until the pong it owes is written, and that
  // pong waits behind our writes, which wait for the peer to read. A peer
  // that holds back its reading (its subscribers are behind) and pings us
  // would look silent: while a pong is owed behind a write of ours,
  // silence is excused, bounded by the frame timeout counted from the
  // ping. (Without a write of ours under way the pong goes out at once:
  // an idle link whose peer died is dropped after heartbeat-timeout.)
  if (auto owed = pong_owed_since_.load();
      owed != 0 && writes_in_flight_.load() > 0) {
    r.last_received = clock::now();
    r.in_frame = true;
    r.frame_started = at(fs != 0 ? std::min(fs, owed) : owed);
  }
  return r;
}

template <class NextLayer>
std::string ws_transport<NextLayer>::peer() const {
  return peer_;
}

template <class NextLayer>
void ws_transport<NextLayer>::write(std::vector<shared_bytes> payloads) {
  asio::post(ws_.get_executor(), [self = this->shared_from_this(),
                                  ps = std::move(payloads)]() mutable {
    if (self->closed_ || self->closing_)
      return;
    for (auto& p : ps)
      self->queue_.push_back(std::move(p));
    self->do_write();
  });
}

template <class NextLayer>
void ws_transport<NextLayer>::resume_reading() {
  asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
    if (self->end_held_) {
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
      self->offer();
      return;
    }
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

template <class NextLayer>
void ws_transport<NextLayer>::close(close_mode mode, caf::error reason) {
  asio::post(ws_.get_executor(), [self = this->shared_from_this(), mode,
                                  reason = std::move(reason)]() mutable {
    if (self->end_held_) {
      self->end_held_ = false;
      self->received_.clear();
      self->report_ended();
      return;
    }
    if (self->closed_)
      return;
    if (!self->started_) {
      self->closed_ = true;
      self->close_reason_ = std::move(reason);
      boost::system::error_code ec;
      beast::get_lowest_layer(self->ws_).close(ec);
      return;
    }
    if (mode == close_mode::graceful) {
      if (self->closing_)
        return;
      self->closing_ = true;
      self->close_reason_ = std::move(reason);
      self->do_write(); // sends the close frame once the queue is written
      return;
    }
    self->finish(close_mode::abortive, std::move(reason), true);
  });
}

template <class NextLayer>
void ws_transport<NextLayer>::do_read() {
  if (reading_ || held_back_.load() || closed_ || !started_)
    return;
  reading_ = true;
  ws_.async_read_some(rbuf_, read_chunk,
                      [self = this->shared_from_this()](
                        const boost::system::error_code& ec, size_t n) {
                        self->on_read(ec, n);
                      });
}

template <class NextLayer>
void ws_transport<NextLayer>::on_read(const boost::system::error_code& ec,
                                      size_t n) {
  reading_ = false;
  // A read completes only after any pong it owed was written.
  pong_owed_since_.store(0);
  if (closed_)
    return;
  if (n > 0)
    last_read_.store(now_ticks());
  if (ec) {
    if (close_sent_) { // the peer answered our close (or gave up)
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
  if (!ws_.is_message_done()) {
    if (frame_started_.load() == 0)
      frame_started_.store(now_ticks());
    do_read();
    return;
  }
  frame_started_.store(0);
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
  auto pending = beast::get_lowest_layer(ws_).available(ec2);
  if (!ec2 && pending > 0 && received_.size() < max_batch_messages
      && batch_bytes_ < max_batch_bytes) {
    if (!flush_armed_) {
      flush_armed_ = true;
      flush_timer_.expires_after(max_batch_delay);
      flush_timer_.async_wait(
        [self = this->shared_from_this()](const boost::system::error_code&) {
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

// Hands what was read to the upper; false when it said "enough".
template <class NextLayer>
bool ws_transport<NextLayer>::offer() {
  if (received_.empty() || closed_)
    return true;
  auto more = up_->on_payloads(received_);
  if (close_sent_) {
    // Our close is out: read on until the peer's, whatever the demand;
    // what the upper leaves is dropped with the link.
    received_.clear();
    return true;
  }
  held_back_.store(!more);
  return more;
}

template <class NextLayer>
void ws_transport<NextLayer>::arm_heartbeat() {
  if (!started_ || closed_ || close_sent_
      || heartbeat_period_ <= caf::timespan{0})
    return;
  heartbeat_timer_.expires_at(last_write_ + heartbeat_period_);
  heartbeat_timer_.async_wait(
    [self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->closed_ || self->close_sent_)
        return;
      auto now = std::chrono::steady_clock::now();
      if (now - self->last_write_ >= self->heartbeat_period_
          && !self->writing_ && !self->pinging_ && self->queue_.empty()) {
        self->pinging_ = true;
        ++self->writes_in_flight_;
        self->last_write_ = now;
        self->ws_.async_ping({}, [self](const boost::system::error_code& ec) {
          self->pinging_ = false;
          --self->writes_in_flight_;
          if (ec && !self->closed_ && !self->close_sent_)
            self->finish(close_mode::abortive, self->failed(ec));
        });
      }
      self->arm_heartbeat();
    });
}

template <class NextLayer>
void ws_transport<NextLayer>::do_write() {
  if (writing_ || closed_ || !started_ || close_sent_)
    return;
  if (queue_.empty()) {
    if (closing_)
      send_close(websocket::close_reason{websocket::close_code::normal},
                 close_reason_, true);
    return;
  }
  writing_ = true;
  ++writes_in_flight_;
  last_write_ = std::chrono::steady_clock::now();
  auto& p = *queue_.front();
  ws_.async_write(asio::buffer(p.data(), p.size()),
                  [self = this->shared_from_this()](
                    const boost::system::error_code& ec, size_t) {
                    self->writing_ = false;
                    --self->writes_in_flight_;
                    if (!ec) {
                      self->queue_.pop_front();
                      ++self->written_total_;
                      ++self->unreported_sent_;
                      // Reported in batches (each report is an actor
                      // message): when the queue runs dry, or every
                      // max_batch_messages.
                      if (!self->closed_
                          && (self->queue_.empty()
                              || self->unreported_sent_
                                   >= max_batch_messages)) {
                        self->up_->on_sent(self->unreported_sent_);
                        self->unreported_sent_ = 0;
                      }
                    }
                    if (self->closed_) {
                      self->report_end_when_done();
                      return;
                    }
                    if (ec) {
                      self->finish(close_mode::abortive, self->failed(ec));
                      return;
                    }
                    self->do_write();
                  });
}

// Starts the closing handshake: our close frame (after any write under
// way), then Beast reads until the peer's answer and shuts the stream
// down. `reason` is what the end reports; `by_us` drops what the upper
// has not taken (as any close of ours does).
template <class NextLayer>
void ws_transport<NextLayer>::send_close(websocket::close_reason why,
                                         caf::error reason, bool by_us) {
  if (close_sent_ || closed_)
    return;
  close_sent_ = true;
  close_reason_ = std::move(reason);
  heartbeat_timer_.cancel();
  if (by_us) {
    received_.clear();
    held_back_.store(false);
  }
  ws_.async_close(why, [self = this->shared_from_this(),
                        by_us](const boost::system::error_code&) {
    self->finish(close_mode::graceful, self->close_reason_, by_us);
  });
  // Reading goes on until the peer's close frame (offer() drops what the
  // upper leaves): a peer must be read to see its answer.
  do_read();
}

template <class NextLayer>
void ws_transport<NextLayer>::finish(close_mode mode, caf::error reason,
                                     bool by_us) {
  if (closed_)
    return;
  closed_ = true;
  boost::system::error_code ec;
  auto& lowest = beast::get_lowest_layer(ws_);
  if (mode == close_mode::abortive)
    lowest.set_option(asio::socket_base::linger{true, 0}, ec);
  lowest.close(ec);
  heartbeat_timer_.cancel();
  flush_timer_.cancel();
  final_reason_ = std::move(reason);
  keep_received_ = !by_us;
  report_end_when_done();
}

template <class NextLayer>
void ws_transport<NextLayer>::report_end_when_done() {
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

template <class NextLayer>
void ws_transport<NextLayer>::report_ended() {
  if (auto up = std::move(up_))
    up->on_ended(written_total_, final_reason_);
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
                        + std::to_string(ws_.read_message_max())
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
