#pragma once

// An HTTP/1.1 client as an actor, with a connection pool. Any actor asks it
// as CAF users ask anything:
//
//   self->request(http, 10s, http_request{"GET", "http://host:8080/items"})
//     .then([](const http_response& res) { ... },
//           [](const caf::error& err) { ... });
//
// The request's `target` is an absolute URL (http:// or https://; the port
// defaults to 80 and 443); method, headers (in order) and body go out as
// given, with Host, User-Agent and Content-Length added unless set. The
// answer is the whole response (status, header fields in order, body), or
// an error value (netasync/error.hpp): resolve_failed, connect_failed,
// connect_timeout, tls_handshake_failed (OpenSSL's reason),
// connection_lost, io_error, http_timeout (request-timeout, per attempt),
// http_response_invalid, http_response_too_large, http_too_many_redirects,
// invalid_argument (a URL it cannot use). A request for HEAD gets the
// header alone. Redirects to another origin drop Authorization, Cookie and
// a Host set by the application.
//
// The pool (options::http_client, keys netasync.http-client.*): connections
// stay open per scheme+host+port after a response that allows it, at most
// max-connections-per-host each and max-connections in all; requests past
// them wait, in the order they came. A connection unused for idle-timeout
// closes. A request sent on a kept-alive connection that the server had
// closed meanwhile (connection_lost before one byte of an answer) is sent
// again once on a fresh connection if its method is idempotent (GET, HEAD,
// PUT, DELETE, OPTIONS, TRACE); another method gets connection_lost, as it
// may have been acted on, and so does any request that timed out. TLS: options::tls (the server verified against ca-file /
// ca-dir or the system's CAs, its name checked and sent as SNI; cert-file
// and key-file present a client certificate).
//
// Streamed bodies, for downloads larger than memory and event streams:
// ask with (http_request, caf::actor sink). The answer is the response's
// head (status and headers, an empty body) as soon as it arrives; the body
// then goes to `sink` piece by piece as requests (http_body_atom,
// std::string), each answered by the sink (with nothing: a handler that
// returns void) when it is done with it, and the connection reads on only
// then: a sink behind stops the reading, and TCP pushes back on the server.
// Last comes (http_body_atom, caf::error): none at the end of the body,
// else why it ended (connection_lost, http_timeout when a read stalls for
// request-timeout). max-body-bytes does not apply. A redirect followed
// (max-redirects) answers with the head of where it leads, and the sink
// gets that body only. A sink that fails a piece's request ends the
// download.
//
// (stats_atom) answers the pool's counters, http_client_stats. The client
// ends (and closes its connections) when it is sent an exit, when the last
// handle to it goes away and nothing is under way (an idle connection's
// timer keeps it up to idle-timeout longer), or with the actor system.
// Requests still waiting then get no answer: ask with a timeout. Waiting
// requests are not bounded and not withdrawn when their asker's timeout
// fires (they are sent later); bound what you ask at once.

#include <cstdint>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include "netasync/http.hpp"
#include "netasync/options.hpp"

namespace netasync {

struct http_client_stats {
  /// Requests answered with a response, and with an error.
  uint64_t responses = 0;
  uint64_t failures = 0;
  /// Connections opened, and requests sent on a connection that had
  /// carried one before.
  uint64_t created = 0;
  uint64_t reused = 0;
  /// Requests sent again after a kept-alive connection turned out closed.
  uint64_t retried = 0;
  /// Now: connections open (idle included; connecting ones too), idle in
  /// the pool, and requests waiting for a connection.
  uint64_t open = 0;
  uint64_t idle = 0;
  uint64_t waiting = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_client_stats& x) {
  return f(caf::meta::type_name("netasync::http_client_stats"), x.responses,
           x.failures, x.created, x.reused, x.retried, x.open, x.idle,
           x.waiting);
}

/// Spawns an HTTP client with `opts` (http_client, tls, connect_timeout).
/// Fails with module_not_loaded, invalid_argument (a bound that is 0) or
/// tls_config_invalid (a CA, certificate or key file that does not load).
caf::expected<caf::actor> spawn_http_client(caf::actor_system& sys,
                                            const options& opts);

/// The same with the options of the system's configuration
/// (netasync.* keys).
caf::expected<caf::actor> spawn_http_client(caf::actor_system& sys);

} // namespace netasync
