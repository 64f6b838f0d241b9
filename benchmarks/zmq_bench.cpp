// netasync-bench-zmq: the libzmq reference for the benchmarks. Sockets keep
// libzmq's defaults (high-water marks included) except where noted, so the
// figures show what an untuned ZeroMQ application gets.

#include "bench_cli.hpp"

#include <zmq.h>

using namespace bench;

namespace {

const char* usage =
  "  netasync-bench-zmq pull --port P\n"
  "  netasync-bench-zmq push --host H --port P --size S --seconds D\n"
  "  netasync-bench-zmq rep --port P\n"
  "  netasync-bench-zmq req --host H --port P --size S --count N"
  " [--warmup 1000]\n"
  "  netasync-bench-zmq req-rate --host H --port P --size S --seconds D\n"
  "  netasync-bench-zmq router --port P\n"
  "  netasync-bench-zmq dealer --host H --port P --size S --seconds D"
  " --inflight N\n"
  "  every subcommand also takes [--timeout 60] (seconds, exit 3)\n";

constexpr long long max_size = 64 << 20;

[[noreturn]] void zfail(const char* what) {
  std::fprintf(stderr, "error: %s: %s\n", what, zmq_strerror(zmq_errno()));
  std::exit(1);
}

// One context and one socket; closing without linger unless told otherwise.
struct zsock {
  void* ctx = nullptr;
  void* sock = nullptr;

  explicit zsock(int type) {
    ctx = zmq_ctx_new();
    if (!ctx)
      zfail("zmq_ctx_new");
    sock = zmq_socket(ctx, type);
    if (!sock)
      zfail("zmq_socket");
  }

  // linger_ms = -1 blocks in zmq_ctx_term until everything queued is sent.
  void close(int linger_ms = 0) {
    zmq_setsockopt(sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
    zmq_close(sock);
    while (zmq_ctx_term(ctx) < 0 && zmq_errno() == EINTR) {
      // A signal interrupted the wait for pending messages; keep waiting.
    }
  }

  // Binds 127.0.0.1:port (0 = any free port) and announces the actual port.
  void bind_local(long long port) {
    auto ep = port ? "tcp://127.0.0.1:" + std::to_string(port)
                   : std::string{"tcp://127.0.0.1:*"};
    if (zmq_bind(sock, ep.c_str()) < 0)
      zfail(("zmq_bind " + ep).c_str());
    char last[256];
    size_t len = sizeof last;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, last, &len) < 0)
      zfail("ZMQ_LAST_ENDPOINT");
    const char* colon = std::strrchr(last, ':'); // "tcp://127.0.0.1:12345"
    emit("listening port=%s", colon ? colon + 1 : "?");
  }

  void connect_to(const std::string& host, long long port) {
    auto ep = "tcp://" + host + ":" + std::to_string(port);
    if (zmq_connect(sock, ep.c_str()) < 0)
      zfail(("zmq_connect " + ep).c_str());
  }

  // Blocking send/receive that ride out signal interruptions (EINTR).
  void send(const void* buf, size_t n) {
    while (zmq_send(sock, buf, n, 0) < 0)
      if (zmq_errno() != EINTR)
        zfail("zmq_send");
  }
  size_t recv(zmq_msg_t& msg) {
    int r;
    while ((r = zmq_msg_recv(&msg, sock, 0)) < 0)
      if (zmq_errno() != EINTR)
        zfail("zmq_msg_recv");
    return static_cast<size_t>(r);
  }
};

std::vector<char> make_payload(size_t size) {
  std::vector<char> buf(size);
  for (size_t j = 0; j < size; ++j)
    buf[j] = static_cast<char>(j);
  return buf;
}

int cmd_pull(args& a) {
  auto port = a.num("port", 0, 65535);
  a.finish();
  zsock z{ZMQ_PULL};
  z.bind_local(port);
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  uint64_t msgs = 0, bytes = 0;
  steady::time_point t_first, t_last;
  for (size_t n; (n = z.recv(msg)) > 0;) { // an empty message ends the run
    if (msgs++ == 0)
      t_first = steady::now();
    bytes += n;
  }
  // The end marker directly follows the last message in the same pipe, so
  // its arrival stands in for the last message's; this spares a clock read
  // per message, which would be measurable at small sizes.
  t_last = steady::now();
  zmq_msg_close(&msg);
  z.close();
  emit("result msgs=%llu bytes=%llu seconds=%.6f",
       static_cast<unsigned long long>(msgs),
       static_cast<unsigned long long>(bytes),
       msgs ? seconds_between(t_first, t_last) : 0.0);
  return 0;
}

int cmd_push(args& a) {
  auto host = a.str("host");
  auto port = a.num("port", 1, 65535);
  auto size = static_cast<size_t>(a.num("size", 1, max_size));
  auto secs = a.num("seconds", 1, 3600);
  a.finish();
  zsock z{ZMQ_PUSH};
  z.connect_to(host, port);
  auto buf = make_payload(size); // zmq_send copies, so one buffer serves all
  uint64_t sent = 0;
  auto t0 = steady::now();
  do {
    for (int i = 0; i < 64; ++i)
      z.send(buf.data(), size);
    sent += 64;
  } while (seconds_between(t0, steady::now()) < static_cast<double>(secs));
  z.send("", 0); // end marker
  // Bounded linger: deliver everything queued, but never hang forever (the
  // --timeout alarm is the outer bound anyway).
  z.close(30000);
  emit("result sent=%llu", static_cast<unsigned long long>(sent));
  return 0;
}

