#pragma once

// How an HTTP connection asks the application's actors (ws.http_handler, a
// WebSocket route's gate) without an actor of the library in between: the
// request goes from the connection's strand straight to the handler, sent
// in the name of one companion actor per listener (caf::actor_companion),
// whose every incoming message CAF hands to a callback on the sending
// thread; the callback matches the answer to its request and passes it on.
// Before, each request went strand → acceptor → handler → acceptor →
// strand, with a CAF clock timer per request: two more thread hand-offs
// and a lock. The connection bounds the wait with its own timer and
// forgets the request then, so a late answer is dropped and nothing waits
// forever. Private to the library.
//
// Threads: ask() and forget() from any thread. An answer callback runs on
// the thread of whoever answered (or failed to), at most once; it must
// only post. It may still run while forget() for its request returns (it
// had begun): the connection checks on its strand that the answer is for
// the request it waits for.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "netasync/http.hpp"

namespace netasync::detail {

class handler_gateway {
public:
  /// The request's id (as ask() returned it) and its answer.
  using answer_fn
    = std::function<void(uint64_t id, caf::expected<http_response>)>;

  explicit handler_gateway(caf::actor_system& sys);

  /// Ends the companion: answers still on their way are dropped.
  ~handler_gateway();

  handler_gateway(const handler_gateway&) = delete;
  handler_gateway& operator=(const handler_gateway&) = delete;

  /// Sends `req` (a message of one http_request) to `handler` as a
  /// request; `f` gets the http_response it answers, or an error (its
  /// error, or sec::unexpected_response for an answer of another type).
  /// Returns the request's id (never 0), for forget().
  uint64_t ask(const caf::actor& handler, caf::message req, answer_fn f);

  /// `f` of request `id` will not be called, unless it already is.
  void forget(uint64_t id);

  /// Requests waiting for an answer (for tests).
  size_t waiting() const;

  struct table;

private:
  std::shared_ptr<table> table_;
  caf::actor_system* sys_;
  caf::strong_actor_ptr companion_;
};

using handler_gateway_ptr = std::shared_ptr<handler_gateway>;

} // namespace netasync::detail
