#pragma once

// Streamed response bodies (http_response::producer) on an HTTP connection,
// and the exchange through which the acceptor answers a request: a mixin of
// http_session (server_session.cpp), which it reaches as its Session.
// The stream's actor (http/stream.cpp) drives it through the exchange:
// the head, then each piece once the previous one is out, then the end.
// Every member runs on the connection's strand (post_* post there).

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>

#include "http/util.hpp"
#include "http_exchange.hpp"

namespace netasync::detail {

namespace http = boost::beast::http;

template <class Session>
class streamed_body {
public:
  // The head: chunked (to an HTTP/1.0 client, the body ends with the
  // connection). Idle between pieces, the connection has no timeout: a
  // client that left is noticed at the next piece (an event stream's
  // keep-alive comments make sure there is one).
  void post_stream(http_response r,
                   std::function<void(bool, bool)> written) {
    on_strand([r = std::move(r), written](Session& s) mutable {
      if (s.finished_)
        return written(false, false);
      if (r.status < 200 || r.status > 999) { // no body, or Beast throws
        s.send_text(500, "the handler answered status "
                           + std::to_string(r.status) + " to stream\n");
        return written(true, false);
      }
      if (!http_util::valid_fields(r.headers)) {
        s.send_text(500, "the handler answered an invalid header field\n");
        return written(true, false);
      }
      bool body = !s.head_ && r.status != 204 && r.status != 304;
      auto res = std::make_shared<http::response<http::empty_body>>();
      res->result(r.status);
      for (auto& [k, v] : r.headers)
        res->set(k, v);
      res->erase(http::field::content_length);
      s.keep_alive_ = s.keep_alive_ && !s.http10_;
      s.stamp(*res);
      res->chunked(!s.http10_ && r.status != 204 && r.status != 304);
      s.served_ = true;
      s.streaming_ = body;
      using serializer = http::response_serializer<http::empty_body>;
      auto sr = std::make_shared<serializer>(*res);
      s.arm_timer("the response's head not written");
      http::async_write_header(
        s.stream_, *sr,
        [self = s.shared_from_this(), res, sr, written,
         body](const boost::system::error_code& ec, size_t) {
          if (body || ec)
            return self->streamed(ec, [&](bool ok) { written(ok, body); });
          self->timer_.cancel();
          written(true, false);
          self->after_response(ec); // the head was all: the next request
        });
    });
  }

  // One piece of the body (nothing for HEAD or an empty piece: an empty
  // chunk would end the body).
  void post_body(std::string data, std::function<void(bool)> written) {
    on_strand([d = std::make_shared<std::string>(std::move(data)),
               written](Session& s) {
      if (s.finished_ || !s.streaming_)
        return written(false);
      if (s.head_ || d->empty())
        return written(true);
      s.arm_timer("a piece of the body not written");
      auto done = [self = s.shared_from_this(), d,
                   written](const boost::system::error_code& ec, size_t) {
        self->streamed(ec, written);
      };
      if (s.http10_)
        boost::asio::async_write(s.stream_, boost::asio::buffer(*d), done);
      else
        boost::asio::async_write(
          s.stream_, http::make_chunk(boost::asio::buffer(*d)), done);
    });
  }

  // The end of the body; `abort`: a reset instead (the producer failed or
  // overran its bound: the client must not take the body for complete).
  void post_end(bool abort) {
    on_strand([abort](Session& s) {
      if (s.finished_ || !s.streaming_)
        return;
      s.streaming_ = false;
      if (abort)
        return s.fail("the body's producer failed");
      if (s.http10_ || s.head_)
        return s.after_response({});
      s.arm_timer("the body's end not written");
      boost::asio::async_write(
        s.stream_, http::make_chunk_last(),
        [self = s.shared_from_this()](const boost::system::error_code& ec,
                                      size_t) { self->after_response(ec); });
    });
  }

private:
  template <class F>
  void on_strand(F f) {
    auto& s = static_cast<Session&>(*this);
    boost::asio::post(s.timer_.get_executor(),
                      [self = s.shared_from_this(), f = std::move(f)]() mutable {
                        f(*self);
                      });
  }

  template <class F>
  void streamed(const boost::system::error_code& ec, const F& written) {
    auto& s = static_cast<Session&>(*this);
    s.timer_.cancel();
    if (ec)
      s.fail("writing the body: " + ec.message());
    written(!ec);
  }
};

/// A request the acceptor answers, for a Session (its post_* members).
template <class Session>
class session_exchange final : public http_exchange {
public:
  session_exchange(std::weak_ptr<Session> s, http_request r)
    : session_(std::move(s)), req_(std::move(r)) {
    // nop
  }

  const http_request& request() const override {
    return req_;
  }

  void respond(http_response res) override {
    if (auto s = session_.lock())
      s->post_response(std::move(res));
  }

  // A streamed body keeps its connection alive between pieces (nothing of
  // the connection's own is pending then), until its end.
  void stream_head(http_response r,
                   std::function<void(bool, bool)> f) override {
    pinned_ = session_.lock();
    if (pinned_)
      pinned_->post_stream(std::move(r), std::move(f));
    else
      f(false, false);
  }

  void stream_body(std::string data, std::function<void(bool)> f) override {
    if (pinned_)
      pinned_->post_body(std::move(data), std::move(f));
    else
      f(false);
  }

  void stream_end(bool abort) override {
    if (auto s = std::move(pinned_))
      s->post_end(abort);
  }

private:
  std::weak_ptr<Session> session_;
  std::shared_ptr<Session> pinned_; // the stream actor's thread only
  http_request req_;
};

} // namespace netasync::detail
