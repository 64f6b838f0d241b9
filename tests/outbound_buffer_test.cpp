// Specification of netasync::outbound_buffer: the bounded queue of messages
// accepted from the application and not yet written completely. The front
// in_flight() messages are handed to the current link, the rest wait.
// Pure code: no sockets, no actors.

#define BOOST_TEST_MODULE outbound_buffer
#include <boost/test/unit_test.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "netasync/bytes.hpp"
#include "outbound_buffer.hpp"
#include "netasync/overflow_policy.hpp"

// -- printing for Boost.Test ----------------------------------------------------

namespace netasync {

std::ostream& operator<<(std::ostream& out, outbound_buffer::verdict x) {
  switch (x) {
    case outbound_buffer::verdict::accepted: return out << "accepted";
    case outbound_buffer::verdict::rejected: return out << "rejected";
    case outbound_buffer::verdict::dropped_newest: return out << "dropped_newest";
    case outbound_buffer::verdict::dropped_oldest: return out << "dropped_oldest";
  }
  return out << "verdict(" << static_cast<int>(x) << ')';
}

} // namespace netasync

// -- helpers --------------------------------------------------------------------

namespace {

using netasync::bytes;
using netasync::outbound_buffer;
using netasync::overflow_policy;
using netasync::shared_bytes;
using verdict = outbound_buffer::verdict;

constexpr size_t lots = 1'000'000;

/// A message of `size` bytes tagged with `tag` in every byte, so that tags()
/// can tell which messages come out of the buffer.
shared_bytes msg(char tag, size_t size = 10) {
  return std::make_shared<const bytes>(size, tag);
}

/// The tags of `xs`, in order, e.g. "ABC".
std::string tags(const std::vector<shared_bytes>& xs) {
  std::string out;
  for (auto& x : xs)
    out += x->empty() ? '?' : x->front();
  return out;
}

/// Takes every waiting message and returns their tags. The buffer's in-flight
/// part grows by as many messages.
std::string take_all(outbound_buffer& buf) {
  return tags(buf.take(lots, lots));
}

/// The tags of the whole buffer (in-flight and waiting), in order, without
/// changing what is in flight from the caller's point of view.
std::string contents(outbound_buffer& buf) {
  auto in_flight = buf.in_flight();
  buf.return_in_flight();
  auto all = take_all(buf);
  // Restore: hand the same front messages out again.
  buf.return_in_flight();
  buf.take(in_flight, lots);
  return all;
}

outbound_buffer make(size_t max_messages, size_t max_bytes, overflow_policy p) {
  return outbound_buffer{outbound_buffer::limits{max_messages, max_bytes, p}};
}

} // namespace

// -- accepting ------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(accepting)

BOOST_AUTO_TEST_CASE(new_buffer_is_empty) {
  auto buf = make(3, 100, overflow_policy::reject);
  BOOST_TEST(buf.empty());
  BOOST_TEST(buf.size() == 0u);
  BOOST_TEST(buf.size_bytes() == 0u);
  BOOST_TEST(buf.in_flight() == 0u);
  BOOST_TEST(buf.waiting() == 0u);
  BOOST_TEST(buf.dropped() == 0u);
  BOOST_TEST(buf.rejected() == 0u);
  BOOST_TEST(buf.bounds().max_messages == 3u);
  BOOST_TEST(buf.bounds().max_bytes == 100u);
}

BOOST_AUTO_TEST_CASE(messages_within_bounds_are_accepted_and_queued) {
  auto buf = make(3, 100, overflow_policy::reject);
  BOOST_TEST(buf.push(msg('A', 10)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('B', 20)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('C', 30)) == verdict::accepted);
  BOOST_TEST(!buf.empty());
  BOOST_TEST(buf.size() == 3u);
  BOOST_TEST(buf.size_bytes() == 60u);
  BOOST_TEST(buf.waiting() == 3u);
  BOOST_TEST(buf.in_flight() == 0u);
  BOOST_TEST(buf.dropped() == 0u);
  BOOST_TEST(buf.rejected() == 0u);
  BOOST_TEST(contents(buf) == "ABC");
}

