#pragma once

// What turns a connected (for TLS: handshaken) stream into a link. The
// length-prefix protocol needs nothing more and makes its link at once; the
// WebSocket link first runs its own handshake (a client's upgrade request,
// a server's HTTP request that may not even be an upgrade). Dialers and
// listeners own the stream's way up to here (TCP connect, TLS) and hand it
// to their factory, so that each kind of link is one factory, not a branch
// in every dialer and listener. Private to the library.
//
// Threads: make() is called on the stream's strand (the attempt's or the
// accepted socket's), and `done` is called there, exactly once; a stream
// that does not become a link is closed before `done` hears of it.

#include <functional>
#include <memory>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/timespan.hpp>

#include "io_types.hpp"
#include "transport.hpp"

namespace netasync::detail {

using handshake_done = std::function<void(caf::expected<transport_ptr>)>;

/// A handshake under way (TLS, or a server's HTTP connection before it
/// upgrades or closes), as the listener sees it: it counts them and evicts
/// the oldest past tls.max-handshakes.
class handshake_pending {
public:
  virtual ~handshake_pending();

  /// Ends the handshake now (reset; `done` gets its failure) if it is
  /// still under way. Any thread.
  virtual void cancel(std::string why) = 0;

  /// True once the handshake succeeded or failed. Any thread.
  virtual bool ended() const = 0;

  /// The listener closes: ends it as soon as that loses nothing. A TLS
  /// handshake is cancelled (or passes this on to what it became); an
  /// HTTP connection closes between requests and answers the request it
  /// is serving first, with `Connection: close`. Any thread.
  virtual void wind_down(std::string why) {
    cancel(std::move(why));
  }
};

using handshake_pending_ptr = std::shared_ptr<handshake_pending>;

class link_factory {
public:
  virtual ~link_factory();

  /// `time_left`: what remains of the connect timeout (a client's); a
  /// server's factory keeps its own bound. Returns the handshake under way,
  /// or null when the link was made at once.
  virtual handshake_pending_ptr make(tcp_socket sock, caf::timespan time_left,
                                     handshake_done done) = 0;
  virtual handshake_pending_ptr make(tls_stream stream,
                                     caf::timespan time_left,
                                     handshake_done done) = 0;

  /// Server: the acceptor actor, before the first make(); HTTP requests
  /// that are not upgrades are answered through it.
  virtual void bind(caf::actor owner) {
    (void) owner;
  }
};

using link_factory_ptr = std::shared_ptr<link_factory>;

/// The length-prefix link (stream_transport), made at once.
link_factory_ptr make_length_prefix_factory(uint32_t max_frame_size);

} // namespace netasync::detail
