#include "watch/write_hold.h"

#include <algorithm>
#include <utility>

#include "steen/limits.h"

namespace steen::watch {

WriteHold::WriteHold(std::chrono::milliseconds budget)
    : budget_ns_(static_cast<uint64_t>(std::max<int64_t>(0, budget.count())) * 1'000'000) {}

bool WriteHold::Suspected(const Actor& actor) const {
  if (!any_suspect_.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return std::any_of(suspects_.begin(), suspects_.end(),
                     [&](const ScopeMatcher& scope) { return scope.Covers(actor); });
}

void WriteHold::SetSuspects(std::vector<ScopeMatcher> suspects) {
  std::lock_guard<std::mutex> lock(mu_);
  suspects_ = std::move(suspects);
  any_suspect_.store(!suspects_.empty(), std::memory_order_release);
}

void WriteHold::Prune(uint64_t now_ns) {
  while (!in_flight_.empty() && in_flight_.front().opened_ns + budget_ns_ <= now_ns) {
    in_flight_.pop_front();
  }
}

void WriteHold::Opened(uint64_t device, uint64_t inode, const Actor& actor, uint64_t now_ns) {
  Prune(now_ns);
  if (in_flight_.size() >= limits::kMaxWritesInFlight) {
    in_flight_.pop_front();
    ++stats_.in_flight_dropped;
  }
  in_flight_.push_back(InFlight{++seq_, device, inode, now_ns, actor});
}

void WriteHold::Closed(uint64_t device, uint64_t inode, pid_t pid) {
  // The closer is usually the opener; a file handed to another process is closed by it.
  auto same_file = [&](const InFlight& w) { return w.device == device && w.inode == inode; };
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(),
                         [&](const InFlight& w) { return same_file(w) && w.actor.pid == pid; });
  if (it == in_flight_.end()) it = std::find_if(in_flight_.begin(), in_flight_.end(), same_file);
  if (it != in_flight_.end()) in_flight_.erase(it);
}

void WriteHold::Stopped(pid_t pid, uint64_t start_time) {
  std::erase_if(in_flight_, [&](const InFlight& w) {
    return w.actor.pid == pid && w.actor.start_time == start_time;
  });
}

bool WriteHold::WaitsFor(const Actor& actor, uint64_t before_seq, uint64_t now_ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ScopeMatcher& scope : suspects_) {
    if (!scope.Covers(actor)) continue;
    for (const InFlight& w : in_flight_) {
      if (w.seq >= before_seq) break;
      if (w.opened_ns + budget_ns_ > now_ns && scope.Covers(w.actor)) return true;
    }
  }
  return false;
}

bool WriteHold::MustWait(const Actor& actor, uint64_t now_ns) {
  if (budget_ns_ == 0 || !any_suspect_.load(std::memory_order_acquire)) return false;
  if (held_.size() >= limits::kMaxHeldWrites) return false;
  Prune(now_ns);
  return WaitsFor(actor, seq_ + 1, now_ns);
}

void WriteHold::Hold(sys::SysEvent event, uint64_t now_ns) {
  ++stats_.held;
  held_.push_back(Held{seq_ + 1, now_ns, std::move(event)});
}

std::vector<sys::SysEvent> WriteHold::ReleaseAll(Why why,
                                                 const std::function<bool(const Actor&)>& which) {
  std::vector<sys::SysEvent> released;
  for (auto it = held_.begin(); it != held_.end();) {
    if (which && !which(it->event.event.actor)) {
      ++it;
      continue;
    }
    if (why == Why::kAlert) ++stats_.released_alert;
    if (why == Why::kOwnOpen) ++stats_.released_own_open;
    released.push_back(std::move(it->event));
    it = held_.erase(it);
  }
  return released;
}

std::vector<sys::SysEvent> WriteHold::Release(uint64_t now_ns) {
  std::vector<sys::SysEvent> released;
  if (held_.empty()) return released;
  Prune(now_ns);
  for (auto it = held_.begin(); it != held_.end();) {
    uint64_t* counter = nullptr;
    if (it->since_ns + budget_ns_ <= now_ns) {
      counter = &stats_.released_budget;
    } else if (!WaitsFor(it->event.event.actor, it->seq, now_ns)) {
      counter = &stats_.released_judged;
    }
    if (counter == nullptr) {
      ++it;
      continue;
    }
    ++*counter;
    released.push_back(std::move(it->event));
    it = held_.erase(it);
  }
  return released;
}

std::optional<uint64_t> WriteHold::NextDeadline() const {
  if (held_.empty()) return std::nullopt;
  uint64_t earliest = UINT64_MAX;
  for (const Held& h : held_) earliest = std::min(earliest, h.since_ns + budget_ns_);
  return earliest;
}

}  // namespace steen::watch
