#pragma once

// Where a connection goes or an acceptor listens, as a URL:
//   tcp://host:port    the length-prefix protocol over TCP
//   tls://host:port    the same inside TLS (docs/protocol.md, "TLS")
//   ws://host:port/path   one message per binary WebSocket message
//   wss://host:port/path  the same inside TLS (docs/protocol.md, "WebSocket")
// IPv6 literals in brackets: tcp://[::1]:7000. A client needs a port other
// than 0; a listener's port 0 lets the kernel pick one. ws and wss URLs
// without a port mean 80 and 443. Only ws and wss take
// a path (default "/"); a ws listener upgrades requests for its path and
// the paths below it, and answers other requests as HTTP.

#include <cstdint>
#include <string>

#include <caf/expected.hpp>

namespace netasync {

enum class scheme : uint8_t { tcp, tls, ws, wss, http, https };

/// Whether `x` runs inside TLS (tls, wss, https).
bool uses_tls(scheme x);

/// Whether `x` carries messages as WebSocket messages (ws, wss).
bool uses_websocket(scheme x);

const char* to_string(scheme x);

struct endpoint {
  netasync::scheme kind = netasync::scheme::tcp;
  /// A name or an IP literal (without brackets).
  std::string host;
  uint16_t port = 0;
  /// ws and wss: the request target ("/" when the URL has none); empty for
  /// tcp and tls.
  std::string path;
};

/// Parses "tcp://host:port", "tls://host:port", "ws://host:port/path" or
/// "wss://host:port/path"; anything else is error::invalid_argument saying
/// what is wrong.
caf::expected<endpoint> parse_endpoint(const std::string& url);

/// The URL of `x`: "tls://127.0.0.1:40123", "tcp://[::1]:7000",
/// "ws://127.0.0.1:8080/chat".
std::string to_string(const endpoint& x);

/// "host:port" without the scheme ("[::1]:7000" for IPv6).
std::string host_port(const std::string& host, uint16_t port);

} // namespace netasync
