// The WebSocket client's side of a link: Beast's upgrade over a connected
// (for wss: handshaken) stream, within what is left of connect-timeout,
// then a ws_transport.

#include "ws_links.hpp"

#include <algorithm>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "http/util.hpp"
#include "netasync/error.hpp"
#include "tls.hpp"
#include "ws_transport.hpp"

namespace netasync::detail {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace websocket = boost::beast::websocket;
using namespace http_util;

// -- client -------------------------------------------------------------------

template <class Stream>
struct client_handshake
  : std::enable_shared_from_this<client_handshake<Stream>> {
  client_handshake(Stream s, const ws_client_params& p)
    : ws(std::move(s)), params(p) {
    // nop
  }

  void start(caf::timespan left, handshake_done on_done) {
    done = std::move(on_done);
    where = peer_of(ws);
    auto& o = params.opts->ws;
    websocket::permessage_deflate pmd;
    pmd.client_enable = o.deflate;
    ws.set_option(pmd);
    ws.set_option(websocket::stream_base::timeout{
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(left),
      websocket::stream_base::none(), false});
    ws.set_option(websocket::stream_base::decorator(
      [headers = o.headers, protos = o.subprotocols](websocket::request_type& req) {
        req.set(http::field::user_agent, server_name);
        for (auto& h : headers) {
          auto colon = h.find(':');
          req.set(trim(std::string_view{h}.substr(0, colon)),
                  trim(std::string_view{h}.substr(colon + 1)));
        }
        if (!protos.empty()) {
          std::string joined;
          for (auto& p : protos)
            joined += (joined.empty() ? "" : ", ") + p;
          req.set(http::field::sec_websocket_protocol, joined);
        }
      }));
    ws.async_handshake(res, params.host, params.path,
                       [self = this->shared_from_this()](
                         const boost::system::error_code& ec) {
                         self->on_handshake(ec);
                       });
  }

  void on_handshake(const boost::system::error_code& ec) {
    auto& o = params.opts->ws;
    if (ec) {
      reset(ws);
      if (ec == beast::error::timeout)
        done(make_error(error::connect_timeout,
                        where + ": no WebSocket upgrade within the connect "
                                "timeout"));
      else if (ec == websocket::error::upgrade_declined)
        done(make_error(error::ws_handshake_failed,
                        where + params.path + ": the server answered HTTP "
                          + std::to_string(res.result_int()) + " "
                          + std::string{res.reason()} + ", not 101"));
      else
        done(make_error(error::ws_handshake_failed,
                        where + params.path + ": " + tls_reason(ec)));
      return;
    }
    // RFC 6455 4.1: a subprotocol the client did not offer fails it.
    auto chosen = std::string{res[http::field::sec_websocket_protocol]};
    if (!chosen.empty()
        && std::find(o.subprotocols.begin(), o.subprotocols.end(), chosen)
             == o.subprotocols.end()) {
      reset(ws);
      done(make_error(error::ws_handshake_failed,
                      where + params.path + ": the server chose subprotocol '"
                        + chosen + "', which was not offered"));
      return;
    }
    done(transport_ptr{std::make_shared<ws_transport<Stream>>(
      std::move(ws), params.opts->max_frame_size, o.refuse_text)});
  }

  ws_stream_t<Stream> ws;
  ws_client_params params;
  websocket::response_type res;
  handshake_done done;
  std::string where;
};

class ws_client_factory : public link_factory {
public:
  explicit ws_client_factory(ws_client_params p) : params_(std::move(p)) {
    // nop
  }

  // A client's attempt is bounded by its connect timeout (Beast's
  // handshake timeout): nobody evicts it.
  handshake_pending_ptr make(tcp_socket sock, caf::timespan left,
                             handshake_done done) override {
    return start(std::move(sock), left, std::move(done));
  }

  handshake_pending_ptr make(tls_stream stream, caf::timespan left,
                             handshake_done done) override {
    return start(std::move(stream), left, std::move(done));
  }

private:
  template <class Stream>
  handshake_pending_ptr start(Stream s, caf::timespan left,
                              handshake_done done) {
    std::make_shared<client_handshake<Stream>>(std::move(s), params_)
      ->start(left, std::move(done));
    return nullptr;
  }

  ws_client_params params_;
};

} // namespace

link_factory_ptr make_ws_client_factory(ws_client_params params) {
  return std::make_shared<ws_client_factory>(std::move(params));
}

} // namespace netasync::detail
