// Options: defaults that match net.async, the `netasync.*` keys of CAF's
// configuration (INI file and command line), and per-call precedence.

#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "netasync/endpoint.hpp"
#include "netasync/options.hpp"
#include "netasync/error.hpp"
#include "netasync/system_config.hpp"
#include "option_table.hpp"

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
  BOOST_CHECK_EQUAL(o.max_frame_size, 4u * 1024 * 1024);
  BOOST_CHECK(o.connect_timeout == 5s);
  BOOST_CHECK_EQUAL(o.max_outbound_messages, 16384u);
  BOOST_CHECK_EQUAL(o.max_outbound_bytes, 4u * 1024 * 1024);
  BOOST_CHECK_EQUAL(o.receive_window, 4u * 1024 * 1024);
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
                 {"netasync.overflow-policy", "sometimes",
                  "none of reject, drop-newest, drop-oldest"},
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
                   return o.max_outbound_messages == 16384u;
                 });
}

// Issue 19: max-frame-size is a 32-bit field; a larger value was cast
// silently (2^32 + 5 became 5).
BOOST_AUTO_TEST_CASE(a_size_too_large_for_its_field_is_an_error_naming_the_key) {
  check_rejected("--netasync.max-frame-size=4294967301",
                 {"netasync.max-frame-size", "at most 4294967295"},
                 [](const options& o) {
                   return o.max_frame_size == 4u * 1024 * 1024;
                 });
}

BOOST_AUTO_TEST_CASE(every_refused_value_is_dropped_not_only_the_first) {
  // Two bad keys: the first is the error reported; neither value is kept
  // (a header with a line break would reach the upgrade request).
  system_config cfg;
  BOOST_REQUIRE(!cfg.parse(caf::actor_system_config::string_list{
    "--netasync.overflow-policy=sometimes",
    "--netasync.ws.headers=X-A: 1\r\nX-Injected: 2"}));
  auto o = options::parse(cfg);
  BOOST_REQUIRE(!o);
  BOOST_CHECK_NE(describe(o.error()).find("overflow-policy"), std::string::npos);
  auto kept = options::from(cfg);
  BOOST_CHECK(kept.overflow == overflow_policy::reject);
  BOOST_CHECK(kept.ws.headers.empty());
}

BOOST_AUTO_TEST_CASE(reconnect_defaults_keep_net_asyncs_fixed_period_forever) {
  options o;
  BOOST_CHECK(o.reconnect_period == 1s);
  BOOST_CHECK_EQUAL(o.reconnect_backoff, 1.0);
  BOOST_CHECK(o.reconnect_jitter == jitter_policy::none);
  BOOST_CHECK_EQUAL(o.max_reconnect_attempts, 0u);
}

BOOST_AUTO_TEST_CASE(reconnect_policy_keys_are_read) {
  system_config cfg;
  BOOST_REQUIRE(!cfg.parse(caf::actor_system_config::string_list{
    "--netasync.reconnect-backoff=1.5", "--netasync.reconnect-max-period=20s",
    "--netasync.reconnect-jitter=full", "--netasync.max-reconnect-attempts=7",
    "--netasync.reconnect-seed=42"}));
  auto o = options::parse(cfg);
  BOOST_REQUIRE(o);
  BOOST_CHECK_EQUAL(o->reconnect_backoff, 1.5);
  BOOST_CHECK(o->reconnect_max_period == 20s);
  BOOST_CHECK(o->reconnect_jitter == jitter_policy::full);
  BOOST_CHECK_EQUAL(o->max_reconnect_attempts, 7u);
  BOOST_CHECK_EQUAL(o->reconnect_seed, 42u);
}

BOOST_AUTO_TEST_CASE(backoff_below_one_is_an_error_naming_the_key) {
  check_rejected("--netasync.reconnect-backoff=0.5",
                 {"netasync.reconnect-backoff", "0.5"},
                 [](const options& o) { return o.reconnect_backoff == 1.0; });
}

BOOST_AUTO_TEST_CASE(unknown_jitter_name_is_an_error_naming_the_key) {
  check_rejected("--netasync.reconnect-jitter=some",
                 {"netasync.reconnect-jitter", "some",
                  "none of none, full, equal"},
                 [](const options& o) {
                   return o.reconnect_jitter == jitter_policy::none;
                 });
  BOOST_CHECK(parse_jitter_policy("equal") == jitter_policy::equal);
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

// -- TLS keys -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tls_defaults_verify_the_server_and_ask_no_client_cert) {
  options o;
  BOOST_CHECK(o.tls.verify_peer);
  BOOST_CHECK(o.tls.client_cert == client_cert_policy::none);
  BOOST_CHECK(o.tls.handshake_timeout == 10s);
  BOOST_CHECK(o.tls.cert_file.empty() && o.tls.ca_file.empty());
}

