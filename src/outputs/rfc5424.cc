// Alert -> RFC 5424 syslog message:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID k="v" ...] BOM MSG
// Header fields are PRINTUSASCII with the RFC's length limits, NILVALUE "-" when empty; SD values
// are UTF-8 with '"', '\' and ']' escaped; MSG carries a BOM because it is UTF-8.
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "outputs/text.h"
#include "steen/outputs.h"

namespace steen::outputs {
namespace {

// RFC 5424 §6: header field limits.
constexpr std::size_t kHostnameMax = 255;
constexpr std::size_t kAppNameMax = 48;
constexpr std::size_t kProcIdMax = 128;
constexpr std::size_t kMsgIdMax = 32;
constexpr std::size_t kSdNameMax = 32;
constexpr std::string_view kBom = "\xEF\xBB\xBF";
// Smallest size limit honoured: the longest possible header (503 bytes) plus NILVALUE fits.
constexpr std::size_t kMinMessageBytes = 512;

// SD-NAME: PRINTUSASCII except '=', SP, ']' and '"'; 1..32 characters. '@' only in SD-IDs.
std::string SdName(std::string_view in, bool allow_at) {
  std::string out;
  for (char c : in) {
    if (out.size() >= kSdNameMax) break;
    auto b = static_cast<unsigned char>(c);
    if (b < 33 || b > 126 || c == '=' || c == ']' || c == '"') continue;
    if (c == '@' && !allow_at) continue;
    out += c;
  }
  return out.empty() ? "steen" : out;
}

// Control characters (newline, tab, ...) are replaced by a space: line-based syslog receivers and
// relays would otherwise split one alert into several records (log injection via file names).
std::string NoControls(std::string_view utf8) {
  std::string out(utf8);
  for (char& c : out) {
    auto b = static_cast<unsigned char>(c);
    if (b < 0x20 || b == 0x7F) c = ' ';
  }
  return out;
}

std::string EscapeParamValue(std::string_view value) {
  std::string repaired = NoControls(text::RepairUtf8(value));
  std::string out;
  out.reserve(repaired.size());
  for (char c : repaired) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// Cuts an escaped value to at most max bytes without splitting a character or an escape pair.
std::string CutEscaped(const std::string& escaped, std::size_t max) {
  std::string_view prefix = text::Utf8Prefix(escaped, max);
  // An odd run of trailing backslashes means the last one starts an escape pair: drop it.
  std::size_t backslashes = 0;
  while (backslashes < prefix.size() && prefix[prefix.size() - 1 - backslashes] == '\\') {
    ++backslashes;
  }
  if (backslashes % 2 == 1) prefix.remove_suffix(1);
  return std::string(prefix);
}

}  // namespace

int SyslogSeverity(std::string_view alert_severity) {
  if (alert_severity == "critical") return 2;
  if (alert_severity == "high") return 3;
  if (alert_severity == "medium") return 4;
  if (alert_severity == "low") return 5;
  if (alert_severity == "info") return 6;
  return 4;
}

std::string FormatRfc5424(const Alert& alert, const SyslogOptions& options) {
  int facility = options.facility;
  if (facility < 0 || facility > 23) facility = 13;
  const int pri = facility * 8 + SyslogSeverity(alert.severity);

  std::string hostname = options.hostname;
  if (hostname.empty()) hostname = alert.host;
  if (hostname.empty()) hostname = text::LocalHostName();
  std::string procid = options.procid.empty() ? std::to_string(getpid()) : options.procid;

  std::string header = "<" + std::to_string(pri) + ">1 ";
  header += text::Rfc3339Utc(text::AlertTimeNs(alert), 6);  // TIME-SECFRAC: at most 6 digits
  header += ' ';
  header += text::PrintUsAscii(hostname, kHostnameMax);
  header += ' ';
  header += text::PrintUsAscii(options.app_name, kAppNameMax);
  header += ' ';
  header += text::PrintUsAscii(procid, kProcIdMax);
  header += ' ';
  header += text::PrintUsAscii(alert.rule_name, kMsgIdMax);
  header += ' ';

  // Parameters in order of importance: when the size limit bites, the tail is dropped first.
  std::vector<std::pair<std::string, std::string>> params;
  const auto add = [&](std::string name, std::string_view value) {
    if (!value.empty()) params.emplace_back(std::move(name), std::string(value));
  };
  const Actor& actor = alert.actor;
  add("id", alert.id);
  add("rule", alert.rule_name);
  add("severity", alert.severity);
  add("score", std::to_string(static_cast<int64_t>(alert.score + 0.5)));
  if (!text::IsHealthAlert(alert)) add("technique", text::kTechniqueId);
  add("action", ToString(alert.action));
  if (actor.pid != 0) {
    add("pid", std::to_string(actor.pid));
    add("comm", actor.comm);
    add("exe", actor.exe);
    add("uid", std::to_string(actor.uid));
    add("user", actor.user);
  }
  add("client", actor.smb_client_address);
  add("smb_user", actor.smb_user);
  add("scope", ToString(alert.scope));
  add("scope_key", alert.scope_key);
  int64_t file_count =
      std::max<int64_t>(alert.file_count, static_cast<int64_t>(alert.files.size()));
  if (file_count > 0) add("files", std::to_string(file_count));
  add("incident", alert.incident_id);
  add("action_detail", alert.action_detail);
  if (!alert.files.empty()) add("file", alert.files.front());
  add("exe_sha256", actor.exe_sha256);
  for (const Indicator& indicator : alert.indicators) {
    add("indicator", indicator.name + ":" + std::to_string(indicator.count));
  }

  std::string message = NoControls(text::RepairUtf8(alert.message));

  const std::size_t max_total = std::min(
      std::max<std::size_t>(options.max_message_bytes, kMinMessageBytes), kMaxSyslogMessageBytes);
  // Room kept for the MSG: a cut summary is more use than the tail of the parameter list.
  const std::size_t msg_reserve = std::min<std::size_t>(message.empty() ? 0 : kBom.size() + 1 + 80,
                                                        kBom.size() + 1 + message.size());

  std::string sd = "[" + SdName(options.sd_id, true);
  bool any_param = false;
  for (const auto& [name, value] : params) {
    std::string escaped = EscapeParamValue(value);
    std::string param = " " + SdName(name, false) + "=\"";
    // +2: closing quote and the ']' that ends the element.
    std::size_t used = header.size() + sd.size() + param.size() + 2 + msg_reserve;
    if (used >= max_total) break;
    std::size_t room = max_total - used;
    if (escaped.size() > room) {
      // Long values (paths) are cut; short ones that do not fit are left out.
      if (room < 16) continue;
      escaped = CutEscaped(escaped, room);
    }
    sd += param;
    sd += escaped;
    sd += '"';
    any_param = true;
  }
  sd += ']';
  std::string out = header;
  out += any_param ? sd : std::string("-");
  if (!message.empty() && out.size() + 1 + kBom.size() < max_total) {
    out += ' ';
    out += kBom;
    out += text::Utf8Prefix(message, max_total - out.size());
  }
  return out;
}

}  // namespace steen::outputs