BOOST_AUTO_TEST_CASE(filling_both_bounds_exactly_is_accepted) {
  auto buf = make(2, 30, overflow_policy::reject);
  BOOST_TEST(buf.push(msg('A', 10)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('B', 20)) == verdict::accepted);
  BOOST_TEST(buf.size() == 2u);
  BOOST_TEST(buf.size_bytes() == 30u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- bounds ----------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(bounds)

BOOST_AUTO_TEST_CASE(message_bound_is_enforced) {
  auto buf = make(2, lots, overflow_policy::reject);
  BOOST_TEST(buf.push(msg('A', 1)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('B', 1)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('C', 1)) == verdict::rejected);
  BOOST_TEST(buf.size() == 2u);
  BOOST_TEST(contents(buf) == "AB");
}

BOOST_AUTO_TEST_CASE(byte_bound_is_enforced) {
  auto buf = make(100, 25, overflow_policy::reject);
  BOOST_TEST(buf.push(msg('A', 10)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('B', 10)) == verdict::accepted);
  BOOST_TEST(buf.push(msg('C', 6)) == verdict::rejected); // 26 > 25
  BOOST_TEST(buf.size_bytes() == 20u);
  BOOST_TEST(buf.push(msg('D', 5)) == verdict::accepted); // 25 fits
  BOOST_TEST(buf.size_bytes() == 25u);
  BOOST_TEST(contents(buf) == "ABD");
}

BOOST_AUTO_TEST_CASE(message_larger_than_byte_bound_is_never_accepted) {
  auto buf = make(100, 25, overflow_policy::reject);
  BOOST_TEST(buf.push(msg('A', 26)) == verdict::rejected);
  BOOST_TEST(buf.empty());
}

BOOST_AUTO_TEST_CASE(in_flight_messages_count_toward_the_bounds) {
  auto buf = make(2, 20, overflow_policy::reject);
  buf.push(msg('A'));
  buf.push(msg('B'));
  BOOST_REQUIRE(take_all(buf) == "AB");
  BOOST_TEST(buf.push(msg('C')) == verdict::rejected);
}

BOOST_AUTO_TEST_CASE(acknowledged_messages_free_room) {
  auto buf = make(2, 20, overflow_policy::reject);
  buf.push(msg('A'));
  buf.push(msg('B'));
  BOOST_REQUIRE(buf.push(msg('C')) == verdict::rejected);
  BOOST_REQUIRE(tags(buf.take(1, lots)) == "A");
  buf.ack(1);
  BOOST_TEST(buf.push(msg('C')) == verdict::accepted);
  BOOST_TEST(contents(buf) == "BC");
}

BOOST_AUTO_TEST_SUITE_END()

// -- overflow policies -------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(policy)

BOOST_AUTO_TEST_CASE(reject_policy_returns_rejected_and_counts_it) {
  auto buf = make(1, lots, overflow_policy::reject);
  buf.push(msg('A'));
  BOOST_TEST(buf.push(msg('B')) == verdict::rejected);
  BOOST_TEST(buf.rejected() == 1u);
  BOOST_TEST(buf.push(msg('C')) == verdict::rejected);
  BOOST_TEST(buf.rejected() == 2u);
  BOOST_TEST(buf.dropped() == 0u);
  BOOST_TEST(buf.size() == 1u);
  BOOST_TEST(contents(buf) == "A");
}

BOOST_AUTO_TEST_CASE(drop_newest_policy_discards_the_new_message_and_counts_it) {
  auto buf = make(2, lots, overflow_policy::drop_newest);
  buf.push(msg('A', 3));
  buf.push(msg('B', 4));
  BOOST_TEST(buf.push(msg('C', 5)) == verdict::dropped_newest);
  BOOST_TEST(buf.dropped() == 1u);
  BOOST_TEST(buf.push(msg('D', 6)) == verdict::dropped_newest);
  BOOST_TEST(buf.dropped() == 2u);
  BOOST_TEST(buf.rejected() == 0u);
  // Buffer unchanged.
  BOOST_TEST(buf.size() == 2u);
  BOOST_TEST(buf.size_bytes() == 7u);
  BOOST_TEST(contents(buf) == "AB");
}

BOOST_AUTO_TEST_CASE(drop_newest_policy_applies_to_the_byte_bound_too) {
  auto buf = make(10, 15, overflow_policy::drop_newest);
  buf.push(msg('A', 10));
  BOOST_TEST(buf.push(msg('B', 6)) == verdict::dropped_newest);
  BOOST_TEST(buf.dropped() == 1u);
  BOOST_TEST(contents(buf) == "A");
}

BOOST_AUTO_TEST_CASE(drop_oldest_policy_drops_the_oldest_message_and_queues_the_new_one) {
  auto buf = make(3, lots, overflow_policy::drop_oldest);
  buf.push(msg('A'));
  buf.push(msg('B'));
  buf.push(msg('C'));
  BOOST_TEST(buf.push(msg('D')) == verdict::dropped_oldest);
  BOOST_TEST(buf.dropped() == 1u);
  BOOST_TEST(buf.rejected() == 0u);
  BOOST_TEST(buf.size() == 3u);
  BOOST_TEST(buf.size_bytes() == 30u);
  BOOST_TEST(contents(buf) == "BCD");
}

BOOST_AUTO_TEST_CASE(drop_oldest_policy_never_drops_in_flight_messages) {
  auto buf = make(3, lots, overflow_policy::drop_oldest);
  buf.push(msg('A'));
  buf.push(msg('B'));
  buf.push(msg('C'));
  BOOST_REQUIRE(tags(buf.take(1, lots)) == "A");
  BOOST_TEST(buf.push(msg('D')) == verdict::dropped_oldest);
  BOOST_TEST(buf.dropped() == 1u);
  BOOST_TEST(buf.in_flight() == 1u);
  BOOST_TEST(buf.waiting() == 2u);
  // A is still in flight; B (the oldest waiting) went.
  BOOST_TEST(take_all(buf) == "CD");
  BOOST_TEST(contents(buf) == "ACD");
}

BOOST_AUTO_TEST_CASE(drop_oldest_policy_drops_as_many_waiting_messages_as_the_bytes_need) {
  auto buf = make(10, 30, overflow_policy::drop_oldest);
  buf.push(msg('A', 10));
  buf.push(msg('B', 10));
  buf.push(msg('C', 10));
  // 15 more bytes: dropping A leaves 35 > 30, dropping B too leaves 25.
  BOOST_TEST(buf.push(msg('D', 15)) == verdict::dropped_oldest);
  BOOST_TEST(buf.dropped() == 2u);
  BOOST_TEST(buf.size_bytes() == 25u);
  BOOST_TEST(contents(buf) == "CD");
}

BOOST_AUTO_TEST_CASE(drop_oldest_policy_drops_the_new_message_when_in_flight_leaves_no_room) {
  auto buf = make(2, lots, overflow_policy::drop_oldest);
  buf.push(msg('A'));
  buf.push(msg('B'));
  BOOST_REQUIRE(take_all(buf) == "AB");
  // Nothing waiting can be dropped: the new message goes instead.
  BOOST_TEST(buf.push(msg('C')) == verdict::dropped_newest);
  BOOST_TEST(buf.dropped() == 1u);
  BOOST_TEST(buf.size() == 2u);
  BOOST_TEST(buf.in_flight() == 2u);
  BOOST_TEST(contents(buf) == "AB");
}

BOOST_AUTO_TEST_CASE(drop_oldest_policy_keeps_waiting_messages_when_dropping_them_would_not_help) {
  // 10 in flight + 10 waiting, max 25 bytes: a 20-byte message cannot fit even
  // after dropping B, so B must stay.
  auto buf = make(10, 25, overflow_policy::drop_oldest);
  buf.push(msg('A', 10));
  buf.push(msg('B', 10));
  BOOST_REQUIRE(tags(buf.take(1, lots)) == "A");
  BOOST_TEST(buf.push(msg('C', 20)) == verdict::dropped_newest);
  BOOST_TEST(buf.dropped() == 1u);
  BOOST_TEST(buf.size_bytes() == 20u);
  BOOST_TEST(contents(buf) == "AB");
}

BOOST_AUTO_TEST_SUITE_END()

// -- take -------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(take)

BOOST_AUTO_TEST_CASE(take_hands_out_oldest_first_within_the_message_limit) {
  auto buf = make(10, lots, overflow_policy::reject);
  for (char c : std::string("ABCDE"))
    buf.push(msg(c));
  BOOST_TEST(tags(buf.take(2, lots)) == "AB");
  BOOST_TEST(buf.in_flight() == 2u);
  BOOST_TEST(buf.in_flight_bytes() == 20u);
  BOOST_TEST(tags(buf.take(2, lots)) == "CD");
  BOOST_TEST(buf.in_flight() == 4u);
  BOOST_TEST(buf.waiting() == 1u);
  BOOST_TEST(tags(buf.take(2, lots)) == "E");
  BOOST_TEST(buf.take(2, lots).empty());
  // Taking does not remove anything.
  BOOST_TEST(buf.size() == 5u);
  BOOST_TEST(buf.size_bytes() == 50u);
}

BOOST_AUTO_TEST_CASE(take_stays_within_the_byte_limit) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 10));
  buf.push(msg('B', 10));
  buf.push(msg('C', 10));
  BOOST_TEST(tags(buf.take(lots, 25)) == "AB"); // C would make 30
  BOOST_TEST(buf.in_flight_bytes() == 20u);
  BOOST_TEST(tags(buf.take(lots, 25)) == "C");
  BOOST_TEST(buf.in_flight_bytes() == 30u);
}

