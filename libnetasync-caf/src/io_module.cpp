#include "netasync/io_module.hpp"

#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "http/client_board.hpp"
#include "io_access.hpp"
#include "subscriber_watch.hpp"
#include "tcp_dialer.hpp"
#include "named_listener.hpp"
#include "schemes.hpp"
#include "tcp_listener.hpp"

namespace netasync {

namespace {

// How long stop() waits for the library's actors to finish.
constexpr auto shutdown_wait = std::chrono::seconds(5);

// An I/O thread's loop. An exception out of a handler (a bug, or memory
// exhausted) must not end the process, nor the I/O of every other link:
// it is reported and the loop goes on. The link whose handler threw has no
// operation pending any more; its connection's liveness check ends it
// (heartbeat-timeout), and the others carry on.
void run_guarded(boost::asio::io_context& ctx, std::atomic<uint64_t>& failed) {
  for (;;) {
    try {
      ctx.run();
      return;
    } catch (const std::exception& e) {
      ++failed;
      std::cerr << "netasync: an I/O handler failed: " << e.what()
                << std::endl;
    } catch (...) {
      ++failed;
      std::cerr << "netasync: an I/O handler failed (not a std::exception)"
                << std::endl;
    }
  }
}

} // namespace

struct io_module::impl {
  boost::asio::io_context ctx;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type>
    work{ctx.get_executor()};
  std::vector<std::thread> threads;
  size_t thread_count = 1;
  // Exceptions that left an I/O handler (run_guarded).
  std::atomic<uint64_t> handler_failures{0};

  // Live actors of the library, by id.
  std::mutex mtx;
  std::condition_variable cv;
  std::unordered_map<caf::actor_id, caf::weak_actor_ptr> live;

  // Ports of local acceptors, by actor id (guarded by mtx).
  std::unordered_map<caf::actor_id, uint16_t> ports;

  // Made on first use (guarded by mtx).
  detail::blocking_pool_ptr blocking;
  detail::http_client_board_ptr http_clients;

