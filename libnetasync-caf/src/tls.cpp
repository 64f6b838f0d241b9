#include "tls.hpp"

#include <algorithm>
#include <atomic>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/ssl.h>
#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "netasync/error.hpp"

namespace netasync::detail {

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

caf::error config_error(const std::string& what,
                        const boost::system::error_code& ec) {
  return make_error(error::tls_config_invalid, what + ": " + ec.message());
}

// Protocol floor and the trust and identity files common to both sides.
caf::expected<tls_context_ptr> make_context(ssl::context::method method,
                                            const tls_options& opts) {
  auto ctx = std::make_shared<ssl::context>(method);
  ctx->set_options(ssl::context::default_workarounds
                   | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (opts.cert_file.empty() != opts.key_file.empty())
    return make_error(error::tls_config_invalid,
                      "tls.cert-file and tls.key-file go together");
  if (!opts.cert_file.empty()) {
    ctx->use_certificate_chain_file(opts.cert_file, ec);
    if (ec)
      return config_error("tls.cert-file " + opts.cert_file, ec);
    ctx->use_private_key_file(opts.key_file, ssl::context::pem, ec);
    if (ec)
      return config_error("tls.key-file " + opts.key_file, ec);
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1)
      return make_error(error::tls_config_invalid,
                        "tls.key-file " + opts.key_file
                          + " does not match tls.cert-file "
                          + opts.cert_file);
  }
  if (!opts.ca_file.empty()) {
    ctx->load_verify_file(opts.ca_file, ec);
    if (ec)
      return config_error("tls.ca-file " + opts.ca_file, ec);
  }
  if (!opts.ca_dir.empty()) {
    ctx->add_verify_path(opts.ca_dir, ec);
    if (ec)
      return config_error("tls.ca-dir " + opts.ca_dir, ec);
  }
  return ctx;
}

// OpenSSL's reason, and the verification result when that is what failed:
// "certificate verify failed (certificate has expired)".
std::string failure_text(const boost::system::error_code& ec, SSL* ssl) {
  auto text = tls_reason(ec);
  if (ec.category() == asio::error::get_ssl_category()) {
    auto result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK)
      text += std::string{" ("} + X509_verify_cert_error_string(result) + ")";
  }
  return text;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

class handshake : public handshake_pending,
                  public std::enable_shared_from_this<handshake> {
public:
  handshake(tcp_socket sock, tls_context_ptr ctx, link_factory_ptr links,
            handshake_done done)
    : ctx_(std::move(ctx)),
      stream_(std::move(sock), *ctx_),
      timer_(stream_.get_executor()),
      links_(std::move(links)),
      done_(std::move(done)) {
    boost::system::error_code ec;
    auto ep = stream_.lowest_layer().remote_endpoint(ec);
    where_ = ec ? "?" : ep.address().to_string() + ":"
                          + std::to_string(ep.port());
  }

  void start(tls_side side, const tls_peer_check& check,
             caf::timespan timeout) {
    auto* ssl = stream_.native_handle();
    if (side == tls_side::client && !check.name.empty()) {
      // SNI for a name only (RFC 6066: never an IP literal).
      bool ip = is_ip_literal(check.name);
      if (!ip)
        SSL_set_tlsext_host_name(ssl, check.name.c_str());
      // OpenSSL checks the name as part of the chain, so a mismatch is a
      // verification result with its own text ("hostname mismatch"). A name
      // OpenSSL cannot take (an IPv6 literal with a zone) must not pass
      // unchecked.
      if (check.verify
          && (ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
                                                 check.name.c_str())
                 : SSL_set1_host(ssl, check.name.c_str()))
               != 1) {
        fail("cannot verify the name '" + check.name + "'", true);
        return;
      }
    }
    deadline_ = std::chrono::steady_clock::now() + timeout;
    timer_.expires_at(deadline_);
    timer_.async_wait(
      [self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->finished_)
          return;
        self->fail("handshake timed out", true);
      });
    stream_.async_handshake(side == tls_side::client
                              ? ssl::stream_base::client
                              : ssl::stream_base::server,
                            [self = shared_from_this()](
                              const boost::system::error_code& ec) {
                              if (self->finished_)
                                return;
                              if (ec) {
                                self->fail(failure_text(
                                  ec, self->stream_.native_handle()),
                                           false);
                                return;
                              }
                              self->succeed();
                            });
  }

  auto executor() {
    return stream_.get_executor();
  }

  bool ended() const override {
    if (!finished_.load())
      return false;
    auto next = std::atomic_load(&next_);
    return !next || next->ended();
  }

  void cancel(std::string why) override {
    stop(std::move(why), false);
  }

  void wind_down(std::string why) override {
    stop(std::move(why), true);
  }

