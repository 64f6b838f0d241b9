// The HTTP client actor (netasync/http_client.hpp): it owns the pool, one
// record per connection and one queue of waiting requests per origin
// (scheme+host+port), and decides which request goes on which connection.
// The connections (http/client_conn.hpp) do the I/O and report each
// exchange by a message; they know nothing of the pool.

#include "netasync/http_client.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "http/client_board.hpp"
#include "http/client_state.hpp"
#include "http/client_conn.hpp"
#include "http/client_url.hpp"
#include "http/util.hpp"
#include "io_access.hpp"
#include "netasync/atoms.hpp"
#include "netasync/endpoint.hpp"
#include "netasync/error.hpp"
#include "netasync/io_module.hpp"
#include "option_table.hpp"
#include "tcp_dialer.hpp"
#include "tls.hpp"

namespace netasync {

namespace {

using namespace detail;

// (conn_atom, dial id, http_conn_ptr): a connection is up.
using conn_up_atom = caf::atom_constant<caf::atom("na_hconn")>;
// (dial_failed_atom, dial id, caf::error): it could not be opened.
using conn_failed_atom = caf::atom_constant<caf::atom("na_hconerr")>;
// (done_atom, connection id, http_outcome): an exchange ended.
using done_atom = caf::atom_constant<caf::atom("na_hdone")>;
// (idle_atom): time to close the connections idle for idle-timeout.
using idle_atom = caf::atom_constant<caf::atom("na_hidle")>;
// (piece_atom, connection id, std::string): a piece of a streamed body.
using piece_atom = caf::atom_constant<caf::atom("na_hpiece")>;
// (body_end_atom, connection id, caf::error, bool keep_alive): its end.
using body_end_atom = caf::atom_constant<caf::atom("na_hbend")>;


class client {
public:
  explicit client(client_actor* self) : self_(self) {
    // nop
  }

  caf::result<http_response> ask(http_request req, caf::actor sink) {
    auto where = parse_url(req.target);
    if (!where || req.method.empty()) {
      ++st().stats.failures;
      return where ? make_error(error::invalid_argument,
                                "the request has no method")
                   : std::move(where.error());
    }
    // Written as given: a CR or LF would start another request.
    if (!http_util::valid_fields(req.headers)
        || !http_util::valid_field(req.method, "")) {
      ++st().stats.failures;
      return make_error(error::invalid_argument,
                        "a header field or the method is not valid HTTP");
    }
    // Made only now: a promise takes over the answer from the handler's
    // return value.
    auto rp = self_->make_response_promise<http_response>();
    pending p;
    p.req = std::move(req);
    p.where = std::move(*where);
    p.rp = rp;
    p.sink = std::move(sink);
    take(std::move(p));
    return rp;
  }

  void take(pending p) {
    auto key = origin_of(p.where);
    auto& pool = st().pools[key];
    auto max = st().cfg.opts.http_client.max_waiting;
    if (pool.waiting.size() >= max) {
      fail(p, make_error(error::outbound_buffer_full,
                         std::to_string(max) + " requests wait for a connection "
                           "to " + key + " (http-client.max-waiting)"));
      return;
    }
    pool.where = p.where;
    pool.where.path.clear();
    pool.waiting.push_back(std::move(p));
    pump(key);
  }

  // Gives waiting requests of `key` connections, in order: an idle one, a
  // new one within the bounds, or (at the bound in all) room made by
  // closing another origin's idle connection.
  void pump(const std::string& key) {
    auto i = st().pools.find(key);
    if (i == st().pools.end())
      return;
    auto& pool = i->second;
    auto& o = st().cfg.opts.http_client;
    while (!pool.waiting.empty()) {
      auto& front = pool.waiting.front();
      if (!front.retried && !pool.idle.empty()) {
        auto id = pool.idle.back();
        pool.idle.pop_back();
        auto p = std::move(front);
        pool.waiting.pop_front();
        start(id, std::move(p));
        continue;
      }
      // Requests beyond the connections already being opened need more.
      if (pool.dialing >= pool.waiting.size())
        break;
      if (pool.open >= o.max_connections_per_host) {
        // A retry wants a fresh connection: an idle one makes room.
        if (front.retried && !pool.idle.empty()) {
          auto id = pool.idle.front();
          pool.idle.erase(pool.idle.begin());
          drop(id);
          continue;
        }
        break;
      }
      if (st().total_open >= o.max_connections && !evict_idle()) {
        st().blocked_on_total = true;
        break;
      }
      dial(key, pool);
    }
    if (pool.waiting.empty() && pool.open == 0)
      st().pools.erase(i);
  }

