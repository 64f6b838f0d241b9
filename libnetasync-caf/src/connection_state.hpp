#pragma once

// The connection actor's state and the functions its behavior is made of,
// shared by the files that define them: connection_supervisor.cpp (the
// behavior: messages to events), connection_step.cpp (the lifecycle table
// run: phase and actions), connection_life.cpp (links, sends, stats) and
// connection_calls.cpp (sessions, calls, drains). Private to the library;
// everything here runs on the connection actor only.

#include "connection_supervisor.hpp"
#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include "connection_lifecycle.hpp"
#include "connection_worker.hpp"
#include "reconnect_schedule.hpp"
#include "netasync/error.hpp"
#include "quiet_handlers.hpp"
#include "outbound_buffer.hpp"
#include "subscriber_delivery.hpp"
#include "subscriber_watch.hpp"
#include "wire/frame_encoder.hpp"

namespace netasync::conn {


using reconnect_tick_atom = caf::atom_constant<caf::atom("na_redial")>;
using linger_tick_atom = caf::atom_constant<caf::atom("na_linger")>;
using finish_tick_atom = caf::atom_constant<caf::atom("na_finish")>;
// Sessions: the client's handshake bound (link id); a server session's
// expiry (token); a timed ACK (link id); a drain's deadline.
using session_hs_tick_atom = caf::atom_constant<caf::atom("na_shstick")>;
using session_expiry_tick_atom = caf::atom_constant<caf::atom("na_sexpire")>;
using session_ack_tick_atom = caf::atom_constant<caf::atom("na_sacktk")>;
using drain_tick_atom = caf::atom_constant<caf::atom("na_draintk")>;
using call_sweep_atom = caf::atom_constant<caf::atom("na_csweep")>;

namespace session = detail::session;

// How long a finishing connection waits for its link's end report.
constexpr caf::timespan finish_fallback = std::chrono::seconds(1);

// How much of the outbound buffer is handed to a link before the transport
// confirms writes: bounds the transport's queue (memory) without stalling it.
// With sessions a message leaves the window only when the peer acknowledges
// it, so this is the protocol's send window, which the peer counts on.
constexpr size_t write_window_messages = session::window_frames;
constexpr size_t write_window_bytes = session::window_bytes;

// The connection's phases (connection_lifecycle.hpp: the table that moves
// between them).
using phase = life::phase;

// What came with an event of the lifecycle.
struct occurrence {
  occurrence() = default;
  explicit occurrence(caf::error why) : reason(std::move(why)) {
    // nop
  }
  caf::error reason;
  // An offered link (a dial's; an accepted or resumed session's) with its
  // session layer and the peer's receiving position.
  transport_ptr tr;
  detail::session_link_ptr hs;
  uint64_t peer_next = 0;
  // link_failed: how to close it.
  close_mode mode = close_mode::abortive;
  // Found by step(): why an offered session link does not fit; whether the
  // link that ended had been up for a heartbeat-timeout (stable).
  caf::error offer_error;
  bool stable = false;
};

struct current_link {
  uint64_t id = 0;
  transport_ptr tr;
  caf::actor worker; // client: its liveness watchdog, while alive
  bool close_asked = false;
  caf::actor_clock::time_point up_since; // when it went up
  caf::timestamp up_at;                  // the same, for the stats
  // The link's write count (subscriber_delivery.hpp), and how much of it
  // the outbound buffer has taken out so far (catch_up).
  detail::write_count_ptr written;
  uint64_t acked = 0;
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
  // The peer's calls with our handler, by our token (oldest first, so the
  // first is due first), and when each must have been answered. One timer
  // per connection bounds them (see handle_call).
  struct peer_call {
    uint64_t call;
    caf::actor_clock::time_point due;
  };
  uint64_t next_peer_call = 0;
  std::map<uint64_t, peer_call> peer_calls;
  bool peer_call_sweep = false; // a sweep is scheduled
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
  // The end's reason, decided when it settles (finishing waits for the
  // link's end report before it announces `closed`).
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

// The connection's actor. A server connection counts the sends to it
// as CAF enqueues them (any thread), before their payloads' credit returns:
// its read gate holds them with its outbound buffer, so that the replies to
// what it read always find room (read_gate.hpp). Other connections count
// nothing: their gate does not read the count, and on a client's send path
// the two atomic additions and the type test per message cost a tenth of
// the 16 B throughput.
class supervisor_actor : public caf::stateful_actor<supervisor_state> {
public:
  using super = caf::stateful_actor<supervisor_state>;

