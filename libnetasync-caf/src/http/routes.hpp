#pragma once

// The routes of an HTTP router (netasync/http_router.hpp), compiled once and
// never changed: matched by the router's actor, and, for a router that is a
// listener's ws.http_handler, by the listener's connections themselves on
// their strands (http/app_request.hpp), which then ask the route's handler
// directly: one actor hop less per request, and none for a 404 or 405.
// Private to the library.
//
// Threads: a table is immutable; route() from any thread. The registry
// (routes_of) is guarded by its own mutex.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

#include "netasync/http.hpp"

namespace netasync::detail {

struct compiled_route {
  std::string method;
  /// A literal segment, or a `<name>` segment: `param` set, `text` the name.
  struct segment {
    std::string text;
    bool param = false;
  };
  std::vector<segment> segs;
  caf::actor handler;
};

struct route_table {
  std::vector<compiled_route> routes;
  caf::actor not_found;
};

using route_table_ptr = std::shared_ptr<const route_table>;

/// Where a request goes: to an actor (`req.params` set for its route), or
/// answered now (400 for a target that is no path, 405 with Allow, 404).
struct routed {
  caf::actor to;
  std::optional<http_response> now;
};

routed route(const route_table& t, http_request& req);

/// The segments of an origin-form path or a pattern, undecoded: "/" is
/// {""}, "/a/b" is {"a", "b"}. Matching decodes each segment on its own,
/// so that an escaped '/' ("%2F") stays inside its segment.
std::vector<std::string_view> segments_of(std::string_view path);

/// The table of router `x`, if `x` is a live router made by
/// spawn_http_router; null otherwise. The registry holds the only lasting
/// reference: keep a weak one, so that the table (and the route handlers
/// it names) go with the router.
route_table_ptr routes_of(const caf::actor& x);

/// Registers router `x` with its table until `x` ends.
void register_router(const caf::actor& x, route_table_ptr t);

} // namespace netasync::detail
