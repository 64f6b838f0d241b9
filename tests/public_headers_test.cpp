// What an application's translation unit gets from netasync/all.hpp: the
// API, and nothing of the library's insides. Built with the public include
// path only (tests/CMakeLists.txt), so a public header that included a
// private one (transport, actors, codec) would not compile; the checks below
// hold it to pulling in no Boost.Asio either.

#include "netasync/all.hpp"

#if defined(BOOST_ASIO_DETAIL_CONFIG_HPP) || defined(BOOST_ASIO_HPP)
#error "netasync/all.hpp pulls in Boost.Asio"
#endif
#if defined(HEADER_SSL_H) || defined(OPENSSL_SSL_H)
#error "netasync/all.hpp pulls in OpenSSL"
#endif

#define BOOST_TEST_MODULE public_headers
#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_CASE(all_hpp_gives_an_application_the_whole_api) {
  // A use of each entry point's types, so that this is more than an
  // include: the API is complete without private headers.
  netasync::options opts;
  auto where = netasync::parse_endpoint("tls://127.0.0.1:0");
  BOOST_REQUIRE(where);
  BOOST_CHECK(where->kind == netasync::scheme::tls);
  BOOST_CHECK_EQUAL(netasync::to_string(netasync::error::tls_handshake_failed),
                    std::string{"tls_handshake_failed"});
  BOOST_CHECK(opts.tls.verify_peer);
  // Compile-time: the URL overloads are declared with these types.
  using connect_by_url = caf::expected<netasync::connection> (*)(
    caf::actor_system&, const std::string&, const netasync::options&,
    std::vector<caf::actor>);
  using accept_by_url = caf::expected<netasync::acceptor> (*)(
    caf::actor_system&, const std::string&, const netasync::options&,
    std::vector<caf::actor>);
  [[maybe_unused]] connect_by_url c = &netasync::connect;
  [[maybe_unused]] accept_by_url a = &netasync::accept;
}
