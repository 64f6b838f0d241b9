#pragma once

// What the WebSocket client upgrade and the HTTP server side share: the
// Server / User-Agent name, the peer's name, a reset, and header-list
// parsing. Private to the library.

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/socket_base.hpp>
#include <boost/beast/core/stream_traits.hpp>

namespace netasync::detail::http_util {

namespace asio = boost::asio;
namespace beast = boost::beast;

inline constexpr const char* server_name = "netasync-caf";

// The peer's address and port ("?" and 0 if the socket has none).
template <class Stream>
std::pair<std::string, uint16_t> peer_address(Stream& s) {
  boost::system::error_code ec;
  auto ep = beast::get_lowest_layer(s).remote_endpoint(ec);
  if (ec)
    return {"?", 0};
  return {ep.address().to_string(), ep.port()};
}

template <class Stream>
std::string peer_of(Stream& s) {
  auto [host, port] = peer_address(s);
  return port == 0 ? host : host + ":" + std::to_string(port);
}

// Resets the connection: nothing of a failed handshake lingers.
template <class Stream>
void reset(Stream& s) {
  boost::system::error_code ec;
  auto& lowest = beast::get_lowest_layer(s);
  lowest.set_option(asio::socket_base::linger{true, 0}, ec);
  lowest.close(ec);
}

// A header field an application may send: a token for a name (RFC 9110
// 5.6.2) and a value without CR, LF or NUL. Beast writes fields as given,
// so a value that echoes a client's bytes could otherwise split the
// message in two (response splitting).
inline bool valid_field(std::string_view name, std::string_view value) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  if (name.empty())
    return false;
  for (char c : name) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9'); // ASCII, whatever the locale
    if (!alnum && extra.find(c) == extra.npos)
      return false;
  }
  return value.find_first_of(std::string_view{"\r\n\0", 3}) == value.npos;
}

template <class Fields>
bool valid_fields(const Fields& xs) {
  return std::all_of(xs.begin(), xs.end(), [](const auto& f) {
    return valid_field(f.first, f.second);
  });
}

inline std::string trim(std::string_view x) {
  auto b = x.find_first_not_of(" \t");
  if (b == std::string_view::npos)
    return {};
  auto e = x.find_last_not_of(" \t");
  return std::string{x.substr(b, e - b + 1)};
}

// "a, b,c" -> {"a", "b", "c"}
inline std::vector<std::string> split_list(std::string_view x) {
  std::vector<std::string> r;
  size_t start = 0;
  while (start <= x.size()) {
    auto comma = x.find(',', start);
    auto item = trim(x.substr(start, comma == std::string_view::npos
                                       ? std::string_view::npos
                                       : comma - start));
    if (!item.empty())
      r.push_back(std::move(item));
    if (comma == std::string_view::npos)
      break;
    start = comma + 1;
  }
  return r;
}

inline std::string lower(std::string x) {
  std::transform(x.begin(), x.end(), x.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return x;
}

} // namespace netasync::detail::http_util
