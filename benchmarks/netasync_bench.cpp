// netasync-bench-caf: this library's side of the benchmark, through the
// normal API only: a sender actor sends through a connection handle, every
// payload is delivered to a subscriber actor in another process.
//
//   recv  --port P [--batch 0|1]
//   send  --host H --port P --size S --seconds D [--batch N]
//   echo  --port P [--heartbeat-ms MS]
//   ping  --host H --port P --size S --count N [--warmup W]
//   call  --host H --port P --size S --seconds D --inflight N
//         (calls need sessions at both ends: --netasync.session=true; the
//         echo server answers a call with its bytes)
//   scale-client --host H --port P --connections N [--heartbeat-ms MS]
//                [--hold-seconds S]
//   watch --host H --port P --seconds S [--heartbeat-ms MS] [--reconnect-ms MS]
//
// Every subcommand also takes --timeout SECONDS (a hard bound, exit 3) and
// --scheme tcp|tls (default tcp; TLS settings as --netasync.tls.*=V).
// Arguments of the form --scheduler.*=V, --work-stealing.*=V and
// --netasync.*=V go to CAF's configuration (scheduler settings are part of
// what the benchmark measures). Output: "<tag> key=value ..." lines, as the
// reference programs print them (bench_cli.hpp), read by benchmarks/run.py.

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "bench_cli.hpp"

using namespace netasync;
using namespace std::chrono_literals;

