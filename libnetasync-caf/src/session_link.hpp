#pragma once

// The session layer on a link (docs/protocol.md, section 13; docs/design.md,
// "Sessions"). Two pieces, both private:
//
// - session_link: the upper of a session link's transport for the link's
//   whole life. First it runs the handshake: it waits for the peer's HELLO
//   (or REFUSE), takes that one frame, says "enough" and tells its owner
//   (the client's supervisor, or the acceptor, which must learn the session
//   id before it knows which connection the link belongs to). The owner
//   then attaches the connection's delivery and resumes reading; from then
//   on the session_link only forwards.
// - session_inbox and take_session_frames: the receiving half, run by the
//   connection's delivery on the frames it takes: numbered frames in order
//   (duplicates dropped), acknowledgements written, control frames turned
//   into messages to the supervisor.
//
// Who calls whom, on which thread:
// - The transport calls session_link on its strand (the link_upper rules).
// - The owner calls attach() from its scheduler thread, once, while the
//   transport holds back (the handshake said "enough"); resume_reading()
//   follows. A mutex orders attach() against on_ended(): an end that came
//   before attach() goes to the attached upper, an end during the handshake
//   to the owner (never both).
// - session_link sends the owner messages only (anon_send); it never calls
//   into the transport.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/send.hpp>

#include "netasync/error.hpp"
#include "session_frames.hpp"
#include "transport.hpp"

namespace netasync::detail {

/// To the owner: (session_hello_atom, uint64_t token, session::hello).
using session_hello_atom = caf::atom_constant<caf::atom("na_shello")>;
/// To the owner: the peer refused, or does not speak sessions:
/// (session_refused_atom, uint64_t token, caf::error).
using session_refused_atom = caf::atom_constant<caf::atom("na_srefuse")>;
/// To the owner: the link ended before the handshake completed:
/// (session_lost_atom, uint64_t token, caf::error).
using session_lost_atom = caf::atom_constant<caf::atom("na_slost")>;
/// To the supervisor, from the delivery:
/// (session_ack_atom, uint64_t link, uint64_t next) the peer's ACK;
/// (session_call_atom, uint64_t link, uint64_t call, bytes) a call;
/// (session_reply_atom, uint64_t call, uint8_t status, bytes) a reply;
/// (session_close_atom, uint64_t link, uint8_t code) the peer's CLOSE;
/// (session_violation_atom, uint64_t link, caf::error);
/// (session_ack_due_atom, uint64_t link) received frames wait for an ACK.
using session_ack_atom = caf::atom_constant<caf::atom("na_sack")>;
using session_call_atom = caf::atom_constant<caf::atom("na_scall")>;
using session_reply_atom = caf::atom_constant<caf::atom("na_sreply")>;
using session_close_atom = caf::atom_constant<caf::atom("na_sclose")>;
using session_violation_atom = caf::atom_constant<caf::atom("na_sbad")>;
using session_ack_due_atom = caf::atom_constant<caf::atom("na_sackdue")>;

class session_link final : public link_upper {
public:
  session_link(session::side me, caf::actor owner, uint64_t token)
    : me_(me), owner_(std::move(owner)), token_(token) {
    // nop
  }

  bool on_payloads(std::vector<bytes>& payloads) override {
    if (auto up = attached()) {
      if (reading_ended_ && !reading_end_told_) {
        // The link died during the handshake: the attached upper learns it
        // before it decides about the frames held meanwhile.
        reading_end_told_ = true;
        up->on_reading_ended();
      }
      return up->on_payloads(payloads);
    }
    if (handshake_done_)
      return false; // until the owner attaches and resumes
    if (payloads.empty())
      return true;
    handshake_done_ = true;
    auto h = session::decode_hello(payloads.front());
    // A server passes on a client's HELLO of any version: the acceptor
    // answers another version with REFUSE(version).
    if (h && h->from != me_
        && (h->ver == session::version || me_ == session::side::server)) {
      payloads.erase(payloads.begin());
      caf::anon_send(owner_, session_hello_atom::value, token_, *h);
      owner_ = nullptr; // the owner is done with this link
      return false;
    }
    auto err = refusal(payloads.front(), h);
    payloads.clear();
    handshake_failed_ = true;
    caf::anon_send(owner_, session_refused_atom::value, token_, std::move(err));
    owner_ = nullptr;
    return false;
  }

  void on_sent(uint64_t, uint64_t) override {
    // With sessions, what counts is what the peer acknowledged, not what the
    // socket took; the handshake's own frames are no messages either.
  }

  void on_reading_ended() override {
    reading_ended_ = true;
    if (auto up = attached()) {
      reading_end_told_ = true;
      up->on_reading_ended();
    }
  }