BOOST_AUTO_TEST_CASE(tls_keys_are_read) {
  system_config cfg;
  BOOST_REQUIRE(!cfg.parse(caf::actor_system_config::string_list{
    "--netasync.tls.cert-file=s.pem", "--netasync.tls.key-file=s.key",
    "--netasync.tls.ca-file=ca.pem", "--netasync.tls.ca-dir=/etc/cas",
    "--netasync.tls.server-name=example.org",
    "--netasync.tls.no-verify", "--netasync.tls.client-cert=optional",
    "--netasync.tls.handshake-timeout=2s", "--netasync.tls.max-handshakes=8"}));
  auto o = options::parse(cfg);
  BOOST_REQUIRE(o);
  BOOST_CHECK_EQUAL(o->tls.cert_file, "s.pem");
  BOOST_CHECK_EQUAL(o->tls.key_file, "s.key");
  BOOST_CHECK_EQUAL(o->tls.ca_file, "ca.pem");
  BOOST_CHECK_EQUAL(o->tls.ca_dir, "/etc/cas");
  BOOST_CHECK_EQUAL(o->tls.server_name, "example.org");
  BOOST_CHECK(!o->tls.verify_peer);
  BOOST_CHECK(o->tls.client_cert == client_cert_policy::optional);
  BOOST_CHECK(o->tls.handshake_timeout == 2s);
  BOOST_CHECK_EQUAL(o->tls.max_handshakes, 8u);
}

BOOST_AUTO_TEST_CASE(unknown_client_cert_policy_is_an_error_naming_the_key) {
  check_rejected("--netasync.tls.client-cert=maybe",
                 {"netasync.tls.client-cert", "maybe",
                  "none of none, optional, required"},
                 [](const options& o) {
                   return o.tls.client_cert == client_cert_policy::none;
                 });
}

// -- endpoints ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(endpoint_urls_name_scheme_host_and_port) {
  auto x = parse_endpoint("tls://example.org:443");
  BOOST_REQUIRE(x);
  BOOST_CHECK(x->kind == scheme::tls);
  BOOST_CHECK_EQUAL(x->host, "example.org");
  BOOST_CHECK_EQUAL(x->port, 443);
  auto y = parse_endpoint("tcp://127.0.0.1:0");
  BOOST_REQUIRE(y);
  BOOST_CHECK(y->kind == scheme::tcp);
  BOOST_CHECK_EQUAL(y->port, 0);
}

BOOST_AUTO_TEST_CASE(ipv6_endpoints_are_bracketed_both_ways) {
  auto x = parse_endpoint("tcp://[::1]:7000");
  BOOST_REQUIRE(x);
  BOOST_CHECK_EQUAL(x->host, "::1");
  BOOST_CHECK_EQUAL(to_string(*x), "tcp://[::1]:7000");
  BOOST_CHECK_EQUAL(to_string(endpoint{scheme::tls, "127.0.0.1", 40123, {}}),
                    "tls://127.0.0.1:40123");
}

BOOST_AUTO_TEST_CASE(every_scheme_parses_from_its_name_and_prints_back) {
  for (auto k : {scheme::tcp, scheme::tls, scheme::ws, scheme::wss,
                 scheme::http, scheme::https}) {
    auto url = to_string(endpoint{k, "h", 1, uses_websocket(k) ? "/" : ""});
    auto x = parse_endpoint(url);
    BOOST_REQUIRE_MESSAGE(x, url);
    BOOST_CHECK(x->kind == k);
    BOOST_CHECK_EQUAL(to_string(*x), url);
  }
  BOOST_CHECK(uses_tls(scheme::tls) && uses_tls(scheme::wss)
              && uses_tls(scheme::https));
  BOOST_CHECK(!uses_tls(scheme::http) && !uses_websocket(scheme::http));
  BOOST_CHECK(parse_endpoint("http://h")->port == 80);
  BOOST_CHECK(parse_endpoint("https://h")->port == 443);
  BOOST_CHECK(!uses_tls(scheme::tcp) && !uses_tls(scheme::ws));
  BOOST_CHECK(uses_websocket(scheme::ws) && uses_websocket(scheme::wss));
  BOOST_CHECK(!uses_websocket(scheme::tcp) && !uses_websocket(scheme::tls));
  auto err = parse_endpoint("udp://h:1").error();
  BOOST_CHECK_NE(describe(err).find("(tcp, tls, ws, wss, http or https)"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(malformed_endpoints_are_invalid_arguments_saying_why) {
  for (auto [url, why] : std::vector<std::pair<std::string, std::string>>{
         {"127.0.0.1:80", "expected tcp://"},
         {"udp://h:1", "unknown scheme 'udp'"},
         {"tcp://h", "no port"},
         {"tcp://:80", "no host"},
         {"tcp://h:65536", "0 to 65535"},
         {"tcp://h:8x", "0 to 65535"},
         {"tcp://::1:80", "[address]:port"},
         {"tcp://[::1:80", "[address]:port"}}) {
    auto x = parse_endpoint(url);
    BOOST_REQUIRE_MESSAGE(!x, url);
    BOOST_CHECK(x.error() == make_error(error::invalid_argument));
    BOOST_CHECK_MESSAGE(describe(x.error()).find(why) != std::string::npos,
                        describe(x.error()) << " says " << why);
  }
}

BOOST_AUTO_TEST_CASE(the_readme_shows_the_table_of_options_the_code_declares) {
  // One declaration per option (src/option_table.cpp): the README's table
  // is that declaration, word for word.
  std::ifstream in{NETASYNC_README};
  std::stringstream text;
  text << in.rdbuf();
  auto table = detail::options_markdown();
  BOOST_CHECK_MESSAGE(text.str().find(table) != std::string::npos,
                      "README.md's table of options must read:\n" << table);
}
