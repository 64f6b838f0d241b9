// The connection actor runs its lifecycle table (connection_lifecycle.hpp):
// step() gathers the facts the table asks for, takes the new phase and
// performs the row's actions in order. Each action is one function below.
// An action that may itself raise an event (open_link, adopt_link,
// restart_watch) is the last of its row: the nested step sees the phase
// this one set, and nothing of this row runs after it.

#include "connection_state.hpp"

namespace netasync::conn {

namespace {

using life::action;
using life::event;

bool stable(supervisor_actor* self) {
  auto& st = self->state;
  return self->clock().now() - st.link.up_since
         >= st.cfg.opts->effective_heartbeat_timeout();
}

life::facts facts_of(supervisor_actor* self, event ev, occurrence& occ) {
  auto& st = self->state;
  life::facts f;
  f.client = st.cfg.side == role::client;
  f.session = st.sess.on;
  // A link that stayed up for a heartbeat-timeout was stable: its end
  // starts the policy's count over (retire_link resets it). Decided once,
  // here, for both.
  occ.stable = ev == event::link_ended && st.link.tr && stable(self);
  f.exhausted = st.retry && st.retry->exhausted() && !occ.stable;
  f.closed_out = st.closing && close_complete(st);
  f.peer_closed = st.sess.peer_closed;
  f.resume_waiting = st.sess.resume.has_value();
  if (st.sess.on && !f.client) {
    if (ev == event::start || ev == event::resume)
      occ.offer_error = check_peer_next(st, occ.peer_next);
    else if (ev == event::link_ended && st.sess.resume)
      occ.offer_error = check_peer_next(st, st.sess.resume->peer_next);
  }
  f.offer_fits = !occ.offer_error;
  return f;
}

// -- the actions --------------------------------------------------------------

void dial(supervisor_actor* self) {
  auto& st = self->state;
  st.cfg.dial->dial(dialer::request{st.cfg.host, st.cfg.port,
                                    st.cfg.opts->connect_timeout,
                                    caf::actor{self}, ++st.attempt});
}

void redial_later(supervisor_actor* self) {
  auto& st = self->state;
  auto wait = st.retry->next();
  st.retry_due = self->clock().now() + wait;
  self->delayed_send(self, wait, reconnect_tick_atom::value, ++st.attempt);
}

void refuse_offer(supervisor_actor* self, event ev, occurrence& occ) {
  auto& st = self->state;
  if (ev == event::dial_ok) { // late or unneeded: nobody saw it
    occ.tr->close(close_mode::abortive, make_error(error::closed_by_user));
    return;
  }
  auto tr = std::move(occ.tr);
  if (ev == event::start && *st.live == tr)
    st.live->reset(); // closed here, gracefully: not reset at the actor's end
  if (ev == event::link_ended && st.sess.resume) {
    tr = std::move(st.sess.resume->tr);
    st.sess.resume.reset();
  }
  if (tr)
    refuse_session_link(std::move(tr), occ.offer_error);
}

void adopt_link(supervisor_actor* self, event ev, occurrence& occ) {
  auto& st = self->state;
  if (ev == event::link_ended) { // the resume that waited for this end
    auto r = std::move(*st.sess.resume);
    st.sess.resume.reset();
    adopt_session_link(self, std::move(r.tr), std::move(r.hs), r.peer_next,
                       true);
    return;
  }
  adopt_session_link(self, std::move(occ.tr), std::move(occ.hs),
                     occ.peer_next, ev == event::resume);
}

void hold_offer(supervisor_actor* self, occurrence& occ) {
  auto& st = self->state;
  if (st.sess.resume) // an older resume that waited: superseded
    st.sess.resume->tr->close(close_mode::abortive,
                              make_error(error::connection_lost));
  st.sess.resume = session_data::pending_resume{std::move(occ.tr),
                                                std::move(occ.hs),
                                                occ.peer_next};
}

// The link is judged dead (or breaks the protocol): close it; its end
// report decides what comes next. Graceful when something owed to the
// peer is queued (a REFUSE).
void close_link(supervisor_actor* self, const occurrence& occ) {
  auto& st = self->state;
  if (!st.link.reason)
    st.link.reason = occ.reason;
  st.link.tr->close(occ.mode, st.link.reason);
}

// Everything is written: end the link gracefully (with sessions, after a
// CLOSE, so that the peer ends too rather than waiting for a resume).
void close_orderly(supervisor_actor* self) {
  auto& st = self->state;
  if (st.link.close_asked)
    return;
  st.link.close_asked = true;
  if (st.sess.on)
    st.link.tr->write({std::make_shared<const bytes>(session::encode_close(
      st.draining ? session::close_code::draining
                  : session::close_code::closed))});
  st.link.tr->close(close_mode::graceful, caf::error{});
}

void close_link_now(supervisor_actor* self) {
  auto& st = self->state;
  if (st.link.tr)
    st.link.tr->close(close_mode::abortive, make_error(error::closed_by_user));
}

void retire_link(supervisor_actor* self, const occurrence& occ) {
  auto& st = self->state;
  catch_up(self);
  stop_worker(self);
  if (st.sess.on)
    st.sess.unconfirmed_at_drop = st.out.in_flight();
  st.out.return_in_flight();
  st.sess.hs = nullptr;
  // (A server that accepts and drops at once does not reset the waits on
  // every short success.)
  if (st.retry && occ.stable)
    st.retry->reset();
  if (st.link.reason)
    st.stats.last_error = st.link.reason;
  st.link = current_link{};
  st.live->reset();
  st.gate->set_link({});
}

void lost(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  ++st.stats.disconnects;
  if (reason)
    st.stats.last_error = reason;
  notify(self, disconnected_atom::value, st.handle, reason);
}

void restart_watch(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  st.stats.last_error = reason;
  if (!admit_restart(self, reason))
    return;
  notify(self, disconnected_atom::value, st.handle, reason);
  notify(self, connected_atom::value, st.handle);
  spawn_worker(self);
}

caf::error reason_of(supervisor_actor* self, life::why w,
                     const occurrence& occ) {
  auto& st = self->state;
  switch (w) {
    case life::why::given:
      return occ.reason;
    case life::why::closing:
      return st.draining ? make_error(error::draining) : occ.reason;
    case life::why::own_close:
      return st.draining ? make_error(error::draining) : caf::error{};
    case life::why::peer_close:
      return st.sess.peer_close_code
                 == static_cast<uint8_t>(session::close_code::draining)
               ? make_error(error::draining, "the peer drained")
               : make_error(error::closed_by_peer);
    case life::why::reconnect_limit:
      return make_error(error::reconnect_limit,
                        std::to_string(st.retry->attempts())
                          + " attempts since the last stable link, last: "
                          + describe(occ.reason));
    case life::why::offer:
      return occ.offer_error;
  }
  return occ.reason;
}

// The end's accounts: what was not written is dropped (counted), our calls
// fail, a drain learns its report, the reason is final.
void settle(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  if (reason)
    st.stats.last_error = reason;
  catch_up(self); // written is not unsent
  auto unsent = st.out.clear();
  st.stats.dropped = st.out.dropped();
  if (auto& t = st.cfg.totals)
    t->lost(unsent);
  if (st.draining) {
    st.drained.connections_closed = 1;
    st.drained.messages_dropped = unsent;
    st.drained.calls_abandoned
      = st.sess.in->calls_in.load() + st.sess.calls.size();
    reason = make_error(error::draining);
  }
  // Our calls end with the connection; the peer's, unanswered, are dropped.
  for (auto& kvp : st.sess.calls)
    kvp.second.deliver(reason ? reason
                              : make_error(error::closed_by_user,
                                           "the connection closed"));
  st.sess.calls.clear();
  if (st.sess.resume) {
    st.sess.resume->tr->close(close_mode::abortive, reason);
    st.sess.resume.reset();
  }
  update_gate(self);
  if (unsent > 0 && !reason)
    reason = make_error(error::linger_expired,
                        std::to_string(unsent) + " messages unsent");
  stop_worker(self);
  if (st.sess.handshaking) // no delivery to report the link's end
    abandon_handshake(self, reason ? reason
                                   : make_error(error::closed_by_user));
  st.final_reason = std::move(reason);
}

// Tells the subscribers `closed` and quits.
void announce_closed(supervisor_actor* self) {
  auto& st = self->state;
  const auto& reason = st.final_reason;
  auto subs = st.subscribers->snapshot();
  st.subscribers->clear();
  // Nobody subscribed yet (a server-side connection that ended at once):
  // tell those who were handed it, so that no handle dies unannounced.
  const auto& told = subs->empty() ? st.cfg.observers : *subs;
  if (st.cfg.opts->final_stats) {
    // A closed handle cannot be asked any more: the last counters come
    // with its end.
    auto last = caf::make_message(stats_atom::value, st.handle,
                                  current_stats(self));
    for (auto& x : told)
      self->send(x, last);
  }
  auto msg = caf::make_message(closed_atom::value, st.handle, reason);
  for (auto& x : told)
    self->send(x, msg);
  // The watch would keep this actor's address (and memory) for as long as
  // each subscriber lives. (A killed supervisor never gets here: the
  // functor attached in supervisor_behavior unwatches for it.)
  for (auto& sub : *subs)
    unwatch(self, sub);
  st.cfg.observers.clear();
  if (st.drain_rp.pending())
    st.drain_rp.deliver(st.drained);
  self->quit();
}

void perform(supervisor_actor* self, action act, event ev, life::why w,
             occurrence& occ) {
  auto& st = self->state;
  switch (act) {
    case action::dial:
      dial(self);
      return;
    case action::begin_handshake:
      begin_session_link(self, std::move(occ.tr));
      return;
    case action::open_link:
      if (occ.tr) // a handshake's link is the connection's already
        begin_link(self, std::move(occ.tr));
      open_link(self);
      return;
    case action::adopt_link:
      adopt_link(self, ev, occ);
      return;
    case action::refuse_offer:
      refuse_offer(self, ev, occ);
      return;
    case action::hold_offer:
      hold_offer(self, occ);
      return;
    case action::close_link:
      close_link(self, occ);
      return;
    case action::close_orderly:
      close_orderly(self);
      return;
    case action::close_link_now:
      close_link_now(self);
      return;
    case action::drop_attempt:
      abandon_handshake(self, occ.reason);
      return;
    case action::retire_link:
      retire_link(self, occ);
      return;
    case action::lost:
      lost(self, occ.reason);
      return;
    case action::redial_later:
      redial_later(self);
      return;
    case action::await_resume:
      self->delayed_send(self, st.cfg.opts->session_timeout,
                         session_expiry_tick_atom::value, ++st.sess.expiry);
      return;
    case action::restart_watch:
      restart_watch(self, occ.reason);
      return;
    case action::settle:
      settle(self, reason_of(self, w, occ));
      return;
    case action::arm_finish_timeout:
      // An abortive close ends on the link's strand at once; should the
      // report never come, the connection still ends.
      self->delayed_send(self, finish_fallback, finish_tick_atom::value);
      return;
    case action::announce_closed:
      announce_closed(self);
      return;
  }
}

} // namespace

bool step(supervisor_actor* self, event ev, occurrence occ) {
  auto& st = self->state;
  auto fs = facts_of(self, ev, occ);
  auto t = life::next(st.ph, ev, fs);
  if (!t.handled)
    return false;
  st.ph = t.to;
  for (auto act : *t.actions)
    perform(self, act, ev, t.reason, occ);
  return true;
}

void maybe_complete_close(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.closing)
    return;
  pump(self); // what was written; a wake-up for what is not yet
  if (close_complete(st))
    step(self, event::all_written);
}

void finish(supervisor_actor* self, caf::error reason) {
  step(self, event::finish, occurrence{std::move(reason)});
}

} // namespace netasync::conn
