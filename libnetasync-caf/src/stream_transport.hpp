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
#include <mutex>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

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
    = std::is_same_v<Stream, asio::ip::tcp::socket>;

  /// `sock` is connected (handshaken) and bound to a strand executor.
  stream_transport(Stream sock, uint32_t max_frame_size);

  ~stream_transport() override;

  void start(sinks to) override;
  void rebind(caf::actor worker) override;
  uint64_t submitted() const override;
  void take_received(
    const std::function<void(std::vector<bytes>&)>& deliver) override;
  receive_progress progress() const override;
  caf::actor_clock::time_point last_received() const override;
  size_t received_pending_bytes() const override;
  void write(std::vector<shared_bytes> payloads) override;
  void keep_alive(caf::timespan period) override;
  void deliver_directly(receive_sink_ptr sink) override;
  void pause_reading() override;
  void resume_reading() override;
  void close(close_mode mode, caf::error reason) override;
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
  void on_read(const char* data, size_t n);
  caf::error decode(const char* data, size_t n, bool& in_frame,
                    bool& payloads, std::vector<bytes>& direct);
  bool read_failed(const boost::system::error_code& ec);
  void after_reads(bool got, caf::error err, bool in_frame, bool payloads,
                   std::vector<bytes>& direct);
  void arm_heartbeat();
  void do_write();
  void half_close();
  void finish(close_mode mode, caf::error reason);
  void report_closed();

  Stream sock_;
  std::string peer_;
  // The pending read's buffer of a link that cannot read on readiness.
  std::unique_ptr<char[]> own_rbuf_;
  sinks to_;
  wire::frame_decoder decoder_;
  std::vector<char> wbuf_; // small frames of the write in flight
  asio::steady_timer heartbeat_timer_;
  caf::timespan heartbeat_period_{0};
  std::chrono::steady_clock::time_point last_write_;
  lazy_deque<pending> queue_;
  size_t batch_frames_ = 0; // front frames of queue_ in the current write
  uint64_t written_total_ = 0;
  std::atomic<uint64_t> submitted_{0}; // written by callers of write()
  // Received payloads waiting for a worker to take them.
  mutable std::mutex rx_mtx_;
  std::vector<bytes> rx_pending_;
  size_t rx_pending_bytes_ = 0;
  // Where payloads go straight from the I/O thread, if set (strand only).
  receive_sink_ptr sink_;
  // steady_clock ticks of the last read (read by the worker's thread).
  std::atomic<std::chrono::steady_clock::rep> last_read_;
  bool started_ = false;
  bool received_any_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool closing_ = false;     // graceful close requested
  bool half_closed_ = false; // our FIN is out, waiting for the peer's
  bool closed_ = false;
  caf::error close_reason_;
  caf::error final_reason_;
  caf::error down_reason_; // kept for a worker bound after the end
};

using tcp_transport = stream_transport<asio::ip::tcp::socket>;
using tls_stream = asio::ssl::stream<asio::ip::tcp::socket>;
using tls_transport = stream_transport<tls_stream>;

extern template class stream_transport<asio::ip::tcp::socket>;
extern template class stream_transport<tls_stream>;

} // namespace netasync::detail
