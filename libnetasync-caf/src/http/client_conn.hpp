#pragma once

// One HTTP client connection (netasync/http_client.hpp): a connected (for
// https: handshaken) stream that carries one exchange at a time, request
// out, whole response in. The client actor owns it and decides its use;
// the connection knows nothing of pools. Private to the library.
//
// Threads: exchange() and close() may be called from any thread and only
// post to the connection's strand; `done` runs on that strand, once per
// exchange, and must not call back into the connection synchronously (the
// client actor hears of it by a message). One exchange at a time: the
// caller waits for `done` before the next.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "link_factory.hpp"
#include "netasync/http.hpp"

namespace netasync::detail {

struct http_job {
  std::string method;
  /// The request target in origin form: "/items?x=1".
  std::string target;
  /// The Host field, sent unless `headers` has one.
  std::string host;
  http_fields headers;
  std::string body;
  size_t max_header_bytes = 0;
  size_t max_body_bytes = 0;
  /// The whole exchange, from the first byte written to the last read;
  /// for a streamed body, up to the head, and then each read.
  caf::timespan timeout;
  /// Stream the body: the outcome carries the head alone, then each piece
  /// goes to `on_piece` (the next is read after resume()), then `on_end`.
  bool stream = false;
  std::function<void(std::string)> on_piece;
  std::function<void(caf::error, bool keep_alive)> on_end;
};

struct http_outcome {
  caf::expected<http_response> response = caf::error{};
  /// The response allows the next request on this connection.
  bool keep_alive = false;
  /// The request went out completely.
  bool written = false;
  /// Not one byte of an answer arrived: on a kept-alive connection, the
  /// sign that the server had closed it before our request came.
  bool nothing_received = false;
};

class http_conn {
public:
  virtual ~http_conn();

  /// Sends `job` and reads its response; `done` gets the outcome.
  virtual void exchange(http_job job,
                        std::function<void(http_outcome)> done) = 0;

  /// Closes the connection (an exchange under way ends with
  /// connection_lost). Idempotent.
  virtual void close() = 0;

  /// A streamed body: reads the next piece (after each on_piece).
  virtual void resume() = 0;
};

using http_conn_ptr = std::shared_ptr<http_conn>;

/// The HTTP client's link factory: make() turns the stream into an
/// http_conn, hands it to `ready` and calls `done` with a null transport
/// (there is no message link here).
link_factory_ptr
make_http_conn_factory(std::function<void(http_conn_ptr)> ready);

} // namespace netasync::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::detail::http_conn_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::detail::http_outcome)
