// What the echo programs share beyond the command-line parser itself
// (flags.hpp): endpoint and TLS flags, and loading the configuration.

#pragma once

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "flags.hpp"
#include "netasync/acceptor.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "netasync/options.hpp"
#include "netasync/system_config.hpp"

namespace netasync::examples {

// The value of `name` as an endpoint URL: tcp://H:P, tls://H:P,
// ws://H:P/path or wss://H:P/path.
inline netasync::endpoint url_flag(flags::parser& p, const char* name) {
  auto val = p.str(name);
  auto x = netasync::parse_endpoint(val);
  if (!x)
    p.usage_error(std::string{"invalid value for --"} + name + ": "
                  + netasync::describe(x.error()));
  return *x;
}

// The TLS flags of the echo programs, into `tls`.
// Both sides: --tls-cert PEM --tls-key PEM (this side's chain and key),
// --tls-ca PEM (CAs that verify the peer). Client: --tls-server-name NAME.
// Server: --tls-require-client-cert (a switch: declare it to the parser).
enum class side { client, server };

inline void tls_flags(side s, flags::parser& p, netasync::tls_options& tls) {
  tls.cert_file = p.str("tls-cert", "");
  tls.key_file = p.str("tls-key", "");
  tls.ca_file = p.str("tls-ca", "");
  if (s == side::client)
    tls.server_name = p.str("tls-server-name", "");
  else if (p.on("tls-require-client-cert"))
    tls.client_cert = netasync::client_cert_policy::required;
}

// What the TLS flags set overrides the configuration's netasync.tls.* keys.
inline void apply_tls_flags(const netasync::tls_options& given,
                            netasync::tls_options& out) {
  for (auto [from, to] :
       {std::pair{&given.cert_file, &out.cert_file},
        std::pair{&given.key_file, &out.key_file},
        std::pair{&given.ca_file, &out.ca_file},
        std::pair{&given.server_name, &out.server_name}})
    if (!from->empty())
      *to = *from;
  if (given.client_cert != netasync::client_cert_policy::none)
    out.client_cert = given.client_cert;
}

// Loads the configuration from the configuration flags the program's parser
// kept apart (--netasync.KEY=VALUE, --config-file=INI; its own flags CAF
// would reject) and the INI file. Prints the problem and returns false on
// an error, an invalid or unknown netasync.* key included (the caller exits
// 2).
inline bool load_config(netasync::system_config& cfg,
                        const std::vector<std::string>& config_args = {}) {
  if (auto err = cfg.parse(caf::actor_system_config::string_list{
        config_args.begin(), config_args.end()})) {
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

/// Blocks SIGINT and SIGTERM in this thread, before CAF starts its own, so
/// that every thread inherits the mask and only sigwait() on the returned
/// set sees them (the servers' way to stop).
inline sigset_t block_termination_signals() {
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &sigs, nullptr) != 0) {
    std::cerr << "pthread_sigmask failed" << std::endl;
    std::exit(1);
  }
  return sigs;
}

/// Drains `acc` (at most `ms`) and prints the programs' last line, "drained:
/// C connections closed, K calls completed, A calls abandoned, D messages
/// dropped"; false (and the reason on stderr) if the drain failed.
inline bool drain_and_report(caf::actor_system& sys, const acceptor& acc,
                             long long ms) {
  caf::scoped_actor self{sys};
  auto timeout = caf::timespan{std::chrono::milliseconds(ms)};
  bool ok = true;
  self->request(acc, timeout + std::chrono::seconds(10), drain_atom::value,
                timeout)
    .receive(
      [&](drain_report& r) {
        std::cout << "drained: " << r.connections_closed
                  << " connections closed, " << r.calls_completed
                  << " calls completed, " << r.calls_abandoned
                  << " calls abandoned, " << r.messages_dropped
                  << " messages dropped" << std::endl;
      },
      [&](caf::error& err) {
        std::cerr << "drain failed: " << describe(err) << std::endl;
        ok = false;
      });
  return ok;
}

} // namespace netasync::examples
