#pragma once

// Routes for plain HTTP requests (netasync/http.hpp): an actor that takes
// each http_request, finds the first route whose method and path pattern
// match, and hands the request on to that route's handler actor, whose
// answer goes straight back to the client (CAF delegation: the handler's
// time is the server's, ws.handler-timeout). Use it as the
// `ws.http_handler` of an acceptor (on http:// and https://, its first
// subscriber). A listener whose handler is a router matches the routes
// itself, by the same table, and asks the route's handler directly (an
// actor hop less per request): the router's routes are fixed when it is
// spawned.
//
// A pattern is a path of segments, literal or `<name>` (one segment, any
// text, percent-decoded into http_request::params): "/items/<id>". A
// request whose path no route matches gets `not_found`'s answer (404 when
// there is none); a path some route matches with another method gets 405
// with `Allow` naming the methods that would do. GET routes answer HEAD
// too (the server sends the header alone).

#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

namespace netasync {

struct http_route {
  /// "GET", "POST", ... ("*": any method).
  std::string method;
  /// "/items/<id>": literal segments and `<name>` segments.
  std::string pattern;
  caf::actor handler;
};

/// Spawns a router over `routes` (first match wins). Fails with
/// invalid_argument for a pattern that does not start with '/', an empty
/// `<>` name or a route without a handler.
caf::expected<caf::actor> spawn_http_router(caf::actor_system& sys,
                                            std::vector<http_route> routes,
                                            caf::actor not_found = {});

} // namespace netasync
