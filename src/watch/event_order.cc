#include "watch/event_order.h"

#include <utility>

#include "steen/limits.h"

namespace steen::watch {
namespace {

bool IsCloseWrite(const sys::SysEvent& ev) {
  return ev.kind == sys::SysEvent::Kind::kFile && ev.event.op == FileOp::kCloseWrite &&
         !ev.is_directory;
}

bool SameFile(const sys::SysEvent& a, const sys::SysEvent& b) {
  if (a.event.inode != 0 && b.event.inode != 0) {
    return a.event.device == b.event.device && a.event.inode == b.event.inode;
  }
  return a.event.path == b.event.path;
}

}  // namespace

std::optional<sys::SysEvent> CloseWritesFirst::Next(std::chrono::milliseconds timeout) {
  if (buffered_.empty()) {
    std::optional<sys::SysEvent> ev = source_->Next(timeout);
    if (!ev || ev->kind != sys::SysEvent::Kind::kPermission) return ev;
    buffered_.push_back(std::move(*ev));
    front_passed_ = 0;
  }
  // A permission event is first: what else is queued now may hold a close-write to judge first.
  if (buffered_.front().kind == sys::SysEvent::Kind::kPermission &&
      front_passed_ < limits::kMaxCloseWritesAhead) {
    while (buffered_.size() < limits::kMaxEventLookahead) {
      std::optional<sys::SysEvent> more = source_->Next(std::chrono::milliseconds(0));
      if (!more) break;
      buffered_.push_back(std::move(*more));
    }
    for (std::size_t i = 1; i < buffered_.size(); ++i) {
      const sys::SysEvent& candidate = buffered_[i];
      if (!IsCloseWrite(candidate)) {
        if (candidate.kind != sys::SysEvent::Kind::kPermission) break;  // keeps its place
        continue;
      }
      bool blocked = false;
      for (std::size_t j = 0; j < i && !blocked; ++j) blocked = SameFile(buffered_[j], candidate);
      if (blocked) break;  // keeps its place behind that event
      sys::SysEvent ahead = std::move(buffered_[i]);
      buffered_.erase(buffered_.begin() + static_cast<std::ptrdiff_t>(i));
      ++front_passed_;
      ++moved_ahead_;
      return ahead;
    }
  }
  sys::SysEvent front = std::move(buffered_.front());
  buffered_.pop_front();
  front_passed_ = 0;
  return front;
}

}  // namespace steen::watch
