#pragma once

// Plain POSIX sockets on 127.0.0.1 for tests that play a raw or hostile peer.
// Every call is bounded by a timeout.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace netasync::test {

class raw_socket {
public:
  raw_socket() = default;
  explicit raw_socket(int fd) : fd_(fd) {}
  raw_socket(raw_socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  raw_socket& operator=(raw_socket&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;
  ~raw_socket() { reset(); }

  int fd() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

  void reset() {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = -1;
  }

  /// A listening socket on 127.0.0.1 (port 0 picks one).
  static raw_socket listen_on(uint16_t port, int backlog) {
    raw_socket s{::socket(AF_INET, SOCK_STREAM, 0)};
    int one = 1;
    ::setsockopt(s.fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    auto addr = loopback(port);
    if (::bind(s.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0
        || ::listen(s.fd_, backlog) != 0)
      throw std::runtime_error("raw listen failed");
    return s;
  }

  /// A blocking connect to 127.0.0.1:port.
  static raw_socket connect_to(uint16_t port) {
    raw_socket s{::socket(AF_INET, SOCK_STREAM, 0)};
    auto addr = loopback(port);
    if (::connect(s.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
        != 0)
      throw std::runtime_error("raw connect failed");
    return s;
  }

  /// A port that nothing listens on right now.
  static uint16_t free_port() {
    auto s = listen_on(0, 1);
    return s.local_port();
  }

  uint16_t local_port() const {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    return ntohs(addr.sin_port);
  }

  /// Waits up to `timeout` for a connection.
  raw_socket accept_one(std::chrono::milliseconds timeout) {
    if (!wait(POLLIN, timeout))
      return raw_socket{};
    return raw_socket{::accept(fd_, nullptr, nullptr)};
  }

  void send_all(const std::vector<uint8_t>& data) {
    size_t off = 0;
    while (off < data.size()) {
      auto n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        throw std::runtime_error("raw send failed");
      off += static_cast<size_t>(n);
    }
  }

  /// Sends what the peer takes of `data` within `timeout` (without
  /// blocking past it: a peer that stopped reading pushes back); returns
  /// how many bytes went out.
  size_t send_for(const std::vector<uint8_t>& data,
                  std::chrono::milliseconds timeout) {
    size_t off = 0;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (off < data.size()) {
      auto n = ::send(fd_, data.data() + off, data.size() - off,
                      MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        break;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait(POLLOUT, left))
        break;
    }
    return off;
  }

  /// Reads exactly n bytes or fails after timeout; returns what arrived.
  std::vector<uint8_t> read_exactly(size_t n, std::chrono::milliseconds timeout) {
    std::vector<uint8_t> buf;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf.size() < n) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait(POLLIN, left))
        break;
      uint8_t tmp[4096];
      auto want = std::min(sizeof(tmp), n - buf.size());
      auto r = ::recv(fd_, tmp, want, 0);
      if (r <= 0)
        break;
      buf.insert(buf.end(), tmp, tmp + r);
    }
    return buf;
  }

  /// True if the peer closed or reset the connection within `timeout`.
  bool peer_closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !wait(POLLIN, left))
        return false;
      uint8_t tmp[4096];
      auto r = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (r <= 0)
        return true;
    }
  }

private:
  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  bool wait(short events, std::chrono::milliseconds timeout) {
    pollfd p{fd_, events, 0};
    return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  int fd_ = -1;
};

} // namespace netasync::test
