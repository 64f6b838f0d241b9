// netasync-bench-raw: the "raw limit" reference for the benchmarks. Plain
// sockets and epoll, no framework, speaking the same wire format as
// libnetasync-caf: a 4-byte big-endian length, then that many payload bytes;
// a zero length is a heartbeat and carries no message.

#include "bench_cli.hpp"

#include <deque>
#include <memory>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

using namespace bench;

namespace {

const char* usage =
  "  netasync-bench-raw recv --port P\n"
  "  netasync-bench-raw send --host H --port P --size S --seconds D"
  " [--batch-bytes 262144]\n"
  "  netasync-bench-raw echo --port P [--heartbeat-ms 0]\n"
  "  netasync-bench-raw ping --host H --port P --size S --count N"
  " [--warmup 1000]\n"
  "  netasync-bench-raw scale-client --host H --port P --connections N"
  " [--heartbeat-ms 1000] [--hold-seconds 5]\n"
  "  every subcommand also takes [--timeout 60] (seconds, exit 3)\n"
  "  scale-client exits 4 if not every connection was established\n";

// Sanity bound on a frame length: a larger one means a corrupt stream.
constexpr uint32_t max_frame = 64u << 20;

uint32_t get_be32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8
         | uint32_t{p[3]};
}

void put_be32(unsigned char* p, uint32_t v) {
  p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

sockaddr_in make_addr(const std::string& host, long long port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
    fail("not an IPv4 address: " + host);
  return sa;
}

// Binds 127.0.0.1:port (0 = kernel picks) and announces the actual port.
// `flags`: SOCK_NONBLOCK for the epoll server's accept loop.
int listen_on(long long port, int flags = 0) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0);
  if (fd < 0)
    die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto sa = make_addr("127.0.0.1", port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    die("bind");
  if (listen(fd, 4096) < 0)
    die("listen");
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  emit("listening port=%u", ntohs(sa.sin_port));
  return fd;
}

void set_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int connect_to(const std::string& host, long long port) {
  auto sa = make_addr(host, port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    die("socket");
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    die("connect");
  return fd;
}

void write_all(int fd, const unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      die("write");
    p += w, n -= static_cast<size_t>(w);
  }
}

void read_exact(int fd, unsigned char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      die("read");
    if (r == 0)
      fail("peer closed the connection mid-frame");
    p += r, n -= static_cast<size_t>(r);
  }
}

// Counts frames in a byte stream without keeping payloads. A header may
// straddle two reads, so up to 3 of its bytes are carried over.
struct frame_counter {
  unsigned char hdr[4];
  uint32_t hlen = 0;
  uint32_t cur_len = 0;
  uint32_t body_left = 0;
  uint64_t msgs = 0;
  uint64_t bytes = 0;

  // Returns whether at least one non-empty frame completed in [p, p+n).
  bool feed(const unsigned char* p, size_t n) {
    bool completed = false;
    while (n > 0) {
      if (body_left > 0) {
        auto k = static_cast<uint32_t>(std::min<size_t>(body_left, n));
        body_left -= k, p += k, n -= k;
        if (body_left == 0)
          ++msgs, bytes += cur_len, completed = true;
        continue;
      }
      if (hlen == 0 && n >= 4) { // fast path: whole header in this read
        cur_len = get_be32(p);
        p += 4, n -= 4;
      } else {
        size_t k = std::min<size_t>(4 - hlen, n);
        std::memcpy(hdr + hlen, p, k);
        hlen += k, p += k, n -= k;
        if (hlen < 4)
          break;
        cur_len = get_be32(hdr);
        hlen = 0;
      }
      if (cur_len > max_frame)
        fail("frame length " + std::to_string(cur_len) + " exceeds the limit");
      body_left = cur_len; // 0 = heartbeat: nothing to count
    }
    return completed;
  }
};

// ---- recv / send: one-way throughput ---------------------------------------

