#include "netasync/connection_worker.hpp"

#include <algorithm>
#include <stdexcept>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/error.hpp"

namespace netasync {

namespace {

// Timer ticks. Each timer has at most one tick pending, so no generation tag
// is needed: a tick re-reads the clock and re-arms for the remaining time.
using heartbeat_tick_atom = caf::atom_constant<caf::atom("na_hbtick")>;
using stuck_tick_atom = caf::atom_constant<caf::atom("na_stktick")>;

struct worker_state {
  worker_config cfg;
  caf::actor_clock::time_point last_rx;
  caf::actor_clock::time_point last_tx;
  // True while we stopped reading because nobody takes the payloads.
  bool paused = false;
  static inline const char* name = "netasync.connection_worker";
};

using worker_actor = caf::stateful_actor<worker_state>;

// Delivers what the transport holds to the subscribers. While there is no
// subscriber, payloads stay in the transport (in order, safe from a failure
// of this worker); past hold_bytes the worker stops reading, and TCP pushes
// back on the peer.
void deliver_received(worker_actor* self) {
  auto& st = self->state;
  auto& link = *st.cfg.link;
  if (st.cfg.subscribers.empty()) {
    if (!st.paused && link.received_pending_bytes() >= st.cfg.opts.hold_bytes) {
      st.paused = true;
      link.pause_reading();
    }
    return;
  }
  for (auto& payload : link.take_received()) {
    // One message shared by all subscribers: fan-out copies no payload.
    auto msg = caf::make_message(st.cfg.handle, std::move(payload));
    for (auto& sub : st.cfg.subscribers)
      self->send(sub, msg);
  }
  if (st.paused) {
    st.paused = false;
    // Our own pause must not count as peer silence.
    st.last_rx = self->clock().now();
    link.resume_reading();
  }
}

caf::behavior worker_behavior(worker_actor* self, worker_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  auto now = self->clock().now();
  st.last_rx = now;
  st.last_tx = now;
  auto link = st.cfg.link;
  // Without a supervisor nobody would ever close the link.
  self->monitor(st.cfg.supervisor);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.cfg.supervisor) {
      self->state.cfg.link->close(close_mode::abortive,
                                  make_error(error::closed_by_user));
      self->quit();
    }
  });
  // A failure becomes the exit reason the supervisor reports; CAF's default
  // handler would also print to stderr.
  self->set_exception_handler([](std::exception_ptr& eptr) -> caf::error {
    try {
      std::rethrow_exception(eptr);
    } catch (const std::exception& e) {
      return caf::make_error(caf::sec::runtime_error, e.what());
    } catch (...) {
      return caf::make_error(caf::sec::runtime_error, "unknown exception");
    }
  });
  if (st.cfg.replaces_failed)
    link->rebind(caf::actor{self});
  else
    link->start(transport::sinks{caf::actor{self}, st.cfg.supervisor,
                                 st.cfg.link_id});
  self->delayed_send(self, st.cfg.opts.heartbeat_period,
                     heartbeat_tick_atom::value);
  self->delayed_send(self, st.cfg.opts.effective_heartbeat_timeout(),
                     stuck_tick_atom::value);
  return {
    [=](write_atom, std::vector<shared_bytes>& payloads) {
      auto& st = self->state;
      st.cfg.link->write(std::move(payloads));
      st.last_tx = self->clock().now();
    },
    [=](transport_rx_atom) {
      self->state.last_rx = self->clock().now();
      deliver_received(self);
    },
    [=](transport_down_atom, caf::error& reason) {
      self->quit(std::move(reason));
    },
    [=](heartbeat_tick_atom) {
      auto& st = self->state;
      auto now = self->clock().now();
      auto period = st.cfg.opts.heartbeat_period;
      if (now - st.last_tx >= period) {
        st.cfg.link->write_heartbeat();
        st.last_tx = now;
      }
      self->delayed_send(self, st.last_tx + period - now,
                         heartbeat_tick_atom::value);
    },
    [=](stuck_tick_atom) {
      auto& st = self->state;
      auto now = self->clock().now();
      auto timeout = st.cfg.opts.effective_heartbeat_timeout();
      if (st.paused)
        st.last_rx = now; // we stopped reading, the peer is not to blame
      auto silent = now - st.last_rx;
      if (silent >= timeout) {
        auto reason = make_error(
          error::heartbeat_timeout,
          "nothing received for "
            + std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(silent)
                .count())
            + " ms");
        st.cfg.link->close(close_mode::abortive, reason);
        self->quit(std::move(reason));
        return;
      }
      self->delayed_send(self, st.last_rx + timeout - now,
                         stuck_tick_atom::value);
    },
    [=](subscribe_atom, caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      if (std::find(subs.begin(), subs.end(), sub) == subs.end())
        subs.emplace_back(std::move(sub));
      deliver_received(self);
    },
    [=](unsubscribe_atom, const caf::actor& sub) {
      auto& subs = self->state.cfg.subscribers;
      subs.erase(std::remove(subs.begin(), subs.end(), sub), subs.end());
    },
    [=](close_atom) {
      self->state.cfg.link->close(close_mode::graceful, caf::error{});
    },
    [=](crash_atom) -> caf::result<void> {
      throw std::runtime_error("injected connection worker failure");
    },
  };
}

} // namespace

caf::actor spawn_connection_worker(caf::actor_system& sys, worker_config cfg) {
  return sys.spawn<caf::hidden>(worker_behavior, std::move(cfg));
}

} // namespace netasync
