// netasync-kv-client: works a netasync-kv-server through its calls, and
// keeps working through link drops: its session resumes on a new link, a
// call in flight is resent and answered once, nothing is lost.
//
//   netasync-kv-client --connect URL [--count N] [--interval MS]
//                      [--tls-ca PEM]
//
// Does N rounds (default 100) of "put key-I value-I" then "get key-I",
// checking each answer, one call at a time, --interval MS apart (default 0).
// Each call may take up to 30 s (a server restart in between is an error:
// session_expired). The last line on stdout is
//
//   C calls, A answered, F failed, R resumes
//
// and the exit status is 0 iff F = 0 and the connection stayed a session.

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include "netasync/all.hpp"

#include "cli.hpp"

namespace cli = netasync::examples;
using namespace netasync;

int main(int argc, char** argv) {
  flags::parser p{argc, argv,
                  "--connect URL [--count N] [--interval MS] [--tls-ca PEM]"
                  " [--netasync.KEY=VALUE ...] [--config-file=INI]"};
  auto url = cli::url_flag(p, "connect");
  auto count = p.num("count", 1, 100000000, 100);
  auto interval = p.num("interval", 0, 3600000, 0);
  tls_options tls;
  cli::tls_flags(cli::side::client, p, tls);
  p.finish();
  system_config cfg;
  if (!cli::load_config(cfg, p.config_args()))
    return 2;
  auto opts = options::from(cfg);
  opts.session = true;
  cli::apply_tls_flags(tls, opts.tls);
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
  auto conn = connect(sys, to_string(url), opts, {caf::actor{self}});
  if (!conn) {
    std::cerr << "cannot connect: " << describe(conn.error()) << std::endl;
    return 1;
  }
  uint64_t calls = 0;
  uint64_t answered = 0;
  uint64_t failed = 0;
  auto call = [&](const std::string& request, const std::string& expected) {
    ++calls;
    self
      ->request(*conn, std::chrono::seconds(30), call_atom::value,
                bytes(request.begin(), request.end()))
      .receive(
        [&](bytes& answer) {
          ++answered;
          if (std::string(answer.begin(), answer.end()) != expected) {
            ++failed;
            std::cerr << request << ": unexpected answer" << std::endl;
          }
        },
        [&](caf::error& err) {
          ++failed;
          std::cerr << request << ": " << describe(err) << std::endl;
        });
  };
  for (long long i = 0; i < count; ++i) {
    auto k = "key-" + std::to_string(i);
    auto v = "value-" + std::to_string(i);
    call("put " + k + " " + v, "ok");
    call("get " + k, v);
    if (interval > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(interval));
  }
  connection_stats st;
  self->request(*conn, std::chrono::seconds(5), get_atom::value,
                stats_atom::value)
    .receive([&](connection_stats& s) { st = s; }, [](caf::error&) {});
  self->send(*conn, close_atom::value);
  // Statuses (connected, disconnected, closed) are in the mailbox: the
  // closed one ends the wait.
  bool closed = false;
  self->receive_while([&] { return !closed; })(
    [&](closed_atom, const connection&, const caf::error&) { closed = true; },
    [&](connected_atom, const connection&) {},
    [&](disconnected_atom, const connection&, const caf::error& err) {
      std::cerr << "link dropped: " << describe(err) << std::endl;
    },
    caf::after(std::chrono::seconds(10)) >> [&] { closed = true; });
  std::cout << calls << " calls, " << answered << " answered, " << failed
            << " failed, " << st.resumes << " resumes" << std::endl;
  return failed == 0 ? 0 : 1;
}