int cmd_recv(args& a) {
  auto port = a.num("port", 0, 65535);
  a.finish();
  int lfd = listen_on(port);
  int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0)
    die("accept");
  close(lfd);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
    die("epoll");
  std::vector<unsigned char> buf(256 << 10);
  frame_counter fc;
  bool started = false;
  steady::time_point t_first, t_last;
  for (bool eof = false; !eof;) {
    epoll_event out;
    int r = epoll_wait(ep, &out, 1, 1000);
    if (r < 0 && errno != EINTR)
      die("epoll_wait");
    while (r > 0) { // drain the socket; level-triggered epoll is re-armed
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n > 0) {
        if (!started)
          t_first = steady::now(), started = true;
        // One clock read per read() is exact enough: every frame completed
        // here completed during this read.
        if (fc.feed(buf.data(), static_cast<size_t>(n)))
          t_last = steady::now();
      } else if (n == 0) {
        eof = true;
        break;
      } else if (errno == EAGAIN) {
        break;
      } else if (errno != EINTR) {
        die("read");
      }
    }
  }
  if (fc.hlen != 0 || fc.body_left != 0)
    std::fprintf(stderr, "warning: stream ended inside a frame\n");
  close(fd); // the sender waits for this EOF
  emit("result msgs=%llu bytes=%llu seconds=%.6f",
       static_cast<unsigned long long>(fc.msgs),
       static_cast<unsigned long long>(fc.bytes),
       fc.msgs ? seconds_between(t_first, t_last) : 0.0);
  return 0;
}

int cmd_send(args& a) {
  auto host = a.str("host");
  auto port = a.num("port", 1, 65535);
  auto size = static_cast<size_t>(a.num("size", 1, max_frame));
  auto secs = a.num("seconds", 1, 3600);
  auto batch = static_cast<size_t>(a.num("batch-bytes", 1, 64 << 20, 262144));
  a.finish();
  int fd = connect_to(host, port);
  // Whole frames only, so every write() ends on a frame boundary.
  size_t frame = 4 + size;
  size_t per_batch = std::max<size_t>(1, batch / frame);
  std::vector<unsigned char> buf(per_batch * frame);
  for (size_t i = 0; i < per_batch; ++i) {
    unsigned char* p = buf.data() + i * frame;
    put_be32(p, static_cast<uint32_t>(size));
    for (size_t j = 0; j < size; ++j)
      p[4 + j] = static_cast<unsigned char>(i + j);
  }
  uint64_t sent = 0;
  auto t0 = steady::now();
  do {
    write_all(fd, buf.data(), buf.size());
    sent += per_batch;
  } while (seconds_between(t0, steady::now()) < static_cast<double>(secs));
  // Half-close, then wait until the receiver closes: it does so only after
  // counting everything, so "sent" is final when the receiver is.
  if (shutdown(fd, SHUT_WR) < 0)
    die("shutdown");
  unsigned char tmp[4096];
  for (ssize_t r; (r = read(fd, tmp, sizeof tmp)) != 0;)
    if (r < 0 && errno != EINTR)
      die("read");
  close(fd);
  emit("result sent=%llu", static_cast<unsigned long long>(sent));
  return 0;
}

// ---- echo: many connections, one epoll loop --------------------------------

class echo_server {
public:
  echo_server(int lfd, long long heartbeat_ms) : lfd_(lfd) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0)
      die("epoll_create1");
    watch(lfd_, EPOLL_CTL_ADD, EPOLLIN);
    if (heartbeat_ms > 0) {
      tfd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      itimerspec its{};
      its.it_interval.tv_sec = heartbeat_ms / 1000;
      its.it_interval.tv_nsec = (heartbeat_ms % 1000) * 1000000;
      its.it_value = its.it_interval;
      if (tfd_ < 0 || timerfd_settime(tfd_, 0, &its, nullptr) < 0)
        die("timerfd");
      watch(tfd_, EPOLL_CTL_ADD, EPOLLIN);
    }
  }

  void run() {
    epoll_event evs[256];
    while (!stop_requested) {
      // 100 ms bound: a stop signal landing just before epoll_wait is seen.
      int n = epoll_wait(ep_, evs, 256, 100);
      if (n < 0 && errno != EINTR)
        die("epoll_wait");
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == lfd_)
          on_accept();
        else if (fd == tfd_)
          on_timer();
        else if (static_cast<size_t>(fd) < conns_.size() && conns_[fd])
          on_event(*conns_[fd], evs[i].events);
      }
    }
    emit("result connections_peak=%zu", peak_);
  }

