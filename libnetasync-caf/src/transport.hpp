#pragma once

// The message-link seam (nng's pipe): one live link that carries messages.
// Below it, link_core (the state machine every link shares) with a driver
// per framing: `stream_transport<Stream>` (a length prefix over TCP or TLS),
// `ws_transport<Stream>` (WebSocket); the deterministic actor tests drive
// the same link_core with a scripted driver
// (tests/support/fake_transport.hpp). Above it, one upward interface,
// `link_upper`, learns what arrived and how the link ended.
//
// Who calls whom, on which thread:
// - The supervisor (the connection's actor) calls start(), write(), close()
//   and resume_reading(); it is the only owner of a link's life.
// - The receive credit calls resume_reading() from whichever thread released
//   the credit (a subscriber's, when it is done with a payload).
// - The worker (the liveness watchdog) calls liveness() and peer() only.
// - Every transport function is thread-safe and returns at once; the work
//   happens on the link's own I/O strand.
// - The link calls its link_upper on that strand only, one call at a time,
//   never from inside one of its own functions above. The upper must not
//   call back into the link synchronously except resume_reading() and
//   write() (which only post; a session's delivery writes its ACKs): it
//   answers by its return value, or by messages to actors.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/error.hpp>

#include "netasync/bytes.hpp"

namespace netasync {

enum class close_mode {
  /// Write what is queued, then shut the socket down in both directions.
  graceful,
  /// Drop what is queued and reset the connection now (SO_LINGER 0): for
  /// stuck or hostile peers.
  abortive,
};

/// What a link reports upward, on its I/O strand.
class link_upper {
public:
  virtual ~link_upper();

  /// Payloads completed by reads, oldest first. The upper takes a prefix
  /// (it moves those out and erases them); what it leaves stays with the
  /// link, which offers it again, with what it reads next, at its next read
  /// or at resume_reading(). Returns whether the link may keep reading: false is
  /// the upper's demand saying "enough" (the receive window is outstanding
  /// or held), and the link then waits for resume_reading(). Reads of
  /// heartbeats alone call nothing.
  virtual bool on_payloads(std::vector<bytes>& payloads) = 0;

  /// n more payload frames (heartbeats not counted) of `bytes` payload
  /// bytes in all were written completely. Called when the write queue runs
  /// dry, or every link_core::report_every_* frames or bytes; the upper
  /// counts them (a counter its owner reads, not a message per call).
  virtual void on_sent(uint64_t n, uint64_t bytes) = 0;

  /// The link wrote nothing for a heartbeat period (it sends a heartbeat
  /// now): a moment to settle what the upper keeps for later (the write
  /// count's owner learns of the last writes; see write_count).
  virtual void on_idle() {
    // nop
  }

  /// The peer ended the link while payloads the upper left wait in it:
  /// nothing more arrives, and nothing more is written. The upper may take
  /// them now by other rules (room that only the peer's reading or ACKs
  /// would have made never comes) or give them up; the link offers them
  /// again right after. Calls into the link only by posting (as
  /// resume_reading() does), as everywhere above.
  virtual void on_reading_ended() {
    // nop
  }

  /// The link ended: the last call. If the peer ended it while payloads
  /// the upper left were waiting, the call waits until the upper takes them
  /// at a resume_reading() (or close() drops them). Of all payload frames passed to write(),
  /// the first `written_total` were written completely and the others not
  /// at all (or torn, which the peer discards). A default reason means an
  /// orderly close asked for by close().
  virtual void on_ended(uint64_t written_total, const caf::error& reason) = 0;
};

using link_upper_ptr = std::shared_ptr<link_upper>;

class transport {
public:
  virtual ~transport();

  /// Starts reading and writing, and from now on writes a heartbeat frame
  /// whenever nothing was written for `heartbeat_period` (the protocol's
  /// heartbeat rule, on the link's own timer: an idle link costs no actor
  /// message per heartbeat). Called once.
  virtual void start(link_upper_ptr up, caf::timespan heartbeat_period) = 0;

  /// Queues payload frames (non-empty, within the max frame size).
  virtual void write(std::vector<shared_bytes> payloads) = 0;

  /// Reads again after the upper said "enough": first offers what it left.
  virtual void resume_reading() = 0;

  /// Closes the link; on_ended reports `reason`. Idempotent.
  virtual void close(close_mode mode, caf::error reason) = 0;

  /// The link judges its peer itself from now on (liveness.hpp: silent for
  /// heartbeat_timeout, or a frame trickled for longer than frame_timeout),
  /// on its own timer, and ends with that verdict as on_ended's reason: no
  /// actor message per check. A server connection asks it; a client's
  /// watchdog actor asks liveness() instead.
  virtual void watch_liveness(caf::timespan heartbeat_timeout,
                              caf::timespan frame_timeout) = 0;

  /// What the liveness watchdog needs to know, on the steady clock (the
  /// actor clock of a production system).
  struct liveness_info {
    /// When bytes last arrived from the peer (the start of the link before
    /// any did, the last resume while reading was held back).
    caf::actor_clock::time_point last_received;
    /// Whether a frame is partly received, and since when (a new frame
    /// counts from its first byte; a resume restarts the count).
    bool in_frame = false;
    caf::actor_clock::time_point frame_started;
    /// True while the link does not read because its upper said "enough":
    /// silence then is not the peer's fault.
    bool held_back = false;
  };

  virtual liveness_info liveness() const = 0;

  /// "address:port" of the peer, for messages and logs.
  virtual std::string peer() const = 0;

  /// Server, WebSocket: which of ws.routes the upgrade named (1 + its
  /// index), 0 for the listener's own path. Set by the link factory before
  /// it hands the link on; read by the acceptor after.
  size_t route = 0;
};

using transport_ptr = std::shared_ptr<transport>;

} // namespace netasync

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::transport_ptr)