namespace {

using done_atom = caf::atom_constant<caf::atom("done")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using go_atom = caf::atom_constant<caf::atom("go")>;

const char* usage =
  "  recv  --port P [--batch 0|1]\n"
  "  send  --host H --port P --size S --seconds D [--batch N]\n"
  "  echo  --port P [--heartbeat-ms MS]\n"
  "  ping  --host H --port P --size S --count N [--warmup W]\n"
  "  call  --host H --port P --size S --seconds D --inflight N\n"
  "  scale-client --host H --port P --connections N [--heartbeat-ms MS]"
  " [--hold-seconds S]\n"
  "  watch --host H --port P --seconds S [--heartbeat-ms MS]"
  " [--reconnect-ms MS]\n"
  "  (all: --timeout S --scheme tcp|tls|ws|wss; --scheduler.*=V"
  " --work-stealing.*=V"
  " --netasync.*=V)\n";

double now_s() {
  return std::chrono::duration<double>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

bytes pattern(size_t size, uint64_t seed) {
  bytes b(size);
  for (size_t i = 0; i < size; ++i)
    b[i] = static_cast<uint8_t>(seed + i);
  return b;
}

// -- recv: counts every payload delivered to a subscriber ---------------------

struct counter_state {
  uint64_t msgs = 0;
  uint64_t bytes = 0;
  double first = 0;
  double last = 0;
  caf::actor main;
};

caf::behavior counter(caf::stateful_actor<counter_state>* self,
                      caf::actor main) {
  self->state.main = std::move(main);
  auto on_payload = [=](size_t n) {
    auto& st = self->state;
    auto t = now_s();
    if (st.msgs == 0)
      st.first = t;
    st.last = t;
    ++st.msgs;
    st.bytes += n;
  };
  return {
    [=](accepted_atom, const acceptor& acc, const connection& conn) {
      subscribe(conn, caf::actor_cast<caf::actor>(self));
      caf::anon_send(acc, close_atom::value); // one connection per run
    },
    [=](const connection&, const bytes& payload) {
      on_payload(payload.size());
    },
    [=](const connection&, const std::vector<bytes>& batch) {
      for (auto& payload : batch)
        on_payload(payload.size());
    },
    [](connected_atom, const connection&) {},
    [](disconnected_atom, const connection&, const caf::error&) {},
    [](closed_atom, const acceptor&, const caf::error&) {},
    [=](closed_atom, const connection&, const caf::error& err) {
      auto& st = self->state;
      if (err && code_of(err) != error::connection_lost)
        std::fprintf(stderr, "recv: connection closed: %s\n",
                     describe(err).c_str());
      bench::emit("result msgs=%llu bytes=%llu seconds=%.6f",
                  static_cast<unsigned long long>(st.msgs),
                  static_cast<unsigned long long>(st.bytes),
                  st.last - st.first);
      self->send(st.main, done_atom::value);
      self->quit();
    },
  };
}

// -- send: as fast as the connection takes it, for D seconds ------------------

// The outbound buffer is bounded and refuses what does not fit (reject
// policy), so the sender keeps at most `high_water` bytes buffered, asking
// the connection's stats after each chunk. That is how an application
// without its own flow control would pace itself with this API.
struct sender_state {
  connection conn;
  bytes payload;
  size_t chunk = 1;        // messages per step
  size_t batch = 0;        // > 0: send std::vector<bytes> of this many
  uint64_t offered = 0;
  double deadline = 0;
  bool closing = false;
  uint64_t refused = 0; // rejected or dropped, at the deadline
  caf::actor main;
};

// The sender keeps the outbound buffer below these marks, so that nothing is
// refused (refusals are counted, not retried): 16 MiB and 50,000 messages,
// or less if the buffer's bounds are lower (the defaults are 4 MiB, 16,384).
uint64_t high_water_bytes = 16u << 20;
uint64_t high_water_messages = 50000;

caf::behavior sender(caf::stateful_actor<sender_state>* self, size_t size,
                     double seconds, size_t batch, caf::actor main) {
  auto& st = self->state;
  st.payload = pattern(size, 7);
  st.batch = batch;
  st.chunk = std::max<size_t>(1, std::min<size_t>(1024, (1u << 20) / size));
  if (batch > 0)
    st.chunk = std::max(st.chunk, batch);
  st.main = std::move(main);
  auto send_chunk = [=] {
    auto& st = self->state;
    if (st.batch == 0) {
      for (size_t i = 0; i < st.chunk; ++i)
        self->send(st.conn, st.payload);
      st.offered += st.chunk;
      return;
    }
    for (size_t sent = 0; sent < st.chunk; sent += st.batch) {
      std::vector<bytes> xs(st.batch, st.payload);
      self->send(st.conn, std::move(xs));
      st.offered += st.batch;
    }
  };
  // One step: refill up to the high-water mark, then ask again.
  auto step = [=](const connection_stats& s) {
    auto& st = self->state;
    if (st.closing)
      return;
    if (now_s() >= st.deadline) {
      // Nothing is offered after this: what was not refused or dropped by
      // now is written before closed (close drains the buffer).
      st.closing = true;
      st.refused = s.rejected + s.dropped;
      self->send(st.conn, close_atom::value);
      return;
    }
    auto buffered = s.buffered_bytes;
    auto messages = s.buffered_messages;
    auto chunk_bytes = st.chunk * st.payload.size();
    // (A chunk larger than the mark goes out alone, into an empty buffer.)
    if (messages > 0
        && (buffered + chunk_bytes > high_water_bytes
            || messages + st.chunk > high_water_messages)) {
      self->delayed_send(self, 1ms, tick_atom::value);
      return;
    }
    do {
      send_chunk();
      buffered += chunk_bytes;
      messages += st.chunk;
    } while (buffered + chunk_bytes <= high_water_bytes / 2
             && messages + st.chunk <= high_water_messages / 2);
    self->send(self, tick_atom::value);
  };
  return {
    [=](go_atom, const connection& conn) { self->state.conn = conn; },
    [=](connected_atom, const connection& conn) {
      // (connected may come before go: the handle is in the status.)
      self->state.conn = conn;
      self->state.deadline = now_s() + seconds;
      self->send(self, tick_atom::value);
    },
    [=](tick_atom) {
      self->request(self->state.conn, caf::infinite, get_atom::value,
                    stats_atom::value)
        .then(step);
    },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      std::fprintf(stderr, "send: disconnected: %s\n", describe(err).c_str());
    },
    [=](const connection&, const bytes&) {},
    [=](closed_atom, const connection&, const caf::error& err) {
      auto& st = self->state;
      if (err)
        std::fprintf(stderr, "send: closed: %s\n", describe(err).c_str());
      bench::emit("result sent=%llu offered=%llu refused=%llu",
                  static_cast<unsigned long long>(st.offered - st.refused),
                  static_cast<unsigned long long>(st.offered),
                  static_cast<unsigned long long>(st.refused));
      self->send(st.main, done_atom::value);
      self->quit();
    },
  };
}

// -- echo: every payload back on its connection -------------------------------

caf::behavior echo(caf::event_based_actor* self) {
  return {
    [=](accepted_atom, const acceptor&, const connection& conn) {
      subscribe(conn, caf::actor_cast<caf::actor>(self));
    },
    [=](const connection& conn, bytes& payload) {
      self->send(conn, std::move(payload));
    },
    [](call_atom, const connection&, bytes& payload) {
      return std::move(payload);
    },
    [](connected_atom, const connection&) {},
    [](disconnected_atom, const connection&, const caf::error&) {},
    [](closed_atom, const connection&, const caf::error&) {},
    [](closed_atom, const acceptor&, const caf::error&) {},
  };
}

// -- call: N calls in flight, a new one per reply ------------------------------

struct caller_state {
  connection conn;
  bytes payload;
  uint64_t calls = 0;
  double t0 = 0;
  double seconds = 0;
  bool stopping = false;
  caf::actor main;
};

caf::behavior caller(caf::stateful_actor<caller_state>* self, size_t size,
                     double seconds, size_t inflight, caf::actor main) {
  auto& st = self->state;
  st.payload = pattern(size, 1);
  st.seconds = seconds;
  st.main = std::move(main);
  // One call; its reply fires the next until the time is up.
  std::shared_ptr<std::function<void()>> fire
    = std::make_shared<std::function<void()>>();
  *fire = [self, fire] {
    auto& st = self->state;
    self->request(st.conn, caf::infinite, call_atom::value, st.payload)
      .then(
        [self, fire](bytes&) {
          auto& st = self->state;
          ++st.calls;
          if (st.stopping)
            return;
          auto t = now_s() - st.t0;
          if (t < st.seconds) {
            (*fire)();
            return;
          }
          st.stopping = true;
          bench::emit("result calls=%llu seconds=%.6f",
                      static_cast<unsigned long long>(st.calls), t);
          self->send(st.conn, close_atom::value);
          self->send(st.main, done_atom::value);
        },
        [self](caf::error& err) {
          bench::fail("call: " + describe(err));
        });
  };
  return {
    [=](go_atom, const connection& conn) { self->state.conn = conn; },
    [=](connected_atom, const connection& conn) {
      auto& st = self->state;
      if (st.t0 > 0)
        return; // a reconnect: the calls in flight are resent
      st.conn = conn;
      st.t0 = now_s();
      for (size_t i = 0; i < inflight; ++i)
        (*fire)();
    },
    [](const connection&, const bytes&) {},
    [](disconnected_atom, const connection&, const caf::error&) {},
    [=](closed_atom, const connection&, const caf::error&) { self->quit(); },
  };
}

// -- ping: one message in flight, actor to actor ------------------------------

struct pinger_state {
  connection conn;
  bytes payload;
  size_t warmup = 0;
  size_t count = 0;
  size_t done = 0;
  std::chrono::steady_clock::time_point t0;
  std::vector<double> us;
  caf::actor main;
};

caf::behavior pinger(caf::stateful_actor<pinger_state>* self, size_t size,
                     size_t count, size_t warmup, caf::actor main) {
  auto& st = self->state;
  st.payload = pattern(size, 1);
  st.count = count;
  st.warmup = warmup;
  st.main = std::move(main);
  st.us.reserve(count);
  auto fire = [=] {
    auto& st = self->state;
    st.t0 = std::chrono::steady_clock::now();
    self->send(st.conn, st.payload);
  };
  return {
    [=](go_atom, const connection& conn) { self->state.conn = conn; },
    [=](connected_atom, const connection& conn) {
      self->state.conn = conn; // (connected may come before go)
      fire();
    },
    [=](const connection&, const bytes&) {
      auto& st = self->state;
      auto dt = std::chrono::steady_clock::now() - st.t0;
      if (st.done++ >= st.warmup)
        st.us.push_back(std::chrono::duration<double, std::micro>(dt).count());
      if (st.us.size() < st.count) {
        fire();
        return;
      }
      bench::emit_latency(st.us);
      self->send(st.conn, close_atom::value);
      self->send(st.main, done_atom::value);
      self->quit();
    },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      bench::fail("ping: disconnected: " + describe(err));
    },
    [](closed_atom, const connection&, const caf::error&) {},
  };
}