int cmd_rep(args& a) {
  auto port = a.num("port", 0, 65535);
  a.finish();
  catch_stop_signals();
  zsock z{ZMQ_REP};
  z.bind_local(port);
  zmq_msg_t msg;
  zmq_msg_init(&msg);
  uint64_t echoed = 0;
  zmq_pollitem_t item{z.sock, 0, ZMQ_POLLIN, 0};
  while (!stop_requested) {
    // Short poll so SIGTERM/SIGINT are noticed even without traffic.
    int r = zmq_poll(&item, 1, 100);
    if (r < 0 && zmq_errno() != EINTR)
      zfail("zmq_poll");
    if (r <= 0)
      continue;
    if (zmq_msg_recv(&msg, z.sock, ZMQ_DONTWAIT) < 0)
      continue; // EAGAIN or EINTR: poll again
    // zmq_msg_send hands the message back without copying it.
    if (zmq_msg_send(&msg, z.sock, 0) < 0 && zmq_errno() != EINTR)
      zfail("zmq_msg_send");
    ++echoed;
  }
  zmq_msg_close(&msg);
  z.close();
  emit("result msgs=%llu", static_cast<unsigned long long>(echoed));
  return 0;
}

int cmd_req(args& a) {
  auto host = a.str("host");
  auto port = a.num("port", 1, 65535);
  auto size = static_cast<size_t>(a.num("size", 1, max_size));
  auto count = a.num("count", 1, 100000000);
  auto warmup = a.num("warmup", 0, 100000000, 1000);
  a.finish();
  zsock z{ZMQ_REQ};
  z.connect_to(host, port);
  auto buf = make_payload(size);
  zmq_msg_t reply;
  zmq_msg_init(&reply);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (long long i = 0; i < warmup + count; ++i) {
    auto t0 = steady::now();
    z.send(buf.data(), size);
    size_t n = z.recv(reply);
    auto t1 = steady::now();
    if (n != size || std::memcmp(zmq_msg_data(&reply), buf.data(), size) != 0)
      fail("reply differs from the request");
    if (i >= warmup)
      us.push_back(seconds_between(t0, t1) * 1e6);
  }
  zmq_msg_close(&reply);
  z.close();
  emit_latency(us);
  return 0;
}

// ROUTER: every request ([identity, payload]) goes back to its dealer.
int cmd_router(args& a) {
  auto port = a.num("port", 0, 65535);
  a.finish();
  catch_stop_signals();
  zsock z{ZMQ_ROUTER};
  z.bind_local(port);
  zmq_msg_t id, msg;
  zmq_msg_init(&id);
  zmq_msg_init(&msg);
  uint64_t echoed = 0;
  zmq_pollitem_t item{z.sock, 0, ZMQ_POLLIN, 0};
  while (!stop_requested) {
    int r = zmq_poll(&item, 1, 100);
    if (r < 0 && zmq_errno() != EINTR)
      zfail("zmq_poll");
    if (r <= 0)
      continue;
    while (zmq_msg_recv(&id, z.sock, ZMQ_DONTWAIT) >= 0) {
      if (zmq_msg_recv(&msg, z.sock, 0) < 0)
        zfail("zmq_msg_recv");
      if (zmq_msg_send(&id, z.sock, ZMQ_SNDMORE) < 0
          || zmq_msg_send(&msg, z.sock, 0) < 0)
        zfail("zmq_msg_send");
      ++echoed;
    }
  }
  zmq_msg_close(&id);
  zmq_msg_close(&msg);
  z.close();
  emit("result msgs=%llu", static_cast<unsigned long long>(echoed));
  return 0;
}

// Round trips per second, a new request per reply: DEALER keeps
// --inflight outstanding, REQ one (its rule: send and receive alternate).
int cmd_calls(args& a, int type) {
  auto host = a.str("host");
  auto port = a.num("port", 1, 65535);
  auto size = static_cast<size_t>(a.num("size", 1, max_size));
  auto secs = a.real("seconds", 0.1, 3600);
  auto inflight = type == ZMQ_DEALER ? a.num("inflight", 1, 100000) : 1;
  a.finish();
  zsock z{type};
  z.connect_to(host, port);
  auto buf = make_payload(size);
  zmq_msg_t reply;
  zmq_msg_init(&reply);
  for (long long i = 0; i < inflight; ++i)
    z.send(buf.data(), size);
  uint64_t calls = 0;
  auto t0 = steady::now();
  double elapsed = 0;
  do {
    for (int i = 0; i < 16; ++i) {
      if (z.recv(reply) != size)
        fail("reply differs from the request");
      z.send(buf.data(), size);
    }
    calls += 16;
    elapsed = seconds_between(t0, steady::now());
  } while (elapsed < secs);
  zmq_msg_close(&reply);
  z.close();
  emit("result calls=%llu seconds=%.6f", static_cast<unsigned long long>(calls),
       elapsed);
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  args a{argc, argv, usage};
  arm_timeout(a.num("timeout", 1, 86400, 60));
  const auto& cmd = a.cmd();
  if (cmd == "pull")
    return cmd_pull(a);
  if (cmd == "push")
    return cmd_push(a);
  if (cmd == "rep")
    return cmd_rep(a);
  if (cmd == "req")
    return cmd_req(a);
  if (cmd == "req-rate")
    return cmd_calls(a, ZMQ_REQ);
  if (cmd == "router")
    return cmd_router(a);
  if (cmd == "dealer")
    return cmd_calls(a, ZMQ_DEALER);
  a.usage_error("unknown subcommand: " + cmd);
}
