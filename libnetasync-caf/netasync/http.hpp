#pragma once

// Plain HTTP requests on a ws:// or wss:// acceptor's port (those that are
// not WebSocket upgrades), as an application's handler actor sees them
// (options::ws.http_handler). The handler receives an http_request and
// replies with an http_response within ws.handshake-timeout, or the client
// gets 504. Bodies and header blocks are bounded before a handler sees them
// (ws.max-body-bytes, ws.max-header-bytes).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace netasync {

using http_fields = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  /// "GET", "POST", ...
  std::string method;
  /// The request target as sent: "/api/items?x=1".
  std::string target;
  /// The target's path, percent-decoded: "/api/items".
  std::string path;
  /// The target's query, percent-decoded ('+' as a space), in order,
  /// repeated keys kept, a key without '=' with an empty value:
  /// {{"x", "1"}}.
  http_fields query;
  /// The `<name>` segments of the route that took the request
  /// (netasync/http_router.hpp), percent-decoded: {{"id", "42"}}.
  http_fields params;
  /// The client's address and port, as this server sees them.
  std::string peer_host;
  uint16_t peer_port = 0;
  /// Header fields in the order received; names as the client wrote them.
  http_fields headers;
  std::string body;
};

struct http_response {
  uint16_t status = 200;
  /// Fields besides Content-Length (set from the body) and Server.
  http_fields headers;
  std::string body;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("netasync::http_request"), x.method,
           x.target, x.path, x.query, x.params, x.peer_host, x.peer_port,
           x.headers, x.body);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("netasync::http_response"), x.status,
           x.headers, x.body);
}

} // namespace netasync
