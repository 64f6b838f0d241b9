#pragma once

// Every knob of a connection or acceptor. Defaults match net.async where
// net.async has the knob; the rest are bounds net.async lacks.
//
// Each field is also a key of the actor system's configuration
// (`netasync.<key>`, INI file or command line). options::from(cfg) reads
// them; a caller then overrides per call by assigning fields, so the per-call
// value wins.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/config_option_set.hpp>
#include <caf/expected.hpp>
#include <caf/optional.hpp>
#include <caf/timespan.hpp>

#include "netasync/overflow_policy.hpp"

namespace netasync {

/// Server: what a TLS listener asks of a client's certificate.
enum class client_cert_policy : uint8_t {
  /// Ask for none (the default).
  none,
  /// Ask for one; a client without one is served, a client whose
  /// certificate does not verify against the CA is refused.
  optional,
  /// Refuse a client without a certificate that verifies (mutual TLS).
  required,
};

const char* to_string(client_cert_policy x);

caf::optional<client_cert_policy>
parse_client_cert_policy(const std::string& str);

/// Client: how the waits between reconnect attempts vary (see
/// options::reconnect_jitter).
enum class jitter_policy : uint8_t {
  /// Every wait is the computed delay.
  none,
  /// Uniform in [0, delay) ("full jitter", as nng and AWS): clients that lost
  /// one server together spread their attempts over the whole window.
  full,
  /// Half the delay plus uniform in [0, delay / 2).
  equal,
};

const char* to_string(jitter_policy x);

caf::optional<jitter_policy> parse_jitter_policy(const std::string& str);

/// TLS settings of `tls://` endpoints; ignored for `tcp://`. Files are PEM.
/// Keys: netasync.tls.<key>.
struct tls_options {
  /// This side's certificate chain (leaf first) and its private key: a
  /// server's always, a client's for mutual TLS. Keys: cert-file, key-file.
  std::string cert_file;
  std::string key_file;

  /// Trusted CAs that verify the peer, as one file and/or a hashed
  /// directory (c_rehash). A client with neither trusts the system's CAs.
  /// Keys: ca-file, ca-dir.
  std::string ca_file;
  std::string ca_dir;

  /// Client: the name the server's certificate must carry, and the SNI
  /// name sent; empty means the host dialed. Needed for a certificate
  /// issued to a name when dialing an IP literal. Key: server-name.
  std::string server_name;

  /// Client: verify the server's certificate chain and name. On by
  /// default; off only for tests against self-signed peers.
  /// Key: no-verify (a switch that turns it off).
  bool verify_peer = true;

  /// Server: whether a client must present a certificate. Key: client-cert
  /// (none, optional, required).
  client_cert_policy client_cert = client_cert_policy::none;

  /// Server: an accepted connection must complete its handshake within
  /// this long; a client that connects and says nothing costs bounded time.
  /// The client's handshake counts against connect-timeout.
  /// Key: handshake-timeout.
  caf::timespan handshake_timeout = std::chrono::seconds(10);

  /// Server: handshakes under way at once per listener. A connection past
  /// it evicts (resets) the oldest pending handshake, so that silent
  /// clients cannot lock out new ones. Key: max-handshakes.
  size_t max_handshakes = 1024;
};

/// A WebSocket endpoint of a listener besides the path of its URL
/// (ws_options::routes): Aleph's server with /echo and /chat on one port.
struct ws_route {
  /// Upgrades for this path and those below it: "/chat" takes "/chat" and
  /// "/chat/room1", not "/chatter".
  std::string path;
  /// Who receives (accepted_atom, acceptor, connection) for the route's
  /// connections, and their payloads and statuses, and (closed_atom,
  /// acceptor, error) when the acceptor ends. Empty: the acceptor's
  /// subscribers (ws:// and wss:// only).
  std::vector<caf::actor> subscribers;
  /// Optional: decides each upgrade before it happens (a token header, a
  /// cookie). It receives the upgrade request as a netasync::http_request
  /// and replies a netasync::http_response within ws.handler-timeout:
  /// status 101 upgrades (its headers go into the 101 response), any other
  /// refuses with that response (its body as is). No answer in time is
  /// 504, an error 500. Path, origin and subprotocol are checked first.
  caf::actor gate;
};

/// WebSocket settings of `ws://` and `wss://` endpoints (wss also uses the
/// tls options); ignored for `tcp://` and `tls://`. Keys: netasync.ws.<key>.
struct ws_options {
  /// Client: extra request headers of the upgrade, each "Name: value" (an
  /// auth token, a cookie). Key: headers (a list).
  std::vector<std::string> headers;

