#pragma once

// A listener on a host name ("localhost", a name of this machine). accept()
// must not block its caller (an actor, often) on a name lookup: this
// listener is returned at once, and start() has Asio's resolver look the
// name up (on the resolver's own thread, neither an I/O thread nor the
// caller's); the first address is then bound as a tcp_listener, which does
// the accepting. The owner hears (listener_bound_atom, port) once the port
// is bound, or (listener_failed_atom, error) if the name does not resolve
// or the address cannot be bound; close() before that ends the lookup.
// Threads: start() and close() post to the listener's strand; port() and
// handshake_failures() may be called from any thread (under a mutex).
// Private to the library.

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>

#include <caf/expected.hpp>

#include "listener.hpp"

namespace netasync::detail {

class named_listener : public listener,
                       public std::enable_shared_from_this<named_listener> {
public:
  /// Binds a numeric address (the one the name resolved to).
  using opener = std::function<caf::expected<listener_ptr>(
    const std::string& address)>;

  named_listener(boost::asio::io_context& ctx, std::string host,
                 uint16_t port, opener open);

  void start(caf::actor owner) override;
  void close() override;
  uint16_t port() const override;
  uint64_t handshake_failures() const override;

private:
  void resolved(const boost::system::error_code& ec,
                boost::asio::ip::tcp::resolver::results_type results);
  // Ends it: the owner hears `why`.
  void fail(caf::error why);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::resolver resolver_;
  std::string host_;
  uint16_t wanted_port_;
  opener open_;
  caf::actor owner_;
  bool closed_ = false;
  // The bound listener (set once, on the strand; read by the accessors).
  mutable std::mutex mtx_;
  listener_ptr bound_;
};

} // namespace netasync::detail
