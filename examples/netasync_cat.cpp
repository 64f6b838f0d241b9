// netasync-cat: netcat for framed messages.
//
//   netasync-cat [flags] URL            connect to URL (tcp, tls, ws, wss)
//   netasync-cat --listen [flags] URL   serve at URL (port 0: any free port)
//
// Each stdin line is one message (without its newline); each message
// received is one stdout line. Statuses go to stderr ("connected",
// "disconnected: reason", "closed", "listening on URL"), so stdout carries
// payloads only. The library's behaviour is kept: reconnects, heartbeats,
// the bounded buffer.
//
// Flags (CAF's own command-line parsing; `--help` lists them with every
// `netasync.*` option, e.g. --netasync.heartbeat-period=2s or
// --netasync.tls.ca-file=ca.pem):
//   --listen         serve instead of connecting; one or many peers
//   --broadcast      with --listen: each input message goes to every peer
//                    (default: to the newest peer)
//   --hex            messages as hex, both ways
//   --null           NUL-separated messages instead of lines, both ways
//   --binary-stdin   stdin holds frames (4-byte big-endian length, then the
//                    bytes), as on the wire; output is unchanged
//   --once           exit after the first message received (end of stdin
//                    then does not close)
//
// End of stdin closes gracefully (what was read is sent first), then exits 0
// (1 if the connection ended with an error or left messages unsent).
// SIGINT or SIGTERM closes, then exits 0. A bad command line exits 2.

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>

#include "netasync/all.hpp"

using namespace netasync;

namespace {

using input_eof_atom = caf::atom_constant<caf::atom("cat_eof")>;
using signal_atom = caf::atom_constant<caf::atom("cat_sig")>;

struct cat_config : system_config {
  bool listen = false;
  bool broadcast = false;
  bool hex = false;
  bool null_separated = false;
  bool binary_stdin = false;
  bool once = false;

  cat_config() {
    caf::config_option_adder{custom_options_, "global"}
      .add(listen, "listen", "serve at URL instead of connecting to it")
      .add(broadcast, "broadcast",
           "with --listen: send each input message to every peer "
           "(default: the newest)")
      .add(hex, "hex", "messages as hex, both ways")
      .add(null_separated, "null",
           "NUL-separated messages instead of lines, both ways")
      .add(binary_stdin, "binary-stdin",
           "stdin holds length-prefixed frames, as on the wire")
      .add(once, "once", "exit after the first message received");
  }
};

// What the program is asked to do, fixed before the actor system starts.
struct settings {
  std::string url;
  bool listen = false;
  bool broadcast = false;
  bool hex = false;
  char separator = '\n';
  bool binary_stdin = false;
  bool once = false;
  options opts;
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "netasync-cat: " << problem << "\n"
            << "usage: netasync-cat [--listen [--broadcast]] [--hex] [--null] "
               "[--binary-stdin] [--once] [--netasync.KEY=VALUE ...] URL\n"
               "       (--help lists every flag)\n";
  std::exit(2);
}

std::string to_hex(const bytes& xs) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string r;
  r.reserve(xs.size() * 2);
  for (auto c : xs) {
    auto b = static_cast<unsigned char>(c);
    r += digits[b >> 4];
    r += digits[b & 0x0f];
  }
  return r;
}

// Hex digits (whitespace ignored) to bytes; false if anything else is there.
bool from_hex(const std::string& str, bytes& out) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  };
  out.clear();
  int high = -1;
  for (auto c : str) {
    if (c == ' ' || c == '\t' || c == '\r')
      continue;
    auto v = value(c);
    if (v < 0)
      return false;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high * 16 + v));
      high = -1;
    }
  }
  return high < 0;
}

// -- the actor that owns the connection(s) -----------------------------------

