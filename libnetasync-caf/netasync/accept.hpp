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

/// Binds host:port (port 0 picks a free port; ask the handle with
/// (get_atom, port_atom) or use bound_port) and accepts in the background.
/// Accepted connections go to `subscribers` as (accepted_atom, acceptor,
/// connection). A numeric address (or "", every address) is bound now:
/// fails with error::bind_failed if it cannot be. A host name is looked up
/// without blocking the caller: accept returns at once and binds the
/// name's first address when the lookup answers; a name that does not
/// resolve, or an address that cannot be bound, then ends the acceptor
/// with (closed_atom, acceptor, bind_failed error) to its subscribers.
/// (get_atom, port_atom) is answered once the port is bound.
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

/// The port `acc` listens on. Immediate for a local acceptor on a numeric
/// address; otherwise a blocking request of at most 5 s (not for use inside
/// an actor's handler).
caf::expected<uint16_t> bound_port(caf::actor_system& sys,
                                   const acceptor& acc);

} // namespace netasync