BOOST_AUTO_TEST_CASE(take_byte_limit_is_inclusive) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 10));
  buf.push(msg('B', 10));
  buf.push(msg('C', 10));
  BOOST_TEST(tags(buf.take(lots, 20)) == "AB");
}

BOOST_AUTO_TEST_CASE(take_always_hands_out_the_first_message_even_if_larger_than_max_bytes) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 100));
  buf.push(msg('B', 1));
  BOOST_TEST(tags(buf.take(lots, 10)) == "A");
  BOOST_TEST(buf.in_flight_bytes() == 100u);
  BOOST_TEST(tags(buf.take(lots, 10)) == "B");
}

BOOST_AUTO_TEST_CASE(take_stops_before_a_later_message_larger_than_max_bytes) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 5));
  buf.push(msg('B', 100));
  buf.push(msg('C', 1));
  // Oldest first: C must not overtake B.
  BOOST_TEST(tags(buf.take(lots, 50)) == "A");
  BOOST_TEST(tags(buf.take(lots, 50)) == "B");
  BOOST_TEST(tags(buf.take(lots, 50)) == "C");
}

// A session's send window (docs/protocol.md 13.4.1): a message larger than
// what is left of it goes only when nothing is in flight.
BOOST_AUTO_TEST_CASE(take_alone_hands_out_a_larger_message_only_when_nothing_is_in_flight) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 5));
  buf.push(msg('B', 100));
  BOOST_TEST(tags(buf.take(lots, 50, true)) == "A");
  BOOST_TEST(tags(buf.take(lots, 45, true)).empty());
  buf.ack(1);
  BOOST_TEST(tags(buf.take(lots, 50, true)) == "B");
}

