// netasync-soak: a client and a server in one process, connected through the
// fault-injecting loopback proxy (tests/support/fault_proxy.hpp), for a given
// time while random faults are injected; then it checks the delivery
// guarantee of docs/design.md ("Sending"): at most once, in order, no
// duplicates and no torn messages on a link; frames the kernel accepted but
// the peer never processed are lost with their link, uncounted.
//
//   netasync-soak --seconds N [--seed S] [--heartbeat-period MS]
//                 [--heartbeat-timeout MS] [--reconnect-period MS]
//                 [--connect-timeout MS] [--rate MESSAGES_PER_S]
//                 [--window-messages N] [--window-bytes B] [--max-size B]
//                 [--max-outbound-messages N] [--max-outbound-bytes B]
//                 [--fault-gap-min MS] [--fault-gap-max MS]
//                 [--drain-timeout SECONDS] [--tls-certs DIR] [--ws]
//                 [--session]
//
// --tls-certs DIR: the link is tls:// with the certificates that
// tests/tls/make_test_certs.sh made in DIR (the proxy then forwards TLS
// records: its faults hit the TLS layer, and a cut lands mid-record).
// --ws: the link is ws:// (wss:// with --tls-certs); the proxy reads the
// WebSocket bytes as length prefixes, so its cut is a reset at an
// arbitrary point of the stream.
// --session: both ends use sessions (docs/protocol.md section 13), and the
// guarantee checked is exactly once: U must be 0, every link fault must be
// survived by one server connection (resumed, never replaced), and the
// exit status says so.
//
// The client sends a continuous stream of messages numbered 0, 1, 2, ... to
// the server (one way), one `request` at a time: a message's number is used
// up only when the connection accepted it (no error reply), and a refused
// message is offered again under the same number. So the messages sent are
// exactly 0 .. S-1, in this order in the connection's outbound buffer. The
// client keeps at most --window-messages / --window-bytes in that buffer
// (it reads buffered_messages / buffered_bytes from the connection's stats),
// and at most --rate messages per second if given.
//
// Payloads. The size of message n is a function of (seed, n): half of them
// uniform in [1, --max-size], half log-uniform (so many are tiny). A payload
// of 16 bytes or more starts with a header (n, size, a check word of n) and
// continues with bytes derived from n; one shorter than 16 bytes is the
// first bytes of a hash of n. The server verifies every payload byte for
// byte against its number. A tiny payload does not name its number; the
// server infers it from its position on its link: a link carries a
// contiguous run of the buffer (numbers in order, none skipped, none
// repeated), so the payload k places before or after one with a header is
// number n -/+ k. A link that carried only tiny payloads is placed between
// its neighbours at the end. A payload that does not match is counted as
// corrupt; a header number that is not the next one on its link is an order
// violation (which would also be a loss in the middle of a link).
//
// Faults, one at a time, each after --fault-gap-min..max ms in pass mode:
// delay (1-200 ms each way, held 0.5-3 s), stall (0.1-2.5 s; beyond the
// heartbeat timeout both ends drop the link), reset_all, half_close (a random
// direction), cut_next_frame (toward the server, the next frame of at least
// 16 B-128 KiB is cut in the middle and the link reset), black_hole (with a
// reset_all, so the client must redial into it; held 0.5-3 s).
//
// At the end: faults stop, the proxy passes, sending stops, the client waits
// (at most --drain-timeout) until its connection is connected with an empty
// outbound buffer, reads its stats, closes it gracefully and waits for
// closed; the server then waits for all its connections to end. The last
// line on stdout is
//
//   sent S, delivered D, dropped-counted C, lost-uncounted U, duplicates X
//
// S messages accepted by the client's connection (refusals are not sent; they
// are reported on stderr), D distinct numbers delivered intact, C the
// connection's own dropped counter (0 under the default reject policy, plus
// any message a close left unsent), U = S - D - C, X = deliveries of a number
// beyond its first plus corrupt (torn) payloads. stderr has the progress
// (every 10 s) and the summary: faults by kind, drops, and where every
// uncounted loss happened (at which link boundary, after which fault).
//
// Exit 0 iff X = 0, no order violation, no loss in the middle of a link, and
// the run completed (drained, closed, every server connection ended); 1
// otherwise; 2 for a bad command line.

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"
#include "support/fault_proxy.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;
using netasync::bytes;
using netasync::test::fault_proxy;

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;

using kick_atom = caf::atom_constant<caf::atom("soak_kick")>;
using stop_atom = caf::atom_constant<caf::atom("soak_stop")>;
using close_wait_atom = caf::atom_constant<caf::atom("soak_cwait")>;
using drain_poll_atom = caf::atom_constant<caf::atom("soak_drain")>;
using live_atom = caf::atom_constant<caf::atom("soak_live")>;
using report_atom = caf::atom_constant<caf::atom("soak_rep")>;

std::string code_name(const caf::error& err) {
  if (!err)
    return "none";
  if (err.category() == netasync::error_category)
    return netasync::to_string(netasync::code_of(err));
  return caf::to_string(err);
}

double seconds_since(clock_type::time_point t0, clock_type::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

std::string mib(uint64_t n) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << n / 1048576.0 << " MiB";
  return os.str();
}

// -- command line -------------------------------------------------------------

struct args {
  long long seconds = -1;
  long long seed = -1;
  long long heartbeat_period_ms = 100;
  long long heartbeat_timeout_ms = -1; // default: 4 x period
  long long reconnect_period_ms = 200;
  long long connect_timeout_ms = 1000;
  long long rate = 0; // messages per second; 0: as fast as the window allows
  long long window_messages = 2000;
  long long window_bytes = 8 * 1024 * 1024;
  long long max_size = 256 * 1024;
  long long max_outbound_messages = -1;
  long long max_outbound_bytes = -1;
  long long fault_gap_min_ms = 500;
  long long fault_gap_max_ms = 3000;
  long long drain_timeout_s = 60;
  std::string tls_certs;
  bool websocket = false;
  bool session = false;
};

args parse_args(int argc, char** argv) {
  flags::parser p{argc, argv,
    "--seconds N [--seed S] [--heartbeat-period MS] [--heartbeat-timeout MS]"
    " [--reconnect-period MS] [--connect-timeout MS] [--rate MESSAGES_PER_S]"
    " [--window-messages N] [--window-bytes B] [--max-size B]"
    " [--max-outbound-messages N] [--max-outbound-bytes B]"
    " [--fault-gap-min MS] [--fault-gap-max MS] [--drain-timeout SECONDS]"
    " [--tls-certs DIR] [--ws] [--session]",
    flags::layout::flags_only, {"ws", "session"}};
  args res;
  res.seconds = p.num("seconds", 1, 7 * 86400);
  res.seed = p.num("seed", 0, 0x7fffffffffffffffLL, res.seed);
  res.heartbeat_period_ms = p.num("heartbeat-period",
                                  1, 86400000, res.heartbeat_period_ms);
  res.heartbeat_timeout_ms = p.num("heartbeat-timeout",
                                   1, 86400000, res.heartbeat_timeout_ms);
  res.reconnect_period_ms = p.num("reconnect-period",
                                  0, 86400000, res.reconnect_period_ms);
  res.connect_timeout_ms = p.num("connect-timeout",
                                 1, 86400000, res.connect_timeout_ms);
  res.rate = p.num("rate", 0, 100000000, res.rate);
  res.window_messages = p.num("window-messages",
                              1, 100000000, res.window_messages);
  res.window_bytes = p.num("window-bytes", 1, 1LL << 40, res.window_bytes);
  res.max_size = p.num("max-size", 1, 64 * 1024 * 1024, res.max_size);
  res.max_outbound_messages = p.num("max-outbound-messages",
                                    1, 1000000000, res.max_outbound_messages);
  res.max_outbound_bytes = p.num("max-outbound-bytes",
                                 1, 1LL << 40, res.max_outbound_bytes);
  res.fault_gap_min_ms = p.num("fault-gap-min",
                               0, 86400000, res.fault_gap_min_ms);
  res.fault_gap_max_ms = p.num("fault-gap-max",
                               0, 86400000, res.fault_gap_max_ms);
  res.drain_timeout_s = p.num("drain-timeout", 1, 86400, res.drain_timeout_s);
  res.tls_certs = p.str("tls-certs", "");
  res.websocket = p.on("ws");
  res.session = p.on("session");
  p.finish();
  if (res.fault_gap_max_ms < res.fault_gap_min_ms)
    p.usage_error("--fault-gap-max must not be below --fault-gap-min");
  return res;
}

