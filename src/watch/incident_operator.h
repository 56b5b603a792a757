// Operator decisions on incidents (`steen resume`, `steen kill`) and their presentation
// (`steen incidents`). The CLI only parses; everything here is testable with a fake
// ProcessControl.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "steen/status.h"
#include "sys/process_control.h"
#include "watch/incident_store.h"

namespace steen::watch {

struct DecisionOutcome {
  struct Line {
    pid_t pid = 0;
    std::string name;     // exe or comm
    ProcessState state;   // the process's state after the decision
    std::string message;  // error or note; empty when signalled
  };
  std::string id;
  std::vector<Line> processes;
  int failures = 0;  // processes that exist but could not be signalled
};

// Resume: the incident becomes `resumed` FIRST (so the daemon stops acting on it), then every
// suspended process gets SIGCONT (pid + start time checked). A process that exited is recorded
// `gone`, not a failure. Errors: NotFound (unknown id), InvalidArgument (state forbids resume).
StatusOr<DecisionOutcome> ResumeIncident(IncidentStore& store, const std::string& id,
                                         sys::ProcessControl& control, uid_t operator_uid);
// Kill: the incident becomes `killed`, then every recorded process not refused, gone or killed
// gets SIGKILL (suspended ones too).
StatusOr<DecisionOutcome> KillIncident(IncidentStore& store, const std::string& id,
                                       sys::ProcessControl& control, uid_t operator_uid);

// One JSON object on one line: id, time (RFC 3339 UTC), updated, state, rule, severity, score,
// scope, scope_key, host, message, process (the first recorded process, or null), processes,
// files {count, listed}, window {start, end}, indicators, actions (history), alert_count.
// `full` adds the stored alerts (ECS JSON objects).
std::string IncidentToJson(const Incident& incident, bool full);
// Aligned table: ID, TIME (local ISO-8601), STATE, SCORE, PROCESS, FILES, RULE.
std::string FormatIncidentTable(const std::vector<Incident>& incidents);

}  // namespace steen::watch