  /// Client: subprotocols offered (Sec-WebSocket-Protocol), in order of
  /// preference; the server must pick one of them. Server: those it
  /// speaks; it picks the first of the client's that is among them, and
  /// refuses (400) a client that offers only others. Empty: none offered,
  /// none required. Key: subprotocols (a list).
  std::vector<std::string> subprotocols;

  /// Server: the browser origins ("https://app.example.org") whose pages
  /// may open a connection. A request without an Origin header (not a
  /// browser) is served; one whose origin is neither listed nor the
  /// server's own (same scheme, host and port as the Host header) is
  /// refused with 403, so that a page elsewhere cannot ride on a user's
  /// cookies (cross-site WebSocket hijacking). "*" allows every origin.
  /// Key: allowed-origins (a list).
  std::vector<std::string> allowed_origins;

  /// Refuse text messages (close 1003) instead of delivering their bytes
  /// as a payload. Key: refuse-text.
  bool refuse_text = false;

  /// Offer (client) or accept (server) permessage-deflate. Off by default:
  /// each connection that uses it keeps zlib's state both ways, measured
  /// at about 133 KiB per idle server connection (against 11 KB without;
  /// docs/reliability.md), and compressing data a peer chooses is a way to
  /// make us spend CPU. Key: deflate.
  bool deflate = false;

  /// Server: an accepted connection must send its whole HTTP request (an
  /// upgrade or another) within this long, and each further request on a
  /// kept-alive HTTP connection too: a slowloris client costs bounded
  /// time. With wss the TLS handshake has its own tls.handshake-timeout.
  /// Key: handshake-timeout.
  caf::timespan handshake_timeout = std::chrono::seconds(10);

  /// Server: the largest HTTP request header block and body accepted;
  /// larger ones are answered 431 and 413. Keys: max-header-bytes,
  /// max-body-bytes.
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 1024 * 1024;

  /// Server: a directory whose files plain GET requests receive (a demo
  /// page); no request path leaves it. Empty: none. Key: static-dir.
  std::string static_dir;

  /// Server: answer GET /metrics in the Prometheus text format (the
  /// acceptor's counters). Off by default. Key: metrics.
  bool metrics = false;

  /// Server: how long a handler actor may take to answer a request; then
  /// the client gets 504. Key: handler-timeout.
  caf::timespan handler_timeout = std::chrono::seconds(9);
  /// Server: requests served on one HTTP connection; the answer to the
  /// last says `Connection: close`. 0 = no bound.
  /// Key: max-requests-per-connection.
  size_t max_requests_per_connection = 1000;
  /// Server: an actor that answers other HTTP requests: it receives a
  /// netasync::http_request and replies with a netasync::http_response
  /// within handler-timeout (else 504). Not a configuration key.
  caf::actor http_handler;
  /// Server: further WebSocket endpoints on the same port, tried in order
  /// before the URL's own path (which stays the acceptor's); on http:// and
  /// https:// listeners the only ones, and each needs subscribers. Not a
  /// configuration key.
  std::vector<ws_route> routes;
};

/// The HTTP client's settings (netasync/http_client.hpp); its connections
/// also use connect-timeout and the tls options (ca-file, ca-dir, cert-file
/// and key-file for mutual TLS, server-name, no-verify).
/// Keys: netasync.http-client.<key>.
struct http_client_options {
  /// Keep connections open after a response for the next request to the
  /// same scheme, host and port. Off: a connection per request.
  /// Key: no-pool (a switch that turns it off).
  bool pool = true;
  /// Connections open at once to one scheme+host+port, and in all; a
  /// request past them waits for one to be free. Keys:
  /// max-connections-per-host, max-connections.
  size_t max_connections_per_host = 8;
  size_t max_connections = 256;
  /// Requests waiting for a connection to one scheme+host+port at most; a
  /// request past them is answered outbound_buffer_full at once, so that
  /// a slow server cannot make the client hold everyone's requests.
  /// Key: max-waiting.
  size_t max_waiting = 1024;
  /// A kept-alive connection unused for this long is closed.
  /// Key: idle-timeout.
  caf::timespan idle_timeout = std::chrono::seconds(30);
  /// A request must be answered (the whole response read) within this long
  /// once its connection is up; else http_timeout. Key: request-timeout.
  caf::timespan request_timeout = std::chrono::seconds(30);
  /// The largest response header block and body read; a larger one is
  /// http_response_too_large. Keys: max-header-bytes, max-body-bytes.
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 16u * 1024u * 1024u;
  /// Redirects (301, 302, 303, 307, 308 with a Location) followed per
  /// request; past them http_too_many_redirects. 0: none followed, the
  /// 3xx response is the answer. Key: max-redirects.
  size_t max_redirects = 0;
};

struct options {
  /// Client: wait between a drop (or failed attempt) and the next attempt;
  /// with a backoff, the first such wait. Key: netasync.reconnect-period.
  caf::timespan reconnect_period = std::chrono::seconds(1);

