#include "netasync/options.hpp"

#include <cmath>
#include <iostream>
#include <limits>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "netasync/error.hpp"

namespace netasync {

const char* to_string(overflow_policy x) {
  switch (x) {
    case overflow_policy::reject: return "reject";
    case overflow_policy::drop_newest: return "drop-newest";
    case overflow_policy::drop_oldest: return "drop-oldest";
  }
  return "reject";
}

namespace {

constexpr overflow_policy overflow_policies[] = {
  overflow_policy::reject, overflow_policy::drop_newest,
  overflow_policy::drop_oldest};
constexpr client_cert_policy client_cert_policies[] = {
  client_cert_policy::none, client_cert_policy::optional,
  client_cert_policy::required};
constexpr jitter_policy jitter_policies[] = {
  jitter_policy::none, jitter_policy::full, jitter_policy::equal};

// The value among `all` whose to_string is `str`.
template <class E, size_t N>
caf::optional<E> by_name(const std::string& str, const E (&all)[N]) {
  for (auto x : all)
    if (str == to_string(x))
      return x;
  return caf::none;
}

// "a, b, c": the names of `all`, for error messages.
template <class E, size_t N>
std::string names_of(const E (&all)[N]) {
  std::string r;
  for (auto x : all)
    r += (r.empty() ? "" : ", ") + std::string{to_string(x)};
  return r;
}

} // namespace

caf::optional<overflow_policy> parse_overflow_policy(const std::string& str) {
  return by_name(str, overflow_policies);
}

const char* to_string(client_cert_policy x) {
  switch (x) {
    case client_cert_policy::none: return "none";
    case client_cert_policy::optional: return "optional";
    case client_cert_policy::required: return "required";
  }
  return "none";
}

caf::optional<client_cert_policy>
parse_client_cert_policy(const std::string& str) {
  return by_name(str, client_cert_policies);
}

const char* to_string(jitter_policy x) {
  switch (x) {
    case jitter_policy::none: return "none";
    case jitter_policy::full: return "full";
    case jitter_policy::equal: return "equal";
  }
  return "none";
}

caf::optional<jitter_policy> parse_jitter_policy(const std::string& str) {
  return by_name(str, jitter_policies);
}

namespace {

// Reads the netasync.* keys into `r`; the first invalid value (a negative
// size, an unknown policy name) is kept in `err`, and its field unchanged.
struct reader {
  const caf::actor_system_config& cfg;
  options& r;
  caf::error err;

  void invalid(const char* key, const std::string& why) {
    if (!err)
      err = make_error(error::invalid_argument,
                       std::string{key} + ": " + why);
  }

  template <class T>
  void size(const char* key, T& out) {
    if (auto x = caf::get_if<int64_t>(&cfg, key)) {
      if (*x < 0)
        invalid(key, "must not be negative, got " + std::to_string(*x));
      else if (static_cast<uint64_t>(*x) > std::numeric_limits<T>::max())
        invalid(key, "must be at most "
                       + std::to_string(std::numeric_limits<T>::max())
                       + ", got " + std::to_string(*x));
      else
        out = static_cast<T>(*x);
    }
  }

  // A key whose value names one of `all`.
  template <class E, size_t N>
  void named(const char* key, E& out, const E (&all)[N]) {
    if (auto x = caf::get_if<std::string>(&cfg, key)) {
      if (auto p = by_name(*x, all))
        out = *p;
      else
        invalid(key, "'" + *x + "' is none of " + names_of(all));
    }
  }

  void time(const char* key, caf::timespan& out) {
    if (auto x = caf::get_if<caf::timespan>(&cfg, key))
      out = *x;
  }