  void on_ended(uint64_t written, const caf::error& reason) override {
    link_upper_ptr up;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      if (!up_) {
        ended_ = true;
        end_reason_ = reason;
        if (handshake_done_)
          return; // the owner attaches and learns it then
      }
      up = up_;
    }
    if (up) {
      up->on_ended(written, reason);
      return;
    }
    if (!handshake_failed_ && owner_)
      caf::anon_send(owner_, session_lost_atom::value, token_,
                     reason ? reason : make_error(error::connection_lost));
  }

  /// Hands the link to the connection's upper; an end that came meanwhile
  /// is reported to it at once.
  void attach(link_upper_ptr up) {
    bool ended;
    caf::error reason;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      up_ = up;
      ended = ended_;
      reason = end_reason_;
    }
    if (ended)
      up->on_ended(0, reason ? reason : make_error(error::connection_lost));
  }

private:
  link_upper_ptr attached() {
    std::lock_guard<std::mutex> guard{mtx_};
    return up_;
  }

  caf::error refusal(const bytes& first,
                     const std::optional<session::hello>& h) const {
    if (h && h->from == me_)
      return make_error(error::session_refused,
                        "the peer sent our own HELLO back: it does not speak "
                        "sessions (a plain echo?)");
    if (h)
      return make_error(error::session_refused,
                        "the peer speaks session version "
                          + std::to_string(h->ver) + ", we speak "
                          + std::to_string(session::version));
    if (auto v = session::parse(first); v && v->t == session::type::refuse) {
      std::string text(first.begin() + 2, first.end());
      auto code = static_cast<session::refuse_code>(v->code);
      if (code == session::refuse_code::unknown_session)
        return make_error(error::session_expired, text);
      return make_error(error::session_refused, text);
    }
    return make_error(error::session_refused,
                      "the peer's first message (" + std::to_string(first.size())
                        + " bytes) is no session HELLO: it does not speak "
                          "sessions");
  }

  session::side me_;
  // Until the handshake's outcome is reported (then reset: a link must not
  // keep its acceptor alive).
  caf::actor owner_;
  uint64_t token_;
  // Strand only.
  bool handshake_done_ = false;
  bool handshake_failed_ = false;
  bool reading_ended_ = false;    // on_reading_ended() came
  bool reading_end_told_ = false; // and the attached upper heard it
  // Guarded: the attached upper and an end that came before it.
  std::mutex mtx_;
  link_upper_ptr up_;
  bool ended_ = false;
  caf::error end_reason_;
};

using session_link_ptr = std::shared_ptr<session_link>;

/// The receiving state of one session, shared by the deliveries of its
/// links (one link at a time) and read by the supervisor between links.
struct session_inbox {
  /// The sequence number expected next: every numbered frame below it was
  /// received. Written by the live link's strand only.
  std::atomic<uint64_t> next{0};
  /// The highest `next` written in an ACK (by the strand or the supervisor).
  std::atomic<uint64_t> acked{0};
  /// The supervisor has a timed ACK scheduled.
  std::atomic<bool> ack_scheduled{false};
  /// Received duplicates dropped.
  std::atomic<uint64_t> duplicates{0};
  /// The peer's calls handed to the supervisor and not answered yet: the
  /// delivery stops reading at max_calls_in_flight (demand, as for payloads).
  std::atomic<uint64_t> calls_in{0};

  /// Raises `acked` to `n`; true if it was below (an ACK should go out).
  bool raise_acked(uint64_t n) {
    auto cur = acked.load();
    while (cur < n)
      if (acked.compare_exchange_weak(cur, n))
        return true;
    return false;
  }
};

using session_inbox_ptr = std::shared_ptr<session_inbox>;

/// The peer's calls a connection handles at once before it stops reading.
constexpr uint64_t max_calls_in_flight = 1024;

/// Acknowledge at once after this many frames or bytes (else the timed ACK).
constexpr uint64_t ack_every_frames = 128;
constexpr uint64_t ack_every_bytes = 512 * 1024;

namespace session_detail {

inline caf::error malformed(const bytes& f) {
  return make_error(error::session_protocol_violation,
                    "a malformed session frame of " + std::to_string(f.size())
                      + " bytes");
}

/// An unnumbered control frame (ACK, CLOSE) goes to the supervisor; true if
/// `v` was one.
inline bool take_control(const session::view& v, const caf::actor& supervisor,
                         uint64_t link) {
  if (v.t == session::type::ack) {
    caf::anon_send(supervisor, session_ack_atom::value, link, v.next);
    return true;
  }
  if (v.t == session::type::close) {
    caf::anon_send(supervisor, session_close_atom::value, link, v.code);
    return true;
  }
  return false;
}

} // namespace session_detail

