#pragma once

// What the library's entry points (connect, accept) ask of io_module: a
// dialer or a listener on its I/O threads. Private: io_module's public
// header names no transport, dialer or listener.

#include <cstdint>
#include <optional>

#include <boost/asio/io_context.hpp>

#include <caf/expected.hpp>

#include "blocking_pool.hpp"
#include "dialer.hpp"
#include "listener.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/io_module.hpp"
#include "netasync/options.hpp"

namespace netasync::detail {

class http_client_board;

struct io_access {
  /// A dialer for `where`'s scheme. Fails with tls_config_invalid when
  /// opts.tls cannot be used.
  static caf::expected<dialer_ptr>
  make_dialer(io_module& mod, const endpoint& where,
              std::shared_ptr<const options> opts);

  /// Binds and listens on `where` (port 0 picks a free port).
  static caf::expected<listener_ptr>
  listen(io_module& mod, const endpoint& where,
         std::shared_ptr<const options> opts);

  /// The I/O threads' context (tests post to it).
  static boost::asio::io_context& context(io_module& mod);

  /// The threads for blocking work (blocking_pool.hpp), made at the first
  /// call.
  static blocking_pool_ptr blocking(io_module& mod);

  /// How many exceptions left an I/O handler (each reported on stderr).
  static uint64_t handler_failures(io_module& mod);

  /// The port a local acceptor bound, kept until it ends: bound_port()
  /// answers from here without a message (and without blocking).
  static void note_port(io_module& mod, const caf::actor& acc, uint16_t port);
  static std::optional<uint16_t> port_of(io_module& mod,
                                         const caf::actor_addr& acc);

  /// The actor system's subscriber_watch, spawned at the first call.
  static caf::actor subscriber_watch(io_module& mod);

  /// The actor system's HTTP clients (http/client_board.hpp), made at the
  /// first call.
  static std::shared_ptr<http_client_board> http_clients(io_module& mod);
};

} // namespace netasync::detail
