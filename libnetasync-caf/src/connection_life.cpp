// The connection actor: its links (begin, open, liveness watch, restarts
// of the watchdog), the sends it admits and its stats. The lifecycle
// (dial, reconnect, the link's end, the connection's end) is
// connection_step.cpp, run by the table of connection_lifecycle.hpp.

#include "connection_state.hpp"

namespace netasync::conn {

// Takes what the link wrote out of the outbound buffer: its write count
// (subscriber_delivery.hpp), read when the buffer's content matters (a
// full write window or buffer, a close, stats, the link's end, the link's
// na_sent; the delivery counted the totals), and tells the read gate.
// Not at every send: the count is written by the link's thread, and a
// load per message of one-way traffic costs a cache miss each.
bool catch_up(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.link.written)
    return false;
  // (At the link's end, `acked` may pass the count: the end's total has
  // the writes the link did not report.)
  auto n = st.link.written->messages.load();
  if (n <= st.link.acked)
    return false;
  auto bytes = st.out.size_bytes();
  auto msgs = st.out.size();
  st.out.ack(n - st.link.acked);
  st.link.acked = n;
  bytes -= st.out.size_bytes();
  msgs -= st.out.size();
  st.stats.sent += msgs;
  st.stats.bytes_sent += bytes;
  update_gate(self);
  return true;
}

namespace {

void hand_out(supervisor_actor* self) {
  auto& st = self->state;
  if (st.ph != phase::up || st.out.waiting() == 0)
    return;
  auto in_flight = st.out.in_flight();
  auto in_flight_bytes = st.out.in_flight_bytes();
  if (in_flight >= write_window_messages || in_flight_bytes >= write_window_bytes)
    return;
  // With sessions the window is the protocol's (13.4.1): the peer may hold
  // back what we send, so a message larger than what is left waits until
  // nothing is in flight. A plain link's writes confirm soon: it goes.
  auto batch = st.out.take(write_window_messages - in_flight,
                           write_window_bytes - in_flight_bytes, st.sess.on);
  if (!batch.empty())
    st.link.tr->write(std::move(batch)); // thread-safe: posts to its strand
}

// Whether the actor must hear of the link's next writes before anything
// else would make it look: messages wait beyond the write window, or a
// close waits for the buffer to empty. (With sessions the peer's ACKs free
// the buffer, and they come as messages anyway.)
bool awaits_writes(const supervisor_state& st) {
  return st.ph == phase::up && !st.sess.on && st.link.written
         && (st.out.waiting() > 0 || (st.closing && !st.out.empty()));
}

} // namespace

// Hands waiting messages to the live link, within the write window, and
// asks the link for a message (write_count::wake) only if it must hear of
// the writes: otherwise the count waits until the actor next looks.
void pump(supervisor_actor* self) {
  auto& st = self->state;
  for (;;) {
    hand_out(self);
    if (!awaits_writes(st))
      return;
    // The window is full, or a close waits: did the link write meanwhile?
    if (catch_up(self))
      continue;
    auto& w = *st.link.written;
    // Asked before and not answered yet: the link's next report (one is
    // due: handed-out messages are unreported) answers. Not asked again at
    // every send that finds the window full: that store would bounce the
    // count's cache line between the threads.
    if (w.wake.load(std::memory_order_relaxed))
      return;
    w.wake.store(true);
    if (w.messages.load() <= st.link.acked)
      return; // the link's next report sends the message
  }
}

// The read gate learns the outbound buffer's size, and that the sends it
// took (`taken_bytes` in `taken_msgs`) left the mailbox: after the buffer's
// size, so that an admitted send is always counted in one of them.
void update_gate(supervisor_actor* self, int64_t taken_bytes,
                 int64_t taken_msgs) {
  auto& st = self->state;
  // Only a server connection holds its replies: a client's reading does
  // not depend on its outbound buffer.
  if (!st.gate->bounds().holds_replies)
    return;
  st.gate->set_outbound(st.out.size_bytes(), st.out.size());
  if (taken_msgs > 0)
    st.gate->sent_taken(taken_bytes, taken_msgs);
}

// Whether a close has nothing left to wait for: everything written (with
// sessions: acknowledged), and, for a drain, every call answered.
bool close_complete(const supervisor_state& st) {
  if (!st.out.empty())
    return false;
  return !st.draining
         || (st.sess.in->calls_in.load() == 0 && st.sess.calls.empty());
}

