#include "netasync/connect.hpp"

#include <caf/send.hpp>

#include "connection_supervisor.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "io_access.hpp"
#include "option_checks.hpp"
#include "schemes.hpp"
#include "netasync/io_module.hpp"

namespace netasync {

namespace {

caf::expected<connection> connect_to(caf::actor_system& sys,
                                     const endpoint& where,
                                     const options& opts,
                                     std::vector<caf::actor> subscribers) {
  auto mod = io_module::get(sys);
  if (mod == nullptr)
    return make_error(error::module_not_loaded,
                      "load netasync::io_module (see netasync::load)");
  if (!detail::row_of(where.kind).frames->client)
    return make_error(error::invalid_argument,
                      std::string{to_string(where.kind)}
                        + ":// carries no messages: accept() serves it, "
                          "and spawn_http_client() requests it");
  if (where.host.empty() || where.port == 0)
    return make_error(error::invalid_argument,
                      "host must be non-empty and port non-zero");
  if (auto err = detail::check_options(opts, where.kind))
    return err;
  auto shared_opts = std::make_shared<const options>(opts);
  auto dial = detail::io_access::make_dialer(*mod, where, shared_opts);
  if (!dial)
    return std::move(dial.error());
  supervisor_config cfg;
  cfg.side = role::client;
  cfg.host = where.host;
  cfg.port = where.port;
  cfg.dial = std::move(*dial);
  cfg.opts = std::move(shared_opts);
  cfg.subscribers = std::move(subscribers);
  cfg.track = mod->tracker();
  cfg.watch = detail::io_access::subscriber_watch(*mod);
  return spawn_connection_supervisor(sys, std::move(cfg));
}

} // namespace

caf::expected<connection> connect(caf::actor_system& sys,
                                  const std::string& host, uint16_t port,
                                  const options& opts,
                                  std::vector<caf::actor> subscribers) {
  return connect_to(sys, endpoint{scheme::tcp, host, port, {}}, opts,
                    std::move(subscribers));
}

caf::expected<connection> connect(caf::actor_system& sys,
                                  const std::string& url, const options& opts,
                                  std::vector<caf::actor> subscribers) {
  auto where = parse_endpoint(url);
  if (!where)
    return std::move(where.error());
  return connect_to(sys, *where, opts, std::move(subscribers));
}

caf::expected<connection> connect(caf::actor_system& sys,
                                  const std::string& host, uint16_t port) {
  auto opts = options::parse(sys.config());
  if (!opts)
    return std::move(opts.error());
  return connect(sys, host, port, *opts);
}

caf::expected<connection> connect(caf::local_actor* self,
                                  const std::string& url) {
  auto& sys = self->system();
  auto opts = options::parse(sys.config());
  if (!opts)
    return std::move(opts.error());
  return connect(sys, url, *opts, {caf::actor_cast<caf::actor>(self)});
}

void subscribe(const connection& conn, const caf::actor& subscriber) {
  caf::anon_send(conn, subscribe_atom::value, subscriber);
}

} // namespace netasync
