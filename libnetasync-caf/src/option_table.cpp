#include "option_table.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

#include "netasync/error.hpp"

namespace netasync::detail {

namespace {

static_assert(std::is_same<size_t, uint64_t>::value,
              "sizes are read as uint64_t");

// tls.no-verify: a switch that turns a default off (CAF 0.17 takes no
// "=false" for a boolean on the command line).
struct negated {
  bool* value;
};

// Where a key's value goes; the type says how it is read and shown.
using slot = std::variant<caf::timespan*, caf::optional<caf::timespan>*,
                          double*, bool*, negated, std::string*,
                          std::vector<std::string>*, uint32_t*, uint64_t*,
                          jitter_policy*, overflow_policy*,
                          client_cert_policy*>;

enum class bound : uint8_t { none, not_negative, positive, at_least_one };

struct row {
  const char* key; // below netasync.
  slot (*at)(options&);
  const char* meaning;
  bound least = bound::none;     // checked by check_bounds
  const char* scope = nullptr;   // "tls", "ws": only for such endpoints
  bool bytes = false;            // a size in bytes (shown as KiB, MiB, GiB)
  const char* zero = nullptr;    // what 0 means, shown after it
  const char* shown = nullptr;   // the default, where its value cannot say it
  const char* (*check)(const options&) = nullptr; // beyond the type
};

#define NETASYNC_AT(field) [](options& o) -> slot { return &o.field; }

const char* check_headers(const options& o) {
  for (auto& h : o.ws.headers)
    if (h.find(':') == std::string::npos
        || h.find_first_of("\r\n") != std::string::npos)
      return "each header must be one \"Name: value\" line";
  return nullptr;
}

row with(row r, bound b, const char* scope = nullptr) {
  r.least = b;
  r.scope = scope;
  return r;
}

row in_bytes(row r) {
  r.bytes = true;
  return r;
}

row zero_is(row r, const char* what) {
  r.zero = what;
  return r;
}

row shown_as(row r, const char* what) {
  r.shown = what;
  return r;
}

// The rows, in the order of the README's table.
const std::vector<row>& rows() {
  static const std::vector<row> all = {
    with({"reconnect-period", NETASYNC_AT(reconnect_period),
          "client: wait before each reconnect (net.async); with a backoff, "
          "the first wait"},
         bound::not_negative),
    shown_as({"reconnect-backoff", NETASYNC_AT(reconnect_backoff),
              "client: each further wait since the last stable link is this "
              "factor (at least 1) times the one before"},
             "1 (fixed)"),
    {"reconnect-max-period", NETASYNC_AT(reconnect_max_period),
     "client: cap of the backed-off wait"},
    {"reconnect-jitter", NETASYNC_AT(reconnect_jitter),
     "client: `none`, `full` (uniform in [0, wait)) or `equal` (half the "
     "wait plus uniform in [0, wait/2))"},
    zero_is({"max-reconnect-attempts", NETASYNC_AT(max_reconnect_attempts),
             "client: attempts since the last stable link before "
             "`closed(reconnect_limit)`"},
            "forever"),
    zero_is({"reconnect-seed", NETASYNC_AT(reconnect_seed),
             "client: seed of the jitter, to reproduce a run"},
            "random"),
    with({"heartbeat-period", NETASYNC_AT(heartbeat_period),
          "heartbeat after this long without writing (net.async)"},
         bound::positive),
    shown_as(with({"heartbeat-timeout", NETASYNC_AT(heartbeat_timeout),
                   "drop a link silent this long (net.async)"},
                  bound::positive),
             "4 × period"),
    in_bytes(with({"max-frame-size", NETASYNC_AT(max_frame_size),
                   "largest payload accepted, in bytes (a peer may hold "
                   "this much in an unfinished frame)"},
                  bound::at_least_one)),
    with({"connect-timeout", NETASYNC_AT(connect_timeout),
          "client: one connection attempt at most"},
         bound::positive),
    with({"frame-timeout", NETASYNC_AT(frame_timeout),
          "a frame must complete this long after its first byte (slowloris "
          "bound)"},
         bound::positive),
    zero_is(in_bytes({"max-buffered-bytes", NETASYNC_AT(max_buffered_bytes),
                      "server: what all connections of an acceptor may hold "
                      "together; past it those holding most stop reading "
                      "(0 = no bound)"}),
            "no bound"),
    zero_is({"max-connections", NETASYNC_AT(max_connections),
             "server: connections kept at once; past it new ones are reset "
             "at once"},
            "none"),
    with({"max-outbound-messages", NETASYNC_AT(max_outbound_messages),
          "outbound buffer bound in messages"},
         bound::at_least_one),
    in_bytes(with({"max-outbound-bytes", NETASYNC_AT(max_outbound_bytes),
                   "outbound buffer bound in bytes; a plain server "
                   "connection reads only while what it holds (buffer, "
                   "unprocessed payloads, replies on their way) fits both "
                   "bounds, so an echo is never refused"},
                  bound::at_least_one)),
    {"overflow-policy", NETASYNC_AT(overflow),
     "`reject`, `drop-newest` or `drop-oldest`"},
    {"max-restarts", NETASYNC_AT(max_restarts),
     "worker failures of a client tolerated per `restart-window`"},
    {"restart-window", NETASYNC_AT(restart_window),
     "window of the restart intensity"},
    {"close-linger", NETASYNC_AT(close_linger),
     "close waits this long to drain"},
    in_bytes(with({"receive-window", NETASYNC_AT(receive_window),
                   "received bytes not yet processed by the subscribers (or "
                   "held while nobody subscribes), 64 more per payload; past "
                   "it reading stops"},
                  bound::at_least_one)),
    {"batch-delivery", NETASYNC_AT(batch_delivery),
     "subscribers get `(connection, std::vector<bytes>)` per read instead "
     "of one message per payload (flag: `--netasync.batch-delivery`)"},
    {"final-stats", NETASYNC_AT(final_stats),
     "subscribers get `(stats_atom, connection, connection_stats)` right "
     "before `closed`"},
    {"session", NETASYNC_AT(session),
     "sessions, both ends: numbered, acknowledged messages resent after a "
     "reconnect; calls (flag: `--netasync.session`; overflow policy "
     "`reject` or `drop-newest`)"},
    {"session-timeout", NETASYNC_AT(session_timeout),
     "server: a session outlives its link this long, waiting for the "
     "client to resume it"},
    {"session-ack-delay", NETASYNC_AT(session_ack_delay),
     "acknowledge received messages within this long (at once every 128 "
     "or 512 KiB)"},
    {"session-handshake-timeout", NETASYNC_AT(session_handshake_timeout),
     "the session HELLO's bound (client: a failed attempt; server: the "
     "link is reset)"},
    {"tls.cert-file", NETASYNC_AT(tls.cert_file),
     "PEM certificate chain of this side (a TLS server's always; a "
     "client's for mutual TLS)"},
    {"tls.key-file", NETASYNC_AT(tls.key_file),
     "PEM private key of `tls.cert-file`"},
    shown_as({"tls.ca-file", NETASYNC_AT(tls.ca_file),
              "PEM file of CAs that verify the peer"},
             "system CAs (client)"),
    shown_as({"tls.ca-dir", NETASYNC_AT(tls.ca_dir),
              "hashed directory of CAs that verify the peer"},
             "system CAs (client)"),
    shown_as({"tls.server-name", NETASYNC_AT(tls.server_name),
              "client: name the server's certificate must carry, sent as "
              "SNI"},
             "the host dialled"),
    {"tls.no-verify",
     [](options& o) -> slot { return negated{&o.tls.verify_peer}; },
     "client: skip verifying the server (tests against self-signed peers "
     "only)"},
    {"tls.client-cert", NETASYNC_AT(tls.client_cert),
     "server: `none`, `optional` or `required` (mutual TLS)"},
    with({"tls.handshake-timeout", NETASYNC_AT(tls.handshake_timeout),
          "server: a handshake at most (a client's counts against "
          "`connect-timeout`)"},
         bound::positive, "tls"),
    with({"tls.max-handshakes", NETASYNC_AT(tls.max_handshakes),
          "server: handshakes at once per listener (TLS, and HTTP "
          "connections of a ws port that have not upgraded); a newcomer "
          "past it evicts the oldest"},
         bound::at_least_one, "tls"),
    {"ws.headers", NETASYNC_AT(ws.headers),
     "client: extra upgrade request headers, each `\"Name: value\"` (a "
     "list)",
     bound::none, nullptr, false, nullptr, nullptr, check_headers},
    {"ws.subprotocols", NETASYNC_AT(ws.subprotocols),
     "offered (client) or spoken (server) subprotocols (a list)"},
    shown_as({"ws.allowed-origins", NETASYNC_AT(ws.allowed_origins),
              "server: browser origins besides its own that may connect; "
              "`*` = any"},
             "– (own origin only)"),
    {"ws.refuse-text", NETASYNC_AT(ws.refuse_text),
     "close 1003 on a text message instead of delivering its bytes"},
    {"ws.deflate", NETASYNC_AT(ws.deflate),
     "permessage-deflate (memory per connection: docs/reliability.md)"},
    with({"ws.handshake-timeout", NETASYNC_AT(ws.handshake_timeout),
          "server: an HTTP request (upgrade or not) must arrive and be "
          "answered within it"},
         bound::positive, "ws"),
    in_bytes({"ws.max-header-bytes", NETASYNC_AT(ws.max_header_bytes),
              "server: HTTP request headers at most (431)"}),
    in_bytes({"ws.max-body-bytes", NETASYNC_AT(ws.max_body_bytes),
              "server: HTTP request body at most (413)"}),
    {"ws.static-dir", NETASYNC_AT(ws.static_dir),
     "server: directory served to plain GET requests"},
    {"ws.metrics", NETASYNC_AT(ws.metrics),
     "server: `GET /metrics` in the Prometheus text format"},
    with({"ws.handler-timeout", NETASYNC_AT(ws.handler_timeout),
          "server: a handler actor's answer at most (then 504)"},
         bound::positive, "ws"),
    {"ws.max-requests-per-connection",
     NETASYNC_AT(ws.max_requests_per_connection),
     "server: HTTP requests per connection, the last answered with "
     "`Connection: close` (0: no bound)"},
    {"http-client.no-pool",
     [](options& o) -> slot { return negated{&o.http_client.pool}; },
     "HTTP client: a connection per request instead of keeping them alive "
     "for the next"},
    with({"http-client.max-connections-per-host",
          NETASYNC_AT(http_client.max_connections_per_host),
          "HTTP client: connections open at once to one scheme, host and "
          "port"},
         bound::at_least_one, "http-client"),
    with({"http-client.max-connections",
          NETASYNC_AT(http_client.max_connections),
          "HTTP client: connections open at once in all"},
         bound::at_least_one, "http-client"),
    with({"http-client.max-waiting", NETASYNC_AT(http_client.max_waiting),
          "HTTP client: requests waiting for a connection to one scheme, "
          "host and port at most (then `outbound_buffer_full`)"},
         bound::at_least_one, "http-client"),
    with({"http-client.idle-timeout", NETASYNC_AT(http_client.idle_timeout),
          "HTTP client: a kept-alive connection unused this long closes"},
         bound::positive, "http-client"),
    with({"http-client.request-timeout",
          NETASYNC_AT(http_client.request_timeout),
          "HTTP client: a response must be complete this long after its "
          "connection is up (`http_timeout`)"},
         bound::positive, "http-client"),
    in_bytes({"http-client.max-header-bytes",
              NETASYNC_AT(http_client.max_header_bytes),
              "HTTP client: response headers at most"}),
    in_bytes({"http-client.max-body-bytes",
              NETASYNC_AT(http_client.max_body_bytes),
              "HTTP client: response body at most"}),
    {"http-client.max-redirects", NETASYNC_AT(http_client.max_redirects),
     "HTTP client: redirects followed per request (0: none)"},
  };
  return all;
}

#undef NETASYNC_AT

// io-threads belongs to the module (io_module::init reads it), not to an
// options value; it is declared and listed with the others.
constexpr const char* io_threads_key = "io-threads";
constexpr const char* io_threads_meaning = "I/O threads of the library";

// -- showing values -----------------------------------------------------------

std::string show(caf::timespan x) {
  using namespace std::chrono;
  auto ns = x.count();
  if (ns % 1'000'000'000 == 0)
    return std::to_string(ns / 1'000'000'000) + "s";
  if (ns % 1'000'000 == 0)
    return std::to_string(ns / 1'000'000) + "ms";
  return std::to_string(ns / 1000) + "us";
}

std::string show_size(uint64_t x, bool bytes) {
  if (bytes && x > 0) {
    const char* units[] = {"GiB", "MiB", "KiB"};
    uint64_t scale[] = {uint64_t{1} << 30, uint64_t{1} << 20,
                        uint64_t{1} << 10};
    for (int i = 0; i < 3; ++i)
      if (x % scale[i] == 0)
        return std::to_string(x / scale[i]) + " " + units[i];
  }
  return std::to_string(x);
}

// The default of `r`, from a default-constructed options.
std::string default_of(const row& r) {
  if (r.shown != nullptr)
    return r.shown;
  options defaults;
  auto text = std::visit(
    [&](auto p) -> std::string {
      using T = std::decay_t<decltype(p)>;
      if constexpr (std::is_same<T, caf::timespan*>::value)
        return show(*p);
      else if constexpr (std::is_same<T, bool*>::value)
        return *p ? "true" : "false";
      else if constexpr (std::is_same<T, negated>::value)
        return *p.value ? "false" : "true";
      else if constexpr (std::is_same<T, std::string*>::value)
        return p->empty() ? "–" : *p;
      else if constexpr (std::is_same<T, std::vector<std::string>*>::value)
        return p->empty() ? "–" : std::to_string(p->size()) + " entries";
      else if constexpr (std::is_same<T, uint32_t*>::value
                         || std::is_same<T, uint64_t*>::value)
        return show_size(*p, r.bytes);
      else if constexpr (std::is_same<T, double*>::value)
        return std::to_string(*p);
      else if constexpr (std::is_same<T, caf::optional<caf::timespan>*>::value)
        return *p ? show(**p) : "–";
      else
        return to_string(*p); // a policy
    },
    r.at(defaults));
  if (r.zero != nullptr && text == "0")
    text += std::string{" ("} + r.zero + ")";
  return text;
}

// `text` without Markdown's backticks, for the command line's help.
std::string plain(std::string text) {
  text.erase(std::remove(text.begin(), text.end(), '`'), text.end());
  return text;
}

// -- reading ------------------------------------------------------------------

struct reader {
  const caf::actor_system_config& cfg;
  caf::error err;

  void invalid(const std::string& key, const std::string& why) {
    if (!err)
      err = make_error(error::invalid_argument, key + ": " + why);
  }

  template <class T>
  void size(const std::string& key, T& out) {
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

  template <class E>
  void choice(const std::string& key, E& out,
              caf::optional<E> (*parse)(const std::string&)) {
    if (auto x = caf::get_if<std::string>(&cfg, key)) {
      if (auto p = parse(*x))
        out = *p;
      else
        invalid(key, "'" + *x + "' is none of " + choice_names(out));
    }
  }

  void factor(const std::string& key, double& out) {
    double x = 0;
    if (auto d = caf::get_if<double>(&cfg, key))
      x = *d;
    else if (auto i = caf::get_if<int64_t>(&cfg, key))
      x = static_cast<double>(*i);
    else
      return;
    if (x >= 1.0 && std::isfinite(x))
      out = x;
    else
      invalid(key, "must be a factor of at least 1, got " + std::to_string(x));
  }

  // Reads one key; false if its value is refused.
  bool read(const row& r, options& o) {
    auto before = err;
    err = caf::error{};
    auto key = std::string{"netasync."} + r.key;
    std::visit(
      [&](auto p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same<T, caf::timespan*>::value) {
          if (auto x = caf::get_if<caf::timespan>(&cfg, key))
            *p = *x;
        } else if constexpr (std::is_same<T,
                                          caf::optional<caf::timespan>*>::value) {
          if (auto x = caf::get_if<caf::timespan>(&cfg, key))
            *p = *x;
        } else if constexpr (std::is_same<T, double*>::value) {
          factor(key, *p);
        } else if constexpr (std::is_same<T, bool*>::value) {
          if (auto x = caf::get_if<bool>(&cfg, key))
            *p = *x;
        } else if constexpr (std::is_same<T, negated>::value) {
          if (auto x = caf::get_if<bool>(&cfg, key))
            *p.value = !*x;
        } else if constexpr (std::is_same<T, std::string*>::value) {
          if (auto x = caf::get_if<std::string>(&cfg, key))
            *p = *x;
        } else if constexpr (std::is_same<T, std::vector<std::string>*>::value) {
          // A single string counts as a list of one.
          if (auto xs = caf::get_if<std::vector<std::string>>(&cfg, key))
            *p = *xs;
          else if (auto x = caf::get_if<std::string>(&cfg, key))
            *p = {*x};
        } else if constexpr (std::is_same<T, uint32_t*>::value
                             || std::is_same<T, uint64_t*>::value) {
          size(key, *p);
        } else if constexpr (std::is_same<T, jitter_policy*>::value) {
          choice(key, *p, parse_jitter_policy);
        } else if constexpr (std::is_same<T, overflow_policy*>::value) {
          choice(key, *p, parse_overflow_policy);
        } else {
          choice(key, *p, parse_client_cert_policy);
        }
      },
      r.at(o));
    if (r.check != nullptr)
      if (auto why = r.check(o))
        invalid(key, why);
    bool ok = !err;
    if (before) // the first refusal is the one reported
      err = std::move(before);
    return ok;
  }
};

// The CAF type a key is declared with.
template <class F>
void declare_as(const row& r, F&& add) {
  options scratch;
  std::visit(
    [&](auto p) {
      using T = std::decay_t<decltype(p)>;
      if constexpr (std::is_same<T, caf::timespan*>::value
                    || std::is_same<T, caf::optional<caf::timespan>*>::value)
        add(caf::timespan{});
      else if constexpr (std::is_same<T, double*>::value)
        add(double{});
      else if constexpr (std::is_same<T, bool*>::value
                         || std::is_same<T, negated>::value)
        add(bool{});
      else if constexpr (std::is_same<T, std::vector<std::string>*>::value)
        add(std::vector<std::string>{});
      else if constexpr (std::is_same<T, uint32_t*>::value
                         || std::is_same<T, uint64_t*>::value)
        add(int64_t{});
      else
        add(std::string{}); // a path, a name, a policy
    },
    r.at(scratch));
}

} // namespace

caf::error read_options(const caf::actor_system_config& cfg, options& r) {
  reader rd{cfg, {}};
  for (auto& x : rows()) {
    // A refused value is not kept: the field keeps what it had. The readers
    // write a size, a choice or a factor only once it is valid; only a row
    // with a check of its own (ws.headers) writes first and judges after,
    // so only for such a row are the options kept aside (not a copy of
    // them per row, on every connect and accept).
    std::optional<options> before;
    if (x.check != nullptr)
      before = r;
    if (!rd.read(x, r) && before)
      r = std::move(*before);
  }
  return std::move(rd.err);
}

void declare_options(caf::config_option_set& set) {
  for (auto& r : rows()) {
    std::string key = r.key;
    auto dot = key.rfind('.');
    auto category = dot == std::string::npos
                      ? std::string{"netasync"}
                      : "netasync." + key.substr(0, dot);
    auto name = dot == std::string::npos ? key : key.substr(dot + 1);
    // "–" (nothing) is no default worth a word; "– (own origin only)" is.
    auto def = default_of(r);
    if (def.rfind("– (", 0) == 0)
      def = def.substr(5, def.size() - 6);
    auto help = plain(r.meaning);
    if (def != "–")
      help += " (default " + def + ")";
    declare_as(r, [&](auto tag) {
      caf::config_option_adder{set, category}.add<decltype(tag)>(name, help);
    });
  }
  caf::config_option_adder{set, "netasync"}.add<int64_t>(
    std::string{io_threads_key}, std::string{io_threads_meaning} + " (default 1)");
}

caf::error check_bounds(const options& opts, bool tls, bool ws,
                        bool http_client) {
  auto& o = const_cast<options&>(opts); // read only: rows give pointers
  for (auto& r : rows()) {
    if (r.least == bound::none)
      continue;
    if (r.scope != nullptr
        && !((tls && std::string{r.scope} == "tls")
             || (ws && std::string{r.scope} == "ws")
             || (http_client && std::string{r.scope} == "http-client")))
      continue;
    const char* why = nullptr;
    std::visit(
      [&](auto p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same<T, caf::timespan*>::value) {
          if (r.least == bound::positive && *p <= caf::timespan{0})
            why = "must be positive";
          else if (*p < caf::timespan{0})
            why = "must not be negative";
        } else if constexpr (std::is_same<T,
                                          caf::optional<caf::timespan>*>::value) {
          if (*p && **p <= caf::timespan{0})
            why = "must be positive";
        } else if constexpr (std::is_same<T, uint32_t*>::value
                             || std::is_same<T, uint64_t*>::value) {
          // A bound of 0 would stop a connection for good: nothing could
          // be sent, or (a server's read gate) nothing read.
          if (r.least == bound::at_least_one && *p == 0)
            why = "must be at least 1";
        }
      },
      r.at(o));
    if (why != nullptr)
      return make_error(error::invalid_argument,
                        std::string{"netasync."} + r.key + " " + why);
  }
  return caf::error{};
}

std::string options_markdown() {
  std::string result = "| key | default | meaning |\n|---|---|---|\n";
  for (auto& r : rows())
    result += std::string{"| `"} + r.key + "` | " + default_of(r) + " | "
              + r.meaning + " |\n";
  result += std::string{"| `"} + io_threads_key + "` | 1 | "
            + io_threads_meaning + " |\n";
  return result;
}

} // namespace netasync::detail
