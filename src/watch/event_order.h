// The order the daemon handles events in. The source's queue is in kernel order, and in it a
// writer's permission events often come before the close-writes of files it already wrote: a
// multi-threaded encryptor opens its next files while its first ones close. Handling those
// close-writes first judges the writer before its next opens are answered (and held, once it is a
// suspect: write_hold.h) instead of after. A close-write moves ahead only of permission events,
// and never ahead of an event of the same file; every other event keeps its place.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "sys/event_source.h"

namespace steen::watch {

class CloseWritesFirst {
 public:
  explicit CloseWritesFirst(sys::EventSource* source) : source_(source) {}

  // The next event to handle, waiting up to `timeout` when none is queued.
  std::optional<sys::SysEvent> Next(std::chrono::milliseconds timeout);

  // Drops the events taken from the source but not handed out (their tickets allow).
  void Clear() { buffered_.clear(); }

  std::size_t buffered() const { return buffered_.size(); }
  uint64_t moved_ahead() const { return moved_ahead_; }

 private:
  sys::EventSource* source_;
  std::deque<sys::SysEvent> buffered_;
  int front_passed_ = 0;  // close-writes handed out ahead of the front event
  uint64_t moved_ahead_ = 0;
};

}  // namespace steen::watch
