#include "watch/responder.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <utility>

#include "steen/limits.h"

namespace steen::watch {
namespace {

std::string Describe(const Actor& actor) {
  if (!actor.smb_client_address.empty()) {
    const std::string& user = actor.smb_user.empty() ? actor.user : actor.smb_user;
    return fmt::format("{} (smbd for {}{}{})", actor.pid, actor.smb_client_address,
                       user.empty() ? "" : " ", user);
  }
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

std::string JoinTexts(const std::vector<std::string>& texts) {
  std::string out;
  for (const std::string& text : texts) out += (out.empty() ? "" : ", ") + text;
  return out;
}

void AddUnique(std::vector<std::string>& texts, const std::string& text) {
  if (!text.empty() && std::find(texts.begin(), texts.end(), text) == texts.end()) {
    texts.push_back(text);
  }
}

// "SMB client 198.18.0.2: reconnection refused for 900 s (tcp 445,139)", or why not.
std::string DescribeClient(const ClientOutcome& client) {
  std::string text = "SMB client " + client.address;
  if (client.users.size() > 1) {
    // A shared address (NAT, terminal server): the firewall sees addresses, not users.
    text += fmt::format(" (sessions of {}: one address, contained as one client)",
                        JoinTexts(client.users));
  }
  if (!client.block) return text;
  const std::string what =
      fmt::format("for {} s (tcp {})", client.duration.count(), sys::FormatPorts(client.ports));
  switch (*client.block) {
    case BlockState::kBlocked:
      return text + ": reconnection refused " + what;
    case BlockState::kDryRun:
      return text + ": would refuse its reconnection " + what;
    case BlockState::kFailed:
      return text + ": reconnection NOT refused: " + client.error;
    case BlockState::kReleased:
      break;
  }
  return text;
}

}  // namespace

Responder::Responder(ResponderOptions options, sys::ProcessControl* control,
                     std::function<Actor(pid_t)> attribute, sys::SmbSessionTable* sessions,
                     sys::ClientBlocker* blocker, ListProcesses processes)
    : options_(std::move(options)),
      control_(control),
      attribute_(std::move(attribute)),
      sessions_(sessions),
      blocker_(blocker),
      processes_(std::move(processes)) {}

std::string Responder::SharedSmbd(const Actor& actor) {
  if (!actor.smb_client_address.empty() || !sys::IsSmbdProcess(actor.comm, actor.exe)) return "";
  const char* reason =
      "smbd serving no client (the main smbd or a helper): stopping it would stop every "
      "client's file service";
  Actor now = actor;
  if (attribute_) {
    now = attribute_(actor.pid);
    // Gone (or its pid reused): the signal says so; it is no reason to refuse.
    if (now.exe.empty() ||
        (actor.start_time != 0 && now.start_time != 0 && now.start_time != actor.start_time)) {
      return "";
    }
  }
  if (sessions_ != nullptr) return reason;  // alive, and AddSmbClient found no client for it
  // Without a session table: the main smbd is the one whose parent is no smbd.
  const pid_t ppid = now.ppid > 0 ? now.ppid : actor.ppid;
  if (attribute_ && ppid > 1) {
    Actor parent = attribute_(ppid);
    if (sys::IsSmbdProcess(parent.comm, parent.exe)) return "";
  }
  return reason;
}

void Responder::AddSmbClient(Actor& actor) {
  if (sessions_ == nullptr || !actor.smb_client_address.empty() || actor.pid <= 0 ||
      !sys::IsSmbdProcess(actor.comm, actor.exe)) {
    return;
  }
  std::optional<sys::SmbSession> session = sessions_->ForPid(actor.pid);
  if (!session || (actor.start_time != 0 && session->start_time != actor.start_time)) return;
  sys::FillSmbFields(*session, &actor);
}

ResponseOutcome Responder::Respond(const Alert& alert, const ResponseTargets& targets,
                                   uint64_t now_ns) {
  ResponseOutcome outcome;
  std::vector<Actor> candidates;
  // The spawner first: stopping it keeps new workers from starting while the others are stopped.
  std::optional<std::pair<Actor, std::string>> refused_spawner;
  if (targets.spawner_pid > 0 && attribute_) {
    Actor spawner = attribute_(targets.spawner_pid);
    if (spawner.pid == 0) spawner.pid = targets.spawner_pid;
    // It spawned them, so it started first; a younger process has a reused pid.
    const bool younger =
        std::any_of(targets.processes.begin(), targets.processes.end(), [&](const Actor& worker) {
          return spawner.start_time != 0 && worker.start_time != 0 &&
                 spawner.start_time > worker.start_time;
        });
    if (younger) {
      refused_spawner.emplace(std::move(spawner),
                              "started after the processes it would have "
                              "spawned (its pid was reused)");
    } else {
      candidates.push_back(std::move(spawner));
    }
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
  if (refused_spawner) {
    outcome.processes.push_back(
        {refused_spawner->first, ProcessState::kRefused, refused_spawner->second});
    ++stats_.refused;
  }

  const bool kill_now = options_.action == Action::kKill;
  const bool acting = options_.action != Action::kAlert && !options_.dry_run;
  std::set<pid_t> done;
  int would = 0, signalled = 0, failed = 0;
  // Decides about one process and records what happened.
  enum class Acted { kRefused, kDone, kFailed };  // kDone: signalled, or would be
  auto act = [&](const Actor& actor) -> Acted {
    if (!done.insert(actor.pid).second) return Acted::kRefused;
    if (IsSpared(actor.pid, actor.start_time)) {
      outcome.processes.push_back({actor, ProcessState::kRefused, "resumed by the operator"});
      ++stats_.refused;
      return Acted::kRefused;
    }
    SuspendDecision decision = MaySuspend(actor, options_.policy);
    if (decision) {
      if (std::string shared = SharedSmbd(actor); !shared.empty()) decision = {false, shared};
    }
    if (!decision) {
      outcome.processes.push_back({actor, ProcessState::kRefused, decision.reason});
      ++stats_.refused;
      return Acted::kRefused;
    }
    if (options_.action == Action::kAlert) {
      outcome.processes.push_back({actor, ProcessState::kObserved, "response.action is alert"});
      return Acted::kDone;
    }
    if (options_.dry_run) {
      outcome.processes.push_back(
          {actor, ProcessState::kObserved,
           fmt::format("dry run: would send {}", kill_now ? "SIGKILL" : "SIGSTOP")});
      outcome.pids.push_back(actor.pid);
      ++stats_.dry_run;
      ++would;
      return Acted::kDone;
    }
    Status status = kill_now ? control_->Kill(actor.pid, actor.start_time)
                             : control_->Suspend(actor.pid, actor.start_time);
    if (status.ok()) {
      outcome.processes.push_back(
          {actor, kill_now ? ProcessState::kKilled : ProcessState::kSuspended, ""});
      outcome.pids.push_back(actor.pid);
      ++(kill_now ? stats_.killed : stats_.suspended);
      ++signalled;
      return Acted::kDone;
    }
    const bool gone = status.code() == Status::Code::kNotFound;
    outcome.processes.push_back(
        {actor, gone ? ProcessState::kGone : ProcessState::kObserved, status.message()});
    ++stats_.failed;
    ++failed;
    return Acted::kFailed;
  };

  // The writers first (what the detector saw), then their clients. A writer whose smbd already
  // exited still names a client to contain (it may reconnect and go on).
  int clients_dropped = 0;
  std::optional<Actor> stopped_root;   // the process tree's root, once acted on
  std::vector<Actor> stopped_writers;  // contributors acted on
  for (Actor actor : candidates) {
    AddSmbClient(actor);
    const Acted acted = act(actor);
    if (acted == Acted::kDone && targets.tree_root > 0 && actor.pid == targets.tree_root) {
      stopped_root = actor;
    }
    if (acted == Acted::kDone && actor.pid != targets.spawner_pid) stopped_writers.push_back(actor);
    if (acted == Acted::kRefused || actor.smb_client_address.empty() ||
        (!options_.smb.contain_client && !options_.smb.block_reconnect)) {
      continue;
    }
    auto it =
        std::find_if(outcome.clients.begin(), outcome.clients.end(),
                     [&](const ClientOutcome& c) { return c.address == actor.smb_client_address; });
    if (it == outcome.clients.end()) {
      if (outcome.clients.size() >= limits::kMaxContainedClientsPerAlert) {
        ++stats_.clients_dropped;
        ++clients_dropped;
        continue;
      }
      ClientOutcome fresh;
      fresh.address = actor.smb_client_address;
      outcome.clients.push_back(std::move(fresh));
      it = std::prev(outcome.clients.end());
    }
    if (acted == Acted::kDone) it->sessions.push_back(actor.pid);
    AddUnique(it->users, actor.smb_user.empty() ? actor.user : actor.smb_user);
  }

  // Workers of the same attack that no judged file names yet (docs/design/watch.md "Response").
  std::size_t workers_tried = 0;
  int workers_dropped = 0;
  auto act_on_worker = [&](const Actor& worker, const std::string& why) {
    if (done.count(worker.pid) || worker.exe.empty()) return;  // acted on, gone, kernel thread
    if (workers_tried >= limits::kMaxTreeMembersStopped) {
      ++workers_dropped;
      ++stats_.tree_members_dropped;
      return;
    }
    ++workers_tried;
    if (act(worker) != Acted::kDone) return;
    ++stats_.tree_members;
    std::string& reason = outcome.processes.back().reason;
    reason += (reason.empty() ? "" : "; ") + why;
  };
  if (processes_ && attribute_ && (stopped_root || !stopped_writers.empty())) {
    auto view = [&](pid_t pid) {
      Actor actor = attribute_(pid);
      actor.pid = pid;
      return actor;
    };
    // Acts on the tree's members and every writer's clones found in one read of /proc (the root
    // is often their parent too).
    auto stop_family = [&](const std::vector<sys::ParentLink>& links) {
      // The rest of an alerted process tree, once its root is stopped (no new worker starts
      // meanwhile); never when the root was refused (a protected root's children are not one
      // attack).
      if (stopped_root) {
        const std::string why =
            fmt::format("in process tree {} (no judged file of its own yet)", stopped_root->pid);
        for (const sys::ParentLink& link :
             sys::DescendantsOf(stopped_root->pid, stopped_root->start_time, links,
                                limits::kMaxTreeMembersListed)) {
          if (!done.count(link.pid)) act_on_worker(view(link.pid), why);
        }
      }
      // The clones of a stopped writer: its parent's other children that run the same program as
      // the same user (work split over processes: their files are not judged yet when the first
      // worker's are), and the parent itself when it runs that program too (it forks them). Not
      // for smbd (its siblings serve other clients) nor under a parent the policy protects.
      std::set<pid_t> parents;
      for (const Actor& writer : stopped_writers) {
        if (writer.ppid <= 1 || writer.exe.empty() || !writer.smb_client_address.empty() ||
            sys::IsSmbdProcess(writer.comm, writer.exe) || !parents.insert(writer.ppid).second) {
          continue;
        }
        const Actor parent = view(writer.ppid);
        // Gone, a reused pid (started after its child), resumed by the operator, or protected.
        if (parent.exe.empty() || parent.start_time > writer.start_time ||
            IsSpared(parent.pid, parent.start_time) || !MaySuspend(parent, options_.policy)) {
          continue;
        }
        if (SameProgram(parent, writer)) {
          act_on_worker(parent, fmt::format("started {} and runs the same program", writer.pid));
        }
        const std::string why =
            fmt::format("runs the same program as {}, started by {}", writer.pid, parent.pid);
        for (const sys::ParentLink& link : links) {
          // A child starts after its parent: an older process names a previous parent's pid.
          if (link.ppid != parent.pid || link.start_time < parent.start_time ||
              done.count(link.pid)) {
            continue;
          }
          const Actor sibling = view(link.pid);
          if (IsCloneOf(sibling, writer)) act_on_worker(sibling, why);
        }
      }
    };
    // First the family alone (the kernel's child lists of the root and of the writers' parents:
    // a few reads), then every process, which misses nobody the lists missed. Reading all of
    // /proc first kept the workers running ~6 ms longer on a loaded 2-core machine, long enough
    // for them to write several more files (docs/BENCHMARKS.md).
    std::vector<pid_t> family_of;
    if (stopped_root) family_of.push_back(stopped_root->pid);
    for (const Actor& writer : stopped_writers) {
      if (writer.ppid > 1) family_of.push_back(writer.ppid);
    }
    if (!family_of.empty()) stop_family(processes_(family_of));  // empty asks for every process
    stop_family(processes_({}));
  }

  for (ClientOutcome& client : outcome.clients) {
    // The block before the other sessions are listed: once it is in, the client can open no new
    // session, so the list below is complete (and a session opened meanwhile is cut by it).
    if (options_.smb.block_reconnect) {
      client.ports = options_.smb.ports;
      client.duration = std::chrono::seconds(options_.smb.block_seconds);
      if (!acting) {
        client.block = BlockState::kDryRun;
      } else {
        Status blocked = blocker_
                             ? blocker_->Block(client.address, client.ports, client.duration)
                             : Status::Unsupported("no firewall access in this steen (no blocker)");
        client.block = blocked.ok() ? BlockState::kBlocked : BlockState::kFailed;
        if (blocked.ok()) {
          ++stats_.clients_blocked;
        } else {
          client.error = blocked.message();
          ++stats_.block_failures;
        }
      }
    }
    if (sessions_ != nullptr && options_.smb.contain_client) {
      for (const sys::SmbSession& session : sessions_->ServingClient(client.address)) {
        // The table answers for this address only (a multichannel session whose main
        // connection comes from another address of the same client included).
        if (session.pid <= 0) continue;
        AddUnique(client.users, session.user);
        if (done.count(session.pid)) continue;
        // Policy and pid-reuse checks need the /proc view; without it, or once the session has
        // ended (no executable, another start time), there is nothing to stop.
        Actor actor = attribute_ ? attribute_(session.pid) : Actor{};
        if (actor.exe.empty() ||
            (actor.start_time != 0 && actor.start_time != session.start_time)) {
          continue;
        }
        actor.pid = session.pid;
        actor.start_time = session.start_time;
        sys::FillSmbFields(session, &actor);
        if (act(actor) == Acted::kDone) {
          client.sessions.push_back(actor.pid);
          ++stats_.client_sessions;
        }
      }
    }
    if (acting) ++stats_.clients_contained;
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
  for (const ClientOutcome& client : outcome.clients) {
    outcome.detail += "; " + DescribeClient(client);
  }
  if (clients_dropped > 0) {
    outcome.detail += fmt::format("; {} more SMB clients contained only by pid (at most {} a time)",
                                  clients_dropped, limits::kMaxContainedClientsPerAlert);
  }
  if (workers_dropped > 0) {
    outcome.detail += fmt::format("; {} more workers not signalled (at most {} an alert)",
                                  workers_dropped, limits::kMaxTreeMembersStopped);
  }
  if (!refused.empty()) outcome.detail += fmt::format("; not signalled: {}", refused);
  (void)now_ns;
  return outcome;
}

void Responder::Track(const ResponseOutcome& outcome, const std::string& incident_id,
                      uint64_t now_ns) {
  if (options_.kill_after.count() <= 0 || options_.action != Action::kSuspend || options_.dry_run) {
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
