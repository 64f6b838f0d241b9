#include "netasync/system_config.hpp"

#include <caf/message.hpp>

#include "netasync/acceptor.hpp"
#include "netasync/connection.hpp"
#include "netasync/error.hpp"
#include "netasync/http.hpp"
#include "netasync/http_client.hpp"

namespace netasync {

void load(caf::actor_system_config& cfg) {
  cfg.load<io_module>();
  // Announced to CAF's type system, so that with CAF's middleman loaded a
  // handle published on one node is used from another as shipped: what is
  // sent to it, what it sends its subscribers, what it answers. (bytes is
  // CAF's own std::vector<char>; atoms and errors need nothing.)
  cfg.add_message_type<connection>("netasync::connection");
  cfg.add_message_type<acceptor>("netasync::acceptor");
  cfg.add_message_type<std::vector<bytes>>("netasync::byte_batch");
  cfg.add_message_type<connection_stats>("netasync::connection_stats");
  cfg.add_message_type<acceptor_stats>("netasync::acceptor_stats");
  cfg.add_message_type<drain_report>("netasync::drain_report");
  cfg.add_message_type<http_request>("netasync::http_request");
  cfg.add_message_type<http_response>("netasync::http_response");
  cfg.add_message_type<http_client_stats>("netasync::http_client_stats");
  cfg.add_error_category(error_category, [](uint8_t code, caf::atom_value,
                                            const caf::message& ctx) {
    return describe(caf::error{code, error_category, ctx});
  });
}

} // namespace netasync
