#pragma once

// The HTTP client actor's state (http/client.cpp): the pool, one record
// per connection, one queue of waiting requests per origin, its counters.
// Owned by the actor alone. Private to the library.

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>

#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "http/client_board.hpp"
#include "http/client_conn.hpp"
#include "netasync/atoms.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "netasync/http_client.hpp"
#include "netasync/options.hpp"
#include "tls.hpp"

namespace netasync::detail {

// A request on its way: where it goes, and whom to answer.
struct pending {
  http_request req;
  endpoint where;
  caf::response_promise rp;
  size_t redirects = 0;
  // Where a streamed body goes; none: the body comes in the response.
  caf::actor sink;
  // Sent again after a kept-alive connection turned out closed: only on a
  // fresh connection, and not a third time.
  bool retried = false;
};

struct conn_rec {
  http_conn_ptr conn;
  std::string origin;
  // Requests started on it; a second one is a reuse.
  uint64_t uses = 0;
  std::chrono::steady_clock::time_point idle_since;
  std::optional<pending> current;
  // The subscriber of the body being streamed on it, if one is.
  caf::actor sink;
};

struct origin_pool {
  endpoint where;
  std::deque<pending> waiting;
  // Idle connections, the most recently used last.
  std::vector<uint64_t> idle;
  // Connections open or being opened.
  size_t open = 0;
  size_t dialing = 0;
};

struct client_config {
  options opts;
  boost::asio::io_context* ctx = nullptr;
  tls_context_ptr tls;
  // Where GET /metrics finds this client (it leaves its counters there).
  http_client_board_ptr board;
};

struct client_state {
  client_config cfg;
  std::map<std::string, origin_pool> pools;
  std::unordered_map<uint64_t, conn_rec> conns;
  // Dials under way: their origin.
  std::unordered_map<uint64_t, std::string> dials;
  size_t total_open = 0;
  uint64_t next_id = 1;
  // One idle check at a time is scheduled, for the earliest expiry.
  bool sweep_scheduled = false;
  // An origin's requests wait for room under max-connections.
  bool blocked_on_total = false;
  http_client_stats stats;
  caf::actor_id id = 0;

  // Everyone still waiting hears that the client ended, rather than wait
  // out their own timeout (or, without one, forever).
  ~client_state() {
    auto ended = [] {
      return make_error(error::shutting_down, "the HTTP client ended");
    };
    // A request not yet answered fails (counted once); a body under way
    // (its request counted as answered) just ends.
    auto fail = [&](pending& p) {
      ++stats.failures;
      if (p.sink)
        caf::anon_send(p.sink, http_body_atom::value, ended());
      p.rp.deliver(ended());
    };
    for (auto& entry : conns) {
      entry.second.conn->close();
      if (entry.second.sink)
        caf::anon_send(entry.second.sink, http_body_atom::value, ended());
      if (auto& p = entry.second.current) {
        if (p->sink == entry.second.sink)
          p->sink = nullptr; // told above
        fail(*p);
      }
    }
    for (auto& entry : pools)
      for (auto& p : entry.second.waiting)
        fail(p);
    if (cfg.board)
      cfg.board->leave(id, stats);
  }

  static inline const char* name = "netasync.http_client";
};

using client_actor = caf::stateful_actor<client_state>;

} // namespace netasync::detail
