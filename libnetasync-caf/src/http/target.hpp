#pragma once

// A request target taken apart (RFC 3986 3.3, 3.4): the path and the query,
// percent-decoded. Pure code, for the static files and the handler's
// http_request alike.

#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "netasync/http.hpp"

namespace netasync::detail {

/// `x` with its %XX escapes decoded (and, in a query, '+' as a space); none
/// for a malformed escape or one that decodes to NUL.
inline std::optional<std::string> percent_decode(std::string_view x,
                                                 bool plus_is_space = false) {
  auto hex = [](char c) {
    return std::isdigit(static_cast<unsigned char>(c))
             ? c - '0'
             : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
  };
  std::string out;
  out.reserve(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    auto c = x[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
      continue;
    }
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 2 >= x.size()) // fewer than two characters follow
      return std::nullopt;
    if (!std::isxdigit(static_cast<unsigned char>(x[i + 1]))
        || !std::isxdigit(static_cast<unsigned char>(x[i + 2])))
      return std::nullopt;
    auto d = static_cast<char>(hex(x[i + 1]) * 16 + hex(x[i + 2]));
    if (d == '\0')
      return std::nullopt;
    out += d;
    i += 2;
  }
  return out;
}

struct parsed_target {
  std::string path;
  http_fields query;
};

/// The path and the query of an origin-form target ("/a%20b?x=1&x=2&y"):
/// keys and values decoded, in order, repeated keys kept, a key without
/// '=' with an empty value; a fragment ignored. None if the target does
/// not start with '/' or an escape is malformed.
inline std::optional<parsed_target> parse_target(std::string_view target) {
  target = target.substr(0, target.find('#'));
  if (target.empty() || target.front() != '/')
    return std::nullopt;
  auto q = target.find('?');
  parsed_target r;
  auto path = percent_decode(target.substr(0, q));
  if (!path)
    return std::nullopt;
  r.path = std::move(*path);
  if (q == std::string_view::npos)
    return r;
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{}
                                         : rest.substr(amp + 1);
    if (item.empty())
      continue;
    auto eq = item.find('=');
    auto key = percent_decode(item.substr(0, eq), true);
    auto value = percent_decode(
      eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1),
      true);
    if (!key || !value)
      return std::nullopt;
    r.query.emplace_back(std::move(*key), std::move(*value));
  }
  return r;
}

} // namespace netasync::detail
