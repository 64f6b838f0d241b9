#pragma once

// A double-ended queue (push at the back, pop at the front, erase a range)
// that owns no memory while empty, and little while it holds a few: a ring
// buffer whose capacity doubles from 2 and halves again as it empties. Each
// connection has two (its outbound buffer, its link's write queue), and
// most of the time they hold nothing or one message: libstdc++'s deque
// allocates a 512-byte block and its map as soon as it holds anything
// (~700 bytes for one message), which an idle connection would keep for as
// long as its last write waits to be counted out.

#include <cstddef>
#include <iterator>
#include <memory>
#include <utility>

namespace netasync::detail {

template <class T>
class lazy_deque {
public:
  /// Walks the queue front to back by position: valid until the queue
  /// changes (as a std::deque's after an insertion).
  class iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = T*;
    using reference = T&;

    iterator(lazy_deque* q, size_t pos) : q_(q), pos_(pos) {
      // nop
    }

    T& operator*() const {
      return (*q_)[pos_];
    }

    T* operator->() const {
      return &(*q_)[pos_];
    }

    iterator& operator++() {
      ++pos_;
      return *this;
    }

    iterator operator+(std::ptrdiff_t n) const {
      return iterator{q_, pos_ + static_cast<size_t>(n)};
    }

    bool operator==(const iterator& other) const {
      return pos_ == other.pos_;
    }

    bool operator!=(const iterator& other) const {
      return pos_ != other.pos_;
    }

  private:
    friend class lazy_deque;
    lazy_deque* q_;
    size_t pos_;
  };

  lazy_deque() = default;

  lazy_deque(lazy_deque&& other) noexcept {
    steal(other);
  }

  lazy_deque& operator=(lazy_deque&& other) noexcept {
    if (this != &other) {
      clear();
      steal(other);
    }
    return *this;
  }

  lazy_deque(const lazy_deque& other) {
    copy_from(other);
  }

  lazy_deque& operator=(const lazy_deque& other) {
    if (this != &other) {
      clear();
      copy_from(other);
    }
    return *this;
  }

  size_t size() const noexcept {
    return size_;
  }

  bool empty() const noexcept {
    return size_ == 0;
  }

  /// Slots allocated (0 while empty).
  size_t capacity() const noexcept {
    return cap_;
  }

  template <class... Ts>
  T& emplace_back(Ts&&... xs) {
    if (size_ == cap_)
      resize(cap_ == 0 ? 2 : cap_ * 2);
    auto& slot = (*this)[size_];
    slot = T(std::forward<Ts>(xs)...);
    ++size_;
    return slot;
  }

  void push_back(T x) {
    emplace_back(std::move(x));
  }

  /// Precondition: !empty().
  T& front() {
    return buf_[head_];
  }

  T& operator[](size_t i) {
    return buf_[(head_ + i) & (cap_ - 1)];
  }

  const T& operator[](size_t i) const {
    return buf_[(head_ + i) & (cap_ - 1)];
  }

  /// Precondition: !empty().
  void pop_front() {
    buf_[head_] = T{}; // lets go of what it held now
    head_ = (head_ + 1) & (cap_ - 1);
    --size_;
    settle();
  }

  iterator begin() {
    return iterator{this, 0};
  }

  iterator end() {
    return iterator{this, size_};
  }

  /// Removes [first, last); what follows moves up.
  void erase(iterator first, iterator last) {
    auto n = last.pos_ - first.pos_;
    if (n == 0)
      return;
    for (auto i = first.pos_; i + n < size_; ++i)
      (*this)[i] = std::move((*this)[i + n]);
    for (auto i = size_ - n; i < size_; ++i)
      (*this)[i] = T{};
    size_ -= n;
    settle();
  }

  void clear() noexcept {
    buf_.reset();
    cap_ = 0;
    head_ = 0;
    size_ = 0;
  }

private:
  // Capacity is a power of two (the index mask above).
  void resize(size_t cap) {
    auto next = std::make_unique<T[]>(cap);
    for (size_t i = 0; i < size_; ++i)
      next[i] = std::move((*this)[i]);
    buf_ = std::move(next);
    cap_ = cap;
    head_ = 0;
  }

  // Empty: no memory. Mostly empty: half of it back (a burst's capacity
  // is not kept for the rest of the connection's life).
  void settle() {
    if (size_ == 0)
      clear();
    else if (cap_ > 64 && size_ < cap_ / 4)
      resize(cap_ / 2);
  }

  void steal(lazy_deque& other) noexcept {
    buf_ = std::move(other.buf_);
    cap_ = std::exchange(other.cap_, 0);
    head_ = std::exchange(other.head_, 0);
    size_ = std::exchange(other.size_, 0);
  }

  void copy_from(const lazy_deque& other) {
    if (other.size_ == 0)
      return;
    buf_ = std::make_unique<T[]>(other.cap_);
    cap_ = other.cap_;
    for (size_t i = 0; i < other.size_; ++i)
      buf_[i] = other[i];
    size_ = other.size_;
  }

  std::unique_ptr<T[]> buf_;
  size_t cap_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

} // namespace netasync::detail
