#pragma once

// The WebSocket upgrade of an HTTP connection: a mixin of http_session
// (server_session.cpp), as file_body.hpp is. Which endpoint the request
// names (ws.routes, then the listener's own path), whether it is served
// (upgrade_rules.cpp), the route's gate if it has one (asked as handlers
// are, http/app_request.hpp), and the handshake, after which the stream is
// a ws_transport handed to the listener. Every member runs on the
// connection's strand.

#include <algorithm>
#include <cstddef>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "http/util.hpp"
#include "netasync/error.hpp"
#include "netasync/http.hpp"
#include "ws_links.hpp"
#include "ws_transport.hpp"

namespace netasync::detail {

template <class Session>
class ws_upgrade {
protected:
  using request_type
    = boost::beast::http::request<boost::beast::http::string_body>;

  // The upgrade's route: 1 + its index in ws.routes, or 0.
  size_t route_ = 0;
  // The upgrade's subprotocol.
  std::string chosen_;
  // The upgrade waits for its route's gate.
  bool gated_ = false;

  // Which endpoint: the first of ws.routes whose path takes the target,
  // else the listener's own (ws://, wss://; on http:// and https:// the
  // request is then an ordinary one).
  void upgrade(request_type req) {
    namespace http = boost::beast::http;
    auto& s = self();
    auto target = std::string{req.target()};
    auto& routes = s.opts().routes;
    size_t route = 0;
    while (route < routes.size() && !path_within(target, routes[route].path))
      ++route;
    if (route == routes.size() && !s.shared_->params.websocket) {
      s.serve(std::move(req));
      return;
    }
    auto mine = route < routes.size() ? routes[route].path
                                      : s.shared_->params.path;
    auto verdict = judge_upgrade(
      target, std::string{req[http::field::origin]},
      std::string{req[http::field::host]},
      std::string{req[http::field::sec_websocket_protocol]}, mine,
      s.shared_->params.tls, s.opts());
    if (verdict.status != 0) {
      s.send_error(verdict.status, verdict.why, s.last_request_);
      return;
    }
    route_ = route < routes.size() ? route + 1 : 0;
    chosen_ = std::move(verdict.subprotocol);
    if (route_ != 0 && routes[route].gate) {
      // The application's word first; the request waits meanwhile.
      s.fallback_.clear();
      auto r = s.to_request(req);
      if (!r)
        return;
      gated_ = true;
      s.req_ = std::move(req);
      s.ask_app(routes[route].gate, std::move(*r));
      return;
    }
    accept_upgrade(std::move(req), {});
  }

  // The gate's answer: 101 upgrades, anything else is the refusal, sent
  // as the answer to that request.
  void gate_said(http_response r) {
    auto& s = self();
    if (r.status != 101) {
      s.answer(std::move(r));
      return;
    }
    accept_upgrade(std::move(s.req_), std::move(r.headers));
  }

private:
  Session& self() {
    return static_cast<Session&>(*this);
  }

  // Fields of the gate's 101 that the handshake writes itself are left to
  // it: an application cannot break the upgrade by naming them.
  static bool handshake_field(const std::string& name) {
    auto n = http_util::lower(name);
    return n == "upgrade" || n == "connection" || n == "content-length"
           || n == "transfer-encoding" || n == "server"
           || n.rfind("sec-websocket-", 0) == 0;
  }

  void accept_upgrade(request_type req, http_fields extra) {
    namespace http = boost::beast::http;
    namespace websocket = boost::beast::websocket;
    using stream_type = typename Session::stream_type;
    auto& s = self();
    auto chosen = std::move(chosen_);
    extra.erase(std::remove_if(extra.begin(), extra.end(),
                               [](const auto& f) {
                                 return handshake_field(f.first)
                                        || !http_util::valid_field(f.first,
                                                                   f.second);
                               }),
                extra.end());
    s.timer_.cancel();
    auto& ws = s.ws_.emplace(std::move(s.stream_));
    websocket::permessage_deflate pmd;
    pmd.server_enable = s.opts().deflate;
    ws.set_option(pmd);
    ws.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        s.opts().handshake_timeout),
      websocket::stream_base::none(), false});
    ws.set_option(websocket::stream_base::decorator(
      [chosen, extra = std::move(extra)](websocket::response_type& res) {
        res.set(http::field::server, http_util::server_name);
        for (auto& [k, v] : extra)
          res.insert(k, v);
        if (!chosen.empty())
          res.set(http::field::sec_websocket_protocol, chosen);
      }));
    s.req_ = std::move(req);
    auto on_accepted = [self = s.shared_from_this()](
                         const boost::system::error_code& ec) {
      if (self->finished_)
        return;
      self->finished_ = true;
      if (ec) {
        http_util::reset(*self->ws_);
        self->done_(make_error(error::ws_handshake_failed,
                               self->where_ + ": " + ec.message()));
        return;
      }
      auto& p = *self->shared_->params.opts;
      auto tr = std::make_shared<ws_transport<stream_type>>(
        std::move(*self->ws_), p.max_frame_size, p.ws.refuse_text);
      tr->route = self->route_;
      self->done_(transport_ptr{std::move(tr)});
    };
    if (s.buf_.size() == 0) {
      ws.async_accept(s.req_, std::move(on_accepted));
      return;
    }
    // Bytes past the request (a client that sent its first frames without
    // waiting for our 101) belong to the WebSocket stream. Beast takes
    // already-read bytes only with the request's text, which it parses
    // again: the request as read, then those bytes.
    std::ostringstream os;
    os << s.req_;
    auto text = os.str();
    auto rest = s.buf_.data();
    text.append(static_cast<const char*>(rest.data()), rest.size());
    s.buf_.consume(s.buf_.size());
    ws.async_accept(boost::asio::buffer(text), std::move(on_accepted));
  }
};

} // namespace netasync::detail
