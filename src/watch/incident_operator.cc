#include "watch/incident_operator.h"

#include <time.h>

#include <algorithm>

#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace steen::watch {
namespace {

std::string ProcessName(const Actor& actor) { return actor.exe.empty() ? actor.comm : actor.exe; }

enum class Decision { kResume, kKill };

StatusOr<DecisionOutcome> Decide(IncidentStore& store, const std::string& id,
                                 sys::ProcessControl& control, uid_t uid, Decision decision) {
  auto incident = store.Get(id);
  if (!incident.ok()) return incident.status();
  const std::string who = OperatorActor(uid);
  const bool resume = decision == Decision::kResume;
  // Record the decision before signalling: from now on the daemon leaves these processes alone.
  Status moved = store.Transition(id, resume ? IncidentState::kResumed : IncidentState::kKilled,
                                  who, resume ? "steen resume" : "steen kill");
  if (!moved.ok()) return moved;
  DecisionOutcome outcome;
  outcome.id = id;
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
    Status recorded = store.SetProcessState(id, actor.pid, actor.start_time, line.state,
                                            line.message, who);
    if (!recorded.ok() && line.message.empty()) line.message = recorded.message();
    outcome.processes.push_back(std::move(line));
  }
  return outcome;
}

std::string Rfc3339Utc(int64_t ns) {
  time_t seconds = static_cast<time_t>(ns / 1000000000);
  tm parts{};
  gmtime_r(&seconds, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &parts);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>((ns % 1000000000) / 1000000));
}

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
    j["smb"] = {{"client_address", a.smb_client_address},
                {"user", a.smb_user},
                {"machine", a.smb_machine}};
  }
  return j;
}

}  // namespace

StatusOr<DecisionOutcome> ResumeIncident(IncidentStore& store, const std::string& id,
                                         sys::ProcessControl& control, uid_t operator_uid) {
  return Decide(store, id, control, operator_uid, Decision::kResume);
}

StatusOr<DecisionOutcome> KillIncident(IncidentStore& store, const std::string& id,
                                       sys::ProcessControl& control, uid_t operator_uid) {
  return Decide(store, id, control, operator_uid, Decision::kKill);
}

std::string IncidentToJson(const Incident& incident, bool full) {
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

std::string FormatIncidentTable(const std::vector<Incident>& incidents) {
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