// tls:// when the options carry a certificate (--tls-certs), else tcp://;
// with --ws, wss:// and ws:// instead.
std::string link_url(const netasync::options& opts, bool websocket,
                     uint16_t port) {
  bool tls = !opts.tls.cert_file.empty();
  std::string scheme = websocket ? (tls ? "wss" : "ws") : (tls ? "tls" : "tcp");
  return scheme + "://127.0.0.1:" + std::to_string(port)
         + (websocket ? "/soak" : "");
}

// -- payloads -----------------------------------------------------------------

constexpr size_t header_size = 16; // number (8), size (4), check word (4)

// Numbers beyond this cannot have been sent in any run this program can do:
// a header claiming one is corrupt (and cannot make the server allocate).
constexpr uint64_t max_plausible_seq = uint64_t{1} << 36;

uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t splitmix64(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  auto z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// What message n is: its size and every byte, as a function of (seed, n).
class payload_model {
public:
  payload_model(uint64_t seed, size_t max_size)
    : salt_(mix64(seed ^ 0x50a4b0d1e5eedULL)),
      max_size_(max_size),
      log_range_(std::log(static_cast<double>(max_size) + 1.0)) {
    // nop
  }

  size_t size_of(uint64_t seq) const {
    auto h = mix64(seq ^ salt_);
    if (h & 1)
      return 1 + static_cast<size_t>((h >> 1) % max_size_);
    auto u = static_cast<double>(h >> 11) * 0x1.0p-53; // [0, 1)
    auto s = static_cast<size_t>(std::exp(u * log_range_));
    return std::clamp<size_t>(s, 1, max_size_);
  }

  bytes make(uint64_t seq) const {
    bytes out(size_of(seq));
    auto n = out.size();
    auto* p = out.data();
    if (n < header_size) {
      char t[header_size];
      tiny(seq, t);
      std::memcpy(p, t, n);
      return out;
    }
    header(seq, n, p);
    auto state = body_seed(seq);
    size_t i = header_size;
    for (; i + 8 <= n; i += 8) {
      auto w = splitmix64(state);
      std::memcpy(p + i, &w, 8);
    }
    if (i < n) {
      auto w = splitmix64(state);
      std::memcpy(p + i, &w, n - i);
    }
    return out;
  }

  /// True iff p[0..n) is byte for byte the payload of message `seq`.
  bool matches(uint64_t seq, const char* p, size_t n) const {
    if (n != size_of(seq))
      return false;
    if (n < header_size) {
      char t[header_size];
      tiny(seq, t);
      return std::memcmp(t, p, n) == 0;
    }
    char h[header_size];
    header(seq, n, h);
    if (std::memcmp(h, p, header_size) != 0)
      return false;
    auto state = body_seed(seq);
    size_t i = header_size;
    for (; i + 8 <= n; i += 8) {
      auto w = splitmix64(state);
      if (std::memcmp(p + i, &w, 8) != 0)
        return false;
    }
    if (i < n) {
      auto w = splitmix64(state);
      if (std::memcmp(p + i, &w, n - i) != 0)
        return false;
    }
    return true;
  }

  /// For a payload with a header: the number the header claims, if the
  /// header is self-consistent (size field = length, check word of that
  /// number). The bytes still need matches().
  std::optional<uint64_t> claimed(const char* p, size_t n) const {
    if (n < header_size)
      return std::nullopt;
    uint64_t seq;
    uint32_t sz;
    uint32_t chk;
    std::memcpy(&seq, p, 8);
    std::memcpy(&sz, p + 8, 4);
    std::memcpy(&chk, p + 12, 4);
    if (sz != n || chk != check_of(seq) || seq >= max_plausible_seq)
      return std::nullopt;
    return seq;
  }

private:
  uint32_t check_of(uint64_t seq) const {
    return static_cast<uint32_t>(mix64(seq * 3 + salt_) >> 32);
  }

  uint64_t body_seed(uint64_t seq) const {
    return mix64(seq ^ ~salt_);
  }

  void header(uint64_t seq, size_t n, char* out) const {
    auto sz = static_cast<uint32_t>(n);
    auto chk = check_of(seq);
    std::memcpy(out, &seq, 8);
    std::memcpy(out + 8, &sz, 4);
    std::memcpy(out + 12, &chk, 4);
  }

  void tiny(uint64_t seq, char* out) const {
    auto a = mix64(seq + 0x7133 * salt_);
    auto b = mix64(a);
    std::memcpy(out, &a, 8);
    std::memcpy(out + 8, &b, 8);
  }

  uint64_t salt_;
  size_t max_size_;
  double log_range_;
};

// -- shared counters ----------------------------------------------------------

// Written by the actors, read by the main thread for the progress lines.
struct progress {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> connects{0};
  std::atomic<uint64_t> drops{0};
  std::atomic<uint64_t> failed_attempts{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> corrupt{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> server_connections{0};
};

// -- the server ---------------------------------------------------------------

// A payload received before the link's first payload with a header: its
// number is known once that one arrives.
struct tiny_entry {
  bool placeholder = false; // a corrupt payload that took a place
  uint8_t n = 0;
  std::array<char, header_size> data{};
};

// One server-side connection, in accept order (= the client's link order:
// the proxy dials the server when it accepts the client's link).
struct conn_rec {
  uint64_t index = 0;
  bool anchored = false;  // a payload with a header arrived
  uint64_t next = 0;      // the number the next payload must have
  std::vector<tiny_entry> prefix;
  uint64_t received = 0;  // payloads, intact or not
  bool any = false;       // numbers delivered: [first, last]
  uint64_t first = 0;
  uint64_t last = 0;
  bool closed = false;
  std::string close_reason;
  clock_type::time_point opened;
  clock_type::time_point closed_at;
};

// Losses between two links that delivered something (or before the first,
// or after the last): the messages the kernel accepted on the link(s) in
// between that never reached the server.
struct boundary {
  std::optional<size_t> from; // connection that delivered before
  std::optional<size_t> to;   // connection that delivered after
  uint64_t links = 0;         // links that ended in between (drops)
  uint64_t lost = 0;          // numbers never delivered
  uint64_t lost_bytes = 0;
};

struct server_data {
  std::vector<conn_rec> conns;
  std::unordered_map<caf::actor_id, size_t> by_id;
  std::vector<uint8_t> counts; // deliveries per number (saturating)
  uint64_t distinct = 0;
  uint64_t extra = 0;          // deliveries beyond the first
  uint64_t corrupt = 0;
  uint64_t order_violations = 0;
  uint64_t ambiguous = 0;      // tiny-only links that fit several places
  uint64_t logged = 0;
  uint64_t wire_bytes = 0;     // frames processed (payload + 4-byte header)
  bool frozen = false;
  // The report (filled by report_atom).
  uint64_t delivered = 0;      // distinct numbers < S
  uint64_t beyond = 0;         // deliveries of numbers >= S (never sent)
  uint64_t missing = 0;        // numbers < S never delivered
  uint64_t missing_wire = 0;   // ... their frames' bytes (payload + 4)
  uint64_t at_boundaries = 0;  // ... of which between links
  std::vector<boundary> boundaries;
};

struct server_state {
  std::shared_ptr<server_data> d;
  std::shared_ptr<progress> prog;
  std::optional<payload_model> model;
  static inline const char* name = "soak-server";
};

using server_actor = caf::stateful_actor<server_state>;

constexpr uint64_t max_logged = 20;

void log_anomaly(server_data& d, const std::string& what) {
  if (d.logged++ < max_logged)
    std::cerr << "[soak] ANOMALY: " << what << std::endl;
}

std::string hex_prefix(const char* p, size_t n) {
  std::ostringstream os;
  for (size_t i = 0; i < std::min<size_t>(n, 24); ++i)
    os << std::hex << std::setw(2) << std::setfill('0')
       << (static_cast<unsigned>(p[i]) & 0xff);
  return os.str();
}

void deliver(server_state& st, conn_rec& c, uint64_t seq, uint64_t pos) {
  auto& d = *st.d;
  if (seq >= d.counts.size())
    d.counts.resize(std::max<size_t>(seq + 1, d.counts.size() * 2 + 4096), 0);
  if (d.counts[seq] == 0) {
    ++d.distinct;
    st.prog->delivered = d.distinct;
  } else {
    ++d.extra;
    ++st.prog->duplicates;
    log_anomaly(d, "duplicate: #" + std::to_string(seq) + " delivered again"
                     + " on connection " + std::to_string(c.index)
                     + " at position " + std::to_string(pos));
  }
  if (d.counts[seq] < 255)
    ++d.counts[seq];
  if (!c.any) {
    c.any = true;
    c.first = c.last = seq;
  } else {
    c.first = std::min(c.first, seq);
    c.last = std::max(c.last, seq);
  }
}

void count_corrupt(server_state& st, conn_rec& c, uint64_t pos,
                   const char* p, size_t n, const std::string& why) {
  ++st.d->corrupt;
  ++st.prog->corrupt;
  log_anomaly(*st.d, "corrupt payload on connection " + std::to_string(c.index)
                       + " at position " + std::to_string(pos) + ", "
                       + std::to_string(n) + " bytes (" + why + "), starts "
                       + hex_prefix(p, n));
}

// The first payload with a header on `c` is number `seq`: the k tiny ones
// before it are seq - k .. seq - 1.
void anchor(server_state& st, conn_rec& c, uint64_t seq) {
  auto& d = *st.d;
  auto k = c.prefix.size();
  if (seq < k) {
    ++d.order_violations;
    log_anomaly(d, "connection " + std::to_string(c.index) + ": "
                     + std::to_string(k) + " payloads arrived before #"
                     + std::to_string(seq));
    for (auto& e : c.prefix)
      if (!e.placeholder)
        count_corrupt(st, c, 0, e.data.data(), e.n, "no number fits");
  } else {
    for (size_t i = 0; i < k; ++i) {
      auto& e = c.prefix[i];
      if (e.placeholder)
        continue;
      auto s = seq - k + i;
      if (st.model->matches(s, e.data.data(), e.n))
        deliver(st, c, s, i);
      else
        count_corrupt(st, c, i, e.data.data(), e.n,
                      "not #" + std::to_string(s) + " as its place says");
    }
  }
  c.prefix.clear();
  c.prefix.shrink_to_fit();
  c.anchored = true;
}

void on_payload(server_state& st, conn_rec& c, const bytes& p) {
  auto& d = *st.d;
  auto pos = c.received++;
  ++st.prog->received;
  auto n = p.size();
  d.wire_bytes += n + 4;
  if (n >= header_size) {
    auto seq = st.model->claimed(p.data(), n);
    if (!seq || !st.model->matches(*seq, p.data(), n)) {
      count_corrupt(st, c, pos, p.data(), n,
                    seq ? "bytes differ from #" + std::to_string(*seq)
                        : "inconsistent header");
      if (c.anchored) {
        ++c.next; // it took a place
      } else {
        tiny_entry e;
        e.placeholder = true;
        c.prefix.push_back(e);
      }
      return;
    }
    if (!c.anchored) {
      anchor(st, c, *seq);
    } else if (*seq != c.next) {
      ++d.order_violations;
      log_anomaly(d, "connection " + std::to_string(c.index) + ": #"
                       + std::to_string(*seq) + " arrived where #"
                       + std::to_string(c.next) + " was next");
    }
    deliver(st, c, *seq, pos);
    c.next = *seq + 1;
    return;
  }
  if (c.anchored) {
    auto s = c.next++;
    if (st.model->matches(s, p.data(), n))
      deliver(st, c, s, pos);
    else
      count_corrupt(st, c, pos, p.data(), n,
                    "not #" + std::to_string(s) + " as its place says");
    return;
  }
  tiny_entry e;
  e.n = static_cast<uint8_t>(n);
  std::memcpy(e.data.data(), p.data(), n);
  c.prefix.push_back(e);
}

// Links that carried only tiny payloads: place each between the links before
// and after it (numbers grow from link to link), where all its payloads
// match consecutive numbers.
void resolve_tiny_only_links(server_state& st, uint64_t sent) {
  auto& d = *st.d;
  for (size_t ci = 0; ci < d.conns.size(); ++ci) {
    auto& c = d.conns[ci];
    if (c.anchored || c.prefix.empty())
      continue;
    uint64_t lo = 0; // first candidate
    for (size_t j = 0; j < ci; ++j)
      if (d.conns[j].any)
        lo = std::max(lo, d.conns[j].last + 1);
    uint64_t hi = sent; // one past the last candidate number
    for (size_t j = ci + 1; j < d.conns.size(); ++j)
      if (d.conns[j].any)
        hi = std::min(hi, d.conns[j].first);
    auto m = c.prefix.size();
    auto fits = [&](uint64_t a) {
      for (size_t i = 0; i < m; ++i) {
        auto& e = c.prefix[i];
        if (!e.placeholder && !st.model->matches(a + i, e.data.data(), e.n))
          return false;
      }
      return true;
    };
    std::optional<uint64_t> found;
    uint64_t fitting = 0;
    for (uint64_t a = lo; a + m <= hi && a < lo + 10000000; ++a) {
      if (fits(a)) {
        if (!found)
          found = a;
        ++fitting;
      }
    }
    if (!found) {
      for (size_t i = 0; i < m; ++i)
        if (!c.prefix[i].placeholder)
          count_corrupt(st, c, i, c.prefix[i].data.data(), c.prefix[i].n,
                        "fits no number between the neighbouring links");
    } else {
      if (fitting > 1)
        ++d.ambiguous;
      for (size_t i = 0; i < m; ++i)
        if (!c.prefix[i].placeholder)
          deliver(st, c, *found + i, i);
    }
    c.prefix.clear();
    c.anchored = true;
  }
}

void make_report(server_state& st, uint64_t sent) {
  auto& d = *st.d;
  resolve_tiny_only_links(st, sent);
  d.delivered = 0;
  d.missing = 0;
  d.beyond = 0;
  for (uint64_t i = 0; i < d.counts.size(); ++i) {
    if (i < sent) {
      if (d.counts[i] > 0)
        ++d.delivered;
    } else if (d.counts[i] > 0) {
      d.beyond += d.counts[i];
      log_anomaly(d, "#" + std::to_string(i) + " delivered but never sent");
    }
  }
  d.corrupt += d.beyond; // a number never sent cannot be an intact message
  d.missing = sent - d.delivered;
  d.missing_wire = 0;
  for (uint64_t i = 0; i < sent; ++i)
    if (i >= d.counts.size() || d.counts[i] == 0)
      d.missing_wire += st.model->size_of(i) + 4;
  auto missing_in = [&](uint64_t from, uint64_t to, uint64_t& n,
                        uint64_t& b) {
    n = 0;
    b = 0;
    for (auto i = from; i < to && i < sent; ++i)
      if (i >= d.counts.size() || d.counts[i] == 0) {
        ++n;
        b += st.model->size_of(i);
      }
  };
  d.boundaries.clear();
  d.at_boundaries = 0;
  std::optional<size_t> prev;
  uint64_t next_first = 0; // one past the highest number delivered so far
  for (size_t ci = 0; ci < d.conns.size(); ++ci) {
    auto& c = d.conns[ci];
    if (!c.any)
      continue;
    boundary b;
    b.from = prev;
    b.to = ci;
    b.links = prev ? ci - *prev : ci;
    if (c.first < next_first) {
      ++d.order_violations;
      log_anomaly(d, "connection " + std::to_string(ci) + " starts at #"
                       + std::to_string(c.first)
                       + ", not after the links before it (up to #"
                       + std::to_string(next_first - 1) + ")");
    } else {
      missing_in(next_first, c.first, b.lost, b.lost_bytes);
    }
    d.at_boundaries += b.lost;
    d.boundaries.push_back(b);
    next_first = std::max(next_first, c.last + 1);
    prev = ci;
  }
  boundary tail;
  tail.from = prev;
  tail.links = prev ? d.conns.size() - *prev - 1 : d.conns.size();
  missing_in(next_first, sent, tail.lost, tail.lost_bytes);
  d.at_boundaries += tail.lost;
  d.boundaries.push_back(tail);
}

caf::behavior server_fun(server_actor* self, std::shared_ptr<server_data> d,
                         std::shared_ptr<progress> prog, payload_model model) {
  self->state.d = std::move(d);
  self->state.prog = std::move(prog);
  self->state.model.emplace(model);
  auto rec_of = [=](const netasync::connection& conn) -> conn_rec& {
    auto& d = *self->state.d;
    auto i = d.by_id.find(conn.id());
    if (i != d.by_id.end())
      return d.conns[i->second];
    conn_rec c;
    c.index = d.conns.size();
    c.opened = clock_type::now();
    d.by_id.emplace(conn.id(), c.index);
    d.conns.push_back(std::move(c));
    ++self->state.prog->server_connections;
    return d.conns.back();
  };
  return {
    [=](netasync::accepted_atom, const netasync::acceptor&,
        const netasync::connection& conn) {
      if (self->state.d->frozen)
        return;
      rec_of(conn);
      self->send(conn, netasync::subscribe_atom::value,
                 caf::actor_cast<caf::actor>(self));
    },
    [=](const netasync::connection& conn, const bytes& payload) {
      if (self->state.d->frozen)
        return;
      on_payload(self->state, rec_of(conn), payload);
    },
    [](netasync::connected_atom, const netasync::connection&) {},
    [](netasync::disconnected_atom, const netasync::connection&,
       const caf::error&) {},
    [=](netasync::closed_atom, const netasync::connection& conn,
        const caf::error& err) {
      if (self->state.d->frozen)
        return;
      auto& c = rec_of(conn);
      c.closed = true;
      c.close_reason = code_name(err);
      c.closed_at = clock_type::now();
    },
    [](netasync::closed_atom, const netasync::acceptor&, const caf::error&) {},
    [=](live_atom) {
      uint64_t n = 0;
      for (auto& c : self->state.d->conns)
        if (!c.closed)
          ++n;
      return n;
    },
    [=](report_atom, uint64_t sent) {
      make_report(self->state, sent);
      self->state.d->frozen = true;
      return true;
    },
  };
}

// -- the client ---------------------------------------------------------------

struct client_config {
  uint16_t port = 0;
  bool websocket = false;
  netasync::options opts;
  uint64_t window_messages = 0;
  uint64_t window_bytes = 0;
  double rate = 0;
  caf::timespan drain_timeout;
};

struct client_data {
  uint64_t sent = 0;
  uint64_t refused = 0;
  std::map<std::string, uint64_t> refusals;      // by reason
  std::map<std::string, uint64_t> drop_reasons;  // links lost
  std::map<std::string, uint64_t> attempt_reasons; // attempts that failed
  uint64_t connects = 0;
  uint64_t drops = 0;
  uint64_t failed_attempts = 0;
  bool have_final_stats = false;
  netasync::connection_stats final_stats;
  bool drain_timed_out = false;
  bool closed = false;
  bool close_timed_out = false;
  std::string closed_reason;
  uint64_t unsent_at_close = 0;
  std::string failure; // the client could not run at all
};

struct client_state {
  client_config cfg;
  std::optional<payload_model> model;
  std::shared_ptr<client_data> out;
  std::shared_ptr<progress> prog;
  netasync::connection conn;
  uint64_t next_seq = 0; // = messages accepted so far
  bool request_pending = false;
  bool stats_pending = false;
  bool kick_scheduled = false;
  bool stats_fresh = false; // est_* come from stats no send has changed since
  uint64_t est_messages = 0; // in the outbound buffer, as far as we know
  uint64_t est_bytes = 0;
  bool link_up = false;
  bool stopping = false;
  bool draining = false;
  bool closing = false;
  bool done = false;
  caf::response_promise stop_promise;
  clock_type::time_point started;
  clock_type::time_point drain_deadline;
  static inline const char* name = "soak-client";
};

using client_actor = caf::stateful_actor<client_state>;

void advance(client_actor* self);

void schedule_kick(client_actor* self, caf::timespan after) {
  auto& st = self->state;
  if (st.kick_scheduled)
    return;
  st.kick_scheduled = true;
  self->delayed_send(self, after, kick_atom::value);
}

void finish_client(client_actor* self) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  if (st.stop_promise.pending())
    st.stop_promise.deliver(true);
  self->quit();
}

void close_connection(client_actor* self) {
  auto& st = self->state;
  st.closing = true;
  self->send(st.conn, netasync::close_atom::value);
  self->delayed_send(self, st.cfg.opts.close_linger + std::chrono::seconds(10),
                     close_wait_atom::value);
}

void on_drain_stats(client_actor* self, const netasync::connection_stats& s) {
  auto& st = self->state;
  auto drained = s.buffered_messages == 0 && s.state == "connected";
  auto late = clock_type::now() >= st.drain_deadline;
  if (drained || late) {
    st.out->final_stats = s;
    st.out->have_final_stats = true;
    st.out->drain_timed_out = !drained;
    if (!drained)
      std::cerr << "[soak] drain timeout: state " << s.state << ", "
                << s.buffered_messages << " messages still buffered"
                << std::endl;
    close_connection(self);
    return;
  }
  self->delayed_send(self, milliseconds(20), drain_poll_atom::value);
}

void request_stats(client_actor* self) {
  auto& st = self->state;
  st.stats_pending = true;
  self
    ->request(st.conn, std::chrono::seconds(5), netasync::get_atom::value,
              netasync::stats_atom::value)
    .then(
      [=](const netasync::connection_stats& s) {
        auto& st = self->state;
        st.stats_pending = false;
        if (st.done || st.closing)
          return;
        if (st.draining) {
          on_drain_stats(self, s);
          return;
        }
        st.est_messages = s.buffered_messages;
        st.est_bytes = s.buffered_bytes;
        st.stats_fresh = true;
        advance(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.stats_pending = false;
        std::cerr << "[soak] client: stats request failed: "
                  << netasync::describe(err) << std::endl;
        if (st.done || st.closing)
          return;
        if (st.draining)
          self->delayed_send(self, milliseconds(20), drain_poll_atom::value);
        else
          schedule_kick(self, milliseconds(10));
      });
}

bool window_full(const client_state& st, size_t next_size) {
  if (st.est_messages == 0)
    return false; // one message always fits, however large
  return st.est_messages + 1 > st.cfg.window_messages
         || st.est_bytes + next_size > st.cfg.window_bytes;
}

void try_send(client_actor* self) {
  auto& st = self->state;
  if (st.cfg.rate > 0) {
    auto elapsed = seconds_since(st.started, clock_type::now());
    auto due = static_cast<double>(st.next_seq) / st.cfg.rate;
    if (due > elapsed) {
      schedule_kick(self, std::chrono::duration_cast<caf::timespan>(
                            std::chrono::duration<double>(due - elapsed)));
      return;
    }
  }
  auto seq = st.next_seq;
  auto size = st.model->size_of(seq);
  if (window_full(st, size)) {
    // Learn how much the connection has written meanwhile; if fresh stats
    // say it is still full, advance() looks again shortly (a kick makes the
    // stats stale).
    if (!st.stats_fresh && !st.stats_pending)
      request_stats(self);
    return;
  }
  st.request_pending = true;
  self->request(st.conn, caf::infinite, st.model->make(seq))
    .then(
      [=] {
        auto& st = self->state;
        st.request_pending = false;
        st.next_seq = seq + 1;
        st.out->sent = st.next_seq;
        st.prog->sent = st.next_seq;
        ++st.est_messages;
        st.est_bytes += size;
        st.stats_fresh = false;
        advance(self);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.request_pending = false;
        ++st.out->refused;
        ++st.prog->refused;
        auto why = code_name(err);
        if (st.out->refusals[why]++ == 0)
          std::cerr << "[soak] client: first refusal (" << why << "): #"
                    << seq << ", " << size << " bytes: "
                    << netasync::describe(err) << std::endl;
        // The same number is offered again (it was not sent).
        if (st.stopping)
          advance(self);
        else
          schedule_kick(self, milliseconds(10));
      });
}

// The next step: send, wait, or (once stopping and nothing is pending)
// drain and close.
void advance(client_actor* self) {
  auto& st = self->state;
  if (st.done || st.closing || st.request_pending)
    return;
  if (st.stopping) {
    if (!st.draining && !st.stats_pending) {
      st.draining = true;
      st.drain_deadline = clock_type::now() + st.cfg.drain_timeout;
      request_stats(self);
    }
    return;
  }
  if (st.stats_pending)
    return;
  try_send(self);
  // A full window with fresh stats: look again shortly.
  if (!st.request_pending && !st.stats_pending)
    schedule_kick(self, milliseconds(5));
}

caf::behavior client_fun(client_actor* self, client_config cfg,
                         std::shared_ptr<client_data> out,
                         std::shared_ptr<progress> prog,
                         payload_model model) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.model.emplace(model);
  st.out = std::move(out);
  st.prog = std::move(prog);
  st.started = clock_type::now();
  auto conn = netasync::connect(self->system(),
                                link_url(st.cfg.opts, st.cfg.websocket,
                                         st.cfg.port),
                                st.cfg.opts,
                                {caf::actor_cast<caf::actor>(self)});
  if (!conn) {
    st.out->failure = "connect: " + netasync::describe(conn.error());
    st.done = true;
  } else {
    st.conn = *conn;
    advance(self); // sends wait in the buffer until the first link is up
  }
  return {
    [=](kick_atom) {
      self->state.kick_scheduled = false;
      self->state.stats_fresh = false;
      advance(self);
    },
    [=](netasync::connected_atom, const netasync::connection&) {
      auto& st = self->state;
      st.link_up = true;
      ++st.out->connects;
      ++st.prog->connects;
    },
    [=](netasync::disconnected_atom, const netasync::connection&,
        const caf::error& err) {
      auto& st = self->state;
      if (st.link_up) {
        ++st.out->drops;
        ++st.prog->drops;
        ++st.out->drop_reasons[code_name(err)];
      } else {
        ++st.out->failed_attempts;
        ++st.prog->failed_attempts;
        ++st.out->attempt_reasons[code_name(err)];
      }
      st.link_up = false;
    },
    [=](netasync::closed_atom, const netasync::connection&,
        const caf::error& err) {
      auto& st = self->state;
      st.link_up = false;
      st.out->closed = true;
      st.out->closed_reason = netasync::describe(err);
      if (netasync::code_of(err) == netasync::error::linger_expired) {
        // "netasync::linger_expired (N messages unsent)"
        auto text = st.out->closed_reason;
        auto open = text.find('(');
        if (open != std::string::npos)
          st.out->unsent_at_close = std::strtoull(text.c_str() + open + 1,
                                                  nullptr, 10);
      }
      if (!st.closing)
        std::cerr << "[soak] client: connection closed unexpectedly: "
                  << st.out->closed_reason << std::endl;
      finish_client(self);
    },
    [](const netasync::connection&, const bytes&) {
      // One way: the server sends nothing.
    },
    [=](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (st.done)
        return true;
      st.stop_promise = self->make_response_promise();
      st.stopping = true;
      advance(self);
      return st.stop_promise;
    },
    [=](drain_poll_atom) {
      auto& st = self->state;
      if (!st.done && !st.closing && !st.stats_pending)
        request_stats(self);
    },
    [=](close_wait_atom) {
      auto& st = self->state;
      if (st.done)
        return;
      st.out->close_timed_out = true;
      std::cerr << "[soak] client: no closed status within the close bound"
                << std::endl;
      finish_client(self);
    },
  };
}

// -- faults -------------------------------------------------------------------

enum class fault_kind {
  delay,
  stall,
  reset_all,
  half_close_to_server,
  half_close_to_client,
  cut_next_frame,
  black_hole,
};

constexpr size_t fault_kinds = 7;

const char* name_of(fault_kind k) {
  switch (k) {
    case fault_kind::delay: return "delay";
    case fault_kind::stall: return "stall";
    case fault_kind::reset_all: return "reset_all";
    case fault_kind::half_close_to_server: return "half_close(to_server)";
    case fault_kind::half_close_to_client: return "half_close(to_client)";
    case fault_kind::cut_next_frame: return "cut_next_frame";
    case fault_kind::black_hole: return "black_hole";
  }
  return "?";
}

struct fault_event {
  clock_type::time_point at;
  fault_kind kind;
  std::string detail;
};

uint64_t read_sysctl_max(const char* path) {
  std::ifstream in{path};
  uint64_t a = 0;
  uint64_t b = 0;
  uint64_t c = 0;
  if (in >> a >> b >> c)
    return c;
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  auto a = parse_args(argc, argv);
  netasync::system_config cfg;
  if (!cli::load_config(cfg))
    return 2;
  uint64_t seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed)
                              : (std::random_device{}() & 0x7fffffff);
  auto hb_period = milliseconds(a.heartbeat_period_ms);
  auto hb_timeout = a.heartbeat_timeout_ms > 0
                      ? milliseconds(a.heartbeat_timeout_ms)
                      : 4 * hb_period;
  std::cerr << "[soak] seed " << seed << ", " << a.seconds
            << " s of faults; heartbeat period " << a.heartbeat_period_ms
            << " ms (timeout " << hb_timeout.count() << " ms), reconnect period "
            << a.reconnect_period_ms << " ms, connect timeout "
            << a.connect_timeout_ms << " ms, window " << a.window_messages
            << " messages / " << a.window_bytes << " bytes, sizes 1.."
            << a.max_size << " B, rate "
            << (a.rate > 0 ? std::to_string(a.rate) + "/s" : "unlimited")
            << std::endl;

  payload_model model{seed, static_cast<size_t>(a.max_size)};
  auto prog = std::make_shared<progress>();
  auto sdata = std::make_shared<server_data>();
  auto cdata = std::make_shared<client_data>();
  std::vector<fault_event> faults;
  std::array<uint64_t, fault_kinds> by_kind{};
  std::array<uint64_t, fault_kinds> no_link{}; // reset/half-close of no link
  uint64_t proxy_errors = 0;
  fault_proxy::counters proxy_stats;
  bool completed = true;
  std::vector<std::string> incomplete; // why the run did not complete
  auto t0 = clock_type::now();

  {
    caf::actor_system sys{cfg};
    auto opts = netasync::options::from(sys.config());
    opts.heartbeat_period = hb_period;
    opts.heartbeat_timeout = caf::timespan{hb_timeout};
    opts.reconnect_period = milliseconds(a.reconnect_period_ms);
    opts.connect_timeout = milliseconds(a.connect_timeout_ms);
    if (a.max_outbound_messages > 0)
      opts.max_outbound_messages
        = static_cast<size_t>(a.max_outbound_messages);
    if (a.max_outbound_bytes > 0)
      opts.max_outbound_bytes = static_cast<size_t>(a.max_outbound_bytes);
    else // the run keeps window-bytes in flight
      opts.max_outbound_bytes = std::max(opts.max_outbound_bytes,
                                         static_cast<size_t>(a.window_bytes) * 2);
    opts.max_frame_size = std::max<uint32_t>(opts.max_frame_size,
                                             static_cast<uint32_t>(a.max_size)
                                               + 64);
    opts.session = a.session;

    auto server = sys.spawn(server_fun, sdata, prog, model);
    if (!a.tls_certs.empty()) {
      opts.tls.cert_file = a.tls_certs + "/server.pem";
      opts.tls.key_file = a.tls_certs + "/server.key";
      opts.tls.ca_file = a.tls_certs + "/ca.pem";
    }
    auto acc = netasync::accept(sys, link_url(opts, a.websocket, 0), opts,
                                {server});
    if (!acc) {
      std::cerr << "[soak] accept failed: " << netasync::describe(acc.error())
                << std::endl;
      caf::anon_send_exit(server, caf::exit_reason::kill);
      std::cout << "sent 0, delivered 0, dropped-counted 0, lost-uncounted 0,"
                   " duplicates 0"
                << std::endl;
      return 1;
    }
    auto port = netasync::bound_port(sys, *acc);
    if (!port) {
      std::cerr << "[soak] no bound port" << std::endl;
      return 1;
    }
    auto proxy = std::make_unique<fault_proxy>(*port);

    client_config ccfg;
    ccfg.port = proxy->port();
    ccfg.websocket = a.websocket;
    ccfg.opts = opts;
    ccfg.window_messages = static_cast<uint64_t>(a.window_messages);
    ccfg.window_bytes = static_cast<uint64_t>(a.window_bytes);
    ccfg.rate = static_cast<double>(a.rate);
    ccfg.drain_timeout = std::chrono::seconds(a.drain_timeout_s);
    auto client = sys.spawn(client_fun, ccfg, cdata, prog, model);

    // -- the fault schedule (this thread) ------------------------------------
    std::mt19937_64 rng{seed};
    auto uniform = [&](long long lo, long long hi) {
      return std::uniform_int_distribution<long long>{lo, hi}(rng);
    };
    auto end = t0 + std::chrono::seconds(a.seconds);
    auto next_progress = t0 + std::chrono::seconds(10);
    auto print_progress = [&](const char* tag) {
      auto now = clock_type::now();
      auto ps = proxy->stats();
      std::ostringstream os;
      os << "[soak] " << tag << std::fixed << std::setprecision(0)
         << seconds_since(t0, now) << " s: faults";
      for (size_t k = 0; k < fault_kinds; ++k)
        os << (k ? ", " : " ") << name_of(static_cast<fault_kind>(k)) << ' '
           << by_kind[k];
      os << " (cuts fired " << ps.cuts << ", links reset by the proxy "
         << ps.resets << "); reconnects "
         << (prog->connects > 0 ? prog->connects - 1 : 0) << " (links lost "
         << prog->drops << ", failed attempts " << prog->failed_attempts
         << "); sent " << prog->sent << ", delivered " << prog->delivered
         << ", refused " << prog->refused << ", corrupt " << prog->corrupt
         << ", duplicates " << prog->duplicates;
      std::cerr << os.str() << std::endl;
    };
    // Sleeps until `t` (or the end), printing progress every 10 s.
    auto sleep_until = [&](clock_type::time_point t) {
      t = std::min(t, end);
      for (;;) {
        auto now = clock_type::now();
        if (now >= next_progress) {
          print_progress("");
          next_progress += std::chrono::seconds(10);
        }
        if (now >= t)
          return;
        auto step = std::min<clock_type::duration>(t - now, milliseconds(100));
        std::this_thread::sleep_for(step);
      }
    };
    auto command = [&](const char* what, auto&& fn) {
      try {
        fn();
      } catch (const std::exception& e) {
        ++proxy_errors;
        std::cerr << "[soak] proxy command " << what << " failed: " << e.what()
                  << std::endl;
      }
    };
    while (clock_type::now() < end) {
      sleep_until(clock_type::now()
                  + milliseconds(uniform(a.fault_gap_min_ms,
                                         a.fault_gap_max_ms)));
      if (clock_type::now() >= end)
        break;
      auto kind = static_cast<fault_kind>(
        uniform(0, static_cast<long long>(fault_kinds) - 1));
      std::ostringstream detail;
      auto note = [&] {
        faults.push_back(fault_event{clock_type::now(), kind, detail.str()});
        ++by_kind[static_cast<size_t>(kind)];
      };
      switch (kind) {
        case fault_kind::delay: {
          auto d = milliseconds(uniform(1, 200));
          auto hold = milliseconds(uniform(500, 3000));
          detail << d.count() << " ms each way for " << hold.count() << " ms";
          command("delay", [&] { proxy->delay(d); });
          note();
          sleep_until(clock_type::now() + hold);
          command("pass", [&] { proxy->pass(); });
          break;
        }
        case fault_kind::stall: {
          auto hold = milliseconds(uniform(100, 2500));
          detail << hold.count() << " ms";
          command("stall", [&] { proxy->stall(); });
          note();
          sleep_until(clock_type::now() + hold);
          command("pass", [&] { proxy->pass(); });
          break;
        }
        case fault_kind::reset_all: {
          size_t n = 0;
          command("reset_all", [&] { n = proxy->reset_all(); });
          detail << n << " links";
          note();
          no_link[static_cast<size_t>(kind)] += n == 0;
          break;
        }
        case fault_kind::half_close_to_server:
        case fault_kind::half_close_to_client: {
          auto dir = kind == fault_kind::half_close_to_server
                       ? fault_proxy::direction::to_server
                       : fault_proxy::direction::to_client;
          size_t n = 0;
          command("half_close", [&] { n = proxy->half_close(dir); });
          detail << n << " links";
          note();
          no_link[static_cast<size_t>(kind)] += n == 0;
          break;
        }
        case fault_kind::cut_next_frame: {
          auto min_payload = static_cast<uint32_t>(uniform(16, 128 * 1024));
          detail << "next frame of at least " << min_payload << " B";
          command("cut_next_frame", [&] {
            proxy->cut_next_frame(fault_proxy::direction::to_server,
                                  min_payload);
          });
          note();
          break;
        }
        case fault_kind::black_hole: {
          auto hold = milliseconds(uniform(500, 3000));
          size_t n = 0;
          command("black_hole", [&] { proxy->black_hole(true); });
          command("reset_all", [&] { n = proxy->reset_all(); });
          detail << hold.count() << " ms, " << n << " links reset";
          note();
          no_link[static_cast<size_t>(kind)] += n == 0;
          sleep_until(clock_type::now() + hold);
          command("black_hole off", [&] { proxy->black_hole(false); });
          break;
        }
      }
    }

    // -- the end: pass, drain, close, wait ------------------------------------
    command("pass", [&] { proxy->pass(); });
    command("black_hole off", [&] { proxy->black_hole(false); });
    print_progress("faults stopped at ");
    caf::scoped_actor self{sys};
    bool client_ok = false;
    self
      ->request(client,
                std::chrono::seconds(a.drain_timeout_s) + opts.close_linger
                  + std::chrono::seconds(30),
                stop_atom::value)
      .receive([&](bool ok) { client_ok = ok; },
               [&](caf::error& err) {
                 std::cerr << "[soak] client did not finish: "
                           << netasync::describe(err) << std::endl;
               });
    if (!cdata->failure.empty()) {
      completed = false;
      incomplete.push_back("client failed: " + cdata->failure);
    }
    if (!client_ok) {
      completed = false;
      incomplete.push_back("the client did not finish");
    }
    // Every server-side connection must end (the last one at the client's
    // close; any other by its reset or heartbeat timeout).
    auto live_deadline = clock_type::now() + std::chrono::seconds(15);
    uint64_t live = 1;
    while (clock_type::now() < live_deadline) {
      self->request(server, std::chrono::seconds(5), live_atom::value)
        .receive([&](uint64_t n) { live = n; },
                 [&](caf::error&) { live = 1; });
      if (live == 0)
        break;
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (live != 0) {
      completed = false;
      incomplete.push_back(std::to_string(live)
                           + " server connections still open");
    }
    bool reported = false;
    self
      ->request(server, std::chrono::seconds(120), report_atom::value,
                cdata->sent)
      .receive([&](bool) { reported = true; },
               [&](caf::error& err) {
                 std::cerr << "[soak] server report failed: "
                           << caf::to_string(err) << std::endl;
               });
    if (!reported) {
      completed = false;
      incomplete.push_back("no server report");
    }
    proxy_stats = proxy->stats();
    proxy.reset();
    self->send(*acc, netasync::close_atom::value);
    caf::anon_send_exit(server, caf::exit_reason::kill);
    caf::anon_send_exit(client, caf::exit_reason::kill);
  }

  // -- the verdict ------------------------------------------------------------
  auto& c = *cdata;
  auto& s = *sdata;
  if (c.drain_timed_out) {
    completed = false;
    incomplete.push_back("the outbound buffer did not drain on a live link");
  }
  if (!c.closed) {
    completed = false;
    incomplete.push_back("no closed status from the client's connection");
  } else if (c.closed_reason != "none") {
    completed = false;
    incomplete.push_back("the close was not graceful: " + c.closed_reason);
  }
  if (proxy_errors > 0) {
    completed = false;
    incomplete.push_back(std::to_string(proxy_errors)
                         + " proxy commands failed");
  }
  uint64_t sent = c.sent;
  uint64_t delivered = s.delivered;
  uint64_t dropped = (c.have_final_stats ? c.final_stats.dropped : 0)
                     + c.unsent_at_close;
  auto lost = static_cast<long long>(sent) - static_cast<long long>(delivered)
              - static_cast<long long>(dropped);
  uint64_t duplicates = s.extra + s.corrupt;
  auto mid_link = s.missing >= s.at_boundaries ? s.missing - s.at_boundaries
                                               : 0;
  auto elapsed = seconds_since(t0, clock_type::now());

  std::cerr << "[soak] ran " << std::fixed << std::setprecision(1) << elapsed
            << " s (seed " << seed << ")" << std::endl;
  {
    std::ostringstream os;
    os << "[soak] faults injected: " << faults.size() << " (";
    for (size_t k = 0; k < fault_kinds; ++k)
      os << (k ? ", " : "") << name_of(static_cast<fault_kind>(k)) << ' '
         << by_kind[k];
    os << "); while no link was up: reset_all "
       << no_link[static_cast<size_t>(fault_kind::reset_all)]
       << ", half_close "
       << no_link[static_cast<size_t>(fault_kind::half_close_to_server)]
            + no_link[static_cast<size_t>(fault_kind::half_close_to_client)]
       << ", black_hole "
       << no_link[static_cast<size_t>(fault_kind::black_hole)]
       << "; proxy: " << proxy_stats.accepted << " links accepted, "
       << proxy_stats.resets << " reset by reset_all, " << proxy_stats.cuts
       << " frames cut, " << proxy_stats.half_closes << " half-closed, "
       << proxy_stats.bytes_to_server << " bytes forwarded to the server";
    std::cerr << os.str() << std::endl;
  }
  {
    std::ostringstream os;
    os << "[soak] client: " << c.connects << " links (reconnects "
       << (c.connects > 0 ? c.connects - 1 : 0) << "), " << c.drops
       << " links lost (";
    bool first = true;
    for (auto& [why, n] : c.drop_reasons) {
      os << (first ? "" : ", ") << why << ' ' << n;
      first = false;
    }
    if (c.drop_reasons.empty())
      os << "none";
    os << "), " << c.failed_attempts << " failed attempts (";
    first = true;
    for (auto& [why, n] : c.attempt_reasons) {
      os << (first ? "" : ", ") << why << ' ' << n;
      first = false;
    }
    if (c.attempt_reasons.empty())
      os << "none";
    os << "); server: " << s.conns.size() << " connections";
    std::cerr << os.str() << std::endl;
  }
  {
    std::ostringstream os;
    os << "[soak] refused sends (not counted as sent): " << c.refused;
    for (auto& [why, n] : c.refusals)
      os << ", " << why << ' ' << n;
    if (c.have_final_stats)
      os << "; final connection stats: state " << c.final_stats.state
         << ", connects " << c.final_stats.connects << ", disconnects "
         << c.final_stats.disconnects << ", restarts "
         << c.final_stats.restarts << ", sent " << c.final_stats.sent
         << ", dropped " << c.final_stats.dropped << ", rejected "
         << c.final_stats.rejected << ", buffered "
         << c.final_stats.buffered_messages;
    os << "; closed: " << (c.closed ? c.closed_reason : "no");
    if (c.unsent_at_close > 0)
      os << " (" << c.unsent_at_close << " unsent, counted as dropped)";
    std::cerr << os.str() << std::endl;
  }

  // Where the uncounted losses are: at which link boundary, after which
  // fault. A boundary is where one link that delivered something gave way to
  // the next one that did; `links` links ended there (more than one when
  // links in between delivered nothing).
  // What one link end can lose: frames the client's kernel accepted that
  // the server never processed. They can wait in the client's send buffer
  // (autotuned up to tcp_wmem's maximum), in the proxy (its two fixed socket
  // buffers, which the kernel doubles, its queue and one read), and in the
  // server's receive queue: after a reset that queue is still readable, but
  // the server's transport closes the socket at its first failed write (a
  // heartbeat) and the kernel discards what it had not read -- most while the
  // server had stopped reading (receive window) and its queue had grown (up
  // to tcp_rmem's maximum). half_close(to_server) also makes the proxy read
  // and discard what the client sends until the server's reset comes back:
  // bounded by time, not by buffers.
  auto wmem = read_sysctl_max("/proc/sys/net/ipv4/tcp_wmem");
  auto rmem = read_sysctl_max("/proc/sys/net/ipv4/tcp_rmem");
  auto proxy_bound = 2 * 2 * static_cast<uint64_t>(fault_proxy::socket_buffer)
                     + fault_proxy::max_queued + fault_proxy::read_size;
  auto sender_bound = wmem + proxy_bound; // client kernel + proxy
  auto link_bound = sender_bound + rmem;  // + server receive queue
  struct kind_sum {
    uint64_t boundaries = 0;
    uint64_t with_loss = 0;
    uint64_t lost = 0;
    uint64_t max_lost = 0;
    uint64_t max_bytes = 0;
    uint64_t above_sender = 0; // more than client kernel + proxy hold
    uint64_t above_bound = 0;  // more than all buffers hold
  };
  std::map<std::string, kind_sum> by_cause;
  uint64_t max_lost = 0;
  uint64_t max_bytes = 0;
  uint64_t max_links = 0;
  uint64_t boundaries_with_loss = 0;
  uint64_t above_sender = 0;
  uint64_t above_bound = 0;
  uint64_t above_bound_unexplained = 0;
  std::vector<std::string> outliers; // boundaries above sender_bound
  double max_per_link_end = 0;
  std::string max_cause;
  for (auto& b : s.boundaries) {
    std::string cause;
    bool discarding = false;
    if (!b.from) {
      cause = "before the first delivering link";
    } else if (!b.to) {
      cause = "after the last delivering link";
    } else {
      // The last fault injected before the link that delivered last ended.
      auto& prev = s.conns[*b.from];
      auto until = prev.closed ? prev.closed_at : clock_type::now();
      const fault_event* last = nullptr;
      for (auto& f : faults)
        if (f.at <= until)
          last = &f;
      cause = last ? name_of(last->kind) : "no fault before it";
      discarding = last && last->kind == fault_kind::half_close_to_server;
      if (prev.closed && !prev.close_reason.empty())
        cause += " -> " + prev.close_reason;
    }
    auto& ks = by_cause[cause];
    ++ks.boundaries;
    if (b.lost > 0) {
      ++ks.with_loss;
      ++boundaries_with_loss;
    }
    ks.lost += b.lost;
    ks.max_lost = std::max(ks.max_lost, b.lost);
    ks.max_bytes = std::max(ks.max_bytes, b.lost_bytes);
    auto ends = std::max<uint64_t>(b.links, 1);
    if (b.lost > 0 && b.lost_bytes > ends * sender_bound) {
      ++ks.above_sender;
      ++above_sender;
      std::ostringstream os;
      os << "connections " << (b.from ? std::to_string(*b.from) : "-")
         << " -> " << (b.to ? std::to_string(*b.to) : "-") << ": " << b.lost
         << " messages / " << mib(b.lost_bytes) << " over " << b.links
         << " link end(s), " << cause;
      outliers.push_back(os.str());
    }
    if (b.lost > 0 && b.lost_bytes > ends * link_bound) {
      ++ks.above_bound;
      ++above_bound;
      if (!discarding)
        ++above_bound_unexplained;
    }
    if (b.links > 0)
      max_per_link_end = std::max(max_per_link_end,
                                  static_cast<double>(b.lost_bytes) / b.links);
    if (b.lost > max_lost || (b.lost == max_lost && b.lost_bytes > max_bytes)) {
      max_lost = b.lost;
      max_bytes = b.lost_bytes;
      max_links = b.links;
      max_cause = cause;
    }
  }
  std::cerr << "[soak] drops: " << c.drops << " links lost, "
            << s.boundaries.size() << " boundaries between delivering links"
            << " (incl. before the first / after the last), "
            << boundaries_with_loss << " of them with uncounted losses"
            << std::endl;
  std::cerr << "[soak] uncounted losses: " << s.missing
            << " messages never delivered, " << s.at_boundaries
            << " of them at link boundaries, " << mid_link
            << " in the middle of a link; most at one boundary: " << max_lost
            << " messages / " << max_bytes << " bytes (" << mib(max_bytes)
            << ", " << max_links << " link end(s), " << max_cause
            << "); most per link end: "
            << mib(static_cast<uint64_t>(max_per_link_end)) << std::endl;
  std::cerr << "[soak] by the last fault before the link ended (-> the"
            << " server side's reason):" << std::endl;
  for (auto& [cause, ks] : by_cause)
    std::cerr << "[soak]   " << cause << ": " << ks.boundaries
              << " boundaries, " << ks.with_loss << " with loss, " << ks.lost
              << " messages lost, at most " << ks.max_lost << " / "
              << mib(ks.max_bytes) << " at one"
              << (ks.above_sender > 0
                    ? ", " + std::to_string(ks.above_sender)
                        + " above client kernel + proxy"
                    : std::string{})
              << (ks.above_bound > 0
                    ? ", " + std::to_string(ks.above_bound)
                        + " above all buffers"
                    : std::string{})
              << std::endl;
  // Where the lost bytes were: what the proxy wrote into server-side
  // sockets and the server never processed (its unread receive queue at a
  // reset, frames torn by a drop, heartbeats) versus the rest (the client's
  // kernel and the proxy).
  auto forwarded = proxy_stats.bytes_to_server;
  auto server_side = forwarded > s.wire_bytes ? forwarded - s.wire_bytes : 0;
  std::cerr << "[soak] lost frames: " << mib(s.missing_wire)
            << " (with headers); the proxy wrote " << mib(server_side)
            << " into server-side sockets that the server never processed"
            << " (unread receive queues at a reset, torn frames, heartbeats),"
            << " so at least "
            << mib(s.missing_wire > server_side ? s.missing_wire - server_side
                                                : 0)
            << " were lost in the client's kernel and the proxy" << std::endl;
  std::cerr << "[soak] buffers per link end: client send buffer <= "
            << mib(wmem) << " (tcp_wmem max) + proxy " << mib(proxy_bound)
            << " = " << mib(sender_bound) << ", + server receive queue <= "
            << mib(rmem) << " (tcp_rmem max) = " << mib(link_bound)
            << "; boundaries losing more than link ends x "
            << mib(sender_bound) << ": " << above_sender
            << ", more than link ends x " << mib(link_bound) << ": "
            << above_bound << " (" << (above_bound - above_bound_unexplained)
            << " after half_close(to_server), whose proxy discards until the"
            << " reset comes back; " << above_bound_unexplained
            << " unexplained)" << std::endl;
  for (size_t i = 0; i < outliers.size() && i < 10; ++i)
    std::cerr << "[soak]   above client kernel + proxy: " << outliers[i]
              << std::endl;
  if (outliers.size() > 10)
    std::cerr << "[soak]   ... and " << outliers.size() - 10 << " more"
              << std::endl;
  std::cerr << "[soak] checks: corrupt " << s.corrupt
            << ", deliveries beyond the first " << s.extra
            << ", order violations " << s.order_violations
            << ", never-sent numbers delivered " << s.beyond
            << ", tiny-only links placed ambiguously " << s.ambiguous
            << std::endl;
  if (lost > 0)
    std::cerr << "[soak] U = " << lost << " > 0 is allowed: every such message"
              << " was accepted by the kernel on a link that then dropped"
              << (mid_link == 0 && s.order_violations == 0
                    ? " (all at link boundaries, as above)"
                    : " -- NOT all at link boundaries, see above")
              << std::endl;
  if (static_cast<uint64_t>(lost > 0 ? lost : 0) != s.missing)
    std::cerr << "[soak] note: U = " << lost << " differs from the "
              << s.missing << " numbers never delivered (dropped-counted "
              << dropped << ")" << std::endl;
  for (auto& why : incomplete)
    std::cerr << "[soak] incomplete: " << why << std::endl;

  bool ok = completed && duplicates == 0 && s.corrupt == 0
            && s.order_violations == 0 && mid_link == 0 && lost >= 0;
  if (a.session) {
    // Exactly once: nothing lost at link boundaries either, and one server
    // connection that every link resumed.
    auto conns = prog->server_connections.load();
    std::cerr << "[soak] session: " << conns << " server connection(s), "
              << s.missing << " numbers never delivered" << std::endl;
    ok = ok && lost == 0 && s.missing == 0 && conns == 1;
  }
  std::cerr << "[soak] " << (ok ? "PASS" : "FAIL") << std::endl;
  std::cout << "sent " << sent << ", delivered " << delivered
            << ", dropped-counted " << dropped << ", lost-uncounted " << lost
            << ", duplicates " << duplicates << std::endl;
  return ok ? 0 : 1;
}
