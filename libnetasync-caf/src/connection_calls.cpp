// The connection actor with sessions: the handshake and its links, the
// peer's calls and their answers. See connection_state.hpp.

#include "connection_state.hpp"

namespace netasync::conn {

// -- sessions -----------------------------------------------------------------

void write_hello(supervisor_actor* self, session::side me) {
  auto& st = self->state;
  session::hello h;
  h.from = me;
  h.resume = st.sess.established;
  h.id = st.sess.id;
  h.next = st.sess.in->next.load();
  // The HELLO acknowledges all of it.
  st.sess.in->raise_acked(h.next);
  st.link.tr->write({std::make_shared<const bytes>(session::encode_hello(h))});
}

// Sessions: the peer acknowledged the `n` oldest messages: they leave the
// buffer and count as sent (payload bytes, without their session headers).
void confirm_sent(supervisor_actor* self, uint64_t n) {
  auto& st = self->state;
  uint64_t payload = 0;
  st.out.for_front(n, [&](const bytes& frame) {
    auto t = static_cast<session::type>(static_cast<uint8_t>(frame[0]));
    payload += frame.size() - session::header_of(t);
  });
  st.out.confirm(n);
  st.sess.front_seq += n;
  count_sent(self, n, payload);
}

// The peer received everything below `peer_next`: those messages leave the
// buffer, the rest goes out again. An error if the peer claims more than
// was ever sent (or less than it already acknowledged).
caf::error check_peer_next(const supervisor_state& st, uint64_t peer_next) {
  auto& ss = st.sess;
  if (peer_next < ss.front_seq || peer_next > ss.next_seq)
    return make_error(error::session_protocol_violation,
                      "the peer's receiving stopped at #"
                        + std::to_string(peer_next) + ", outside the #"
                        + std::to_string(ss.front_seq) + "..#"
                        + std::to_string(ss.next_seq) + " we hold");
  return caf::error{};
}

caf::error apply_peer_next(supervisor_actor* self, uint64_t peer_next) {
  auto& st = self->state;
  auto& ss = st.sess;
  if (auto err = check_peer_next(st, peer_next))
    return err;
  auto n = peer_next - ss.front_seq;
  confirm_sent(self, n);
  auto again = ss.unconfirmed_at_drop > n ? ss.unconfirmed_at_drop - n : 0;
  st.stats.resent += again;
  ss.unconfirmed_at_drop = 0;
  return caf::error{};
}

// Client: a dialled link starts with the handshake; payloads wait for it.
void begin_session_link(supervisor_actor* self, transport_ptr tr) {
  auto& st = self->state;
  begin_link(self, std::move(tr));
  st.sess.handshaking = true;
  st.sess.hs = std::make_shared<detail::session_link>(
    session::side::client, caf::actor{self}, st.link.id);
  st.link.tr->start(st.sess.hs, st.cfg.opts->heartbeat_period);
  write_hello(self, session::side::client);
  self->delayed_send(self, st.cfg.opts->session_handshake_timeout,
                     session_hs_tick_atom::value, st.link.id);
}

// Drops the link whose handshake did not complete (the link is reset).
void abandon_handshake(supervisor_actor* self, const caf::error& why) {
  auto& st = self->state;
  auto tr = std::move(st.link.tr);
  st.link = current_link{};
  st.live->reset();
  st.sess.hs = nullptr;
  st.sess.handshaking = false;
  if (tr)
    tr->close(close_mode::abortive, why);
}

void adopt_session_link(supervisor_actor* self, transport_ptr tr,
                        detail::session_link_ptr hs, uint64_t peer_next,
                        bool resumed) {
  auto& st = self->state;
  st.sess.expiry++; // a scheduled expiry is void
  begin_link(self, std::move(tr));
  st.sess.hs = std::move(hs);
  apply_peer_next(self, peer_next); // it fits: the lifecycle's facts say so
  write_hello(self, session::side::server);
  if (resumed)
    ++st.stats.resumes;
  open_link(self);
}

// The client's view of the session cannot be ours: tell it, and end.
void refuse_session_link(transport_ptr tr, const caf::error& why) {
  tr->write({std::make_shared<const bytes>(session::encode_refuse(
    session::refuse_code::unknown_session, describe(why)))});
  tr->close(close_mode::graceful, why);
}

// -- calls and drains ---------------------------------------------------------

// One of the peer's calls is done with (answered or dropped).
void peer_call_done(supervisor_actor* self) {
  auto& st = self->state;
  // The delivery stopped reading at the bound: one answer lets it read on.
  if (st.sess.in->calls_in.fetch_sub(1) == detail::max_calls_in_flight
      && st.link.tr)
    st.link.tr->resume_reading();
}

// Sends the reply to the peer's call `call` (status 1: `payload` is an
// error's text).
void answer_call(supervisor_actor* self, uint64_t call, uint8_t status,
                 bytes payload) {
  auto& st = self->state;
  peer_call_done(self);
  if (st.draining)
    ++st.drained.calls_completed;
  if (ending_for_good(st))
    return;
  if (payload.size() + session::reply_header > st.cfg.opts->max_frame_size) {
    auto why = "the answer (" + std::to_string(payload.size())
               + " bytes) exceeds the max frame size";
    payload.assign(why.begin(), why.end());
    status = 1;
  }
  admit(self, payload, session::type::reply, call, status);
  pump(self);
  update_gate(self);
  maybe_complete_close(self);
}

// The peer's call goes to the first subscriber as a request; its answer
// (or error) goes back as a REPLY.
void handle_call(supervisor_actor* self, uint64_t call, bytes& payload) {
  auto& st = self->state;
  auto& subs = st.subscribers->owned();
  if (st.draining) {
    // A drain answers the calls in flight when it began and takes no new
    // work: a later call is not run, and fails at the caller with the
    // connection's end (closed, draining). Answering it with an error
    // instead would keep the buffer busy for as long as the peer calls.
    peer_call_done(self);
    maybe_complete_close(self);
    return;
  }
  if (subs.empty()) {
    std::string why = "nobody subscribes to the connection to handle calls";
    answer_call(self, call, 1, bytes(why.begin(), why.end()));
    return;
  }
  // Bounded: a handler that never answers would hold one of the call slots
  // for the connection's life. session-timeout is as long as a session
  // waits for its peer at all; past it the call fails. Not with a request
  // timeout each: every one wakes CAF's clock thread, which cost a third of
  // the server's time per call (64 in flight); the calls' deadlines come in
  // order, so one timer, set for the oldest, bounds them all. (A handler
  // that never answers leaves CAF's pending handler of that request until
  // the connection ends: a few hundred bytes per call it ignored.)
  auto& ss = st.sess;
  auto token = ++ss.next_peer_call;
  ss.peer_calls.emplace(
    token, session_data::peer_call{call, self->clock().now()
                                           + st.cfg.opts->session_timeout});
  if (!ss.peer_call_sweep) {
    ss.peer_call_sweep = true;
    self->delayed_send(self, st.cfg.opts->session_timeout,
                       call_sweep_atom::value);
  }
  // Answered once: by the handler, or by the sweep (a late answer is
  // dropped).
  auto taken = [self, token] {
    return self->state.sess.peer_calls.erase(token) > 0;
  };
  self
    ->request(subs.front(), caf::infinite, call_atom::value, st.handle,
              std::move(payload))
    .then(
      [=](bytes& answer) {
        if (taken())
          answer_call(self, call, 0, std::move(answer));
      },
      [=](caf::error& err) {
        if (!taken())
          return;
        auto why = self->system().render(err);
        answer_call(self, call, 1, bytes(why.begin(), why.end()));
      });
}

void sweep_peer_calls(supervisor_actor* self) {
  auto& st = self->state;
  auto& ss = st.sess;
  ss.peer_call_sweep = false;
  auto now = self->clock().now();
  while (!ss.peer_calls.empty() && ss.peer_calls.begin()->second.due <= now) {
    auto call = ss.peer_calls.begin()->second.call;
    ss.peer_calls.erase(ss.peer_calls.begin());
    auto why = "the handler did not answer within session-timeout ("
               + std::to_string(std::chrono::duration_cast<
                                  std::chrono::milliseconds>(
                                  st.cfg.opts->session_timeout)
                                  .count())
               + " ms)";
    answer_call(self, call, 1, bytes(why.begin(), why.end()));
  }
  if (!ss.peer_calls.empty()) {
    ss.peer_call_sweep = true;
    self->delayed_send(self, ss.peer_calls.begin()->second.due - now,
                       call_sweep_atom::value);
  }
}


} // namespace netasync::conn
