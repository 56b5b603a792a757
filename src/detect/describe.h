// Turns a scope's evidence into an Alert a person can act on: indicators with counts and
// sentences, the files, and a one-line message.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "detect/scope.h"
#include "steen/alert.h"
#include "steen/detect.h"

namespace steen::detect {

struct AlertContext {
  std::string id;
  int64_t wall_time_ns = 0;
  uint64_t now_ns = 0;
  double score = 0;
  bool escalation = false;
  Actor fallback_actor;  // the event's actor, when the scope has no contributor yet
  std::vector<pid_t> pids;
};

Alert DescribeAlert(const ScopeState& state, const DetectConfig& config,
                    const AlertContext& context);

// The contributor that did the most damage (most recent on ties), or nullptr.
const Contributor* MainContributor(const ScopeState& state);

}  // namespace steen::detect
