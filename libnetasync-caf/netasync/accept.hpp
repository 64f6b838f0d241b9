#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/expected.hpp>
#include <caf/local_actor.hpp>

#include "netasync/acceptor.hpp"
#include "netasync/options.hpp"

namespace netasync {

/// Binds host:port now (port 0 picks a free port; ask the handle with
/// (get_atom, port_atom) or use bound_port) and accepts in the background.
/// Accepted connections go to `subscribers` as (accepted_atom, acceptor,
/// connection). Fails with error::bind_failed if the address cannot be bound.
caf::expected<acceptor> accept(caf::actor_system& sys, const std::string& host,
                               uint16_t port, const options& opts,
                               std::vector<caf::actor> subscribers = {});

/// As above for a URL: "tcp://host:port" or "tls://host:port" (TLS per
/// opts.tls: tls.cert-file and tls.key-file are required). A malformed URL
/// is invalid_argument, unusable TLS settings are tls_config_invalid.
caf::expected<acceptor> accept(caf::actor_system& sys, const std::string& url,
                               const options& opts,
                               std::vector<caf::actor> subscribers = {});

/// The form for code inside an actor: listens on `url` with the options of
/// the actor system's configuration (its netasync.* keys; an invalid one is
/// the error) and subscribes `self` to the acceptor.
caf::expected<acceptor> accept(caf::local_actor* self, const std::string& url);

/// The port `acc` listens on (a blocking request; not for use inside an
/// actor's handler).
caf::expected<uint16_t> bound_port(caf::actor_system& sys,
                                   const acceptor& acc);

} // namespace netasync
