#pragma once

// Configuration helpers: load() adds the module and the error category to any
// actor_system_config; system_config is a ready-made config that also
// declares the `netasync.*` options (so they work on the command line) and
// picks defaults for a networking application (below).

#include <caf/actor_system_config.hpp>

#include "netasync/io_module.hpp"
#include "netasync/options.hpp"

namespace netasync {

/// Loads io_module and registers the netasync error category (so that
/// sys.render(err) names the errors).
void load(caf::actor_system_config& cfg);

/// Defaults for a networking application, each overridable in the INI file
/// or on the command line (parse() runs after the constructor), or by
/// set() in a subclass:
/// - `scheduler.policy = sharing`. CAF 0.17's default, work stealing, has
///   idle workers poll and sleep 50 µs between polls, so every hand-off
///   between an I/O thread and an actor can wait that long: a 64 B round
///   trip took 270 µs with it and 72 µs with sharing on one CPU, and idle
///   CPU at 10,000 connections fell from 27-29 % to 19-20 %
///   (docs/benchmarks.md). Set `scheduler.policy=stealing` to go back.
class system_config : public caf::actor_system_config {
public:
  system_config() {
    add_options(custom_options_);
    netasync::load(*this);
    set("scheduler.policy", caf::atom("sharing"));
  }
};

} // namespace netasync
