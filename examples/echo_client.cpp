// netasync-echo-client: sends N messages of S bytes to an echo server and
// verifies every echo byte for byte and in order, across disconnects.
//
//   netasync-echo-client --connect URL [--tls-ca PEM]
//                        [--tls-cert PEM --tls-key PEM]
//                        [--tls-server-name NAME] --count N --size S
//                        [--timeout SECONDS] [--reconnect-period MS]
//                        [--heartbeat-period MS] [--heartbeat-timeout MS]
//   netasync-echo-client --host H --port P ...   (= --connect tcp://H:P)
//
// URL: tcp://H:P or tls://H:P ([::1]:P for IPv6). Every disconnect's reason
// (a failed TLS handshake's with OpenSSL's text) goes to stderr.
//
// Last line on stdout: "N sent, E echoed, M mismatched"; exit 0 iff E = N and
// M = 0. Statuses and the throughput line go to stderr.
//
// Payloads: for S >= 8, an 8-byte big-endian sequence number followed by
// pseudo-random bytes derived from it; for S < 8, the low S bytes of the
// sequence number (big-endian), matched against the most recently sent
// sequence numbers.
//
// net.async is at-most-once: messages lost in a drop are sent again. On
// disconnected the client stops sending; once connected again it sends every
// message not yet echoed, then continues with new ones. A window of messages
// in flight bounds the connection's outbound buffer.
//
// Order check: the link is FIFO, and after a reconnect every older message is
// sent (again) before any new one. So the echo of a message first sent on the
// current link must arrive exactly when it is the lowest sequence number not
// yet echoed after the previous such echo; one that does not counts as
// mismatched. Messages sent before the current link (possibly still held by
// the library's outbound buffer, which sends them again itself) are checked
// for content only; their second echo is a duplicate, not a mismatch.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;

namespace {

using run_atom = caf::atom_constant<caf::atom("run")>;
using timeout_atom = caf::atom_constant<caf::atom("timeout")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using close_wait_atom = caf::atom_constant<caf::atom("closewait")>;

using clock_type = std::chrono::steady_clock;

// -- command line -------------------------------------------------------------

struct args {
  // --netasync.KEY=VALUE and --config-file=INI, for the configuration.
  std::vector<std::string> config;
  std::string url;
  netasync::tls_options tls;
  long long count = -1;
  long long size = -1;
  double timeout_s = 60;
  long long reconnect_period_ms = -1;
  long long heartbeat_period_ms = -1;
  long long heartbeat_timeout_ms = -1;
};

args parse_args(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "(--connect URL | --host H --port P) [--tls-ca PEM]"
                  " [--tls-cert PEM --tls-key PEM] [--tls-server-name NAME]"
                  " --count N --size S"
                  " [--timeout SECONDS] [--reconnect-period MS]"
                  " [--heartbeat-period MS] [--heartbeat-timeout MS]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]"};
  args res;
  cli::tls_flags(cli::side::client, p, res.tls);
  if (p.given("connect")) {
    if (p.given("host") || p.given("port"))
      p.usage_error("--connect replaces --host and --port");
    res.url = netasync::to_string(cli::url_flag(p, "connect"));
  } else {
    res.url = netasync::to_string(netasync::endpoint{
      netasync::scheme::tcp, p.str("host"),
      static_cast<uint16_t>(p.num("port", 1, 65535)), {}});
  }
  res.count = p.num("count", 0, 100000000);
  // 0 is not a message: on the wire an empty frame is a heartbeat.
  if (p.str("size") == "0")
    p.usage_error("--size 0 is refused: an empty message cannot be sent (a "
                  "zero-length frame is a heartbeat); sizes start at 1");
  res.size = p.num("size", 1, 0x7fffffff);
  res.timeout_s = p.real("timeout", 0, 1e7, 60);
  res.reconnect_period_ms = p.num("reconnect-period", 0, 86400000, -1);
  res.heartbeat_period_ms = p.num("heartbeat-period", 1, 86400000, -1);
  res.heartbeat_timeout_ms = p.num("heartbeat-timeout", 1, 86400000, -1);
  res.config = p.config_args();
  p.finish();
  return res;
}