private:
  // Small on purpose: buffers exist only while a frame straddles reads or
  // the kernel refuses echo bytes; the read buffer is shared by everyone.
  struct conn {
    explicit conn(int fd) : fd(fd) {}
    int fd;
    uint32_t events = EPOLLIN;      // current epoll interest
    bool closing = false;           // peer sent EOF: close once flushed
    size_t out_off = 0;             // bytes of `out` already written
    std::vector<unsigned char> in;  // an incomplete frame, header included
    std::vector<unsigned char> out; // echo bytes not yet taken by the kernel
    size_t pending() const { return out.size() - out_off; }
  };

  // Stop reading from a peer that does not read its echoes.
  static constexpr size_t out_limit = 1 << 20;

  void watch(int fd, int op, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(ep_, op, fd, &ev) < 0)
      die("epoll_ctl");
  }

  void on_accept() {
    for (int i = 0; i < 65536; ++i) { // until EAGAIN, but bounded
      int fd = accept4(lfd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        if (errno == EMFILE || errno == ENFILE) {
          // The listener stays readable; pause it until a close frees a slot
          // instead of spinning on it.
          std::fprintf(stderr, "warning: accept4: %s\n", std::strerror(errno));
          watch(lfd_, EPOLL_CTL_MOD, 0);
          accepting_ = false;
          return;
        }
        if (errno != EAGAIN)
          die("accept4");
        return;
      }
      set_nodelay(fd);
      if (static_cast<size_t>(fd) >= conns_.size())
        conns_.resize(fd + 1);
      conns_[fd] = std::make_unique<conn>(fd);
      watch(fd, EPOLL_CTL_ADD, EPOLLIN);
      peak_ = std::max(peak_, ++open_);
    }
  }

  void on_timer() {
    uint64_t expirations;
    if (read(tfd_, &expirations, sizeof expirations) < 0)
      return;
    static const unsigned char heartbeat[4] = {0, 0, 0, 0};
    for (auto& c : conns_)
      if (c && !c->closing)
        finish(*c, send_bytes(*c, heartbeat, 4));
  }

  void on_event(conn& c, uint32_t events) {
    bool ok = true;
    if (events & EPOLLOUT)
      ok = flush(c);
    // Errors and hangups surface through read(), which also makes a stale
    // event for a reused descriptor harmless.
    if (ok && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
      ok = on_readable(c);
    finish(c, ok);
  }

  // Closes the connection or brings its epoll interest up to date.
  void finish(conn& c, bool ok) {
    if (!ok || (c.closing && c.pending() == 0)) {
      close(c.fd); // also removes it from the epoll set
      --open_;
      if (!accepting_) {
        watch(lfd_, EPOLL_CTL_MOD, EPOLLIN);
        accepting_ = true;
      }
      conns_[c.fd].reset();
      return;
    }
    uint32_t want = (c.closing || c.pending() >= out_limit ? 0u : EPOLLIN)
                    | (c.pending() > 0 ? EPOLLOUT : 0u);
    if (want != c.events) {
      watch(c.fd, EPOLL_CTL_MOD, want);
      c.events = want;
    }
  }

  bool on_readable(conn& c) {
    // A few reads per wakeup so one busy peer cannot starve the others.
    for (int i = 0; i < 4 && !c.closing; ++i) {
      ssize_t n = read(c.fd, rbuf_.data(), rbuf_.size());
      if (n == 0)
        c.closing = true;
      else if (n < 0)
        return errno == EAGAIN || errno == EINTR;
      else if (!parse(c, rbuf_.data(), static_cast<size_t>(n))
               || !send_bytes(c, staging_.data(), staging_.size()))
        return false;
      else if (static_cast<size_t>(n) < rbuf_.size())
        return true; // the socket is drained
    }
    return true;
  }

  // Collects every frame completed by [p, p+n) into staging_ (heartbeats
  // dropped) and keeps a trailing partial frame in c.in.
  bool parse(conn& c, const unsigned char* p, size_t n) {
    staging_.clear();
    while (!c.in.empty() && n > 0) {
      size_t have = c.in.size();
      size_t need = have < 4 ? 4 - have : 4 + get_be32(c.in.data()) - have;
      size_t k = std::min(need, n);
      c.in.insert(c.in.end(), p, p + k);
      p += k, n -= k;
      if (c.in.size() < 4)
        break;
      uint32_t len = get_be32(c.in.data());
      if (len > max_frame)
        return false;
      if (c.in.size() == 4 + size_t{len}) {
        if (len > 0)
          staging_.insert(staging_.end(), c.in.begin(), c.in.end());
        std::vector<unsigned char>().swap(c.in); // free it, not just clear
      } else {
        c.in.reserve(4 + size_t{len});
      }
    }
    while (n >= 4) {
      uint32_t len = get_be32(p);
      if (len > max_frame)
        return false;
      if (n - 4 < len)
        break;
      if (len > 0)
        staging_.insert(staging_.end(), p, p + 4 + len);
      p += 4 + size_t{len}, n -= 4 + size_t{len};
    }
    if (n > 0)
      c.in.assign(p, p + n);
    return true;
  }

  // Writes directly when nothing is queued; queues whatever the kernel does
  // not take. Callers pass whole frames only, so queued bytes stay aligned.
  bool send_bytes(conn& c, const unsigned char* p, size_t n) {
    if (n > 0 && c.pending() == 0) {
      ssize_t w = write(c.fd, p, n);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        return false;
      if (w > 0)
        p += w, n -= static_cast<size_t>(w);
    }
    if (n > 0)
      c.out.insert(c.out.end(), p, p + n);
    return true;
  }

  bool flush(conn& c) {
    if (c.pending() == 0)
      return true;
    ssize_t w = write(c.fd, c.out.data() + c.out_off, c.pending());
    if (w < 0)
      return errno == EAGAIN || errno == EINTR;
    c.out_off += static_cast<size_t>(w);
    if (c.pending() == 0) {
      std::vector<unsigned char>().swap(c.out);
      c.out_off = 0;
    } else if (c.out_off >= (64u << 10) && c.out_off * 2 >= c.out.size()) {
      c.out.erase(c.out.begin(), c.out.begin() + c.out_off); // compact
      c.out_off = 0;
    }
    return true;
  }

  int ep_ = -1;
  int lfd_;
  int tfd_ = -1;
  bool accepting_ = true;
  size_t open_ = 0;
  size_t peak_ = 0;
  std::vector<std::unique_ptr<conn>> conns_; // indexed by descriptor
  std::vector<unsigned char> rbuf_ = std::vector<unsigned char>(256 << 10);
  std::vector<unsigned char> staging_;
};

