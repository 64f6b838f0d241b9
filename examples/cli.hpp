// Command-line plumbing shared by the example programs: "--flag value" pairs,
// bounded integers, usage errors (exit 2) and loading the configuration.
// Each program keeps its own flags, ranges and messages; only the mechanics
// live here, so that every program reports a bad command line the same way.

#pragma once

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

#include <caf/actor_system_config.hpp>

#include "netasync/error.hpp"
#include "netasync/options.hpp"
#include "netasync/system_config.hpp"

namespace netasync::examples {

// argv plus the program's usage synopsis: every command-line error goes
// through usage(), so all programs word and exit on them alike.
class command_line {
public:
  // `synopsis`: the flags, printed after the program name in the usage line.
  command_line(int argc, char** argv, const char* synopsis)
    : argc_(argc), argv_(argv), synopsis_(synopsis) {
    // nop
  }

  // Prints `problem` (if any) and the usage line to stderr, then exits 2:
  // scripts tell a bad command line from a failed run by that code.
  [[noreturn]] void usage(const std::string& problem = {}) const {
    if (!problem.empty())
      std::cerr << argv_[0] << ": " << problem << "\n";
    std::cerr << "usage: " << argv_[0] << " " << synopsis_ << "\n";
    std::exit(2);
  }

  // A required flag that was not given is a usage error too.
  void require(bool given, const char* flag) const {
    if (!given)
      usage(std::string{flag} + " is required");
  }

  // The value of `flag` as an integer in [min, max]; usage() otherwise.
  long long int_flag(const std::string& flag, const std::string& val,
                     long long min, long long max) const;

  // Calls `on_flag(flag, value)` for each "--flag value" pair, in order.
  // `on_flag` returns false for a flag it does not know. -h/--help, a flag
  // without a value and an unknown flag end in usage().
  template <class OnFlag>
  void for_each_flag(OnFlag on_flag) const {
    for (int i = 1; i < argc_; ++i) {
      std::string flag = argv_[i];
      if (flag == "-h" || flag == "--help")
        usage();
      if (i + 1 >= argc_)
        usage("missing value for " + flag);
      std::string val = argv_[++i];
      if (!on_flag(flag, val))
        usage("unknown flag: " + flag);
    }
  }

private:
  int argc_;
  char** argv_;
  const char* synopsis_;
};

// Parses all of `str` as a decimal integer in [min, max]. Trailing characters
// and overflow (strtoll would clamp it) are errors, not partial values.
inline bool parse_int(const std::string& str, long long min, long long max,
                      long long& out) {
  if (str.empty())
    return false;
  char* end = nullptr;
  errno = 0;
  auto x = std::strtoll(str.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || x < min || x > max)
    return false;
  out = x;
  return true;
}

inline long long command_line::int_flag(const std::string& flag,
                                        const std::string& val, long long min,
                                        long long max) const {
  long long x = 0;
  if (!parse_int(val, min, max, x))
    usage("invalid value for " + flag + ": " + val);
  return x;
}

// Loads the configuration without argv: the flags are the program's own and
// CAF would reject them. An INI file may still set netasync.*. Prints the
// problem and returns false on an error, an invalid netasync.* value
// included (the caller exits 2).
inline bool load_config(netasync::system_config& cfg) {
  if (auto err = cfg.parse(caf::actor_system_config::string_list{})) {
    std::cerr << "configuration error: " << netasync::describe(err)
              << std::endl;
    return false;
  }
  if (auto opts = netasync::options::parse(cfg); !opts) {
    std::cerr << "configuration error: " << netasync::describe(opts.error())
              << std::endl;
    return false;
  }
  return true;
}

} // namespace netasync::examples
