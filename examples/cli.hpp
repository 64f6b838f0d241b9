// Command-line plumbing shared by the example programs: "--flag value" pairs,
// bounded integers, usage errors (exit 2) and loading the configuration.
// Each program keeps its own flags, ranges and messages; only the mechanics
// live here, so that every program reports a bad command line the same way.

#pragma once

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>

#include "netasync/endpoint.hpp"
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

  // Declares `flag` a switch: it takes no value, and on_flag sees "true".
  command_line& with_switch(std::string flag) {
    switches_.push_back(std::move(flag));
    return *this;
  }

  // Calls `on_flag(flag, value)` for each "--flag value" pair (or switch),
  // in order. `on_flag` returns false for a flag it does not know.
  // -h/--help, a flag without a value and an unknown flag end in usage().
  template <class OnFlag>
  void for_each_flag(OnFlag on_flag) const {
    for (int i = 1; i < argc_; ++i) {
      std::string flag = argv_[i];
      if (flag == "-h" || flag == "--help")
        usage();
      std::string val = "true";
      if (std::find(switches_.begin(), switches_.end(), flag)
          == switches_.end()) {
        if (i + 1 >= argc_)
          usage("missing value for " + flag);
        val = argv_[++i];
      }
      if (!on_flag(flag, val))
        usage("unknown flag: " + flag);
    }
  }

  // The value of `flag` as an endpoint URL (tcp://H:P, tls://H:P).
  netasync::endpoint url_flag(const std::string& flag,
                              const std::string& val) const {
    auto x = netasync::parse_endpoint(val);
    if (!x)
      usage("invalid value for " + flag + ": "
            + netasync::describe(x.error()));
    return *x;
  }

private:
  int argc_;
  char** argv_;
  const char* synopsis_;
  std::vector<std::string> switches_;
};

// The TLS flags of the echo programs, into `tls`; false for another flag.
// Both sides: --tls-cert PEM --tls-key PEM (this side's chain and key),
// --tls-ca PEM (CAs that verify the peer). Client: --tls-server-name NAME.
// Server: --tls-require-client-cert (a switch).
enum class side { client, server };

inline bool tls_flag(side s, const std::string& flag, const std::string& val,
                     netasync::tls_options& tls) {
  if (flag == "--tls-cert")
    tls.cert_file = val;
  else if (flag == "--tls-key")
    tls.key_file = val;
  else if (flag == "--tls-ca")
    tls.ca_file = val;
  else if (s == side::client && flag == "--tls-server-name")
    tls.server_name = val;
  else if (s == side::server && flag == "--tls-require-client-cert")
    tls.client_cert = netasync::client_cert_policy::required;
  else
    return false;
  return true;
}

// What the TLS flags set overrides the configuration's netasync.tls.* keys.
inline void apply_tls_flags(const netasync::tls_options& flags,
                            netasync::tls_options& out) {
  for (auto [from, to] :
       {std::pair{&flags.cert_file, &out.cert_file},
        std::pair{&flags.key_file, &out.key_file},
        std::pair{&flags.ca_file, &out.ca_file},
        std::pair{&flags.server_name, &out.server_name}})
    if (!from->empty())
      *to = *from;
  if (flags.client_cert != netasync::client_cert_policy::none)
    out.client_cert = flags.client_cert;
}

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