// -- scale-client: N connections, a hello each, then idle with heartbeats -----

struct scale_state {
  std::unordered_set<caf::actor_id> greeted;
  std::unordered_set<caf::actor_id> answered;
  size_t target = 0;
  size_t closed = 0;
  double start = 0;
  double hold = 0;
  std::vector<connection> conns;
  caf::actor main;
};

caf::behavior scale_client(caf::stateful_actor<scale_state>* self,
                           size_t target, double hold, caf::actor main) {
  auto& st = self->state;
  st.target = target;
  st.hold = hold;
  st.main = std::move(main);
  st.start = now_s();
  return {
    [=](go_atom, const connection& conn) {
      self->state.conns.push_back(conn);
    },
    [=](connected_atom, const connection& conn) {
      if (self->state.greeted.insert(conn.id()).second)
        self->send(conn, pattern(16, 3));
    },
    [=](const connection& conn, const bytes&) {
      auto& st = self->state;
      if (!st.answered.insert(conn.id()).second
          || st.answered.size() != st.target)
        return;
      bench::emit("established connections=%zu seconds=%.6f",
                  st.answered.size(), now_s() - st.start);
      self->delayed_send(self,
                         std::chrono::milliseconds(
                           static_cast<long long>(st.hold * 1000)),
                         done_atom::value);
    },
    [=](done_atom) {
      for (auto& c : self->state.conns)
        self->send(c, close_atom::value);
    },
    [](disconnected_atom, const connection&, const caf::error&) {},
    [=](closed_atom, const connection&, const caf::error&) {
      auto& st = self->state;
      if (++st.closed == st.target) {
        bench::emit("result connections=%zu failed=0 seconds=%.6f",
                    st.answered.size(), now_s() - st.start);
        self->send(st.main, done_atom::value);
        self->quit();
      }
    },
  };
}