  // Spawned on first use (guarded by mtx_watch; tracked like the others).
  std::mutex mtx_watch;
  caf::actor watch;
};

io_module::io_module(caf::actor_system& sys)
  : sys_(sys), impl_(std::make_shared<impl>()) {
  // nop
}

io_module::~io_module() {
  // stop() normally ran; this covers a system torn down halfway.
  impl_->ctx.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
}

caf::actor_system::module* io_module::make(caf::actor_system& sys,
                                           caf::detail::type_list<>) {
  return new io_module(sys);
}

io_module* io_module::get(caf::actor_system& sys) {
  if (!sys.has_network_manager())
    return nullptr;
  // CAF hands back what subtype_ptr() returned.
  return reinterpret_cast<io_module*>(&sys.network_manager());
}

void io_module::init(caf::actor_system_config& cfg) {
  auto n = caf::get_or(cfg, "netasync.io-threads", int64_t{1});
  impl_->thread_count = n < 1 ? 1 : static_cast<size_t>(n);
}

void io_module::start() {
  for (size_t i = 0; i < impl_->thread_count; ++i)
    impl_->threads.emplace_back([st = impl_.get()] {
      run_guarded(st->ctx, st->handler_failures);
    });
}

void io_module::stop() {
  std::vector<caf::actor> victims;
  {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    for (auto& kvp : impl_->live)
      if (auto hdl = caf::actor_cast<caf::actor>(kvp.second))
        victims.emplace_back(std::move(hdl));
  }
  for (auto& hdl : victims)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  victims.clear();
  // The test scheduler runs nothing by itself: waiting there would only
  // delay; its fixtures close their actors before the system ends.
  auto testing = dynamic_cast<caf::scheduler::test_coordinator*>(
                   &sys_.scheduler())
                 != nullptr;
  if (!testing) {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    impl_->cv.wait_for(guard, shutdown_wait,
                       [this] { return impl_->live.empty(); });
  }
  {
    // The watch ended with the others; a later connect gets a new one.
    std::unique_lock<std::mutex> guard{impl_->mtx_watch};
    impl_->watch = nullptr;
  }
  detail::blocking_pool_ptr blocking;
  {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    blocking = std::move(impl_->blocking);
  }
  // The last owner (sessions hold it weakly): work queued and not begun is
  // destroyed with it, and the sessions it held with that work.
  blocking.reset();
  impl_->work.reset();
  impl_->ctx.stop();
  for (auto& t : impl_->threads)
    if (t.joinable())
      t.join();
  impl_->threads.clear();
}

caf::actor_system::module::id_t io_module::id() const {
  return network_manager;
}

void* io_module::subtype_ptr() {
  return this;
}

namespace detail {

caf::expected<dialer_ptr>
io_access::make_dialer(io_module& mod, const endpoint& where,
                       std::shared_ptr<const options> opts) {
  auto& io = mod.impl_->ctx;
  auto& row = row_of(where.kind);
  auto links = row.frames->client(where, opts);
  if (!row.tls)
    return dialer_ptr{std::make_shared<tcp_dialer>(io, std::move(links))};
  auto tls = make_client_context(opts->tls);
  if (!tls)
    return std::move(tls.error());
  return dialer_ptr{std::make_shared<tcp_dialer>(io, std::move(links),
                                                 std::move(*tls),
                                                 opts->tls.server_name,
                                                 opts->tls.verify_peer)};
}

caf::expected<listener_ptr>
io_access::listen(io_module& mod, const endpoint& where,
                  std::shared_ptr<const options> opts) {
  auto& row = row_of(where.kind);
  tls_context_ptr tls;
  if (row.tls) {
    auto made = make_server_context(opts->tls);
    if (!made)
      return std::move(made.error());
    tls = std::move(*made);
  }
  auto links = row.frames->server(where, opts,
                                  [&mod] { return blocking(mod); });
  // With TLS, its handshake comes first and is bounded by its timeout;
  // without, the framing's own handshake (if any) is.
  auto timeout = row.tls ? opts->tls.handshake_timeout
                         : row.frames->handshake_timeout(*opts);
  auto& ctx = mod.impl_->ctx;
  auto open = [&ctx, port = where.port, links = std::move(links),
               tls = std::move(tls), timeout,
               max = opts->tls.max_handshakes](const std::string& address) {
    return tcp_listener::open(ctx, address, port, links, tls, timeout, max);
  };
  boost::system::error_code ec;
  boost::asio::ip::make_address(where.host, ec);
  if (!ec || where.host.empty())
    return open(where.host);
  // A name: looked up after accept() returned (named_listener.hpp).
  return listener_ptr{std::make_shared<named_listener>(ctx, where.host,
                                                       where.port,
                                                       std::move(open))};
}

boost::asio::io_context& io_access::context(io_module& mod) {
  return mod.impl_->ctx;
}

blocking_pool_ptr io_access::blocking(io_module& mod) {
  std::unique_lock<std::mutex> guard{mod.impl_->mtx};
  auto& pool = mod.impl_->blocking;
  if (!pool)
    pool = std::make_shared<blocking_pool>(1);
  return pool;
}

http_client_board_ptr io_access::http_clients(io_module& mod) {
  std::unique_lock<std::mutex> guard{mod.impl_->mtx};
  auto& board = mod.impl_->http_clients;
  if (!board)
    board = std::make_shared<http_client_board>();
  return board;
}

uint64_t io_access::handler_failures(io_module& mod) {
  return mod.impl_->handler_failures.load();
}

void io_access::note_port(io_module& mod, const caf::actor& acc,
                          uint16_t port) {
  auto id = acc.id();
  {
    std::unique_lock<std::mutex> guard{mod.impl_->mtx};
    mod.impl_->ports[id] = port;
  }
  acc->attach_functor([st = mod.impl_, id] {
    std::unique_lock<std::mutex> guard{st->mtx};
    st->ports.erase(id);
  });
}

std::optional<uint16_t> io_access::port_of(io_module& mod,
                                           const caf::actor_addr& acc) {
  std::unique_lock<std::mutex> guard{mod.impl_->mtx};
  auto i = mod.impl_->ports.find(acc.id());
  if (i == mod.impl_->ports.end())
    return std::nullopt;
  return i->second;
}

caf::actor io_access::subscriber_watch(io_module& mod) {
  std::unique_lock<std::mutex> guard{mod.impl_->mtx_watch};
  auto& watch = mod.impl_->watch;
  if (!watch) {
    watch = spawn_subscriber_watch(mod.sys_);
    mod.track(watch);
  }
  return watch;
}

} // namespace detail

void io_module::track(const caf::actor& x) {
  if (!x)
    return;
  auto id = x.id();
  {
    std::unique_lock<std::mutex> guard{impl_->mtx};
    impl_->live.emplace(id, caf::actor_cast<caf::weak_actor_ptr>(x));
  }
  // Holds the impl, not the module: the functor may run after stop().
  x->attach_functor([st = impl_, id] {
    std::unique_lock<std::mutex> guard{st->mtx};
    st->live.erase(id);
    st->cv.notify_all();
  });
}

std::function<void(const caf::actor&)> io_module::tracker() {
  return [this](const caf::actor& x) { track(x); };
}

size_t io_module::io_threads() const noexcept {
  return impl_->thread_count;
}

} // namespace netasync
