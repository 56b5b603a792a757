// Holding a suspect's writes: an encryptor that runs several threads (most do) opens its next
// files for writing before the daemon has judged the ones it just wrote, so its alert comes
// files late, more so on a slow or busy machine. Once a process (its tree, its SMB client) has
// destroyed content, its next open for writing waits until the writes it already has in flight
// are judged. The wait is short for an encryptor (its threads close their files quickly) and is
// capped by a budget; scopes without destruction evidence never wait. Design: docs/design/watch.md.
//
// Thread use: Suspected() is called by the permission reader (before it allows an empty file's
// write at once); everything else runs on the daemon's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "steen/detect.h"
#include "steen/event.h"
#include "sys/event_source.h"

namespace steen::watch {

struct WriteHoldStats {
  uint64_t held = 0;               // opens for writing made to wait
  uint64_t released_judged = 0;    // ... released once the writes they waited for were judged
  uint64_t released_budget = 0;    // ... released when the budget ran out
  uint64_t released_alert = 0;     // ... released after an alert (its processes are stopped)
  uint64_t released_own_open = 0;  // ... released before the daemon opened a file in a tree
  uint64_t in_flight_dropped = 0;  // limits::kMaxWritesInFlight reached: the oldest forgotten
};

class WriteHold {
 public:
  // `budget`: the longest one open waits, and the age beyond which a write in flight no longer
  // makes anyone wait (a file kept open for long, a log, must not hold its writer forever).
  explicit WriteHold(std::chrono::milliseconds budget);

  // Thread-safe. Whether `actor` is covered by a scope with destruction evidence.
  bool Suspected(const Actor& actor) const;

  // The scopes with destruction evidence now (Detector::Suspects()).
  void SetSuspects(std::vector<ScopeMatcher> suspects);

  // A write was let through: the file is open for writing by `actor` from now on.
  void Opened(uint64_t device, uint64_t inode, const Actor& actor, uint64_t now_ns);
  // The file's close-write was judged (or it was deleted): the write is no longer in flight.
  void Closed(uint64_t device, uint64_t inode, pid_t pid);
  // The process was stopped: its writes in flight will not end, and nobody waits for them.
  void Stopped(pid_t pid, uint64_t start_time);

  // Whether an open for writing by `actor` must wait now.
  bool MustWait(const Actor& actor, uint64_t now_ns);

  // Keeps `event` (a permission event with its ticket unanswered) until Release gives it back.
  void Hold(sys::SysEvent event, uint64_t now_ns);
  // The held events that may go now: those whose writes in flight are judged or whose budget
  // ran out. The caller allows their tickets and reports them Opened.
  std::vector<sys::SysEvent> Release(uint64_t now_ns);
  // Every held event (or those `which` picks), and why.
  enum class Why {
    kAlert,    // an alert stopped their processes: they stop on their return from open()
    kOwnOpen,  // the daemon is about to open a file inside a tree (it never does holding one)
    kStop,     // the daemon stops
  };
  std::vector<sys::SysEvent> ReleaseAll(Why why,
                                        const std::function<bool(const Actor&)>& which = {});
  // When the oldest held event's budget runs out (the daemon's poll must not sleep past it).
  std::optional<uint64_t> NextDeadline() const;
  std::size_t held() const { return held_.size(); }

  const WriteHoldStats& stats() const { return stats_; }

 private:
  struct InFlight {
    uint64_t seq;
    uint64_t device;
    uint64_t inode;
    uint64_t opened_ns;
    Actor actor;
  };
  struct Held {
    uint64_t seq;  // waits for the writes in flight opened before it
    uint64_t since_ns;
    sys::SysEvent event;
  };
  // Whether a write in flight, opened before `before_seq` and younger than the budget, belongs
  // to a suspect scope that covers `actor`.
  bool WaitsFor(const Actor& actor, uint64_t before_seq, uint64_t now_ns) const;
  void Prune(uint64_t now_ns);

  const uint64_t budget_ns_;
  mutable std::mutex mu_;                 // guards suspects_ (the reader thread reads them)
  std::atomic<bool> any_suspect_{false};  // lets the reader skip the lock
  std::vector<ScopeMatcher> suspects_;
  std::deque<InFlight> in_flight_;  // oldest first
  std::deque<Held> held_;           // oldest first
  uint64_t seq_ = 0;
  WriteHoldStats stats_;
};

}  // namespace steen::watch
