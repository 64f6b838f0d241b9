#pragma once

// The link a loopback-level suite runs over. CTest runs such a suite over
// each link: plainly (tcp://), with NETASYNC_TEST_TLS_CERTS naming the
// directory that tests/tls/make_test_certs.sh filled (tls://, server
// certificate for 127.0.0.1 and localhost, client trusting the test CA),
// and with NETASYNC_TEST_LINK=ws or wss (WebSocket, wss with those
// certificates). Cases that write raw bytes to the library speak the tcp://
// wire and run over tcp:// only (precondition plain_link_only).

#include <cstdint>
#include <cstdlib>
#include <string>

#include <boost/test/unit_test.hpp>

#include "netasync/endpoint.hpp"
#include "netasync/options.hpp"

namespace netasync::test {

/// The certificate directory, or empty when the suite runs over tcp://.
inline std::string tls_cert_dir() {
  auto dir = std::getenv("NETASYNC_TEST_TLS_CERTS");
  return dir ? dir : "";
}

/// The run's scheme: NETASYNC_TEST_LINK, else tls with certificates, else
/// tcp.
inline scheme link_scheme() {
  if (auto x = std::getenv("NETASYNC_TEST_LINK")) {
    for (auto s : {scheme::tcp, scheme::tls, scheme::ws, scheme::wss})
      if (std::string{x} == to_string(s))
        return s;
  }
  return tls_cert_dir().empty() ? scheme::tcp : scheme::tls;
}

inline bool over_tls() {
  return uses_tls(link_scheme());
}

inline bool over_websocket() {
  return uses_websocket(link_scheme());
}

/// "tcp://host:port", "tls://host:port", "ws://host:port/test" ..., per the
/// run.
inline std::string link_url(const std::string& host, uint16_t port) {
  auto s = link_scheme();
  return std::string{to_string(s)} + "://" + host_port(host, port)
         + (uses_websocket(s) ? "/test" : "");
}

/// `o` with this run's TLS settings for both sides (a server certificate and
/// the CA that verifies it); unchanged over tcp://.
inline options with_link_settings(options o) {
  auto dir = tls_cert_dir();
  if (!dir.empty()) {
    o.tls.cert_file = dir + "/server.pem";
    o.tls.key_file = dir + "/server.key";
    o.tls.ca_file = dir + "/ca.pem";
  }
  return o;
}

/// Precondition of a case that needs the plain wire.
inline boost::test_tools::assertion_result
plain_link_only(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result r{link_scheme() == scheme::tcp};
  r.message() << "writes raw tcp:// bytes; this run is over "
              << to_string(link_scheme());
  return r;
}

} // namespace netasync::test
