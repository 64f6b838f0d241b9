#include "schemes.hpp"

#include <string>
#include <vector>

#include "ws_links.hpp"

namespace netasync::detail {

// -- framings -----------------------------------------------------------------

// A 4-byte big-endian length, then the payload (docs/protocol.md 3).
const framing length_prefix_framing{
  [](const endpoint&, const options_ptr& opts) {
    return make_length_prefix_factory(opts->max_frame_size);
  },
  [](const endpoint&, const options_ptr& opts,
     const std::function<blocking_pool_ptr()>&) {
    return make_length_prefix_factory(opts->max_frame_size);
  },
  // The link is made at once: no handshake of its own to bound.
  [](const options& opts) { return opts.tls.handshake_timeout; },
};

// One message per binary WebSocket message, the port answering HTTP as
// well (docs/protocol.md 11, 12).
const framing websocket_framing{
  [](const endpoint& where, const options_ptr& opts) {
    return make_ws_client_factory(
      ws_client_params{host_port(where.host, where.port), where.path, opts});
  },
  [](const endpoint& where, const options_ptr& opts,
     const std::function<blocking_pool_ptr()>& blocking) {
    return make_ws_server_factory(ws_server_params{
      where.path, row_of(where.kind).tls, opts,
      opts->ws.static_dir.empty() ? nullptr : blocking()});
  },
  // An HTTP connection until it upgrades.
  [](const options& opts) { return opts.ws.handshake_timeout; },
};

// The same HTTP server without WebSocket endpoints (docs/protocol.md 12):
// requests go to the handler (the first subscriber, when no
// ws.http_handler is set). A listener only, until the HTTP client comes.
const framing http_framing{
  nullptr,
  [](const endpoint& where, const options_ptr& opts,
     const std::function<blocking_pool_ptr()>& blocking) {
    return make_ws_server_factory(ws_server_params{
      "/", row_of(where.kind).tls, opts,
      opts->ws.static_dir.empty() ? nullptr : blocking(), false});
  },
  [](const options& opts) { return opts.ws.handshake_timeout; },
};

// -- the rows -----------------------------------------------------------------

namespace {

const scheme_row rows[] = {
  {scheme::tcp, "tcp", false, false, 0, &length_prefix_framing},
  {scheme::tls, "tls", true, false, 0, &length_prefix_framing},
  {scheme::ws, "ws", false, true, 80, &websocket_framing},
  {scheme::wss, "wss", true, true, 443, &websocket_framing},
  {scheme::http, "http", false, false, 80, &http_framing},
  {scheme::https, "https", true, false, 443, &http_framing},
};

} // namespace

const scheme_row& row_of(scheme x) {
  for (auto& r : rows)
    if (r.kind == x)
      return r;
  return rows[0]; // unreachable: every enumerator has its row
}

const scheme_row* row_named(const std::string& name) {
  for (auto& r : rows)
    if (name == r.name)
      return &r;
  return nullptr;
}

namespace {

// The rows that `keep`, each as `show` writes it: "a, b or c".
template <class Keep, class Show>
std::string listed(Keep keep, Show show, const char* last) {
  std::vector<std::string> xs;
  for (auto& r : rows)
    if (keep(r))
      xs.push_back(show(r));
  std::string result;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      result += i + 1 == xs.size() ? last : ", ";
    result += xs[i];
  }
  return result;
}

} // namespace

std::string scheme_names() {
  return listed([](const scheme_row&) { return true; },
                [](const scheme_row& r) { return std::string{r.name}; },
                " or ");
}

std::string scheme_forms() {
  return listed([](const scheme_row&) { return true; },
                [](const scheme_row& r) {
                  return std::string{r.name} + "://host:port"
                         + (r.path ? "/path" : "");
                },
                " or ");
}

std::string path_scheme_names() {
  return listed([](const scheme_row& r) { return r.path; },
                [](const scheme_row& r) { return std::string{r.name} + "://"; },
                " and ");
}

} // namespace netasync::detail
