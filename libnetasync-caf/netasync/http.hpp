#pragma once

// Plain HTTP requests on an http://, https://, ws:// or wss:// acceptor's
// port (those that are not WebSocket upgrades), as an application's handler
// actor sees them (options::ws.http_handler; on http:// and https:// the
// first subscriber by default). The handler receives an http_request and
// replies with an http_response within ws.handler-timeout, or the client
// gets 504. Bodies and header blocks are bounded before a handler
// sees them (ws.max-body-bytes, ws.max-header-bytes).
//
// Streamed bodies: a response that names a `producer` goes out at once as
// its status and headers (chunked; to an HTTP/1.0 client the body ends with
// the connection), `body` first if any, then what the producer sends to the
// stream it is given, (http_stream_atom, caf::actor stream, http_request):
//   bytes or std::string   the next piece; as a request it is answered
//                          once written, so a producer that waits for each
//                          answer goes at the client's pace
//   close_atom             the end of the body
// The stream holds at most max-outbound-bytes of unwritten pieces: past
// that, if the producer ends without close_atom, or when the acceptor
// closes, the client's connection is reset (it must not take the body for
// complete). When the stream ends for any reason but the producer's
// close_atom (the client went away, a write failed, the bound, no body for
// HEAD, 204 or 304), the producer gets (closed_atom, caf::actor stream,
// caf::error), and pending requests the error. A client that leaves is
// noticed at the next piece written (an idle stream does not read), so
// an event stream should send keep-alive comments; a stream holds one of
// the listener's tls.max-handshakes slots meanwhile. Server-sent events:
// sse_response() and sse_event() below.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
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
  /// https:// and wss://: the subject of the certificate the client
  /// presented and the server verified (tls.client-cert), as RFC 2253
  /// writes it ("CN=netasync test client"); empty without one.
  std::string peer_cert_subject;
  /// Header fields in the order received; names as the client wrote them.
  http_fields headers;
  std::string body;
};

struct http_response {
  uint16_t status = 200;
  /// Fields besides Content-Length (set from the body) and Server.
  http_fields headers;
  std::string body;
  /// Streams the body: this actor sends its pieces (see above).
  caf::actor producer = {};
};

/// The head of a server-sent event stream (text/event-stream, not cached):
/// `producer` sends sse_event()s, and comments (": ...\n\n") as keep-alives.
http_response sse_response(caf::actor producer);

/// One server-sent event: an "event:" line if `event` is set, a "data:"
/// line per line of `data`, and the blank line that ends the event.
std::string sse_event(const std::string& data, const std::string& event = {});

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("netasync::http_request"), x.method,
           x.target, x.path, x.query, x.params, x.peer_host, x.peer_port,
           x.peer_cert_subject, x.headers, x.body);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("netasync::http_response"), x.status,
           x.headers, x.body, x.producer);
}

} // namespace netasync