// -- payloads -----------------------------------------------------------------

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Writes the payload of `seq` (size out.size()) into `out`.
void fill_payload(uint64_t seq, netasync::bytes& out) {
  auto size = out.size();
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  if (size < 8) {
    for (size_t i = 0; i < size; ++i)
      p[i] = static_cast<unsigned char>(seq >> (8 * (size - 1 - i)));
    return;
  }
  for (size_t i = 0; i < 8; ++i)
    p[i] = static_cast<unsigned char>(seq >> (8 * (7 - i)));
  uint64_t rng = seq * 0x2545f4914f6cdd1dULL + 1;
  size_t i = 8;
  for (; i + 8 <= size; i += 8) {
    auto r = splitmix64(rng);
    std::memcpy(p + i, &r, 8);
  }
  if (i < size) {
    auto r = splitmix64(rng);
    std::memcpy(p + i, &r, size - i);
  }
}

netasync::bytes make_payload(uint64_t seq, size_t size) {
  netasync::bytes result(size);
  fill_payload(seq, result);
  return result;
}

// -- the client actor ---------------------------------------------------------

struct client_state {
  // Configuration.
  std::string url;
  uint64_t count = 0;
  size_t size = 0;
  size_t window = 0;
  caf::timespan timeout;
  netasync::options opts;

  netasync::connection conn;
  caf::response_promise result;

  // Progress.
  std::vector<uint8_t> verified;   // per sequence number
  std::vector<uint32_t> first_link; // link number of the first send
  uint64_t next_seq = 0;           // next sequence number never sent
  uint64_t lowest_open = 0;        // every seq below is verified
  uint64_t verified_count = 0;     // distinct messages received intact
  uint64_t echoed = 0;             // ... and in order
  uint64_t mismatched = 0;
  uint64_t duplicates = 0;
  uint64_t order_violations = 0;
  uint64_t resent = 0;
  uint64_t refused = 0;
  uint64_t connects = 0;
  uint64_t disconnects = 0;
  bool connected = false;
  uint32_t link = 0; // incremented on each connected
  // Order check (see on_echo): one past the highest order-checked sequence
  // number seen on this link.
  uint64_t order_from = 0;
  // Messages whose send was refused and retried later (out of sequence):
  // exempt from the order check.
  std::vector<uint8_t> unordered;
  std::vector<uint8_t> retry_pending;
  bool finished = false;
  bool closing = false;
  clock_type::time_point started;
  clock_type::time_point first_connect;
  bool have_first_connect = false;

  // Scratch buffer for verification.
  netasync::bytes expected;

  static inline const char* name = "echo-client";
};

using client_actor = caf::stateful_actor<client_state>;

void finish(client_actor* self, bool timed_out);

void send_seq(client_actor* self, uint64_t seq) {
  auto& st = self->state;
  self
    ->request(st.conn, caf::infinite, make_payload(seq, st.size))
    .then(
      [=] {
        // Accepted into the outbound buffer.
      },
      [=](caf::error& err) {
        auto& st = self->state;
        if (st.finished || st.closing)
          return;
        ++st.refused;
        if (netasync::code_of(err) == netasync::error::outbound_buffer_full) {
          // Sent later, after higher numbers: exempt from the order check.
          st.unordered[seq] = 1;
          if (!st.retry_pending[seq]) {
            st.retry_pending[seq] = 1;
            self->delayed_send(self, std::chrono::milliseconds(50),
                               retry_atom::value, seq);
          }
          return;
        }
        std::cerr << "[client] send of #" << seq
                  << " refused: " << netasync::describe(err) << std::endl;
        finish(self, false);
      });
}

