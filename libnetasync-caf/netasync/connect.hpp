#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>

#include "netasync/connection.hpp"
#include "netasync/options.hpp"

namespace netasync {

/// Returns at once a handle of a client connection to host:port; connecting
/// happens in the background (the server may start later) and repeats every
/// reconnect-period while the link is down, until the handle is closed.
/// `subscribers` are subscribed before the first attempt. Fails only for
/// invalid arguments or when io_module is not loaded.
caf::expected<connection> connect(caf::actor_system& sys,
                                  const std::string& host, uint16_t port,
                                  const options& opts,
                                  std::vector<caf::actor> subscribers = {});

/// As above with options::parse(sys.config()): an invalid netasync.* value
/// is the error.
caf::expected<connection> connect(caf::actor_system& sys,
                                  const std::string& host, uint16_t port);

/// As above for a URL: "tcp://host:port" or "tls://host:port" (TLS per
/// opts.tls; see endpoint.hpp). A malformed URL is invalid_argument, unusable
/// TLS settings are tls_config_invalid; both at once, before any attempt.
caf::expected<connection> connect(caf::actor_system& sys,
                                  const std::string& url, const options& opts,
                                  std::vector<caf::actor> subscribers = {});

/// The form for code inside an actor: connects to `url` with the options of
/// the actor system's configuration (its netasync.* keys; an invalid one is
/// the error) and subscribes `self`, e.g. in a behavior's factory:
///   auto conn = connect(self, "tcp://localhost:7000");
caf::expected<connection> connect(caf::local_actor* self,
                                  const std::string& url);

/// Sends (subscribe_atom, subscriber) to `conn`.
void subscribe(const connection& conn, const caf::actor& subscriber);

} // namespace netasync
