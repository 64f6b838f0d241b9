#pragma once

// Waiting for a connection's next status in a test thread (scoped_actor):
// shared by the loopback-level suites.

#include <chrono>
#include <string>

#include <caf/scoped_actor.hpp>

#include "netasync/atoms.hpp"
#include "netasync/bytes.hpp"
#include "netasync/connection.hpp"
#include "support/test_util.hpp"

namespace netasync::test {

/// The next status of `conn` as "connected", "disconnected:<code>" or
/// "closed:<code>"; payloads and other connections' statuses are skipped;
/// "timeout" after `within`.
inline std::string next_status_of(caf::scoped_actor& self,
                                  const connection& conn,
                                  caf::timespan within) {
  using clock_type = std::chrono::steady_clock;
  std::string result;
  auto deadline = clock_type::now() + within;
  while (result.empty()) {
    auto left = deadline - clock_type::now();
    if (left <= decltype(left){0})
      return "timeout";
    self->receive(
      [&](connected_atom, const connection& c) {
        if (c == conn)
          result = "connected";
      },
      [&](disconnected_atom, const connection& c, const caf::error& err) {
        if (c == conn)
          result = "disconnected:" + code_name(err);
      },
      [&](closed_atom, const connection& c, const caf::error& err) {
        if (c == conn)
          result = "closed:" + code_name(err);
      },
      [&](const connection&, const bytes&) {},
      caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(left))
        >> [&] { result = "timeout"; });
  }
  return result;
}

} // namespace netasync::test