BOOST_AUTO_TEST_CASE(take_of_zero_messages_hands_out_nothing) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A'));
  BOOST_TEST(buf.take(0, lots).empty());
  BOOST_TEST(buf.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(take_hands_out_the_same_shared_payloads_that_were_pushed) {
  auto buf = make(10, lots, overflow_policy::reject);
  auto a = msg('A');
  buf.push(a);
  auto out = buf.take(1, lots);
  BOOST_REQUIRE(out.size() == 1u);
  BOOST_TEST(out[0].get() == a.get());
}

BOOST_AUTO_TEST_SUITE_END()

// -- ack ----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(ack)

BOOST_AUTO_TEST_CASE(ack_removes_acknowledged_messages_from_the_front) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 1));
  buf.push(msg('B', 2));
  buf.push(msg('C', 3));
  buf.push(msg('D', 4));
  BOOST_REQUIRE(tags(buf.take(3, lots)) == "ABC");
  buf.ack(2);
  BOOST_TEST(buf.size() == 2u);
  BOOST_TEST(buf.size_bytes() == 7u);
  BOOST_TEST(buf.in_flight() == 1u);
  BOOST_TEST(buf.in_flight_bytes() == 3u);
  BOOST_TEST(buf.waiting() == 1u);
  BOOST_TEST(contents(buf) == "CD");
  buf.ack(1);
  BOOST_TEST(buf.size() == 1u);
  BOOST_TEST(buf.in_flight() == 0u);
  BOOST_TEST(buf.in_flight_bytes() == 0u);
  BOOST_TEST(contents(buf) == "D");
}

