#pragma once

// The upper layer of a live link: it hands payloads to the connection's
// subscribers and tells the supervisor what was written and how the link
// ended. The only receive path: every payload goes from the link's I/O
// strand straight to the subscribers, one thread hand-off (no hop through an
// actor that would merely forward it).
//
// The subscriber list has one owner, the supervisor, which publishes it as an
// immutable snapshot (subscriber_set); the delivery reads the newest
// snapshot at each read. That atomic pointer is the one place where actor
// code and I/O code share state: a message to the link per change would
// do the same with a strand hop and a second copy of the list.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/send.hpp>

#include "traffic_totals.hpp"
#include "netasync/connection.hpp"
#include "read_gate.hpp"
#include "receive_credit.hpp"
#include "session_link.hpp"
#include "transport.hpp"

namespace netasync::detail {

/// To the supervisor, when it must count the link's writes now (see
/// write_count): (link_sent_atom, uint64_t link).
using link_sent_atom = caf::atom_constant<caf::atom("na_sent")>;

/// The write confirmation of one link: payloads written completely, counted
/// by the link's delivery on the strand and read by the connection's actor
/// when its buffer's content matters (a full write window or buffer, a
/// close, stats, the link's end: conn::catch_up), instead of a message per
/// write. The delivery sends na_sent only
/// - when the actor asked (`wake`): messages wait beyond the write window,
///   or a close waits for the buffer to empty;
/// - while a server's read gate holds the link's reading (the written
///   replies are room the gate learns of only from the actor);
/// - every `retain_bound` written (payload_overhead per message), and when
///   the link has written nothing for a heartbeat period (on_idle), so that
///   a connection that falls idle does not keep its last writes.
/// Dekker: the delivery adds to the count before it reads `wake`, the actor
/// sets `wake` before it reads the count again (both seq_cst), so one of
/// them sees the other.
struct write_count {
  static constexpr uint64_t retain_bound = 64 * 1024;
  std::atomic<uint64_t> messages{0};
  std::atomic<bool> wake{false};
};

using write_count_ptr = std::shared_ptr<write_count>;

/// To the supervisor: (link_ended_atom, uint64_t link,
/// uint64_t written_total, caf::error reason). See link_upper::on_ended.
using link_ended_atom = caf::atom_constant<caf::atom("na_ended")>;

/// A connection's subscribers: changed by the supervisor only, read by the
/// link's delivery from its I/O thread as an immutable snapshot.
class subscriber_set {
public:
  using list = std::vector<caf::actor>;

  subscriber_set() : current_(std::make_shared<const list>()) {
    // nop
  }

  /// The newest snapshot (any thread).
  std::shared_ptr<const list> snapshot() const {
    return std::atomic_load(&current_);
  }

  /// The list as the supervisor last set it (the supervisor only).
  const list& owned() const {
    return *current_;
  }

  /// Adds `x` unless present; false if present. The supervisor only.
  bool add(const caf::actor& x) {
    auto& cur = owned();
    if (!x || std::find(cur.begin(), cur.end(), x) != cur.end())
      return false;
    auto next = std::make_shared<list>(cur);
    next->push_back(x);
    std::atomic_store(&current_, std::shared_ptr<const list>{std::move(next)});
    return true;
  }

  /// Removes `x`; false if absent. The supervisor only.
  bool remove(const caf::actor& x) {
    auto& cur = owned();
    if (std::find(cur.begin(), cur.end(), x) == cur.end())
      return false;
    auto next = std::make_shared<list>(cur);
    next->erase(std::remove(next->begin(), next->end(), x), next->end());
    std::atomic_store(&current_, std::shared_ptr<const list>{std::move(next)});
    return true;
  }

  void clear() {
    std::atomic_store(&current_, std::make_shared<const list>());
  }

private:
  std::shared_ptr<const list> current_;
};

using subscriber_set_ptr = std::shared_ptr<subscriber_set>;

/// Payloads handed to the subscribers over all links of a connection:
/// counted by each link's delivery, read by the connection for its stats.
struct receive_counters {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
  /// Server role: the acceptor's sums, counted too (null: none).
  traffic_totals_ptr totals;
};

using receive_counters_ptr = std::shared_ptr<receive_counters>;

/// The payloads of one read that the gate lets up, one at a time: each
/// admitted payload counts (with payload_overhead) against the next.
struct admission {
  const read_gate& gate;
  size_t bytes = 0;
  size_t count = 0;

  bool operator()(size_t size) {
    auto next = bytes + size + payload_overhead;
    if (!gate.fits(next, count + 1))
      return false;
    bytes = next;
    ++count;
    return true;
  }
};

class subscriber_delivery final : public link_upper {
public:
  struct config {
    caf::actor supervisor;
    uint64_t link_id = 0;
    connection handle;
    subscriber_set_ptr subscribers;
    /// For payloads waiting for a first subscriber.
    size_t window = 0;
    bool batch = false;
    read_gate_ptr gate;
    receive_counters_ptr counters;
    /// Sessions: the session's receiving state (null: a plain link).
    session_inbox_ptr session;
    /// A plain server connection: a session client's HELLO as the first
    /// message is refused (docs/protocol.md 13.7).
    bool refuse_session_hello = false;
  };

