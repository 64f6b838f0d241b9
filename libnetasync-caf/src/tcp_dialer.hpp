#pragma once

// Connects over TCP on the I/O threads: asynchronous resolve, asynchronous
// connect to each resolved address in turn, all under one connect timeout.
// Nothing blocks an I/O or a scheduler thread.

#include <boost/asio/io_context.hpp>

#include "netasync/dialer.hpp"

namespace netasync::detail {

class tcp_dialer : public dialer {
public:
  explicit tcp_dialer(boost::asio::io_context& ctx) : ctx_(ctx) {
    // nop
  }

  void dial(request req) override;

private:
  boost::asio::io_context& ctx_;
};

} // namespace netasync::detail