private:
  // Ends the handshake (reset), or passes the word on to what it became,
  // also when it succeeded meanwhile.
  void stop(std::string why, bool gently) {
    auto pass_on = [gently](const handshake_pending_ptr& next,
                            std::string why) {
      if (gently)
        next->wind_down(std::move(why));
      else
        next->cancel(std::move(why));
    };
    if (auto next = std::atomic_load(&next_)) {
      pass_on(next, std::move(why));
      return;
    }
    asio::dispatch(stream_.get_executor(),
                   [self = shared_from_this(), why = std::move(why), pass_on] {
                     if (!self->finished_)
                       self->fail(why, true);
                     else if (auto next = std::atomic_load(&self->next_))
                       pass_on(next, why);
                   });
  }

  // What the handshake became is stored before it counts as ended: the
  // listener, seeing it not ended, stops it or that (see stop()).
  void succeed() {
    timer_.cancel();
    auto left = std::chrono::duration_cast<caf::timespan>(
      deadline_ - std::chrono::steady_clock::now());
    std::atomic_store(&next_,
                      links_->make(std::move(stream_),
                                   std::max(left, caf::timespan{1}),
                                   std::move(done_)));
    finished_ = true;
  }

  // `reset`: RST, for a peer that said nothing useful (a timeout). After a
  // failed handshake OpenSSL's alert has just been written: FIN behind it,
  // so that the peer can read the reason rather than lose it to a reset.
  // A pending handshake operation ends with operation_aborted (ignored).
  void fail(const std::string& why, bool reset) {
    finished_ = true;
    timer_.cancel();
    boost::system::error_code ec;
    auto& lowest = stream_.lowest_layer();
    if (reset)
      lowest.set_option(asio::socket_base::linger{true, 0}, ec);
    else
      lowest.shutdown(tcp::socket::shutdown_send, ec);
    lowest.close(ec);
    done_(make_error(error::tls_handshake_failed, where_ + ": " + why));
  }

  tls_context_ptr ctx_; // outlives stream_ (declared first)
  tls_stream stream_;
  strand_timer timer_;
  link_factory_ptr links_;
  handshake_done done_;
  std::chrono::steady_clock::time_point deadline_;
  // The link factory's handshake after ours (atomic_load/store: read by
  // ended() and cancel() from the listener's strand).
  handshake_pending_ptr next_;
  std::string where_;
  // Written on the strand; read by ended() from the listener's.
  std::atomic<bool> finished_{false};
};

} // namespace

std::string peer_cert_subject(SSL* ssl) {
  X509* cert = ::SSL_get0_peer_certificate(ssl);
  if (cert == nullptr)
    return {};
  BIO* bio = ::BIO_new(::BIO_s_mem());
  if (bio == nullptr)
    return {};
  std::string result;
  if (::X509_NAME_print_ex(bio, ::X509_get_subject_name(cert), 0,
                           XN_FLAG_RFC2253)
      >= 0) {
    char* data = nullptr;
    auto len = ::BIO_get_mem_data(bio, &data);
    if (len > 0)
      result.assign(data, static_cast<size_t>(len));
  }
  ::BIO_free(bio);
  return result;
}

std::string tls_reason(const boost::system::error_code& ec) {
  auto text = ec.message();
  // Asio appends the library ("(SSL routines)"): noise for a user.
  if (ec.category() == asio::error::get_ssl_category())
    if (auto pos = text.find(" (SSL routines)"); pos != std::string::npos)
      text.erase(pos);
  return text;
}

caf::expected<tls_context_ptr> make_client_context(const tls_options& opts) {
  auto ctx = make_context(ssl::context::tls_client, opts);
  if (!ctx)
    return ctx;
  auto& c = **ctx;
  if (opts.ca_file.empty() && opts.ca_dir.empty()) {
    boost::system::error_code ec;
    c.set_default_verify_paths(ec);
    if (ec)
      return config_error("the system's CA paths", ec);
  }
  c.set_verify_mode(opts.verify_peer ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

caf::expected<tls_context_ptr> make_server_context(const tls_options& opts) {
  if (opts.cert_file.empty())
    return make_error(error::tls_config_invalid,
                      "a TLS listener needs tls.cert-file and tls.key-file");
  if (opts.client_cert != client_cert_policy::none && opts.ca_file.empty()
      && opts.ca_dir.empty())
    return make_error(error::tls_config_invalid,
                      "tls.client-cert " + std::string{to_string(
                        opts.client_cert)}
                        + " needs tls.ca-file or tls.ca-dir");
  auto ctx = make_context(ssl::context::tls_server, opts);
  if (!ctx)
    return ctx;
  // Without it, a client resuming a session (Java's and Go's session
  // caches) is refused outright once client certificates are verified.
  static constexpr unsigned char sid_context[] = "netasync";
  SSL_CTX_set_session_id_context((*ctx)->native_handle(), sid_context,
                                 sizeof(sid_context) - 1);
  switch (opts.client_cert) {
    case client_cert_policy::none:
      (*ctx)->set_verify_mode(ssl::verify_none);
      break;
    case client_cert_policy::optional:
      (*ctx)->set_verify_mode(ssl::verify_peer);
      break;
    case client_cert_policy::required:
      (*ctx)->set_verify_mode(ssl::verify_peer
                              | ssl::verify_fail_if_no_peer_cert);
      break;
  }
  return ctx;
}


handshake_pending_ptr tls_handshake(tcp_socket sock, tls_context_ptr ctx,
                              tls_side side, tls_peer_check check,
                              caf::timespan timeout, link_factory_ptr links,
                              handshake_done done) {
  auto hs = std::make_shared<handshake>(std::move(sock), std::move(ctx),
                                        std::move(links), std::move(done));
  // On the socket's strand (the listener calls from its own).
  auto ex = hs->executor();
  asio::dispatch(ex, [hs, side, check = std::move(check), timeout] {
    hs->start(side, check, timeout);
  });
  return hs;
}

} // namespace netasync::detail