// -- watch: prints every status with a monotonic timestamp --------------------

caf::behavior watcher(caf::event_based_actor* self) {
  return {
    [=](connected_atom, const connection&) {
      bench::emit("status connected t=%.6f", now_s());
    },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      bench::emit("status disconnected reason=%s t=%.6f",
                  describe(err).c_str(), now_s());
    },
    [=](closed_atom, const connection&, const caf::error&) { self->quit(); },
    [](const connection&, const bytes&) {},
    [](go_atom, const connection&) {},
  };
}

// -- main ---------------------------------------------------------------------

// Waits for the done message of the measuring actor, bounded.
bool await_done(caf::scoped_actor& self, long long seconds) {
  bool ok = false;
  self->receive([&](done_atom) { ok = true; },
                caf::after(std::chrono::seconds(seconds)) >> [] {});
  return ok;
}

// Sleeps until SIGTERM/SIGINT (servers).
void await_stop_signal(const sigset_t& sigs) {
  int sig = 0;
  while (sigwait(&sigs, &sig) != 0)
    ; // nop
}

} // namespace

int main(int argc, char** argv) {
  // CAF settings out, the subcommand's flags in.
  caf::actor_system_config::string_list caf_args;
  std::vector<char*> own{argv[0]};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--scheduler.", 0) == 0 || a.rfind("--work-stealing.", 0) == 0
        || a.rfind("--netasync.", 0) == 0)
      caf_args.push_back(a);
    else
      own.push_back(argv[i]);
  }
  bench::args args{static_cast<int>(own.size()), own.data(), usage};
  auto cmd = args.cmd();
  auto timeout = args.num("timeout", 1, 86400, 60);
  auto scheme = args.str("scheme", "tcp");
  if (scheme != "tcp" && scheme != "tls" && scheme != "ws" && scheme != "wss")
    args.usage_error("--scheme must be tcp, tls, ws or wss");
  // The endpoint URL of host:port in this run's scheme.
  auto url = [&](const std::string& host, uint16_t port) {
    return scheme + "://" + host_port(host, port);
  };
  bench::arm_timeout(timeout);
  bench::raise_nofile();
  // Servers end on SIGTERM/SIGINT: blocked before CAF starts its threads, so
  // that only sigwait sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  system_config cfg;
  if (auto err = cfg.parse(caf_args))
    bench::fail("configuration: " + describe(err));
  auto parsed = options::parse(cfg);
  if (!parsed)
    bench::fail("configuration: " + describe(parsed.error()));
  auto opts = *parsed;
  auto hb = args.num("heartbeat-ms", 0, 3600000, 0);
  if (hb > 0)
    opts.heartbeat_period = std::chrono::milliseconds(hb);
  high_water_bytes = std::min<uint64_t>(high_water_bytes,
                                        opts.max_outbound_bytes / 4 * 3);
  high_water_messages = std::min<uint64_t>(high_water_messages,
                                           opts.max_outbound_messages / 4 * 3);
  int rc = 0;
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto main_hdl = caf::actor_cast<caf::actor>(self);
  if (cmd == "recv" || cmd == "echo") {
    auto port = static_cast<uint16_t>(args.num("port", 0, 65535));
    auto batch = args.num("batch", 0, 1, 0);
    args.finish();
    opts.batch_delivery = batch == 1;
    auto act = cmd == "recv" ? sys.spawn(counter, main_hdl) : sys.spawn(echo);
    auto acc = accept(sys, url("127.0.0.1", port), opts, {act});
    if (!acc)
      bench::fail("accept: " + describe(acc.error()));
    auto p = bound_port(sys, *acc);
    if (!p)
      bench::fail("bound port: " + describe(p.error()));
    bench::emit("listening port=%u t=%.6f", unsigned{*p}, now_s());
    if (cmd == "recv") {
      if (!await_done(self, timeout))
        rc = 3;
    } else {
      await_stop_signal(sigs);
      bench::emit("result stopped=1");
      caf::anon_send(*acc, close_atom::value);
    }
    caf::anon_send_exit(act, caf::exit_reason::user_shutdown);
  } else if (cmd == "send" || cmd == "ping" || cmd == "watch"
             || cmd == "call") {
    auto host = args.str("host", "127.0.0.1");
    auto port = static_cast<uint16_t>(args.num("port", 1, 65535));
    caf::actor act;
    long long watch_seconds = 0;
    if (cmd == "send") {
      auto size = args.num("size", 1, 64 << 20);
      auto seconds = args.real("seconds", 0, 3600);
      auto batch = args.num("batch", 0, 65536, 0);
      args.finish();
      act = sys.spawn(sender, size, seconds, batch, main_hdl);
    } else if (cmd == "call") {
      auto size = args.num("size", 1, 64 << 20);
      auto seconds = args.real("seconds", 0.1, 3600);
      auto inflight = args.num("inflight", 1, 100000);
      args.finish();
      act = sys.spawn(caller, size, seconds, inflight, main_hdl);
    } else if (cmd == "ping") {
      auto size = args.num("size", 1, 64 << 20);
      auto count = args.num("count", 1, 10000000);
      auto warmup = args.num("warmup", 0, 10000000, 1000);
      args.finish();
      act = sys.spawn(pinger, size, count, warmup, main_hdl);
    } else {
      watch_seconds = args.num("seconds", 1, 3600);
      auto rec = args.num("reconnect-ms", 0, 3600000, 0);
      args.finish();
      if (rec > 0)
        opts.reconnect_period = std::chrono::milliseconds(rec);
      act = sys.spawn(watcher);
    }
    auto conn = connect(sys, url(host, port), opts, {act});
    if (!conn)
      bench::fail("connect: " + describe(conn.error()));
    self->send(act, go_atom::value, *conn);
    if (cmd == "watch") {
      timespec ts{static_cast<time_t>(watch_seconds), 0};
      sigtimedwait(&sigs, nullptr, &ts); // SIGTERM/SIGINT or the bound
      self->send(*conn, close_atom::value);
    } else if (!await_done(self, timeout)) {
      rc = 3;
    }
  } else if (cmd == "scale-client") {
    auto host = args.str("host", "127.0.0.1");
    auto port = static_cast<uint16_t>(args.num("port", 1, 65535));
    auto n = static_cast<size_t>(args.num("connections", 1, 100000));
    auto hold = args.num("hold-seconds", 0, 3600, 5);
    args.finish();
    auto act = sys.spawn(scale_client, n, double(hold), main_hdl);
    for (size_t i = 0; i < n; ++i) {
      auto conn = connect(sys, url(host, port), opts, {act});
      if (!conn)
        bench::fail("connect: " + describe(conn.error()));
      self->send(act, go_atom::value, *conn);
    }
    if (!await_done(self, timeout))
      rc = 3;
  } else {
    args.usage_error("unknown subcommand " + cmd);
  }
  return rc;
}
