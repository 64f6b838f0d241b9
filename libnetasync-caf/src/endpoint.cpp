#include "netasync/endpoint.hpp"

#include <cstdlib>

#include "netasync/error.hpp"
#include "schemes.hpp"

namespace netasync {

const char* to_string(scheme x) {
  return detail::row_of(x).name;
}

bool uses_tls(scheme x) {
  return detail::row_of(x).tls;
}

bool uses_websocket(scheme x) {
  return detail::row_of(x).frames == &detail::websocket_framing;
}

caf::expected<endpoint> parse_endpoint(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return make_error(error::invalid_argument,
                      "endpoint '" + url + "': " + why);
  };
  endpoint result;
  auto sep = url.find("://");
  if (sep == std::string::npos)
    return bad("expected " + detail::scheme_forms());
  auto name = url.substr(0, sep);
  auto row = detail::row_named(name);
  if (row == nullptr)
    return bad("unknown scheme '" + name + "' (" + detail::scheme_names()
               + ")");
  result.kind = row->kind;
  auto rest = url.substr(sep + 3);
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    if (!row->path)
      return bad("a path is only for " + detail::path_scheme_names());
    result.path = rest.substr(slash);
    rest.resize(slash);
    // A request target is sent as it is: no room for what would end it.
    if (result.path.find_first_of(" \t\r\n#") != std::string::npos)
      return bad("the path must not hold spaces, control characters or '#'");
  } else if (row->path) {
    result.path = "/";
  }
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    bool portless = close != std::string::npos && close + 1 == rest.size()
                    && row->default_port != 0;
    if (close == std::string::npos
        || (!portless
            && (close + 1 >= rest.size() || rest[close + 1] != ':')))
      return bad("an IPv6 address is written [address]:port");
    result.host = rest.substr(1, close - 1);
    port_text = portless ? std::to_string(row->default_port)
                         : rest.substr(close + 2);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string::npos && row->default_port == 0)
      return bad("no port");
    if (colon == std::string::npos) {
      result.host = rest;
      port_text = std::to_string(row->default_port);
    } else {
      result.host = rest.substr(0, colon);
      port_text = rest.substr(colon + 1);
    }
    if (result.host.find(':') != std::string::npos)
      return bad("an IPv6 address is written [address]:port");
  }
  if (result.host.empty())
    return bad("no host");
  if (port_text.empty()
      || port_text.find_first_not_of("0123456789") != std::string::npos
      || port_text.size() > 5)
    return bad("the port must be a number from 0 to 65535");
  auto port = std::strtoul(port_text.c_str(), nullptr, 10);
  if (port > 65535)
    return bad("the port must be a number from 0 to 65535");
  result.port = static_cast<uint16_t>(port);
  return result;
}

std::string host_port(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string to_string(const endpoint& x) {
  return std::string{to_string(x.kind)} + "://" + host_port(x.host, x.port)
         + x.path;
}

} // namespace netasync
