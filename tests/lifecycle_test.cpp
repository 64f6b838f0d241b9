// The connection's lifecycle table (src/connection_lifecycle.hpp), walked
// exhaustively: every phase, every event, every combination of facts. Each
// case states one property every row must have; the table is small enough
// (6 phases, 14 events, 128 fact sets) to check them all.

#define BOOST_TEST_MODULE lifecycle_test
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "connection_lifecycle.hpp"

using namespace netasync::conn::life;

namespace netasync::conn::life {

std::ostream& operator<<(std::ostream& os, phase x) {
  return os << name(x);
}

} // namespace netasync::conn::life

namespace {

constexpr unsigned fact_sets = 1u << fact_count;

std::string where(phase p, event e, unsigned bits) {
  return std::string{name(p)} + " + " + name(e) + " (facts "
         + std::to_string(bits) + ")";
}

/// Calls f for every phase, event and fact set whose event is handled.
void for_each_transition(
  const std::function<void(phase, event, unsigned, const transition&)>& f) {
  for (size_t p = 0; p < phase_count; ++p)
    for (size_t e = 0; e < event_count; ++e)
      for (unsigned bits = 0; bits < fact_sets; ++bits) {
        auto from = static_cast<phase>(p);
        auto on = static_cast<event>(e);
        auto t = next(from, on, facts_of_bits(bits));
        if (t.handled)
          f(from, on, bits, t);
      }
}

bool has(const transition& t, action a) {
  return std::find(t.actions->begin(), t.actions->end(), a)
         != t.actions->end();
}

size_t count(const transition& t, action a) {
  return static_cast<size_t>(
    std::count(t.actions->begin(), t.actions->end(), a));
}

bool has_link(phase p) {
  return p == phase::up || p == phase::ending || p == phase::finishing;
}

} // namespace

BOOST_AUTO_TEST_CASE(closed_is_final_nothing_happens_after_it) {
  for (size_t e = 0; e < event_count; ++e)
    for (unsigned bits = 0; bits < fact_sets; ++bits)
      BOOST_TEST(!next(phase::done, static_cast<event>(e),
                       facts_of_bits(bits))
                    .handled,
                 where(phase::done, static_cast<event>(e), bits));
}

BOOST_AUTO_TEST_CASE(closed_is_announced_exactly_when_the_connection_ends) {
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    auto announced = count(t, action::announce_closed);
    BOOST_TEST(announced == (t.to == phase::done ? 1u : 0u),
               where(p, e, bits));
    if (announced == 1)
      BOOST_TEST((t.actions->back() == action::announce_closed),
                 where(p, e, bits) << ": announce_closed is last");
  });
}

BOOST_AUTO_TEST_CASE(the_end_is_settled_once_before_it_is_announced) {
  // Settled on the way into finishing or done, never twice, never after.
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    auto ends = t.to == phase::done || t.to == phase::finishing;
    auto settles = count(t, action::settle);
    if (p == phase::finishing)
      BOOST_TEST(settles == 0u, where(p, e, bits) << ": settled before");
    else
      BOOST_TEST(settles == (ends ? 1u : 0u), where(p, e, bits));
  });
}

BOOST_AUTO_TEST_CASE(finishing_resets_the_link_and_bounds_the_wait_for_its_end) {
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    if (t.to == phase::finishing && p != phase::finishing) {
      BOOST_TEST(has(t, action::close_link_now), where(p, e, bits));
      BOOST_TEST(has(t, action::arm_finish_timeout), where(p, e, bits));
    }
  });
  // And the wait ends: by the report or by the timeout.
  for (auto e : {event::link_ended, event::finish_timeout, event::crash})
    BOOST_TEST(next(phase::finishing, e, {}).to == phase::done);
}

BOOST_AUTO_TEST_CASE(every_phase_but_closed_can_be_ended_and_crashed) {
  for (size_t p = 0; p + 1 < phase_count; ++p) {
    auto from = static_cast<phase>(p);
    for (unsigned bits = 0; bits < fact_sets; ++bits) {
      auto fs = facts_of_bits(bits);
      auto c = next(from, event::crash, fs);
      BOOST_TEST((c.handled && c.to == phase::done),
                 where(from, event::crash, bits));
      if (from == phase::finishing)
        continue; // already ending: finish means nothing more
      auto f = next(from, event::finish, fs);
      BOOST_TEST((f.handled
                  && (f.to == phase::done || f.to == phase::finishing)),
                 where(from, event::finish, bits));
      // Without a link, the end is at once; with one, after its report.
      BOOST_TEST((f.to == (has_link(from) ? phase::finishing : phase::done)),
                 where(from, event::finish, bits));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_link_is_only_handled_in_the_phases_that_have_one) {
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    for (auto a : {action::close_link, action::close_orderly,
                   action::retire_link, action::restart_watch})
      if (has(t, a))
        BOOST_TEST(has_link(p), where(p, e, bits) << ": " << name(a));
    // A crash with a link resets it; a link's end is retired first.
    if (e == event::crash && has_link(p))
      BOOST_TEST(has(t, action::close_link_now), where(p, e, bits));
    if (e == event::link_ended && (p == phase::up || p == phase::ending))
      BOOST_TEST((t.actions->front() == action::retire_link),
                 where(p, e, bits));
  });
}

