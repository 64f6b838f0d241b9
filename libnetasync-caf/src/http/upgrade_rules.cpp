// Whether a WebSocket upgrade request is served (ws_links.hpp): its path,
// its origin, its subprotocols. Plain strings in, a verdict out: the server
// session asks, and answers the status itself.

#include "ws_links.hpp"

#include <algorithm>

#include "http/util.hpp"

namespace netasync::detail {

using http_util::lower;
using http_util::split_list;

bool origin_allowed(const std::string& origin, const std::string& host,
                    bool tls, const std::vector<std::string>& allowed) {
  auto o = lower(origin);
  for (auto& a : allowed)
    if (a == "*" || lower(a) == o)
      return true;
  // The server's own origin: a page it served itself.
  return !host.empty() && o == (tls ? "https://" : "http://") + lower(host);
}

bool path_within(const std::string& target, const std::string& mine) {
  auto path = target.substr(0, target.find('?'));
  return mine == "/" || path == mine
         || (path.size() > mine.size()
             && path.compare(0, mine.size(), mine) == 0
             && (mine.back() == '/' || path[mine.size()] == '/'));
}

upgrade_verdict judge_upgrade(const std::string& target,
                              const std::string& origin,
                              const std::string& host,
                              const std::string& offered_protocols,
                              const std::string& mine, bool tls,
                              const ws_options& o) {
  upgrade_verdict r;
  if (!path_within(target, mine)) {
    r.status = 404;
    r.why = "no WebSocket endpoint at " + target.substr(0, target.find('?'));
    return r;
  }
  if (!origin.empty()
      && !origin_allowed(origin, host, tls, o.allowed_origins)) {
    r.status = 403;
    r.why = "origin " + origin + " is not allowed";
    return r;
  }
  if (o.subprotocols.empty())
    return r;
  auto offered = split_list(offered_protocols);
  for (auto& p : offered)
    if (std::find(o.subprotocols.begin(), o.subprotocols.end(), p)
        != o.subprotocols.end()) {
      r.subprotocol = p;
      return r;
    }
  if (!offered.empty()) {
    r.status = 400;
    r.why = "none of the offered subprotocols is spoken here";
  }
  return r;
}

} // namespace netasync::detail
