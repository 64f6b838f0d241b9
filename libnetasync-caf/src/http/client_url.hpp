#pragma once

// What the HTTP client (http/client.cpp) reads from URLs and header
// fields: plain functions, no I/O. Private to the library.

#include <string>
#include <string_view>

#include <caf/expected.hpp>

#include "netasync/endpoint.hpp"
#include "netasync/http.hpp"

namespace netasync::detail {

/// "http://host:port", the pool's key.
std::string origin_of(const endpoint& x);

/// "http://host:port/path?query" as an endpoint whose path is the request
/// target in origin form ("/" when the URL has none; the fragment
/// dropped); invalid_argument for another scheme, no host or port 0.
caf::expected<endpoint> parse_url(std::string url);

/// The Host field: the port only when it is not the scheme's default.
std::string host_field(const endpoint& x);

/// A Location resolved against the URL that answered (RFC 3986 5.2, for
/// the forms servers send: absolute, network-path, absolute-path, query,
/// relative path).
std::string resolve_location(const endpoint& base, const std::string& loc);

/// The request a redirect (status 301, 302, 303, 307 or 308) from `from`
/// to `url` (at `to`) asks for: `req` again, as a GET without a body
/// after 303 (HEAD stays HEAD), and after 301 or 302 to a POST, as
/// browsers do; to another origin without Authorization, Cookie,
/// Proxy-Authorization and a Host the application set, which are for the
/// origin it named.
http_request redirected(const http_request& req, const endpoint& from,
                        const endpoint& to, uint16_t status,
                        const std::string& url);

/// `x` equals `name`, which is in lower case, ignoring case.
bool iequal(std::string_view x, std::string_view name);

/// The first field named `name` (lower case), or nullptr.
const std::string* field(const http_fields& xs, std::string_view name);

/// GET, HEAD, PUT, DELETE, OPTIONS and TRACE (RFC 9110 9.2.2): safe to
/// send again.
bool idempotent(const std::string& method);

} // namespace netasync::detail
