// Alert -> Elastic Common Schema 8.x. Field names follow the ECS reference (event.*, rule.*,
// threat.*, process.*, user.*, file.*, host.*, source.* / client.*, related.*); steen's own fields
// live under steen.* as ECS asks for custom fields.
#include <arpa/inet.h>

#include <nlohmann/json.hpp>

#include "outputs/text.h"
#include "steen/outputs.h"

namespace steen::outputs {
namespace {

using nlohmann::json;

// event.severity is numeric in ECS; these are the risk scores Elastic's own detection rules use
// for their four severities, so steen alerts sort next to theirs.
int EcsSeverity(std::string_view severity) {
  if (severity == "critical") return 99;
  if (severity == "high") return 73;
  if (severity == "medium") return 47;
  if (severity == "low") return 21;
  return 0;
}

std::string_view BaseName(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view DirName(std::string_view path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// file.extension: no dot, empty for dot files and names without one.
std::string_view Extension(std::string_view name) {
  std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return {};
  return name.substr(dot + 1);
}

bool IsIpAddress(const std::string& text) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

void PutIfNotEmpty(json& object, const char* key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

}  // namespace

std::string FormatEcsJson(const Alert& alert) {
  const bool health = text::IsHealthAlert(alert);
  json doc;
  doc["@timestamp"] = text::Rfc3339Utc(text::AlertTimeNs(alert), 3);
  doc["ecs"] = {{"version", "8.11.0"}};

  json event;
  event["kind"] = "alert";
  event["module"] = "steen";
  event["dataset"] = "steen.alert";
  event["provider"] = "steen";
  PutIfNotEmpty(event, "id", alert.id);
  PutIfNotEmpty(event, "action", alert.rule_name);
  event["severity"] = EcsSeverity(alert.severity);
  event["risk_score"] = alert.score;
  // ECS allowed values: file {change, ...}, intrusion_detection {allowed, denied, info},
  // malware {info}, host {info}.
  const bool blocked =
      alert.action == ResponseAction::kSuspended || alert.action == ResponseAction::kKilled;
  if (health) {
    event["category"] = {"host"};
    event["type"] = {"info"};
  } else {
    event["category"] = {"file", "intrusion_detection", "malware"};
    event["type"] = {"change", blocked ? "denied" : "info"};
  }
  switch (alert.action) {
    case ResponseAction::kSuspended:
    case ResponseAction::kKilled:
      event["outcome"] = "success";
      break;
    case ResponseAction::kFailed:
      event["outcome"] = "failure";
      break;
    case ResponseAction::kNone:
    case ResponseAction::kDryRun:
      event["outcome"] = "unknown";
      break;
  }
  doc["event"] = std::move(event);
  doc["message"] = alert.message;
  if (!alert.severity.empty()) doc["log"] = {{"level", alert.severity}};

  doc["rule"] = {{"name", alert.rule_name}, {"ruleset", "steen"}};

  if (!health) {
    doc["threat"] = {{"framework", "MITRE ATT&CK"},
                     {"tactic", {{"id", {text::kTacticId}}, {"name", {text::kTacticName}}}},
                     {"technique",
                      {{"id", {text::kTechniqueId}},
                       {"name", {text::kTechniqueName}},
                       {"reference", {"https://attack.mitre.org/techniques/T1486/"}}}}};
  }

  if (!alert.host.empty()) doc["host"] = {{"hostname", alert.host}, {"name", alert.host}};

  const Actor& actor = alert.actor;
  json related_users = json::array(), related_ips = json::array(), related_hashes = json::array();
  if (actor.pid != 0) {
    json process;
    process["pid"] = actor.pid;
    PutIfNotEmpty(process, "name", actor.comm);
    PutIfNotEmpty(process, "executable", actor.exe);
    if (!actor.exe_sha256.empty()) {
      process["hash"] = {{"sha256", actor.exe_sha256}};
      related_hashes.push_back(actor.exe_sha256);
    }
    if (actor.ppid != 0) process["parent"] = {{"pid", actor.ppid}};
    if (actor.pgid != 0) process["group_leader"] = {{"pid", actor.pgid}};
    if (actor.sid != 0) process["session_leader"] = {{"pid", actor.sid}};
    doc["process"] = std::move(process);

    json user;
    user["id"] = std::to_string(actor.uid);
    PutIfNotEmpty(user, "name", actor.user);
    if (!actor.user.empty()) related_users.push_back(actor.user);
    doc["user"] = std::move(user);
  }

  // The SMB client behind an smbd child is the initiator of the session: ECS client.* (with
  // source.* mirrored, as ECS recommends when client/server are used). .ip only for valid
  // addresses, since Elasticsearch maps it as type ip.
  if (!actor.smb_client_address.empty() || !actor.smb_user.empty()) {
    json client, source;
    if (!actor.smb_client_address.empty()) {
      client["address"] = source["address"] = actor.smb_client_address;
      if (IsIpAddress(actor.smb_client_address)) {
        client["ip"] = source["ip"] = actor.smb_client_address;
        related_ips.push_back(actor.smb_client_address);
      }
    }
    if (!actor.smb_user.empty()) {
      client["user"] = source["user"] = {{"name", actor.smb_user}};
      related_users.push_back(actor.smb_user);
    }
    if (!actor.smb_machine.empty()) client["domain"] = source["domain"] = actor.smb_machine;
    doc["client"] = std::move(client);
    doc["source"] = std::move(source);
  }

  if (!alert.files.empty()) {
    const std::string& first = alert.files.front();
    json file;
    file["path"] = first;
    std::string_view name = BaseName(first);
    file["name"] = std::string(name);
    std::string_view dir = DirName(first);
    if (!dir.empty()) file["directory"] = std::string(dir);
    std::string_view ext = Extension(name);
    if (!ext.empty()) file["extension"] = std::string(ext);
    doc["file"] = std::move(file);
  }

  json related;
  if (!related_users.empty()) related["user"] = std::move(related_users);
  if (!related_ips.empty()) related["ip"] = std::move(related_ips);
  if (!related_hashes.empty()) related["hash"] = std::move(related_hashes);
  if (!related.empty()) doc["related"] = std::move(related);

  json steen;
  PutIfNotEmpty(steen, "alert_id", alert.id);
  steen["severity"] = alert.severity;
  steen["score"] = alert.score;
  steen["scope"] = std::string(ToString(alert.scope));
  PutIfNotEmpty(steen, "scope_key", alert.scope_key);
  json indicators = json::array();
  for (const Indicator& indicator : alert.indicators) {
    indicators.push_back(
        {{"name", indicator.name}, {"count", indicator.count}, {"detail", indicator.detail}});
  }
  steen["indicators"] = std::move(indicators);
  steen["files"] = alert.files;
  steen["file_count"] =
      std::max<int64_t>(alert.file_count, static_cast<int64_t>(alert.files.size()));
  steen["action"] = std::string(ToString(alert.action));
  PutIfNotEmpty(steen, "action_detail", alert.action_detail);
  if (!alert.pids.empty()) steen["pids"] = alert.pids;
  PutIfNotEmpty(steen, "incident_id", alert.incident_id);
  PutIfNotEmpty(steen, "cgroup", actor.cgroup);
  if (actor.start_time != 0) steen["process_start_time"] = actor.start_time;
  // ECS has no field for an SMB share: a custom one, next to the client.* of the same session.
  if (!actor.smb_share.empty()) steen["smb"] = {{"share", actor.smb_share}};
  doc["steen"] = std::move(steen);

  // Paths are bytes: replace invalid UTF-8 instead of throwing.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace steen::outputs