// Sends new messages while the window has room.
void fill_window(client_actor* self) {
  auto& st = self->state;
  if (!st.connected || st.finished || st.closing)
    return;
  while (st.next_seq < st.count && st.next_seq < st.lowest_open + st.window) {
    auto seq = st.next_seq++;
    st.first_link[seq] = st.link;
    send_seq(self, seq);
  }
}

void advance_lowest_open(client_state& st) {
  while (st.lowest_open < st.next_seq && st.verified[st.lowest_open])
    ++st.lowest_open;
}

// Maps an echo to its sequence number; returns false if it cannot belong to
// any message sent so far.
bool identify(const client_state& st, const netasync::bytes& payload,
              uint64_t& seq) {
  if (payload.size() != st.size)
    return false;
  auto* p = reinterpret_cast<const unsigned char*>(payload.data());
  if (st.size >= 8) {
    uint64_t x = 0;
    for (size_t i = 0; i < 8; ++i)
      x = (x << 8) | p[i];
    if (x >= st.next_seq)
      return false;
    seq = x;
    return true;
  }
  // Low bytes only: the most recently sent message with these low bytes.
  uint64_t low = 0;
  for (size_t i = 0; i < st.size; ++i)
    low = (low << 8) | p[i];
  uint64_t modulus = uint64_t{1} << (8 * st.size);
  if (st.next_seq == 0)
    return false;
  uint64_t last = st.next_seq - 1;
  uint64_t back = ((last % modulus) + modulus - low) % modulus;
  if (back > last)
    return false;
  seq = last - back;
  return true;
}

// The next message an order-checked echo may be: the lowest sequence number
// not yet verified at or after `order_from` (see on_echo).
uint64_t next_expected(const client_state& st) {
  auto i = std::max(st.order_from, st.lowest_open);
  while (i < st.next_seq && (st.verified[i] || st.unordered[i]))
    ++i;
  return i;
}

void on_echo(client_actor* self, netasync::bytes& payload) {
  auto& st = self->state;
  if (st.finished)
    return;
  uint64_t seq = 0;
  if (!identify(st, payload, seq)) {
    ++st.mismatched;
    std::cerr << "[client] mismatch: echo of " << payload.size()
              << " bytes matches no message sent" << std::endl;
    return;
  }
  // Order: the link is FIFO and, after a reconnect, every older message is
  // sent again before any new one. So a message first sent on this link (and
  // not refused) must arrive exactly when it is the lowest one
  // not yet verified after the last such message seen on this link.
  auto fresh = st.first_link[seq] == st.link && !st.unordered[seq];
  auto expected_seq = next_expected(st);
  if (fresh && seq >= st.order_from)
    st.order_from = seq + 1; // its position is taken, intact or not
  st.expected.resize(st.size);
  fill_payload(seq, st.expected);
  if (std::memcmp(st.expected.data(), payload.data(), st.size) != 0) {
    ++st.mismatched;
    std::cerr << "[client] mismatch: echo of #" << seq
              << " differs from what was sent" << std::endl;
    return;
  }
  if (st.verified[seq]) {
    ++st.duplicates;
    return;
  }
  st.verified[seq] = 1;
  ++st.verified_count;
  advance_lowest_open(st);
  if (fresh && seq != expected_seq) {
    // Intact but out of order: counted as mismatched, not as echoed.
    ++st.mismatched;
    ++st.order_violations;
    std::cerr << "[client] out of order: echo of #" << seq
              << " arrived when #" << expected_seq << " was expected"
              << std::endl;
  } else {
    ++st.echoed;
  }
  if (st.verified_count == st.count) {
    finish(self, false);
    return;
  }
  fill_window(self);
}

