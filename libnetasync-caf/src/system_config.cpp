#include "netasync/system_config.hpp"

#include <caf/message.hpp>

#include "netasync/error.hpp"

namespace netasync {

void load(caf::actor_system_config& cfg) {
  cfg.load<io_module>();
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    return describe(caf::error{code, error_category, ctx});
  });
}

} // namespace netasync