  void run() {
    time("netasync.reconnect-period", r.reconnect_period);
    if (auto x = caf::get_if<double>(&cfg, "netasync.reconnect-backoff")) {
      if (*x >= 1.0 && std::isfinite(*x))
        r.reconnect_backoff = *x;
      else
        invalid("netasync.reconnect-backoff",
                "must be a factor of at least 1, got " + std::to_string(*x));
    } else if (auto i = caf::get_if<int64_t>(&cfg,
                                             "netasync.reconnect-backoff")) {
      if (*i >= 1)
        r.reconnect_backoff = static_cast<double>(*i);
      else
        invalid("netasync.reconnect-backoff",
                "must be a factor of at least 1, got " + std::to_string(*i));
    }
    time("netasync.reconnect-max-period", r.reconnect_max_period);
    named("netasync.reconnect-jitter", r.reconnect_jitter, jitter_policies);
    size("netasync.max-reconnect-attempts", r.max_reconnect_attempts);
    size("netasync.reconnect-seed", r.reconnect_seed);
    time("netasync.heartbeat-period", r.heartbeat_period);
    if (auto x = caf::get_if<caf::timespan>(&cfg, "netasync.heartbeat-timeout"))
      r.heartbeat_timeout = *x;
    size("netasync.max-frame-size", r.max_frame_size);
    time("netasync.connect-timeout", r.connect_timeout);
    time("netasync.frame-timeout", r.frame_timeout);
    size("netasync.max-connections", r.max_connections);
    size("netasync.max-buffered-bytes", r.max_buffered_bytes);
    size("netasync.max-outbound-messages", r.max_outbound_messages);
    size("netasync.max-outbound-bytes", r.max_outbound_bytes);
    named("netasync.overflow-policy", r.overflow, overflow_policies);
    size("netasync.max-restarts", r.max_restarts);
    time("netasync.restart-window", r.restart_window);
    time("netasync.close-linger", r.close_linger);
    size("netasync.receive-window", r.receive_window);
    if (auto x = caf::get_if<bool>(&cfg, "netasync.batch-delivery"))
      r.batch_delivery = *x;
    if (auto x = caf::get_if<bool>(&cfg, "netasync.final-stats"))
      r.final_stats = *x;
    if (auto x = caf::get_if<bool>(&cfg, "netasync.session"))
      r.session = *x;
    time("netasync.session-timeout", r.session_timeout);
    time("netasync.session-ack-delay", r.session_ack_delay);
    time("netasync.session-handshake-timeout", r.session_handshake_timeout);
    text("netasync.tls.cert-file", r.tls.cert_file);
    text("netasync.tls.key-file", r.tls.key_file);
    text("netasync.tls.ca-file", r.tls.ca_file);
    text("netasync.tls.ca-dir", r.tls.ca_dir);
    text("netasync.tls.server-name", r.tls.server_name);
    // A switch that turns the default off: CAF 0.17 takes no "=false" for a
    // boolean on the command line.
    if (auto x = caf::get_if<bool>(&cfg, "netasync.tls.no-verify"))
      r.tls.verify_peer = !*x;
    named("netasync.tls.client-cert", r.tls.client_cert,
          client_cert_policies);
    time("netasync.tls.handshake-timeout", r.tls.handshake_timeout);
    size("netasync.tls.max-handshakes", r.tls.max_handshakes);
    list("netasync.ws.headers", r.ws.headers);
    for (auto& h : r.ws.headers)
      if (h.find(':') == std::string::npos
          || h.find_first_of("\r\n") != std::string::npos)
        invalid("netasync.ws.headers",
                "'" + h + "' is not one \"Name: value\" line");
    list("netasync.ws.subprotocols", r.ws.subprotocols);
    list("netasync.ws.allowed-origins", r.ws.allowed_origins);
    if (auto x = caf::get_if<bool>(&cfg, "netasync.ws.refuse-text"))
      r.ws.refuse_text = *x;
    if (auto x = caf::get_if<bool>(&cfg, "netasync.ws.deflate"))
      r.ws.deflate = *x;
    time("netasync.ws.handshake-timeout", r.ws.handshake_timeout);
    size("netasync.ws.max-header-bytes", r.ws.max_header_bytes);
    size("netasync.ws.max-body-bytes", r.ws.max_body_bytes);
    text("netasync.ws.static-dir", r.ws.static_dir);
    if (auto x = caf::get_if<bool>(&cfg, "netasync.ws.metrics"))
      r.ws.metrics = *x;
  }

  // A list key; a single string counts as a list of one.
  void list(const char* key, std::vector<std::string>& out) {
    if (auto xs = caf::get_if<std::vector<std::string>>(&cfg, key))
      out = *xs;
    else if (auto x = caf::get_if<std::string>(&cfg, key))
      out = {*x};
  }