  /// Client: each further wait since the last stable link is this many
  /// times the one before (1 = fixed, as net.async), up to
  /// reconnect_max_period (a cap below reconnect_period means none). A link
  /// that stayed up for a heartbeat-timeout starts the sequence over.
  /// Keys: netasync.reconnect-backoff (at least 1), reconnect-max-period.
  double reconnect_backoff = 1.0;
  caf::timespan reconnect_max_period = std::chrono::seconds(30);

  /// Client: randomises each wait (none, full, equal).
  /// Key: netasync.reconnect-jitter.
  jitter_policy reconnect_jitter = jitter_policy::none;

  /// Client: attempts since the last stable link before the connection
  /// gives up, with closed(reconnect_limit); 0 = forever, as net.async.
  /// Key: netasync.max-reconnect-attempts.
  size_t max_reconnect_attempts = 0;

  /// Client: seeds the jitter's random numbers; 0 = from the system's
  /// entropy, per connection. Set it only to reproduce a sequence (tests):
  /// connections with one seed wait alike. Key: netasync.reconnect-seed.
  uint64_t reconnect_seed = 0;

  /// Send a heartbeat after this long without writing.
  /// Key: netasync.heartbeat-period.
  caf::timespan heartbeat_period = std::chrono::seconds(5);

  /// Drop a link that received nothing for this long; unset means
  /// 4 × heartbeat_period, as in net.async. Key: netasync.heartbeat-timeout.
  caf::optional<caf::timespan> heartbeat_timeout;

  /// Largest payload accepted from the wire or from the application. A
  /// peer can make a connection hold up to this much in a frame it has not
  /// finished (for at most frame-timeout): with the other defaults, a peer
  /// costs a server at most about 16 MiB (docs/reliability.md, "Memory").
  /// Key: netasync.max-frame-size.
  uint32_t max_frame_size = 4u * 1024u * 1024u;

  /// A frame must complete within this long after its first byte arrived,
  /// however busy the peer keeps the link: a peer trickling a frame a byte at
  /// a time cannot pin a connection and its buffer. At the 64 MiB default
  /// max frame size, 60 s asks for about 1.1 MB/s. Key: netasync.frame-timeout.
  caf::timespan frame_timeout = std::chrono::seconds(60);

  /// Server: connections an acceptor keeps at once; past it, new connections
  /// are reset at once (the client retries after its reconnect period) rather
  /// than left unserved in the backlog. 0 = no limit.
  /// Key: netasync.max-connections.
  size_t max_connections = 0;

  /// Server: what all connections of one acceptor may hold together in
  /// outbound buffers and received payloads not yet processed. Past it,
  /// the connections holding more than a quarter of their share stop
  /// reading (TCP pushes back on their peers) until the total is down to
  /// 9/10 of it; those holding little read on. A soft bound: a connection
  /// finishes the read under way (up to 256 KiB) first, so the total stays
  /// below 1.25 × this + 256 KiB per connection. 0 = no bound.
  /// Key: netasync.max-buffered-bytes.
  size_t max_buffered_bytes = 1024u * 1024u * 1024u;

  /// Client: give up one connection attempt after this long.
  /// Key: netasync.connect-timeout.
  caf::timespan connect_timeout = std::chrono::seconds(5);

  /// Bounds of the outbound buffer, which holds messages accepted but not yet
  /// written (including those waiting for a reconnect). A plain server
  /// connection reads a payload only while it fits within these bounds
  /// together with the buffer, the payloads its subscribers have not
  /// processed and the sends on their way to it: a reply of at most its
  /// payload's size (an echo) is never refused, and a peer that does not
  /// read what it is sent gets nothing more read (TCP pushes back on it), at
  /// no more memory than this (docs/design.md, "Flow control").
  /// Keys: netasync.max-outbound-messages, netasync.max-outbound-bytes,
  /// netasync.overflow-policy.
  size_t max_outbound_messages = 16384;
  size_t max_outbound_bytes = 4u * 1024u * 1024u;
  overflow_policy overflow = overflow_policy::reject;

