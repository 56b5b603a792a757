#include "watch/incident_operator.h"

#include <time.h>

#include <algorithm>
#include <map>
#include <memory>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "outputs/text.h"

namespace steen::watch {
namespace {

std::string ProcessName(const Actor& actor) { return actor.exe.empty() ? actor.comm : actor.exe; }

enum class Decision { kResume, kKill };

// A block that may be in force: installed, or a failed renewal of one installed before.
bool MayHold(const IncidentBlock& block) {
  return block.state == BlockState::kBlocked || block.state == BlockState::kFailed;
}

int64_t WallNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

StatusOr<DecisionOutcome> Decide(IncidentStore& store, const std::string& id,
                                 sys::ProcessControl& control, uid_t uid, Decision decision,
                                 const BlockerFor& blockers) {
  auto incident = store.Get(id);
  if (!incident.ok()) return incident.status();
  const std::string who = OperatorActor(uid);
  const bool resume = decision == Decision::kResume;
  DecisionOutcome outcome;
  outcome.id = id;
  const bool holds = std::any_of(incident->blocks.begin(), incident->blocks.end(), MayHold);
  const BlockerFor& lift = blockers ? blockers : NftBlockers();
  if (resume && holds &&
      (incident->state == IncidentState::kKilled || incident->state == IncidentState::kClosed)) {
    // Its sessions are gone; what is left to let go is the client.
    outcome.state_changed = false;
    outcome.releases = ReleaseBlocks(store, *incident, lift, who);
    for (const auto& release : outcome.releases) {
      if (release.state != BlockState::kReleased) ++outcome.failures;
    }
    return outcome;
  }
  // Record the decision before signalling: from now on the daemon leaves these processes alone.
  Status moved = store.Transition(id, resume ? IncidentState::kResumed : IncidentState::kKilled,
                                  who, resume ? "steen resume" : "steen kill");
  if (!moved.ok()) return moved;
  if (resume && holds) {
    // Before SIGCONT: the sessions that go on must be reachable by their client.
    outcome.releases = ReleaseBlocks(store, *incident, lift, who);
    for (const auto& release : outcome.releases) {
      if (release.state != BlockState::kReleased) ++outcome.failures;
    }
  }
  for (const IncidentProcess& process : incident->processes) {
    const Actor& actor = process.actor;
    bool act = resume ? process.state == ProcessState::kSuspended
                      : (process.state == ProcessState::kSuspended ||
                         process.state == ProcessState::kObserved ||
                         process.state == ProcessState::kResumed);
    if (!act) continue;
    Status signalled = resume ? control.Resume(actor.pid, actor.start_time)
                              : control.Kill(actor.pid, actor.start_time);
    DecisionOutcome::Line line{actor.pid, ProcessName(actor), process.state, ""};
    if (signalled.ok()) {
      line.state = resume ? ProcessState::kResumed : ProcessState::kKilled;
    } else if (signalled.code() == Status::Code::kNotFound) {
      line.state = ProcessState::kGone;
      line.message = signalled.message();
    } else {
      line.message = signalled.message();
      ++outcome.failures;
    }
    Status recorded =
        store.SetProcessState(id, actor.pid, actor.start_time, line.state, line.message, who);
    if (!recorded.ok() && line.message.empty()) line.message = recorded.message();
    outcome.processes.push_back(std::move(line));
  }
  return outcome;
}

// Times in operator output: RFC 3339 UTC with milliseconds.
std::string Rfc3339Utc(int64_t ns) { return outputs::text::Rfc3339Utc(ns, 3); }

std::string LocalIso(int64_t ns) {
  time_t seconds = static_cast<time_t>(ns / 1000000000);
  tm parts{};
  localtime_r(&seconds, &parts);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", &parts);
  std::string text = buf;
  if (text.size() > 2) text.insert(text.size() - 2, ":");  // +0100 -> +01:00 (ISO-8601 extended)
  return text;
}

nlohmann::json ProcessJson(const IncidentProcess& process) {
  const Actor& a = process.actor;
  nlohmann::json j = {{"pid", a.pid},
                      {"start_time", a.start_time},
                      {"exe", a.exe},
                      {"name", a.comm},
                      {"user", a.user},
                      {"uid", a.uid},
                      {"exe_sha256", a.exe_sha256},
                      {"cgroup", a.cgroup},
                      {"state", ToString(process.state)},
                      {"reason", process.reason}};
  if (process.start_wall_ns > 0) j["started"] = Rfc3339Utc(process.start_wall_ns);
  if (!a.smb_client_address.empty()) {
    j["smb"] = {
        {"client_address", a.smb_client_address}, {"user", a.smb_user}, {"machine", a.smb_machine}};
  }
  return j;
}

// "expired" for a block whose time is up (the kernel lifted it; the record says blocked).
std::string BlockStateText(const IncidentBlock& block, int64_t now_ns) {
  if (block.state == BlockState::kBlocked && block.until_ns <= now_ns) return "expired";
  return std::string(ToString(block.state));
}

nlohmann::json BlockJson(const IncidentBlock& block, int64_t now_ns) {
  const std::string state = BlockStateText(block, now_ns);
  std::string detail;
  if (state == "blocked") {
    detail = fmt::format("blocked {} (tcp {}) until {}", block.address,
                         sys::FormatPorts(block.ports), Rfc3339Utc(block.until_ns));
  } else if (state == "expired") {
    detail = fmt::format("{} was blocked (tcp {}) until {}", block.address,
                         sys::FormatPorts(block.ports), Rfc3339Utc(block.until_ns));
  } else if (state == "failed") {
    detail = fmt::format("{} not blocked: {}", block.address, block.reason);
  } else if (state == "dry-run") {
    detail = fmt::format("would block {} (tcp {}) until {}", block.address,
                         sys::FormatPorts(block.ports), Rfc3339Utc(block.until_ns));
  } else {
    detail = fmt::format("{} released", block.address);
  }
  nlohmann::json ports = nlohmann::json::array();
  for (uint16_t port : block.ports) ports.push_back(port);
  nlohmann::json j = {{"address", block.address}, {"ports", ports},         {"state", state},
                      {"table", block.nft_table}, {"reason", block.reason}, {"detail", detail}};
  j["since"] = block.since_ns > 0 ? nlohmann::json(Rfc3339Utc(block.since_ns)) : nullptr;
  j["until"] = block.until_ns > 0 ? nlohmann::json(Rfc3339Utc(block.until_ns)) : nullptr;
  return j;
}

}  // namespace

BlockerFor NftBlockers() {
  auto made = std::make_shared<std::map<std::string, std::unique_ptr<sys::ClientBlocker>>>();
  return [made](const std::string& table) -> StatusOr<sys::ClientBlocker*> {
    const std::string name = table.empty() ? sys::NftClientBlockerOptions{}.table : table;
    auto it = made->find(name);
    if (it == made->end()) {
      sys::NftClientBlockerOptions options;
      options.table = name;
      auto blocker = sys::NftClientBlocker::Create(options);
      if (!blocker.ok()) return blocker.status();
      it = made->emplace(name, std::move(*blocker)).first;
    }
    return it->second.get();
  };
}

std::vector<DecisionOutcome::Release> ReleaseBlocks(IncidentStore& store, const Incident& incident,
                                                    const BlockerFor& blockers,
                                                    std::string_view who) {
  std::vector<DecisionOutcome::Release> releases;
  // Blocks other incidents still hold (two SMB users behind one address, e.g. NAT): their
  // address stays refused; this incident only lets go of its own record.
  auto active = store.ActiveBlocks(store.NowNs());
  const auto held_by_other = [&](const std::string& address) -> std::string {
    if (!active.ok()) return "";
    for (const auto& [other_id, other] : *active) {
      if (other_id != incident.id && other.address == address) return other_id;
    }
    return "";
  };
  for (const IncidentBlock& block : incident.blocks) {
    if (!MayHold(block)) continue;
    DecisionOutcome::Release release{block.address, block.state, "", ""};
    if (std::string other = held_by_other(block.address); !other.empty()) {
      IncidentBlock recorded = block;
      release.state = recorded.state = BlockState::kReleased;
      release.kept_for = other;
      recorded.reason = "released; the address stays refused for incident " + other;
      (void)store.RecordBlock(incident.id, recorded, who);
      releases.push_back(std::move(release));
      continue;
    }
    auto blocker = blockers ? blockers(block.nft_table)
                            : StatusOr<sys::ClientBlocker*>(
                                  Status::Unsupported("no firewall access in this steen"));
    Status lifted = blocker.ok() ? (*blocker)->Unblock(block.address) : blocker.status();
    IncidentBlock recorded = block;
    if (lifted.ok()) {
      release.state = recorded.state = BlockState::kReleased;
      recorded.reason = who == kDaemonActor ? "lifted by the daemon after steen resume"
                                            : "lifted by steen resume";
    } else {
      release.message = lifted.message();
      recorded.reason = "release failed: " + lifted.message();
    }
    // A failed release keeps the block's state (it may still hold); the reason says why.
    (void)store.RecordBlock(incident.id, recorded, who);
    releases.push_back(std::move(release));
  }
  return releases;
}

StatusOr<DecisionOutcome> ResumeIncident(IncidentStore& store, const std::string& id,
                                         sys::ProcessControl& control, uid_t operator_uid,
                                         const BlockerFor& blockers) {
  return Decide(store, id, control, operator_uid, Decision::kResume, blockers);
}

StatusOr<DecisionOutcome> KillIncident(IncidentStore& store, const std::string& id,
                                       sys::ProcessControl& control, uid_t operator_uid) {
  return Decide(store, id, control, operator_uid, Decision::kKill, nullptr);
}

std::string IncidentToJson(const Incident& incident, bool full, int64_t now_ns) {
  if (now_ns == 0) now_ns = WallNowNs();
  nlohmann::json j;
  j["id"] = incident.id;
  j["time"] = Rfc3339Utc(incident.created_ns);
  j["updated"] = Rfc3339Utc(incident.updated_ns);
  j["state"] = ToString(incident.state);
  j["rule"] = incident.rule_name;
  j["severity"] = incident.severity;
  j["score"] = incident.score;
  j["scope"] = ToString(incident.scope);
  j["scope_key"] = incident.scope_key;
  j["host"] = incident.host;
  j["message"] = incident.message;
  j["process"] = incident.processes.empty() ? nlohmann::json(nullptr)
                                            : ProcessJson(incident.processes.front());
  j["processes"] = nlohmann::json::array();
  for (const auto& process : incident.processes) j["processes"].push_back(ProcessJson(process));
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& file : incident.files) listed.push_back(file.path);
  j["files"] = {{"count", incident.file_count}, {"listed", listed}};
  j["window"] = {{"start", Rfc3339Utc(incident.window_start_ns)},
                 {"end", Rfc3339Utc(incident.window_end_ns)}};
  j["blocks"] = nlohmann::json::array();
  for (const auto& block : incident.blocks) j["blocks"].push_back(BlockJson(block, now_ns));
  j["indicators"] = nlohmann::json::array();
  for (const auto& indicator : incident.indicators) {
    j["indicators"].push_back(
        {{"name", indicator.name}, {"count", indicator.count}, {"detail", indicator.detail}});
  }
  j["actions"] = nlohmann::json::array();
  for (const auto& action : incident.history) {
    j["actions"].push_back({{"seq", action.seq},
                            {"time", Rfc3339Utc(action.time_ns)},
                            {"who", action.who},
                            {"what", action.what},
                            {"detail", action.detail},
                            {"result", action.result}});
  }
  j["alert_count"] = incident.alert_count;
  if (full) {
    j["alerts"] = nlohmann::json::array();
    for (const auto& alert : incident.alerts) {
      nlohmann::json parsed = nlohmann::json::parse(alert.json, nullptr, false);
      j["alerts"].push_back(parsed.is_discarded() ? nlohmann::json(alert.json) : parsed);
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

bool SharesAnActor(const Incident& a, const Incident& b) {
  for (const IncidentProcess& p : a.processes) {
    for (const IncidentProcess& q : b.processes) {
      const Actor& x = p.actor;
      const Actor& y = q.actor;
      if (!x.smb_client_address.empty() && x.smb_client_address == y.smb_client_address) {
        return true;
      }
      if (x.pid > 0 && x.pid == y.pid && x.start_time != 0 && x.start_time == y.start_time) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

int64_t RollbackStartNs(const Incident& incident, const std::vector<Incident>& others) {
  int64_t start = 0;
  for (const Incident& earlier : others) {
    if (earlier.id == incident.id || earlier.created_ns >= incident.created_ns ||
        !SharesAnActor(incident, earlier)) {
      continue;
    }
    // Its own steps only up to this incident's creation: a decision taken later (the operator
    // killing it during the new attack) must not cut the new attack's first files off.
    int64_t last = earlier.created_ns;
    for (const IncidentAction& action : earlier.history) {
      if (action.time_ns < incident.created_ns) last = std::max(last, action.time_ns);
    }
    start = std::max(start, last);
  }
  return start;
}

std::string FormatIncidentTable(const std::vector<Incident>& incidents) {
  const int64_t now = WallNowNs();
  std::vector<std::vector<std::string>> rows = {
      {"ID", "TIME", "STATE", "SCORE", "PROCESS", "FILES", "RULE"}};
  for (const Incident& incident : incidents) {
    std::string process = "-";
    if (!incident.processes.empty()) {
      const Actor& a = incident.processes.front().actor;
      process = a.smb_client_address.empty()
                    ? fmt::format("{} (pid {})", ProcessName(a), a.pid)
                    : fmt::format("SMB client {} ({})", a.smb_client_address,
                                  a.smb_user.empty() ? a.user : a.smb_user);
    }
    for (const IncidentBlock& block : incident.blocks) {
      if (block.state == BlockState::kBlocked && block.until_ns > now) {
        process += ", blocked";
        break;
      }
    }
    rows.push_back({incident.id, LocalIso(incident.created_ns),
                    std::string(ToString(incident.state)), fmt::format("{:.1f}", incident.score),
                    process, std::to_string(incident.file_count), incident.rule_name});
  }
  std::vector<std::size_t> widths(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace steen::watch
