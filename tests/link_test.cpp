// The length-prefix link alone, with a fake upper neighbour: a real socket
// below (a raw peer on 127.0.0.1), a recording link_upper above, no actor.
// What the seam promises its upper (src/transport.hpp): payloads in order
// through on_payloads, "enough" holds reading back until resume_reading,
// on_sent counts payload frames only, on_ended comes exactly once, last.

#define BOOST_TEST_MODULE link
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "netasync/error.hpp"
#include "stream_transport.hpp"
#include "support/raw_socket.hpp"
#include "wire/header.hpp"

using namespace netasync;
using namespace netasync::test;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

constexpr auto bound = 10s; // every wait of this suite

// Records what the link reports; answers on_payloads as told.
class recording_upper : public link_upper {
public:
  bool on_payloads(std::vector<bytes>& payloads) override {
    std::unique_lock<std::mutex> guard{mtx_};
    ++calls;
    if (leave) // as a connection without a subscriber: take none, read on
      return true;
    for (auto& p : payloads)
      received.emplace_back(p.begin(), p.end());
    payloads.clear();
    cv_.notify_all();
    return !say_enough;
  }

  void on_sent(uint64_t n, uint64_t) override {
    std::unique_lock<std::mutex> guard{mtx_};
    sent += n;
    cv_.notify_all();
  }

  void on_ended(uint64_t written_total, const caf::error& reason) override {
    std::unique_lock<std::mutex> guard{mtx_};
    ++ends;
    received_at_end = received.size();
    written = written_total;
    end_reason = reason;
    cv_.notify_all();
  }

  /// Waits (bounded) until `pred` holds; false on timeout.
  bool wait_for(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, bound, pred);
  }

  template <class F>
  auto locked(F f) {
    std::unique_lock<std::mutex> guard{mtx_};
    return f();
  }

  // Guarded by mtx_.
  bool say_enough = false;
  bool leave = false;
  size_t calls = 0;
  size_t received_at_end = 0;
  std::vector<std::string> received;
  uint64_t sent = 0;
  size_t ends = 0;
  uint64_t written = 0;
  caf::error end_reason;

private:
  std::mutex mtx_;
  std::condition_variable cv_;
};

std::vector<uint8_t> frame(const std::string& payload) {
  auto h = wire::make_header(static_cast<uint32_t>(payload.size()));
  std::vector<uint8_t> out(h.size() + payload.size());
  std::copy(h.begin(), h.end(), out.begin());
  std::copy(payload.begin(), payload.end(), out.begin() + h.size());
  return out;
}

