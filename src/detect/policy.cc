// Who the detector ignores (Exclusions) and who the response may stop (MaySuspend).
#include <string>

#include "detect/names.h"
#include "steen/detect.h"

namespace steen {

std::string Exclusions::Match(const FileEvent& event) const {
  const Actor& actor = event.actor;
  for (pid_t pid : pids) {
    if (pid != 0 && actor.pid == pid) return "pid " + std::to_string(pid);
  }
  if (!actor.exe.empty() && detect::Contains(exe_paths, actor.exe))
    return "executable " + actor.exe;
  if (!actor.exe_sha256.empty() &&
      detect::Contains(exe_sha256, detect::ToLower(actor.exe_sha256))) {
    return "executable sha256 " + actor.exe_sha256;
  }
  if (!actor.user.empty() && detect::Contains(users, actor.user)) return "user " + actor.user;
  for (uid_t uid : uids) {
    if (actor.uid == uid && (actor.pid != 0 || !actor.user.empty())) {
      return "uid " + std::to_string(uid);
    }
  }
  if (event.is_canary) return {};
  for (const std::string& prefix : path_prefixes) {
    if (!detect::HasPathPrefix(event.path, prefix)) continue;
    if (event.op == FileOp::kRename && !detect::HasPathPrefix(event.new_path, prefix)) continue;
    return "path prefix " + prefix;
  }
  return {};
}

bool SameProgram(const Actor& a, const Actor& b) {
  return !a.exe.empty() && a.exe == b.exe && a.uid == b.uid &&
         (a.exe_sha256.empty() || b.exe_sha256.empty() || a.exe_sha256 == b.exe_sha256);
}

bool IsCloneOf(const Actor& other, const Actor& process) {
  return other.pid != process.pid && process.ppid > 1 && other.ppid == process.ppid &&
         other.smb_client_address.empty() && process.smb_client_address.empty() &&
         SameProgram(other, process);
}

SuspendDecision MaySuspend(const Actor& actor, const ResponsePolicy& policy) {
  auto refuse = [](std::string reason) { return SuspendDecision{false, std::move(reason)}; };
  if (actor.pid <= 0) return refuse("no process (exited before attribution)");
  if (actor.pid == 1) return refuse("pid 1 is the init system");
  if (actor.pid == 2 || actor.ppid == 2) return refuse("kernel thread");
  if (policy.self_pid != 0 && actor.pid == policy.self_pid) return refuse("steen itself");
  if (actor.exe.empty()) {
    return refuse("executable unknown (kernel thread, or the process exited)");
  }
  if (!policy.self_exe.empty() && actor.exe == policy.self_exe) return refuse("steen itself");
  if (detect::Contains(policy.protected_exes, actor.exe)) {
    return refuse("protected system process " + actor.exe);
  }
  if (detect::Contains(policy.allowed_exes, actor.exe)) return refuse("allowed executable");
  if (!actor.comm.empty() && detect::Contains(policy.allowed_comms, actor.comm)) {
    return refuse("allowed command name " + actor.comm);
  }
  if ((!actor.user.empty() && detect::Contains(policy.allowed_users, actor.user)) ||
      detect::Contains(policy.allowed_users, std::to_string(actor.uid))) {
    return refuse("allowed user " + (actor.user.empty() ? std::to_string(actor.uid) : actor.user));
  }
  return SuspendDecision{true, {}};
}

}  // namespace steen
