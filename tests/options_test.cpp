// Options: defaults that match net.async, the `netasync.*` keys of CAF's
// configuration (INI file and command line), and per-call precedence.

#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "netasync/options.hpp"
#include "netasync/error.hpp"
#include "netasync/system_config.hpp"

using namespace netasync;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(defaults_match_net_async) {
  options o;
  BOOST_CHECK(o.reconnect_period == 1s);
  BOOST_CHECK(o.heartbeat_period == 5s);
  BOOST_CHECK(o.effective_heartbeat_timeout() == 20s);
}

BOOST_AUTO_TEST_CASE(defaults_bound_what_net_async_leaves_unbounded) {
  options o;
  BOOST_CHECK_EQUAL(o.max_frame_size, 64u * 1024 * 1024);
  BOOST_CHECK(o.connect_timeout == 5s);
  BOOST_CHECK_EQUAL(o.max_outbound_messages, 100000u);
  BOOST_CHECK(o.overflow == overflow_policy::reject);
}

BOOST_AUTO_TEST_CASE(setting_only_the_period_moves_the_timeout) {
  options o;
  o.heartbeat_period = 250ms;
  BOOST_CHECK(o.effective_heartbeat_timeout() == 1s);
}

BOOST_AUTO_TEST_CASE(command_line_keys_are_read) {
  system_config cfg;
  auto err = cfg.parse(caf::actor_system_config::string_list{
    "--netasync.heartbeat-period=250ms", "--netasync.reconnect-period=2s",
    "--netasync.max-frame-size=1024", "--netasync.overflow-policy=drop-oldest",
    "--netasync.max-outbound-messages=7", "--netasync.batch-delivery"});
  BOOST_REQUIRE(!err);
  auto o = options::from(cfg);
  BOOST_CHECK(o.heartbeat_period == 250ms);
  BOOST_CHECK(o.effective_heartbeat_timeout() == 1s);
  BOOST_CHECK(o.reconnect_period == 2s);
  BOOST_CHECK_EQUAL(o.max_frame_size, 1024u);
  BOOST_CHECK(o.overflow == overflow_policy::drop_oldest);
  BOOST_CHECK_EQUAL(o.max_outbound_messages, 7u);
  BOOST_CHECK(o.batch_delivery);
}

BOOST_AUTO_TEST_CASE(ini_keys_are_read_and_the_command_line_wins) {
  system_config cfg;
  std::istringstream ini{"[netasync]\n"
                         "heartbeat-period=3s\n"
                         "heartbeat-timeout=7s\n"
                         "connect-timeout=900ms\n"};
  auto err = cfg.parse(caf::actor_system_config::string_list{
                         "--netasync.connect-timeout=300ms"},
                       ini);
  BOOST_REQUIRE(!err);
  auto o = options::from(cfg);
  BOOST_CHECK(o.heartbeat_period == 3s);
  BOOST_CHECK(o.effective_heartbeat_timeout() == 7s);
  BOOST_CHECK(o.connect_timeout == 300ms);
}

BOOST_AUTO_TEST_CASE(per_call_value_wins_over_the_configuration) {
  system_config cfg;
  BOOST_REQUIRE(!cfg.parse(caf::actor_system_config::string_list{
    "--netasync.heartbeat-period=3s"}));
  auto o = options::from(cfg);
  o.heartbeat_period = 100ms; // the caller's choice for this connection
  BOOST_CHECK(o.heartbeat_period == 100ms);
  BOOST_CHECK(options::from(cfg).heartbeat_period == 3s);
}

namespace {

/// With `arg` alone on the command line, parse() fails with invalid_argument
/// and a message holding each of `mentions`, and from() keeps the default
/// (`default_kept`).
void check_rejected(const std::string& arg,
                    const std::vector<std::string>& mentions,
                    const std::function<bool(const options&)>& default_kept) {
  system_config cfg;
  BOOST_REQUIRE(!cfg.parse(caf::actor_system_config::string_list{arg}));
  auto o = options::parse(cfg);
  BOOST_REQUIRE(!o);
  BOOST_CHECK(o.error() == make_error(error::invalid_argument));
  for (auto& text : mentions)
    BOOST_CHECK_MESSAGE(describe(o.error()).find(text) != std::string::npos,
                        describe(o.error()) << " names " << text);
  BOOST_CHECK(default_kept(options::from(cfg)));
}

} // namespace

BOOST_AUTO_TEST_CASE(unknown_policy_name_is_an_error_naming_the_key) {
  check_rejected("--netasync.overflow-policy=sometimes",
                 {"netasync.overflow-policy", "sometimes"},
                 [](const options& o) {
                   return o.overflow == overflow_policy::reject;
                 });
  BOOST_CHECK(!parse_overflow_policy("sometimes"));
  BOOST_CHECK(parse_overflow_policy("drop-newest")
              == overflow_policy::drop_newest);
}

BOOST_AUTO_TEST_CASE(negative_size_is_an_error_naming_the_key) {
  check_rejected("--netasync.max-outbound-messages=-5",
                 {"netasync.max-outbound-messages", "-5"},
                 [](const options& o) {
                   return o.max_outbound_messages == 100000u;
                 });
}

BOOST_AUTO_TEST_CASE(valid_configuration_parses_like_from) {
  system_config cfg;
  BOOST_REQUIRE(!cfg.parse(caf::actor_system_config::string_list{
    "--netasync.overflow-policy=drop-newest", "--netasync.max-restarts=2"}));
  auto o = options::parse(cfg);
  BOOST_REQUIRE(o);
  BOOST_CHECK(o->overflow == overflow_policy::drop_newest);
  BOOST_CHECK_EQUAL(o->max_restarts, 2u);
}