std::vector<uint8_t> operator+(std::vector<uint8_t> a,
                               const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A link on its own I/O thread, accepted from a raw peer.
struct link_fixture {
  asio::io_context ctx;
  std::thread io;
  raw_socket peer;
  std::shared_ptr<detail::tcp_transport> link;
  std::shared_ptr<recording_upper> up = std::make_shared<recording_upper>();

  link_fixture() {
    asio::ip::tcp::acceptor acc{ctx, {asio::ip::make_address("127.0.0.1"), 0}};
    peer = raw_socket::connect_to(acc.local_endpoint().port());
    detail::tcp_socket sock{asio::make_strand(ctx)};
    acc.accept(sock);
    link = std::make_shared<detail::tcp_transport>(std::move(sock), 1024);
    auto guard = asio::make_work_guard(ctx);
    io = std::thread{[this] { ctx.run(); }};
    work = std::make_unique<decltype(guard)>(std::move(guard));
  }

  ~link_fixture() {
    link->close(close_mode::abortive, caf::error{});
    BOOST_CHECK(up->wait_for([&] { return up->ends > 0; }));
    work.reset();
    ctx.stop();
    io.join();
  }

  void start() {
    link->start(up, std::chrono::hours(1));
  }

  std::unique_ptr<asio::executor_work_guard<asio::io_context::executor_type>>
    work;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(stream_link, link_fixture)

BOOST_AUTO_TEST_CASE(payloads_reach_the_upper_in_order_and_heartbeats_do_not) {
  start();
  auto hb = std::vector<uint8_t>(4, 0);
  peer.send_all(hb + frame("a") + hb + frame("bc") + frame("def"));
  BOOST_REQUIRE(up->wait_for([&] { return up->received.size() == 3; }));
  up->locked([&] {
    BOOST_CHECK_EQUAL(up->received[0], "a");
    BOOST_CHECK_EQUAL(up->received[1], "bc");
    BOOST_CHECK_EQUAL(up->received[2], "def");
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(enough_holds_reading_back_until_resume) {
  up->say_enough = true;
  start();
  peer.send_all(frame("first"));
  BOOST_REQUIRE(up->wait_for([&] { return up->calls == 1; }));
  // The link reads no more: it says so to the watchdog, and what the peer
  // sends now stays in the kernel.
  auto held = [&] { return link->liveness().held_back; };
  for (auto t0 = std::chrono::steady_clock::now();
       !held() && std::chrono::steady_clock::now() - t0 < bound;)
    std::this_thread::yield();
  BOOST_REQUIRE(held());
  peer.send_all(frame("second"));
  up->locked([&] {
    up->say_enough = false;
    return 0;
  });
  link->resume_reading();
  BOOST_REQUIRE(up->wait_for([&] { return up->received.size() == 2; }));
  BOOST_CHECK(!link->liveness().held_back);
  up->locked([&] {
    BOOST_CHECK_EQUAL(up->received[1], "second");
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(writes_are_counted_and_the_end_reported_once_after_a_graceful_close) {
  start();
  link->write({std::make_shared<const bytes>(bytes{'x'}),
               std::make_shared<const bytes>(bytes{'y', 'z'})});
  BOOST_REQUIRE(up->wait_for([&] { return up->sent == 2; }));
  auto expected = frame("x") + frame("yz");
  BOOST_CHECK(peer.read_exactly(expected.size(), 5000ms) == expected);
  link->close(close_mode::graceful, caf::error{});
  // Our FIN reaches the peer; the link ends when the peer closes too.
  BOOST_REQUIRE(peer.peer_closed_within(5000ms));
  peer.reset();
  BOOST_REQUIRE(up->wait_for([&] { return up->ends == 1; }));
  up->locked([&] {
    BOOST_CHECK_EQUAL(up->written, 2u);
    BOOST_CHECK(!up->end_reason);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(frames_before_a_violation_go_up_then_the_link_ends_with_it) {
  start();
  // Max frame size 1024: the second header announces 2048.
  auto bad = wire::make_header(2048);
  peer.send_all(frame("ok") + std::vector<uint8_t>(bad.begin(), bad.end()));
  BOOST_REQUIRE(up->wait_for([&] { return up->ends == 1; }));
  up->locked([&] {
    BOOST_REQUIRE_EQUAL(up->received.size(), 1u);
    BOOST_CHECK_EQUAL(up->received[0], "ok");
    BOOST_CHECK(up->end_reason.code()
                == static_cast<uint8_t>(error::frame_too_large));
    BOOST_CHECK(up->end_reason.category() == error_category);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(a_peer_that_goes_away_ends_the_link_with_connection_lost) {
  start();
  peer.reset();
  BOOST_REQUIRE(up->wait_for([&] { return up->ends == 1; }));
  up->locked([&] {
    BOOST_CHECK(up->end_reason.code()
                == static_cast<uint8_t>(error::connection_lost));
    BOOST_CHECK(up->end_reason.category() == error_category);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(payloads_left_by_the_upper_when_the_peer_ends_come_before_the_end) {
  up->leave = true;
  start();
  peer.send_all(frame("late"));
  peer.reset();
  BOOST_REQUIRE(up->wait_for([&] { return up->calls >= 1; }));
  up->locked([&] {
    up->leave = false; // a subscriber came
    return 0;
  });
  link->resume_reading();
  BOOST_REQUIRE(up->wait_for([&] { return up->ends == 1; }));
  up->locked([&] {
    BOOST_REQUIRE_EQUAL(up->received.size(), 1u);
    BOOST_CHECK_EQUAL(up->received[0], "late");
    BOOST_CHECK_EQUAL(up->received_at_end, 1u);
    return 0;
  });
}

BOOST_AUTO_TEST_CASE(a_write_stuck_on_a_peer_that_does_not_read_costs_no_cpu) {
  // Heartbeats are due every 20 ms of write silence; a write that cannot
  // complete is no reason to look again before the next period.
  link->start(up, 20ms);
  std::vector<shared_bytes> big;
  for (int i = 0; i < 32; ++i)
    big.push_back(std::make_shared<const bytes>(bytes(1024 * 1024, 'x')));
  link->write(std::move(big));
  // The peer's receive window (it never reads) is full: the write is stuck.
  auto inq = [&] {
    int n = 0;
    ::ioctl(peer.fd(), FIONREAD, &n);
    return n;
  };
  for (auto t0 = std::chrono::steady_clock::now();
       inq() < 64 * 1024 && std::chrono::steady_clock::now() - t0 < bound;)
    std::this_thread::yield();
  BOOST_REQUIRE_GE(inq(), 64 * 1024);
  clockid_t io_clock;
  BOOST_REQUIRE_EQUAL(pthread_getcpuclockid(io.native_handle(), &io_clock), 0);
  auto cpu = [&] {
    timespec ts{};
    clock_gettime(io_clock, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  };
  auto before = cpu();
  std::this_thread::sleep_for(500ms); // the span measured, not a wait
  auto used = cpu() - before;
  BOOST_TEST_MESSAGE("I/O thread: " << used / 1us << " us of CPU in 500 ms");
  BOOST_CHECK(used < 50ms);
}

BOOST_AUTO_TEST_CASE(our_close_drops_payloads_nobody_took_and_ends_the_link) {
  up->leave = true;
  start();
  peer.send_all(frame("unwanted"));
  peer.reset();
  BOOST_REQUIRE(up->wait_for([&] { return up->calls >= 1; }));
  link->close(close_mode::abortive, make_error(error::closed_by_user));
  BOOST_REQUIRE(up->wait_for([&] { return up->ends == 1; }));
  up->locked([&] {
    BOOST_CHECK(up->received.empty());
    return 0;
  });
}

BOOST_AUTO_TEST_SUITE_END()
