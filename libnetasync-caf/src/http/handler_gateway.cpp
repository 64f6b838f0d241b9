#include "http/handler_gateway.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_companion.hpp>
#include <caf/actor_system.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/scoped_execution_unit.hpp>
#include <caf/sec.hpp>

namespace netasync::detail {

struct handler_gateway::table {
  mutable std::mutex mtx;
  std::unordered_map<uint64_t, answer_fn> waiting;
  std::atomic<uint64_t> next{0};

  // An incoming message of the companion: an answer, or nothing of ours.
  void on_message(caf::mailbox_element& x) {
    if (!x.mid.is_response())
      return;
    auto id = x.mid.request_id().integer_value();
    answer_fn f;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto i = waiting.find(id);
      if (i == waiting.end())
        return; // forgotten: the connection answered 504 already
      f = std::move(i->second);
      waiting.erase(i);
    }
    auto& xs = x.content();
    if (xs.match_elements<http_response>())
      f(id, xs.move_if_unshared<http_response>(0));
    else if (xs.match_elements<caf::error>())
      f(id, xs.move_if_unshared<caf::error>(0));
    else
      f(id, caf::make_error(caf::sec::unexpected_response));
  }
};

handler_gateway::handler_gateway(caf::actor_system& sys)
  : table_(std::make_shared<table>()), sys_(&sys) {
  // Hidden: a listener's companion is not an actor the system waits for
  // at shutdown; it ends with its listener.
  auto c = sys.spawn<caf::actor_companion, caf::hidden>();
  companion_ = caf::actor_cast<caf::strong_actor_ptr>(c);
  auto self = static_cast<caf::actor_companion*>(
    caf::actor_cast<caf::abstract_actor*>(companion_));
  self->on_enqueue([t = table_](caf::mailbox_element_ptr ptr) {
    if (ptr)
      t->on_message(*ptr);
  });
}

handler_gateway::~handler_gateway() {
  // (actor_companion::disconnect is declared but not in Debian's
  // libcaf_core 0.17.6: what it would do, as CAF's actor_widget does.)
  auto self = static_cast<caf::actor_companion*>(
    caf::actor_cast<caf::abstract_actor*>(companion_));
  self->on_enqueue({});
  caf::scoped_execution_unit ctx{sys_};
  self->cleanup(caf::error{}, &ctx);
}

uint64_t handler_gateway::ask(const caf::actor& handler, caf::message req,
                              answer_fn f) {
  uint64_t id = 0;
  while (id == 0)
    id = (++table_->next) & caf::message_id::request_id_mask;
  {
    std::lock_guard<std::mutex> guard{table_->mtx};
    table_->waiting.emplace(id, std::move(f));
  }
  // A request in the companion's name: the answer (or CAF's error for a
  // handler that is gone) comes back to it with this id.
  handler->enqueue(caf::make_mailbox_element(companion_,
                                             caf::make_message_id(id), {},
                                             std::move(req)),
                   nullptr);
  return id;
}

void handler_gateway::forget(uint64_t id) {
  std::lock_guard<std::mutex> guard{table_->mtx};
  table_->waiting.erase(id);
}

size_t handler_gateway::waiting() const {
  std::lock_guard<std::mutex> guard{table_->mtx};
  return table_->waiting.size();
}

} // namespace netasync::detail
