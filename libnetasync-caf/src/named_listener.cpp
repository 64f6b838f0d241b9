#include "named_listener.hpp"

#include <boost/asio/post.hpp>

#include <caf/send.hpp>

#include "netasync/error.hpp"

namespace netasync::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

named_listener::named_listener(asio::io_context& ctx, std::string host,
                               uint16_t port, opener open)
  : strand_(asio::make_strand(ctx)),
    resolver_(strand_),
    host_(std::move(host)),
    wanted_port_(port),
    open_(std::move(open)) {
  // nop
}

void named_listener::start(caf::actor owner) {
  asio::post(strand_, [self = shared_from_this(), owner] {
    if (self->closed_)
      return;
    self->owner_ = owner;
    self->resolver_.async_resolve(
      self->host_, std::to_string(self->wanted_port_), tcp::resolver::passive,
      [self](const boost::system::error_code& ec,
             tcp::resolver::results_type results) {
        self->resolved(ec, std::move(results));
      });
  });
}

void named_listener::resolved(const boost::system::error_code& ec,
                              tcp::resolver::results_type results) {
  if (closed_)
    return;
  if (ec || results.empty()) {
    fail(make_error(error::bind_failed,
                    host_ + ":" + std::to_string(wanted_port_) + ": "
                      + (ec ? ec.message() : "no address")));
    return;
  }
  auto l = open_(results.begin()->endpoint().address().to_string());
  if (!l) {
    fail(std::move(l.error()));
    return;
  }
  {
    std::unique_lock<std::mutex> guard{mtx_};
    bound_ = *l;
  }
  (*l)->start(owner_);
  caf::anon_send(owner_, listener_bound_atom::value, (*l)->port());
}

void named_listener::fail(caf::error why) {
  closed_ = true;
  caf::anon_send(owner_, listener_failed_atom::value, std::move(why));
  owner_ = nullptr;
}

void named_listener::close() {
  asio::post(strand_, [self = shared_from_this()] {
    listener_ptr bound;
    {
      std::unique_lock<std::mutex> guard{self->mtx_};
      bound = self->bound_;
    }
    if (bound) { // it reports the port released
      bound->close();
      return;
    }
    if (self->closed_)
      return;
    self->closed_ = true;
    self->resolver_.cancel();
    if (self->owner_)
      caf::anon_send(self->owner_, listener_closed_atom::value);
    self->owner_ = nullptr;
  });
}

uint16_t named_listener::port() const {
  std::unique_lock<std::mutex> guard{mtx_};
  return bound_ ? bound_->port() : 0;
}

uint64_t named_listener::handshake_failures() const {
  std::unique_lock<std::mutex> guard{mtx_};
  return bound_ ? bound_->handshake_failures() : 0;
}

} // namespace netasync::detail