BOOST_AUTO_TEST_CASE(ack_is_not_counted_as_dropped) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A'));
  buf.take(1, lots);
  buf.ack(1);
  BOOST_TEST(buf.empty());
  BOOST_TEST(buf.dropped() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

// -- return_in_flight ------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(return_in_flight)

BOOST_AUTO_TEST_CASE(unacknowledged_messages_wait_again_and_are_taken_first_in_order) {
  auto buf = make(10, lots, overflow_policy::reject);
  for (char c : std::string("ABCDE"))
    buf.push(msg(c));
  BOOST_REQUIRE(tags(buf.take(3, lots)) == "ABC");
  buf.ack(1); // A written completely; B and C not.
  buf.return_in_flight();
  BOOST_TEST(buf.in_flight() == 0u);
  BOOST_TEST(buf.in_flight_bytes() == 0u);
  BOOST_TEST(buf.waiting() == 4u);
  BOOST_TEST(buf.size() == 4u);
  BOOST_TEST(buf.size_bytes() == 40u);
  BOOST_TEST(tags(buf.take(2, lots)) == "BC");
  BOOST_TEST(tags(buf.take(lots, lots)) == "DE");
}

BOOST_AUTO_TEST_CASE(messages_handed_out_in_several_takes_return_in_original_order) {
  auto buf = make(10, lots, overflow_policy::reject);
  for (char c : std::string("ABCD"))
    buf.push(msg(c));
  BOOST_REQUIRE(tags(buf.take(1, lots)) == "A");
  BOOST_REQUIRE(tags(buf.take(2, lots)) == "BC");
  buf.return_in_flight();
  BOOST_TEST(take_all(buf) == "ABCD");
}

BOOST_AUTO_TEST_CASE(returned_messages_keep_their_place_before_newer_pushes) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A'));
  buf.push(msg('B'));
  BOOST_REQUIRE(take_all(buf) == "AB");
  buf.push(msg('C'));
  buf.return_in_flight();
  BOOST_TEST(take_all(buf) == "ABC");
}

BOOST_AUTO_TEST_CASE(returned_messages_can_be_dropped_by_drop_oldest) {
  // Once returned they are waiting again, hence droppable.
  auto buf = make(2, lots, overflow_policy::drop_oldest);
  buf.push(msg('A'));
  buf.push(msg('B'));
  BOOST_REQUIRE(take_all(buf) == "AB");
  buf.return_in_flight();
  BOOST_TEST(buf.push(msg('C')) == verdict::dropped_oldest);
  BOOST_TEST(take_all(buf) == "BC");
}

BOOST_AUTO_TEST_SUITE_END()

// -- clear --------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(clear)

BOOST_AUTO_TEST_CASE(clear_discards_everything_and_counts_it_as_dropped) {
  auto buf = make(10, lots, overflow_policy::reject);
  buf.push(msg('A', 1));
  buf.push(msg('B', 2));
  buf.push(msg('C', 3));
  BOOST_REQUIRE(tags(buf.take(1, lots)) == "A");
  BOOST_TEST(buf.clear() == 3u);
  BOOST_TEST(buf.dropped() == 3u);
  BOOST_TEST(buf.empty());
  BOOST_TEST(buf.size() == 0u);
  BOOST_TEST(buf.size_bytes() == 0u);
  BOOST_TEST(buf.in_flight() == 0u);
  BOOST_TEST(buf.in_flight_bytes() == 0u);
  BOOST_TEST(buf.waiting() == 0u);
  BOOST_TEST(buf.take(lots, lots).empty());
}

