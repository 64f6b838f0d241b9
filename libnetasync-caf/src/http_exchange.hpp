#pragma once

// A plain HTTP request on a listener's port that the I/O side cannot
// answer alone: GET /metrics, sent to the acceptor actor as
// (http_exchange_atom, http_exchange_ptr), which owns the counters and
// answers with respond(); and a handler's streamed answer, which the
// stream's actor (http/stream.hpp) writes through it. Private to the
// library.
//
// Threads: respond() or stream_head() may be called from any thread, once;
// they post to the HTTP connection's strand. A connection that timed out
// meanwhile drops the response (a stream learns it: written(false)).

#include <functional>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "netasync/http.hpp"

namespace netasync::detail {

using http_exchange_atom = caf::atom_constant<caf::atom("na_http")>;

class http_exchange {
public:
  virtual ~http_exchange();

  virtual const http_request& request() const = 0;
  virtual void respond(http_response res) = 0;

  /// A streamed response (http_response::producer; src/http/stream.cpp):
  /// its head now, then each piece of the body in turn, then the end (or,
  /// `abort`, a reset: the client sees the body incomplete). `written(ok)`
  /// runs on the connection's strand once the head or the piece is out
  /// (false: the connection is gone); one piece at a time. For the head,
  /// `body` says whether a body follows (not for HEAD, 204, 304, or a
  /// status the connection answered with 500 instead).
  virtual void stream_head(http_response head,
                           std::function<void(bool ok, bool body)> written)
    = 0;
  virtual void stream_body(std::string data,
                           std::function<void(bool)> written) = 0;
  virtual void stream_end(bool abort) = 0;
};

using http_exchange_ptr = std::shared_ptr<http_exchange>;

} // namespace netasync::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::detail::http_exchange_ptr)