  // Room freed in all (a connection closed or idle) reaches the origins
  // that wait for it; only those stopped by the total bound can use it, so
  // nothing is walked unless one was (a response costs no walk of every
  // origin).
  void pump_all() {
    if (!st().blocked_on_total)
      return;
    st().blocked_on_total = false;
    std::vector<std::string> keys;
    for (auto& [key, pool] : st().pools)
      if (!pool.waiting.empty())
        keys.push_back(key);
    for (auto& key : keys)
      pump(key);
  }

  void connected(uint64_t dial_id, http_conn_ptr conn) {
    auto d = st().dials.find(dial_id);
    if (d == st().dials.end()) {
      conn->close();
      return;
    }
    auto key = std::move(d->second);
    st().dials.erase(d);
    auto& pool = st().pools[key];
    --pool.dialing;
    ++st().stats.created;
    auto id = st().next_id++;
    conn_rec rec;
    rec.conn = std::move(conn);
    rec.origin = key;
    st().conns.emplace(id, std::move(rec));
    if (pool.waiting.empty()) {
      idle(id);
      // Another origin may wait for room this one can give.
      pump_all();
      return;
    }
    auto p = std::move(pool.waiting.front());
    pool.waiting.pop_front();
    start(id, std::move(p));
    pump(key);
  }

  void dial_failed(uint64_t dial_id, caf::error err) {
    auto d = st().dials.find(dial_id);
    if (d == st().dials.end())
      return;
    auto key = std::move(d->second);
    st().dials.erase(d);
    auto& pool = st().pools[key];
    --pool.dialing;
    --pool.open;
    --st().total_open;
    // The request at the front answers for the attempt made for it; the
    // others get attempts of their own.
    if (!pool.waiting.empty()) {
      auto p = std::move(pool.waiting.front());
      pool.waiting.pop_front();
      fail(p, std::move(err));
    }
    pump(key);
    pump_all();
  }

  void exchanged(uint64_t id, http_outcome out) {
    auto c = st().conns.find(id);
    if (c == st().conns.end() || !c->second.current)
      return;
    auto& rec = c->second;
    auto p = std::move(*rec.current);
    rec.current.reset();
    auto key = rec.origin;
    auto reused = rec.uses > 1;
    if (!out.response) {
      drop(id);
      // Only a connection the server had closed (nothing came back, not
      // even late) and only a method that may be repeated: a timeout or a
      // POST is the application's to judge.
      if (reused && out.nothing_received && !p.retried
          && code_of(out.response.error()) == error::connection_lost
          && idempotent(p.req.method)) {
        p.retried = true;
        ++st().stats.retried;
        auto& pool = st().pools[key];
        pool.where = p.where;
        pool.where.path.clear();
        pool.waiting.push_front(std::move(p));
      } else {
        fail(p, std::move(out.response.error()));
      }
      pump(key);
      pump_all();
      return;
    }
    auto res = std::move(*out.response);
    if (p.sink && redirects(res)) {
      // The redirect's own body is nobody's: its connection goes (that
      // body unread), and the sink gets the body of where it leads.
      drop(id);
      follow(p, res);
      pump(key);
      pump_all();
      return;
    }
    if (p.sink) {
      // The head; the connection carries the body to the sink now.
      rec.sink = p.sink;
      ++st().stats.responses;
      p.rp.deliver(std::move(res));
      return;
    }
    if (out.keep_alive && st().cfg.opts.http_client.pool)
      idle(id);
    else
      drop(id);
    if (!follow(p, res)) {
      ++st().stats.responses;
      p.rp.deliver(std::move(res));
    }
    pump(key);
    pump_all();
  }

  // A piece of a streamed body goes to its sink as a request; the next is
  // read once it is answered (demand, one piece at a time).
  void piece(uint64_t id, std::string data) {
    auto c = st().conns.find(id);
    if (c == st().conns.end() || !c->second.sink)
      return;
    self_->request(c->second.sink, caf::infinite, http_body_atom::value,
                   std::move(data))
      .then(
        [s = self_, id]() {
          auto c = s->state.conns.find(id);
          if (c != s->state.conns.end())
            c->second.conn->resume();
        },
        [s = self_, id](caf::error& err) {
          // The sink is gone or refused: nobody wants the rest. (A sink
          // that refused is still told that this is the end.)
          auto c = s->state.conns.find(id);
          if (c != s->state.conns.end() && c->second.sink)
            s->send(c->second.sink, http_body_atom::value, err);
          client{s}.drop(id);
          client{s}.pump_all();
        });
  }

  void body_ended(uint64_t id, caf::error err, bool keep_alive) {
    auto c = st().conns.find(id);
    if (c == st().conns.end())
      return;
    auto sink = std::move(c->second.sink);
    c->second.sink = nullptr;
    if (sink)
      self_->send(sink, http_body_atom::value, std::move(err));
    auto key = c->second.origin;
    if (keep_alive && st().cfg.opts.http_client.pool)
      idle(id);
    else
      drop(id);
    pump(key);
    pump_all();
  }

