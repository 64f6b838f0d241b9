// URLs and header fields for the HTTP client (http/client_url.hpp).

#include "http/client_url.hpp"

#include <algorithm>
#include <cctype>

#include "netasync/error.hpp"

namespace netasync::detail {

std::string origin_of(const endpoint& x) {
  return std::string{to_string(x.kind)} + "://" + host_port(x.host, x.port);
}

caf::expected<endpoint> parse_url(std::string url) {
  if (auto hash = url.find('#'); hash != std::string::npos)
    url.erase(hash);
  // The scheme and authority are an endpoint's; the rest is the target.
  std::string target = "/";
  if (auto sep = url.find("://"); sep != std::string::npos) {
    if (auto start = url.find_first_of("/?", sep + 3);
        start != std::string::npos) {
      target = url.substr(start);
      if (target[0] == '?')
        target.insert(0, "/");
      url.erase(start);
    }
  }
  if (target.find_first_of(std::string_view{" \t\r\n\0", 5})
      != std::string::npos)
    return make_error(error::invalid_argument,
                      url + target + ": the URL must not hold spaces or "
                                     "control characters");
  auto where = parse_endpoint(url);
  if (!where)
    return std::move(where.error());
  where->path = std::move(target);
  if (where->kind != scheme::http && where->kind != scheme::https)
    return make_error(error::invalid_argument,
                      url + ": the HTTP client takes http:// and https:// "
                            "URLs");
  if (where->host.empty() || where->port == 0)
    return make_error(error::invalid_argument,
                      url + ": the URL needs a host and a port other than 0");
  return where;
}

std::string host_field(const endpoint& x) {
  auto dflt = x.kind == scheme::https ? 443 : 80;
  if (x.port == dflt)
    return x.host.find(':') != std::string::npos ? "[" + x.host + "]"
                                                   : x.host;
  return host_port(x.host, x.port);
}

std::string resolve_location(const endpoint& base, const std::string& loc) {
  // Absolute: a scheme before the first '/', '?' or '#'.
  auto sep = loc.find("://");
  if (sep != std::string::npos && sep < loc.find_first_of("/?#"))
    return loc;
  if (loc.rfind("//", 0) == 0) // network-path reference
    return std::string{to_string(base.kind)} + ":" + loc;
  auto origin = origin_of(base);
  if (!loc.empty() && loc[0] == '/')
    return origin + loc;
  auto path = base.path.substr(0, base.path.find('?'));
  if (!loc.empty() && loc[0] == '?')
    return origin + path + loc;
  return origin + path.substr(0, path.rfind('/') + 1) + loc;
}

bool iequal(std::string_view x, std::string_view name) {
  return x.size() == name.size()
         && std::equal(x.begin(), x.end(), name.begin(), [](char a, char b) {
              return std::tolower(static_cast<unsigned char>(a)) == b;
            });
}

const std::string* field(const http_fields& xs, std::string_view name) {
  for (auto& [k, v] : xs)
    if (iequal(k, name))
      return &v;
  return nullptr;
}

http_request redirected(const http_request& req, const endpoint& from,
                        const endpoint& to, uint16_t status,
                        const std::string& url) {
  auto next = req;
  next.target = url;
  auto drop = [&next](std::initializer_list<std::string_view> names) {
    auto& hs = next.headers;
    hs.erase(std::remove_if(hs.begin(), hs.end(),
                            [&](auto& h) {
                              return std::any_of(
                                names.begin(), names.end(),
                                [&](auto n) { return iequal(h.first, n); });
                            }),
             hs.end());
  };
  if (origin_of(to) != origin_of(from))
    drop({"authorization", "cookie", "proxy-authorization", "host"});
  if (status == 303
      || ((status == 301 || status == 302) && req.method == "POST")) {
    next.method = status == 303 && req.method == "HEAD" ? "HEAD" : "GET";
    next.body.clear();
    drop({"content-length", "content-type", "transfer-encoding"});
  }
  return next;
}

bool idempotent(const std::string& method) {
  for (auto m : {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
    if (method == m)
      return true;
  return false;
}

} // namespace netasync::detail
