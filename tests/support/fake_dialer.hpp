#pragma once

// A dialer that answers only when the test says so.

#include <deque>
#include <memory>

#include <caf/send.hpp>

#include "dialer.hpp"
#include "support/fake_transport.hpp"

namespace netasync::test {

class fake_dialer : public dialer {
public:
  void dial(request req) override {
    ++attempts;
    pending.push_back(std::move(req));
  }

  /// Answers the oldest attempt with a new fake transport.
  std::shared_ptr<fake_transport> succeed() {
    auto req = pop();
    auto tr = std::make_shared<fake_transport>(clock);
    caf::anon_send(req.reply_to, dial_ok_atom::value, req.attempt,
                   transport_ptr{tr});
    return tr;
  }

  /// Answers the oldest attempt with an error.
  void fail(caf::error reason) {
    auto req = pop();
    caf::anon_send(req.reply_to, dial_failed_atom::value, req.attempt,
                   std::move(reason));
  }

  /// The test's virtual clock, for the links it makes.
  caf::actor_clock* clock = nullptr;
  size_t attempts = 0;
  std::deque<request> pending;

private:
  request pop() {
    if (pending.empty())
      throw std::logic_error("fake_dialer: no attempt pending");
    auto req = std::move(pending.front());
    pending.pop_front();
    return req;
  }
};

} // namespace netasync::test
