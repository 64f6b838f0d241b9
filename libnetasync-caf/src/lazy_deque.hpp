#pragma once

// A double-ended queue (push at the back, pop at the front, erase a range)
// that owns no memory while empty, and little while it holds a few. Each
// connection has two (its outbound buffer, its link's write queue), and
// most of the time they hold nothing or one message.
// - Up to `small_max` elements: a ring buffer whose capacity doubles from 2
//   (one message: 32 bytes). libstdc++'s deque allocates a 512-byte block
//   and its map for the first element (~700 bytes), which an idle
//   connection would keep for as long as its last write waits to be
//   counted out.
// - Beyond: a std::deque, whose fixed 512-byte blocks the allocator reuses.
//   (A ring grown to a large buffer, freed when the queue empties and grown
//   again, made glibc trim and fault its arenas over and over: madvise
//   1,208 times in 2 s of 256 B one-way traffic, a quarter of the
//   throughput.)
// Either is freed when the queue runs empty.

#include <cstddef>
#include <deque>
#include <iterator>
#include <memory>
#include <utility>

namespace netasync::detail {

template <class T>
class lazy_deque {
public:
  /// Ring capacity at most this; more elements move to a std::deque.
  static constexpr size_t small_max = 64;

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
    return big_ ? big_->size() : size_;
  }

  bool empty() const noexcept {
    return size() == 0;
  }

  /// Ring slots allocated (0 while empty or beyond small_max).
  size_t capacity() const noexcept {
    return cap_;
  }

  /// Whether the elements live in a std::deque.
  bool large() const noexcept {
    return big_ != nullptr;
  }

  template <class... Ts>
  T& emplace_back(Ts&&... xs) {
    if (big_)
      return big_->emplace_back(std::forward<Ts>(xs)...);
    if (size_ == cap_) {
      if (cap_ == small_max) {
        to_large();
        return big_->emplace_back(std::forward<Ts>(xs)...);
      }
      resize(cap_ == 0 ? 2 : cap_ * 2);
    }
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
    return big_ ? big_->front() : ring_[head_];
  }

  T& operator[](size_t i) {
    return big_ ? (*big_)[i] : ring_[(head_ + i) & (cap_ - 1)];
  }

  const T& operator[](size_t i) const {
    return big_ ? (*big_)[i] : ring_[(head_ + i) & (cap_ - 1)];
  }

  /// Precondition: !empty().
  void pop_front() {
    if (big_) {
      big_->pop_front();
    } else {
      ring_[head_] = T{}; // lets go of what it held now
      head_ = (head_ + 1) & (cap_ - 1);
      --size_;
    }
    if (empty())
      clear();
  }

  iterator begin() {
    return iterator{this, 0};
  }

  iterator end() {
    return iterator{this, size()};
  }

  /// Removes [first, last); what follows moves up.
  void erase(iterator first, iterator last) {
    auto n = last.pos_ - first.pos_;
    if (n == 0)
      return;
    if (big_) {
      big_->erase(big_->begin() + static_cast<std::ptrdiff_t>(first.pos_),
                  big_->begin() + static_cast<std::ptrdiff_t>(last.pos_));
    } else {
      for (auto i = first.pos_; i + n < size_; ++i)
        (*this)[i] = std::move((*this)[i + n]);
      for (auto i = size_ - n; i < size_; ++i)
        (*this)[i] = T{};
      size_ -= n;
    }
    if (empty())
      clear();
  }

  void clear() noexcept {
    big_.reset();
    ring_.reset();
    cap_ = 0;
    head_ = 0;
    size_ = 0;
  }

private:
  // Ring capacity is a power of two (the index mask above).
  void resize(size_t cap) {
    auto next = std::make_unique<T[]>(cap);
    for (size_t i = 0; i < size_; ++i)
      next[i] = std::move((*this)[i]);
    ring_ = std::move(next);
    cap_ = cap;
    head_ = 0;
  }

  void to_large() {
    auto big = std::make_unique<std::deque<T>>();
    for (size_t i = 0; i < size_; ++i)
      big->push_back(std::move((*this)[i]));
    ring_.reset();
    cap_ = 0;
    head_ = 0;
    size_ = 0;
    big_ = std::move(big);
  }

  void steal(lazy_deque& other) noexcept {
    ring_ = std::move(other.ring_);
    big_ = std::move(other.big_);
    cap_ = std::exchange(other.cap_, 0);
    head_ = std::exchange(other.head_, 0);
    size_ = std::exchange(other.size_, 0);
  }

  void copy_from(const lazy_deque& other) {
    if (other.big_) {
      big_ = std::make_unique<std::deque<T>>(*other.big_);
      return;
    }
    if (other.size_ == 0)
      return;
    ring_ = std::make_unique<T[]>(other.cap_);
    cap_ = other.cap_;
    for (size_t i = 0; i < other.size_; ++i)
      ring_[i] = other[i];
    size_ = other.size_;
  }

  std::unique_ptr<T[]> ring_;
  std::unique_ptr<std::deque<T>> big_;
  size_t cap_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

} // namespace netasync::detail
