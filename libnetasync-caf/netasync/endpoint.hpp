#pragma once

// Where a connection goes or an acceptor listens, as a URL:
//   tcp://host:port    the length-prefix protocol over TCP
//   tls://host:port    the same inside TLS (docs/protocol.md, "TLS")
// IPv6 literals in brackets: tcp://[::1]:7000. A client needs a port other
// than 0; a listener's port 0 lets the kernel pick one.

#include <cstdint>
#include <string>

#include <caf/expected.hpp>

namespace netasync {

enum class scheme : uint8_t { tcp, tls };

const char* to_string(scheme x);

struct endpoint {
  netasync::scheme kind = netasync::scheme::tcp;
  /// A name or an IP literal (without brackets).
  std::string host;
  uint16_t port = 0;
};

/// Parses "tcp://host:port" or "tls://host:port"; anything else is
/// error::invalid_argument saying what is wrong.
caf::expected<endpoint> parse_endpoint(const std::string& url);

/// The URL of `x`: "tls://127.0.0.1:40123", "tcp://[::1]:7000".
std::string to_string(const endpoint& x);

/// "host:port" without the scheme ("[::1]:7000" for IPv6).
std::string host_port(const std::string& host, uint16_t port);

} // namespace netasync
