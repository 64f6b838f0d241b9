#include "netasync/error.hpp"

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace netasync {

const char* to_string(error x) {
  switch (x) {
    case error::none: return "none";
    case error::resolve_failed: return "resolve_failed";
    case error::connect_failed: return "connect_failed";
    case error::connect_timeout: return "connect_timeout";
    case error::connection_lost: return "connection_lost";
    case error::io_error: return "io_error";
    case error::heartbeat_timeout: return "heartbeat_timeout";
    case error::frame_too_large: return "frame_too_large";
    case error::invalid_frame_length: return "invalid_frame_length";
    case error::outbound_buffer_full: return "outbound_buffer_full";
    case error::empty_payload: return "empty_payload";
    case error::closed_by_user: return "closed_by_user";
    case error::linger_expired: return "linger_expired";
    case error::restart_intensity_exceeded: return "restart_intensity_exceeded";
    case error::bind_failed: return "bind_failed";
    case error::shutting_down: return "shutting_down";
    case error::module_not_loaded: return "module_not_loaded";
    case error::invalid_argument: return "invalid_argument";
    case error::worker_failed: return "worker_failed";
    case error::frame_timeout: return "frame_timeout";
    case error::too_many_connections: return "too_many_connections";
    case error::tls_handshake_failed: return "tls_handshake_failed";
    case error::tls_config_invalid: return "tls_config_invalid";
    case error::reconnect_limit: return "reconnect_limit";
    case error::ws_handshake_failed: return "ws_handshake_failed";
    case error::ws_protocol_violation: return "ws_protocol_violation";
    case error::session_expired: return "session_expired";
    case error::session_refused: return "session_refused";
    case error::session_protocol_violation:
      return "session_protocol_violation";
    case error::call_failed: return "call_failed";
    case error::draining: return "draining";
    case error::closed_by_peer: return "closed_by_peer";
    case error::http_response_invalid: return "http_response_invalid";
    case error::http_response_too_large: return "http_response_too_large";
    case error::http_timeout: return "http_timeout";
    case error::http_too_many_redirects: return "http_too_many_redirects";
  }
  return "unknown";
}

caf::error make_error(error x) {
  return caf::error{static_cast<uint8_t>(x), error_category};
}

caf::error make_error(error x, std::string context) {
  return caf::error{static_cast<uint8_t>(x), error_category,
                    caf::make_message(std::move(context))};
}

error code_of(const caf::error& x) {
  if (!x || x.category() != error_category)
    return error::none;
  return static_cast<error>(x.code());
}

std::string describe(const caf::error& x) {
  if (!x)
    return "none";
  if (x.category() != error_category)
    return caf::to_string(x);
  std::string result = "netasync::";
  result += to_string(static_cast<error>(x.code()));
  auto& ctx = x.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0)) {
    result += " (";
    result += ctx.get_as<std::string>(0);
    result += ')';
  }
  return result;
}

} // namespace netasync
