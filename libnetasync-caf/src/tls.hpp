#pragma once

// TLS beneath any link: contexts made from tls_options, and the handshake
// that turns a connected socket into a TLS stream, which a link factory then
// makes a link of (the length-prefix link's stream_transport<ssl::stream<..>>
// or the WebSocket link's ws_transport<ssl::stream<...>>: the same code as
// over a plain socket). Private to the library.
//
// Threads: tls_handshake runs on the socket's strand and calls `done` there,
// exactly once. Contexts are immutable once made, and shared by every
// connection of one connector or listener (OpenSSL reference-counts them, so
// a link may outlive its listener).

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "netasync/options.hpp"
#include "io_types.hpp"
#include "link_factory.hpp"
#include "transport.hpp"

namespace netasync::detail {

using tls_context_ptr = std::shared_ptr<boost::asio::ssl::context>;

/// A client context: TLS 1.2 minimum; verifies the server against ca-file /
/// ca-dir (the system's CAs when neither is set) unless verify-peer is off;
/// presents cert-file if set. Errors: tls_config_invalid naming the file.
caf::expected<tls_context_ptr> make_client_context(const tls_options& opts);

/// A server context: TLS 1.2 minimum; cert-file and key-file required;
/// client certificates per client-cert, verified against ca-file / ca-dir.
caf::expected<tls_context_ptr> make_server_context(const tls_options& opts);

/// Who the client side expects: the name or IP literal the server's
/// certificate must carry (and, for a name, the SNI name sent).
struct tls_peer_check {
  std::string name;
  /// Check the name (with the chain). Off only with tls.no-verify; SNI is
  /// sent either way.
  bool verify = true;
};

/// OpenSSL's reason for `ec` without Asio's library suffix: "certificate
/// verify failed", "tlsv13 alert certificate required"; other errors' text.
std::string tls_reason(const boost::system::error_code& ec);


/// The subject of the certificate the peer of `ssl` presented (and the
/// handshake verified), as RFC 2253 writes it; empty if it presented none.
std::string peer_cert_subject(SSL* ssl);

enum class tls_side { client, server };

/// Wraps `sock` (connected, on a strand) in a TLS stream and runs the
/// handshake within `timeout`, then hands the stream to `links` with what
/// is left of `timeout`. The pending handshake covers the link factory's
/// own handshake too: it ends when that ends, and cancels it. `done` gets the link, or tls_handshake_failed with
/// OpenSSL's reason ("...: certificate verify failed (certificate has
/// expired)"); on failure the socket is reset.
handshake_pending_ptr tls_handshake(tcp_socket sock,
                              tls_context_ptr ctx, tls_side side,
                              tls_peer_check check, caf::timespan timeout,
                              link_factory_ptr links, handshake_done done);

} // namespace netasync::detail