  // Closes the connections idle for idle-timeout; checks again at the
  // next expiry while any stay idle.
  void sweep() {
    st().sweep_scheduled = false;
    auto timeout = st().cfg.opts.http_client.idle_timeout;
    auto now = std::chrono::steady_clock::now();
    std::vector<uint64_t> expired;
    std::optional<std::chrono::steady_clock::time_point> next;
    for (auto& [key, pool] : st().pools)
      for (auto id : pool.idle) {
        auto since = st().conns.at(id).idle_since;
        if (now - since >= timeout)
          expired.push_back(id);
        else if (!next || since < *next)
          next = since;
      }
    for (auto id : expired)
      drop(id);
    forget_empty_pools();
    if (next)
      schedule_sweep(*next + timeout - now);
    if (!expired.empty())
      pump_all();
  }

  http_client_stats stats() {
    auto r = st().stats;
    r.open = st().total_open;
    r.idle = 0;
    r.waiting = 0;
    for (auto& [key, pool] : st().pools) {
      r.idle += pool.idle.size();
      r.waiting += pool.waiting.size();
    }
    return r;
  }

  void fail(pending& p, caf::error err) {
    ++st().stats.failures;
    // A body's sink hears the end of every request it was named for.
    if (p.sink)
      self_->send(p.sink, http_body_atom::value, err);
    p.rp.deliver(std::move(err));
  }

  // Closes connection `id` (not in an idle list any more) and forgets it.
  void drop(uint64_t id) {
    auto c = st().conns.find(id);
    if (c == st().conns.end())
      return;
    c->second.conn->close();
    auto i = st().pools.find(c->second.origin);
    if (i != st().pools.end()) {
      --i->second.open;
      auto& idle = i->second.idle;
      idle.erase(std::remove(idle.begin(), idle.end(), id), idle.end());
    }
    --st().total_open;
    st().conns.erase(c);
  }

private:
  client_state& st() {
    return self_->state;
  }

  void start(uint64_t id, pending p) {
    auto& rec = st().conns.at(id);
    if (++rec.uses > 1)
      ++st().stats.reused;
    auto& o = st().cfg.opts.http_client;
    http_job job;
    job.method = p.req.method;
    job.target = p.where.path;
    job.host = host_field(p.where);
    job.headers = p.req.headers;
    job.body = p.req.body;
    job.max_header_bytes = o.max_header_bytes;
    job.max_body_bytes = o.max_body_bytes;
    job.timeout = o.request_timeout;
    if (p.sink) {
      auto me = caf::actor{self_};
      job.stream = true;
      job.on_piece = [me, id](std::string data) {
        caf::anon_send(me, piece_atom::value, id, std::move(data));
      };
      job.on_end = [me, id](caf::error err, bool keep_alive) {
        caf::anon_send(me, body_end_atom::value, id, std::move(err),
                       keep_alive);
      };
    }
    rec.current = std::move(p);
    rec.conn->exchange(std::move(job),
                       [me = caf::actor{self_}, id](http_outcome out) {
                         caf::anon_send(me, done_atom::value, id,
                                        std::move(out));
                       });
  }

  void idle(uint64_t id) {
    auto& rec = st().conns.at(id);
    rec.idle_since = std::chrono::steady_clock::now();
    st().pools[rec.origin].idle.push_back(id);
    if (!st().sweep_scheduled)
      schedule_sweep(st().cfg.opts.http_client.idle_timeout);
  }

  void schedule_sweep(caf::timespan after) {
    st().sweep_scheduled = true;
    self_->delayed_send(self_, after, idle_atom::value);
  }

  // Closes the longest idle connection of any origin; false if none is.
  // (Never empties the pool being pumped: that one has requests waiting.)
  bool evict_idle() {
    for (auto i = st().pools.begin(); i != st().pools.end(); ++i)
      if (!i->second.idle.empty()) {
        auto id = i->second.idle.front();
        i->second.idle.erase(i->second.idle.begin());
        drop(id);
        if (i->second.open == 0 && i->second.waiting.empty())
          st().pools.erase(i);
        return true;
      }
    return false;
  }

  // Origins with nothing open and nothing waiting take no memory.
  void forget_empty_pools() {
    for (auto i = st().pools.begin(); i != st().pools.end();)
      if (i->second.open == 0 && i->second.waiting.empty())
        i = st().pools.erase(i);
      else
        ++i;
  }

