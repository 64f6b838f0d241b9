#pragma once

// A listening TCP socket on the I/O threads. Accept errors never close it for
// good: a failed accept (e.g. out of file descriptors) is retried after a
// short pause. A connection goes to the owner once it is a link: after the
// TLS handshake (tls, wss) and the link factory's own (ws, wss: an HTTP
// request that may be answered as HTTP instead); a failed or timed-out
// handshake is reset and only counted (the client hears of it).

#include <atomic>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <caf/expected.hpp>

#include "io_types.hpp"
#include "listener.hpp"
#include "tls.hpp"

namespace netasync::detail {

class tcp_listener : public listener,
                     public std::enable_shared_from_this<tcp_listener> {
public:
  /// Resolves host (numeric or a name in the hosts file), binds with
  /// SO_REUSEADDR and listens. `links` makes the links of accepted
  /// streams. With `tls`, connections are handshaken (within
  /// `handshake_timeout`) before that.
  /// At most `max_handshakes` run at once: a connection past it evicts
  /// (resets) the oldest, so that silent clients cannot lock out new ones.
  static caf::expected<listener_ptr>
  open(boost::asio::io_context& ctx, const std::string& host, uint16_t port,
       link_factory_ptr links, tls_context_ptr tls = nullptr,
       caf::timespan handshake_timeout = caf::timespan{0},
       size_t max_handshakes = 1024);

  tcp_listener(boost::asio::io_context& ctx, link_factory_ptr links);

  void start(caf::actor owner) override;
  void close() override;
  uint16_t port() const override;

  /// Pause after a failed accept before the next one.
  static constexpr auto retry_delay = std::chrono::milliseconds(100);

  /// Connections accepted per readiness event before others get a turn.
  static constexpr size_t max_accepts_per_event = 1024;


private:
  void do_accept();
  void accept_ready();
  void retry_later();
  void handshake(tcp_socket sock);
  void make_link(tcp_socket sock);
  handshake_done hand_out();
  void admit(); // evicts at the bound, before a handshake starts
  void track(handshake_pending_ptr p);

  boost::asio::io_context& ctx_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acc_;
  boost::asio::steady_timer retry_;
  link_factory_ptr links_;
  uint16_t port_ = 0;
  caf::actor owner_;
  bool closed_ = false;
  tls_context_ptr tls_;
  caf::timespan handshake_timeout_{0};
  size_t max_handshakes_ = 1024;
  // Handshakes under way (decremented on the connections' strands), and
  // all started ones, oldest first (strand only; ended ones are dropped
  // as they come to the front or when the queue grows).
  std::shared_ptr<std::atomic<size_t>> handshaking_
    = std::make_shared<std::atomic<size_t>>(0);
  std::deque<std::weak_ptr<handshake_pending>> handshakes_;
  std::shared_ptr<std::atomic<uint64_t>> handshake_failures_
    = std::make_shared<std::atomic<uint64_t>>(0);

public:
  uint64_t handshake_failures() const override {
    return handshake_failures_->load();
  }
};

} // namespace netasync::detail
