#include "watch/responder.h"

#include <fmt/format.h>

#include "steen/limits.h"

namespace steen::watch {
namespace {

std::string Describe(const Actor& actor) {
  std::string who = actor.exe.empty() ? actor.comm : actor.exe;
  if (who.empty()) return std::to_string(actor.pid);
  return fmt::format("{} ({})", actor.pid, who);
}

std::string JoinDescriptions(const std::vector<ProcessOutcome>& processes, ProcessState state) {
  std::string out;
  for (const ProcessOutcome& p : processes) {
    if (p.state != state) continue;
    if (!out.empty()) out += ", ";
    out += Describe(p.actor);
  }
  return out;
}

}  // namespace

Responder::Responder(ResponderOptions options, sys::ProcessControl* control,
                     std::function<Actor(pid_t)> attribute)
    : options_(std::move(options)), control_(control), attribute_(std::move(attribute)) {}

ResponseOutcome Responder::Respond(const Alert& alert, const ResponseTargets& targets,
                                   uint64_t now_ns) {
  ResponseOutcome outcome;
  std::vector<Actor> candidates;
  // The spawner first: stopping it keeps new workers from starting while the others are stopped.
  if (targets.spawner_pid > 0 && attribute_) {
    Actor spawner = attribute_(targets.spawner_pid);
    if (spawner.pid == 0) spawner.pid = targets.spawner_pid;
    candidates.push_back(std::move(spawner));
  }
  for (const Actor& actor : targets.processes) candidates.push_back(actor);
  if (candidates.empty() && targets.refused.empty() && alert.actor.pid > 0) {
    // A scope without known contributors (should not happen): fall back to the alert's actor.
    candidates.push_back(alert.actor);
  }
  for (const auto& [actor, reason] : targets.refused) {
    outcome.processes.push_back({actor, ProcessState::kRefused, reason});
    ++stats_.refused;
  }

  const bool kill_now = options_.action == Action::kKill;
  std::set<pid_t> done;
  int would = 0, signalled = 0, failed = 0;
  for (const Actor& actor : candidates) {
    if (!done.insert(actor.pid).second) continue;
    if (IsSpared(actor.pid, actor.start_time)) {
      outcome.processes.push_back({actor, ProcessState::kRefused, "resumed by the operator"});
      ++stats_.refused;
      continue;
    }
    SuspendDecision decision = MaySuspend(actor, options_.policy);
    if (!decision) {
      outcome.processes.push_back({actor, ProcessState::kRefused, decision.reason});
      ++stats_.refused;
      continue;
    }
    if (options_.action == Action::kAlert) {
      outcome.processes.push_back({actor, ProcessState::kObserved, "response.action is alert"});
      continue;
    }
    if (options_.dry_run) {
      outcome.processes.push_back(
          {actor, ProcessState::kObserved,
           fmt::format("dry run: would send {}", kill_now ? "SIGKILL" : "SIGSTOP")});
      outcome.pids.push_back(actor.pid);
      ++stats_.dry_run;
      ++would;
      continue;
    }
    Status status = kill_now ? control_->Kill(actor.pid, actor.start_time)
                             : control_->Suspend(actor.pid, actor.start_time);
    if (status.ok()) {
      outcome.processes.push_back(
          {actor, kill_now ? ProcessState::kKilled : ProcessState::kSuspended, ""});
      outcome.pids.push_back(actor.pid);
      ++(kill_now ? stats_.killed : stats_.suspended);
      ++signalled;
    } else {
      const bool gone = status.code() == Status::Code::kNotFound;
      outcome.processes.push_back(
          {actor, gone ? ProcessState::kGone : ProcessState::kObserved, status.message()});
      ++stats_.failed;
      ++failed;
    }
  }

  const char* signal = kill_now ? "SIGKILL" : "SIGSTOP";
  std::string refused = JoinDescriptions(outcome.processes, ProcessState::kRefused);
  if (would > 0) {
    outcome.action = ResponseAction::kDryRun;
    outcome.detail = fmt::format("dry run: would send {} to {}", signal,
                                 JoinDescriptions(outcome.processes, ProcessState::kObserved));
  } else if (signalled > 0) {
    outcome.action = kill_now ? ResponseAction::kKilled : ResponseAction::kSuspended;
    outcome.detail =
        fmt::format("{} sent to {}", signal,
                    JoinDescriptions(outcome.processes,
                                     kill_now ? ProcessState::kKilled : ProcessState::kSuspended));
  } else if (failed > 0) {
    outcome.action = ResponseAction::kFailed;
    for (const ProcessOutcome& p : outcome.processes) {
      if (p.state == ProcessState::kGone || p.state == ProcessState::kObserved) {
        outcome.detail += (outcome.detail.empty() ? "" : "; ") +
                          fmt::format("{} {}: {}", signal, Describe(p.actor), p.reason);
      }
    }
  } else if (options_.action == Action::kAlert) {
    outcome.action = ResponseAction::kNone;
    outcome.detail = "response.action is alert: nothing signalled";
  } else {
    outcome.action = ResponseAction::kNone;
    outcome.detail = "no process to act on";
  }
  if (!refused.empty()) outcome.detail += fmt::format("; not signalled: {}", refused);
  (void)now_ns;
  return outcome;
}

void Responder::Track(const ResponseOutcome& outcome, const std::string& incident_id,
                      uint64_t now_ns) {
  if (options_.kill_after.count() <= 0 || options_.action != Action::kSuspend ||
      options_.dry_run) {
    return;
  }
  const uint64_t due =
      now_ns + static_cast<uint64_t>(options_.kill_after.count()) * 1'000'000'000ull;
  for (const ProcessOutcome& p : outcome.processes) {
    if (p.state != ProcessState::kSuspended) continue;
    auto key = std::make_pair(p.actor.pid, p.actor.start_time);
    if (pending_kills_.count(key)) continue;  // the first grace holds
    if (pending_kills_.size() >= limits::kMaxPendingKills) {
      ++stats_.kills_dropped;
      continue;
    }
    pending_kills_.emplace(key, Pending{p.actor, incident_id, due});
  }
}

std::vector<Responder::DueKill> Responder::TakeDueKills(uint64_t now_ns) {
  std::vector<DueKill> due;
  for (auto it = pending_kills_.begin(); it != pending_kills_.end();) {
    if (it->second.due_ns <= now_ns) {
      due.push_back({it->second.actor, it->second.incident_id});
      it = pending_kills_.erase(it);
    } else {
      ++it;
    }
  }
  return due;
}

Status Responder::Kill(const Actor& actor) {
  if (IsSpared(actor.pid, actor.start_time)) {
    return Status::InvalidArgument("resumed by the operator");
  }
  Status status = control_->Kill(actor.pid, actor.start_time);
  if (status.ok()) {
    ++stats_.killed;
  } else {
    ++stats_.failed;
  }
  return status;
}

void Responder::Spare(pid_t pid, uint64_t start_time) {
  pending_kills_.erase({pid, start_time});
  if (spared_.size() >= limits::kMaxSparedProcesses) spared_.erase(spared_.begin());
  spared_.insert({pid, start_time});
}

void Responder::CancelKills(const std::string& incident_id) {
  for (auto it = pending_kills_.begin(); it != pending_kills_.end();) {
    if (it->second.incident_id == incident_id) {
      it = pending_kills_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Responder::IsSpared(pid_t pid, uint64_t start_time) const {
  return spared_.count({pid, start_time}) > 0;
}

}  // namespace steen::watch