struct cat_state {
  settings cfg;
  std::shared_ptr<std::atomic<int>> exit_code;
  connection conn;                // client
  acceptor acc;                   // server
  bool acceptor_open = false;     // server: until its closed
  std::vector<connection> peers;  // server: live connections, oldest first
  std::deque<bytes> held;         // server: input that came before any peer
  bool closing = false;
  bool got_message = false;
  static inline const char* name = "netasync-cat";
};

using cat_actor = caf::stateful_actor<cat_state>;

constexpr size_t max_held = 10000;

void status(const std::string& line) {
  std::cerr << line << std::endl;
}

void quit_if_done(cat_actor* self) {
  auto& st = self->state;
  if (!st.closing)
    return;
  if (st.cfg.listen ? (!st.acceptor_open && st.peers.empty()) : !st.conn)
    self->quit();
}

// Ends everything gracefully; the actor quits once every `closed` is in.
void close_all(cat_actor* self) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  if (!st.held.empty()) {
    status("netasync-cat: " + std::to_string(st.held.size())
           + " messages unsent: no peer connected");
    st.exit_code->store(1);
    st.held.clear();
  }
  if (st.conn)
    self->send(st.conn, close_atom::value);
  if (st.acceptor_open)
    self->send(st.acc, close_atom::value);
  for (auto& p : st.peers)
    self->send(p, close_atom::value);
  quit_if_done(self);
}

void send_to(cat_actor* self, const connection& peer, bytes payload) {
  self->request(peer, caf::infinite, std::move(payload))
    .then([] {},
          [](caf::error& err) {
            status("netasync-cat: not sent: " + describe(err));
          });
}

void emit(const settings& cfg, const bytes& payload) {
  if (cfg.hex) {
    auto str = to_hex(payload);
    std::fwrite(str.data(), 1, str.size(), stdout);
  } else {
    std::fwrite(payload.data(), 1, payload.size(), stdout);
  }
  std::fputc(cfg.separator, stdout);
  std::fflush(stdout);
}

caf::behavior cat(cat_actor* self, settings cfg,
                  std::shared_ptr<std::atomic<int>> exit_code) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.exit_code = std::move(exit_code);
  auto& sys = self->system();
  auto me = caf::actor_cast<caf::actor>(self);
  // Nothing to serve or dial: the program ends with `code`.
  auto fail = [&](const caf::error& err, int code) {
    status("netasync-cat: " + describe(err));
    st.exit_code->store(code);
    self->quit();
    return caf::behavior{};
  };
  if (st.cfg.listen) {
    auto acc = accept(sys, st.cfg.url, st.cfg.opts, {me});
    if (!acc)
      return fail(acc.error(), 1);
    st.acc = *acc;
    st.acceptor_open = true;
    auto where = parse_endpoint(st.cfg.url);
    auto port = bound_port(sys, st.acc);
    if (where && port) {
      where->port = *port;
      status("listening on " + to_string(*where));
    }
  } else {
    auto conn = connect(sys, st.cfg.url, st.cfg.opts, {me});
    if (!conn)
      return fail(conn.error(), 2);
    st.conn = *conn;
  }
  return {
    // One input message; the reply tells the stdin thread it may go on.
    [=](bytes& payload) -> caf::result<void> {
      auto& st = self->state;
      if (st.closing)
        return caf::unit;
      if (!st.cfg.listen)
        return self->delegate(st.conn, std::move(payload));
      if (st.peers.empty()) {
        if (st.held.size() < max_held)
          st.held.push_back(std::move(payload));
        else
          status("netasync-cat: not sent: no peer connected and "
                 + std::to_string(max_held) + " messages waiting");
      } else if (st.cfg.broadcast) {
        for (auto& p : st.peers)
          send_to(self, p, payload);
      } else {
        send_to(self, st.peers.back(), std::move(payload));
      }
      return caf::unit;
    },
    [=](input_eof_atom) {
      // With --once, the answer may still be on its way.
      if (!self->state.cfg.once)
        close_all(self);
    },
    [=](signal_atom) { close_all(self); },
    [=](accepted_atom, const acceptor&, const connection& peer) {
      auto& st = self->state;
      st.peers.push_back(peer);
      self->send(peer, subscribe_atom::value, caf::actor_cast<caf::actor>(self));
      if (st.closing) {
        self->send(peer, close_atom::value);
        return;
      }
      for (auto& x : st.held)
        send_to(self, peer, std::move(x));
      st.held.clear();
    },
    [=](const connection&, const bytes& payload) {
      auto& st = self->state;
      if (st.cfg.once && st.got_message)
        return;
      st.got_message = true;
      emit(st.cfg, payload);
      if (st.cfg.once)
        close_all(self);
    },
    [=](connected_atom, const connection&) { status("connected"); },
    [=](disconnected_atom, const connection&, const caf::error& err) {
      status("disconnected: " + describe(err));
    },
    [=](closed_atom, const connection& c, const caf::error& err) {
      auto& st = self->state;
      status(err ? "closed: " + describe(err) : std::string{"closed"});
      if (st.cfg.listen) {
        st.peers.erase(std::remove(st.peers.begin(), st.peers.end(), c),
                       st.peers.end());
      } else {
        // Ended by itself (an attempt limit) or by our close: an error
        // means something was lost or never sent.
        if (err)
          st.exit_code->store(1);
        st.conn = nullptr;
        st.closing = true;
      }
      quit_if_done(self);
    },
    [=](closed_atom, const acceptor&, const caf::error& err) {
      auto& st = self->state;
      if (err)
        status("netasync-cat: listener closed: " + describe(err));
      st.acceptor_open = false;
      if (err && !st.closing) {
        st.exit_code->store(1);
        close_all(self);
      }
      quit_if_done(self);
    },
  };
}

