#pragma once

// The WebSocket link: one application message per binary WebSocket message,
// over Beast's websocket::stream on top of the same stream types as the
// length-prefix link (a socket, or a TLS stream over one). It is a
// `transport` like stream_transport, so the connection actors above cannot
// tell the two apart: demand, liveness, close and the end report follow the
// contract of transport.hpp, and only the framing differs.
//
// Mapping (docs/protocol.md, "WebSocket"):
// - a payload is one binary message; a text message from the peer is
//   delivered as its bytes, or refused with close 1003 (ws.refuse-text);
// - max-frame-size bounds a whole message (Beast's read_message_max), before
//   it is buffered: a larger one is refused with close 1009;
// - the heartbeat is a ping, sent when nothing was written for the
//   heartbeat period; every frame received counts as life, pongs included;
// - our close sends close 1000 once the queue is written, then waits for
//   the peer's close (bounded by close-linger in the supervisor); the
//   peer's close code and reason become the end's error text.
//
// A driver of link_core, as stream_transport is: the state machine (demand,
// close modes, the end report, heartbeat timing) is the core's; this file
// is the mapping to Beast. Threads: everything runs on the stream's strand.
// Private to the library (keeps Asio and Beast out of the public headers).

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "io_types.hpp"
#include "link_core.hpp"

namespace netasync::detail {

/// The WebSocket stream over `NextLayer`. permessage-deflate is compiled in
/// and negotiated only when ws.deflate is on.
template <class NextLayer>
using ws_stream_t = boost::beast::websocket::stream<NextLayer, true>;

template <class NextLayer>
class ws_transport final : public link_core {
public:
  using ws_stream = ws_stream_t<NextLayer>;

  /// `ws` has completed its opening handshake.
  ws_transport(ws_stream ws, uint32_t max_frame_size, bool refuse_text);

  ~ws_transport() override;

  /// Bytes asked of one read: a larger message arrives in several reads,
  /// each of which counts as life and as progress of the message.
  static constexpr size_t read_chunk = 64 * 1024;

  /// The largest frame a message is written in (see write_some()).
  static constexpr size_t write_fragment = 64 * 1024;

  /// How long Beast waits for the peer's answer to a close we send before
  /// it tears the connection down (the supervisor's close-linger is the
  /// outer bound of a graceful close).
  static constexpr auto close_handshake_timeout = std::chrono::seconds(5);

  /// Messages handed up in one go at most; and the bytes read before what
  /// was read is handed up (the read gate above counts only what it was
  /// offered).
  static constexpr size_t max_batch_messages = 256;
  static constexpr size_t max_batch_bytes = 256 * 1024;
  /// How long read messages wait for the rest of their batch at most.
  static constexpr auto max_batch_delay = std::chrono::microseconds(500);

private:
  // -- link_core's hooks ------------------------------------------------------

  void do_read() override;
  void write_some() override;
  void send_heartbeat() override;
  void close_out() override;
  void on_start() override;
  void on_finish(close_mode mode) override;
  void write_stalled() override;
  bool peer_took_more();
  tcp_lowest& lowest() override {
    return boost::beast::get_lowest_layer(ws_);
  }

  void on_read(const boost::system::error_code& ec, size_t n);
  void too_big();
  void send_close(boost::beast::websocket::close_reason why,
                  caf::error reason, bool by_us);
  caf::error peer_closed() const;
  caf::error failed(const boost::system::error_code& ec) const;

  std::shared_ptr<ws_transport> self() {
    return std::static_pointer_cast<ws_transport>(shared_from_this());
  }

  ws_stream ws_;
  size_t max_frame_size_;
  bool refuse_text_;
  boost::beast::flat_buffer rbuf_; // the message being read
  size_t batch_bytes_ = 0; // read since the last offer
  strand_timer flush_timer_;
  bool flush_armed_ = false;
  bool pinging_ = false;
  size_t write_offset_ = 0; // of the front message, written in fragments
  // A ping was read and the read waits for its pong (see write_stalled()).
  bool pong_owed_ = false;
  // Our bytes the peer had acknowledged when last looked at (0: not yet).
  uint64_t acked_ = 0;
};

using ws_tcp_transport = ws_transport<tcp_socket>;
using ws_tls_transport = ws_transport<tls_stream>;

extern template class ws_transport<tcp_socket>;
extern template class ws_transport<tls_stream>;

} // namespace netasync::detail