void spawn_worker(supervisor_actor* self) {
  auto& st = self->state;
  worker_config wc{st.link.tr, caf::actor{self},
                   st.cfg.opts->effective_heartbeat_timeout(),
                   st.cfg.opts->frame_timeout};
  st.link.worker = spawn_connection_worker(self->system(), std::move(wc));
  if (st.cfg.track)
    st.cfg.track(st.link.worker);
  self->monitor(st.link.worker);
}

// Starts watching the new link's liveness. A client spawns a worker for it,
// which it restarts when it fails. A server connection ends with its link
// (net.async's rule), so an actor to restart would buy nothing: the link
// judges itself, on the timer it keeps for its heartbeats anyway, and ends
// with the verdict. That saves an actor per connection and a CAF timer
// message per check (one every few seconds for each idle connection).
void watch_link(supervisor_actor* self) {
  auto& st = self->state;
  if (st.cfg.side == role::client) {
    spawn_worker(self);
    return;
  }
  st.link.tr->watch_liveness(st.cfg.opts->effective_heartbeat_timeout(),
                             st.cfg.opts->frame_timeout);
}

// Counts a worker failure; false if it exceeds the restart intensity (the
// connection is then finished).
bool admit_restart(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  auto now = self->clock().now();
  st.failures.push_back(now);
  st.failures.erase(std::remove_if(st.failures.begin(), st.failures.end(),
                                   [&](caf::actor_clock::time_point t) {
                                     return now - t
                                            > st.cfg.opts->restart_window;
                                   }),
                    st.failures.end());
  if (st.failures.size() > st.cfg.opts->max_restarts) {
    finish(self, make_error(error::restart_intensity_exceeded,
                            std::to_string(st.failures.size())
                              + " worker failures, last: "
                              + describe(reason)));
    return false;
  }
  ++st.stats.restarts;
  return true;
}

// Makes `tr` the connection's link; open_link() lets payloads through.
void begin_link(supervisor_actor* self, transport_ptr tr) {
  auto& st = self->state;
  st.link = current_link{};
  st.link.id = ++st.next_link_id;
  st.link.tr = tr;
  st.link.up_since = self->clock().now();
  st.link.up_at = caf::make_timestamp();
  *st.live = std::move(tr);
}

void open_link(supervisor_actor* self) {
  auto& st = self->state;
  auto& tr = st.link.tr;
  st.link.up_since = self->clock().now();
  st.link.up_at = caf::make_timestamp();
  st.gate->set_link(tr);
  ++st.stats.connects;
  // Sent before the link starts, so it precedes every payload.
  notify(self, connected_atom::value, st.handle);
  auto& o = *st.cfg.opts;
  auto delivery = std::make_shared<detail::subscriber_delivery>(
    detail::subscriber_delivery::config{
      caf::actor{self}, st.link.id, st.handle, st.subscribers,
      o.receive_window, o.batch_delivery, st.gate, st.received,
      st.sess.on ? st.sess.in : nullptr,
      !st.sess.on && st.cfg.side == role::server},
    tr);
  st.link.written = detail::subscriber_delivery::count_of(delivery);
  if (st.sess.hs) {
    // Started for the handshake, held since: the delivery takes over.
    st.sess.hs->attach(std::move(delivery));
    tr->resume_reading();
  } else {
    tr->start(std::move(delivery), o.heartbeat_period);
  }
  watch_link(self);
  pump(self);
  maybe_complete_close(self);
}

// Ends the link's watchdog without counting it as a failure.
void stop_worker(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.link.worker)
    return;
  self->demonitor(st.link.worker);
  self->send_exit(st.link.worker, caf::exit_reason::kill);
  st.link.worker = nullptr;
}

// A subscriber's end arrives as its down_msg, through the actor system's
// subscriber_watch: one monitor per subscriber, whatever the number of
// connections it subscribed to (see subscriber_watch.hpp for why).
void watch(supervisor_actor* self, const caf::actor& sub) {
  self->send(self->state.cfg.watch, detail::watch_atom::value, sub,
             self->address());
}

void unwatch(supervisor_actor* self, const caf::actor& sub) {
  self->send(self->state.cfg.watch, detail::unwatch_atom::value, sub,
             self->address());
}


// n messages of `bytes` in all were written completely.
void count_sent(supervisor_actor* self, uint64_t n, uint64_t bytes) {
  auto& st = self->state;
  st.stats.sent += n;
  st.stats.bytes_sent += bytes;
  if (st.cfg.totals)
    st.cfg.totals->sent(n, bytes);
}

