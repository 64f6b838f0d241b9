#pragma once

// The link a loopback-level suite runs over. CTest runs such a suite twice:
// plainly (tcp://) and with NETASYNC_TEST_TLS_CERTS naming the directory that
// tests/tls/make_test_certs.sh filled (tls://, server certificate for
// 127.0.0.1 and localhost, client trusting the test CA). Cases that write
// raw bytes to the library speak the tcp:// wire and are skipped under TLS
// (precondition plain_link_only).

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

inline bool over_tls() {
  return !tls_cert_dir().empty();
}

/// "tcp://host:port" or "tls://host:port", per the run.
inline std::string link_url(const std::string& host, uint16_t port) {
  return std::string{over_tls() ? "tls://" : "tcp://"} + host_port(host, port);
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
  boost::test_tools::assertion_result r{!over_tls()};
  r.message() << "writes raw tcp:// bytes; this run is over TLS";
  return r;
}

} // namespace netasync::test
