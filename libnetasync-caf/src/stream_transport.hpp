#pragma once

// The length-prefix link over any Asio byte stream: a driver of link_core
// (the state machine every link shares), with the frame decoder fed by large
// reads and the write queue drained by gather writes that coalesce small
// frames. The stream is a type parameter, as Asio
// composes streams: `tcp_transport` (a socket) and `tls_transport` (an
// ssl::stream over a socket) are the same code. What differs is said once,
// in `reads_on_readiness` below. The stream arrives connected (and, for TLS,
// handshaken): obtaining a link is the dialer's and the listener's job.
// Private to the library (keeps Asio out of the public headers).

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/strand.hpp>

#include "io_types.hpp"
#include "link_core.hpp"
#include "wire/frame_decoder.hpp"
#include "wire/header.hpp"

namespace netasync::detail {

namespace asio = boost::asio;

template <class Stream>
class stream_transport final : public link_core {
public:
  using stream_type = Stream;

  /// A plain socket is read on readiness into a buffer shared by all links
  /// of an I/O thread (no buffer per idle link). A TLS stream must read
  /// through OpenSSL with asynchronous reads (a synchronous TLS read may
  /// have to write, which a non-blocking socket cannot promise), into a
  /// buffer of the link's own while a read is pending.
  static constexpr bool reads_on_readiness
    = std::is_same_v<Stream, tcp_socket>;

  /// `sock` is connected (handshaken) and bound to a strand executor.
  stream_transport(Stream sock, uint32_t max_frame_size);

  ~stream_transport() override;

  /// Bytes read per read call, into a buffer shared by all connections of an
  /// I/O thread: an idle connection holds no read buffer.
  static constexpr size_t read_buffer_size = 256 * 1024;
  /// The pending read's buffer of a link that cannot read on readiness:
  /// one TLS record's plaintext.
  static constexpr size_t own_read_buffer_size = 16 * 1024;
  /// Reads per readiness event before others get their turn.
  static constexpr size_t max_reads_per_event = 4;
  /// Frames and bytes per write.
  static constexpr size_t max_batch_frames = 1024;
  static constexpr size_t max_batch_bytes = 1024 * 1024;
  /// Payloads up to this size are copied next to their header into one
  /// contiguous write buffer (one iovec for many frames); larger ones are
  /// written from where they are.
  static constexpr size_t copy_threshold = 1024;
  /// Capacity of the write buffer kept between writes.
  static constexpr size_t kept_write_buffer = 64 * 1024;

private:
  // -- link_core's hooks ------------------------------------------------------

  void do_read() override;
  void write_some() override;
  void send_heartbeat() override;
  void close_out() override;
  tcp_lowest& lowest() override {
    return sock_.lowest_layer();
  }

  void on_readable();
  bool consume_read(const char* data, size_t n);
  bool read_failed(const boost::system::error_code& ec);
  void on_written(const boost::system::error_code& ec, size_t n);

  std::shared_ptr<stream_transport> self() {
    return std::static_pointer_cast<stream_transport>(shared_from_this());
  }

  Stream sock_;
  // The pending read's buffer of a link that cannot read on readiness.
  std::unique_ptr<char[]> own_rbuf_;
  wire::frame_decoder decoder_;
  std::vector<char> wbuf_; // small frames of the write in flight
  size_t batch_frames_ = 0; // front payloads of queue_ in the current write
  bool received_any_ = false;
};

using tcp_transport = stream_transport<tcp_socket>;
using tls_transport = stream_transport<tls_stream>;

extern template class stream_transport<tcp_socket>;
extern template class stream_transport<tls_stream>;

} // namespace netasync::detail
