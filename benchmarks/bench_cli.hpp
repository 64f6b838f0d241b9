// Tiny helpers shared by the benchmark reference programs: the command line
// (through examples/flags.hpp), a monotonic clock, percentiles, the --timeout
// hard bound and the line-oriented "<tag> key=value ..." output the driver
// script parses.
// Deliberately free of project and third-party dependencies.

#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "flags.hpp"

namespace bench {

using steady = std::chrono::steady_clock;

inline double seconds_between(steady::time_point a, steady::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Every output line goes through here: the driver reads stdout while the
// program runs (e.g. "listening port=P"), so each line is flushed at once.
inline void emit(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void emit(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vprintf(fmt, ap);
  va_end(ap);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "error: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] inline void fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  std::exit(1);
}

// argv[1] is the subcommand, the rest are flags: the examples' parser
// (examples/flags.hpp), so both kinds of program read a command line alike.
struct args : flags::parser {
  args(int argc, char** argv, const char* usage)
    : parser(argc, argv, usage, flags::layout::subcommand_first) {
    // nop
  }
};

// --timeout: a hard bound on the whole run, independent of any loop logic.
// The handler may only use async-signal-safe calls, so the message is built
// up front.
inline char timeout_msg[128];
inline void on_alarm(int) {
  ssize_t r = ::write(2, timeout_msg, std::strlen(timeout_msg));
  (void) r;
  _exit(3);
}
inline void arm_timeout(long long seconds) {
  std::snprintf(timeout_msg, sizeof(timeout_msg),
                "error: timeout: still running after %lld s\n", seconds);
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, nullptr);
  alarm(static_cast<unsigned>(seconds));
}

// SIGTERM/SIGINT set a flag; without SA_RESTART they also interrupt the
// blocking wait (epoll_wait/zmq_poll), and servers poll with a short timeout
// to close the check-then-wait race.
inline volatile std::sig_atomic_t stop_requested = 0;
inline void on_stop(int) { stop_requested = 1; }
inline void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

inline void ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }

// Many-connection runs need more descriptors than the usual soft limit.
inline void raise_nofile() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// Nearest-rank percentile over an already sorted sample.
inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty())
    return 0;
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// The common latency result line of raw `ping` and zmq `req`.
inline void emit_latency(std::vector<double>& us) {
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double x : us)
    sum += x;
  emit("result count=%zu p50_us=%.3f p99_us=%.3f mean_us=%.3f", us.size(),
       percentile(us, 50), percentile(us, 99),
       us.empty() ? 0.0 : sum / us.size());
}

} // namespace bench