  void text(const char* key, std::string& out) {
    if (auto x = caf::get_if<std::string>(&cfg, key))
      out = *x;
  }
};

} // namespace

options options::from(const caf::actor_system_config& cfg) {
  options r;
  reader rd{cfg, r, {}};
  rd.run();
  // Not silent: the value is ignored, and the operator is told which.
  if (rd.err)
    std::cerr << "netasync: ignoring an invalid option (its default stays): "
              << describe(rd.err) << std::endl;
  return r;
}

caf::expected<options> options::parse(const caf::actor_system_config& cfg) {
  options r;
  reader rd{cfg, r, {}};
  rd.run();
  if (rd.err)
    return std::move(rd.err);
  return r;
}

void add_options(caf::config_option_set& opts) {
  caf::config_option_adder{opts, "netasync"}
    .add<caf::timespan>("reconnect-period",
                        "client: wait before the first reconnect attempt "
                        "(default 1s)")
    .add<double>("reconnect-backoff",
                 "client: each further wait is this factor times the last, "
                 "at least 1 (default 1: fixed)")
    .add<caf::timespan>("reconnect-max-period",
                        "client: cap of the backed-off wait (default 30s)")
    .add<std::string>("reconnect-jitter",
                      "client: none, full or equal (default none)")
    .add<int64_t>("max-reconnect-attempts",
                  "client: attempts before closed(reconnect_limit); "
                  "0 = forever (default 0)")
    .add<int64_t>("reconnect-seed",
                  "client: seed of the jitter, for reproducible runs; "
                  "0 = random (default 0)")
    .add<caf::timespan>("heartbeat-period",
                        "heartbeat after this long idle (default 5s)")
    .add<caf::timespan>("heartbeat-timeout",
                        "drop a silent link after this long "
                        "(default 4 x heartbeat-period)")
    .add<int64_t>("max-frame-size", "largest payload in bytes (default 4 MiB)")
    .add<caf::timespan>("connect-timeout",
                        "client: one connect attempt at most (default 5s)")
    .add<caf::timespan>("frame-timeout",
                        "a frame must complete this long after its first "
                        "byte (default 60s)")
    .add<int64_t>("max-connections",
                  "server: connections kept at once, 0 = no limit (default 0)")
    .add<int64_t>("max-buffered-bytes",
                  "server: bytes all connections of an acceptor may hold; "
                  "past it those holding most stop reading, 0 = no bound "
                  "(default 1 GiB)")
    .add<int64_t>("max-outbound-messages",
                  "outbound buffer bound in messages (default 16384)")
    .add<int64_t>("max-outbound-bytes",
                  "outbound buffer bound in bytes (default 4 MiB)")
    .add<std::string>("overflow-policy",
                      "reject, drop-newest or drop-oldest (default reject)")
    .add<int64_t>("max-restarts",
                  "worker failures tolerated per restart-window (default 5)")
    .add<caf::timespan>("restart-window",
                        "window of the restart intensity (default 10s)")
    .add<caf::timespan>("close-linger",
                        "close waits this long to drain (default 5s)")
    .add<int64_t>("receive-window",
                  "bytes received and not yet processed by the subscribers; "
                  "past it reading stops (default 4 MiB)")
    .add<bool>("batch-delivery",
               "deliver (connection, std::vector<bytes>) per read instead of "
               "(connection, bytes) per payload (default false)")
    .add<bool>("final-stats",
               "subscribers get (stats_atom, connection, connection_stats) "
               "right before closed (default false)")
    .add<bool>("session",
               "sessions: numbered, acknowledged messages resent after a "
               "reconnect; both ends (default false)")
    .add<caf::timespan>("session-timeout",
                        "server: a session outlives its link this long "
                        "(default 30s)")
    .add<caf::timespan>("session-ack-delay",
                        "acknowledge received messages within this long "
                        "(default 10ms)")
    .add<caf::timespan>("session-handshake-timeout",
                        "the session handshake's bound (default 10s)")
    .add<int64_t>("io-threads", "I/O threads of the library (default 1)");
  caf::config_option_adder{opts, "netasync.tls"}
    .add<std::string>("cert-file", "PEM certificate chain of this side")
    .add<std::string>("key-file", "PEM private key of cert-file")
    .add<std::string>("ca-file", "PEM file of CAs that verify the peer")
    .add<std::string>("ca-dir", "hashed directory of CAs that verify the peer")
    .add<std::string>("server-name",
                      "client: name to verify and send as SNI "
                      "(default: the host dialed)")
    .add<bool>("no-verify",
               "client: do not verify the server's certificate (tests "
               "against self-signed peers only)")
    .add<std::string>("client-cert",
                      "server: none, optional or required (default none)")
    .add<caf::timespan>("handshake-timeout",
                        "server: a TLS handshake at most (default 10s)")
    .add<int64_t>("max-handshakes",
                  "server: TLS handshakes at once; past it the oldest is "
                  "reset (default 1024)");
  caf::config_option_adder{opts, "netasync.ws"}
    .add<std::vector<std::string>>("headers",
                                   "client: extra upgrade request headers, "
                                   "each \"Name: value\"")
    .add<std::vector<std::string>>("subprotocols",
                                   "subprotocols offered (client) or "
                                   "spoken (server)")
    .add<std::vector<std::string>>("allowed-origins",
                                   "server: browser origins besides its own "
                                   "that may connect; \"*\" = any")
    .add<bool>("refuse-text", "close 1003 on a text message instead of "
                              "delivering it (default false)")
    .add<bool>("deflate", "permessage-deflate, about 133 KiB more per "
                          "connection (default false)")
    .add<caf::timespan>("handshake-timeout",
                        "server: an HTTP request at most (default 10s)")
    .add<int64_t>("max-header-bytes",
                  "server: HTTP request headers at most (default 8 KiB)")
    .add<int64_t>("max-body-bytes",
                  "server: HTTP request body at most (default 1 MiB)")
    .add<std::string>("static-dir",
                      "server: directory served to plain GET requests")
    .add<bool>("metrics", "server: GET /metrics in the Prometheus text "
                          "format (default false)");
}

} // namespace netasync
