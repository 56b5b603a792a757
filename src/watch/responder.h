// Containment: turns an alert into signals. For each target the detector proposes
// (Detector::Targets), the responder re-checks the policy (MaySuspend), skips processes the
// operator already resumed, and then suspends (SIGSTOP) or kills (SIGKILL) through ProcessControl,
// which pins the pid and checks its start time (never a reused pid). With kill_after, suspended
// processes are killed when the grace ends unless the operator decided first. Dry run and the
// alert-only action decide exactly the same way and signal nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "steen/alert.h"
#include "steen/detect.h"
#include "sys/process_control.h"
#include "watch/config.h"
#include "watch/incident_store.h"

namespace steen::watch {

struct ResponderOptions {
  Action action = Action::kSuspend;
  std::chrono::seconds kill_after{0};
  bool dry_run = false;
  ResponsePolicy policy;
};

// What happened to one process.
struct ProcessOutcome {
  Actor actor;
  ProcessState state = ProcessState::kObserved;
  std::string reason;
};

struct ResponseOutcome {
  ResponseAction action = ResponseAction::kNone;
  std::string detail;              // e.g. "SIGSTOP sent to 4242 (/usr/bin/locker)"
  std::vector<pid_t> pids;         // processes signalled (or that would be, in dry run)
  std::vector<ProcessOutcome> processes;
};

struct ResponderStats {
  uint64_t suspended = 0;
  uint64_t killed = 0;
  uint64_t refused = 0;  // policy said no (protected, allow list, spared)
  uint64_t failed = 0;   // signal failed (gone, reused pid, permission)
  uint64_t dry_run = 0;  // decisions not carried out
  uint64_t kills_dropped = 0;  // pending kills beyond limits::kMaxPendingKills
};

class Responder {
 public:
  // `attribute` gives the current /proc view of a pid the detector never saw (the spawner of a
  // process tree); it may return an Actor without exe when the process is gone.
  Responder(ResponderOptions options, sys::ProcessControl* control,
            std::function<Actor(pid_t)> attribute);

  // Acts on `targets` for `alert` at monotonic time now_ns.
  ResponseOutcome Respond(const Alert& alert, const ResponseTargets& targets, uint64_t now_ns);

  // A pending kill whose grace ended.
  struct DueKill {
    Actor actor;
    std::string incident_id;
  };
  // Remembers that the suspended processes of `outcome` belong to `incident_id` (for kill_after).
  void Track(const ResponseOutcome& outcome, const std::string& incident_id, uint64_t now_ns);
  // Kills whose grace ended (removed from the pending list); the caller kills them via Kill().
  std::vector<DueKill> TakeDueKills(uint64_t now_ns);
  Status Kill(const Actor& actor);

  // The operator resumed (or otherwise decided about) this process: never act on it again, and
  // forget its pending kill.
  void Spare(pid_t pid, uint64_t start_time);
  // The operator decided about an incident: forget its pending kills.
  void CancelKills(const std::string& incident_id);
  bool IsSpared(pid_t pid, uint64_t start_time) const;

  const ResponderStats& stats() const { return stats_; }
  const ResponderOptions& options() const { return options_; }

 private:
  ResponderOptions options_;
  sys::ProcessControl* control_;
  std::function<Actor(pid_t)> attribute_;
  std::set<std::pair<pid_t, uint64_t>> spared_;
  struct Pending {
    Actor actor;
    std::string incident_id;
    uint64_t due_ns;
  };
  std::map<std::pair<pid_t, uint64_t>, Pending> pending_kills_;
  ResponderStats stats_;
};

}  // namespace steen::watch
