#pragma once

// The length-prefix link over any Asio byte stream: the stream on a strand,
// the frame decoder fed by large reads, and a write queue drained by gather
// writes that coalesce small frames. The stream is a type parameter, as Asio
// composes streams: `tcp_transport` (a socket) and `tls_transport` (an
// ssl::stream over a socket) are the same code. What differs is said once,
// in `reads_on_readiness` below. The stream arrives connected (and, for TLS,
// handshaken): obtaining a link is the dialer's and the listener's job.
// Private to the library (keeps Asio out of the public headers).

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "io_types.hpp"
#include "lazy_deque.hpp"
#include "transport.hpp"
#include "wire/frame_decoder.hpp"
#include "wire/header.hpp"

namespace netasync::detail {

namespace asio = boost::asio;

template <class Stream>
class stream_transport
  : public transport,
    public std::enable_shared_from_this<stream_transport<Stream>> {
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

  void start(link_upper_ptr up, caf::timespan heartbeat_period) override;
  void write(std::vector<shared_bytes> payloads) override;
  void resume_reading() override;
  void close(close_mode mode, caf::error reason) override;
  liveness_info liveness() const override;
  std::string peer() const override;

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
  /// Heartbeat due times are rounded up to a grid of 1/20 of the period, at
  /// most this: the timers of many idle links expire together, one wake-up
  /// for all of them instead of one per link.
  static constexpr caf::timespan max_heartbeat_grid
    = std::chrono::milliseconds(50);

private:
  struct pending {
    wire::header head;
    shared_bytes payload; // null for a heartbeat
  };

  void do_read();
  void on_readable();
  bool consume_read(const char* data, size_t n);
  caf::error decode(const char* data, size_t n);
  bool offer();
  bool read_failed(const boost::system::error_code& ec);
  void arm_heartbeat();
  void do_write();
  void write_heartbeat();
  void after_write(const boost::system::error_code& ec);
  void half_close();
  void finish(close_mode mode, caf::error reason, bool by_us = false);
  void report_end_when_done();
  void report_ended();
  static std::chrono::steady_clock::rep now_ticks();

  // Everything below is touched on the strand only, except the atomics
  // (read by liveness() from the watchdog's thread).
  Stream sock_;
  std::string peer_;
  // The pending read's buffer of a link that cannot read on readiness.
  std::unique_ptr<char[]> own_rbuf_;
  link_upper_ptr up_;
  wire::frame_decoder decoder_;
  // Payloads decoded and not yet taken by the upper (it said "enough").
  std::vector<bytes> received_;
  std::vector<char> wbuf_; // small frames of the write in flight
  strand_timer heartbeat_timer_;
  caf::timespan heartbeat_period_{0};
  std::chrono::steady_clock::time_point last_write_;
  lazy_deque<pending> queue_;
  size_t batch_frames_ = 0; // front frames of queue_ in the current write
  uint64_t written_total_ = 0;
  // steady_clock ticks of the last read, and of the start of the partial
  // frame (0: none).
  std::atomic<std::chrono::steady_clock::rep> last_read_;
  std::atomic<std::chrono::steady_clock::rep> frame_started_{0};
  std::atomic<bool> held_back_{false}; // the upper said "enough"
  bool drop_after_fin_ = false; // see offer()
  bool started_ = false;
  bool received_any_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;     // graceful close requested
  bool half_closed_ = false; // our FIN is out, waiting for the peer's
  bool closed_ = false;
  // Ended by the peer (or by a failure) while payloads wait in received_
  // for want of a subscriber: the end is reported once the upper took them
  // (resume_reading) or our own close() dropped them, so a peer that sends
  // and closes at once loses nothing to a subscriber that comes a moment
  // late.
  bool keep_received_ = false;
  bool end_held_ = false;
  caf::error close_reason_;
  caf::error final_reason_;
};

using tcp_transport = stream_transport<tcp_socket>;
using tls_transport = stream_transport<tls_stream>;

extern template class stream_transport<tcp_socket>;
extern template class stream_transport<tls_stream>;

} // namespace netasync::detail