// -- stdin --------------------------------------------------------------------

// Reads stdin until its end (or `stop_fd` becomes readable) and hands each
// message to `cat`, one at a time: the next is read once the connection
// took the last, so a fast producer waits for the network.
class stdin_reader {
public:
  stdin_reader(caf::actor_system& sys, caf::actor cat, const settings& cfg,
               int stop_fd)
    : self_(sys), cat_(std::move(cat)), cfg_(cfg), stop_fd_(stop_fd) {
    // nop
  }

  void run() {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR)
          continue;
        break;
      }
      if (fds[1].revents != 0)
        return; // the program ends
      auto n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      if (!consume(buf.data(), static_cast<size_t>(n)))
        break;
    }
    // A last line without its separator is a message too.
    if (!cfg_.binary_stdin && !pending_.empty())
      deliver(std::string(pending_.begin(), pending_.end()));
    else if (cfg_.binary_stdin && !pending_.empty())
      std::cerr << "netasync-cat: end of stdin inside a frame: "
                << pending_.size() << " bytes dropped" << std::endl;
    self_->send(cat_, input_eof_atom::value);
  }

private:
  // False to stop reading (a frame over the max frame size).
  bool consume(const char* data, size_t n) {
    pending_.insert(pending_.end(), data, data + n);
    if (cfg_.binary_stdin) {
      size_t pos = 0;
      while (pending_.size() - pos >= 4) {
        auto b = [&](size_t i) {
          return static_cast<uint32_t>(
            static_cast<unsigned char>(pending_[pos + i]));
        };
        uint32_t len = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
        if (len > cfg_.opts.max_frame_size) {
          std::cerr << "netasync-cat: a frame of " << len
                    << " bytes on stdin exceeds max-frame-size" << std::endl;
          pending_.clear();
          return false;
        }
        if (pending_.size() - pos - 4 < len)
          break;
        if (len > 0) // a zero length is a heartbeat: nothing to send
          send(bytes(pending_.begin() + pos + 4,
                     pending_.begin() + pos + 4 + len));
        pos += 4 + len;
      }
      pending_.erase(pending_.begin(), pending_.begin() + pos);
      return true;
    }
    size_t start = 0;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i] == cfg_.separator) {
        deliver(std::string(pending_.begin() + start, pending_.begin() + i));
        start = i + 1;
      }
    }
    pending_.erase(pending_.begin(), pending_.begin() + start);
    return true;
  }

  void deliver(const std::string& text) {
    if (cfg_.hex) {
      bytes payload;
      if (!from_hex(text, payload)) {
        std::cerr << "netasync-cat: not hex, skipped: " << text << std::endl;
        return;
      }
      send(std::move(payload));
      return;
    }
    send(bytes(text.begin(), text.end()));
  }

  void send(bytes payload) {
    if (payload.empty()) {
      std::cerr << "netasync-cat: empty message skipped (a zero-length frame "
                   "is a heartbeat)"
                << std::endl;
      return;
    }
    self_->request(cat_, caf::infinite, std::move(payload))
      .receive([] {},
               [](caf::error& err) {
                 std::cerr << "netasync-cat: not sent: " << describe(err)
                           << std::endl;
               });
  }

  caf::scoped_actor self_;
  caf::actor cat_;
  const settings& cfg_;
  int stop_fd_;
  std::vector<char> pending_;
};

} // namespace

