#pragma once

// A loopback TCP proxy for fault-injection tests: it listens on 127.0.0.1
// (a port picked by the kernel), and forwards every accepted connection to
// 127.0.0.1:<target>. On command it passes traffic, delays it, stalls it,
// resets both sides of a link, half-closes one direction, cuts a frame in the
// middle, or black-holes new connections.
//
// One thread runs a poll() loop over all sockets; commands are posted to it
// and return once the thread has carried them out, so a test knows the fault
// is in force when the call returns. Everything is bounded: at most
// max_links links, at most max_queued bytes waiting per direction (the proxy
// stops reading past it, and TCP pushes back), every wait has a timeout. The
// destructor stops the thread, joins it and resets every socket.
//
// Commands:
//   pass()                forward at once, both ways (the initial mode)
//   delay(d)              forward each chunk d after it was read, both ways
//   stall()               forward nothing, read nothing, report nothing:
//                         sockets stay open, as on a stuck link; new links
//                         are established and stall too; pass() or delay()
//                         resumes every link
//   reset_all()           RST both sides of every current link
//   half_close(dir)       on every current link: FIN toward the receiver of
//                         `dir` (shutdown SHUT_WR); later bytes in that
//                         direction are read and dropped; the other
//                         direction still flows
//   cut_next_frame(dir, min_payload)
//                         the next frame in direction `dir` whose payload is
//                         at least min_payload bytes (on any link): forward
//                         its header and half its payload, wait (at most 1 s)
//                         until the receiver's kernel acknowledged them, then
//                         RST both sides of that link. One shot.
//   black_hole(on)        on: accept nothing and fill the listen backlog, so
//                         the kernel drops further SYNs (connects hang, as to
//                         a black-holed host); off: accept again
//
// The proxy parses the 4-byte big-endian length prefixes of the stream in
// each direction (it never changes them) to find frame boundaries for
// cut_next_frame.

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace netasync::test {

class fault_proxy {
public:
  using clock = std::chrono::steady_clock;

  /// to_server: bytes from the client (the dialling side) to the target;
  /// to_client: bytes from the target back to the client.
  enum class direction { to_server = 0, to_client = 1 };

  struct counters {
    /// Links accepted from clients and connected to the target.
    uint64_t accepted = 0;
    /// Links open now.
    uint64_t live = 0;
    /// Links ended by reset_all().
    uint64_t resets = 0;
    /// Frames cut by cut_next_frame (each ended its link).
    uint64_t cuts = 0;
    /// Directions half-closed by half_close().
    uint64_t half_closes = 0;
    /// Links refused because the target refused or max_links was reached.
    uint64_t refused = 0;
    /// Payload bytes forwarded, per direction.
    uint64_t bytes_to_server = 0;
    uint64_t bytes_to_client = 0;
  };

  static constexpr size_t max_links = 64;
  static constexpr size_t max_queued = 1024 * 1024;
  static constexpr size_t read_size = 64 * 1024;
  static constexpr auto command_bound = std::chrono::seconds(5);
  static constexpr auto connect_bound = std::chrono::seconds(2);
  static constexpr auto cut_flush_bound = std::chrono::seconds(1);
  /// SO_RCVBUF and SO_SNDBUF of every proxy socket (the kernel doubles it):
  /// fixed, so that how much a sender's kernel can have accepted beyond what
  /// the proxy forwarded is bounded (sender's send buffer + 2 × this +
  /// read_size), which a test can rely on.
  static constexpr int socket_buffer = 256 * 1024;

  explicit fault_proxy(uint16_t target_port) : target_port_(target_port) {
    int p[2];
    if (::pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0)
      throw std::runtime_error("fault_proxy: pipe failed");
    wake_rd_ = p[0];
    wake_wr_ = p[1];
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    set_buffers(listener_); // accepted sockets inherit them
    auto addr = loopback(0);
    if (listener_ < 0
        || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
             != 0
        || ::listen(listener_, listen_backlog) != 0) {
      close_fd(listener_);
      close_fd(wake_rd_);
      close_fd(wake_wr_);
      throw std::runtime_error("fault_proxy: listen failed");
    }
    sockaddr_in bound{};
    socklen_t len = sizeof(bound);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.sin_port);
    thread_ = std::thread([this] { run(); });
  }

  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  ~fault_proxy() {
    stop_ = true;
    wake();
    if (thread_.joinable())
      thread_.join();
    for (auto& l : links_)
      reset_fds(l);
    links_.clear();
    leave_black_hole_fds();
    close_fd(listener_);
    close_fd(wake_rd_);
    close_fd(wake_wr_);
    // Commands posted after the thread ended (none in a correct test) fail.
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& c : commands_)
      c.done.set_value(false);
    commands_.clear();
  }

  /// The port clients dial.
  uint16_t port() const { return port_; }

  void pass() {
    call([this] {
      stalled_ = false;
      delay_ = clock::duration::zero();
    });
  }

  void delay(std::chrono::milliseconds each_way) {
    call([this, each_way] {
      stalled_ = false;
      delay_ = each_way;
    });
  }

  void stall() {
    call([this] { stalled_ = true; });
  }

  /// Returns how many links were reset.
  size_t reset_all() {
    size_t n = 0;
    call([&] {
      for (auto& l : links_)
        if (!l.dead) {
          reset_link(l);
          ++n;
        }
      bump([&](counters& c) { c.resets += n; });
    });
    return n;
  }

  /// Returns how many links were half-closed.
  size_t half_close(direction dir) {
    size_t n = 0;
    call([&] {
      for (auto& l : links_) {
        if (l.dead)
          continue;
        auto& f = l.flows[index(dir)];
        if (!f.half_close) {
          f.half_close = true;
          f.discard = true;
          ++n;
          flush(l, index(dir)); // FIN at once if nothing is queued
        }
      }
      bump([&](counters& c) { c.half_closes += n; });
    });
    return n;
  }

  void cut_next_frame(direction dir, uint32_t min_payload) {
    call([this, dir, min_payload] {
      cut_armed_[index(dir)] = true;
      cut_min_[index(dir)] = min_payload;
    });
  }

  void black_hole(bool on) {
    bool ok = true;
    call([&] {
      if (on && !black_holed_)
        ok = enter_black_hole();
      else if (!on && black_holed_)
        leave_black_hole();
    });
    if (!ok)
      throw std::runtime_error("fault_proxy: could not fill the backlog");
  }

  counters stats() const {
    std::lock_guard<std::mutex> guard{stats_mtx_};
    return stats_;
  }

  /// Waits (at most `within`) until `pred(stats())` holds.
  bool wait_for(const std::function<bool(const counters&)>& pred,
                clock::duration within) const {
    std::unique_lock<std::mutex> guard{stats_mtx_};
    return stats_cv_.wait_for(guard, within, [&] { return pred(stats_); });
  }