int cmd_echo(args& a) {
  auto port = a.num("port", 0, 65535);
  auto heartbeat_ms = a.num("heartbeat-ms", 0, 3600000, 0);
  a.finish();
  raise_nofile();
  catch_stop_signals();
  echo_server srv{listen_on(port, SOCK_NONBLOCK), heartbeat_ms};
  srv.run();
  return 0;
}

// ---- ping: round-trip latency ----------------------------------------------

int cmd_ping(args& a) {
  auto host = a.str("host");
  auto port = a.num("port", 1, 65535);
  auto size = static_cast<size_t>(a.num("size", 1, max_frame));
  auto count = a.num("count", 1, 100000000);
  auto warmup = a.num("warmup", 0, 100000000, 1000);
  a.finish();
  int fd = connect_to(host, port);
  set_nodelay(fd);
  std::vector<unsigned char> frame(4 + size), reply(size);
  put_be32(frame.data(), static_cast<uint32_t>(size));
  for (size_t j = 0; j < size; ++j)
    frame[4 + j] = static_cast<unsigned char>(j);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (long long i = 0; i < warmup + count; ++i) {
    auto t0 = steady::now();
    write_all(fd, frame.data(), frame.size());
    unsigned char hdr[4];
    uint32_t len;
    do { // a heartbeating server may interleave empty frames
      read_exact(fd, hdr, 4);
      len = get_be32(hdr);
    } while (len == 0);
    if (len != size)
      fail("echo has length " + std::to_string(len));
    read_exact(fd, reply.data(), size);
    auto t1 = steady::now();
    if (std::memcmp(reply.data(), frame.data() + 4, size) != 0)
      fail("echo payload differs from the request");
    if (i >= warmup)
      us.push_back(seconds_between(t0, t1) * 1e6);
  }
  close(fd);
  emit_latency(us);
  return 0;
}

// ---- scale-client: many connections ----------------------------------------

struct client_conn {
  enum state_t : uint8_t { connecting, waiting, established, failed, lost };
  int fd = -1;
  state_t state = connecting;
  uint8_t attempts = 0;
  uint8_t out_len = 0;
  bool out_armed = true; // EPOLLOUT in the interest set
  unsigned char out[32]; // the hello frame, then heartbeats
  frame_counter fc;
};