/// The control frames (ACK, CLOSE) among frames[from..] go to the supervisor
/// and out of the vector; numbered frames stay as they are. For a delivery
/// that holds its frames (nobody subscribes): the peer's ACKs and CLOSE must
/// not wait for a subscriber. Returns an error for a malformed frame.
inline caf::error take_control_frames(std::vector<bytes>& frames, size_t from,
                                      const caf::actor& supervisor,
                                      uint64_t link) {
  size_t w = from;
  for (auto i = from; i < frames.size(); ++i) {
    auto& f = frames[i];
    auto v = session::parse(f);
    if (!v)
      return session_detail::malformed(f);
    if (session_detail::take_control(*v, supervisor, link))
      continue;
    if (w != i)
      frames[w] = std::move(f);
    ++w;
  }
  frames.resize(w);
  return caf::error{};
}

/// What take_session_frames took: frames[0..data) are DATA payloads to
/// deliver (headers stripped); the frames after them were held back as they
/// came. `err` is set on a frame that breaks the protocol.
struct session_take {
  caf::error err;
  size_t data = 0;
};

/// Turns the session frames a delivery takes into what its subscribers get:
/// DATA payloads (header stripped, in place); everything else goes to the
/// supervisor as a message or is dropped (duplicates). `admit(size)` is
/// asked for each DATA payload in turn; the first it refuses, and every
/// frame after it, stay in `frames` untouched (not counted in `next`, so not
/// acknowledged), behind the DATA taken, except the ACKs among them: those
/// concern the other direction, and may be what makes room (protocol 13.4.1).
/// On a frame that breaks the protocol it stops with the error; `frames`
/// then holds the DATA taken before it (counted in `next`: deliver them).
/// Runs on the link's strand.
template <class Admit>
session_take take_session_frames(std::vector<bytes>& frames,
                                 session_inbox& in,
                                 const caf::actor& supervisor, uint64_t link,
                                 uint64_t& bytes_in, Admit&& admit) {
  session_take r;
  size_t i = 0;
  auto next = in.next.load(std::memory_order_relaxed);
  for (; i < frames.size(); ++i) {
    auto& f = frames[i];
    auto v = session::parse(f);
    if (!v) {
      r.err = session_detail::malformed(f);
      break;
    }
    if (session_detail::take_control(*v, supervisor, link))
      continue;
    if (v->t == session::type::refuse) {
      r.err = make_error(error::session_protocol_violation,
                         "a REFUSE after the handshake");
      break;
    }
    // Numbered: data, call, reply.
    if (v->seq < next) {
      in.duplicates.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (v->seq > next) {
      r.err = make_error(error::session_protocol_violation,
                         "frame #" + std::to_string(v->seq) + " where #"
                           + std::to_string(next) + " was next");
      break;
    }
    if (v->t == session::type::data && !admit(f.size() - v->header))
      break; // this one and the rest wait
    ++next;
    bytes_in += f.size();
    f.erase(f.begin(), f.begin() + static_cast<ptrdiff_t>(v->header));
    switch (v->t) {
      case session::type::data:
        if (r.data != i)
          frames[r.data] = std::move(f);
        ++r.data;
        break;
      case session::type::call:
        in.calls_in.fetch_add(1, std::memory_order_relaxed);
        caf::anon_send(supervisor, session_call_atom::value, link, v->call,
                       std::move(f));
        break;
      default: // reply
        caf::anon_send(supervisor, session_reply_atom::value, v->call,
                       v->code, std::move(f));
        break;
    }
  }
  in.next.store(next, std::memory_order_relaxed);
  auto kept = r.data;
  if (!r.err) {
    // Held back: the ACKs among them go now, the rest stay in order.
    for (; i < frames.size(); ++i) {
      auto v = session::parse(frames[i]);
      if (!v) {
        r.err = session_detail::malformed(frames[i]);
        break;
      }
      if (v->t == session::type::ack) {
        session_detail::take_control(*v, supervisor, link);
        continue;
      }
      if (kept != i)
        frames[kept] = std::move(frames[i]);
      ++kept;
    }
  }
  frames.resize(r.err ? r.data : kept);
  return r;
}

/// Whether frames held back (untouched, as take_session_frames left them)
/// are within what a peer that keeps the send window may have sent: more
/// is a protocol violation.
inline bool within_send_window(const std::vector<bytes>& held) {
  // Numbered frames: at most the window's count and bytes, or one alone. (A
  // CLOSE may follow them: it is not numbered.)
  uint64_t frames = 0;
  uint64_t bytes = 0;
  for (auto& f : held) {
    if (f.empty() || static_cast<uint8_t>(f[0])
                       == static_cast<uint8_t>(session::type::close))
      continue;
    ++frames;
    bytes += f.size();
  }
  return frames <= 1
         || (frames <= session::window_frames
             && bytes <= session::window_bytes);
}

} // namespace netasync::detail

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::detail::session::hello)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(netasync::detail::session_link_ptr)
