#include "netasync/accept.hpp"

#include <caf/scoped_actor.hpp>

#include "acceptor_actor.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "io_access.hpp"
#include "option_checks.hpp"
#include "schemes.hpp"
#include "netasync/io_module.hpp"

namespace netasync {

namespace {

caf::expected<acceptor> accept_on(caf::actor_system& sys,
                                  const endpoint& where, const options& opts,
                                  std::vector<caf::actor> subscribers) {
  auto mod = io_module::get(sys);
  if (mod == nullptr)
    return make_error(error::module_not_loaded,
                      "load netasync::io_module (see netasync::load)");
  if (auto err = detail::check_options(opts, where.kind))
    return err;
  auto shared_opts = std::make_shared<options>(opts);
  // http://, https://: the requests are what the subscribers are for; the
  // first one answers them unless ws.http_handler names another.
  if (detail::row_of(where.kind).frames == &detail::http_framing
      && !shared_opts->ws.http_handler && !subscribers.empty())
    shared_opts->ws.http_handler = subscribers.front();
  auto l = detail::io_access::listen(*mod, where, shared_opts);
  if (!l)
    return std::move(l.error());
  auto port = (*l)->port();
  acceptor_config cfg;
  cfg.listen = std::move(*l);
  cfg.opts = std::move(shared_opts);
  cfg.subscribers = std::move(subscribers);
  cfg.track = mod->tracker();
  cfg.watch = detail::io_access::subscriber_watch(*mod);
  auto acc = spawn_acceptor(sys, std::move(cfg));
  if (port != 0) // else a name being looked up: bound_port() asks
    detail::io_access::note_port(*mod, caf::actor_cast<caf::actor>(acc),
                                 port);
  return acc;
}

} // namespace

caf::expected<acceptor> accept(caf::actor_system& sys, const std::string& host,
                               uint16_t port, const options& opts,
                               std::vector<caf::actor> subscribers) {
  return accept_on(sys, endpoint{scheme::tcp, host, port, {}}, opts,
                   std::move(subscribers));
}

caf::expected<acceptor> accept(caf::actor_system& sys, const std::string& url,
                               const options& opts,
                               std::vector<caf::actor> subscribers) {
  auto where = parse_endpoint(url);
  if (!where)
    return std::move(where.error());
  return accept_on(sys, *where, opts, std::move(subscribers));
}

caf::expected<acceptor> accept(caf::local_actor* self,
                               const std::string& url) {
  auto& sys = self->system();
  auto opts = options::parse(sys.config());
  if (!opts)
    return std::move(opts.error());
  return accept(sys, url, *opts, {caf::actor_cast<caf::actor>(self)});
}

caf::expected<uint16_t> bound_port(caf::actor_system& sys,
                                   const acceptor& acc) {
  // A local acceptor's port is known: no message, no wait.
  if (auto mod = io_module::get(sys))
    if (auto port = detail::io_access::port_of(*mod, acc.address()))
      return *port;
  // (A remote one, over CAF's middleman, is asked.)
  caf::scoped_actor self{sys};
  caf::expected<uint16_t> result = make_error(error::invalid_argument);
  self->request(acc, std::chrono::seconds(5), get_atom::value, port_atom::value)
    .receive([&](uint16_t port) { result = port; },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

} // namespace netasync