connection_stats current_stats(supervisor_actor* self) {
  auto& st = self->state;
  catch_up(self);
  auto s = st.stats;
  s.state = phase_name(st);
  s.dropped = st.out.dropped();
  s.buffered_messages = st.out.size();
  s.buffered_bytes = st.out.size_bytes();
  s.received = st.received->messages.load(std::memory_order_relaxed);
  s.bytes_received = st.received->bytes.load(std::memory_order_relaxed);
  s.link_up_at = st.link.up_at;
  s.duplicates = st.sess.in->duplicates.load(std::memory_order_relaxed);
  if (st.retry) {
    s.attempt = st.retry->attempts();
    if (st.ph == phase::waiting && !st.closing)
      s.next_retry_in = std::max(caf::timespan{0},
                                 caf::timespan{st.retry_due
                                               - self->clock().now()});
  }
  return s;
}

// Puts one message into the outbound buffer, or says why not (counted).
// With sessions it is numbered, as DATA, or as a CALL or REPLY (`call`,
// `status`); a reply is admitted while closing, for a drain waits for it.
caf::error admit(supervisor_actor* self, bytes& payload,
                 session::type t, uint64_t call,
                 uint8_t status) {
  auto& st = self->state;
  auto refused = [&](caf::error err) {
    ++st.stats.rejected;
    if (auto& t = st.cfg.totals)
      t->lost(1);
    return err;
  };
  if (ending_for_good(st) || (st.closing && t != session::type::reply))
    return refused(make_error(error::closed_by_user, "connection is closing"));
  // An empty message would be a heartbeat on the wire; a reply may be empty
  // (its header is not).
  if (t == session::type::data && payload.empty())
    return refused(make_error(error::empty_payload));
  auto overhead = st.sess.on ? session::header_of(t) : 0;
  if (auto err = wire::check_payload(payload.size() + overhead,
                                     st.cfg.opts->max_frame_size))
    return refused(std::move(err));
  auto msg = st.sess.on ? std::make_shared<const bytes>(session::encode_numbered(
                            t, st.sess.next_seq, payload, call, status))
                        : std::make_shared<const bytes>(std::move(payload));
  if (t == session::type::reply) {
    // The peer's caller waits for it: never refused or dropped.
    st.out.push_unbounded(std::move(msg));
    ++st.sess.next_seq;
    return caf::error{};
  }
  // Room the link made meanwhile counts before a refusal or a drop.
  if (!st.out.fits(msg->size()))
    catch_up(self);
  auto dropped_before = st.out.dropped();
  auto v = st.out.push(std::move(msg));
  if (auto& t = st.cfg.totals)
    t->lost(st.out.dropped() - dropped_before);
  if (st.sess.on && v == outbound_buffer::verdict::accepted)
    ++st.sess.next_seq;
  st.stats.dropped = st.out.dropped();
  if (v == outbound_buffer::verdict::rejected
      || (t == session::type::call
          && v == outbound_buffer::verdict::dropped_newest))
    return refused(make_error(error::outbound_buffer_full,
                              std::to_string(st.out.size()) + " messages, "
                                + std::to_string(st.out.size_bytes())
                                + " bytes buffered"));
  return caf::error{};
}

// Only a request can take an error reply: an error sent in reply to a plain
// send would terminate a sender without an error handler.
caf::result<void> reply_to_send(supervisor_actor* self, caf::error err) {
  if (err && self->current_message_id().is_request())
    return err;
  return caf::unit;
}

caf::result<void> on_send(supervisor_actor* self, bytes& payload) {
  auto size = static_cast<int64_t>(payload.size());
  auto err = admit(self, payload);
  pump(self);
  update_gate(self, size, 1);
  return reply_to_send(self, std::move(err));
}

// A batch is admitted message by message, in order; a request learns the
// first refusal (each one is counted).
caf::result<void> on_send_batch(supervisor_actor* self,
                                std::vector<bytes>& payloads) {
  // What the enqueue counted, for a gate that holds replies (only it asks).
  std::pair<int64_t, int64_t> counted{0, 0};
  if (self->state.gate->bounds().holds_replies)
    counted = supervisor_actor::send_size(
      self->current_mailbox_element()->content());
  caf::error first;
  for (auto& payload : payloads)
    if (auto err = admit(self, payload); err && !first)
      first = std::move(err);
  pump(self);
  update_gate(self, counted.first, counted.second);
  return reply_to_send(self, std::move(first));
}


} // namespace netasync::conn
