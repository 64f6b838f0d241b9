// The HTTP client's connection: Beast writes the request and parses the
// response, within the exchange's bounds (header and body size, time). No
// HTTP parsing of our own.

#include "http/client_conn.hpp"

#include <algorithm>
#include <limits>
#include <optional>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "http/client_url.hpp"
#include "http/util.hpp"
#include "io_types.hpp"
#include "netasync/error.hpp"
#include "tls.hpp"

namespace netasync::detail {

http_conn::~http_conn() {
  // nop
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using namespace http_util;

bool has_field(const http_fields& xs, std::string_view lower_name) {
  return field(xs, lower_name) != nullptr;
}

// What a failed write or read means to the application.
caf::error classify(const boost::system::error_code& ec, const http_job& job,
                    const std::string& where, bool reading, bool got_some,
                    bool first_exchange) {
  using http::error;
  // TLS 1.3 servers judge a client's certificate after the handshake as the
  // client sees it: their alert arrives with the first exchange.
  if (ec.category() == asio::error::get_ssl_category() && first_exchange
      && ec != asio::ssl::error::stream_truncated)
    return make_error(netasync::error::tls_handshake_failed,
                      where + ": " + tls_reason(ec));
  if (ec == error::body_limit)
    return make_error(netasync::error::http_response_too_large,
                      where + ": the response body is larger than "
                        + std::to_string(job.max_body_bytes) + " bytes");
  if (ec == error::header_limit)
    return make_error(netasync::error::http_response_too_large,
                      where + ": the response header is larger than "
                        + std::to_string(job.max_header_bytes) + " bytes");
  if (ec == error::end_of_stream || ec == asio::error::eof
      || ec == asio::error::connection_reset
      || ec == asio::error::broken_pipe
      || ec == asio::ssl::error::stream_truncated)
    return make_error(netasync::error::connection_lost,
                      where + ": the server closed the connection "
                        + (!reading    ? "while the request was written"
                           : got_some ? "in the middle of the response"
                                      : "before answering"));
  if (ec == error::partial_message)
    return make_error(netasync::error::connection_lost,
                      where + ": the server closed the connection in the "
                              "middle of the response");
  if (ec.category() == http::make_error_code(error::bad_version).category())
    return make_error(netasync::error::http_response_invalid,
                      where + ": " + ec.message());
  return make_error(netasync::error::io_error, where + ": " + tls_reason(ec));
}

// A response body read into a string as it arrives, without Beast's
// string_body reserving the announced Content-Length up front (a streamed
// 4 GB download would allocate 4 GB at its first byte; a whole body is
// bounded by max-body-bytes either way).
struct growing_body {
  using value_type = std::string;

  class reader {
  public:
    template <bool IsRequest, class Fields>
    reader(http::header<IsRequest, Fields>&, value_type& body) : body_(body) {
      // nop
    }

    void init(const boost::optional<uint64_t>&, beast::error_code& ec) {
      ec = {};
    }

    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      auto n = beast::buffer_bytes(buffers);
      auto at = body_.size();
      body_.resize(at + n);
      ec = {};
      return asio::buffer_copy(asio::buffer(&body_[at], n), buffers);
    }

    void finish(beast::error_code& ec) {
      ec = {};
    }

  private:
    value_type& body_;
  };
};

template <class Stream>
class conn_impl : public http_conn,
                  public std::enable_shared_from_this<conn_impl<Stream>> {
public:
  explicit conn_impl(Stream s)
    : s_(std::move(s)), timer_(s_.get_executor()) {
    where_ = peer_of(s_);
  }

  void exchange(http_job job,
                std::function<void(http_outcome)> done) override {
    asio::post(s_.get_executor(),
               [self = this->shared_from_this(), job = std::move(job),
                done = std::move(done)]() mutable {
                 self->run(std::move(job), std::move(done));
               });
  }

  void close() override {
    asio::post(s_.get_executor(), [self = this->shared_from_this()] {
      self->shut();
      // A streamed body paused for its subscriber ends now.
      if (self->streaming_ && !self->reading_)
        self->end_stream(make_error(error::connection_lost,
                                    self->where_ + ": closed"));
    });
  }

  void resume() override {
    asio::post(s_.get_executor(), [self = this->shared_from_this()] {
      if (self->streaming_ && !self->reading_)
        self->read_piece();
    });
  }

private:
  void run(http_job job, std::function<void(http_outcome)> done) {
    ++exchanges_;
    job_ = std::move(job);
    done_ = std::move(done);
    if (closed_) {
      http_outcome out;
      out.nothing_received = true;
      out.response = make_error(error::connection_lost,
                                where_ + ": the connection is closed");
      finish(std::move(out));
      return;
    }
    req_ = {};
    req_.method_string(job_.method);
    req_.target(job_.target);
    req_.version(11);
    for (auto& [name, value] : job_.headers)
      req_.insert(name, value);
    if (!has_field(job_.headers, "host"))
      req_.set(http::field::host, job_.host);
    if (!has_field(job_.headers, "user-agent"))
      req_.set(http::field::user_agent, server_name);
    req_.body() = std::move(job_.body);
    // A body gets its Content-Length; so does a POST, PUT or PATCH without
    // one (servers may refuse a length-less body request with 411).
    if (!has_field(job_.headers, "content-length")
        && !has_field(job_.headers, "transfer-encoding")
        && (!req_.body().empty() || job_.method == "POST"
            || job_.method == "PUT" || job_.method == "PATCH"))
      req_.prepare_payload();
    timed_out_ = false;
    // A timer that fired just as its exchange ended must not end the next.
    auto gen = ++gen_;
    timer_.expires_after(job_.timeout);
    timer_.async_wait(
      [self = this->shared_from_this(), gen](const boost::system::error_code& ec) {
        if (ec || gen != self->gen_ || !self->done_)
          return;
        self->timed_out_ = true;
        self->shut();
      });
    http::async_write(s_, req_,
                      [self = this->shared_from_this()](
                        const boost::system::error_code& ec, size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(const boost::system::error_code& ec) {
    if (ec) {
      // A server that refuses us may have said why before it closed (an
      // HTTP 413, a TLS alert such as "certificate required"): read that
      // rather than report the broken pipe, unless the stream is gone.
      if (closed_ || ec == asio::error::operation_aborted) {
        fail(ec, false);
        return;
      }
      write_error_ = ec;
    } else {
      written_ = true;
    }
    read_head();
  }

  void read_head() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(std::min<size_t>(
      job_.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    if (job_.stream)
      // Paced by its subscriber instead. (Not boost::none: Beast 1.74 then
      // refuses any Content-Length, boostorg/beast#2070.)
      parser_->body_limit(std::numeric_limits<uint64_t>::max());
    else
      parser_->body_limit(job_.max_body_bytes);
    if (job_.method == "HEAD")
      parser_->skip(true);
    if (job_.stream) {
      http::async_read_header(s_, buf_, *parser_,
                              [self = this->shared_from_this()](
                                const boost::system::error_code& ec, size_t) {
                                self->on_read(ec);
                              });
      return;
    }
    http::async_read(s_, buf_, *parser_,
                     [self = this->shared_from_this()](
                       const boost::system::error_code& ec, size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(const boost::system::error_code& ec) {
    if (ec) {
      fail(ec, true);
      return;
    }
    auto& msg = parser_->get();
    // An interim answer (100 Continue, 103 Early Hints) precedes the real
    // one: read on.
    if (msg.result_int() >= 100 && msg.result_int() < 200
        && msg.result_int() != 101) {
      got_interim_ = true;
      read_head();
      return;
    }
    timer_.cancel();
    http_outcome out;
    out.written = true;
    http_response res;
    res.status = static_cast<uint16_t>(msg.result_int());
    for (auto& field : msg)
      res.headers.emplace_back(std::string{field.name_string()},
                               std::string{field.value()});
    if (job_.stream) {
      // The head now; the body piece by piece, at its subscriber's pace.
      out.response = std::move(res);
      finish(std::move(out));
      streaming_ = true;
      read_piece();
      return;
    }
    res.body = std::move(msg.body());
    // Bytes past the response are nothing we asked for: the connection
    // is not used again.
    out.keep_alive = msg.keep_alive() && buf_.size() == 0
                     && msg.result_int() != 101 && !closed_ && !write_error_;
    out.response = std::move(res);
    if (!out.keep_alive)
      shut();
    finish(std::move(out));
  }

  // -- streamed bodies -------------------------------------------------------

  // Hands on what the parser holds, or reads more; one piece at a time.
  void read_piece() {
    auto& body = parser_->get().body();
    if (!body.empty()) {
      std::string piece;
      piece.swap(body);
      reading_ = false;
      job_.on_piece(std::move(piece));
      return;
    }
    if (parser_->is_done()) {
      auto keep = parser_->get().keep_alive() && buf_.size() == 0
                  && !closed_ && !write_error_;
      if (!keep)
        shut();
      end_stream(caf::error{}, keep);
      return;
    }
    if (closed_) {
      end_stream(make_error(error::connection_lost, where_ + ": closed"));
      return;
    }
    reading_ = true;
    auto gen = ++gen_;
    timer_.expires_after(job_.timeout);
    timer_.async_wait([self = this->shared_from_this(),
                       gen](const boost::system::error_code& ec) {
      if (ec || gen != self->gen_ || !self->reading_)
        return;
      self->timed_out_ = true;
      self->shut();
    });
    http::async_read_some(s_, buf_, *parser_,
                          [self = this->shared_from_this()](
                            const boost::system::error_code& ec, size_t) {
                            self->on_piece(ec);
                          });
  }

  void on_piece(const boost::system::error_code& ec) {
    timer_.cancel();
    reading_ = false;
    if (ec) {
      auto closed_here = closed_ && !timed_out_;
      shut();
      end_stream(timed_out_ ? make_error(error::http_timeout,
                                         where_ + ": the body stalled")
                 : closed_here
                   ? make_error(error::connection_lost, where_ + ": closed")
                   : classify(ec, job_, where_, true, true, false));
      return;
    }
    read_piece();
  }

  void end_stream(caf::error err, bool keep_alive = false) {
    if (!streaming_)
      return;
    streaming_ = false;
    parser_.reset();
    auto on_end = std::move(job_.on_end);
    job_.on_piece = nullptr;
    job_.on_end = nullptr;
    if (on_end)
      on_end(std::move(err), keep_alive);
  }

  void fail(boost::system::error_code ec, bool reading) {
    timer_.cancel();
    // Nothing to read after a failed write: the write's error it is.
    if (write_error_ && (ec == http::error::end_of_stream
                         || ec == asio::error::eof
                         || ec == asio::error::connection_reset
                         || ec == asio::error::broken_pipe)) {
      ec = write_error_;
      reading = false;
    }
    bool got_some = got_interim_ || (parser_ && parser_->got_some());
    http_outcome out;
    out.written = written_;
    out.nothing_received = !got_some && buf_.size() == 0;
    if (timed_out_)
      out.response = make_error(
        error::http_timeout,
        where_ + ": no complete response within "
          + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                             job_.timeout)
                             .count())
          + " ms");
    else
      out.response = classify(ec, job_, where_, reading, got_some,
                              exchanges_ == 1);
    shut();
    finish(std::move(out));
  }

  void finish(http_outcome out) {
    written_ = false;
    write_error_ = {};
    got_interim_ = false;
    if (!job_.stream || !out.response)
      parser_.reset();
    auto done = std::move(done_);
    done_ = nullptr;
    if (done)
      done(std::move(out));
  }

  void shut() {
    if (closed_)
      return;
    closed_ = true;
    // No TLS close_notify: a client may drop a connection it is done
    // with, and the server gains nothing from waiting for one.
    auto& sock = beast::get_lowest_layer(s_);
    boost::system::error_code ignored;
    sock.shutdown(asio::socket_base::shutdown_both, ignored);
    sock.close(ignored);
  }

  Stream s_;
  strand_timer timer_;
  beast::flat_buffer buf_;
  http::request<http::string_body> req_;
  std::optional<http::response_parser<growing_body>> parser_;
  http_job job_;
  std::function<void(http_outcome)> done_;
  std::string where_;
  uint64_t gen_ = 0;
  uint64_t exchanges_ = 0;
  boost::system::error_code write_error_;
  bool closed_ = false;
  bool timed_out_ = false;
  bool written_ = false;
  bool got_interim_ = false;
  // A streamed body is under way, and a read of it is.
  bool streaming_ = false;
  bool reading_ = false;
};

class conn_factory : public link_factory {
public:
  explicit conn_factory(std::function<void(http_conn_ptr)> ready)
    : ready_(std::move(ready)) {
    // nop
  }

  handshake_pending_ptr make(tcp_socket sock, caf::timespan,
                             handshake_done done) override {
    ready_(std::make_shared<conn_impl<tcp_socket>>(std::move(sock)));
    done(transport_ptr{});
    return nullptr;
  }

  handshake_pending_ptr make(tls_stream stream, caf::timespan,
                             handshake_done done) override {
    ready_(std::make_shared<conn_impl<tls_stream>>(std::move(stream)));
    done(transport_ptr{});
    return nullptr;
  }

private:
  std::function<void(http_conn_ptr)> ready_;
};

} // namespace

link_factory_ptr
make_http_conn_factory(std::function<void(http_conn_ptr)> ready) {
  return std::make_shared<conn_factory>(std::move(ready));
}

} // namespace netasync::detail
