#pragma once

// The CAF module that owns the library's I/O threads (an Asio io_context run
// by `netasync.io-threads` threads, default 1) and every actor the library
// spawns. Load it with `cfg.load<netasync::io_module>()` (system_config does).
//
// Shutdown: CAF stops modules after it has waited for the application's
// actors. The library's actors are hidden from that wait; stop() sends them
// an exit (they deliver closed to their subscribers and reset their links),
// waits for them (bounded), then stops and joins the I/O threads. So an
// actor system never hangs on open connections and leaks no thread.

#include <functional>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/detail/type_list.hpp>
#include <caf/expected.hpp>

#include "netasync/options.hpp"

namespace netasync {

namespace detail {
struct io_access;
} // namespace detail

class io_module : public caf::actor_system::module {
public:
  explicit io_module(caf::actor_system& sys);

  ~io_module() override;

  static caf::actor_system::module* make(caf::actor_system& sys,
                                         caf::detail::type_list<>);

  /// The loaded module of `sys`, or nullptr.
  static io_module* get(caf::actor_system& sys);

  void start() override;
  void stop() override;
  void init(caf::actor_system_config& cfg) override;
  id_t id() const override;
  void* subtype_ptr() override;

  /// Registers an actor of the library: stop() ends it.
  void track(const caf::actor& x);

  /// A callable form of track() for the actors that spawn others.
  std::function<void(const caf::actor&)> tracker();

  size_t io_threads() const noexcept;

private:
  // The library's own way in (src/io_access.hpp): dialers and listeners on
  // the I/O threads. Not for applications.
  friend struct detail::io_access;

  struct impl;
  caf::actor_system& sys_;
  std::shared_ptr<impl> impl_;
};

} // namespace netasync
