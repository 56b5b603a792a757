#include "steen/alert.h"

namespace steen {

std::string_view ToString(ActorScope scope) {
  switch (scope) {
    case ActorScope::kProcess:
      return "process";
    case ActorScope::kProcessTree:
      return "process_tree";
    case ActorScope::kUser:
      return "user";
    case ActorScope::kCgroup:
      return "cgroup";
    case ActorScope::kSmbClient:
      return "smb_client";
  }
  return "process";
}

std::string_view ToString(ResponseAction action) {
  switch (action) {
    case ResponseAction::kNone:
      return "none";
    case ResponseAction::kDryRun:
      return "dry_run";
    case ResponseAction::kSuspended:
      return "suspended";
    case ResponseAction::kKilled:
      return "killed";
    case ResponseAction::kFailed:
      return "failed";
  }
  return "none";
}

}  // namespace steen
