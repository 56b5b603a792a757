// One Alert type flows to every output (Falco style): sinks map it to their format, never copy it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "steen/event.h"

namespace steen {

// One piece of evidence behind an alert, e.g. {"damaged_files", 4, "4 files went from valid docx,
// pdf to random bytes"}.
struct Indicator {
  std::string name;    // stable identifier: damaged_files, renamed_extension, ransom_notes, ...
  int64_t count = 0;
  std::string detail;  // sentence for a person
};

enum class ActorScope { kProcess, kProcessTree, kUser, kCgroup, kSmbClient };
std::string_view ToString(ActorScope scope);

enum class ResponseAction { kNone, kDryRun, kSuspended, kKilled, kFailed };
std::string_view ToString(ResponseAction action);

struct Alert {
  std::string id;             // unique, e.g. "steen-<wall ns>-<n>"
  int64_t wall_time_ns = 0;   // CLOCK_REALTIME
  std::string rule_name;      // e.g. "ransomware-encryption", "canary-touched", "queue-overflow"
  std::string severity;       // "critical" | "high" | "medium" | "low" | "info"
  double score = 0.0;         // the actor's score when the alert fired
  ActorScope scope = ActorScope::kProcess;
  std::string scope_key;      // which process tree / user / cgroup / client
  Actor actor;                // the process most responsible (the one acted upon)
  std::vector<pid_t> pids;    // every process the response acted on
  std::vector<Indicator> indicators;
  std::vector<std::string> files;  // affected paths, newest last (capped by limits)
  int64_t file_count = 0;          // all affected files, including those not listed
  ResponseAction action = ResponseAction::kNone;
  std::string action_detail;       // e.g. "SIGSTOP sent to 4242 (smbd for 198.18.0.2)"
  std::string incident_id;         // empty when no incident was recorded
  std::string host;                // host name of the file server
  std::string message;             // one line summary for a person
};

}  // namespace steen
