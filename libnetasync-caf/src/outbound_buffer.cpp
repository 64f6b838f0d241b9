#include "outbound_buffer.hpp"

namespace netasync {

outbound_buffer::verdict outbound_buffer::push(shared_bytes msg) {
  auto n = msg->size();
  if (fits(n)) {
    bytes_ += n;
    queue_.emplace_back(std::move(msg));
    return verdict::accepted;
  }
  switch (limits_.policy) {
    case overflow_policy::reject:
      ++rejected_;
      return verdict::rejected;
    case overflow_policy::drop_newest:
      ++dropped_;
      return verdict::dropped_newest;
    case overflow_policy::drop_oldest:
      break;
  }
  // Drop the oldest waiting messages until the new one fits; messages handed
  // to the link cannot be recalled.
  auto first_waiting = queue_.begin() + static_cast<ptrdiff_t>(in_flight_);
  auto i = first_waiting;
  size_t freed = 0;
  size_t count = 0;
  while (i != queue_.end()
         && !(queue_.size() - count + 1 <= limits_.max_messages
              && bytes_ - freed + n <= limits_.max_bytes)) {
    freed += (*i)->size();
    ++count;
    ++i;
  }
  if (!(queue_.size() - count + 1 <= limits_.max_messages
        && bytes_ - freed + n <= limits_.max_bytes)) {
    // Even dropping every waiting message would not make room.
    ++dropped_;
    return verdict::dropped_newest;
  }
  queue_.erase(first_waiting, i);
  bytes_ -= freed;
  dropped_ += count;
  bytes_ += n;
  queue_.emplace_back(std::move(msg));
  return verdict::dropped_oldest;
}

std::vector<shared_bytes> outbound_buffer::take(size_t max_messages,
                                                size_t max_bytes, bool alone) {
  std::vector<shared_bytes> result;
  size_t taken_bytes = 0;
  while (in_flight_ < queue_.size() && result.size() < max_messages) {
    auto& next = queue_[in_flight_];
    auto first = result.empty() && (!alone || in_flight_ == 0);
    if (!first && taken_bytes + next->size() > max_bytes)
      break;
    taken_bytes += next->size();
    result.push_back(next);
    ++in_flight_;
  }
  in_flight_bytes_ += taken_bytes;
  return result;
}

void outbound_buffer::ack(size_t n) {
  if (n > in_flight_)
    n = in_flight_;
  for (size_t i = 0; i < n; ++i) {
    auto sz = queue_.front()->size();
    bytes_ -= sz;
    in_flight_bytes_ -= sz;
    queue_.pop_front();
  }
  in_flight_ -= n;
}

size_t outbound_buffer::confirm(size_t n) {
  if (n > queue_.size())
    n = queue_.size();
  size_t freed = 0;
  for (size_t i = 0; i < n; ++i) {
    auto sz = queue_.front()->size();
    freed += sz;
    if (in_flight_ > 0) {
      --in_flight_;
      in_flight_bytes_ -= sz;
    }
    queue_.pop_front();
  }
  bytes_ -= freed;
  return freed;
}

size_t outbound_buffer::clear() {
  auto n = queue_.size();
  queue_.clear();
  bytes_ = 0;
  in_flight_ = 0;
  in_flight_bytes_ = 0;
  dropped_ += n;
  return n;
}

} // namespace netasync