  subscriber_delivery(config cfg, const transport_ptr& link)
    : cfg_(std::move(cfg)), link_(link) {
    // nop
  }

  /// The link's write count, for the connection's actor (it shares this
  /// delivery's life: one allocation less per link).
  static write_count_ptr count_of(const std::shared_ptr<subscriber_delivery>& d) {
    return write_count_ptr{d, &d->written_};
  }

  /// Payloads wait in the link while nobody subscribes, up to the receive
  /// window (the supervisor has the link offer them again for the first
  /// subscriber); otherwise those that fit go out (read_gate.hpp, then
  /// send_tracked), and reading stops before the first that does not: it
  /// waits in the link until the gate resumes it. Sessions hold back what
  /// does not fit and read on for the peer's ACKs (deliver_session).
  bool on_payloads(std::vector<bytes>& payloads) override {
    if (!first_seen_ && !payloads.empty()) {
      first_seen_ = true;
      if (cfg_.refuse_session_hello
          && refuse_session_client(payloads.front())) {
        payloads.clear();
        return false;
      }
    }
    auto subs = cfg_.subscribers->snapshot();
    if (subs->empty()) {
      // Sessions: the peer's ACKs and CLOSE are the connection's, not the
      // subscribers': they are taken now; numbered frames wait.
      if (cfg_.session) {
        auto err = take_control_frames(payloads, held_count_,
                                       cfg_.supervisor, cfg_.link_id);
        if (err) {
          caf::anon_send(cfg_.supervisor, session_violation_atom::value,
                         cfg_.link_id, std::move(err));
          return false;
        }
      }
      // The link offers what we left plus what it read since: count the
      // new ones only.
      for (auto i = held_count_; i < payloads.size(); ++i)
        held_bytes_ += payloads[i].size() + payload_overhead;
      held_count_ = payloads.size();
      return held_bytes_ < cfg_.window;
    }
    held_count_ = 0;
    held_bytes_ = 0;
    if (cfg_.session)
      return deliver_session(payloads, *subs);
    // As many as fit (read_gate.hpp); the rest wait in the link until the
    // gate resumes it.
    admission fit{*cfg_.gate};
    size_t n = 0;
    while (n < payloads.size() && fit(payloads[n].size()))
      ++n;
    count_received(payloads, n);
    deliver_tracked(payloads, n, cfg_.batch, cfg_.gate, cfg_.handle, *subs);
    auto more = payloads.empty();
    if (more)
      more = cfg_.gate->budget_allows();
    else
      cfg_.gate->wait_for(payloads.front().size() + payload_overhead);
    // Stopped: replies written since the last na_sent may be the room the
    // gate waits for, which it learns only from the actor.
    if (!more && cfg_.gate->bounds().holds_replies && unannounced_ > 0)
      announce_writes();
    return more;
  }

  void on_sent(uint64_t n, uint64_t bytes) override {
    written_.messages.fetch_add(n);
    if (auto& t = cfg_.counters->totals)
      t->sent(n, bytes);
    unannounced_ += bytes + n * payload_overhead;
    auto asked = written_.wake.load() && written_.wake.exchange(false);
    if (asked || unannounced_ >= write_count::retain_bound
        || held_by_replies())
      announce_writes();
  }

  // An idle connection does not keep its last writes (an echo's reply,
  // and the buffer's storage with it) until its next send.
  void on_idle() override {
    if (unannounced_ > 0)
      announce_writes();
  }

  // The peer ended the link with payloads left. A plain server's replies
  // can no longer go out, so they stop counting (they would hold the last
  // payloads forever). A session server's held-back frames are given up:
  // they are unacknowledged, so the client sends them again when it
  // resumes, and the ACKs that would have made room for them never come.
  void on_reading_ended() override {
    reading_ended_ = true;
    if (!cfg_.session)
      cfg_.gate->reading_ended();
  }

  void on_ended(uint64_t written_total, const caf::error& reason) override {
    caf::anon_send(cfg_.supervisor, link_ended_atom::value, cfg_.link_id,
                   written_total, reason);
  }

private:
  // The link stopped reading for a gate that counts replies: the writes
  // since the last na_sent are room the actor has not counted yet.
  bool held_by_replies() const {
    return cfg_.gate->bounds().holds_replies && cfg_.gate->holding();
  }

  void announce_writes() {
    unannounced_ = 0;
    caf::anon_send(cfg_.supervisor, link_sent_atom::value, cfg_.link_id);
  }