private:
  static constexpr int listen_backlog = 8;

  struct chunk {
    clock::time_point due;
    std::vector<char> data;
    size_t off = 0;
  };

  // One direction of a link: bytes read from fds[src] are written to
  // fds[1 - src].
  struct flow {
    std::deque<chunk> queue;
    size_t queued = 0;
    bool eof_in = false;     // the sender's FIN arrived
    bool shut_out = false;   // we sent FIN to the receiver
    bool half_close = false; // half_close(): FIN as soon as the queue is empty
    bool discard = false;    // drop what arrives
    // Frame parser: where the frame boundaries are.
    std::array<unsigned char, 4> head{};
    size_t head_have = 0;
    uint64_t payload_left = 0;
    uint64_t offset_in = 0;            // bytes read so far
    std::optional<uint64_t> cut_at;   // stream offset to cut at
  };

  struct link {
    std::array<int, 2> fds{-1, -1}; // 0: client side, 1: target side
    std::array<flow, 2> flows;      // flows[0]: to_server, flows[1]: to_client
    bool dead = false;
    bool cutting = false;
    size_t cut_flow = 0;
    clock::time_point cut_deadline;
  };

  struct command {
    std::function<void()> fn;
    std::promise<bool> done;
  };

  static size_t index(direction d) { return static_cast<size_t>(d); }

  static sockaddr_in loopback(uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return addr;
  }

  static void close_fd(int& fd) {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }

  static void abort_fd(int& fd) {
    if (fd < 0)
      return;
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close_fd(fd);
  }

  static void set_buffers(int fd) {
    int size = socket_buffer;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }

  static uint16_t local_port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

  static uint16_t peer_port_of(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return 0;
    return ntohs(a.sin_port);
  }

  // Chunks read during a delay are held until due; without a delay nothing
  // is held (switching back to pass() releases them at once, in order).
  bool is_due(const chunk& c, clock::time_point now) const {
    return delay_ == clock::duration::zero() || c.due <= now;
  }

  static int ms_until(clock::time_point t) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(
      t - clock::now());
    return d.count() < 0 ? 0 : static_cast<int>(d.count()) + 1;
  }

  // Blocks until a nonblocking connect finishes or `within` passes.
  static bool connect_completes(int fd, clock::duration within) {
    pollfd p{fd, POLLOUT, 0};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(within);
    if (::poll(&p, 1, static_cast<int>(ms.count())) <= 0)
      return false;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err == 0;
  }

  void wake() {
    char c = 1;
    [[maybe_unused]] auto r = ::write(wake_wr_, &c, 1);
  }

  // Runs `fn` on the proxy thread and waits until it has run.
  void call(std::function<void()> fn) {
    std::future<bool> fut;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      commands_.push_back(command{std::move(fn), {}});
      fut = commands_.back().done.get_future();
    }
    wake();
    if (fut.wait_for(command_bound) != std::future_status::ready || !fut.get())
      throw std::runtime_error("fault_proxy: command not carried out");
  }

  template <class F>
  void bump(F f) {
    {
      std::lock_guard<std::mutex> guard{stats_mtx_};
      f(stats_);
      stats_.live = 0;
      for (auto& l : links_)
        if (!l.dead)
          ++stats_.live;
    }
    stats_cv_.notify_all();
  }

  void run_commands() {
    std::deque<command> cmds;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      cmds.swap(commands_);
    }
    for (auto& c : cmds) {
      c.fn();
      c.done.set_value(true);
    }
  }

  // --- links -------------------------------------------------------------

  void reset_fds(link& l) {
    abort_fd(l.fds[0]);
    abort_fd(l.fds[1]);
  }

  void reset_link(link& l) {
    reset_fds(l);
    l.dead = true;
  }

  void close_link(link& l) {
    close_fd(l.fds[0]);
    close_fd(l.fds[1]);
    l.dead = true;
  }

  void accept_one(int client) {
    int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (links_.size() >= max_links) {
      abort_fd(client);
      bump([](counters& c) { ++c.refused; });
      return;
    }
    int target
      = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (target >= 0)
      set_buffers(target);
    auto addr = loopback(target_port_);
    int rc = ::connect(target, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    if (target < 0 || (rc != 0 && errno != EINPROGRESS)
        || (rc != 0 && !connect_completes(target, connect_bound))) {
      close_fd(target);
      abort_fd(client);
      bump([](counters& c) { ++c.refused; });
      return;
    }
    ::setsockopt(target, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    links_.emplace_back();
    links_.back().fds = {client, target};
    bump([](counters& c) { ++c.accepted; });
  }

  void accept_pending() {
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        return;
      accept_one(fd);
    }
  }

  // Walks the frame boundaries of `n` new bytes of flow `f`; arms a cut at
  // the middle of the first frame large enough if a cut is armed.
  void parse(flow& f, size_t dir, const char* data, size_t n) {
    size_t i = 0;
    while (i < n) {
      if (f.payload_left > 0) {
        auto take = std::min<uint64_t>(f.payload_left, n - i);
        f.payload_left -= take;
        i += take;
        continue;
      }
      f.head[f.head_have++] = static_cast<unsigned char>(data[i++]);
      if (f.head_have < 4)
        continue;
      f.head_have = 0;
      uint32_t len = (uint32_t{f.head[0]} << 24) | (uint32_t{f.head[1]} << 16)
                     | (uint32_t{f.head[2]} << 8) | uint32_t{f.head[3]};
      f.payload_left = len;
      if (cut_armed_[dir] && len > 0 && len >= cut_min_[dir] && !f.cut_at) {
        cut_armed_[dir] = false;
        f.cut_at = f.offset_in + i + len / 2;
      }
    }
  }

  void on_readable(link& l, size_t dir) {
    auto& f = l.flows[dir];
    auto src = l.fds[dir];
    char buf[read_size];
    auto n = ::recv(src, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return;
      reset_link(l); // propagate the reset (or error) to the other side
      return;
    }
    if (n == 0) {
      f.eof_in = true;
      flush(l, dir);
      return;
    }
    if (f.discard)
      return;
    auto len = static_cast<size_t>(n);
    parse(f, dir, buf, len);
    size_t keep = len;
    if (f.cut_at && *f.cut_at <= f.offset_in + len) {
      keep = static_cast<size_t>(*f.cut_at - f.offset_in);
      l.cutting = true;
      l.cut_flow = dir;
      l.cut_deadline = clock::now() + cut_flush_bound;
    }
    f.offset_in += len;
    if (keep > 0) {
      f.queue.push_back(chunk{clock::now() + delay_,
                              std::vector<char>(buf, buf + keep), 0});
      f.queued += keep;
    }
    flush(l, dir);
  }

  // Writes what is due in flow `dir`; sends FIN once it is drained after EOF
  // or half_close(); closes the link once both directions are finished.
  void flush(link& l, size_t dir) {
    if (l.dead)
      return;
    if (stalled_)
      return; // a stuck link forwards nothing, not even a FIN
    auto& f = l.flows[dir];
    auto dst = l.fds[1 - dir];
    auto now = clock::now();
    uint64_t written = 0;
    while (!f.queue.empty() && is_due(f.queue.front(), now)) {
      auto& c = f.queue.front();
      auto n = ::send(dst, c.data.data() + c.off, c.data.size() - c.off,
                      MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
          break;
        reset_link(l);
        return;
      }
      c.off += static_cast<size_t>(n);
      f.queued -= static_cast<size_t>(n);
      written += static_cast<uint64_t>(n);
      if (c.off == c.data.size())
        f.queue.pop_front();
    }
    if (written > 0)
      bump([&](counters& c) {
        (dir == 0 ? c.bytes_to_server : c.bytes_to_client) += written;
      });
    if (f.queue.empty() && (f.eof_in || f.half_close) && !f.shut_out
        && !l.cutting) {
      ::shutdown(dst, SHUT_WR);
      f.shut_out = true;
    }
    if (l.flows[0].eof_in && l.flows[0].shut_out && l.flows[1].eof_in
        && l.flows[1].shut_out)
      close_link(l);
  }

  // A cut link: once the forwarded half frame is out and acknowledged (or
  // the bound passed), reset both sides.
  void progress_cut(link& l) {
    auto& f = l.flows[l.cut_flow];
    flush(l, l.cut_flow);
    if (l.dead)
      return;
    int unacked = 0;
    ::ioctl(l.fds[1 - l.cut_flow], SIOCOUTQ, &unacked);
    if ((f.queue.empty() && unacked == 0) || clock::now() >= l.cut_deadline) {
      reset_link(l);
      bump([](counters& c) { ++c.cuts; });
    }
  }

  // --- black hole ----------------------------------------------------------

  // Accepts what waits, then fills the accept queue with our own connections
  // until one no longer completes: from then on the kernel drops SYNs.
  bool enter_black_hole() {
    accept_pending();
    black_holed_ = true;
    for (size_t i = 0; i < 4 * (listen_backlog + 2); ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      auto addr = loopback(port_);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
      if (rc == 0
          || (errno == EINPROGRESS
              && connect_completes(fd, std::chrono::milliseconds(200)))) {
        fillers_.push_back(fd);
        filler_ports_.insert(local_port_of(fd));
        continue;
      }
      probe_ = fd; // stuck in SYN-SENT: the queue is full
      return true;
    }
    return false;
  }

  void leave_black_hole() {
    // The probe would get in with its next SYN: abort it first.
    close_fd(probe_);
    for (;;) {
      int fd = ::accept4(listener_, nullptr, nullptr,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0)
        break;
      if (filler_ports_.count(peer_port_of(fd)) > 0)
        abort_fd(fd);
      else
        accept_one(fd); // a client that got in after all
    }
    leave_black_hole_fds();
    black_holed_ = false;
  }

  void leave_black_hole_fds() {
    close_fd(probe_);
    for (auto& fd : fillers_)
      abort_fd(fd);
    fillers_.clear();
    filler_ports_.clear();
  }

  // --- the loop ------------------------------------------------------------

  void run() {
    std::vector<pollfd> pfds;
    // For each pollfd after the fixed ones: its link and which socket.
    std::vector<std::pair<link*, size_t>> owners;
    while (!stop_) {
      run_commands();
      // Drop finished links.
      for (auto i = links_.begin(); i != links_.end();) {
        if (i->dead)
          i = links_.erase(i);
        else
          ++i;
      }
      bump([](counters&) {});
      auto now = clock::now();
      int timeout = 1000;
      pfds.clear();
      owners.clear();
      pfds.push_back(pollfd{wake_rd_, POLLIN, 0});
      pfds.push_back(pollfd{black_holed_ ? -1 : listener_, POLLIN, 0});
      if (!stalled_) {
        for (auto& l : links_) {
          if (l.cutting) {
            timeout = std::min(timeout, 2);
            continue;
          }
          std::array<short, 2> ev{0, 0};
          for (size_t dir = 0; dir < 2; ++dir) {
            auto& f = l.flows[dir];
            if (!f.eof_in && f.queued < max_queued)
              ev[dir] |= POLLIN;
            if (!f.queue.empty()) {
              if (is_due(f.queue.front(), now))
                ev[1 - dir] |= POLLOUT;
              else
                timeout = std::min(timeout, ms_until(f.queue.front().due));
            }
          }
          for (size_t side = 0; side < 2; ++side) {
            if (ev[side] == 0)
              continue;
            pfds.push_back(pollfd{l.fds[side], ev[side], 0});
            owners.emplace_back(&l, side);
          }
        }
      }
      ::poll(pfds.data(), pfds.size(), timeout);
      if (pfds[0].revents & POLLIN) {
        char tmp[64];
        while (::read(wake_rd_, tmp, sizeof(tmp)) > 0) {
        }
      }
      if (stop_)
        break;
      if (pfds[1].revents & POLLIN)
        accept_pending();
      for (size_t i = 2; i < pfds.size(); ++i) {
        auto [l, side] = owners[i - 2];
        auto rev = pfds[i].revents;
        if (l->dead || rev == 0)
          continue;
        // Socket `side` is the source of flow `side` and the receiver of
        // flow 1 - side.
        if (rev & (POLLIN | POLLHUP | POLLERR))
          on_readable(*l, side);
        if (!l->dead && (rev & POLLOUT))
          flush(*l, 1 - side);
      }
      if (!stalled_) {
        for (auto& l : links_) {
          if (l.dead)
            continue;
          if (l.cutting) {
            progress_cut(l);
            continue;
          }
          // Delayed chunks that fell due, FINs that wait for nothing.
          for (size_t dir = 0; dir < 2 && !l.dead; ++dir) {
            auto& f = l.flows[dir];
            if ((!f.queue.empty() && is_due(f.queue.front(), clock::now()))
                || (f.queue.empty() && (f.eof_in || f.half_close)
                    && !f.shut_out))
              flush(l, dir);
          }
        }
      }
    }
  }

  uint16_t target_port_;
  uint16_t port_ = 0;
  int listener_ = -1;
  int wake_rd_ = -1;
  int wake_wr_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  std::mutex mtx_;
  std::deque<command> commands_;

  mutable std::mutex stats_mtx_;
  mutable std::condition_variable stats_cv_;
  counters stats_;

  // Owned by the proxy thread (commands run on it).
  std::list<link> links_;
  bool stalled_ = false;
  clock::duration delay_ = clock::duration::zero();
  std::array<bool, 2> cut_armed_{false, false};
  std::array<uint32_t, 2> cut_min_{0, 0};
  bool black_holed_ = false;
  std::vector<int> fillers_;
  std::set<uint16_t> filler_ports_;
  int probe_ = -1;
};

} // namespace netasync::test
