#pragma once

// Configuration helpers: load() adds the module and the error category to any
// actor_system_config; system_config is a ready-made config that also
// declares the `netasync.*` options (so they work on the command line).

#include <caf/actor_system_config.hpp>

#include "netasync/io_module.hpp"
#include "netasync/options.hpp"

namespace netasync {

/// Loads io_module and registers the netasync error category (so that
/// sys.render(err) names the errors).
void load(caf::actor_system_config& cfg);

class system_config : public caf::actor_system_config {
public:
  system_config() {
    add_options(custom_options_);
    netasync::load(*this);
  }
};

} // namespace netasync