  void count_received(const std::vector<bytes>& payloads, size_t n) {
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; ++i)
      bytes += payloads[i].size();
    cfg_.counters->messages.fetch_add(n, std::memory_order_relaxed);
    cfg_.counters->bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (auto& t = cfg_.counters->totals)
      t->received(n, bytes);
  }

  // Sessions: numbered frames in order, as many DATA as fit (read_gate.hpp,
  // as for plain payloads); the rest wait in the link, unacknowledged. On a
  // server the link reads on meanwhile, for the peer's ACKs: they are what
  // empties a session's outbound buffer, so a server whose replies fill it
  // would wait for them forever if it stopped. The peer's send window
  // bounds what can arrive meanwhile (protocol 13.4.1): a peer that passes
  // it breaks the protocol. A client's gate counts only its subscribers'
  // backlog, which drains without the peer: it stops, as a plain link does.
  // Calls that fill their slots stop the reading too.
  bool deliver_session(std::vector<bytes>& payloads,
                       const std::vector<caf::actor>& subs) {
    auto r = take_session(payloads, admission{*cfg_.gate});
    count_received(payloads, r.data);
    deliver_tracked(payloads, r.data, cfg_.batch, cfg_.gate, cfg_.handle,
                    subs);
    if (r.err)
      return false;
    if (!payloads.empty() && reading_ended_
        && cfg_.gate->bounds().holds_replies) {
      payloads.clear();
      return false;
    }
    if (!payloads.empty()) { // the first is the DATA that did not fit
      cfg_.gate->wait_for(payloads.front().size() + payload_overhead);
      if (!cfg_.gate->bounds().holds_replies)
        return false;
      if (!within_send_window(payloads)) {
        caf::anon_send(cfg_.supervisor, session_violation_atom::value,
                       cfg_.link_id,
                       make_error(error::session_protocol_violation,
                                  std::to_string(payloads.size())
                                    + " frames unacknowledged: past the "
                                      "send window"));
        return false;
      }
    }
    return cfg_.session->calls_in.load() < max_calls_in_flight
           && cfg_.gate->budget_allows();
  }
  // A plain connection whose peer opens with a session client's HELLO: that
  // peer expects sessions (docs/protocol.md 13.7). Its HELLO is not
  // delivered as a payload; it is told REFUSE (version: no sessions here),
  // and the supervisor closes the link gracefully, so that the client ends
  // with session_refused rather than waiting for an answer that never comes.
  bool refuse_session_client(const bytes& first) {
    auto h = session::decode_hello(first);
    if (!h || h->from != session::side::client)
      return false;
    if (auto link = link_.lock())
      link->write({std::make_shared<const bytes>(session::encode_refuse(
        session::refuse_code::version,
        "this peer does not speak sessions (the session option is off)"))});
    caf::anon_send(cfg_.supervisor, session_violation_atom::value,
                   cfg_.link_id,
                   make_error(error::session_refused,
                              "the peer opened with a session HELLO; the "
                              "session option is off here"));
    return true;
  }

  // Sessions: numbered frames in order, control frames to the supervisor,
  // then an ACK if one is owed (at once past ack_every_*, else the
  // supervisor's timed one). An error after a protocol violation: the DATA
  // before it still goes up (it counts as received), reading stops and the
  // supervisor drops the link.
  template <class Admit>
  session_take take_session(std::vector<bytes>& payloads, Admit&& admit) {
    auto& in = *cfg_.session;
    uint64_t frame_bytes = 0;
    auto r = take_session_frames(payloads, in, cfg_.supervisor, cfg_.link_id,
                                 frame_bytes, std::forward<Admit>(admit));
    if (r.err) {
      caf::anon_send(cfg_.supervisor, session_violation_atom::value,
                     cfg_.link_id, r.err);
      return r;
    }
    unacked_bytes_ += frame_bytes;
    auto next = in.next.load();
    if (next == in.acked.load()) {
      unacked_bytes_ = 0; // the timed ACK covered them
      return r;
    }
    if (next - in.acked.load() >= ack_every_frames
        || unacked_bytes_ >= ack_every_bytes) {
      unacked_bytes_ = 0;
      if (in.raise_acked(next))
        if (auto link = link_.lock())
          link->write({std::make_shared<const bytes>(
            session::encode_ack(next))});
    } else if (!in.ack_scheduled.exchange(true)) {
      caf::anon_send(cfg_.supervisor, session_ack_due_atom::value,
                     cfg_.link_id);
    }
    return r;
  }

  config cfg_;
  write_count written_;
  // Sessions: ACKs go to the link (weak: the link owns this upper).
  std::weak_ptr<transport> link_;
  uint64_t unacked_bytes_ = 0;
  bool first_seen_ = false; // strand only
  bool reading_ended_ = false; // strand only: on_reading_ended()
  // What the link holds for want of a subscriber (payloads, bytes).
  size_t held_count_ = 0;
  size_t held_bytes_ = 0;
  // Written since the last na_sent (with payload_overhead each).
  uint64_t unannounced_ = 0;
};

} // namespace netasync::detail
