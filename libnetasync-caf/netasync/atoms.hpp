#pragma once

// Atoms of the netasync message interface. CAF 0.17 atoms hold at most 10
// characters, hence "disconnect" for the disconnected status.

#include <caf/atom.hpp>

namespace netasync {

// Status messages delivered to subscribers.
using connected_atom = caf::atom_constant<caf::atom("connected")>;
using disconnected_atom = caf::atom_constant<caf::atom("disconnect")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using accepted_atom = caf::atom_constant<caf::atom("accepted")>;

// Commands an application sends to a connection or acceptor handle.
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsubscrib")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using stats_atom = caf::atom_constant<caf::atom("stats")>;
using port_atom = caf::atom_constant<caf::atom("port")>;
/// Makes the current connection worker throw: for tests and demos of the
/// supervision, never needed in production code.
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using call_atom = caf::atom_constant<caf::atom("call")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
/// To a streamed response's producer: (http_stream_atom, caf::actor stream,
/// http_request) — the stream its body goes to (netasync/http.hpp).
using http_stream_atom = caf::atom_constant<caf::atom("httpstream")>;

/// HTTP client, to the body subscriber of a streamed response
/// (netasync/http_client.hpp): (http_body_atom, std::string piece) as a
/// request, answered when the piece is taken care of; then
/// (http_body_atom, caf::error), none for the end of the body.
using http_body_atom = caf::atom_constant<caf::atom("httpbody")>;

} // namespace netasync
