// The server's side of a ws:// or wss:// listener: one HTTP/1.1 connection
// per accepted stream, which either upgrades to a WebSocket link (path,
// origin and subprotocol checked) or is answered as HTTP (healthz,
// metrics, the application's handler, static files) and kept alive.

#include "ws_links.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <optional>
#include <sstream>
#include <tuple>
#include <type_traits>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <caf/send.hpp>

#include "http/app_request.hpp"
#include "http/file_body.hpp"
#include "http/handler_gateway.hpp"
#include "http/routes.hpp"
#include "http/static_files.hpp"
#include "http/streamed_body.hpp"
#include "http/target.hpp"
#include "http/util.hpp"
#include "http/ws_upgrade.hpp"
#include "http_exchange.hpp"
#include "netasync/error.hpp"
#include "tls.hpp"
#include "ws_transport.hpp"

namespace netasync::detail {

http_exchange::~http_exchange() = default;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using namespace http_util;

// -- server -------------------------------------------------------------------

using request_t = http::request<http::string_body>;
using response_t = http::response<http::string_body>;

struct server_shared {
  ws_server_params params;
  caf::actor owner; // set by bind(), before the first make()
  // How requests reach the application's actors (set by bind() too).
  handler_gateway_ptr gateway;
  // The table of ws.http_handler when that is a router of ours, while the
  // router lives (its registry entry holds the table): a router that ended
  // is asked as any handler, and fails the request.
  std::weak_ptr<const route_table> routes;
  // Small static files in memory (thread-safe itself).
  mutable static_cache files;
};

// Errors of a request that began as HTTP (its request line parsed) but is
// malformed past it; others (a bad request line: bytes that are not HTTP,
// or not HTTP/1) reset the connection.
bool malformed_http(const boost::system::error_code& ec) {
  using e = http::error;
  return ec == e::bad_field || ec == e::bad_value
         || ec == e::bad_content_length || ec == e::bad_transfer_encoding
         || ec == e::bad_chunk || ec == e::bad_chunk_extension
         || ec == e::bad_obs_fold;
}

// Counts as a handshake under way (handshake_pending) until it upgrades or
// closes: a keep-alive HTTP client holds a slot of tls.max-handshakes, and
// the oldest is evicted past it.
template <class Stream>
class http_session : public handshake_pending,
                     public streamed_body<http_session<Stream>>,
                     public file_body<http_session<Stream>>,
                     public app_request<http_session<Stream>>,
                     public ws_upgrade<http_session<Stream>>,
                     public std::enable_shared_from_this<http_session<Stream>> {
  friend class streamed_body<http_session>;
  friend class file_body<http_session>;
  friend class app_request<http_session>;
  friend class ws_upgrade<http_session>;

public:
  using stream_type = Stream;

  http_session(Stream s, std::shared_ptr<const server_shared> shared,
               handshake_done done)
    : stream_(std::move(s)),
      timer_(beast::get_lowest_layer(stream_).get_executor()),
      shared_(std::move(shared)),
      done_(std::move(done)) {
    where_ = peer_of(stream_);
  }

  void start() {
    read_request();
  }

  bool ended() const override {
    return finished_.load();
  }

  void cancel(std::string why) override {
    asio::dispatch(timer_.get_executor(),
                   [self = this->shared_from_this(), why = std::move(why)] {
                     self->fail(why);
                   });
  }

  // Between requests: closed now (FIN); serving one: its answer says
  // `Connection: close` and the connection ends after it.
  void wind_down(std::string why) override {
    asio::dispatch(timer_.get_executor(),
                   [self = this->shared_from_this(), why = std::move(why)] {
                     if (self->finished_)
                       return;
                     if (self->reading_) {
                       self->finish_served();
                       return;
                     }
                     self->keep_alive_ = false;
                     self->last_request_ = true;
                   });
  }

  // From an exchange (any thread): the acceptor's answer.
  void post_response(http_response r) {
    asio::post(timer_.get_executor(),
               [self = this->shared_from_this(), r = std::move(r)]() mutable {
                 if (!self->finished_)
                   self->answer(std::move(r));
               });
  }

private:
  const ws_options& opts() const {
    return shared_->params.opts->ws;
  }

  // Each request (the first, and each on a kept-alive connection) must
  // arrive within ws.handshake-timeout, and its answer be written within
  // it again (a handler's answer counted from when it was asked).
  void arm_timer(const char* what, caf::timespan extra = {}) {
    timer_.expires_after(opts().handshake_timeout + extra);
    timer_.async_wait([self = this->shared_from_this(),
                       what](const boost::system::error_code& ec) {
      if (ec || self->finished_)
        return;
      self->fail(std::string{what} + " within ws.handshake-timeout");
    });
  }

  void read_request() {
    // What the last request said must not shape an answer to this one
    // (an error before it is parsed is a full answer, then a close).
    keep_alive_ = false;
    http10_ = false;
    head_ = false;
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(
      std::min<size_t>(opts().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(opts().max_body_bytes);
    arm_timer("no complete HTTP request");
    // A kept-alive plain connection with nothing read ahead holds no read
    // buffer while it idles (as nginx frees its own): wait until the
    // socket is readable, then read. (Over TLS, OpenSSL may hold the next
    // request's bytes already: read at once there.)
    if constexpr (!std::is_same_v<Stream, tls_stream>) {
      if (served_ && buf_.size() == 0) {
        buf_.shrink_to_fit();
        stream_.async_wait(asio::socket_base::wait_read,
                           [self = this->shared_from_this()](
                             const boost::system::error_code& ec) {
                             if (self->finished_)
                               return;
                             if (ec) {
                               self->on_header(ec);
                               return;
                             }
                             self->read_header();
                           });
        return;
      }
    }
    read_header();
  }

  // The header first: a client that sent `Expect: 100-continue` waits for
  // our word before it sends the body (curl does for bodies past 1 KiB,
  // and would otherwise wait a second). A body past the bound is refused
  // (413) before it is sent.
  void read_header() {
    http::async_read_header(stream_, buf_, *parser_,
                            [self = this->shared_from_this()](
                              const boost::system::error_code& ec, size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(const boost::system::error_code& ec) {
    if (finished_)
      return;
    reading_ = false;
    // A body framed by a coding we do not end with chunked (RFC 9112
    // 6.3: "identity", "gzip" alone) has no length we could trust: taking
    // it as empty would read its bytes as the next request, which is how
    // requests are smuggled past a proxy that frames them otherwise.
    if (!ec && parser_->get().count(http::field::transfer_encoding) > 0
        && !parser_->chunked()) {
      send_error(400, "bad request: a transfer coding other than chunked");
      return;
    }
    if (ec || parser_->is_done()) {
      on_request(ec);
      return;
    }
    auto read_body = [self = this->shared_from_this()] {
      http::async_read(self->stream_, self->buf_, *self->parser_,
                       [self](const boost::system::error_code& ec, size_t) {
                         self->on_request(ec);
                       });
    };
    auto& head = parser_->get();
    if (head.version() >= 11
        && beast::iequals(head[http::field::expect], "100-continue")) {
      static constexpr std::string_view go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(go_on.data(), go_on.size()),
                        [self = this->shared_from_this(), read_body](
                          const boost::system::error_code& ec, size_t) {
                          if (self->finished_)
                            return;
                          if (ec) {
                            self->fail("writing 100 Continue: "
                                       + ec.message());
                            return;
                          }
                          read_body();
                        });
      return;
    }
    read_body();
  }

  void on_request(const boost::system::error_code& ec) {
    if (finished_)
      return;
    if (ec == http::error::end_of_stream || ec == asio::error::eof) {
      // The client closed between requests (or before its first).
      served_ ? finish_served() : fail("closed before a request");
      return;
    }
    if (ec == http::error::header_limit) {
      send_error(431, "request header fields too large");
      return;
    }
    if (ec == http::error::body_limit) {
      send_error(413, "payload too large");
      return;
    }
    if (malformed_http(ec)) {
      // An HTTP request with a bad field, length, coding or chunk (both
      // Content-Length and Transfer-Encoding too): told so, then closed,
      // since where its body ends is not known.
      send_error(400, "bad request: " + ec.message());
      return;
    }
    if (ec) {
      // Not HTTP: a reset is the answer (a length-prefix client dialing a
      // ws port learns it as a lost link).
      fail("not an HTTP request: " + ec.message());
      return;
    }
    auto req = parser_->release();
    // Past ws.max-requests-per-connection the answer closes the connection
    // (as nginx's keepalive_requests), refused upgrades included: a client
    // cannot hold a session and its state forever.
    auto max = opts().max_requests_per_connection;
    last_request_ = max != 0 && ++requests_ >= max;
    keep_alive_ = req.keep_alive() && !last_request_;
    http10_ = req.version() < 11;
    head_ = req.method() == http::verb::head;
    if (websocket::is_upgrade(req)
        && (shared_->params.websocket || !opts().routes.empty())) {
      this->upgrade(std::move(req));
      return;
    }
    serve(std::move(req));
  }

  // The answer to the request being served (from the acceptor, the
  // handler, a gate), on the strand.
  void answer(http_response r) {
    if (std::exchange(this->gated_, false)) {
      this->gate_said(std::move(r));
      return;
    }
    // Routes first, then the files: the handler's 404 to a GET or HEAD
    // tries the static directory.
    if (r.status == 404 && !fallback_.empty()) {
      this->serve_file(std::exchange(fallback_, {}));
      return;
    }
    // Beast takes 100-999 only (and throws otherwise).
    if (r.status < 100 || r.status > 999) {
      send_text(500, "the handler answered status " + std::to_string(r.status)
                       + "\n");
      return;
    }
    if (!valid_fields(r.headers)) {
      send_text(500, "the handler answered an invalid header field\n");
      return;
    }
    auto res = std::make_shared<response_t>();
    res->result(r.status);
    for (auto& [k, v] : r.headers)
      res->set(k, v);
    res->body() = std::move(r.body);
    send(std::move(res));
  }

  // -- plain HTTP -------------------------------------------------------------

  // keep_alive_, http10_ and head_ are this request's (on_request).
  void serve(request_t req) {
    this->cond_ = {std::string{req[http::field::if_none_match]},
             std::string{req[http::field::if_modified_since]},
             std::string{req[http::field::range]},
             std::string{req[http::field::if_range]}};
    auto target = std::string{req.target()};
    auto path = target.substr(0, target.find('?'));
    bool get = req.method() == http::verb::get || head_;
    if (get && path == "/metrics" && opts().metrics) {
      ask_owner(req);
      return;
    }
    if (get && path == "/healthz") {
      send_text(200, "ok\n");
      return;
    }
    if (opts().http_handler) {
      fallback_ = get && !opts().static_dir.empty() ? target : std::string{};
      if (auto r = to_request(req))
        this->ask_handler(std::move(*r));
      return;
    }
    if (get && !opts().static_dir.empty()) {
      this->serve_file(target);
      return;
    }
    send_text(404, "not found\n");
  }

  // GET /metrics: the acceptor's counters (and it asks the HTTP clients).
  void ask_owner(const request_t& req) {
    auto owner = shared_->owner;
    auto r = to_request(req);
    if (!r)
      return;
    if (!owner) {
      send_text(503, "not ready\n");
      return;
    }
    // The answer must come within ws.handler-timeout and
    // ws.handshake-timeout more to be written.
    arm_timer("no answer to the HTTP request", opts().handler_timeout);
    caf::anon_send(owner, http_exchange_atom::value,
                   http_exchange_ptr{
                     std::make_shared<session_exchange<http_session>>(
                       this->weak_from_this(), std::move(*r))});
  }

  // The request as the application sees it; none (and 400 answered) for
  // a target that does not parse.
  std::optional<http_request> to_request(const request_t& req) {
    http_request r;
    r.method = std::string{req.method_string()};
    r.target = std::string{req.target()};
    auto parts = parse_target(r.target);
    if (!parts) {
      send_error(400, "bad request target", false);
      return std::nullopt;
    }
    r.path = std::move(parts->path);
    r.query = std::move(parts->query);
    // Asked of the socket once per connection, not per request.
    if (!peer_known_) {
      peer_known_ = true;
      std::tie(peer_host_, peer_port_) = peer_address(stream_);
      if constexpr (std::is_same_v<Stream, tls_stream>)
        peer_subject_ = peer_cert_subject(stream_.native_handle());
    }
    r.peer_host = peer_host_;
    r.peer_port = peer_port_;
    r.peer_cert_subject = peer_subject_;
    for (auto& f : req)
      r.headers.emplace_back(std::string{f.name_string()},
                             std::string{f.value()});
    r.body = req.body();
    return r;
  }

  void send_text(unsigned status, std::string body) {
    auto res = std::make_shared<response_t>();
    res->result(status);
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    res->body() = std::move(body);
    send(std::move(res));
  }

  // An error answer; `close` after it unless the request was complete and
  // may be followed by another.
  void send_error(unsigned status, std::string why, bool close = true) {
    if (close)
      keep_alive_ = false;
    send_text(status, why + "\n");
  }

  // What every response says about itself. HTTP/1.1, the highest version
  // we speak (RFC 9110 6.2), also to a 1.0 client; but such a client closes
  // after the response unless told otherwise, and Beast's keep_alive()
  // writes no `Connection: keep-alive` into a 1.1 message: without it an
  // HTTP/1.0 client that asked to keep the connection (ab -k) waited for
  // our close until the idle timeout.
  template <class Body>
  void stamp(http::response<Body>& res) {
    res.version(11);
    res.set(http::field::server, server_name);
    res.keep_alive(keep_alive_);
    if (keep_alive_ && http10_)
      res.set(http::field::connection, "keep-alive");
  }

  template <class Body>
  void send(std::shared_ptr<http::response<Body>> res) {
    stamp(*res);
    res->prepare_payload();
    served_ = true;
    if (head_) {
      auto sr = std::make_shared<http::response_serializer<Body>>(*res);
      write_header_only(std::move(res), std::move(sr));
      return;
    }
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(),
                       res](const boost::system::error_code& ec, size_t) {
                        self->after_response(ec);
                      });
  }

  // HEAD: the header of the GET (its length too), without the body.
  template <class Body>
  void write_header_only(std::shared_ptr<http::response<Body>> res,
                         std::shared_ptr<http::response_serializer<Body>> sr) {
    http::async_write_header(
      stream_, *sr,
      [self = this->shared_from_this(), res,
       sr](const boost::system::error_code& ec, size_t) {
        self->after_response(ec);
      });
  }

  void after_response(const boost::system::error_code& ec) {
    if (finished_)
      return;
    if (ec) {
      fail("writing the response: " + ec.message());
      return;
    }
    if (keep_alive_)
      read_request();
    else
      finish_served();
  }

  // Served as HTTP, done: FIN, and nothing to hand out.
  void finish_served() {
    finished_ = true;
    timer_.cancel();
    boost::system::error_code ec;
    auto& lowest = beast::get_lowest_layer(stream_);
    lowest.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    lowest.close(ec);
    done_(transport_ptr{});
  }

  void fail(const std::string& why) {
    if (finished_)
      return;
    finished_ = true;
    timer_.cancel();
    if (this->asked_ != 0) // its answer would find nobody
      shared_->gateway->forget(std::exchange(this->asked_, 0));
    if (ws_)
      reset(*ws_);
    else
      reset(stream_);
    if (served_)
      done_(transport_ptr{}); // a kept-alive HTTP client went quiet
    else
      done_(make_error(error::ws_handshake_failed, where_ + ": " + why));
  }

  Stream stream_;
  strand_timer timer_;
  std::shared_ptr<const server_shared> shared_;
  handshake_done done_;
  std::string where_;
  beast::flat_buffer buf_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<ws_stream_t<Stream>> ws_;
  request_t req_;
  bool keep_alive_ = false;
  size_t requests_ = 0;
  bool last_request_ = false;
  bool http10_ = false; // the request being answered is HTTP/1.0
  bool head_ = false;
  bool streaming_ = false; // a streamed body is under way
  std::string fallback_; // the target to serve from static-dir on a 404
  bool reading_ = false; // waiting for a request's header
  bool peer_known_ = false; // the three below are set
  std::string peer_host_;
  uint16_t peer_port_ = 0;
  std::string peer_subject_; // https: the client certificate's subject
  bool served_ = false; // answered at least one plain HTTP request
  // Written on the strand; read by ended() from the listener's.
  std::atomic<bool> finished_{false};
};

class ws_server_factory : public link_factory {
public:
  explicit ws_server_factory(ws_server_params p)
    : shared_(std::make_shared<server_shared>()) {
    shared_->params = std::move(p);
  }

  void bind(caf::actor owner) override {
    shared_->gateway = std::make_shared<handler_gateway>(owner->home_system());
    shared_->routes = routes_of(shared_->params.opts->ws.http_handler);
    shared_->owner = std::move(owner);
  }

  handshake_pending_ptr make(tcp_socket sock, caf::timespan,
                             handshake_done done) override {
    return start(std::move(sock), std::move(done));
  }

  handshake_pending_ptr make(tls_stream stream, caf::timespan,
                             handshake_done done) override {
    return start(std::move(stream), std::move(done));
  }

private:
  template <class Stream>
  handshake_pending_ptr start(Stream s, handshake_done done) {
    auto session = std::make_shared<http_session<Stream>>(std::move(s),
                                                          shared_,
                                                          std::move(done));
    session->start();
    return session;
  }

  std::shared_ptr<server_shared> shared_;
};

} // namespace

link_factory_ptr make_ws_server_factory(ws_server_params params) {
  return std::make_shared<ws_server_factory>(std::move(params));
}

} // namespace netasync::detail
