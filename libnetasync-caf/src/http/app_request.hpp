#pragma once

// Asking the application's actors (ws.http_handler, a WebSocket route's
// gate) on an HTTP connection: a mixin of http_session (server_session.cpp),
// as file_body.hpp is. The request goes to the actor through the listener's
// handler_gateway (http/handler_gateway.hpp) and its answer comes back to
// the connection's strand: one thread hand-off each way. The wait is
// bounded by ws.handler-timeout (then 504, and a late answer is dropped),
// the writing of the answer by ws.handshake-timeout. An answer that names
// a producer becomes a streamed body (http/stream.hpp). Every member runs
// on the connection's strand.

#include <cstdint>
#include <memory>
#include <utility>

#include <boost/asio/post.hpp>

#include <caf/actor_system.hpp>
#include <caf/message.hpp>
#include <caf/sec.hpp>

#include "http/routes.hpp"
#include "http/stream.hpp"
#include "http/streamed_body.hpp"
#include "netasync/http.hpp"

namespace netasync::detail {

template <class Session>
class app_request {
protected:
  // The request asked and not yet answered (its gateway id), or 0.
  uint64_t asked_ = 0;
  // The request as sent (shared, not copied): a streamed answer's
  // producer gets it too.
  caf::message sent_;

  // A request for ws.http_handler. A router of ours is matched here, on
  // the strand, by its table: its route's handler is asked directly, and a
  // 404 or 405 needs no actor at all.
  void ask_handler(http_request req) {
    auto& s = self();
    if (auto t = s.shared_->routes.lock()) {
      auto r = route(*t, req);
      if (r.now) {
        s.answer(std::move(*r.now));
        return;
      }
      ask_app(r.to, std::move(req));
      return;
    }
    ask_app(s.opts().http_handler, std::move(req));
  }

  void ask_app(const caf::actor& who, http_request req) {
    auto& s = self();
    auto gw = s.shared_->gateway;
    if (!gw) { // the listener is not bound to its acceptor yet
      s.send_text(503, "not ready\n");
      return;
    }
    sent_ = caf::make_message(std::move(req));
    auto ex = s.timer_.get_executor();
    asked_ = gw->ask(who, sent_,
                     [weak = s.weak_from_this(),
                      ex](uint64_t id, caf::expected<http_response> res) {
                       boost::asio::post(ex, [weak, id,
                                              res = std::move(res)]() mutable {
                         auto s = weak.lock();
                         if (!s || s->finished_ || s->asked_ != id)
                           return; // ended, or answered 504 already
                         s->asked_ = 0;
                         s->answered(std::move(res));
                       });
                     });
    s.timer_.expires_after(s.opts().handler_timeout);
    s.timer_.async_wait([self = s.shared_from_this(),
                         id = asked_](const boost::system::error_code& ec) {
      if (ec || self->finished_ || self->asked_ != id)
        return;
      self->shared_->gateway->forget(id);
      self->asked_ = 0;
      self->answered(caf::make_error(caf::sec::request_timeout));
    });
  }

  void answered(caf::expected<http_response> res) {
    auto& s = self();
    // Not kept while the connection idles (a body may be large).
    auto sent = std::exchange(sent_, caf::message{});
    s.arm_timer("the answer not written");
    if (!res) {
      // No detail of the error reaches the client.
      bool late = res.error() == caf::sec::request_timeout;
      s.answer(http_response{
        static_cast<uint16_t>(late ? 504 : 500),
        {{"Content-Type", "text/plain; charset=utf-8"}},
        late ? "the handler did not answer in time\n"
             : "the handler failed\n"});
      return;
    }
    if (res->producer && !s.gated_) {
      auto& owner = s.shared_->owner;
      auto ex = std::make_shared<session_exchange<Session>>(
        s.weak_from_this(), sent.get_as<http_request>(0));
      spawn_http_stream(owner->home_system(), std::move(ex), std::move(*res),
                        s.shared_->params.opts->max_outbound_bytes,
                        owner.address());
      return;
    }
    res->producer = nullptr;
    s.answer(std::move(*res));
  }

private:
  Session& self() {
    return static_cast<Session&>(*this);
  }
};

} // namespace netasync::detail
