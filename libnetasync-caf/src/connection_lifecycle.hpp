#pragma once

// The connection's lifecycle as a table: in which phase the connection is,
// what may happen to it, and what it does then. Pure: no actor, no link, no
// clock. The connection actor (connection_life.cpp, step()) turns each
// message that matters to its life into an event, asks next(), takes the
// new phase and performs the actions in order; tests/lifecycle_test.cpp
// walks every phase, event and combination of facts, and checks that the
// table in docs/design.md is this one.
//
// What stays out of the table, as state of its own: the session (sequence
// numbers, calls, the handshake's link), the outbound buffer and the
// subscribers. The table sees them only as the facts below.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace netasync::conn::life {

enum class phase : uint8_t {
  waiting,   // no link: a redial is scheduled (client), the acceptor has
             // not started the link yet or a session waits for its client
             // to resume (server)
  dialing,   // client: an attempt is under way (with sessions, its
             // handshake too)
  up,        // a link carries payloads
  ending,    // the link was told to close: its end report comes next
  finishing, // the connection ends: it waits for its link's end report
  done,      // closed was announced; the actor quits
};
constexpr size_t phase_count = 6;

enum class event : uint8_t {
  start,          // server: the acceptor starts the accepted link
  dial_ok,        // client: an attempt connected (stale ones too)
  dial_failed,    // client: the attempt failed, or its session handshake
  handshake_ok,   // client, sessions: the server's HELLO fits
  redial_due,     // client: the reconnect wait is over
  link_failed,    // the link is judged dead or broke the protocol
  link_ended,     // the link reported its end
  watch_failed,   // client: the link's watchdog actor failed
  resume,         // server, sessions: the client resumes on a new link
  expired,        // server, sessions: the client did not resume in time
  all_written,    // closing, and nothing is left to write or to answer
  finish,         // end: exit, linger or drain deadline, a limit, a refusal
  finish_timeout, // the link never reported its end
  crash,          // the actor failed (an exception): end at once
};
constexpr size_t event_count = 14;

/// What the actor knows beyond the phase, as far as the table asks.
struct facts {
  bool client = false;
  bool session = false;
  /// Client: the reconnect policy gives up (attempt limit; a link that
  /// ends after a stable time starts the count over).
  bool exhausted = false;
  /// A close or drain was asked, and nothing is left to write or answer.
  bool closed_out = false;
  /// Sessions: the peer sent CLOSE.
  bool peer_closed = false;
  /// Server, sessions: a resume waits for this link's end.
  bool resume_waiting = false;
  /// Server, sessions: the offered link's view of the session fits ours.
  bool offer_fits = true;
};
constexpr size_t fact_count = 7;

/// Facts from bits (bit i is the i-th field above), for walking them all.
facts facts_of_bits(unsigned bits);

enum class action : uint8_t {
  dial,             // a new attempt
  begin_handshake,  // sessions: start the dialled link for the HELLOs
  open_link,        // the offered link becomes the link: connected, start
  adopt_link,       // sessions: the offered link becomes the link (resumed
                    // or new), HELLO written, connected
  refuse_offer,     // close the offered link (late, unneeded, or refused
                    // with a REFUSE when it does not fit)
  hold_offer,       // sessions: keep the offered link until the old ends
  close_link,       // close the link (the mode the event asked for)
  close_orderly,    // everything written: CLOSE (sessions) and FIN
  close_link_now,   // reset the link: the connection ends
  drop_attempt,     // the dialled link whose handshake failed is reset
  retire_link,      // the link's end: what it did not write is unsent
                    // again, its watchdog stops, a stable link resets the
                    // reconnect policy
  lost,             // disconnected to the subscribers, counted
  redial_later,     // the reconnect policy's wait, then redial_due
  await_resume,     // sessions: the session timeout, then expired
  restart_watch,    // a new watchdog on the same link (or a finish past
                    // the restart intensity)
  settle,           // the end's accounts: unsent dropped, calls failed,
                    // the drain report; the reason is decided
  arm_finish_timeout,
  announce_closed,  // closed to the subscribers; the actor quits
};
constexpr size_t action_count = 18;

/// Which reason a settle gives the end.
enum class why : uint8_t {
  given,           // the event's
  closing,         // draining, when a drain asked; else the event's
  own_close,       // draining, when a drain asked; else none (a close)
  peer_close,      // the peer's CLOSE code
  reconnect_limit, // the attempts the policy allowed are spent
  offer,           // why the offered session link does not fit
};

/// When a row applies (rows are tried in order; the first that fits wins).
enum class when : uint8_t {
  always,
  client,
  closed_out,
  peer_closed,
  exhausted,
  session,        // sessions on
  server_plain,
  server_session,
  resume_waiting, // and its offer fits
  resume_unfit,   // a resume waits, and its offer does not fit
  offer_unfit,
};

struct row {
  phase from;
  event on;
  when cond;
  phase to;
  std::vector<action> actions;
  why reason = why::given;
};

/// The table, in order.
const std::vector<row>& table();

struct transition {
  bool handled = false; // false: the event means nothing in this phase
  phase to;
  const std::vector<action>* actions = nullptr;
  why reason = why::given;
};

/// The first row of `from` and `on` whose condition the facts meet.
transition next(phase from, event on, const facts& fs);

const char* name(phase x);
const char* name(event x);
const char* name(action x);
const char* name(when x);
const char* name(why x);

/// The table as Markdown, one line per row (docs/design.md shows it).
std::string render_table();

} // namespace netasync::conn::life
