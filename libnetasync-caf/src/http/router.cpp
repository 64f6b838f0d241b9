// The HTTP router (netasync/http_router.hpp): routes compiled once into
// segments (http/routes.hpp), each request matched against them in order on
// the router's actor, and delegated to the handler that matches.

#include "netasync/http_router.hpp"

#include <memory>
#include <string_view>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "http/routes.hpp"
#include "netasync/acceptor.hpp"
#include "netasync/error.hpp"
#include "netasync/http.hpp"

namespace netasync {

namespace {

using detail::compiled_route;
using detail::route_table;

caf::behavior router(caf::event_based_actor* self,
                     std::shared_ptr<const route_table> routes) {
  return {
    [=](http_request& req) -> caf::result<http_response> {
      auto r = detail::route(*routes, req);
      if (r.now)
        return std::move(*r.now);
      self->delegate(r.to, std::move(req));
      return caf::delegated<http_response>{};
    },
    // As an http:// acceptor's subscriber it hears the acceptor's end.
    [](closed_atom, const acceptor&, const caf::error&) {},
  };
}

} // namespace

caf::expected<caf::actor> spawn_http_router(caf::actor_system& sys,
                                            std::vector<http_route> routes,
                                            caf::actor not_found) {
  auto table = std::make_shared<route_table>();
  table->not_found = std::move(not_found);
  for (auto& r : routes) {
    auto bad = [&](const std::string& why) {
      return make_error(error::invalid_argument,
                        "route " + r.method + " " + r.pattern + ": " + why);
    };
    if (!r.handler)
      return bad("no handler");
    if (r.method.empty())
      return bad("no method");
    if (r.pattern.empty() || r.pattern.front() != '/')
      return bad("the pattern must start with '/'");
    compiled_route c{r.method, {}, r.handler};
    for (auto seg : detail::segments_of(r.pattern)) {
      compiled_route::segment s;
      if (seg.size() >= 2 && seg.front() == '<' && seg.back() == '>') {
        s.param = true;
        s.text = std::string{seg.substr(1, seg.size() - 2)};
        if (s.text.empty())
          return bad("a parameter without a name");
      } else {
        s.text = std::string{seg};
      }
      c.segs.push_back(std::move(s));
    }
    table->routes.push_back(std::move(c));
  }
  auto shared = std::shared_ptr<const route_table>{table};
  auto r = sys.spawn(router, shared);
  // Its listeners route on their own strands, by the same table.
  detail::register_router(r, std::move(shared));
  return r;
}

} // namespace netasync