BOOST_AUTO_TEST_CASE(clear_adds_to_earlier_drops) {
  auto buf = make(1, lots, overflow_policy::drop_newest);
  buf.push(msg('A'));
  buf.push(msg('B')); // dropped
  BOOST_REQUIRE(buf.dropped() == 1u);
  BOOST_TEST(buf.clear() == 1u);
  BOOST_TEST(buf.dropped() == 2u);
  BOOST_TEST(buf.rejected() == 0u);
}

BOOST_AUTO_TEST_CASE(buffer_is_usable_after_clear) {
  auto buf = make(2, lots, overflow_policy::reject);
  buf.push(msg('A'));
  buf.push(msg('B'));
  buf.take(1, lots);
  buf.clear();
  BOOST_TEST(buf.push(msg('C')) == verdict::accepted);
  BOOST_TEST(buf.push(msg('D')) == verdict::accepted);
  BOOST_TEST(take_all(buf) == "CD");
}

BOOST_AUTO_TEST_SUITE_END()

// -- the queue beneath: lazy_deque ---------------------------------------------

BOOST_AUTO_TEST_SUITE(lazy_deque_spec)

using netasync::detail::lazy_deque;

std::string contents(lazy_deque<int>& q) {
  std::string s;
  for (auto& x : q)
    s += std::to_string(x);
  return s;
}

BOOST_AUTO_TEST_CASE(an_empty_queue_owns_no_memory_and_one_message_little) {
  lazy_deque<int> q;
  BOOST_TEST(q.capacity() == 0u);
  q.push_back(1);
  BOOST_TEST(q.capacity() == 2u);
  q.pop_front();
  BOOST_TEST(q.capacity() == 0u);
}

BOOST_AUTO_TEST_CASE(order_is_kept_across_the_wrap_and_growth) {
  lazy_deque<int> q;
  for (int i = 1; i <= 3; ++i)
    q.push_back(i);
  q.pop_front();
  q.pop_front(); // the front is now inside the ring
  for (int i = 4; i <= 9; ++i)
    q.push_back(i); // wraps, then grows
  BOOST_TEST(contents(q) == "3456789");
  BOOST_TEST(q.front() == 3);
  BOOST_TEST(q[6] == 9);
}

BOOST_AUTO_TEST_CASE(erasing_a_range_across_the_wrap_moves_the_rest_up) {
  lazy_deque<int> q;
  for (int i = 0; i < 4; ++i)
    q.push_back(i);
  q.pop_front();
  q.pop_front();
  for (int i = 4; i < 6; ++i)
    q.push_back(i); // 2 3 4 5 in a ring of 4, front at slot 2
  q.erase(q.begin() + 1, q.begin() + 3);
  BOOST_TEST(contents(q) == "25");
  q.erase(q.begin(), q.end());
  BOOST_TEST(q.empty());
  BOOST_TEST(q.capacity() == 0u);
}

BOOST_AUTO_TEST_CASE(a_burst_moves_to_a_deque_and_all_is_given_back_when_empty) {
  lazy_deque<int> q;
  for (int i = 0; i < 1000; ++i)
    q.push_back(i);
  BOOST_TEST(q.large());
  BOOST_TEST(q.size() == 1000u);
  BOOST_TEST(q[64] == 64); // the ring's elements moved over in order
  q.erase(q.begin() + 1, q.begin() + 999);
  BOOST_TEST(q.size() == 2u);
  BOOST_TEST(q.front() == 0);
  BOOST_TEST(q[1] == 999);
  q.pop_front();
  q.pop_front();
  BOOST_TEST(!q.large());
  BOOST_TEST(q.capacity() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
