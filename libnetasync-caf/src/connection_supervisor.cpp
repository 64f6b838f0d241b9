#include "connection_supervisor.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "connection_worker.hpp"
#include "liveness.hpp"
#include "reconnect_schedule.hpp"
#include "netasync/error.hpp"
#include "quiet_handlers.hpp"
#include "outbound_buffer.hpp"
#include "subscriber_delivery.hpp"
#include "subscriber_watch.hpp"
#include "wire/frame_encoder.hpp"

namespace netasync {

namespace {

using reconnect_tick_atom = caf::atom_constant<caf::atom("na_redial")>;
using linger_tick_atom = caf::atom_constant<caf::atom("na_linger")>;
using finish_tick_atom = caf::atom_constant<caf::atom("na_finish")>;
// A server connection's liveness check of its link: (link id, due time).
using liveness_tick_atom = caf::atom_constant<caf::atom("na_live")>;
// Sessions: the client's handshake bound (link id); a server session's
// expiry (token); a timed ACK (link id); a drain's deadline.
using session_hs_tick_atom = caf::atom_constant<caf::atom("na_shstick")>;
using session_expiry_tick_atom = caf::atom_constant<caf::atom("na_sexpire")>;
using session_ack_tick_atom = caf::atom_constant<caf::atom("na_sacktk")>;
using drain_tick_atom = caf::atom_constant<caf::atom("na_draintk")>;

namespace session = detail::session;

// How long a finishing connection waits for its link's end report.
constexpr caf::timespan finish_fallback = std::chrono::seconds(1);

// How much of the outbound buffer is handed to a link before the transport
// confirms writes: bounds the transport's queue (memory) without stalling it.
constexpr size_t write_window_messages = 1024;
constexpr size_t write_window_bytes = 4 * 1024 * 1024;

enum class phase {
  waiting,   // link down, a reconnect is scheduled (client)
  dialing,   // an attempt is under way (client)
  up,        // the link is alive
  ending,    // the link is closing: waiting for it to report its end
  done,      // closed
};

struct current_link {
  uint64_t id = 0;
  transport_ptr tr;
  caf::actor worker; // client: its liveness watchdog, while alive
  std::optional<detail::liveness_rule> rule; // server: its liveness
  bool close_asked = false;
  caf::actor_clock::time_point up_since; // when it went up
  caf::timestamp up_at;                  // the same, for the stats
  uint64_t acked = 0; // frames the link confirmed written
  caf::error reason;
};

// What a session keeps across its links (docs/design.md, "Sessions").
struct session_data {
  bool on = false;
  session::session_id id{};
  // Client: a handshake succeeded before, so the next one resumes.
  bool established = false;
  // The sequence numbers of the outbound buffer's front and of the next
  // message admitted: the buffer holds exactly [front_seq, next_seq).
  uint64_t front_seq = 0;
  uint64_t next_seq = 0;
  // Handed to the last link and not confirmed when it ended (for `resent`).
  uint64_t unconfirmed_at_drop = 0;
  // The receiving half, shared with the links' deliveries.
  detail::session_inbox_ptr in = std::make_shared<detail::session_inbox>();
  // The current link's session layer; true until its handshake is done.
  detail::session_link_ptr hs;
  bool handshaking = false;
  // Server: token of the scheduled expiry while no link is up.
  uint64_t expiry = 0;
  // The peer sent CLOSE (with this code): its end is the connection's.
  bool peer_closed = false;
  uint8_t peer_close_code = 0;
  // Server: a resume that waits for the old link's end.
  struct pending_resume {
    transport_ptr tr;
    detail::session_link_ptr hs;
    uint64_t peer_next;
  };
  std::optional<pending_resume> resume;
  // Our calls awaiting the peer's reply, by call id.
  uint64_t next_call = 1;
  std::unordered_map<uint64_t, caf::response_promise> calls;
};

struct supervisor_state {
  supervisor_state() : out(outbound_buffer::limits{0, 0, {}}) {
    // nop
  }