void print_summary(client_actor* self) {
  auto& st = self->state;
  auto now = clock_type::now();
  auto total = std::chrono::duration<double>(now - st.started).count();
  double active = total;
  if (st.have_first_connect)
    active = std::chrono::duration<double>(now - st.first_connect).count();
  std::ostringstream os;
  os << std::fixed << std::setprecision(3) << "[client] " << st.echoed
     << " of " << st.count << " messages of " << st.size << " B echoed in ";
  if (st.have_first_connect)
    os << active << " s from the first connect (" << total << " s in all): "
       << std::setprecision(0) << (active > 0 ? st.echoed / active : 0.0)
       << " messages/s, " << std::setprecision(2)
       << (active > 0 ? st.echoed * double(st.size) / active / 1e6 : 0.0)
       << " MB/s each way";
  else
    os << total << " s (never connected)";
  os << "; connects " << st.connects << ", disconnects " << st.disconnects
     << ", resent " << st.resent << ", duplicates " << st.duplicates
     << ", refused " << st.refused << ", out of order "
     << st.order_violations;
  std::cerr << os.str() << std::endl;
}

void deliver(client_actor* self) {
  auto& st = self->state;
  if (!st.result.pending())
    return;
  bool ok = st.echoed == st.count && st.mismatched == 0;
  std::cout << st.count << " sent, " << st.echoed << " echoed, "
            << st.mismatched << " mismatched" << std::endl;
  st.result.deliver(ok ? 0 : 1);
  self->quit();
}

void finish(client_actor* self, bool timed_out) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  if (timed_out)
    std::cerr << "[client] timeout after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                   st.timeout)
                   .count()
              << " ms: " << (st.connected ? "connected" : "not connected")
              << ", lowest unechoed #" << st.lowest_open << ", next new #"
              << st.next_seq << std::endl;
  print_summary(self);
  auto close_and_deliver = [=] {
    auto& st = self->state;
    if (!st.conn) {
      deliver(self);
      return;
    }
    st.closing = true;
    self->send(st.conn, netasync::close_atom::value);
    self->delayed_send(self, std::chrono::seconds(2), close_wait_atom::value);
  };
  if (timed_out && st.conn) {
    // Show the connection's own counters: they tell where messages are.
    self->request(st.conn, std::chrono::seconds(1), netasync::get_atom::value,
                  netasync::stats_atom::value)
      .then(
        [=](const netasync::connection_stats& s) {
          std::cerr << "[client] connection stats: state " << s.state
                    << ", connects " << s.connects << ", disconnects "
                    << s.disconnects << ", restarts " << s.restarts
                    << ", sent " << s.sent << ", dropped " << s.dropped
                    << ", rejected " << s.rejected << ", buffered "
                    << s.buffered_messages << " messages / "
                    << s.buffered_bytes << " bytes" << std::endl;
          close_and_deliver();
        },
        [=](caf::error& err) {
          std::cerr << "[client] connection stats unavailable: "
                    << netasync::describe(err) << std::endl;
          close_and_deliver();
        });
    return;
  }
  close_and_deliver();
}

