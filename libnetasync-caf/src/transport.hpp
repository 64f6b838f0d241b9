#pragma once

// The seam between the actors and the sockets: one live link that carries
// frames. The TCP transport (Asio) owns the socket, the frame decoder and the
// write queue; a fake transport stands in for it in deterministic tests, and
// TLS or WebSocket transports will sit behind the same interface.
//
// Every member function may be called from any thread and returns at once.
// A transport reports back with messages (see transport_events below):
// - to its worker: what arrived, and that the link went down;
// - to its supervisor: how many payload frames it wrote completely, and,
//   exactly once, that it is closed (with the final count), so that the
//   supervisor knows which buffered messages to send again on the next link.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "netasync/bytes.hpp"

namespace netasync {

// -- events a transport sends ---------------------------------------------

/// To the worker: (transport_rx_atom). A read completed payloads, or began,
/// continued or ended a partial frame; the payloads wait in the transport
/// until a worker takes them (take_received). Payloads are not in the message
/// so that none is lost with a worker that fails before it took them: its
/// successor takes them. A read of whole heartbeats only sends no event (an
/// idle link costs no actor message per heartbeat received): it only moves
/// last_received(), which the worker reads when it checks liveness.
using transport_rx_atom = caf::atom_constant<caf::atom("na_rx")>;

/// To the worker: (transport_direct_off_atom). The transport no longer
/// delivers payloads itself (see transport::deliver_directly): it refused the
/// sink because payloads were waiting, or the subscribers fell a receive
/// window behind. Payloads wait for the worker again.
using transport_direct_off_atom = caf::atom_constant<caf::atom("na_rxoff")>;

/// To the worker: (transport_down_atom, caf::error reason). The link ended;
/// no more events follow. A default reason means an orderly close by us.
using transport_down_atom = caf::atom_constant<caf::atom("na_down")>;

/// To the supervisor: (transport_sent_atom, uint64_t link, uint64_t n).
/// n more payload frames (heartbeats not counted) were written completely.
using transport_sent_atom = caf::atom_constant<caf::atom("na_sent")>;

/// To the supervisor: (transport_closed_atom, uint64_t link,
/// uint64_t written_total, caf::error reason). The socket is closed; of all
/// payload frames passed to write(), the first written_total were written
/// completely and the others not at all (or torn, which the peer discards).
using transport_closed_atom = caf::atom_constant<caf::atom("na_closed")>;

enum class close_mode {
  /// Write what is queued, then shut the socket down in both directions.
  graceful,
  /// Drop what is queued and reset the connection now (SO_LINGER 0): for
  /// stuck or hostile peers.
  abortive,
};

/// Where a transport hands received payloads when it delivers them itself,
/// from its I/O thread: the subscribers, without a hop through the worker.
class receive_sink {
public:
  virtual ~receive_sink();

  /// Delivers `payloads` (in order, after everything delivered before).
  /// Returns false once the subscribers are a receive window behind: the
  /// transport then stops using this sink.
  virtual bool deliver(std::vector<bytes>& payloads) = 0;
};

using receive_sink_ptr = std::shared_ptr<receive_sink>;

class transport {
public:
  /// Where events go and which link they belong to.
  struct sinks {
    caf::actor worker;
    caf::actor supervisor;
    uint64_t link = 0;
  };

  virtual ~transport();

  /// Starts reading and reporting. Called once.
  virtual void start(sinks to) = 0;

  /// Sends the worker events to a new worker (after the old one failed); it
  /// gets a transport_rx event at once if payloads wait, and transport_down
  /// at once if the link already ended.
  virtual void rebind(caf::actor worker) = 0;

  /// Payload frames passed to write() so far. Read by the supervisor after a
  /// worker died, to know which handed-out messages never reached the link.
  virtual uint64_t submitted() const = 0;

  /// Removes the received payloads not yet taken and hands them, oldest
  /// first, to `deliver`, which runs under the transport's receive lock: a
  /// receive sink cannot be installed between taking and delivering them, so
  /// no payload the sink delivers overtakes them. `deliver` must not call the
  /// transport.
  virtual void
  take_received(const std::function<void(std::vector<bytes>&)>& deliver)
    = 0;

  /// Bytes of payload received and not yet taken.
  virtual size_t received_pending_bytes() const = 0;

  /// How far the decoder is: frames completed so far, and whether a frame is
  /// partly received. Lets the worker time out a trickled frame.
  struct receive_progress {
    uint64_t completed = 0;
    bool in_frame = false;
  };

  virtual receive_progress progress() const = 0;

  /// When bytes last arrived from the peer, on the actor clock (the start of
  /// the link before any did).
  virtual caf::actor_clock::time_point last_received() const = 0;

  /// Queues payload frames (non-empty, within the max frame size).
  virtual void write(std::vector<shared_bytes> payloads) = 0;

  /// From now on, writes a heartbeat frame whenever nothing was written for
  /// `period` (the heartbeat rule of the protocol), on the transport's own
  /// timer: an idle link costs no actor message per heartbeat. Called again
  /// (by a restarted worker), it re-arms with the new period.
  virtual void keep_alive(caf::timespan period) = 0;

  /// From now on, delivers received payloads to `sink` on the I/O thread
  /// instead of holding them for the worker; null: holds them again. Refused
  /// (transport_direct_off to the worker) while payloads are held, so that
  /// none overtakes an older one. Dropped at rebind() and at the end.
  virtual void deliver_directly(receive_sink_ptr sink) = 0;

  /// Stops reading from the socket (TCP then pushes back on the peer).
  virtual void pause_reading() = 0;

  virtual void resume_reading() = 0;

  /// Closes the link; `reason` is what the events report. Idempotent.
  virtual void close(close_mode mode, caf::error reason) = 0;

  /// "address:port" of the peer, for messages and logs.
  virtual std::string peer() const = 0;
};

using transport_ptr = std::shared_ptr<transport>;

} // namespace netasync

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::transport_ptr)