  supervisor_config cfg;
  connection handle;
  // Owned here; the live link's delivery reads its snapshots.
  detail::subscriber_set_ptr subscribers
    = std::make_shared<detail::subscriber_set>();
  // The live link, for the cleanup of a supervisor however it ends (a
  // second close of an ended link does nothing).
  std::shared_ptr<transport_ptr> live = std::make_shared<transport_ptr>();
  outbound_buffer out;
  // Server: stops the link's reading while `out` is over its high-water
  // mark, or while this connection holds much of its acceptor's budget.
  detail::read_gate_ptr gate;
  // Payloads received, counted by the links' deliveries.
  detail::receive_counters_ptr received
    = std::make_shared<detail::receive_counters>();
  phase ph = phase::waiting;
  current_link link;
  uint64_t next_link_id = 0;
  // Token of the current dial or scheduled dial: stale replies and ticks
  // carry an older one.
  uint64_t attempt = 0;
  // Client: the reconnect policy's waits, and when the scheduled attempt is
  // due.
  std::optional<detail::reconnect_schedule> retry;
  caf::actor_clock::time_point retry_due;
  bool closing = false;
  // finish() waits for the link's end before it announces `closed`.
  bool finishing = false;
  caf::error final_reason;
  std::vector<caf::actor_clock::time_point> failures; // within the window
  connection_stats stats;
  // Error messages from subscribers (ignored; see the error handler).
  uint64_t ignored_errors = 0;
  session_data sess;
  // Draining: the promise to answer when closed, and what it reports.
  bool draining = false;
  caf::response_promise drain_rp;
  drain_report drained;
  static inline const char* name = "netasync.connection_supervisor";
};

// The connection's actor. It counts the sends to it as CAF enqueues them
// (any thread), before their payloads' credit returns: a plain server
// connection's read gate holds them with its outbound buffer, so that the
// replies to what it read always find room (read_gate.hpp).
class supervisor_actor : public caf::stateful_actor<supervisor_state> {
public:
  using super = caf::stateful_actor<supervisor_state>;

  explicit supervisor_actor(caf::actor_config& cfg) : super(cfg) {
    // nop
  }

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override {
    if (ptr) {
      auto [n, msgs] = send_size(ptr->content());
      if (msgs > 0) {
        sends->bytes += n;
        sends->messages += msgs;
      }
    }
    super::enqueue(std::move(ptr), eu);
  }

  /// The bytes and messages a send carries (none for other messages).
  static std::pair<int64_t, int64_t>
  send_size(const caf::type_erased_tuple& x) {
    if (x.match_elements<bytes>())
      return {static_cast<int64_t>(x.get_as<bytes>(0).size()), 1};
    if (x.match_elements<std::vector<bytes>>()) {
      int64_t n = 0;
      auto& xs = x.get_as<std::vector<bytes>>(0);
      for (auto& b : xs)
        n += static_cast<int64_t>(b.size());
      return {n, static_cast<int64_t>(xs.size())};
    }
    return {0, 0};
  }

