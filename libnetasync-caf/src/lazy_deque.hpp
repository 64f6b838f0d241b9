#pragma once

// A std::deque that owns no memory while empty. libstdc++'s deque allocates
// a 512-byte block and its map when constructed; three per connection were
// 1.8 KB of the ~8 KB an idle connection cost. The storage is made on the
// first insertion and given back whenever the deque runs empty.

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

namespace netasync::detail {

template <class T>
class lazy_deque {
public:
  using container = std::deque<T>;
  using iterator = typename container::iterator;

  lazy_deque() = default;
  lazy_deque(lazy_deque&&) noexcept = default;
  lazy_deque& operator=(lazy_deque&&) noexcept = default;

  lazy_deque(const lazy_deque& other)
    : d_(other.d_ ? std::make_unique<container>(*other.d_) : nullptr) {
    // nop
  }

  lazy_deque& operator=(const lazy_deque& other) {
    if (this != &other)
      d_ = other.d_ ? std::make_unique<container>(*other.d_) : nullptr;
    return *this;
  }

  size_t size() const noexcept {
    return d_ ? d_->size() : 0;
  }

  bool empty() const noexcept {
    return size() == 0;
  }

  template <class... Ts>
  T& emplace_back(Ts&&... xs) {
    return storage().emplace_back(std::forward<Ts>(xs)...);
  }

  void push_back(T x) {
    storage().push_back(std::move(x));
  }

  /// Precondition: !empty() (as for std::deque).
  T& front() {
    return d_->front();
  }

  T& operator[](size_t i) {
    return (*d_)[i];
  }

  const T& operator[](size_t i) const {
    return (*d_)[i];
  }

  void pop_front() {
    d_->pop_front();
    release_if_empty();
  }

  iterator begin() {
    return storage().begin();
  }

  iterator end() {
    return storage().end();
  }

  void erase(iterator first, iterator last) {
    storage().erase(first, last);
    release_if_empty();
  }

  void clear() noexcept {
    d_.reset();
  }

private:
  container& storage() {
    if (!d_)
      d_ = std::make_unique<container>();
    return *d_;
  }

  void release_if_empty() noexcept {
    if (d_ && d_->empty())
      d_.reset();
  }

  std::unique_ptr<container> d_;
};

} // namespace netasync::detail
