#include "tcp_acked.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/tcp.h>

namespace netasync::detail {

uint64_t tcp_bytes_acked(int fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0
      || len < sizeof(info))
    return 0;
  return info.tcpi_bytes_acked;
}

} // namespace netasync::detail
