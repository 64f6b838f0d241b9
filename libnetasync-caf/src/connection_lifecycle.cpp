#include "connection_lifecycle.hpp"

namespace netasync::conn::life {

namespace {

using a = action;
using e = event;
using p = phase;

// The link's end decides what comes next in both phases that have a link
// (up: the peer or the network ended it; ending: we asked). A closed-out
// connection ends; a peer's CLOSE ends the session; an accepted plain
// connection cannot be redialled; a session server waits for its client to
// resume (or adopts the resume that waited); a client redials while its
// policy allows.
void link_end_rows(std::vector<row>& t, phase from) {
  auto lost_then = [](std::vector<action> xs) {
    xs.insert(xs.begin(), {a::retire_link, a::lost});
    return xs;
  };
  t.push_back({from, e::link_ended, when::closed_out, p::done,
               {a::retire_link, a::settle, a::announce_closed},
               why::closing});
  t.push_back({from, e::link_ended, when::peer_closed, p::done,
               {a::retire_link, a::settle, a::announce_closed},
               why::peer_close});
  t.push_back({from, e::link_ended, when::server_plain, p::done,
               {a::retire_link, a::settle, a::announce_closed}});
  t.push_back({from, e::link_ended, when::resume_waiting, p::up,
               lost_then({a::adopt_link})});
  t.push_back({from, e::link_ended, when::resume_unfit, p::done,
               lost_then({a::refuse_offer, a::settle, a::announce_closed}),
               why::offer});
  t.push_back({from, e::link_ended, when::server_session, p::waiting,
               lost_then({a::await_resume})});
  t.push_back({from, e::link_ended, when::exhausted, p::done,
               lost_then({a::settle, a::announce_closed}),
               why::reconnect_limit});
  t.push_back({from, e::link_ended, when::always, p::waiting,
               lost_then({a::redial_later})});
}

// Ending with a link: its end report comes before `closed`, bounded.
void finish_rows(std::vector<row>& t, phase from) {
  t.push_back({from, e::finish, when::always, p::finishing,
               {a::settle, a::close_link_now, a::arm_finish_timeout}});
  t.push_back({from, e::crash, when::always, p::done,
               {a::settle, a::close_link_now, a::announce_closed}});
}

// Ending without a link: `closed` at once.
void end_now_rows(std::vector<row>& t, phase from) {
  t.push_back({from, e::all_written, when::always, p::done,
               {a::settle, a::announce_closed}, why::own_close});
  t.push_back({from, e::finish, when::always, p::done,
               {a::settle, a::announce_closed}});
  t.push_back({from, e::crash, when::always, p::done,
               {a::settle, a::announce_closed}});
}

std::vector<row> make_table() {
  std::vector<row> t;
  // -- waiting: no link --
  t.push_back({p::waiting, e::start, when::offer_unfit, p::done,
               {a::refuse_offer, a::settle, a::announce_closed}, why::offer});
  t.push_back({p::waiting, e::start, when::session, p::up, {a::adopt_link}});
  t.push_back({p::waiting, e::start, when::always, p::up, {a::open_link}});
  t.push_back({p::waiting, e::redial_due, when::client, p::dialing,
               {a::dial}});
  t.push_back({p::waiting, e::resume, when::offer_unfit, p::done,
               {a::refuse_offer, a::settle, a::announce_closed}, why::offer});
  t.push_back({p::waiting, e::resume, when::always, p::up, {a::adopt_link}});
  t.push_back({p::waiting, e::expired, when::always, p::done,
               {a::settle, a::announce_closed}});
  t.push_back({p::waiting, e::dial_ok, when::always, p::waiting,
               {a::refuse_offer}});
  end_now_rows(t, p::waiting);
  // -- dialing: an attempt (and its handshake) under way --
  t.push_back({p::dialing, e::dial_ok, when::session, p::dialing,
               {a::begin_handshake}});
  t.push_back({p::dialing, e::dial_ok, when::always, p::up, {a::open_link}});
  t.push_back({p::dialing, e::handshake_ok, when::always, p::up,
               {a::open_link}});
  t.push_back({p::dialing, e::dial_failed, when::closed_out, p::done,
               {a::drop_attempt, a::lost, a::settle, a::announce_closed},
               why::own_close});
  t.push_back({p::dialing, e::dial_failed, when::exhausted, p::done,
               {a::drop_attempt, a::lost, a::settle, a::announce_closed},
               why::reconnect_limit});
  t.push_back({p::dialing, e::dial_failed, when::client, p::waiting,
               {a::drop_attempt, a::lost, a::redial_later}});
  end_now_rows(t, p::dialing);
  // -- up: a link carries payloads --
  t.push_back({p::up, e::link_failed, when::always, p::ending,
               {a::close_link}});
  link_end_rows(t, p::up);
  t.push_back({p::up, e::watch_failed, when::always, p::up,
               {a::restart_watch}});
  t.push_back({p::up, e::resume, when::always, p::ending,
               {a::hold_offer, a::close_link}});
  t.push_back({p::up, e::all_written, when::always, p::up,
               {a::close_orderly}});
  t.push_back({p::up, e::dial_ok, when::always, p::up, {a::refuse_offer}});
  finish_rows(t, p::up);
  // -- ending: the link was told to close --
  link_end_rows(t, p::ending);
  t.push_back({p::ending, e::resume, when::always, p::ending,
               {a::hold_offer}});
  t.push_back({p::ending, e::dial_ok, when::always, p::ending,
               {a::refuse_offer}});
  finish_rows(t, p::ending);
  // -- finishing: the link's end report, then closed --
  t.push_back({p::finishing, e::link_ended, when::always, p::done,
               {a::announce_closed}});
  t.push_back({p::finishing, e::finish_timeout, when::always, p::done,
               {a::announce_closed}});
  t.push_back({p::finishing, e::crash, when::always, p::done,
               {a::close_link_now, a::announce_closed}});
  t.push_back({p::finishing, e::dial_ok, when::always, p::finishing,
               {a::refuse_offer}});
  // -- done: nothing happens any more --
  return t;
}

bool holds(when c, const facts& f) {
  switch (c) {
    case when::always: return true;
    case when::client: return f.client;
    case when::closed_out: return f.closed_out;
    case when::peer_closed: return f.peer_closed;
    case when::exhausted: return f.exhausted;
    case when::session: return f.session;
    case when::server_plain: return !f.client && !f.session;
    case when::server_session: return !f.client && f.session;
    case when::resume_waiting: return f.resume_waiting && f.offer_fits;
    case when::resume_unfit: return f.resume_waiting && !f.offer_fits;
    case when::offer_unfit: return !f.offer_fits;
  }
  return false;
}

} // namespace

facts facts_of_bits(unsigned bits) {
  facts f;
  f.client = bits & 1u;
  f.session = bits & 2u;
  f.exhausted = bits & 4u;
  f.closed_out = bits & 8u;
  f.peer_closed = bits & 16u;
  f.resume_waiting = bits & 32u;
  f.offer_fits = bits & 64u;
  return f;
}

const std::vector<row>& table() {
  static const std::vector<row> t = make_table();
  return t;
}

transition next(phase from, event on, const facts& fs) {
  for (auto& r : table())
    if (r.from == from && r.on == on && holds(r.cond, fs))
      return transition{true, r.to, &r.actions, r.reason};
  return transition{false, from, nullptr, why::given};
}

const char* name(phase x) {
  static constexpr const char* names[] = {"waiting", "dialing",   "up",
                                          "ending",  "finishing", "done"};
  return names[static_cast<size_t>(x)];
}

const char* name(event x) {
  static constexpr const char* names[] = {
    "start",       "dial_ok",      "dial_failed", "handshake_ok",
    "redial_due",  "link_failed",  "link_ended",  "watch_failed",
    "resume",      "expired",      "all_written", "finish",
    "finish_timeout", "crash"};
  return names[static_cast<size_t>(x)];
}

const char* name(action x) {
  static constexpr const char* names[] = {
    "dial",          "begin_handshake", "open_link",     "adopt_link",
    "refuse_offer",  "hold_offer",      "close_link",    "close_orderly",
    "close_link_now", "drop_attempt",   "retire_link",   "lost",
    "redial_later",
    "await_resume",  "restart_watch",   "settle",        "arm_finish_timeout",
    "announce_closed"};
  return names[static_cast<size_t>(x)];
}

const char* name(when x) {
  static constexpr const char* names[] = {
    "",
    "client",
    "closed out",
    "peer closed",
    "attempts spent",
    "session",
    "server, plain",
    "server, session",
    "a resume waits",
    "a resume waits that does not fit",
    "the offer does not fit"};
  return names[static_cast<size_t>(x)];
}

const char* name(why x) {
  static constexpr const char* names[] = {"",
                                          "closing",
                                          "own close",
                                          "peer's close",
                                          "reconnect limit",
                                          "the misfit"};
  return names[static_cast<size_t>(x)];
}

std::string render_table() {
  std::string out = "| phase | event | when | next | actions |\n"
                    "|---|---|---|---|---|\n";
  for (auto& r : table()) {
    std::string acts;
    for (auto x : r.actions) {
      if (!acts.empty())
        acts += ", ";
      acts += name(x);
      if (x == action::settle && r.reason != why::given)
        acts += std::string{" ("} + name(r.reason) + ")";
    }
    out += std::string{"| "} + name(r.from) + " | " + name(r.on) + " | "
           + name(r.cond) + " | " + name(r.to) + " | " + acts + " |\n";
  }
  return out;
}

} // namespace netasync::conn::life