BOOST_AUTO_TEST_CASE(a_link_carries_payloads_only_once_opened) {
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    if (t.to == phase::up && p != phase::up)
      BOOST_TEST((has(t, action::open_link) || has(t, action::adopt_link)),
                 where(p, e, bits));
    if (has(t, action::open_link) || has(t, action::adopt_link))
      BOOST_TEST((t.to == phase::up), where(p, e, bits));
  });
}

BOOST_AUTO_TEST_CASE(actions_that_raise_events_come_last) {
  // Their nested step must see this row's phase and leave nothing after it.
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    for (auto a :
         {action::open_link, action::adopt_link, action::restart_watch})
      if (has(t, a))
        BOOST_TEST((t.actions->back() == a), where(p, e, bits));
  });
}

BOOST_AUTO_TEST_CASE(only_a_client_redials_and_only_a_session_server_waits_for_a_resume) {
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    auto fs = facts_of_bits(bits);
    if (has(t, action::redial_later) || has(t, action::dial))
      BOOST_TEST(fs.client, where(p, e, bits));
    if (has(t, action::redial_later))
      BOOST_TEST((t.to == phase::waiting), where(p, e, bits));
    if (has(t, action::await_resume))
      BOOST_TEST((!fs.client && fs.session && t.to == phase::waiting),
                 where(p, e, bits));
    if (has(t, action::begin_handshake))
      BOOST_TEST(fs.session, where(p, e, bits));
  });
}

BOOST_AUTO_TEST_CASE(a_lost_link_is_told_and_what_follows_it_is_decided) {
  // Losing a link that is not the end tells the subscribers, and either
  // redials, waits for a resume or adopts the one that waited.
  for_each_transition([](phase p, event e, unsigned bits,
                         const transition& t) {
    if (e != event::link_ended || p == phase::finishing)
      return;
    auto fs = facts_of_bits(bits);
    if (t.to != phase::done) {
      BOOST_TEST(has(t, action::lost), where(p, e, bits));
      BOOST_TEST((has(t, action::redial_later) || has(t, action::await_resume)
                  || has(t, action::adopt_link)),
                 where(p, e, bits));
    }
    // A plain accepted connection ends with its link.
    if (!fs.client && !fs.session)
      BOOST_TEST((t.to == phase::done), where(p, e, bits));
    // Closed out: the end, whatever else is true.
    if (fs.closed_out)
      BOOST_TEST((t.to == phase::done && t.reason == why::closing),
                 where(p, e, bits));
  });
}

BOOST_AUTO_TEST_CASE(an_offer_that_is_not_taken_is_closed) {
  // A dialled or resumed link the connection does not adopt must not stay
  // open: refused, or held until the old link's end.
  for (size_t p = 0; p + 1 < phase_count; ++p)
    for (unsigned bits = 0; bits < fact_sets; ++bits) {
      auto from = static_cast<phase>(p);
      auto fs = facts_of_bits(bits);
      for (auto e : {event::dial_ok, event::resume, event::start}) {
        auto t = next(from, e, fs);
        if (!t.handled)
          continue; // resume: the acceptor refuses it; start: closed with us
        BOOST_TEST((has(t, action::open_link) || has(t, action::adopt_link)
                    || has(t, action::begin_handshake)
                    || has(t, action::refuse_offer)
                    || has(t, action::hold_offer)),
                   where(from, e, bits));
      }
    }
  // Every phase answers a dial: a late one is refused.
  for (size_t p = 0; p + 1 < phase_count; ++p)
    BOOST_TEST(next(static_cast<phase>(p), event::dial_ok, {}).handled);
}

BOOST_AUTO_TEST_CASE(every_phase_is_reached_and_every_one_can_reach_the_end) {
  // From the start (waiting), over any facts and events.
  std::set<phase> seen{phase::waiting};
  std::vector<phase> todo{phase::waiting};
  while (!todo.empty()) {
    auto p = todo.back();
    todo.pop_back();
    for (size_t e = 0; e < event_count; ++e)
      for (unsigned bits = 0; bits < fact_sets; ++bits) {
        auto t = next(p, static_cast<event>(e), facts_of_bits(bits));
        if (t.handled && seen.insert(t.to).second)
          todo.push_back(t.to);
      }
  }
  BOOST_TEST(seen.size() == phase_count);
  // And no row is dead: each is the first match for some fact set.
  std::set<const std::vector<action>*> used;
  for_each_transition(
    [&](phase, event, unsigned, const transition& t) { used.insert(t.actions); });
  for (auto& r : table())
    BOOST_TEST(used.count(&r.actions) == 1u,
               name(r.from) << " + " << name(r.on) << " when "
                            << name(r.cond) << " is never reached");
}

BOOST_AUTO_TEST_CASE(the_design_doc_shows_the_table_the_actor_runs) {
  std::ifstream in{NETASYNC_DESIGN_DOC};
  BOOST_REQUIRE(in);
  std::stringstream doc;
  doc << in.rdbuf();
  auto table = render_table();
  BOOST_TEST(doc.str().find(table) != std::string::npos,
             "docs/design.md must show this table:\n"
               << table);
}
