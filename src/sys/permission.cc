#include "sys/permission.h"

#include <algorithm>

#include "steen/limits.h"
#include "sys/file_opener.h"

namespace steen::sys {

PermissionTicket& PermissionTicket::operator=(PermissionTicket&& other) noexcept {
  if (this != &other) {
    if (registry_) registry_->AnswerByHolder(id_);
    registry_ = std::move(other.registry_);
    id_ = other.id_;
    fd_ = std::move(other.fd_);
    deadline_ns_ = other.deadline_ns_;
  }
  return *this;
}

PermissionTicket::~PermissionTicket() {
  // Answer before the fd closes: the kernel identifies the event by its fd number.
  if (registry_) registry_->AnswerByHolder(id_);
}

bool PermissionTicket::Allow() { return registry_ ? registry_->AnswerByHolder(id_) : false; }

bool PermissionTicket::answered() const { return !registry_ || !registry_->IsOutstanding(id_); }

std::shared_ptr<TicketRegistry> TicketRegistry::Create(
    std::unique_ptr<PermissionResponder> responder, Clock* clock,
    std::chrono::milliseconds deadline, std::size_t max_outstanding) {
  return std::shared_ptr<TicketRegistry>(
      new TicketRegistry(std::move(responder), clock, deadline, max_outstanding));
}

TicketRegistry::TicketRegistry(std::unique_ptr<PermissionResponder> responder, Clock* clock,
                               std::chrono::milliseconds deadline, std::size_t max_outstanding)
    : responder_(std::move(responder)),
      clock_(clock),
      deadline_ns_(static_cast<uint64_t>(deadline.count()) * 1000000ull),
      max_outstanding_(max_outstanding) {}

std::optional<PermissionTicket> TicketRegistry::Issue(UniqueFd event_fd) {
  std::unique_lock lock(mu_);
  if (shut_down_ || pending_.size() >= max_outstanding_) {
    lock.unlock();
    AllowNow(std::move(event_fd));
    return std::nullopt;
  }
  uint64_t id = next_id_++;
  uint64_t deadline = clock_->MonotonicNs() + deadline_ns_;
  pending_[id] = Pending{event_fd.get(), deadline};
  ++stats_.issued;
  return PermissionTicket(shared_from_this(), id, std::move(event_fd), deadline);
}

void TicketRegistry::AllowNow(UniqueFd event_fd) {
  std::lock_guard lock(mu_);
  ++stats_.allowed_at_once;
  if (!shut_down_ && !responder_->Allow(event_fd.get())) ++stats_.respond_errors;
  // event_fd closes here, after the answer.
}

bool TicketRegistry::AnswerByHolder(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = pending_.find(id);
  if (it == pending_.end()) return false;
  if (!responder_->Allow(it->second.fd)) ++stats_.respond_errors;
  pending_.erase(it);
  ++stats_.answered_by_holder;
  return true;
}

bool TicketRegistry::IsOutstanding(uint64_t id) const {
  std::lock_guard lock(mu_);
  return pending_.count(id) != 0;
}

int TicketRegistry::EnforceDeadlines() {
  std::lock_guard lock(mu_);
  uint64_t now = clock_->MonotonicNs();
  int allowed = 0;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_ns <= now) {
      if (!responder_->Allow(it->second.fd)) ++stats_.respond_errors;
      it = pending_.erase(it);
      ++stats_.timeouts;
      ++allowed;
    } else {
      ++it;
    }
  }
  return allowed;
}

uint64_t TicketRegistry::NextDeadlineNs() {
  std::lock_guard lock(mu_);
  uint64_t next = 0;
  for (const auto& [id, p] : pending_) {
    if (next == 0 || p.deadline_ns < next) next = p.deadline_ns;
  }
  return next;
}

void TicketRegistry::Shutdown() {
  std::lock_guard lock(mu_);
  for (const auto& [id, p] : pending_) {
    if (!responder_->Allow(p.fd)) ++stats_.respond_errors;
    ++stats_.allowed_at_once;
  }
  pending_.clear();
  shut_down_ = true;
}

TicketStats TicketRegistry::Stats() const {
  std::lock_guard lock(mu_);
  TicketStats s = stats_;
  s.outstanding = pending_.size();
  return s;
}

std::size_t TicketRegistry::Outstanding() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

DeadlineEnforcer::DeadlineEnforcer(std::shared_ptr<TicketRegistry> registry)
    : registry_(std::move(registry)) {
  thread_ = std::thread([this] { Run(); });
}

DeadlineEnforcer::~DeadlineEnforcer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void DeadlineEnforcer::Run() {
  SetThreadRole(ThreadRole::kDeadlineEnforcer);
  const auto tick = std::chrono::milliseconds(limits::kDeadlineEnforcerTickMs);
  std::unique_lock lock(mu_);
  while (!stop_) {
    // The registry's deadlines use the registry's clock; the real clock is monotonic like it, so
    // waiting `tick` at most keeps the enforcement error below one tick.
    cv_.wait_for(lock, tick);
    if (stop_) break;
    lock.unlock();
    registry_->EnforceDeadlines();
    lock.lock();
  }
}

}  // namespace steen::sys