  /// Restart intensity: at most max_restarts worker failures within
  /// restart_window, else the connection ends with closed.
  /// Keys: netasync.max-restarts, netasync.restart-window.
  size_t max_restarts = 5;
  caf::timespan restart_window = std::chrono::seconds(10);

  /// Close waits at most this long for the outbound buffer to drain.
  /// Key: netasync.close-linger.
  caf::timespan close_linger = std::chrono::seconds(5);

  /// Bytes received but not yet processed by the subscribers (or held while
  /// there is none), each payload counted 64 bytes more for its message.
  /// A payload that would pass it waits, and the connection stops reading,
  /// so TCP pushes back on the peer; it reads again once the payload fits
  /// and they are down to half of it. Stuck detection does
  /// not count the time we do not read. A subscriber slower than its peer
  /// therefore costs bounded memory. Key: netasync.receive-window.
  size_t receive_window = 4u * 1024u * 1024u;

  /// Subscribers receive (connection, std::vector<bytes>): all payloads that
  /// one read completed, in order, in one message, instead of one
  /// (connection, bytes) per payload. Worth it for small messages: a CAF
  /// message per payload costs more than the payload. Statuses are unchanged.
  /// Key: netasync.batch-delivery.
  bool batch_delivery = false;

  /// Subscribers receive (stats_atom, connection, connection_stats), the
  /// connection's last counters, right before `closed`. Off by default: a
  /// subscriber without a handler for it would log an unexpected message.
  /// Key: netasync.final-stats.
  bool final_stats = false;

  /// Sessions (docs/protocol.md, section 13): both ends must set it. Each
  /// link starts with a handshake (session id, version, where each side's
  /// receiving stopped); every message is numbered and acknowledged, the
  /// sender keeps it (within the outbound buffer's bounds) until the peer
  /// acknowledged it, and resends after a reconnect what the peer did not
  /// receive, which drops duplicates: every message is delivered once, in
  /// order, across link failures while both processes live. A server keeps
  /// a session (the same connection handle) for session-timeout after its
  /// link drops, for the client to resume. Calls (call_atom) need it.
  /// Off by default: a plain connection is byte for byte net.async.
  /// The overflow policy must be reject or drop-newest (drop-oldest would
  /// drop numbered messages). Key: netasync.session.
  bool session = false;

  /// Server: how long a session outlives its link, waiting for the client
  /// to resume it; then it ends with closed(session_expired). Key:
  /// netasync.session-timeout.
  caf::timespan session_timeout = std::chrono::seconds(30);

  /// A receiver acknowledges at the latest this long after a message
  /// arrived (sooner every 128 messages or 512 KiB). Key:
  /// netasync.session-ack-delay.
  caf::timespan session_ack_delay = std::chrono::milliseconds(10);

  /// The session handshake must complete within this long after the link
  /// is up (client: else the attempt failed; server: else the link is
  /// reset). Key: netasync.session-handshake-timeout.
  caf::timespan session_handshake_timeout = std::chrono::seconds(10);

  /// TLS settings, used by `tls://` and `wss://` endpoints.
  tls_options tls;

  /// WebSocket and HTTP settings, used by `ws://` and `wss://` endpoints.
  ws_options ws;

  /// The HTTP client's settings (spawn_http_client).
  http_client_options http_client;

  /// The heartbeat timeout in force.
  caf::timespan effective_heartbeat_timeout() const {
    return heartbeat_timeout ? *heartbeat_timeout : 4 * heartbeat_period;
  }

  /// Defaults overridden by the `netasync.*` keys of `cfg`. An invalid
  /// value (a negative or too large size, an unknown overflow-policy) keeps
  /// the default, and a line on stderr names it; parse() returns it as an
  /// error instead.
  static options from(const caf::actor_system_config& cfg);

  /// Like from(), but the first invalid value is an `invalid_argument` error
  /// naming its key.
  static caf::expected<options> parse(const caf::actor_system_config& cfg);
};

/// Declares the `netasync.*` keys so that they appear in --long-help and are
/// accepted on the command line. Call from an actor_system_config subclass:
/// `netasync::add_options(custom_options_);`
void add_options(caf::config_option_set& opts);

} // namespace netasync
