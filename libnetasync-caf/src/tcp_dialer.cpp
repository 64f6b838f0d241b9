#include "tcp_dialer.hpp"

#include <memory>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <caf/send.hpp>

#include "netasync/error.hpp"

namespace netasync::detail {

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// The one reply of an attempt.
void answer(const dialer::request& req, caf::expected<transport_ptr> tr) {
  if (tr)
    caf::anon_send(req.reply_to, dial_ok_atom::value, req.attempt,
                   std::move(*tr));
  else
    caf::anon_send(req.reply_to, dial_failed_atom::value, req.attempt,
                   std::move(tr.error()));
}

// One attempt. Resolver, socket and timer share a strand; whichever of
// "connected", "failed" and "timed out" comes first answers, once.
class dial_attempt : public std::enable_shared_from_this<dial_attempt> {
public:
  dial_attempt(asio::io_context& ctx, std::string host, uint16_t port,
               caf::timespan timeout, link_factory_ptr links,
               tls_context_ptr tls, tls_peer_check check, handshake_done done)
    : strand_(asio::make_strand(ctx)),
      resolver_(strand_),
      sock_(strand_),
      timer_(strand_),
      host_(std::move(host)),
      port_(port),
      timeout_(timeout),
      links_(std::move(links)),
      tls_(std::move(tls)),
      check_(std::move(check)),
      done_fn_(std::move(done)) {
    where_ = host_ + ":" + std::to_string(port_);
  }

  void start() {
    asio::post(strand_, [self = shared_from_this()] { self->run(); });
  }

private:
  void run() {
    deadline_ = std::chrono::steady_clock::now() + timeout_;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](
                        const boost::system::error_code& ec) {
      if (ec || self->done_)
        return;
      self->fail(make_error(error::connect_timeout, self->where_));
    });
    // A numeric address needs no resolver (whose asynchronous lookups run
    // on a private thread, one hand-off each way per attempt).
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(host_, ec);
    if (!ec) {
      sock_.async_connect(tcp::endpoint{addr, port_},
                          [self = shared_from_this()](
                            const boost::system::error_code& ec) {
                            self->on_connect(ec);
                          });
      return;
    }
    resolver_.async_resolve(
      host_, std::to_string(port_),
      [self = shared_from_this()](const boost::system::error_code& ec,
                                  tcp::resolver::results_type results) {
        if (self->done_)
          return;
        if (ec) {
          self->fail(make_error(error::resolve_failed,
                                self->where_ + ": " + ec.message()));
          return;
        }
        asio::async_connect(
          self->sock_, results,
          [self](const boost::system::error_code& ec, const tcp::endpoint&) {
            self->on_connect(ec);
          });
      });
  }

  void on_connect(const boost::system::error_code& ec) {
    if (done_)
      return;
    if (ec) {
      fail(make_error(error::connect_failed, where_ + ": " + ec.message()));
      return;
    }
    // With no listener on a port in the ephemeral range, the kernel may pick
    // that very port for our end: TCP's simultaneous open then "connects"
    // the socket to itself, and every message sent would come back as if
    // the peer had sent it. It is a refused connect in disguise.
    boost::system::error_code le;
    boost::system::error_code re;
    auto local = sock_.local_endpoint(le);
    auto remote = sock_.remote_endpoint(re);
    if (!le && !re && local == remote) {
      // Reset rather than close: a closed self-connection would hold the
      // port in TIME_WAIT for a minute, keeping its server from binding it.
      boost::system::error_code ignored;
      sock_.set_option(asio::socket_base::linger(true, 0), ignored);
      fail(make_error(error::connect_failed,
                      where_ + ": connected to itself (nothing listens)"));
      return;
    }
    succeed();
  }

  void succeed() {
    done_ = true;
    timer_.cancel();
    // The socket stays on this attempt's strand, which becomes the
    // transport's own. The handshakes get what is left of the connect
    // timeout.
    auto left = std::max(caf::timespan{1},
                         std::chrono::duration_cast<caf::timespan>(
                           deadline_ - std::chrono::steady_clock::now()));
    if (!tls_)
      links_->make(std::move(sock_), left, std::move(done_fn_));
    else
      tls_handshake(std::move(sock_), tls_, tls_side::client, check_, left,
                    links_, std::move(done_fn_));
  }

  void fail(caf::error reason) {
    done_ = true;
    timer_.cancel();
    resolver_.cancel();
    boost::system::error_code ec;
    // Closing a connecting socket aborts the handshake: nothing stays in
    // SYN-SENT.
    sock_.close(ec);
    done_fn_(std::move(reason));
  }

  io_strand strand_;
  tcp::resolver resolver_;
  tcp_socket sock_;
  strand_timer timer_;
  std::string host_;
  uint16_t port_;
  caf::timespan timeout_;
  link_factory_ptr links_;
  tls_context_ptr tls_;
  tls_peer_check check_;
  handshake_done done_fn_;
  std::chrono::steady_clock::time_point deadline_;
  std::string where_;
  bool done_ = false;
};

} // namespace

void tcp_dialer::dial(request req) {
  tls_peer_check check;
  if (tls_) {
    check.name = server_name_.empty() ? req.host : server_name_;
    check.verify = verify_;
  }
  auto host = req.host;
  auto port = req.port;
  auto timeout = req.timeout;
  dial_stream(ctx_, std::move(host), port, timeout, links_, tls_,
              std::move(check),
              [req = std::move(req)](caf::expected<transport_ptr> tr) {
                answer(req, std::move(tr));
              });
}

void dial_stream(boost::asio::io_context& ctx, std::string host,
                 uint16_t port, caf::timespan timeout, link_factory_ptr links,
                 tls_context_ptr tls, tls_peer_check check,
                 handshake_done done) {
  std::make_shared<dial_attempt>(ctx, std::move(host), port, timeout,
                                 std::move(links), std::move(tls),
                                 std::move(check), std::move(done))
    ->start();
}

} // namespace netasync::detail
