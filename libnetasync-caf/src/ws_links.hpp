#pragma once

// The link factories of ws:// and wss:// (link_factory.hpp): the client's
// upgrade request, and the server's HTTP connection, which becomes a
// WebSocket link on an upgrade for its path and is otherwise answered as
// HTTP (healthz, metrics, the application's handler, static files, 404).
// docs/protocol.md ("WebSocket", "HTTP on the same port") is the contract.
// Private to the library.

#include <memory>
#include <string>

#include "blocking_pool.hpp"
#include "link_factory.hpp"
#include "netasync/options.hpp"

namespace netasync::detail {

struct ws_client_params {
  /// The Host header: "host:port" as dialed ("[::1]:8080" for IPv6).
  std::string host;
  /// The request target ("/chat").
  std::string path;
  std::shared_ptr<const options> opts;
};

link_factory_ptr make_ws_client_factory(ws_client_params params);

struct ws_server_params {
  /// Upgrades are accepted for this path and those below it ("/" for all).
  std::string path;
  /// wss: the scheme of the server's own origin is https.
  bool tls = false;
  std::shared_ptr<const options> opts;
  /// Where static files are read (needed with ws.static-dir only). Weak:
  /// work queued in the pool holds sessions, which hold these params.
  std::weak_ptr<blocking_pool> blocking;
  /// Upgrades to WebSocket are accepted for `path` (ws, wss); else (http,
  /// https) only for ws.routes, and another upgrade request is served as
  /// any other request.
  bool websocket = true;
};

link_factory_ptr make_ws_server_factory(ws_server_params params);

/// Whether `origin` may open a connection to a server whose request named
/// `host` (the Host header), per ws.allowed-origins (see options.hpp).
/// Public for tests.
bool origin_allowed(const std::string& origin, const std::string& host,
                    bool tls, const std::vector<std::string>& allowed);

/// Whether a request target's path is `mine` or below it ("/chat" takes
/// "/chat" and "/chat/x?y", not "/chatter"; "/" takes every path).
bool path_within(const std::string& target, const std::string& mine);

/// The server's answer to an upgrade request: status 0 to upgrade (with
/// the subprotocol chosen, if any), else the status and why (404 for a path
/// it does not serve, 403 for an origin not allowed, 400 when none of the
/// offered subprotocols is spoken). `mine` is the listener's path.
struct upgrade_verdict {
  unsigned status = 0;
  std::string why;
  std::string subprotocol;
};

upgrade_verdict judge_upgrade(const std::string& target,
                              const std::string& origin,
                              const std::string& host,
                              const std::string& offered_protocols,
                              const std::string& mine, bool tls,
                              const ws_options& o);

} // namespace netasync::detail
