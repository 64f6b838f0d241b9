#pragma once

// Work that blocks on the operating system (file-system calls for static
// files) runs on these threads: never on an I/O thread, whose every link
// would wait with it, nor on a CAF worker. One per actor system, made on
// first use (io_access::blocking_pool), stopped with the module.
// Threads: post() from any thread; the work runs on a pool thread and hands
// its result back by posting to the strand that asked.
// Private to the library.

#include <functional>
#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace netasync::detail {

class blocking_pool {
public:
  explicit blocking_pool(size_t threads) : pool_(threads) {
    // nop
  }

  // Asio's pool destroys, with itself, the work that did not begin.
  ~blocking_pool() {
    stop();
  }

  /// Runs `f` on a pool thread, unless the pool was stopped (then `f` is
  /// dropped: whoever waits for it is being torn down as well).
  template <class F>
  void post(F&& f) {
    boost::asio::post(pool_, std::forward<F>(f));
  }

  /// Drops what has not started and waits for what has.
  void stop() {
    pool_.stop();
    pool_.join();
  }

private:
  boost::asio::thread_pool pool_;
};

using blocking_pool_ptr = std::shared_ptr<blocking_pool>;

} // namespace netasync::detail
