#pragma once

// What connect() and accept() refuse in the options, once for both: the same
// settings are refused the same way on either side; what a scheme needs
// besides (TLS, WebSocket) comes from its row (schemes.hpp), asked through
// uses_tls() and uses_websocket().

#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "netasync/options.hpp"
#include "option_table.hpp"
#include "schemes.hpp"

namespace netasync::detail {

/// An invalid_argument error if sessions are on with settings they cannot
/// keep: drop-oldest would drop numbered messages, and every session bound
/// must be positive.
inline caf::error check_session_options(const options& opts) {
  if (!opts.session)
    return caf::error{};
  if (opts.overflow == overflow_policy::drop_oldest
      || opts.session_timeout <= caf::timespan{0}
      || opts.session_ack_delay <= caf::timespan{0}
      || opts.session_handshake_timeout <= caf::timespan{0})
    return make_error(error::invalid_argument,
                      "sessions need the overflow policy reject or "
                      "drop-newest (drop-oldest would drop numbered "
                      "messages) and positive session timeouts");
  return caf::error{};
}

/// An invalid_argument error naming the first setting that `connect` or
/// `accept` to a `kind` endpoint cannot work with: the bounds of the option
/// table (option_table.hpp), those of TLS and WebSocket as the scheme's row
/// says, then what sessions need.
inline caf::error check_options(const options& opts, scheme kind) {
  // The ws.* options bound the HTTP of ws, wss, http and https alike.
  bool http = row_of(kind).frames != &length_prefix_framing;
  if (auto err = check_bounds(opts, uses_tls(kind), http))
    return err;
  // WebSocket routes: a path, and on http:// and https:// (whose
  // subscribers answer requests) subscribers of their own.
  bool plain_http = row_of(kind).frames == &http_framing;
  for (auto& r : opts.ws.routes) {
    if (r.path.empty() || r.path.front() != '/')
      return make_error(error::invalid_argument,
                        "ws.routes: a path must start with '/': '" + r.path
                          + "'");
    if (http && plain_http && r.subscribers.empty())
      return make_error(error::invalid_argument,
                        "ws.routes: the route " + r.path
                          + " of an http:// listener needs subscribers");
  }
  return check_session_options(opts);
}

} // namespace netasync::detail
