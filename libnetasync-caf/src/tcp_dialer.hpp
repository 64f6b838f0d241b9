#pragma once

// Connects over TCP on the I/O threads: asynchronous resolve, asynchronous
// connect to each resolved address in turn, for tls:// and wss:// the TLS
// handshake, then the link factory's own handshake (ws:// and wss://), all
// under one connect timeout. Nothing blocks an I/O or a scheduler thread.

#include <boost/asio/io_context.hpp>

#include "dialer.hpp"
#include "tls.hpp"

namespace netasync::detail {

class tcp_dialer : public dialer {
public:
  /// `links` makes the link of a connected stream. TLS over the
  /// connection when `tls` is set. `server_name`, when not empty, replaces
  /// the host dialed as the name the server's certificate must carry and
  /// as the SNI name; `verify` off skips the name check (the context skips
  /// the chain's).
  tcp_dialer(boost::asio::io_context& ctx, link_factory_ptr links,
             tls_context_ptr tls = nullptr, std::string server_name = {},
             bool verify = true)
    : ctx_(ctx),
      links_(std::move(links)),
      tls_(std::move(tls)),
      server_name_(std::move(server_name)),
      verify_(verify) {
    // nop
  }

  void dial(request req) override;

private:
  boost::asio::io_context& ctx_;
  link_factory_ptr links_;
  tls_context_ptr tls_;
  std::string server_name_;
  bool verify_;
};

/// One attempt as tcp_dialer makes it (resolve, connect, TLS when `tls` is
/// set, then `links`' handshake, all within `timeout`), for callers that are
/// not a connection: `done` gets the outcome on the stream's strand, once.
/// A framing that is no message link (the HTTP client's) hands its stream
/// on by its own means and calls `done` with a null transport.
void dial_stream(boost::asio::io_context& ctx, std::string host,
                 uint16_t port, caf::timespan timeout, link_factory_ptr links,
                 tls_context_ptr tls, tls_peer_check check,
                 handshake_done done);

} // namespace netasync::detail
