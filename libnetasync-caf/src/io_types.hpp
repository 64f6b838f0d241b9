#pragma once

// The concrete Asio types of a link: a socket, a TLS stream and a timer bound
// to a strand of the module's io_context by type. The defaults
// (tcp::socket, steady_timer) carry a type-erased any_io_executor, whose
// per-operation executor conversions showed as ~6 % of an idle server's
// CPU; a link's executor is always a strand, so nothing is lost by naming it.
// Private to the library.

#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

namespace netasync::detail {

using io_strand
  = boost::asio::strand<boost::asio::io_context::executor_type>;
using tcp_socket
  = boost::asio::basic_stream_socket<boost::asio::ip::tcp, io_strand>;
using tls_stream = boost::asio::ssl::stream<tcp_socket>;
/// The socket below a stream (what lowest_layer() gives either stream).
using tcp_lowest = tcp_socket::lowest_layer_type;
using strand_timer = boost::asio::basic_waitable_timer<
  std::chrono::steady_clock,
  boost::asio::wait_traits<std::chrono::steady_clock>, io_strand>;

} // namespace netasync::detail
