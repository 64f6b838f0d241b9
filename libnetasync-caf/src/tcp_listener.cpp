#include "tcp_listener.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

#include <caf/send.hpp>

#include "netasync/error.hpp"

namespace netasync::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

tcp_listener::tcp_listener(asio::io_context& ctx, link_factory_ptr links)
  : ctx_(ctx),
    strand_(asio::make_strand(ctx)),
    acc_(strand_),
    retry_(strand_),
    links_(std::move(links)) {
  // nop
}

caf::expected<listener_ptr> tcp_listener::open(asio::io_context& ctx,
                                               const std::string& host,
                                               uint16_t port,
                                               link_factory_ptr links,
                                               tls_context_ptr tls,
                                               caf::timespan handshake_timeout,
                                               size_t max_handshakes) {
  auto where = host + ":" + std::to_string(port);
  boost::system::error_code ec;
  // A numeric address needs no resolver. A name comes here only as "" (the
  // wildcard, which getaddrinfo answers without a lookup): other names
  // are resolved by named_listener, off the caller's thread.
  tcp::endpoint ep;
  if (auto addr = asio::ip::make_address(host, ec); !ec) {
    ep = tcp::endpoint{addr, port};
  } else {
    ec.clear();
    tcp::resolver resolver(ctx);
    auto results = resolver.resolve(host, std::to_string(port),
                                    tcp::resolver::passive, ec);
    if (ec || results.empty())
      return make_error(error::bind_failed, where + ": " + ec.message());
    ep = results.begin()->endpoint();
  }
  auto result = std::make_shared<tcp_listener>(ctx, std::move(links));
  result->tls_ = std::move(tls);
  result->handshake_timeout_ = handshake_timeout;
  result->max_handshakes_ = max_handshakes; // accept() refuses 0
  auto& acc = result->acc_;
  acc.open(ep.protocol(), ec);
  if (!ec)
    acc.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec)
    acc.bind(ep, ec);
  if (!ec)
    acc.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec)
    acc.non_blocking(true, ec); // accept_ready() takes until EAGAIN
  if (ec)
    return make_error(error::bind_failed, where + ": " + ec.message());
  result->port_ = acc.local_endpoint(ec).port();
  return listener_ptr{std::move(result)};
}

void tcp_listener::start(caf::actor owner) {
  asio::post(strand_, [self = shared_from_this(), owner] {
    if (self->closed_)
      return;
    self->owner_ = owner;
    // Before the first accept: every make() comes after it.
    self->links_->bind(owner);
    self->do_accept();
  });
}

void tcp_listener::close() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->closed_)
      return;
    self->closed_ = true;
    boost::system::error_code ec;
    self->acc_.close(ec);
    self->retry_.cancel();
    // What is still a handshake ends with the listener: a TLS handshake,
    // an HTTP connection kept alive between requests or serving one
    // (without this it would serve on after its acceptor closed).
    for (auto& w : self->handshakes_)
      if (auto p = w.lock(); p && !p->ended())
        p->wind_down("the listener closed");
    self->handshakes_.clear();
    if (self->owner_)
      caf::anon_send(self->owner_, listener_closed_atom::value);
    self->owner_ = nullptr;
  });
}

uint16_t tcp_listener::port() const {
  return port_;
}

void tcp_listener::do_accept() {
  // Wait for readiness, then accept what the queue holds in one go: one
  // asynchronous operation per connection fell behind bursts of thousands of
  // connects, and the kernel's accept queue overflowed (SYNs retried after
  // a second).
  acc_.async_wait(tcp::acceptor::wait_read,
                  [self = shared_from_this()](
                    const boost::system::error_code& ec) {
                    if (self->closed_)
                      return;
                    if (ec) {
                      self->retry_later();
                      return;
                    }
                    self->accept_ready();
                  });
}

void tcp_listener::accept_ready() {
  for (size_t i = 0; i < max_accepts_per_event; ++i) {
    boost::system::error_code ec;
    // Each accepted socket gets a strand of its own.
    tcp_socket sock{asio::make_strand(ctx_)};
    acc_.accept(sock, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again)
      break;
    if (ec == asio::error::connection_aborted)
      continue; // the client gave up while queued: take the next one
    if (ec) {
      // EMFILE, ENOBUFS ...: the listener stays; try again after a pause.
      retry_later();
      return;
    }
    if (tls_)
      handshake(std::move(sock));
    else
      make_link(std::move(sock));
  }
  do_accept();
}

// The owner is read when the link is made: a listener closed meanwhile
// hands nothing out (its owner is gone or going).
handshake_done tcp_listener::hand_out() {
  return [self = shared_from_this(), count = handshaking_,
          failures = handshake_failures_](caf::expected<transport_ptr> tr) {
    --*count;
    if (!tr) {
      ++*failures; // the client hears of it; nothing to log
      return;
    }
    if (!*tr)
      return; // answered as HTTP: no link
    asio::post(self->strand_, [self, tr = std::move(*tr)] {
      if (self->closed_ || !self->owner_) {
        tr->close(close_mode::abortive, caf::error{});
        return;
      }
      caf::anon_send(self->owner_, listener_accepted_atom::value, tr);
    });
  };
}

void tcp_listener::make_link(tcp_socket sock) {
  admit();
  ++*handshaking_;
  track(links_->make(std::move(sock), handshake_timeout_, hand_out()));
}

void tcp_listener::handshake(tcp_socket sock) {
  admit();
  ++*handshaking_;
  track(tls_handshake(std::move(sock), tls_, tls_side::server, {},
                      handshake_timeout_, links_, hand_out()));
}

// At the bound, the oldest handshake goes (TLS, or an HTTP connection that
// has not upgraded): a newcomer may be a real client, while the oldest has
// had the longest to say something.
void tcp_listener::admit() {
  if (handshaking_->load() >= max_handshakes_) {
    while (!handshakes_.empty()) {
      auto oldest = handshakes_.front().lock();
      handshakes_.pop_front();
      if (oldest && !oldest->ended()) {
        oldest->cancel("evicted: " + std::to_string(max_handshakes_)
                       + " handshakes under way");
        break;
      }
    }
  }
  if (handshakes_.size() > 2 * max_handshakes_)
    handshakes_.erase(std::remove_if(handshakes_.begin(), handshakes_.end(),
                                     [](auto& x) { return x.expired(); }),
                      handshakes_.end());
}

void tcp_listener::track(handshake_pending_ptr p) {
  if (p)
    handshakes_.emplace_back(std::move(p));
}

void tcp_listener::retry_later() {
  retry_.expires_after(retry_delay);
  retry_.async_wait([self = shared_from_this()](
                      const boost::system::error_code& ec) {
    if (!ec && !self->closed_)
      self->do_accept();
  });
}

} // namespace netasync::detail
