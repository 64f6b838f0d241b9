#pragma once

// The one place that knows the URL schemes: a row each (tcp, tls, ws, wss,
// http, https).
// Everything that differs between schemes is read from the row: the
// endpoint parser (name, path, default port), connect and accept (the same
// checks of the options: TLS's and WebSocket's bounds apply where a row
// runs inside them), and the dialer and the listener (the framing's
// link factory on each side, TLS, the listener's handshake bound). TLS is
// a property of the stream below, not a scheme of its own: a row says it
// runs inside TLS, and the dialer and the listener put the handshake under
// whichever framing the row names. A new scheme (the HTTP client, a
// datagram socket) is a new row, with a new framing if it needs one.
// Private to the library.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/timespan.hpp>

#include "blocking_pool.hpp"
#include "link_factory.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/options.hpp"

namespace netasync::detail {

using options_ptr = std::shared_ptr<const options>;

/// How one kind of framing turns a connected stream into a link.
struct framing {
  /// The client's link factory for `where` (null: no client yet).
  link_factory_ptr (*client)(const endpoint& where, const options_ptr& opts);
  /// The server's; `blocking` gives the blocking pool (owned by the
  /// module), for framings that serve files (called only when needed).
  link_factory_ptr (*server)(const endpoint& where, const options_ptr& opts,
                             const std::function<blocking_pool_ptr()>& blocking);
  /// How long an accepted connection may take to become a link without
  /// TLS (with TLS, tls.handshake-timeout bounds the TLS handshake first).
  caf::timespan (*handshake_timeout)(const options& opts);
};

/// The framings there are. (http_framing has no client: connect() refuses
/// its schemes.)
extern const framing length_prefix_framing;
extern const framing websocket_framing;
extern const framing http_framing;

struct scheme_row {
  scheme kind;
  const char* name;
  /// Runs inside TLS (tls.* options apply).
  bool tls;
  /// Its URLs take a path (the request target; "/" when none is given).
  bool path;
  /// The port of a URL that names none; 0: the URL must name it.
  uint16_t default_port;
  const framing* frames;
};

/// The row of `x`.
const scheme_row& row_of(scheme x);

/// The row named `name` ("tcp", ...), or nullptr.
const scheme_row* row_named(const std::string& name);

/// "tcp, tls, ws or wss".
std::string scheme_names();

/// "tcp://host:port, ..., or wss://host:port/path": every scheme's URL form.
std::string scheme_forms();

/// "ws:// and wss://": the schemes whose URLs take a path.
std::string path_scheme_names();

} // namespace netasync::detail