  const detail::send_counter_ptr sends
    = std::make_shared<detail::send_counter>();
};

const char* phase_name(const supervisor_state& st) {
  if ((st.closing || st.finishing) && st.ph != phase::done)
    return "closing";
  switch (st.ph) {
    case phase::waiting: return "disconnected";
    case phase::dialing: return "connecting";
    case phase::up: return "connected";
    case phase::ending: return "disconnected";
    case phase::done: return "closed";
  }
  return "closed";
}

template <class... Ts>
void notify(supervisor_actor* self, Ts&&... xs) {
  auto msg = caf::make_message(std::forward<Ts>(xs)...);
  for (auto& sub : self->state.subscribers->owned())
    self->send(sub, msg);
}

void finish(supervisor_actor* self, caf::error reason, bool wait = true);
void count_sent(supervisor_actor* self, uint64_t n, uint64_t bytes);
void announce_closed(supervisor_actor* self, const caf::error& reason);

// Hands waiting messages to the live link, within the write window.
void pump(supervisor_actor* self) {
  auto& st = self->state;
  if (st.ph != phase::up || st.out.waiting() == 0)
    return;
  auto in_flight = st.out.in_flight();
  auto in_flight_bytes = st.out.in_flight_bytes();
  if (in_flight >= write_window_messages || in_flight_bytes >= write_window_bytes)
    return;
  auto batch = st.out.take(write_window_messages - in_flight,
                           write_window_bytes - in_flight_bytes);
  if (!batch.empty())
    st.link.tr->write(std::move(batch)); // thread-safe: posts to its strand
}

// The read gate learns the outbound buffer's size, and that the sends it
// took (`taken_bytes` in `taken_msgs`) left the mailbox: after the buffer's
// size, so that an admitted send is never counted in neither.
void update_gate(supervisor_actor* self, int64_t taken_bytes = 0,
                 int64_t taken_msgs = 0) {
  auto& st = self->state;
  st.gate->set_outbound(st.out.size_bytes(), st.out.size());
  if (taken_msgs > 0)
    st.gate->sent_taken(taken_bytes, taken_msgs);
}

// Why a connection that closes on its own terms ends: drained, or closed
// by the application (the default error).
caf::error own_close_reason(const supervisor_state& st) {
  return st.draining ? make_error(error::draining) : caf::error{};
}

// Whether a close has nothing left to wait for: everything written (with
// sessions: acknowledged), and, for a drain, every call answered.
bool close_complete(const supervisor_state& st) {
  if (!st.out.empty())
    return false;
  return !st.draining
         || (st.sess.in->calls_in.load() == 0 && st.sess.calls.empty());
}

// Closing: once everything is written, end the link gracefully (with
// sessions, after a CLOSE, so that the peer ends too rather than waiting for
// a resume).
void maybe_complete_close(supervisor_actor* self) {
  auto& st = self->state;
  if (!st.closing || !close_complete(st))
    return;
  if (st.ph == phase::up) {
    if (!st.link.close_asked) {
      st.link.close_asked = true;
      if (st.sess.on)
        st.link.tr->write({std::make_shared<const bytes>(session::encode_close(
          st.draining ? session::close_code::draining
                      : session::close_code::closed))});
      st.link.tr->close(close_mode::graceful, caf::error{});
    }
  } else if (st.ph == phase::waiting || st.ph == phase::dialing)
    finish(self, own_close_reason(st));
}

void dial(supervisor_actor* self) {
  auto& st = self->state;
  st.ph = phase::dialing;
  st.cfg.dial->dial(dialer::request{st.cfg.host, st.cfg.port,
                                    st.cfg.opts->connect_timeout,
                                    caf::actor{self}, ++st.attempt});
}

// After a lost link or a failed attempt (`reason`): the next attempt when
// the reconnect policy says, or the end past its attempt limit.
void schedule_reconnect(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  if (st.retry->exhausted()) {
    finish(self, make_error(error::reconnect_limit,
                            std::to_string(st.retry->attempts())
                              + " attempts since the last stable link, last: "
                              + describe(reason)));
    return;
  }
  auto wait = st.retry->next();
  st.ph = phase::waiting;
  st.retry_due = self->clock().now() + wait;
  self->delayed_send(self, wait, reconnect_tick_atom::value, ++st.attempt);
}

// A server connection's next liveness check of its link.
void arm_liveness(supervisor_actor* self) {
  auto& st = self->state;
  auto due = st.link.rule->due();
  self->delayed_send(self, due - self->clock().now(),
                     liveness_tick_atom::value, st.link.id,
                     detail::ticks_of(due));
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
// (net.async's rule), so an actor to restart would buy nothing: it checks
// the link itself, and saves an actor per connection.
void watch_link(supervisor_actor* self) {
  auto& st = self->state;
  if (st.cfg.side == role::client) {
    spawn_worker(self);
    return;
  }
  st.link.rule.emplace(st.cfg.opts->effective_heartbeat_timeout(),
                       st.cfg.opts->frame_timeout, self->clock().now());
  arm_liveness(self);
}

// The liveness rule judged the link dead (silent peer, trickled frame):
// close it; its end report decides what comes next.
// (Graceful: something owed to the peer is queued, a REFUSE.)
void drop_link(supervisor_actor* self, caf::error reason,
               close_mode mode = close_mode::abortive) {
  auto& st = self->state;
  if (!st.link.reason)
    st.link.reason = std::move(reason);
  st.link.tr->close(mode, st.link.reason);
  st.ph = phase::ending; // until the link reports its end
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

// A worker failed while its link lives on: a new one watches the same link.
// The link itself holds no actor state (writes come from here, payloads go
// from its strand to the subscribers), so nothing is lost or written twice.
void restart_worker(supervisor_actor* self, caf::error reason) {
  auto& st = self->state;
  st.stats.last_error = reason;
  if (!admit_restart(self, reason))
    return;
  notify(self, disconnected_atom::value, st.handle, reason);
  notify(self, connected_atom::value, st.handle);
  spawn_worker(self);
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
  st.ph = phase::up;
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

void start_link(supervisor_actor* self, transport_ptr tr) {
  begin_link(self, std::move(tr));
  open_link(self);
}

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
caf::error apply_peer_next(supervisor_actor* self, uint64_t peer_next) {
  auto& st = self->state;
  auto& ss = st.sess;
  if (peer_next < ss.front_seq || peer_next > ss.next_seq)
    return make_error(error::session_protocol_violation,
                      "the peer's receiving stopped at #"
                        + std::to_string(peer_next) + ", outside the #"
                        + std::to_string(ss.front_seq) + "..#"
                        + std::to_string(ss.next_seq) + " we hold");
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

// Client: the link ended or timed out before the server's HELLO; a failed
// attempt, like a failed dial.
void handshake_failed(supervisor_actor* self, const caf::error& err) {
  auto& st = self->state;
  abandon_handshake(self, err);
  if (st.finishing) {
    announce_closed(self, st.final_reason);
    return;
  }
  ++st.stats.disconnects;
  st.stats.last_error = err;
  notify(self, disconnected_atom::value, st.handle, err);
  if (st.closing && close_complete(st)) {
    finish(self, own_close_reason(st));
    return;
  }
  schedule_reconnect(self, err);
}

// Server: the link of a new or resumed session (its handshake done).
void adopt_session_link(supervisor_actor* self, transport_ptr tr,
                        detail::session_link_ptr hs, uint64_t peer_next,
                        bool resumed) {
  auto& st = self->state;
  st.sess.expiry++; // a scheduled expiry is void
  begin_link(self, std::move(tr));
  st.sess.hs = std::move(hs);
  if (auto err = apply_peer_next(self, peer_next)) {
    // The client's view of the session cannot be ours: tell it, and end.
    auto tr = std::move(st.link.tr);
    st.link = current_link{};
    st.live->reset();
    st.sess.hs = nullptr;
    tr->write({std::make_shared<const bytes>(session::encode_refuse(
      session::refuse_code::unknown_session, describe(err)))});
    tr->close(close_mode::graceful, err);
    finish(self, std::move(err));
    return;
  }
  write_hello(self, session::side::server);
  if (resumed)
    ++st.stats.resumes;
  open_link(self);
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

// The link reported its end: decide what comes next.
void end_link(supervisor_actor* self) {
  auto& st = self->state;
  stop_worker(self);
  if (st.sess.on)
    st.sess.unconfirmed_at_drop = st.out.in_flight();
  st.out.return_in_flight();
  st.sess.hs = nullptr;
  auto reason = st.link.reason;
  // A link that stayed up for a heartbeat-timeout was stable: the waits
  // start over. (A server that accepts and drops at once does not reset
  // them on every short success.)
  if (st.retry
      && self->clock().now() - st.link.up_since
           >= st.cfg.opts->effective_heartbeat_timeout())
    st.retry->reset();
  st.link = current_link{};
  st.live->reset();
  st.gate->set_link({});
  if (reason)
    st.stats.last_error = reason;
  if (st.closing && close_complete(st)) {
    finish(self, st.draining ? make_error(error::draining) : std::move(reason));
    return;
  }
  if (st.sess.peer_closed) {
    // The peer ended the session (CLOSE): no resume will come.
    finish(self, st.sess.peer_close_code
                     == static_cast<uint8_t>(session::close_code::draining)
                   ? make_error(error::draining, "the peer drained")
                   : make_error(error::closed_by_peer));
    return;
  }
  if (st.cfg.side == role::server) {
    if (st.sess.on) {
      // The session outlives its link: the client resumes it on a new one
      // (the same handle), or it expires.
      ++st.stats.disconnects;
      notify(self, disconnected_atom::value, st.handle, reason);
      if (auto r = std::move(st.sess.resume)) {
        st.sess.resume.reset();
        adopt_session_link(self, std::move(r->tr), std::move(r->hs),
                           r->peer_next, true);
        return;
      }
      st.ph = phase::waiting;
      self->delayed_send(self, st.cfg.opts->session_timeout,
                         session_expiry_tick_atom::value, ++st.sess.expiry);
      return;
    }
    // An accepted connection cannot be re-established from this side.
    finish(self, std::move(reason));
    return;
  }
  ++st.stats.disconnects;
  notify(self, disconnected_atom::value, st.handle, reason);
  schedule_reconnect(self, reason);
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

connection_stats current_stats(supervisor_actor* self);

// Tells the subscribers `closed` and quits.
void announce_closed(supervisor_actor* self, const caf::error& reason) {
  auto& st = self->state;
  st.ph = phase::done;
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

// Ends the connection. With a live link, `closed` waits until the link has
// reported its end (its last delivery is then behind us), so that it is the
// last message subscribers get; an actor that must quit at once (its
// exception handler) passes wait = false.
void finish(supervisor_actor* self, caf::error reason, bool wait) {
  auto& st = self->state;
  if (st.ph == phase::done || st.finishing)
    return;
  if (reason)
    st.stats.last_error = reason;
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
  st.gate->set_outbound(0, 0);
  if (unsent > 0 && !reason)
    reason = make_error(error::linger_expired,
                        std::to_string(unsent) + " messages unsent");
  stop_worker(self);
  if (st.sess.handshaking) // no delivery to report the link's end
    abandon_handshake(self, reason ? reason
                                   : make_error(error::closed_by_user));
  if (!st.link.tr || !wait) {
    if (st.link.tr)
      st.link.tr->close(close_mode::abortive,
                        make_error(error::closed_by_user));
    announce_closed(self, reason);
    return;
  }
  st.finishing = true;
  st.final_reason = std::move(reason);
  st.link.tr->close(close_mode::abortive, make_error(error::closed_by_user));
  // An abortive close ends on the link's strand at once; should the report
  // never come, the connection still ends.
  self->delayed_send(self, finish_fallback, finish_tick_atom::value);
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
                 session::type t = session::type::data, uint64_t call = 0,
                 uint8_t status = 0) {
  auto& st = self->state;
  auto refused = [&](caf::error err) {
    ++st.stats.rejected;
    if (auto& t = st.cfg.totals)
      t->lost(1);
    return err;
  };
  if (st.finishing || st.ph == phase::done
      || (st.closing && t != session::type::reply))
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
  auto [size, msgs] = supervisor_actor::send_size(
    self->current_mailbox_element()->content());
  caf::error first;
  for (auto& payload : payloads)
    if (auto err = admit(self, payload); err && !first)
      first = std::move(err);
  pump(self);
  update_gate(self, size, msgs);
  return reply_to_send(self, std::move(first));
}

// -- calls and drains ---------------------------------------------------------

// Sends the reply to the peer's call `call` (status 1: `payload` is an
// error's text).
// One of the peer's calls is done with (answered or dropped).
void peer_call_done(supervisor_actor* self) {
  auto& st = self->state;
  // The delivery stopped reading at the bound: one answer lets it read on.
  if (st.sess.in->calls_in.fetch_sub(1) == detail::max_calls_in_flight
      && st.link.tr)
    st.link.tr->resume_reading();
}

void answer_call(supervisor_actor* self, uint64_t call, uint8_t status,
                 bytes payload) {
  auto& st = self->state;
  peer_call_done(self);
  if (st.draining)
    ++st.drained.calls_completed;
  if (st.ph == phase::done || st.finishing)
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
  // waits for its peer at all; past it the call fails (CAF's
  // request_timeout, rendered for the caller).
  self
    ->request(subs.front(), st.cfg.opts->session_timeout, call_atom::value,
              st.handle, std::move(payload))
    .then(
      [=](bytes& answer) { answer_call(self, call, 0, std::move(answer)); },
      [=](caf::error& err) {
        auto why = self->system().render(err);
        answer_call(self, call, 1, bytes(why.begin(), why.end()));
      });
}

caf::behavior supervisor_behavior(supervisor_actor* self,
                                  supervisor_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.handle = caf::actor_cast<connection>(self);
  {
    // A plain server connection holds its replies (read_gate.hpp).
    auto& o = *st.cfg.opts;
    detail::read_gate::limits lim{o.receive_window,
                                  st.cfg.side == role::server && !o.session,
                                  o.max_outbound_bytes,
                                  o.max_outbound_messages};
    st.gate = std::make_shared<detail::read_gate>(lim, self->sends,
                                                  std::move(st.cfg.budget));
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
        if (st.ph == phase::up)
          restart_worker(self,
                         make_error(error::worker_failed,
                                    self->system().render(dm.reason)));
        return;
      }
      drop_link(self, dm.reason ? dm.reason
                                : make_error(error::connection_lost));
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
    finish(self, err, false);
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
    dial(self);
  return {
    [=](bytes& payload) { return on_send(self, payload); },
    [=](start_link_atom) {
      auto& st = self->state;
      if (st.cfg.accepted && st.ph == phase::waiting && !st.finishing) {
        if (st.sess.on)
          adopt_session_link(self, std::move(st.cfg.accepted),
                             std::move(st.cfg.accepted_session),
                             st.cfg.accepted_peer_next, false);
        else
          start_link(self, std::move(st.cfg.accepted));
      }
    },
    [=](std::vector<bytes>& payloads) { return on_send_batch(self, payloads); },
    [=](subscribe_atom, caf::actor& sub) {
      auto& st = self->state;
      auto& cur = st.subscribers->owned();
      if (!sub || std::find(cur.begin(), cur.end(), sub) != cur.end())
        return;
      if (st.finishing) { // too late for the link: only its end remains
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
    [=](liveness_tick_atom, uint64_t link, int64_t due) {
      auto& st = self->state;
      if (link != st.link.id || st.ph != phase::up || !st.link.rule
          || due != detail::ticks_of(st.link.rule->due()))
        return;
      if (auto err = st.link.rule->check(st.link.tr->liveness(),
                                         self->clock().now()))
        drop_link(self, std::move(err));
      else
        arm_liveness(self);
    },
    [=](dial_ok_atom, uint64_t attempt, transport_ptr& tr) {
      auto& st = self->state;
      if (attempt != st.attempt || st.ph != phase::dialing) {
        tr->close(close_mode::abortive, make_error(error::closed_by_user));
        return;
      }
      if (st.sess.on)
        begin_session_link(self, std::move(tr));
      else
        start_link(self, std::move(tr));
    },
    // -- sessions: the client's handshake --
    [=](detail::session_hello_atom, uint64_t link, session::hello& h) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking || st.finishing)
        return;
      caf::error err;
      if (h.id != st.sess.id)
        err = make_error(error::session_refused,
                         "the server answered for another session");
      else
        err = apply_peer_next(self, h.next);
      if (err) {
        abandon_handshake(self, err);
        finish(self, std::move(err));
        return;
      }
      st.sess.handshaking = false;
      if (st.sess.established)
        ++st.stats.resumes;
      st.sess.established = true;
      open_link(self);
    },
    [=](detail::session_refused_atom, uint64_t link, caf::error& err) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking)
        return;
      // The peer does not speak sessions, or no longer knows ours: trying
      // again would not change its answer.
      abandon_handshake(self, err);
      finish(self, std::move(err));
    },
    [=](detail::session_lost_atom, uint64_t link, caf::error& err) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking)
        return;
      handshake_failed(self, err);
    },
    [=](session_hs_tick_atom, uint64_t link) {
      auto& st = self->state;
      if (link != st.link.id || !st.sess.handshaking || st.finishing)
        return;
      handshake_failed(self, make_error(error::connect_timeout,
                                        "no session HELLO within the "
                                        "session handshake timeout"));
    },
    // -- sessions: the server's resumes and expiry --
    [=](session_resume_atom, transport_ptr& tr, detail::session_link_ptr& hs,
        uint64_t peer_next) -> caf::result<void> {
      auto& st = self->state;
      // A closing (or draining) session takes its client back too: that
      // is how what it holds gets out, before its CLOSE.
      if (st.finishing || st.ph == phase::done)
        return make_error(error::session_expired, "the session is ending");
      if (st.sess.resume) // an older resume that waited: superseded
        st.sess.resume->tr->close(close_mode::abortive,
                                  make_error(error::connection_lost));
      if (st.ph == phase::waiting) {
        adopt_session_link(self, std::move(tr), std::move(hs), peer_next,
                           true);
        return caf::unit;
      }
      // The old link still counts as up here (a half-open link the client
      // gave up on): it goes first; its end adopts the new one.
      st.sess.resume = session_data::pending_resume{std::move(tr),
                                                    std::move(hs), peer_next};
      if (st.ph == phase::up)
        drop_link(self, make_error(error::connection_lost,
                                   "the client resumed on a new link"));
      return caf::unit;
    },
    [=](session_expiry_tick_atom, uint64_t token) {
      auto& st = self->state;
      if (token == st.sess.expiry && st.ph == phase::waiting)
        finish(self, make_error(error::session_expired,
                                "the client did not resume within the "
                                "session timeout"));
    },
    // -- sessions: what the delivery found on the link --
    [=](detail::session_ack_atom, uint64_t link, uint64_t next) {
      auto& st = self->state;
      if (link != st.link.id || st.ph != phase::up)
        return;
      auto& ss = st.sess;
      if (next > ss.next_seq) {
        drop_link(self, make_error(error::session_protocol_violation,
                                   "ACK of #" + std::to_string(next)
                                     + ", beyond the #"
                                     + std::to_string(ss.next_seq)
                                     + " ever sent"));
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
      drop_link(self, std::move(err),
                refused ? close_mode::graceful : close_mode::abortive);
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
      if (st.draining || st.finishing || st.ph == phase::done) {
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
    [=](drain_tick_atom) {
      auto& st = self->state;
      if (st.ph != phase::done)
        finish(self, make_error(error::draining));
    },
    [=](dial_failed_atom, uint64_t attempt, caf::error& reason) {
      auto& st = self->state;
      if (attempt != st.attempt || st.ph != phase::dialing)
        return;
      ++st.stats.disconnects;
      st.stats.last_error = reason;
      notify(self, disconnected_atom::value, st.handle, reason);
      schedule_reconnect(self, reason);
    },
    [=](reconnect_tick_atom, uint64_t attempt) {
      auto& st = self->state;
      if (attempt == st.attempt && st.ph == phase::waiting)
        dial(self);
    },
    [=](detail::link_sent_atom, uint64_t link, uint64_t n) {
      auto& st = self->state;
      if (link != st.link.id)
        return;
      auto before = st.out.size_bytes();
      st.out.ack(n);
      count_sent(self, n, before - st.out.size_bytes());
      st.link.acked += n;
      update_gate(self);
      pump(self);
      maybe_complete_close(self);
    },
    [=](detail::link_ended_atom, uint64_t link, uint64_t written,
        caf::error& reason) {
      auto& st = self->state;
      if (link != st.link.id)
        return;
      if (st.finishing) {
        announce_closed(self, st.final_reason);
        return;
      }
      // With sessions, only the peer's acknowledgements free messages.
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
      end_link(self);
    },
    [=](finish_tick_atom) {
      auto& st = self->state;
      if (st.finishing && st.ph != phase::done)
        announce_closed(self, st.final_reason);
    },
    [=](linger_tick_atom) {
      auto& st = self->state;
      if (st.ph != phase::done)
        finish(self, caf::error{});
    },
  };
}

} // namespace

connection spawn_connection_supervisor(caf::actor_system& sys,
                                       supervisor_config cfg) {
  auto track = cfg.track;
  auto hdl = sys.spawn<caf::hidden>(supervisor_behavior, std::move(cfg));
  if (track)
    track(hdl);
  return caf::actor_cast<connection>(hdl);
}

} // namespace netasync