  void dial(const std::string& key, origin_pool& pool) {
    ++pool.open;
    ++pool.dialing;
    ++st().total_open;
    auto dial_id = st().next_id++;
    st().dials.emplace(dial_id, key);
    auto& cfg = st().cfg;
    auto tls = pool.where.kind == scheme::https ? cfg.tls : nullptr;
    tls_peer_check check;
    if (tls) {
      check.name = cfg.opts.tls.server_name.empty() ? pool.where.host
                                                    : cfg.opts.tls.server_name;
      check.verify = cfg.opts.tls.verify_peer;
    }
    auto me = caf::actor{self_};
    auto links = make_http_conn_factory([me, dial_id](http_conn_ptr conn) {
      caf::anon_send(me, conn_up_atom::value, dial_id, std::move(conn));
    });
    dial_stream(*cfg.ctx, pool.where.host, pool.where.port,
                cfg.opts.connect_timeout, std::move(links), std::move(tls),
                std::move(check),
                [me, dial_id](caf::expected<transport_ptr> result) {
                  if (!result)
                    caf::anon_send(me, conn_failed_atom::value, dial_id,
                                   std::move(result.error()));
                });
  }

  // A redirect to follow: the request goes on to its Location (true).
  // Whether `res` is a redirect this client follows (max-redirects > 0).
  bool redirects(const http_response& res) {
    auto s = res.status;
    if (st().cfg.opts.http_client.max_redirects == 0
        || !(s == 301 || s == 302 || s == 303 || s == 307 || s == 308))
      return false;
    auto loc = field(res.headers, "location");
    return loc != nullptr && !loc->empty();
  }

  bool follow(pending& p, const http_response& res) {
    if (!redirects(res))
      return false;
    auto max = st().cfg.opts.http_client.max_redirects;
    auto s = res.status;
    auto loc = field(res.headers, "location");
    if (p.redirects >= max) {
      fail(p, make_error(error::http_too_many_redirects,
                         std::to_string(max) + " redirects followed, the "
                           "last to " + *loc));
      return true;
    }
    auto url = resolve_location(p.where, *loc);
    auto where = parse_url(url);
    if (!where) {
      fail(p, std::move(where.error()));
      return true;
    }
    pending next;
    next.req = redirected(p.req, p.where, *where, s, url);
    next.where = std::move(*where);
    next.rp = p.rp;
    next.sink = p.sink;
    next.redirects = p.redirects + 1;
    take(std::move(next));
    return true;
  }

  client_actor* self_;
};

caf::behavior client_behavior(client_actor* self, client_config cfg) {
  self->state.cfg = std::move(cfg);
  self->state.id = self->id();
  return {
    [=](http_request& req) -> caf::result<http_response> {
      return client{self}.ask(std::move(req), caf::actor{});
    },
    [=](http_request& req, caf::actor& sink) -> caf::result<http_response> {
      return client{self}.ask(std::move(req), std::move(sink));
    },
    [=](piece_atom, uint64_t id, std::string& data) {
      client{self}.piece(id, std::move(data));
    },
    [=](body_end_atom, uint64_t id, caf::error& err, bool keep_alive) {
      client{self}.body_ended(id, std::move(err), keep_alive);
    },
    [=](conn_up_atom, uint64_t dial_id, http_conn_ptr& conn) {
      client{self}.connected(dial_id, std::move(conn));
    },
    [=](conn_failed_atom, uint64_t dial_id, caf::error& err) {
      client{self}.dial_failed(dial_id, std::move(err));
    },
    [=](done_atom, uint64_t id, http_outcome& out) {
      client{self}.exchanged(id, std::move(out));
    },
    [=](idle_atom) { client{self}.sweep(); },
    [=](stats_atom) { return client{self}.stats(); },
  };
}

} // namespace

caf::expected<caf::actor> spawn_http_client(caf::actor_system& sys,
                                            const options& opts) {
  auto mod = io_module::get(sys);
  if (mod == nullptr)
    return make_error(error::module_not_loaded,
                      "load netasync::io_module (see netasync::load)");
  if (auto err = check_bounds(opts, true, false, true))
    return err;
  client_config cfg;
  cfg.opts = opts;
  cfg.ctx = &io_access::context(*mod);
  auto tls = make_client_context(opts.tls);
  if (!tls)
    return std::move(tls.error());
  cfg.tls = std::move(*tls);
  cfg.board = io_access::http_clients(*mod);
  auto board = cfg.board;
  auto c = sys.spawn(client_behavior, std::move(cfg));
  board->join(c);
  return c;
}

caf::expected<caf::actor> spawn_http_client(caf::actor_system& sys) {
  auto opts = options::parse(sys.config());
  if (!opts)
    return std::move(opts.error());
  return spawn_http_client(sys, *opts);
}

} // namespace netasync
