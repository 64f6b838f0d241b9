#pragma once

// The library's own error category. Every failure on the network path is a
// caf::error value of this category: it travels in status messages
// (disconnected, closed), in request replies and in caf::expected results.

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace netasync {

enum class error : uint8_t {
  none = 0,
  /// Name resolution failed.
  resolve_failed,
  /// The peer refused or the network rejected the connection attempt.
  connect_failed,
  /// No connection within the connect timeout.
  connect_timeout,
  /// The peer closed the connection (EOF) or reset it.
  connection_lost,
  /// Any other socket error.
  io_error,
  /// Nothing arrived for the heartbeat timeout: the link is stuck.
  heartbeat_timeout,
  /// A frame header announced more than the max frame size.
  frame_too_large,
  /// A frame header that a net.async peer reads as a negative length.
  invalid_frame_length,
  /// The outbound buffer is full and the policy is reject.
  outbound_buffer_full,
  /// An empty payload cannot be sent: on the wire it would be a heartbeat.
  empty_payload,
  /// The application closed the connection.
  closed_by_user,
  /// Close could not drain the outbound buffer within the linger time.
  linger_expired,
  /// The connection worker failed more often than the restart intensity.
  restart_intensity_exceeded,
  /// Binding or listening failed.
  bind_failed,
  /// The actor system is shutting down.
  shutting_down,
  /// netasync::io_module is not loaded into the actor system.
  module_not_loaded,
  /// An argument is out of range (empty host, port 0 for a client, ...).
  invalid_argument,
  /// The connection worker failed (an exception); it is being restarted.
  worker_failed,
  /// A frame did not complete within the frame timeout (a trickling peer).
  frame_timeout,
  /// The acceptor is at its max-connections limit.
  too_many_connections,
  /// The TLS handshake failed; the context carries OpenSSL's reason
  /// ("certificate verify failed (certificate has expired)", "wrong version
  /// number", ...). A client retries per its reconnect policy.
  tls_handshake_failed,
  /// A TLS setting cannot be used: a certificate, key or CA file that does
  /// not load, a key that does not match its certificate, a server without
  /// a certificate. Returned by connect() and accept() at once.
  tls_config_invalid,
  /// A client made max-reconnect-attempts attempts since its last stable
  /// link, all failed: the connection ends (closed). The context names the
  /// attempts and the last error.
  reconnect_limit,
  /// A WebSocket upgrade failed: the server answered with another status
  /// than 101 (the context names it: 403 for a refused origin, 404 for a
  /// path it does not serve), or the answer broke RFC 6455.
  ws_handshake_failed,
  /// A WebSocket peer broke the protocol or our rules (a text message with
  /// ws.refuse-text, an unmasked client frame, a bad close code): the link
  /// is closed with the matching close code, named in the context.
  ws_protocol_violation,
  /// Sessions: the server does not know the session the client resumes (it
  /// expired after session-timeout without a link, or the server process
  /// restarted); or, on the server, a session was not resumed within
  /// session-timeout. The connection ends (closed); what it held is gone,
  /// and said so, never silently.
  session_expired,
  /// Sessions: the peer does not speak sessions (a plain peer: it echoed
  /// our HELLO, or its first message was no HELLO), speaks another session
  /// version, or is draining. The connection ends (closed).
  session_refused,
  /// Sessions: the peer broke the session protocol (a malformed session
  /// frame, a sequence number past the next one, an acknowledgement of
  /// something never sent). The link is dropped; a client resumes.
  session_protocol_violation,
  /// A call's handler on the peer failed (its error, rendered, is the
  /// context), or the peer had nobody to handle it.
  call_failed,
  /// The connection was drained (graceful shutdown).
  draining,
  /// The peer closed the session (its application closed the connection,
  /// or it drained).
  closed_by_peer,
  /// HTTP client: the server's answer is no valid HTTP/1.x response (the
  /// context says what is wrong: Beast's parser error, bytes after it).
  http_response_invalid,
  /// HTTP client: the response's header block or body is larger than
  /// http-client.max-header-bytes or max-body-bytes (refused as it
  /// arrives, never allocated).
  http_response_too_large,
  /// HTTP client: no complete response within http-client.request-timeout.
  http_timeout,
  /// HTTP client: more redirects than http-client.max-redirects in a row.
  http_too_many_redirects,
};

/// The category atom of netasync errors.
constexpr caf::atom_value error_category = caf::atom("netasync");

/// Returns the enumerator's name, e.g. "heartbeat_timeout".
const char* to_string(error x);

caf::error make_error(error x);

/// An error with a context string, e.g. the peer address or the errno text.
caf::error make_error(error x, std::string context);

/// Returns the netasync enumerator of `x`, or error::none if `x` is of another
/// category.
error code_of(const caf::error& x);

/// Renders any caf::error; netasync errors read "netasync::heartbeat_timeout
/// (context)". Works without an actor system.
std::string describe(const caf::error& x);

} // namespace netasync