int main(int argc, char** argv) {
  // SIGINT and SIGTERM become a message (sigwait below): blocked here,
  // before any thread starts, so that every thread inherits the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGUSR1); // ends the signal thread
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  // The URL is the one argument with a scheme; CAF parses the rest.
  settings cfg;
  caf::actor_system_config::string_list args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.find("://") != std::string::npos && arg[0] != '-') {
      if (!cfg.url.empty())
        usage("one URL only, got '" + cfg.url + "' and '" + arg + "'");
      cfg.url = arg;
    } else {
      args.push_back(std::move(arg));
    }
  }
  cat_config sys_cfg;
  if (auto err = sys_cfg.parse(std::move(args)))
    usage(sys_cfg.render(err));
  if (sys_cfg.cli_helptext_printed)
    return 0;
  if (!sys_cfg.remainder.empty())
    usage("unexpected argument '" + sys_cfg.remainder.front()
          + "' (a URL is tcp://host:port, tls://host:port, "
            "ws://host:port/path or wss://host:port/path)");
  if (cfg.url.empty())
    usage("a URL is required (tcp://, tls://, ws:// or wss://)");
  if (auto ep = parse_endpoint(cfg.url); !ep)
    usage(describe(ep.error()));
  if (sys_cfg.broadcast && !sys_cfg.listen)
    usage("--broadcast needs --listen");
  auto opts = options::parse(sys_cfg);
  if (!opts)
    usage(describe(opts.error()));
  cfg.opts = *opts;
  cfg.listen = sys_cfg.listen;
  cfg.broadcast = sys_cfg.broadcast;
  cfg.hex = sys_cfg.hex;
  cfg.separator = sys_cfg.null_separated ? '\0' : '\n';
  cfg.binary_stdin = sys_cfg.binary_stdin;
  cfg.once = sys_cfg.once;
  auto exit_code = std::make_shared<std::atomic<int>>(0);
  int stop_pipe[2];
  if (::pipe(stop_pipe) != 0) {
    std::perror("netasync-cat: pipe");
    return 1;
  }
  {
    caf::actor_system sys{sys_cfg};
    auto cat_hdl = sys.spawn(cat, cfg, exit_code);
    std::thread signals{[&] {
      for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0 || sig == SIGUSR1)
          return;
        caf::anon_send(cat_hdl, signal_atom::value);
      }
    }};
    std::thread input{[&] {
      stdin_reader{sys, cat_hdl, cfg, stop_pipe[0]}.run();
    }};
    {
      caf::scoped_actor self{sys};
      self->wait_for(cat_hdl);
    }
    // The program ends: stop both helper threads.
    (void) !::write(stop_pipe[1], "x", 1);
    pthread_kill(signals.native_handle(), SIGUSR1);
    input.join();
    signals.join();
  }
  ::close(stop_pipe[0]);
  ::close(stop_pipe[1]);
  return exit_code->load();
}
