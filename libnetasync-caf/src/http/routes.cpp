// Route matching (http/routes.hpp): the segments of each route against the
// request's, in order; and which routers exist, for their listeners.

#include "http/routes.hpp"

#include <algorithm>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_control_block.hpp>

#include "http/target.hpp"

namespace netasync::detail {

namespace {

bool matches(const compiled_route& r,
             const std::vector<std::string_view>& segs, http_fields& params) {
  if (r.segs.size() != segs.size())
    return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    auto decoded = percent_decode(segs[i]);
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

struct registry {
  std::mutex mtx;
  // By control block: unique while the router lives (actor ids are not,
  // across the actor systems of one process).
  std::unordered_map<const caf::actor_control_block*, route_table_ptr> routers;

  static registry& get() {
    static registry r;
    return r;
  }
};

} // namespace

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

routed route(const route_table& t, http_request& req) {
  auto raw = std::string_view{req.target};
  raw = raw.substr(0, raw.find_first_of("?#"));
  if (raw.empty() || raw.front() != '/')
    return {{}, plain(400, "bad request target\n")};
  auto segs = segments_of(raw);
  std::vector<std::string> allow; // methods, each once, in route order
  for (auto& r : t.routes) {
    http_fields params;
    if (!matches(r, segs, params))
      continue;
    if (method_fits(r.method, req.method)) {
      req.params = std::move(params);
      return {r.handler, std::nullopt};
    }
    for (auto m : {r.method, std::string{r.method == "GET" ? "HEAD" : ""}})
      if (!m.empty() && std::find(allow.begin(), allow.end(), m) == allow.end())
        allow.push_back(m);
  }
  if (!allow.empty()) {
    std::string list;
    for (auto& m : allow)
      list += (list.empty() ? "" : ", ") + m;
    auto res = plain(405, "method not allowed\n");
    res.headers.emplace_back("Allow", list);
    return {{}, std::move(res)};
  }
  if (t.not_found)
    return {t.not_found, std::nullopt};
  return {{}, plain(404, "not found\n")};
}

route_table_ptr routes_of(const caf::actor& x) {
  if (!x)
    return nullptr;
  auto& r = registry::get();
  std::lock_guard<std::mutex> guard{r.mtx};
  auto i = r.routers.find(caf::actor_cast<caf::actor_control_block*>(x));
  return i == r.routers.end() ? nullptr : i->second;
}

void register_router(const caf::actor& x, route_table_ptr t) {
  auto key = caf::actor_cast<caf::actor_control_block*>(x);
  {
    auto& r = registry::get();
    std::lock_guard<std::mutex> guard{r.mtx};
    r.routers[key] = std::move(t);
  }
  x->attach_functor([key] {
    auto& r = registry::get();
    std::lock_guard<std::mutex> guard{r.mtx};
    r.routers.erase(key);
  });
}

} // namespace netasync::detail
