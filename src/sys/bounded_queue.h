// A bounded multi-producer queue that never blocks producers: when full, the item is handed back
// (dropped) and counted. Kernel readers must never wait on the daemon.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace steen::sys {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  // Returns the item back when the queue is full or closed (the caller disposes of it: a
  // permission ticket allows in its destructor).
  std::optional<T> TryPush(T item) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) {
        ++dropped_;
        return std::optional<T>(std::move(item));
      }
      items_.push_back(std::move(item));
    }
    // After the unlock: a consumer woken under the lock would wake only to wait for it.
    cv_.notify_one();
    return std::nullopt;
  }

  std::optional<T> Pop(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

  // Wakes consumers; further pushes are refused. Items still queued can be drained with Pop.
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  void Clear() {
    std::deque<T> drained;
    {
      std::lock_guard lock(mu_);
      drained.swap(items_);
    }
    // Destroyed outside the lock (tickets answer in their destructors).
  }
  uint64_t dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  bool closed_ = false;
  uint64_t dropped_ = 0;
};

}  // namespace steen::sys
