// Permission events: every one is answered FAN_ALLOW exactly once, by whoever comes first:
//   - the holder of the PermissionTicket (Allow() or its destructor), after doing its work through
//     the event fd (e.g. a protective copy of the content before a write, issue 5);
//   - the DeadlineEnforcer, when the deadline passed (counted as a timeout);
//   - TicketRegistry::Shutdown(), which allows everything still open before the group closes.
// The answer is written while the event fd is still open (the ticket owns it), so the kernel can
// never confuse it with a later event that reuses the fd number.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "sys/clock.h"
#include "sys/unique_fd.h"

namespace steen::sys {

// Writes the answer for one event fd to the group (fanotify: struct fanotify_response).
class PermissionResponder {
 public:
  virtual ~PermissionResponder() = default;
  virtual bool Allow(int event_fd) = 0;
};

struct TicketStats {
  uint64_t issued = 0;
  uint64_t answered_by_holder = 0;
  uint64_t timeouts = 0;         // allowed by the deadline enforcer
  uint64_t allowed_at_once = 0;  // own pid, read-only opens, registry full, shutdown
  uint64_t respond_errors = 0;
  uint64_t outstanding = 0;
  // Every permission event seen = allowed_at_once + answered_by_holder + timeouts + outstanding
  //                               + allowed at shutdown (counted in allowed_at_once).
  uint64_t answered() const { return answered_by_holder + timeouts + allowed_at_once; }
};

class TicketRegistry;

class PermissionTicket {
 public:
  PermissionTicket(PermissionTicket&&) noexcept = default;
  PermissionTicket& operator=(PermissionTicket&& other) noexcept;
  PermissionTicket(const PermissionTicket&) = delete;
  PermissionTicket& operator=(const PermissionTicket&) = delete;
  ~PermissionTicket();  // allows (if nobody did yet), then closes the event fd

  // The kernel-opened fd of the file being opened: read content only through it (it generates no
  // events). Stays valid until the ticket is destroyed, even after the answer.
  int fd() const { return fd_.get(); }
  // Answers FAN_ALLOW now (no-op when the enforcer already did). Returns true if this call
  // answered.
  bool Allow();
  bool answered() const;
  uint64_t deadline_ns() const { return deadline_ns_; }

 private:
  friend class TicketRegistry;
  PermissionTicket(std::shared_ptr<TicketRegistry> registry, uint64_t id, UniqueFd fd,
                   uint64_t deadline_ns)
      : registry_(std::move(registry)), id_(id), fd_(std::move(fd)), deadline_ns_(deadline_ns) {}
  std::shared_ptr<TicketRegistry> registry_;
  uint64_t id_ = 0;
  UniqueFd fd_;
  uint64_t deadline_ns_ = 0;
};

class TicketRegistry : public std::enable_shared_from_this<TicketRegistry> {
 public:
  static std::shared_ptr<TicketRegistry> Create(std::unique_ptr<PermissionResponder> responder,
                                                Clock* clock, std::chrono::milliseconds deadline,
                                                std::size_t max_outstanding);
  // Takes the event fd. Returns a ticket, or nullptr-equivalent (nullopt) after allowing at once
  // when too many tickets are outstanding or the registry is shut down.
  std::optional<PermissionTicket> Issue(UniqueFd event_fd);
  // Answers at once and closes the fd (own pid, read-only opens, queue full).
  void AllowNow(UniqueFd event_fd);
  // Allows every ticket whose deadline passed; returns how many. Never blocks on anything but the
  // registry's own mutex.
  int EnforceDeadlines();
  // Monotonic time of the nearest deadline (0 when none).
  uint64_t NextDeadlineNs();
  // Allows everything outstanding and answers nothing afterwards (the group fd is about to close).
  void Shutdown();
  TicketStats Stats() const;
  std::size_t Outstanding() const;

 private:
  friend class PermissionTicket;
  TicketRegistry(std::unique_ptr<PermissionResponder> responder, Clock* clock,
                 std::chrono::milliseconds deadline, std::size_t max_outstanding);
  bool AnswerByHolder(uint64_t id);
  bool IsOutstanding(uint64_t id) const;

  std::unique_ptr<PermissionResponder> responder_;
  Clock* clock_;
  uint64_t deadline_ns_;
  std::size_t max_outstanding_;
  mutable std::mutex mu_;
  struct Pending {
    int fd;
    uint64_t deadline_ns;
  };
  std::map<uint64_t, Pending> pending_;  // by id (ids increase: oldest first)
  uint64_t next_id_ = 1;
  bool shut_down_ = false;
  TicketStats stats_;
};

// A thread that calls EnforceDeadlines() every tick (limits::kDeadlineEnforcerTickMs, at most the
// shortest deadline allowed): every ticket of a registry has the same timeout, so a new ticket's
// deadline is never earlier than the ones before it, and an answer comes at most one tick late.
// Not woken per ticket: a wake-up for every open for writing cost the permission reader a futex
// call and the enforcer a context switch and a scan of the outstanding tickets (~2 per file an
// editor saves; docs/BENCHMARKS.md).
class DeadlineEnforcer {
 public:
  explicit DeadlineEnforcer(std::shared_ptr<TicketRegistry> registry);
  ~DeadlineEnforcer();  // stops and joins

 private:
  void Run();
  std::shared_ptr<TicketRegistry> registry_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace steen::sys
