// The connection actor's behavior: its message handlers, each a few lines
// over the functions of connection_life.cpp and connection_calls.cpp, and
// its spawn. The state is in connection_state.hpp.

#include "connection_supervisor.hpp"

#include "connection_state.hpp"

namespace netasync {

namespace conn {

caf::behavior supervisor_behavior(supervisor_actor* self,
                                  supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.handle = caf::actor_cast<connection>(self);
  {
    // A server connection holds its replies (read_gate.hpp).
    auto& o = *st.cfg.opts;
    bool holds = st.cfg.side == role::server;
    detail::read_gate::limits lim{o.receive_window, holds,
                                  o.max_outbound_bytes,
                                  o.max_outbound_messages,
                                  /*replies_in_budget=*/holds && !o.session};
    st.gate = std::make_shared<detail::read_gate>(
      lim, self->count_sends(holds), std::move(st.cfg.budget));
  }
  st.received->totals = st.cfg.totals;
  st.out = outbound_buffer{outbound_buffer::limits{
    st.cfg.opts->max_outbound_messages, st.cfg.opts->max_outbound_bytes,
    st.cfg.opts->overflow}};
  for (auto& sub : st.cfg.subscribers)
    if (st.subscribers->add(sub))
      watch(self, sub);
  st.cfg.subscribers.clear();
  // A kill skips finish(): what this actor still watches is unwatched all
  // the same (announce_closed empties the set first on every other path).
  self->attach_functor([w = st.cfg.watch, subs = st.subscribers,
                        me = self->address()] {
    for (auto& sub : *subs->snapshot())
      caf::anon_send(w, detail::unwatch_atom::value, sub, me);
  });
  // However this actor ends (even killed), its live link is closed.
  self->attach_functor([live = st.live] {
    if (*live)
      (*live)->close(close_mode::abortive, make_error(error::closed_by_user));
  });
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.link.worker && dm.source == st.link.worker) {
      st.link.worker = nullptr;
      // A worker that quits with our own error judged the link dead (silent
      // peer, trickled frame); any other reason (an exception, a kill) is a
      // failure of the worker, not of the link.
      if (dm.reason && dm.reason.category() != error_category) {
        step(self, life::event::watch_failed,
             occurrence{make_error(error::worker_failed,
                                   self->system().render(dm.reason))});
        return;
      }
      step(self, life::event::link_failed,
           occurrence{dm.reason ? dm.reason
                                : make_error(error::connection_lost)});
      return;
    }
    auto& subs = st.subscribers->owned();
    auto i = std::find_if(subs.begin(), subs.end(),
                          [&](const caf::actor& x) { return x == dm.source; });
    if (i != subs.end())
      st.subscribers->remove(caf::actor{*i});
  });
  // Nothing a subscriber does may end the connection. A subscriber with no
  // handler for a status (CAF's default handler) answers it with an
  // unexpected_message error, which would otherwise quit this actor (CAF's
  // default error handler): such errors are counted and ignored. Messages
  // this actor does not know are dropped, as CAF's default handler does,
  // without an answer that could end their sender.
  self->set_error_handler([=](caf::error&) { ++self->state.ignored_errors; });
  self->set_default_handler(detail::drop_quietly);
  // An exit (the module's shutdown, or an application's send_exit) closes the
  // connection properly: subscribers learn it, the link is reset.
  self->set_exit_handler([=](caf::exit_msg& em) {
    finish(self, em.reason == caf::exit_reason::user_shutdown
                   ? make_error(error::shutting_down)
                   : em.reason);
  });
  // A failure of this actor ends the connection at once (the handler must
  // return the exit reason): `closed` may then overtake payloads the link
  // is delivering at that moment. A server connection's failure is that of
  // its only actor, so it reports worker_failed, as a client reports its
  // worker's.
  self->set_exception_handler([=](std::exception_ptr& eptr) -> caf::error {
    auto what = what_of(eptr);
    auto err = self->state.cfg.side == role::server
                 ? make_error(error::worker_failed, what)
                 : make_error(error::io_error,
                              "connection supervisor failed: " + what);
    step(self, life::event::crash, occurrence{err});
    return err;
  });
  if (st.cfg.side == role::client)
    st.retry.emplace(*st.cfg.opts);
  st.sess.on = st.cfg.opts->session;
  if (st.sess.on) {
    if (st.cfg.side == role::client) {
      std::random_device rd;
      for (auto& b : st.sess.id)
        b = static_cast<uint8_t>(rd());
    } else {
      st.sess.id = st.cfg.session_id;
    }
  }
  if (st.cfg.side == role::server)
    // Until the acceptor starts it; the functor above closes it if this
    // actor ends first.
    *st.live = st.cfg.accepted;
  else
    step(self, life::event::redial_due); // the first attempt: at once
  return {
    [=](bytes& payload) { return on_send(self, payload); },
    [=](start_link_atom) {
      auto& st = self->state;
      if (!st.cfg.accepted || st.ph != phase::waiting)
        return; // started, or ended first (the link is closed with the actor)
      occurrence occ;
      occ.tr = std::move(st.cfg.accepted);
      occ.hs = std::move(st.cfg.accepted_session);
      occ.peer_next = st.cfg.accepted_peer_next;
      step(self, life::event::start, std::move(occ));
    },
    [=](std::vector<bytes>& payloads) { return on_send_batch(self, payloads); },
    [=](subscribe_atom, caf::actor& sub) {
      auto& st = self->state;
      auto& cur = st.subscribers->owned();
      if (!sub || std::find(cur.begin(), cur.end(), sub) != cur.end())
        return;
      if (st.ph == phase::finishing) { // only the link's end remains
        self->send(sub, closed_atom::value, st.handle, st.final_reason);
        return;
      }
      // A late subscriber learns the current status before the link can
      // send it a payload (it does so once the snapshot is published). A
      // link that is ending may still deliver until it reports its end.
      auto live = st.ph == phase::up || st.ph == phase::ending;
      if (live)
        self->send(sub, connected_atom::value, st.handle);
      auto first = cur.empty();
      st.subscribers->add(sub);
      watch(self, sub);
      // A link holding payloads for want of a subscriber reads on. (One held
      // back by the receive window waits for the credit, as before.)
      if (first && live)
        st.link.tr->resume_reading();
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& st = self->state;
      if (st.subscribers->remove(sub))
        unwatch(self, sub);
    },
    [=](close_atom) {
      auto& st = self->state;
      if (st.closing)
        return;
      st.closing = true;
      self->delayed_send(self, st.cfg.opts->close_linger,
                         linger_tick_atom::value);
      maybe_complete_close(self);
    },
    [=](get_atom, stats_atom) { return current_stats(self); },
    [=](crash_atom) {
      auto& st = self->state;
      if (st.cfg.side == role::server)
        throw std::runtime_error("injected connection failure");
      if (st.ph == phase::up && st.link.worker)
        self->send(st.link.worker, crash_atom::value);
    },
    [=](dial_ok_atom, uint64_t attempt, transport_ptr& tr) {
      auto& st = self->state;
      if (attempt != st.attempt) { // an attempt given up on: nobody saw it
        tr->close(close_mode::abortive, make_error(error::closed_by_user));
        return;
      }
      occurrence occ;
      occ.tr = std::move(tr);
      step(self, life::event::dial_ok, std::move(occ));
    },
    // -- sessions: the client's handshake --
    [=](detail::session_hello_atom, uint64_t link, session::hello& h) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking)
        return;
      caf::error err;
      if (h.id != st.sess.id)
        err = make_error(error::session_refused,
                         "the server answered for another session");
      else
        err = apply_peer_next(self, h.next);
      if (err) { // the handshake's link goes with the end
        finish(self, std::move(err));
        return;
      }
      st.sess.handshaking = false;
      if (st.sess.established)
        ++st.stats.resumes;
      st.sess.established = true;
      step(self, life::event::handshake_ok);
    },
    [=](detail::session_refused_atom, uint64_t link, caf::error& err) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking)
        return;
      // The peer does not speak sessions, or no longer knows ours: trying
      // again would not change its answer.
      finish(self, std::move(err));
    },
    [=](detail::session_lost_atom, uint64_t link, caf::error& err) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking)
        return;
      // A failed attempt, like a failed dial.
      step(self, life::event::dial_failed, occurrence{std::move(err)});
    },
    [=](call_sweep_atom) { sweep_peer_calls(self); },
    [=](session_hs_tick_atom, uint64_t link) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking)
        return;
      step(self, life::event::dial_failed,
           occurrence{make_error(error::connect_timeout,
                                 "no session HELLO within the session "
                                 "handshake timeout")});
    },
    // -- sessions: the server's resumes and expiry --
    [=](session_resume_atom, transport_ptr& tr, detail::session_link_ptr& hs,
        uint64_t peer_next) -> caf::result<void> {
      // A closing (or draining) session takes its client back too: that
      // is how what it holds gets out, before its CLOSE. Up, the old link
      // still counts (a half-open link the client gave up on): it goes
      // first; its end adopts the new one.
      occurrence occ{make_error(error::connection_lost,
                                "the client resumed on a new link")};
      occ.tr = std::move(tr);
      occ.hs = std::move(hs);
      occ.peer_next = peer_next;
      if (!step(self, life::event::resume, std::move(occ)))
        return make_error(error::session_expired, "the session is ending");
      return caf::unit;
    },
    [=](session_expiry_tick_atom, uint64_t token) {
      auto& st = self->state;
      if (token == st.sess.expiry)
        step(self, life::event::expired,
             occurrence{make_error(error::session_expired,
                                   "the client did not resume within the "
                                   "session timeout")});
    },
    // -- sessions: what the delivery found on the link --
    [=](detail::session_ack_atom, uint64_t link, uint64_t next) {
      auto& st = self->state;
      if (link != st.link.id || st.ph != phase::up)
        return;
      auto& ss = st.sess;
      if (next > ss.next_seq) {
        step(self, life::event::link_failed,
             occurrence{make_error(error::session_protocol_violation,
                                   "ACK of #" + std::to_string(next)
                                     + ", beyond the #"
                                     + std::to_string(ss.next_seq)
                                     + " ever sent")});
        return;
      }
      if (next <= ss.front_seq)
        return;
      confirm_sent(self, next - ss.front_seq);
      update_gate(self);
      pump(self);
      maybe_complete_close(self);
    },
    [=](detail::session_call_atom, uint64_t, uint64_t call, bytes& payload) {
      handle_call(self, call, payload);
    },
    [=](detail::session_reply_atom, uint64_t call, uint8_t status,
        bytes& payload) {
      auto& st = self->state;
      auto i = st.sess.calls.find(call);
      if (i == st.sess.calls.end())
        return; // answered before (cannot happen: replies are numbered)
      if (status == 0)
        i->second.deliver(std::move(payload));
      else
        i->second.deliver(make_error(error::call_failed,
                                     std::string(payload.begin(),
                                                 payload.end())));
      st.sess.calls.erase(i);
      if (st.draining)
        ++st.drained.calls_completed;
      maybe_complete_close(self);
    },
    [=](detail::session_close_atom, uint64_t, uint8_t code) {
      auto& st = self->state;
      st.sess.peer_closed = true;
      st.sess.peer_close_code = code;
    },
    [=](detail::session_violation_atom, uint64_t link, caf::error& err) {
      auto& st = self->state;
      if (link != st.link.id || st.ph != phase::up)
        return;
      // A session client on a plain connection is owed the REFUSE that is
      // queued: a graceful close.
      auto refused = !st.sess.on && code_of(err) == error::session_refused;
      occurrence occ{std::move(err)};
      occ.mode = refused ? close_mode::graceful : close_mode::abortive;
      step(self, life::event::link_failed, std::move(occ));
    },
    [=](detail::session_ack_due_atom, uint64_t link) {
      self->delayed_send(self, self->state.cfg.opts->session_ack_delay,
                         session_ack_tick_atom::value, link);
    },
    [=](session_ack_tick_atom, uint64_t link) {
      auto& st = self->state;
      auto& in = *st.sess.in;
      in.ack_scheduled = false;
      // Whichever link is up now: frames that came on it meanwhile found
      // this tick scheduled and asked for none of their own.
      (void) link;
      if (st.ph != phase::up)
        return;
      auto next = in.next.load();
      if (in.raise_acked(next))
        st.link.tr->write({std::make_shared<const bytes>(
          session::encode_ack(next))});
    },
    // -- calls and drains --
    [=](call_atom, bytes& payload) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (!st.sess.on) {
        rp.deliver(make_error(error::invalid_argument,
                              "calls need the session option at both ends"));
        return rp;
      }
      auto id = st.sess.next_call++;
      if (auto err = admit(self, payload, session::type::call, id)) {
        rp.deliver(std::move(err));
        return rp;
      }
      st.sess.calls.emplace(id, rp);
      pump(self);
      update_gate(self);
      return rp;
    },
    [=](drain_atom, caf::timespan timeout) {
      auto& st = self->state;
      auto rp = self->make_response_promise();
      if (st.draining || ending_for_good(st)) {
        rp.deliver(drain_report{});
        return rp;
      }
      st.draining = true;
      st.closing = true;
      st.drain_rp = rp;
      self->delayed_send(self, timeout, drain_tick_atom::value);
      maybe_complete_close(self);
      return rp;
    },
    [=](drain_tick_atom) { finish(self, make_error(error::draining)); },
    [=](dial_failed_atom, uint64_t attempt, caf::error& reason) {
      auto& st = self->state;
      if (attempt != st.attempt)
        return;
      step(self, life::event::dial_failed, occurrence{std::move(reason)});
    },
    [=](reconnect_tick_atom, uint64_t attempt) {
      auto& st = self->state;
      if (attempt == st.attempt)
        step(self, life::event::redial_due);
    },
    [=](detail::link_sent_atom, uint64_t link) {
      // The link wrote while we waited for it (pump asked): catch up, hand
      // out what waits, complete a close.
      if (link != self->state.link.id)
        return;
      catch_up(self);
      pump(self);
      maybe_complete_close(self);
    },
    [=](detail::link_ended_atom, uint64_t link, uint64_t written,
        caf::error& reason) {
      auto& st = self->state;
      if (link != st.link.id)
        return;
      if (st.ph == phase::finishing) {
        step(self, life::event::link_ended);
        return;
      }
      // Every write the link reported came before its end; the end's total
      // also has those it did not report. With sessions, only the peer's
      // acknowledgements free messages.
      catch_up(self);
      if (!st.sess.on && written > st.link.acked) {
        auto before = st.out.size_bytes();
        st.out.ack(written - st.link.acked);
        count_sent(self, written - st.link.acked,
                   before - st.out.size_bytes());
        st.link.acked = written;
        update_gate(self);
      }
      if (!st.link.reason)
        st.link.reason = std::move(reason);
      step(self, life::event::link_ended, occurrence{st.link.reason});
    },
    [=](finish_tick_atom) { step(self, life::event::finish_timeout); },
    [=](linger_tick_atom) { finish(self, caf::error{}); },
  };
}


} // namespace conn


connection spawn_connection_supervisor(caf::actor_system& sys,
                                       supervisor_config cfg) {
  auto track = cfg.track;
  auto hdl = sys.spawn<caf::hidden>(conn::supervisor_behavior, std::move(cfg));
  if (track)
    track(hdl);
  return caf::actor_cast<connection>(hdl);
}

} // namespace netasync
