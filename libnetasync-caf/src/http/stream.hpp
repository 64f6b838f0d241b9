#pragma once

// The actor of one streamed response body (netasync/http.hpp: "Streamed
// bodies"): it takes the producer's pieces, hands them to the HTTP
// connection one at a time through the exchange (http/streamed_body.hpp),
// answers each request once its piece is out, and tells the producer when
// the stream ends without it. Spawned by the acceptor when a handler's
// response names a producer. Private to the library.

#include <cstddef>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "http_exchange.hpp"

namespace netasync::detail {

/// Sends `head` (its body as the first piece) and gives its producer the
/// stream; at most `bound` bytes of pieces wait unwritten. The stream is cut
/// when `owner` (its acceptor) ends.
caf::actor spawn_http_stream(caf::actor_system& sys, http_exchange_ptr ex,
                             http_response head, size_t bound,
                             caf::actor_addr owner);

} // namespace netasync::detail