class scale_client {
public:
  // Established connections send a heartbeat every `heartbeat_ms` (0: never)
  // from the start, also while others still connect: a peer's stuck
  // detection must not see the early ones as silent during a slow burst.
  scale_client(sockaddr_in addr, size_t n, long long heartbeat_ms)
    : addr_(addr),
      conns_(n),
      heartbeat_(std::chrono::milliseconds(heartbeat_ms)) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0)
      die("epoll_create1");
  }

  // Returns false if not everything settled (established or failed) by
  // `deadline`.
  bool establish(steady::time_point deadline) {
    t0_ = t_last_ = steady::now();
    next_hb_ = t0_ + heartbeat_;
    for (size_t i = 0; i < conns_.size(); ++i)
      start(i);
    while (established_ + failed_ < conns_.size()) {
      auto now = steady::now();
      if (now >= deadline)
        return false;
      while (!retry_.empty() && retry_.front().first <= now) {
        start(retry_.front().second);
        retry_.pop_front();
      }
      heartbeat_if_due(now);
      poll(retry_.empty() ? poll_ms(now, now + std::chrono::milliseconds(100))
                          : 10);
    }
    return true;
  }

  void hold(long long seconds) {
    auto now = steady::now();
    auto end = now + std::chrono::seconds(seconds);
    while ((now = steady::now()) < end) {
      heartbeat_if_due(now);
      poll(poll_ms(now, end));
    }
  }

  void heartbeat_if_due(steady::time_point now) {
    if (heartbeat_.count() <= 0 || now < next_hb_)
      return;
    for (auto& c : conns_)
      if (c.state == client_conn::established
          && c.out_len + 4u <= sizeof c.out) { // else: peer is backed up
        std::memset(c.out + c.out_len, 0, 4);
        c.out_len += 4;
        flush(c);
      }
    next_hb_ += heartbeat_;
  }

  // Milliseconds to wait: until `until` or the next heartbeat, at least 1.
  int poll_ms(steady::time_point now, steady::time_point until) const {
    if (heartbeat_.count() > 0)
      until = std::min(until, next_hb_);
    long long ms = (until - now) / std::chrono::milliseconds(1);
    return static_cast<int>(std::max(1LL, ms));
  }

  void close_all() {
    for (auto& c : conns_)
      if (c.fd >= 0)
        close(c.fd), c.fd = -1;
  }

  size_t established() const { return established_; }
  size_t failed() const { return failed_; }
  size_t lost() const { return lost_; }
  double seconds() const { return seconds_between(t0_, t_last_); }

