#include "subscriber_watch.hpp"

#include <unordered_map>
#include <unordered_set>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

namespace netasync::detail {

namespace {

struct watch_state {
  // Subscriber -> the supervisors to tell of its end.
  std::unordered_map<caf::actor_addr, std::unordered_set<caf::actor_addr>>
    interested;
  static inline const char* name = "netasync.subscriber_watch";
};

using watch_actor = caf::stateful_actor<watch_state>;

caf::behavior watch_behavior(watch_actor* self) {
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& interested = self->state.interested;
    auto i = interested.find(dm.source);
    if (i == interested.end())
      return;
    for (auto& who : i->second)
      if (auto hdl = caf::actor_cast<caf::actor>(who))
        caf::anon_send(hdl, dm);
    interested.erase(i);
  });
  return {
    [=](watch_atom, const caf::actor& sub, const caf::actor_addr& who) {
      if (!sub || !who)
        return;
      auto& set = self->state.interested[sub.address()];
      if (set.empty())
        self->monitor(sub); // at once a down_msg if it is already gone
      set.insert(who);
    },
    [=](unwatch_atom, const caf::actor& sub, const caf::actor_addr& who) {
      auto& interested = self->state.interested;
      auto i = interested.find(sub.address());
      if (i == interested.end())
        return;
      i->second.erase(who);
      if (i->second.empty()) {
        interested.erase(i);
        self->demonitor(sub);
      }
    },
  };
}

} // namespace

caf::actor spawn_subscriber_watch(caf::actor_system& sys) {
  return sys.spawn<caf::hidden>(watch_behavior);
}

} // namespace netasync::detail
