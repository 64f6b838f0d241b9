#include "netasync/options.hpp"

#include <caf/config_option_adder.hpp>
#include <caf/settings.hpp>

namespace netasync {

const char* to_string(overflow_policy x) {
  switch (x) {
    case overflow_policy::reject: return "reject";
    case overflow_policy::drop_newest: return "drop-newest";
    case overflow_policy::drop_oldest: return "drop-oldest";
  }
  return "reject";
}

caf::optional<overflow_policy> parse_overflow_policy(const std::string& str) {
  for (auto x : {overflow_policy::reject, overflow_policy::drop_newest,
                 overflow_policy::drop_oldest})
    if (str == to_string(x))
      return x;
  return caf::none;
}

namespace {

template <class T>
void read_size(const caf::actor_system_config& cfg, const char* key, T& out) {
  if (auto x = caf::get_if<int64_t>(&cfg, key); x && *x >= 0)
    out = static_cast<T>(*x);
}

void read_time(const caf::actor_system_config& cfg, const char* key,
               caf::timespan& out) {
  if (auto x = caf::get_if<caf::timespan>(&cfg, key))
    out = *x;
}

} // namespace

options options::from(const caf::actor_system_config& cfg) {
  options r;
  read_time(cfg, "netasync.reconnect-period", r.reconnect_period);
  read_time(cfg, "netasync.heartbeat-period", r.heartbeat_period);
  if (auto x = caf::get_if<caf::timespan>(&cfg, "netasync.heartbeat-timeout"))
    r.heartbeat_timeout = *x;
  read_size(cfg, "netasync.max-frame-size", r.max_frame_size);
  read_time(cfg, "netasync.connect-timeout", r.connect_timeout);
  read_time(cfg, "netasync.frame-timeout", r.frame_timeout);
  read_size(cfg, "netasync.max-connections", r.max_connections);
  read_size(cfg, "netasync.max-outbound-messages", r.max_outbound_messages);
  read_size(cfg, "netasync.max-outbound-bytes", r.max_outbound_bytes);
  if (auto x = caf::get_if<std::string>(&cfg, "netasync.overflow-policy"))
    if (auto p = parse_overflow_policy(*x))
      r.overflow = *p;
  read_size(cfg, "netasync.max-restarts", r.max_restarts);
  read_time(cfg, "netasync.restart-window", r.restart_window);
  read_time(cfg, "netasync.close-linger", r.close_linger);
  read_size(cfg, "netasync.receive-window", r.receive_window);
  if (auto x = caf::get_if<bool>(&cfg, "netasync.batch-delivery"))
    r.batch_delivery = *x;
  return r;
}

void add_options(caf::config_option_set& opts) {
  caf::config_option_adder{opts, "netasync"}
    .add<caf::timespan>("reconnect-period",
                        "client: wait before each reconnect (default 1s)")
    .add<caf::timespan>("heartbeat-period",
                        "heartbeat after this long idle (default 5s)")
    .add<caf::timespan>("heartbeat-timeout",
                        "drop a silent link after this long "
                        "(default 4 x heartbeat-period)")
    .add<int64_t>("max-frame-size", "largest payload in bytes (default 64 MiB)")
    .add<caf::timespan>("connect-timeout",
                        "client: one connect attempt at most (default 5s)")
    .add<caf::timespan>("frame-timeout",
                        "a frame must complete this long after its first "
                        "byte (default 60s)")
    .add<int64_t>("max-connections",
                  "server: connections kept at once, 0 = no limit (default 0)")
    .add<int64_t>("max-outbound-messages",
                  "outbound buffer bound in messages (default 100000)")
    .add<int64_t>("max-outbound-bytes",
                  "outbound buffer bound in bytes (default 256 MiB)")
    .add<std::string>("overflow-policy",
                      "reject, drop-newest or drop-oldest (default reject)")
    .add<int64_t>("max-restarts",
                  "worker failures tolerated per restart-window (default 5)")
    .add<caf::timespan>("restart-window",
                        "window of the restart intensity (default 10s)")
    .add<caf::timespan>("close-linger",
                        "close waits this long to drain (default 5s)")
    .add<int64_t>("receive-window",
                  "bytes received and not yet processed by the subscribers; "
                  "past it reading stops (default 8 MiB)")
    .add<bool>("batch-delivery",
               "deliver (connection, std::vector<bytes>) per read instead of "
               "(connection, bytes) per payload (default false)")
    .add<int64_t>("io-threads", "I/O threads of the library (default 1)");
}

} // namespace netasync
