// Helpers for the outputs tests: a sample alert, a temporary folder, and an RFC 5424 parser that
// follows the ABNF of RFC 5424 §6 strictly, so the formatter's output is checked by grammar.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "steen/alert.h"

namespace steen::outputs::testing {

inline Alert SampleAlert() {
  Alert a;
  a.id = "steen-1795850801123000000-7";
  a.wall_time_ns = 1795850801123456789;  // 2026-11-28T07:26:41.123456789Z
  a.rule_name = "ransomware-encryption";
  a.severity = "critical";
  a.score = 92.4;
  a.scope = ActorScope::kSmbClient;
  a.scope_key = "192.0.2.45";
  a.actor.pid = 4242;
  a.actor.ppid = 1180;
  a.actor.comm = "smbd";
  a.actor.exe = "/usr/sbin/smbd";
  a.actor.exe_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  a.actor.uid = 1001;
  a.actor.user = "alice";
  a.actor.smb_client_address = "192.0.2.45";
  a.actor.smb_user = "EXAMPLE\\alice";
  a.actor.smb_machine = "ws17";
  a.pids = {4242};
  a.indicators = {{"damaged_files", 57, "57 files went from valid docx, pdf to random bytes"},
                  {"ransom_notes", 1, "README_RESTORE.txt written in 12 folders"}};
  a.files = {"/srv/share/fin/q3.xlsx", "/srv/share/fin/q4.xlsx"};
  a.file_count = 57;
  a.action = ResponseAction::kSuspended;
  a.action_detail = "SIGSTOP sent to 4242 (smbd for 192.0.2.45)";
  a.incident_id = "inc-0001";
  a.host = "fs01";
  a.message = "57 files rewritten as ciphertext in 10s by smbd (alice@192.0.2.45); suspended";
  return a;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "steen-outputs-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct Syslog5424 {
  int pri = -1;
  std::string timestamp, hostname, app_name, procid, msgid;
  // SD-ID -> params (in order; names may repeat).
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, std::string>>>> sd;
  bool has_bom = false;
  std::optional<std::string> msg;

  std::vector<std::string> Params(const std::string& sd_id, const std::string& name) const {
    std::vector<std::string> values;
    for (const auto& [id, params] : sd) {
      if (id != sd_id) continue;
      for (const auto& [k, v] : params) {
        if (k == name) values.push_back(v);
      }
    }
    return values;
  }
  std::string Param(const std::string& sd_id, const std::string& name) const {
    auto values = Params(sd_id, name);
    return values.empty() ? std::string() : values.front();
  }
};

// Parses one RFC 5424 message; on a grammar violation returns nullopt and sets *error.
inline std::optional<Syslog5424> ParseRfc5424(const std::string& s, std::string* error) {
  Syslog5424 out;
  std::size_t i = 0;
  auto fail = [&](const std::string& why) {
    *error = why + " at byte " + std::to_string(i);
    return std::nullopt;
  };
  auto is_print = [](char c) { return c >= 33 && c <= 126; };
  if (i >= s.size() || s[i] != '<') return fail("missing '<'");
  ++i;
  std::size_t start = i;
  while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == start || i - start > 3) return fail("PRIVAL");
  out.pri = std::stoi(s.substr(start, i - start));
  if (out.pri > 191) return fail("PRIVAL > 191");
  if (s.compare(i, 3, ">1 ") != 0) return fail("VERSION");
  i += 3;
  // Header fields: PRINTUSASCII tokens with their maximum lengths.
  auto token = [&](std::size_t max_len, std::string* field) -> bool {
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ') {
      if (!is_print(s[i])) return false;
      ++i;
    }
    if (i == b || i - b > max_len || i >= s.size()) return false;
    *field = s.substr(b, i - b);
    ++i;  // SP
    return true;
  };
  if (!token(32, &out.timestamp)) return fail("TIMESTAMP");
  if (!token(255, &out.hostname)) return fail("HOSTNAME");
  if (!token(48, &out.app_name)) return fail("APP-NAME");
  if (!token(128, &out.procid)) return fail("PROCID");
  if (!token(32, &out.msgid)) return fail("MSGID");
  // STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT
  if (i < s.size() && s[i] == '-') {
    ++i;
  } else {
    while (i < s.size() && s[i] == '[') {
      ++i;
      auto sd_name = [&](bool allow_at, std::string* name) -> bool {
        std::size_t b = i;
        while (i < s.size() && is_print(s[i]) && s[i] != '=' && s[i] != ']' && s[i] != '"' &&
               s[i] != ' ' && (allow_at || s[i] != '@'))
          ++i;
        if (i == b || i - b > 32) return false;
        *name = s.substr(b, i - b);
        return true;
      };
      std::string id;
      if (!sd_name(true, &id)) return fail("SD-ID");
      std::vector<std::pair<std::string, std::string>> params;
      while (i < s.size() && s[i] == ' ') {
        ++i;
        std::string name;
        if (!sd_name(false, &name)) return fail("PARAM-NAME");
        if (s.compare(i, 2, "=\"") != 0) return fail("'=\"'");
        i += 2;
        std::string value;
        for (;;) {
          if (i >= s.size()) return fail("unterminated PARAM-VALUE");
          char c = s[i];
          if (c == '"') break;
          if (c == ']') return fail("unescaped ']' in PARAM-VALUE");
          if (c == '\\') {
            if (i + 1 >= s.size()) return fail("dangling '\\'");
            char n = s[i + 1];
            if (n == '"' || n == '\\' || n == ']') {
              value += n;
              i += 2;
              continue;
            }
            // RFC 5424: a backslash before any other character is taken literally.
          }
          value += c;
          ++i;
        }
        ++i;  // closing quote
        params.emplace_back(std::move(name), std::move(value));
      }
      if (i >= s.size() || s[i] != ']') return fail("missing ']'");
      ++i;
      out.sd.emplace_back(std::move(id), std::move(params));
    }
    if (out.sd.empty()) return fail("STRUCTURED-DATA");
  }
  if (i == s.size()) return out;
  if (s[i] != ' ') return fail("SP before MSG");
  ++i;
  std::string msg = s.substr(i);
  if (msg.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    out.has_bom = true;
    msg.erase(0, 3);
  }
  out.msg = msg;
  return out;
}

}  // namespace steen::outputs::testing