caf::behavior echo_client(client_actor* self, args a) {
  auto& st = self->state;
  st.url = a.url;
  st.count = static_cast<uint64_t>(a.count);
  st.size = static_cast<size_t>(a.size);
  st.timeout = std::chrono::duration_cast<caf::timespan>(
    std::chrono::duration<double>(a.timeout_s));
  st.opts = netasync::options::from(self->system().config());
  cli::apply_tls_flags(a.tls, st.opts.tls);
  if (a.reconnect_period_ms >= 0)
    st.opts.reconnect_period = std::chrono::milliseconds(a.reconnect_period_ms);
  if (a.heartbeat_period_ms > 0)
    st.opts.heartbeat_period = std::chrono::milliseconds(a.heartbeat_period_ms);
  if (a.heartbeat_timeout_ms > 0)
    st.opts.heartbeat_timeout = caf::timespan{
      std::chrono::milliseconds(a.heartbeat_timeout_ms)};
  // In flight: at most 256 messages and half the outbound buffer's byte
  // bound (a send past the bound would be refused). Small payloads (S < 8)
  // also need the window well below the number of distinct payloads.
  size_t by_bytes = std::max<size_t>(1, st.opts.max_outbound_bytes / 2
                                          / st.size);
  st.window = std::min<size_t>(256, by_bytes);
  if (st.size < 8) {
    uint64_t distinct = uint64_t{1} << (8 * st.size);
    st.window = std::min<uint64_t>(st.window, distinct / 4);
  }
  st.verified.assign(st.count, 0);
  st.first_link.assign(st.count, 0);
  st.unordered.assign(st.count, 0);
  st.retry_pending.assign(st.count, 0);
  st.started = clock_type::now();
  return {
    [=](run_atom) -> caf::result<int> {
      auto& st = self->state;
      st.result = self->make_response_promise();
      auto conn = netasync::connect(self->system(), st.url, st.opts,
                                    {caf::actor_cast<caf::actor>(self)});
      if (!conn) {
        std::cerr << "[client] cannot connect: "
                  << netasync::describe(conn.error()) << std::endl;
        finish(self, false);
        return st.result;
      }
      st.conn = *conn;
      self->delayed_send(self, st.timeout, timeout_atom::value);
      if (st.count == 0)
        finish(self, false);
      return st.result;
    },
    [=](netasync::connected_atom, const netasync::connection&) {
      auto& st = self->state;
      if (st.finished)
        return;
      ++st.connects;
      ++st.link;
      st.order_from = 0;
      st.connected = true;
      if (!st.have_first_connect) {
        st.have_first_connect = true;
        st.first_connect = clock_type::now();
      }
      std::cerr << "[client] connected" << std::endl;
      // Everything sent before and not echoed may have been lost.
      for (auto seq = st.lowest_open; seq < st.next_seq; ++seq) {
        if (!st.verified[seq]) {
          ++st.resent;
          send_seq(self, seq);
        }
      }
      fill_window(self);
    },
    [=](netasync::disconnected_atom, const netasync::connection&,
        const caf::error& reason) {
      auto& st = self->state;
      if (st.finished)
        return;
      if (st.connected)
        ++st.disconnects;
      st.connected = false;
      std::cerr << "[client] disconnected: " << netasync::describe(reason)
                << std::endl;
    },
    [=](netasync::closed_atom, const netasync::connection&,
        const caf::error& reason) {
      auto& st = self->state;
      st.connected = false;
      if (!st.closing)
        std::cerr << "[client] closed: " << netasync::describe(reason)
                  << std::endl;
      finish(self, false); // if it was not over yet, it cannot complete
      st.conn = nullptr;
      deliver(self);
    },
    [=](const netasync::connection&, netasync::bytes& payload) {
      on_echo(self, payload);
    },
    [=](retry_atom, uint64_t seq) {
      auto& st = self->state;
      st.retry_pending[seq] = 0;
      // While disconnected, the reconnect sends it again anyway.
      if (st.finished || st.verified[seq] || !st.connected)
        return;
      ++st.resent;
      send_seq(self, seq);
    },
    [=](timeout_atom) { finish(self, true); },
    [=](close_wait_atom) {
      auto& st = self->state;
      if (st.result.pending())
        std::cerr << "[client] close: no closed status within 2 s"
                  << std::endl;
      deliver(self);
    },
  };
}

} // namespace

int main(int argc, char** argv) {
  auto a = parse_args(argc, argv);
  netasync::system_config cfg;
  if (!cli::load_config(cfg, a.config))
    return 2;
  int rc = 1;
  {
    caf::actor_system sys{cfg};
    auto client = sys.spawn(echo_client, a);
    caf::scoped_actor self{sys};
    self->request(client, caf::infinite, run_atom::value)
      .receive([&](int x) { rc = x; },
               [&](caf::error& err) {
                 std::cerr << "[client] failed: " << netasync::describe(err)
                           << std::endl;
                 std::cout << a.count << " sent, 0 echoed, 0 mismatched"
                           << std::endl;
                 rc = 1;
               });
  }
  return rc;
}
