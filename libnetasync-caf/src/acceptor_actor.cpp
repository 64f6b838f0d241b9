#include "acceptor_actor.hpp"

#include <algorithm>
#include <map>
#include <set>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>

#include "connection_supervisor.hpp"
#include "http/client_board.hpp"
#include "http_exchange.hpp"
#include "io_access.hpp"
#include "metrics.hpp"
#include "traffic_totals.hpp"
#include "netasync/error.hpp"
#include "quiet_handlers.hpp"
#include "session_link.hpp"

namespace netasync {

namespace {

struct acceptor_state {
  acceptor_config cfg;
  acceptor handle;
  // max-buffered-bytes across the connections it hands out.
  detail::buffer_budget_ptr budget;
  detail::traffic_totals_ptr totals
    = std::make_shared<detail::traffic_totals>();
  uint64_t accepted = 0;
  uint64_t refused = 0;
  // Connections handed out and still alive (for max_connections).
  std::set<caf::actor_addr> live;
  bool done = false;
  caf::error reason;
  // Sessions: links whose handshake is under way, by token (oldest first),
  // and the sessions this acceptor keeps, by id and by connection.
  struct handshaking {
    transport_ptr tr;
    detail::session_link_ptr hs;
  };
  std::map<uint64_t, handshaking> handshakes;
  uint64_t next_token = 0;
  std::map<detail::session::session_id, caf::actor> sessions;
  std::map<caf::actor_addr, detail::session::session_id> session_of;
  uint64_t session_failures = 0;
  uint64_t resumed = 0;
  // Draining: new links are refused; the promise sums the connections'
  // reports.
  bool draining = false;
  caf::response_promise drain_rp;
  drain_report drained;
  size_t drain_waiting = 0;
  // Asked for the port before a named listener bound it.
  std::vector<caf::response_promise> port_waiters;
  // The subscribers of each of ws.routes that names its own, those alive.
  std::vector<std::vector<caf::actor>> route_subs;
  static inline const char* name = "netasync.acceptor";
};

using acceptor_actor = caf::stateful_actor<acceptor_state>;

using close_timeout_atom = caf::atom_constant<caf::atom("na_ltime")>;
using session_hs_timeout_atom = caf::atom_constant<caf::atom("na_shsto")>;

namespace session = detail::session;

// How long closed may wait for the listener to confirm the port is free.
constexpr auto listener_close_bound = std::chrono::seconds(2);

// What a request for the port of an acceptor that ended unbound learns.
caf::error unbound_reason(const acceptor_state& st) {
  return st.reason ? st.reason
                   : make_error(error::closed_by_user,
                                "closed before it was bound");
}

void report_closed(acceptor_actor* self) {
  auto& st = self->state;
  for (auto& rp : st.port_waiters)
    rp.deliver(unbound_reason(st));
  st.port_waiters.clear();
  auto msg = caf::make_message(closed_atom::value, st.handle, st.reason);
  // Everyone once: ours, and the routes' (one may be in several lists).
  std::set<caf::actor_addr> told;
  auto tell = [&](const caf::actor& sub) {
    if (!told.insert(sub.address()).second)
      return;
    self->send(sub, msg);
    self->demonitor(sub); // see connection_supervisor.cpp: finish()
  };
  for (auto& sub : st.cfg.subscribers)
    tell(sub);
  for (auto& subs : st.route_subs)
    for (auto& sub : subs)
      tell(sub);
  for (auto& conn : st.live)
    self->demonitor(conn);
  self->quit();
}

// Subscribers learn closed once the port is free, so they may bind it again
// at once; `wait` is false at shutdown, when nobody will bind again.
void stop(acceptor_actor* self, caf::error reason, bool wait) {
  auto& st = self->state;
  if (st.done)
    return;
  st.done = true;
  st.reason = std::move(reason);
  st.cfg.listen->close();
  for (auto& kvp : st.handshakes)
    kvp.second.tr->close(close_mode::abortive, st.reason);
  st.handshakes.clear();
  if (!wait) {
    report_closed(self);
    return;
  }
  self->delayed_send(self, listener_close_bound, close_timeout_atom::value);
}

acceptor_stats current_stats(acceptor_actor* self) {
  auto& st = self->state;
  acceptor_stats s;
  s.open = st.live.size();
  s.accepted = st.accepted;
  s.refused = st.refused;
  s.handshake_failures = st.cfg.listen->handshake_failures()
                         + st.session_failures;
  s.resumed = st.resumed;
  s.buffered_bytes = st.budget ? st.budget->total() : 0;
  auto& t = *st.totals;
  s.received = t.messages_in.load(std::memory_order_relaxed);
  s.bytes_received = t.bytes_in.load(std::memory_order_relaxed);
  s.sent = t.messages_out.load(std::memory_order_relaxed);
  s.sends_lost = t.sends_lost.load(std::memory_order_relaxed);
  s.bytes_sent = t.bytes_out.load(std::memory_order_relaxed);
  return s;
}

// GET /metrics: ours, and the sums of the system's HTTP clients, each
// asked for its own (an answer not in a second counts as none).
void metrics(acceptor_actor* self, const detail::http_exchange_ptr& ex) {
  struct gather {
    acceptor_stats mine;
    http_client_stats clients;
    size_t left = 0;
  };
  auto g = std::make_shared<gather>();
  g->mine = current_stats(self);
  std::vector<caf::actor> clients;
  if (auto mod = io_module::get(self->system()))
    std::tie(clients, g->clients)
      = detail::io_access::http_clients(*mod)->snapshot();
  g->left = clients.size();
  auto done = [g, ex] {
    if (g->left > 0 && --g->left > 0)
      return;
    ex->respond(http_response{
      200,
      {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
      detail::prometheus_text(g->mine, g->clients)});
  };
  if (clients.empty()) {
    done();
    return;
  }
  for (auto& c : clients)
    self->request(c, std::chrono::seconds(1), stats_atom::value)
      .then(
        [g, done](http_client_stats& s) {
          detail::add_up(g->clients, s);
          done();
        },
        [done](caf::error&) { done(); });
}

// Whom a link's connection belongs to: its WebSocket route's subscribers
// (ws.routes), if it came by a route that names its own, else ours.
const std::vector<caf::actor>& subscribers_of(const acceptor_state& st,
                                              const transport& tr) {
  auto& routes = st.cfg.opts->ws.routes;
  if (tr.route > 0 && tr.route <= routes.size()
      && !routes[tr.route - 1].subscribers.empty())
    return st.route_subs[tr.route - 1]; // empty once all of them are gone
  return st.cfg.subscribers;
}

// Spawns the connection for an accepted link (with sessions: its handshake
// done, `h` the client's HELLO) and hands it out.
void hand_out(acceptor_actor* self, transport_ptr tr,
              detail::session_link_ptr hs, const session::hello* h) {
  auto& st = self->state;
  ++st.accepted;
  auto subscribers = subscribers_of(st, *tr);
  supervisor_config sc;
  sc.side = role::server;
  sc.accepted = std::move(tr);
  sc.accepted_session = std::move(hs);
  if (h) {
    sc.session_id = h->id;
    sc.accepted_peer_next = h->next;
  }
  sc.opts = st.cfg.opts;
  sc.observers = subscribers;
  sc.track = st.cfg.track;
  sc.watch = st.cfg.watch;
  sc.budget = st.budget;
  sc.totals = st.totals;
  auto conn = spawn_connection_supervisor(self->system(), std::move(sc));
  self->monitor(conn);
  st.live.insert(conn.address());
  if (h) {
    auto hdl = caf::actor_cast<caf::actor>(conn);
    st.sessions[h->id] = hdl;
    st.session_of[conn.address()] = h->id;
  }
  auto msg = caf::make_message(accepted_atom::value, st.handle, conn);
  for (auto& sub : subscribers)
    self->send(sub, msg);
  // Only now: whatever the link causes comes after `accepted`.
  self->send(caf::actor_cast<caf::actor>(conn), start_link_atom::value);
}

// Tells a session client why not (REFUSE), then closes the link.
void refuse_session(acceptor_actor* self, const transport_ptr& tr,
                    session::refuse_code code, const std::string& why) {
  ++self->state.session_failures;
  tr->write({std::make_shared<const bytes>(session::encode_refuse(code, why))});
  tr->close(close_mode::graceful, make_error(error::session_refused, why));
}

// A client's HELLO: a new session, a resume of one kept here, or a refusal.
void on_session_hello(acceptor_actor* self, uint64_t token,
                      const session::hello& h) {
  auto& st = self->state;
  auto i = st.handshakes.find(token);
  if (i == st.handshakes.end())
    return; // timed out or evicted: its link is closed
  auto tr = std::move(i->second.tr);
  auto hs = std::move(i->second.hs);
  st.handshakes.erase(i);
  if (h.ver != session::version) {
    refuse_session(self, tr, session::refuse_code::version,
                   "this server speaks session version "
                     + std::to_string(session::version));
    return;
  }
  // A resume goes to its session even while draining: that is how the
  // session gets out what it holds before its CLOSE.
  auto known = st.sessions.find(h.id);
  if (known != st.sessions.end()) {
    self
      // Bounded like the handshake it completes: a session actor that does
      // not answer (busy past that) refuses the resume rather than hold it.
      ->request(known->second, st.cfg.opts->session_handshake_timeout,
                session_resume_atom::value, tr, hs, h.next)
      .then([=] { ++self->state.resumed; },
            [=](caf::error& err) {
              refuse_session(self, tr, session::refuse_code::unknown_session,
                             "the session ended here: " + describe(err));
            });
    return;
  }
  if (h.resume) {
    refuse_session(self, tr, session::refuse_code::unknown_session,
                   "no such session here: it expired, or the server "
                   "restarted");
    return;
  }
  if (st.done || st.draining) {
    refuse_session(self, tr, session::refuse_code::draining,
                   "the server is draining");
    return;
  }
  // max-connections bounds sessions, not links: a resume never counts.
  auto max = st.cfg.opts->max_connections;
  if (max > 0 && st.live.size() >= max) {
    tr->close(close_mode::abortive, make_error(error::too_many_connections));
    ++st.refused;
    return;
  }
  hand_out(self, std::move(tr), std::move(hs), &h);
}

// The acceptor's drain is over when every connection replied its report.
void drain_done(acceptor_actor* self) {
  auto& st = self->state;
  if (st.drain_waiting > 0)
    return;
  if (st.drain_rp.pending())
    st.drain_rp.deliver(st.drained);
  stop(self, make_error(error::draining), true);
}

caf::behavior acceptor_behavior(acceptor_actor* self, acceptor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.handle = caf::actor_cast<acceptor>(self);
  if (st.cfg.opts->max_buffered_bytes > 0)
    st.budget = std::make_shared<detail::buffer_budget>(
      st.cfg.opts->max_buffered_bytes);
  for (auto& sub : st.cfg.subscribers)
    self->monitor(sub);
  for (auto& r : st.cfg.opts->ws.routes) {
    st.route_subs.push_back(r.subscribers);
    for (auto& sub : r.subscribers)
      self->monitor(sub);
  }
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (auto i = st.session_of.find(dm.source); i != st.session_of.end()) {
      st.sessions.erase(i->second);
      st.session_of.erase(i);
    }
    if (self->state.live.erase(dm.source) > 0)
      return;
    auto gone = [&](std::vector<caf::actor>& subs) {
      subs.erase(std::remove_if(subs.begin(), subs.end(),
                                [&](const caf::actor& x) {
                                  return x == dm.source;
                                }),
                 subs.end());
    };
    gone(self->state.cfg.subscribers);
    for (auto& subs : self->state.route_subs)
      gone(subs);
  });
  // Nothing a subscriber does may end the acceptor: an error answered to a
  // status (a subscriber without a handler for it) is ignored, and unknown
  // messages are dropped without an answer.
  self->set_error_handler([](caf::error&) {});
  self->set_default_handler(detail::drop_quietly);
  self->set_exit_handler([=](caf::exit_msg& em) {
    stop(self,
         em.reason == caf::exit_reason::user_shutdown
           ? make_error(error::shutting_down)
           : em.reason,
         false);
  });
  // Closing the listener in every way this actor can end, exceptions too.
  self->attach_functor([l = st.cfg.listen] { l->close(); });
  st.cfg.listen->start(caf::actor{self});
  return {
    [=](listener_accepted_atom, transport_ptr& tr) {
      auto& st = self->state;
      // Nobody could ever take this connection: refuse it rather than keep
      // an orphan alive (net.async's 7.4).
      auto& o = *st.cfg.opts;
      // With sessions, a draining acceptor still takes links: resumes of
      // the sessions it drains (new ones are refused after their HELLO).
      if (st.done || (st.draining && !o.session)
          || subscribers_of(st, *tr).empty()) {
        tr->close(close_mode::abortive, make_error(error::closed_by_user));
        ++st.refused;
        return;
      }
      // Past the limit: reset at once, so the client learns it now and
      // retries, rather than waiting unserved in the backlog.
      auto max = o.max_connections;
      if (!o.session && max > 0 && st.live.size() >= max) {
        tr->close(close_mode::abortive,
                  make_error(error::too_many_connections));
        ++st.refused;
        return;
      }
      if (!o.session) {
        hand_out(self, std::move(tr), nullptr, nullptr);
        return;
      }
      // Sessions: which connection the link belongs to is known only from
      // the client's HELLO (a resume goes to the session kept here).
      auto token = ++st.next_token;
      auto hs = std::make_shared<detail::session_link>(session::side::server,
                                                       caf::actor{self},
                                                       token);
      tr->start(hs, o.heartbeat_period);
      st.handshakes.emplace(token, acceptor_state::handshaking{tr, hs});
      // As many handshakes at once as TLS allows; a newcomer evicts the
      // oldest (a peer that connects and stays silent cannot fill memory).
      if (st.handshakes.size() > o.tls.max_handshakes) {
        auto oldest = st.handshakes.begin();
        oldest->second.tr->close(close_mode::abortive,
                                 make_error(error::session_refused,
                                            "evicted while handshaking"));
        ++st.session_failures;
        st.handshakes.erase(oldest);
      }
      self->delayed_send(self, o.session_handshake_timeout,
                         session_hs_timeout_atom::value, token);
    },
    [=](detail::session_hello_atom, uint64_t token, session::hello& h) {
      on_session_hello(self, token, h);
    },
    [=](detail::session_refused_atom, uint64_t token, caf::error& err) {
      // A plain client (or garbage): closed without an answer, so that a
      // plain peer never sees a session frame as a payload.
      auto& st = self->state;
      auto i = st.handshakes.find(token);
      if (i == st.handshakes.end())
        return;
      i->second.tr->close(close_mode::graceful, std::move(err));
      st.handshakes.erase(i);
      ++st.session_failures;
    },
    [=](detail::session_lost_atom, uint64_t token, caf::error&) {
      auto& st = self->state;
      if (st.handshakes.erase(token) > 0)
        ++st.session_failures;
    },
    [=](session_hs_timeout_atom, uint64_t token) {
      auto& st = self->state;
      auto i = st.handshakes.find(token);
      if (i == st.handshakes.end())
        return;
      i->second.tr->close(close_mode::abortive,
                          make_error(error::session_refused,
                                     "no HELLO within the session handshake "
                                     "timeout"));
      st.handshakes.erase(i);
      ++st.session_failures;
    },
    [=](drain_atom, caf::timespan timeout) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (st.draining || st.done) {
        rp.deliver(drain_report{});
        return rp;
      }
      st.draining = true;
      st.drain_rp = rp;
      // Stop accepting now. With sessions the port stays open until the
      // drain ends, for resumes only: a new session is refused after its
      // HELLO (REFUSE draining), a link that sends none is closed by the
      // handshake timeout or the acceptor's end.
      if (!st.cfg.opts->session)
        st.cfg.listen->close();
      st.drain_waiting = st.live.size();
      // Each connection bounds its own drain; the margin only covers a
      // connection that cannot answer at all.
      auto bound = timeout + std::chrono::seconds(5);
      for (auto& addr : st.live) {
        auto conn = caf::actor_cast<caf::actor>(addr);
        self->request(conn, bound, drain_atom::value, timeout)
          .then(
            [=](drain_report& r) {
              auto& d = self->state.drained;
              d.connections_closed += r.connections_closed;
              d.calls_completed += r.calls_completed;
              d.calls_abandoned += r.calls_abandoned;
              d.messages_dropped += r.messages_dropped;
              --self->state.drain_waiting;
              drain_done(self);
            },
            [=](caf::error&) {
              // Ended before it could drain: closed all the same.
              ++self->state.drained.connections_closed;
              --self->state.drain_waiting;
              drain_done(self);
            });
      }
      drain_done(self);
      return rp;
    },
    [=](subscribe_atom, caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      if (sub && std::find(subs.begin(), subs.end(), sub) == subs.end()) {
        self->monitor(sub);
        subs.push_back(std::move(sub));
      }
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      auto i = std::find(subs.begin(), subs.end(), sub);
      if (i != subs.end()) {
        subs.erase(i);
        // CAF 0.17's demonitor drops every monitor of `sub`: one of its
        // routes still needs to learn when it goes.
        self->demonitor(sub);
        for (auto& rs : self->state.route_subs)
          if (std::find(rs.begin(), rs.end(), sub) != rs.end()) {
            self->monitor(sub);
            break;
          }
      }
    },
    [=](close_atom) { stop(self, caf::error{}, true); },
    [=](listener_closed_atom) {
      if (self->state.done)
        report_closed(self);
    },
    [=](close_timeout_atom) {
      if (self->state.done)
        report_closed(self);
    },
    [=](get_atom, port_atom) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (auto port = st.cfg.listen->port(); port != 0)
        rp.deliver(port);
      else if (st.done)
        rp.deliver(unbound_reason(st));
      else // a name still being looked up: answered once bound
        st.port_waiters.push_back(rp);
      return rp;
    },
    [=](listener_bound_atom, uint16_t port) {
      for (auto& rp : self->state.port_waiters)
        rp.deliver(port);
      self->state.port_waiters.clear();
    },
    [=](listener_failed_atom, caf::error& err) {
      // The name did not resolve, or its address could not be bound.
      stop(self, std::move(err), false);
    },
    [=](get_atom, stats_atom) { return current_stats(self); },
    [=](detail::http_exchange_atom, detail::http_exchange_ptr& ex) {
      // Only GET /metrics comes here: connections ask the application's
      // handlers themselves (http/app_request.hpp).
      metrics(self, ex);
    },
  };
}

} // namespace

acceptor spawn_acceptor(caf::actor_system& sys, acceptor_config cfg) {
  auto track = cfg.track;
  auto hdl = sys.spawn<caf::hidden>(acceptor_behavior, std::move(cfg));
  if (track)
    track(hdl);
  return caf::actor_cast<acceptor>(hdl);
}

} // namespace netasync
