#pragma once

// How many bytes of ours the peer has acknowledged on a TCP socket, from
// the kernel (TCP_INFO's tcpi_bytes_acked, Linux 4.1 and later): a count
// that only grows, and grows only while the peer takes what we send. In a
// file of its own because <linux/tcp.h>, which has the field, cannot be
// included beside <netinet/tcp.h>, which Asio includes. Private.

#include <cstdint>

namespace netasync::detail {

/// The bytes the peer acknowledged on `fd`; 0 if the kernel does not say.
uint64_t tcp_bytes_acked(int fd);

} // namespace netasync::detail
