// The actor of one streamed response body (http/stream.hpp) and the
// server-sent event helpers (netasync/http.hpp).

#include "http/stream.hpp"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/atoms.hpp"
#include "netasync/bytes.hpp"
#include "netasync/error.hpp"

namespace netasync {

http_response sse_response(caf::actor producer) {
  return http_response{200,
                       {{"Content-Type", "text/event-stream"},
                        {"Cache-Control", "no-cache"}},
                       {},
                       std::move(producer)};
}

std::string sse_event(const std::string& data, const std::string& event) {
  std::string out;
  if (!event.empty())
    out += "event: " + event + "\n";
  for (size_t start = 0;;) {
    auto nl = data.find('\n', start);
    auto line = data.substr(start, nl - start);
    // A lone CR ends a line too (an event's fields must not be smuggled).
    line.erase(std::remove(line.begin(), line.end(), '\r'), line.end());
    out += "data: " + line + "\n";
    if (nl == std::string::npos)
      break;
    start = nl + 1;
  }
  return out + "\n";
}

namespace detail {

namespace {

// From the connection's strand: the head or the piece under way is out.
using head_atom = caf::atom_constant<caf::atom("na_hshead")>;
using written_atom = caf::atom_constant<caf::atom("na_hswrite")>;

struct piece {
  std::string data; // moved to the connection once it is being written
  size_t size = 0;
  caf::response_promise rp; // none for a plain send
};

struct stream_state {
  http_exchange_ptr ex;
  caf::actor producer;
  std::deque<piece> queue; // the front is being written when `writing`
  size_t queued = 0;
  size_t bound = 0;
  bool ready = false;   // the head is out
  bool writing = false;
  bool closing = false; // the producer said close_atom
  static inline const char* name = "netasync.http_stream";
};

using stream_actor = caf::stateful_actor<stream_state>;

// The stream ends without the producer's close: it learns why (unless it
// is gone itself), pending requests get the error, and the connection's
// body ends, cut by a reset if `abort`.
void end_stream(stream_actor* self, const caf::error& why, bool abort,
                bool tell_producer = true) {
  auto& st = self->state;
  for (auto& p : st.queue)
    if (p.rp.pending())
      p.rp.deliver(why);
  st.queue.clear();
  if (tell_producer)
    self->send(st.producer, closed_atom::value, caf::actor{self}, why);
  st.ex->stream_end(abort);
  self->quit();
}

void pump(stream_actor* self) {
  auto& st = self->state;
  if (!st.ready || st.writing)
    return;
  if (st.queue.empty()) {
    if (st.closing) {
      st.ex->stream_end(false);
      self->quit();
    }
    return;
  }
  st.writing = true;
  st.ex->stream_body(std::move(st.queue.front().data),
                     [me = caf::actor{self}](bool ok) {
                       caf::anon_send(me, written_atom::value, ok);
                     });
}

caf::result<void> take(stream_actor* self, std::string data) {
  auto& st = self->state;
  bool asked = self->current_message_id().is_request();
  if (st.closing) {
    auto err = make_error(error::closed_by_user, "the stream was closed");
    if (asked)
      return err;
    return caf::unit;
  }
  if (!st.queue.empty() && st.queued + data.size() > st.bound) {
    // The client reads slower than the producer writes, and the producer
    // does not wait: cut, rather than hold more or drop silently.
    auto err = make_error(error::outbound_buffer_full,
                          std::to_string(st.queued)
                            + " bytes of the body not written yet");
    end_stream(self, err, true);
    if (asked)
      return err;
    return caf::unit;
  }
  st.queued += data.size();
  auto size = data.size();
  st.queue.push_back(piece{std::move(data), size, {}});
  caf::result<void> res = caf::unit;
  if (asked) {
    st.queue.back().rp = self->make_response_promise();
    res = caf::delegated<void>{};
  }
  pump(self);
  return res;
}

caf::behavior stream_behavior(stream_actor* self, http_exchange_ptr ex,
                              http_response head, size_t bound,
                              caf::actor_addr owner) {
  auto& st = self->state;
  st.ex = std::move(ex);
  st.producer = std::move(head.producer);
  st.bound = bound;
  if (!head.body.empty()) {
    st.queued = head.body.size();
    st.queue.push_back(piece{std::move(head.body), st.queued, {}});
  }
  self->monitor(st.producer);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.producer) {
      if (!self->state.closing)
        end_stream(self,
                   make_error(error::closed_by_user,
                              "the producer ended without closing the "
                              "stream"),
                   true, false);
      return;
    }
    // Its acceptor is gone (closed): the stream ends with it, cut.
    end_stream(self,
               make_error(error::closed_by_user, "the listener was closed"),
               true);
  });
  // Killed (its acceptor closed, a linked actor failed): the body is cut.
  self->set_exit_handler([=](caf::exit_msg& em) {
    end_stream(self,
               make_error(error::closed_by_user,
                          "the stream was stopped: "
                            + self->system().render(em.reason)),
               true);
  });
  self->monitor(owner);
  st.ex->stream_head(std::move(head),
                     [me = caf::actor{self}](bool ok, bool body) {
                       caf::anon_send(me, head_atom::value, ok, body);
                     });
  return {
    [=](head_atom, bool ok, bool body) {
      auto& st = self->state;
      if (!ok) {
        end_stream(self, make_error(error::connection_lost,
                                    "the client went away"), false);
        return;
      }
      if (!body) { // HEAD, 204, 304, or a status it could not stream
        end_stream(self, make_error(error::closed_by_user,
                                    "no body is sent for this response"),
                   false);
        return;
      }
      st.ready = true;
      self->send(st.producer, http_stream_atom::value, caf::actor{self},
                 st.ex->request());
      pump(self);
    },
    [=](written_atom, bool ok) {
      auto& st = self->state;
      st.writing = false;
      auto p = std::move(st.queue.front());
      st.queue.pop_front();
      st.queued -= p.size;
      if (!ok) {
        if (p.rp.pending())
          p.rp.deliver(make_error(error::connection_lost,
                                  "the client went away"));
        end_stream(self, make_error(error::connection_lost,
                                    "the client went away"), false);
        return;
      }
      if (p.rp.pending())
        p.rp.deliver(caf::unit);
      pump(self);
    },
    [=](bytes& b) { return take(self, std::string(b.begin(), b.end())); },
    [=](std::string& s) { return take(self, std::move(s)); },
    [=](close_atom) {
      self->state.closing = true;
      pump(self);
    },
  };
}

} // namespace

caf::actor spawn_http_stream(caf::actor_system& sys, http_exchange_ptr ex,
                             http_response head, size_t bound,
                             caf::actor_addr owner) {
  return sys.spawn<caf::hidden>(stream_behavior, std::move(ex),
                                std::move(head), bound, std::move(owner));
}

} // namespace detail

} // namespace netasync