  // Counting starts here, before the handle can escape: the behavior (and
  // with it the decision whether this connection counts) runs only at the
  // actor's first activation, and its acceptor hands the handle out before
  // that. A connection that does not hold replies stops counting then.
  explicit supervisor_actor(caf::actor_config& cfg)
    : super(cfg), sends_(std::make_shared<detail::send_counter>()) {
    counting_.store(sends_.get(), std::memory_order_release);
  }

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override {
    if (auto counter = counting_.load(std::memory_order_acquire);
        counter != nullptr && ptr) {
      // Relaxed: the gate reads this after the payload's credit, whose
      // release (seq_cst) follows this in the sender's thread (read_gate.hpp).
      auto [n, msgs] = send_size(ptr->content());
      if (msgs > 0) {
        counter->bytes.fetch_add(n, std::memory_order_relaxed);
        counter->messages.fetch_add(msgs, std::memory_order_relaxed);
      }
    }
    super::enqueue(std::move(ptr), eu);
  }

  /// The count of sends, for a connection that holds its replies (those
  /// enqueued before this call included); or nothing, and counting stops.
  detail::send_counter_ptr count_sends(bool holds_replies) {
    if (holds_replies)
      return sends_;
    counting_.store(nullptr, std::memory_order_relaxed);
    return nullptr;
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

private:
  detail::send_counter_ptr sends_;
  std::atomic<detail::send_counter*> counting_{nullptr};
};

inline const char* phase_name(const supervisor_state& st) {
  if (st.closing && st.ph != phase::done)
    return "closing";
  switch (st.ph) {
    case phase::waiting: return "disconnected";
    case phase::dialing: return "connecting";
    case phase::up: return "connected";
    case phase::ending: return "disconnected";
    case phase::finishing: return "closing";
    case phase::done: return "closed";
  }
  return "closed";
}

/// Ended or ending: nothing new is taken.
inline bool ending_for_good(const supervisor_state& st) {
  return st.ph == phase::finishing || st.ph == phase::done;
}

template <class... Ts>
void notify(supervisor_actor* self, Ts&&... xs) {
  auto msg = caf::make_message(std::forward<Ts>(xs)...);
  for (auto& sub : self->state.subscribers->owned())
    self->send(sub, msg);
}

// -- the functions of the behavior (see the files above) ---------------------

void pump(supervisor_actor* self);

bool catch_up(supervisor_actor* self);

void update_gate(supervisor_actor* self, int64_t taken_bytes = 0,
                 int64_t taken_msgs = 0);

bool close_complete(const supervisor_state& st);

/// Runs an event through the lifecycle table: the new phase, then its
/// actions in order. False if the event means nothing in this phase.
bool step(supervisor_actor* self, life::event ev, occurrence occ = {});

/// Closing, and nothing is left: all_written.
void maybe_complete_close(supervisor_actor* self);

/// The finish event: the connection ends with `reason`.
void finish(supervisor_actor* self, caf::error reason);

void spawn_worker(supervisor_actor* self);

bool admit_restart(supervisor_actor* self, const caf::error& reason);

void begin_link(supervisor_actor* self, transport_ptr tr);

void open_link(supervisor_actor* self);

void stop_worker(supervisor_actor* self);

void watch(supervisor_actor* self, const caf::actor& sub);

void unwatch(supervisor_actor* self, const caf::actor& sub);

void count_sent(supervisor_actor* self, uint64_t n, uint64_t bytes);

connection_stats current_stats(supervisor_actor* self);

caf::error admit(supervisor_actor* self, bytes& payload,
                 session::type t = session::type::data, uint64_t call = 0,
                 uint8_t status = 0);

caf::result<void> reply_to_send(supervisor_actor* self, caf::error err);

caf::result<void> on_send(supervisor_actor* self, bytes& payload);

caf::result<void> on_send_batch(supervisor_actor* self,
                                std::vector<bytes>& payloads);

void write_hello(supervisor_actor* self, session::side me);

void confirm_sent(supervisor_actor* self, uint64_t n);

/// Whether the peer's receiving position fits what we hold.
caf::error check_peer_next(const supervisor_state& st, uint64_t peer_next);

caf::error apply_peer_next(supervisor_actor* self, uint64_t peer_next);

void begin_session_link(supervisor_actor* self, transport_ptr tr);

void abandon_handshake(supervisor_actor* self, const caf::error& why);

/// Server: the link of a new or resumed session (its view checked).
void adopt_session_link(supervisor_actor* self, transport_ptr tr,
                        detail::session_link_ptr hs, uint64_t peer_next,
                        bool resumed);

/// Server: refuses a session link whose view of the session is not ours.
void refuse_session_link(transport_ptr tr, const caf::error& why);

void peer_call_done(supervisor_actor* self);

void answer_call(supervisor_actor* self, uint64_t call, uint8_t status,
                 bytes payload);

void handle_call(supervisor_actor* self, uint64_t call, bytes& payload);

/// Fails the peer's calls whose handler did not answer in time.
void sweep_peer_calls(supervisor_actor* self);

} // namespace netasync::conn
