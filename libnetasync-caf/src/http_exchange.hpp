#pragma once

// A plain HTTP request on a WebSocket listener's port that the I/O side
// cannot answer alone (GET /metrics, anything for the application's
// handler): sent to the acceptor actor as (http_exchange_atom,
// http_exchange_ptr), which owns the counters and the handler, and which
// answers with respond(). Private to the library.
//
// Threads: respond() may be called from any thread, once; it posts the
// response to the HTTP connection's strand. A connection that timed out
// meanwhile drops it.

#include <memory>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "netasync/http.hpp"

namespace netasync::detail {

using http_exchange_atom = caf::atom_constant<caf::atom("na_http")>;

class http_exchange {
public:
  enum class kind { metrics, handler };

  virtual ~http_exchange();

  virtual kind what() const = 0;
  virtual const http_request& request() const = 0;
  virtual void respond(http_response res) = 0;
};

using http_exchange_ptr = std::shared_ptr<http_exchange>;

} // namespace netasync::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::detail::http_exchange_ptr)
