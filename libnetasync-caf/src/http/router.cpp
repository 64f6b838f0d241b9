// The HTTP router (netasync/http_router.hpp): routes compiled once into
// segments, each request matched against them in order on the router's
// actor, and delegated to the handler that matches.

#include "netasync/http_router.hpp"

#include <algorithm>
#include <memory>
#include <string_view>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "http/target.hpp"
#include "netasync/acceptor.hpp"
#include "netasync/error.hpp"
#include "netasync/http.hpp"

namespace netasync {

namespace {

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

using route_table = std::vector<compiled_route>;

// The segments of an origin-form path, undecoded: "/" is {""}, "/a/b" is
// {"a", "b"}. Matching decodes each segment on its own, so that an escaped
// '/' ("%2F") stays inside its segment.
std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1); // the leading '/'
  for (;;) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      return out;
    path.remove_prefix(slash + 1);
  }
}

bool matches(const compiled_route& r,
             const std::vector<std::string_view>& segs, http_fields& params) {
  if (r.segs.size() != segs.size())
    return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    auto decoded = detail::percent_decode(segs[i]);
    if (!decoded)
      return false;
    auto& p = r.segs[i];
    if (p.param)
      params.emplace_back(p.text, std::move(*decoded));
    else if (*decoded != p.text)
      return false;
  }
  return true;
}

bool method_fits(const std::string& route, const std::string& request) {
  return route == "*" || route == request
         || (route == "GET" && request == "HEAD");
}

http_response plain(uint16_t status, std::string body) {
  return http_response{
    status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
}

caf::behavior router(caf::event_based_actor* self,
                     std::shared_ptr<const route_table> routes,
                     caf::actor not_found) {
  return {
    [=](http_request& req) -> caf::result<http_response> {
      auto raw = std::string_view{req.target};
      raw = raw.substr(0, raw.find_first_of("?#"));
      if (raw.empty() || raw.front() != '/')
        return plain(400, "bad request target\n");
      auto segs = segments_of(raw);
      std::vector<std::string> allow; // methods, each once, in route order
      for (auto& r : *routes) {
        http_fields params;
        if (!matches(r, segs, params))
          continue;
        if (method_fits(r.method, req.method)) {
          req.params = std::move(params);
          self->delegate(r.handler, std::move(req));
          return caf::delegated<http_response>{};
        }
        for (auto m : {r.method, std::string{r.method == "GET" ? "HEAD" : ""}})
          if (!m.empty()
              && std::find(allow.begin(), allow.end(), m) == allow.end())
            allow.push_back(m);
      }
      if (!allow.empty()) {
        std::string list;
        for (auto& m : allow)
          list += (list.empty() ? "" : ", ") + m;
        auto res = plain(405, "method not allowed\n");
        res.headers.emplace_back("Allow", list);
        return res;
      }
      if (not_found) {
        self->delegate(not_found, std::move(req));
        return caf::delegated<http_response>{};
      }
      return plain(404, "not found\n");
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
    for (auto seg : segments_of(r.pattern)) {
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
    table->push_back(std::move(c));
  }
  return sys.spawn(router, std::shared_ptr<const route_table>{table},
                   std::move(not_found));
}

} // namespace netasync