private:
  void start(size_t i) {
    auto& c = conns_[i];
    ++c.attempts;
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0)
      die("socket"); // out of descriptors: retrying will not help
    set_nodelay(c.fd);
    int r = connect(c.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_);
    if (r < 0 && errno != EINPROGRESS)
      return attempt_failed(i);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT; // EPOLLOUT reports connect completion
    ev.data.u64 = i;
    if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) < 0)
      die("epoll_ctl");
  }

  void attempt_failed(size_t i) {
    auto& c = conns_[i];
    close(c.fd);
    c.fd = -1;
    if (c.attempts <= 3) { // the first try plus up to 3 retries
      c.state = client_conn::connecting;
      c.out_len = 0;
      c.out_armed = true; // start() registers EPOLLIN | EPOLLOUT
      c.fc = frame_counter{};
      retry_.emplace_back(steady::now() + std::chrono::milliseconds(100), i);
    } else {
      c.state = client_conn::failed;
      ++failed_;
    }
  }

  void poll(int timeout_ms) {
    epoll_event evs[1024];
    int n = epoll_wait(ep_, evs, 1024, timeout_ms);
    if (n < 0 && errno != EINTR)
      die("epoll_wait");
    for (int k = 0; k < n; ++k)
      on_event(static_cast<size_t>(evs[k].data.u64), evs[k].events);
  }

  void on_event(size_t i, uint32_t events) {
    auto& c = conns_[i];
    if (c.fd < 0)
      return;
    if (c.state == client_conn::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP)))
        return attempt_failed(i);
      c.state = client_conn::waiting;
      put_be32(c.out, 16);
      std::memset(c.out + 4, 0, 16);
      std::memcpy(c.out + 4, "hello", 5);
      c.out_len = 20;
    }
    if (!flush(c))
      return broken(i);
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      for (int k = 0; k < 4; ++k) {
        ssize_t r = read(c.fd, rbuf_, sizeof rbuf_);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
          break;
        if (r <= 0)
          return broken(i);
        c.fc.feed(rbuf_, static_cast<size_t>(r)); // heartbeats not counted
        if (c.state == client_conn::waiting && c.fc.msgs > 0) {
          c.state = client_conn::established;
          ++established_;
          t_last_ = steady::now();
        }
        if (static_cast<size_t>(r) < sizeof rbuf_)
          break;
      }
    }
  }

  // A connection that dies before its echo is another failed attempt.
  void broken(size_t i) {
    auto& c = conns_[i];
    if (c.state != client_conn::established)
      return attempt_failed(i);
    close(c.fd);
    c.fd = -1;
    c.state = client_conn::lost;
    ++lost_;
  }

  // Writes queued bytes and keeps EPOLLOUT armed only while some remain.
  bool flush(client_conn& c) {
    if (c.out_len > 0) {
      ssize_t w = write(c.fd, c.out, c.out_len);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        return false;
      if (w > 0) {
        std::memmove(c.out, c.out + w, c.out_len - w);
        c.out_len -= static_cast<uint8_t>(w);
      }
    }
    if (c.out_armed != (c.out_len > 0)) {
      c.out_armed = c.out_len > 0;
      epoll_event ev{};
      ev.events = EPOLLIN | (c.out_armed ? EPOLLOUT : 0u);
      ev.data.u64 = static_cast<size_t>(&c - conns_.data());
      epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
    }
    return true;
  }

  sockaddr_in addr_;
  int ep_ = -1;
  std::vector<client_conn> conns_;
  std::deque<std::pair<steady::time_point, size_t>> retry_; // FIFO: same delay
  std::chrono::milliseconds heartbeat_;
  steady::time_point next_hb_;
  size_t established_ = 0, failed_ = 0, lost_ = 0;
  steady::time_point t0_, t_last_;
  unsigned char rbuf_[64 << 10]; // shared by all connections
};

int cmd_scale_client(args& a, long long timeout) {
  auto host = a.str("host");
  auto port = a.num("port", 1, 65535);
  auto n = static_cast<size_t>(a.num("connections", 1, 1000000));
  auto heartbeat_ms = a.num("heartbeat-ms", 0, 3600000, 1000);
  auto hold_s = a.num("hold-seconds", 0, 86400, 5);
  a.finish();
  if (hold_s + 1 >= timeout)
    a.usage_error("--timeout must exceed --hold-seconds by more than 1");
  raise_nofile();
  auto cli = std::make_unique<scale_client>(make_addr(host, port), n,
                                            heartbeat_ms);
  // Leave the hold and one second for closing inside the hard timeout.
  auto deadline = steady::now() + std::chrono::seconds(timeout - hold_s - 1);
  bool all = cli->establish(deadline);
  emit("established connections=%zu seconds=%.6f", cli->established(),
       cli->seconds());
  if (!all) {
    std::fprintf(stderr, "error: %zu of %zu connections established in time\n",
                 cli->established(), n);
    return 4; // 2 is for usage errors
  }
  cli->hold(hold_s);
  cli->close_all();
  emit("result connections=%zu failed=%zu lost=%zu seconds=%.6f",
       cli->established(), cli->failed(), cli->lost(), cli->seconds());
  if (cli->failed() > 0) { // settled in time, but some attempts gave up
    std::fprintf(stderr, "error: %zu of %zu connections established\n",
                 cli->established(), n);
    return 4;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  args a{argc, argv, usage};
  auto timeout = a.num("timeout", 1, 86400, 60);
  arm_timeout(timeout);
  ignore_sigpipe();
  const auto& cmd = a.cmd();
  if (cmd == "recv")
    return cmd_recv(a);
  if (cmd == "send")
    return cmd_send(a);
  if (cmd == "echo")
    return cmd_echo(a);
  if (cmd == "ping")
    return cmd_ping(a);
  if (cmd == "scale-client")
    return cmd_scale_client(a, timeout);
  a.usage_error("unknown subcommand: " + cmd);
}
