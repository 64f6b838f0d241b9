#include "connection_worker.hpp"

#include <optional>
#include <stdexcept>
#include <string>

#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include "netasync/atoms.hpp"
#include "liveness.hpp"

namespace netasync {

namespace {

// The liveness tick carries its due time, so an earlier re-arm makes the
// older tick stale.
using stuck_tick_atom = caf::atom_constant<caf::atom("na_stktick")>;

struct worker_state {
  worker_config cfg;
  std::optional<detail::liveness_rule> rule;
  static inline const char* name = "netasync.connection_worker";
};

using worker_actor = caf::stateful_actor<worker_state>;

void arm_check(worker_actor* self) {
  auto due = self->state.rule->due();
  self->delayed_send(self, due - self->clock().now(), stuck_tick_atom::value,
                     detail::ticks_of(due));
}

caf::behavior worker_behavior(worker_actor* self, worker_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.rule.emplace(st.cfg.heartbeat_timeout, st.cfg.frame_timeout,
                  self->clock().now());
  // Without a supervisor there is nobody to tell.
  self->monitor(st.cfg.supervisor);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (dm.source == self->state.cfg.supervisor)
      self->quit();
  });
  // A failure becomes the exit reason the supervisor reports; CAF's default
  // handler would also print to stderr.
  self->set_exception_handler([](std::exception_ptr& eptr) -> caf::error {
    return caf::make_error(caf::sec::runtime_error, what_of(eptr));
  });
  arm_check(self);
  return {
    [=](stuck_tick_atom, int64_t due) {
      auto& st = self->state;
      if (due != detail::ticks_of(st.rule->due()))
        return;
      // The link is dead: quitting with the reason tells the supervisor.
      if (auto err = st.rule->check(st.cfg.link->liveness(),
                                    self->clock().now()))
        self->quit(std::move(err));
      else
        arm_check(self);
    },
    [=](crash_atom) -> caf::result<void> {
      throw std::runtime_error("injected connection worker failure");
    },
  };
}

} // namespace

std::string what_of(const std::exception_ptr& eptr) {
  try {
    std::rethrow_exception(eptr);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

caf::actor spawn_connection_worker(caf::actor_system& sys, worker_config cfg) {
  return sys.spawn<caf::hidden>(worker_behavior, std::move(cfg));
}

} // namespace netasync
