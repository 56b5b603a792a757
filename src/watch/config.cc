// Config loading for `steen watch` (see config.h and docs/design/config.md).
//
// Every configurable key is one Binding in a single table (Bindings()): the loader, the renderer,
// ConfigKeys() and the unknown-key suggestions all read that table, so a key cannot be loadable
// but not rendered, or documented under another name. `outputs` is the one structured key with its
// own code (its fields depend on the output's type).
#include "watch/config.h"

#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "sys/fanotify_source.h"
#include "sys/file_opener.h"

namespace steen::watch {

std::string_view ToString(Action action) {
  switch (action) {
    case Action::kAlert:
      return "alert";
    case Action::kSuspend:
      return "suspend";
    case Action::kKill:
      return "kill";
  }
  return "suspend";
}

std::string_view ToString(OutputSpec::Type type) {
  switch (type) {
    case OutputSpec::Type::kStdout:
      return "stdout";
    case OutputSpec::Type::kFile:
      return "file";
    case OutputSpec::Type::kSyslog:
      return "syslog";
    case OutputSpec::Type::kJournald:
      return "journald";
  }
  return "stdout";
}

WatchConfig DefaultConfig() { return WatchConfig{}; }

std::string VaultDir(const WatchConfig& config) {
  return config.vault.dir.empty() ? config.state_dir + "/vault" : config.vault.dir;
}

namespace {

constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kMaxWindowNs = 7LL * 24 * 3600 * kNsPerSecond;  // detection windows: a week

// ---- Messages
// ------------------------------------------------------------------------------------

// What a node holds, for "found ..." in messages.
std::string Describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "'" + node.Scalar() + "'";
}

// Collects problems with their origin: "file:line:col", "-o key=value" or "command line".
class Context {
 public:
  explicit Context(std::string file) : file_(std::move(file)) {}

  // Values set by an override (or the command line) carry its text as their origin.
  void AddOrigin(std::string key, std::string origin) {
    origins_.emplace_back(std::move(key), std::move(origin));
  }

  std::string Where(const std::string& key, const YAML::Node& node) const {
    // The last override that set this key or one of its sections wins (later ones overwrite).
    for (auto it = origins_.rbegin(); it != origins_.rend(); ++it) {
      if (key == it->first || key.starts_with(it->first + ".")) return it->second;
    }
    if (!file_.empty() && node.IsDefined() && !node.Mark().is_null()) {
      return file_ + ":" + std::to_string(node.Mark().line + 1) + ":" +
             std::to_string(node.Mark().column + 1);
    }
    for (auto it = origins_.rbegin(); it != origins_.rend(); ++it) {
      if (it->first.starts_with(key + ".")) return it->second;
    }
    return file_.empty() ? "config" : file_;
  }

  void Error(const std::string& key, const YAML::Node& node, const std::string& what) {
    errors_.push_back(Where(key, node) + ": " + key + ": " + what);
  }
  void Expected(const std::string& key, const YAML::Node& node, const std::string& expected) {
    Error(key, node, "expected " + expected + ", found " + Describe(node));
  }
  void Warn(const std::string& key, const YAML::Node& node, const std::string& what) {
    warnings_.push_back(Where(key, node) + ": " + key + ": " + what);
  }
  void RawError(std::string text) { errors_.push_back(std::move(text)); }

  const std::vector<std::string>& errors() const { return errors_; }
  std::vector<std::string>& warnings() { return warnings_; }

 private:
  std::string file_;
  std::vector<std::pair<std::string, std::string>> origins_;
  std::vector<std::string> errors_;
  std::vector<std::string> warnings_;
};

// ---- Scalar parsing
// ------------------------------------------------------------------------------

std::optional<double> ParseReal(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& text = node.Scalar();
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> ParseInteger(const std::string& text, int base = 10) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, base);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> ParseInteger(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  return ParseInteger(node.Scalar());
}

std::optional<bool> ParseBool(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  std::string text = node.Scalar();
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  return std::nullopt;
}

// "0", "250ms", "10s", "30m", "2h", "1d" (also ns and us): nanoseconds. A unit is required
// except for 0, because a bare "30" is ambiguous between seconds and minutes.
std::optional<int64_t> ParseDuration(const YAML::Node& node) {
  if (!node.IsScalar()) return std::nullopt;
  const std::string& text = node.Scalar();
  if (text == "0") return 0;
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  int64_t value = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  static const std::map<std::string, int64_t> kUnits = {{"ns", 1},
                                                        {"us", 1000},
                                                        {"ms", kNsPerMs},
                                                        {"s", kNsPerSecond},
                                                        {"m", 60 * kNsPerSecond},
                                                        {"h", 3600 * kNsPerSecond},
                                                        {"d", 24 * 3600 * kNsPerSecond}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  if (value > INT64_MAX / it->second) return std::nullopt;
  return value * it->second;
}

std::string FormatDuration(int64_t ns) {
  if (ns == 0) return "0s";
  static const std::pair<int64_t, const char*> kUnits[] = {{24 * 3600 * kNsPerSecond, "d"},
                                                           {3600 * kNsPerSecond, "h"},
                                                           {60 * kNsPerSecond, "m"},
                                                           {kNsPerSecond, "s"},
                                                           {kNsPerMs, "ms"},
                                                           {1000, "us"}};
  for (const auto& [size, name] : kUnits) {
    if (ns % size == 0) return std::to_string(ns / size) + name;
  }
  return std::to_string(ns) + "ns";
}

// Shortest text that reads back as the same double ("0.3", not "0.29999999999999999").
std::string FormatReal(double value) {
  char buffer[64];
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string RangeText(double min, bool min_exclusive, double max) {
  std::string text = "a number ";
  text += min_exclusive ? "> " : ">= ";
  text += FormatReal(min);
  if (max < 1e300) text += " and <= " + FormatReal(max);
  return text;
}

std::string DurationRangeText(int64_t min_ns, int64_t max_ns) {
  return "a duration with a unit (e.g. 500ms, 10s, 30m, 2h) from " + FormatDuration(min_ns) +
         " to " + FormatDuration(max_ns);
}

// ---- Levenshtein distance, for "did you mean" -------------------------------------------------
std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The closest candidate within a third of the name's length (at least 2 edits), or "".
std::string Closest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    std::size_t distance = EditDistance(name, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

// ---- Item checks
// ---------------------------------------------------------------------------------

// Returns "" when fine, else what was expected.
using ItemCheck = std::function<std::string(std::string& value)>;

std::string NonEmpty(std::string& value) { return value.empty() ? "a non-empty text" : ""; }

std::string AbsolutePath(std::string& value) {
  if (value.empty() || value[0] != '/') return "an absolute path (starting with /)";
  if (value.size() > limits::kMaxPathBytes) return "a path shorter than 4096 bytes";
  while (value.size() > 1 && value.back() == '/') value.pop_back();
  return "";
}

std::string LowerWord(std::string& value) {
  if (value.empty()) return "a non-empty text";
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return "";
}

std::string Extension(std::string& value) {
  if (!value.empty() && value[0] == '.') value.erase(0, 1);
  if (value.empty() || value.find('/') != std::string::npos) return "an extension such as txt";
  return LowerWord(value);
}

std::string Sha256(std::string& value) {
  if (value.size() != 64 ||
      !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isxdigit(c); })) {
    return "a SHA-256 as 64 hexadecimal digits";
  }
  return LowerWord(value);
}

std::string CanaryName(std::string& value) {
  if (value.empty() || value.size() > 255) return "a file name of 1 to 255 bytes";
  if (value.find('/') != std::string::npos) return "a file name without '/'";
  if (value[0] == '.') {
    return "a visible file name (ransomware skips hidden files, so a hidden canary is never "
           "touched)";
  }
  std::size_t dot = value.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == value.size()) {
    return "a file name with an extension (e.g. .xlsx, .docx, .pdf)";
  }
  return "";
}

bool UserKnown(const std::string& name) {
  struct passwd entry {};
  struct passwd* result = nullptr;
  std::vector<char> buffer(16384);
  return ::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &result) == 0 &&
         result != nullptr;
}

bool IsNumber(const std::string& text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

// ---- Bindings
// ------------------------------------------------------------------------------------

struct Binding {
  std::string key;
  std::function<void(Context&, const std::string&, const YAML::Node&, WatchConfig&)> load;
  std::function<YAML::Node(const WatchConfig&)> render;
};

// The renderer reads through the same accessor as the loader; it never writes.
template <typename Ref>
auto& Read(Ref ref, const WatchConfig& config) {
  return ref(const_cast<WatchConfig&>(config));
}

template <typename Ref>
Binding Real(std::string key, Ref ref, double min, bool min_exclusive, double max = 1e308) {
  return {key,
          [=](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            auto value = ParseReal(node);
            if (!value || (min_exclusive ? *value <= min : *value < min) || *value > max) {
              ctx.Expected(k, node, RangeText(min, min_exclusive, max));
              return;
            }
            ref(config) = *value;
          },
          [=](const WatchConfig& config) { return YAML::Node(FormatReal(Read(ref, config))); }};
}

template <typename Ref>
Binding Integer(std::string key, Ref ref, int64_t min, int64_t max) {
  return {key,
          [=](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            auto value = ParseInteger(node);
            if (!value || *value < min || *value > max) {
              ctx.Expected(
                  k, node,
                  "a whole number from " + std::to_string(min) + " to " + std::to_string(max));
              return;
            }
            using T = std::remove_reference_t<decltype(ref(config))>;
            ref(config) = static_cast<T>(*value);
          },
          [=](const WatchConfig& config) { return YAML::Node(std::to_string(Read(ref, config))); }};
}

template <typename Ref>
Binding Flag(std::string key, Ref ref) {
  return {
      key,
      [=](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
        auto value = ParseBool(node);
        if (!value) {
          ctx.Expected(k, node, "true or false");
          return;
        }
        ref(config) = *value;
      },
      [=](const WatchConfig& config) { return YAML::Node(Read(ref, config) ? "true" : "false"); }};
}

// Durations stored as nanoseconds (uint64_t, DetectConfig) or as std::chrono durations.
template <typename T>
int64_t ToNs(const T& value) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<int64_t>(value);
  } else {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(value).count();
  }
}
template <typename T>
void FromNs(int64_t ns, T& out) {
  if constexpr (std::is_integral_v<T>) {
    out = static_cast<T>(ns);
  } else {
    out = std::chrono::duration_cast<T>(std::chrono::nanoseconds(ns));
  }
}

template <typename Ref>
Binding Duration(std::string key, Ref ref, int64_t min_ns, int64_t max_ns, int64_t granule_ns = 1) {
  return {key,
          [=](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            auto value = ParseDuration(node);
            if (!value || *value < min_ns || *value > max_ns) {
              ctx.Expected(k, node, DurationRangeText(min_ns, max_ns));
              return;
            }
            if (*value % granule_ns != 0) {
              ctx.Expected(k, node, "a whole number of " + FormatDuration(granule_ns));
              return;
            }
            FromNs(*value, ref(config));
          },
          [=](const WatchConfig& config) {
            return YAML::Node(FormatDuration(ToNs(Read(ref, config))));
          }};
}

template <typename Ref>
Binding Text(std::string key, Ref ref, ItemCheck check) {
  return {key,
          [=](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            if (!node.IsScalar()) {
              ctx.Expected(k, node, "a text");
              return;
            }
            std::string value = node.Scalar();
            if (std::string expected = check(value); !expected.empty()) {
              ctx.Expected(k, node, expected);
              return;
            }
            ref(config) = value;
          },
          [=](const WatchConfig& config) { return YAML::Node(Read(ref, config)); }};
}

// A list of texts. A given list replaces the default one; an empty value means an empty list.
// `after` runs on the accepted items (warnings, cross checks).
using ListAfter = std::function<void(Context&, const std::string& key, const YAML::Node& node,
                                     const std::vector<std::string>& values)>;

template <typename Ref>
Binding TextList(std::string key, Ref ref, ItemCheck check, ListAfter after = nullptr) {
  return {key,
          [=](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            if (node.IsNull()) {
              ref(config).clear();
              if (after) after(ctx, k, node, {});
              return;
            }
            if (!node.IsSequence()) {
              ctx.Expected(k, node, "a list (e.g. [a, b] or one '- item' per line)");
              return;
            }
            if (node.size() > limits::kMaxConfigListEntries) {
              ctx.Error(k, node,
                        "at most " + std::to_string(limits::kMaxConfigListEntries) +
                            " entries, found " + std::to_string(node.size()));
              return;
            }
            // Aligned with the node's items; a rejected item is left empty so `after` can still
            // check the others (every problem is reported at once) and skips it.
            std::vector<std::string> values;
            bool ok = true;
            for (std::size_t i = 0; i < node.size(); ++i) {
              const YAML::Node item = node[i];
              std::string item_key = k + "." + std::to_string(i);
              std::string value = item.IsScalar() ? item.Scalar() : "";
              std::string expected = item.IsScalar() ? check(value) : "a text";
              if (!expected.empty()) {
                ctx.Expected(item_key, item, expected);
                ok = false;
                value.clear();
              }
              values.push_back(std::move(value));
            }
            if (after) after(ctx, k, node, values);
            if (ok) ref(config) = std::move(values);
          },
          [=](const WatchConfig& config) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (const auto& value : Read(ref, config)) list.push_back(value);
            if (list.size() == 0) list.SetStyle(YAML::EmitterStyle::Flow);  // "[]" on its line
            return list;
          }};
}

// Warnings for user names NSS does not know (numbers are uids and always accepted).
ListAfter WarnUnknownUsers(bool numbers_allowed) {
  return [=](Context& ctx, const std::string& key, const YAML::Node& node,
             const std::vector<std::string>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i].empty() || (numbers_allowed && IsNumber(values[i]))) continue;
      if (!UserKnown(values[i])) {
        ctx.Warn(key + "." + std::to_string(i), node[i],
                 "no user '" + values[i] +
                     "' on this host (yet?): the entry matches nobody until NSS knows it");
      }
    }
  };
}

ListAfter WarnMissingFiles() {
  return [](Context& ctx, const std::string& key, const YAML::Node& node,
            const std::vector<std::string>& values) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      struct stat st {};
      if (!values[i].empty() && ::stat(values[i].c_str(), &st) != 0) {
        ctx.Warn(key + "." + std::to_string(i), node[i],
                 values[i] + " does not exist (yet?): the entry matches nothing until it does");
      }
    }
  };
}

// Watched trees: ValidateWatchRoot's verdict, plus no duplicates or nesting.
void CheckWatchPaths(Context& ctx, const std::string& key, const YAML::Node& node,
                     const std::vector<std::string>& values) {
  if (values.size() > limits::kMaxWatchPaths) {
    ctx.Error(key, node, "at most " + std::to_string(limits::kMaxWatchPaths) + " paths");
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) continue;
    std::string item_key = key + "." + std::to_string(i);
    Status valid = sys::ValidateWatchRoot(values[i]);
    if (!valid.ok()) ctx.Error(item_key, node[i], valid.message());
    for (std::size_t j = 0; j < i; ++j) {
      if (values[j].empty()) continue;
      if (values[i] == values[j]) {
        ctx.Error(item_key, node[i], values[i] + " is listed twice");
      } else if (sys::PathIsUnder(values[i], values[j]) || sys::PathIsUnder(values[j], values[i])) {
        const std::string& outer = values[i].size() < values[j].size() ? values[i] : values[j];
        ctx.Error(item_key, node[i],
                  values[i] + " and " + values[j] + " overlap (one is inside the other); list " +
                      outer + " only");
      }
    }
  }
}

void CheckStateDir(Context& ctx, const std::string& key, const YAML::Node& node,
                   const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) {
    ctx.Error(key, node, path + " exists and is not a directory");
  }
}

Binding ActionBinding() {
  return {
      "response.action",
      [](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
        std::string text = node.IsScalar() ? node.Scalar() : "";
        if (text == "alert") {
          config.action = Action::kAlert;
        } else if (text == "suspend") {
          config.action = Action::kSuspend;
        } else if (text == "kill") {
          config.action = Action::kKill;
        } else {
          ctx.Expected(k, node, "one of alert, suspend, kill");
        }
      },
      [](const WatchConfig& config) { return YAML::Node(std::string(ToString(config.action))); }};
}

Binding UidList() {
  return {"exclusions.uids",
          [](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            std::vector<uid_t> uids;
            if (!node.IsNull() && !node.IsSequence()) {
              ctx.Expected(k, node, "a list of uids (numbers)");
              return;
            }
            bool ok = true;
            for (std::size_t i = 0; node.IsSequence() && i < node.size(); ++i) {
              auto value = ParseInteger(node[i]);
              if (!value || *value < 0 || *value >= 0xFFFFFFFFLL) {
                ctx.Expected(k + "." + std::to_string(i), node[i], "a uid from 0 to 4294967294");
                ok = false;
                continue;
              }
              uids.push_back(static_cast<uid_t>(*value));
            }
            if (ok) config.detect.exclusions.uids = std::move(uids);
          },
          [](const WatchConfig& config) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (uid_t uid : config.detect.exclusions.uids) list.push_back(std::to_string(uid));
            if (list.size() == 0) list.SetStyle(YAML::EmitterStyle::Flow);
            return list;
          }};
}

Binding PortList() {
  return {"smb.ports",
          [](Context& ctx, const std::string& k, const YAML::Node& node, WatchConfig& config) {
            if (!node.IsNull() && !node.IsSequence()) {
              ctx.Expected(k, node, "a list of TCP ports (e.g. [445, 139])");
              return;
            }
            if (node.IsSequence() && node.size() > limits::kMaxSmbPorts) {
              ctx.Error(k, node,
                        "at most " + std::to_string(limits::kMaxSmbPorts) + " ports, found " +
                            std::to_string(node.size()));
              return;
            }
            std::vector<uint16_t> ports;
            bool ok = true;
            for (std::size_t i = 0; node.IsSequence() && i < node.size(); ++i) {
              auto value = ParseInteger(node[i]);
              std::string item_key = k + "." + std::to_string(i);
              if (!value || *value < 1 || *value > 65535) {
                ctx.Expected(item_key, node[i], "a port from 1 to 65535");
                ok = false;
                continue;
              }
              const auto port = static_cast<uint16_t>(*value);
              if (std::find(ports.begin(), ports.end(), port) != ports.end()) {
                ctx.Error(item_key, node[i], "port " + std::to_string(port) + " is listed twice");
                ok = false;
                continue;
              }
              ports.push_back(port);
            }
            if (ok) config.smb.ports = std::move(ports);
          },
          [](const WatchConfig& config) {
            YAML::Node list(YAML::NodeType::Sequence);
            for (uint16_t port : config.smb.ports) list.push_back(std::to_string(port));
            list.SetStyle(YAML::EmitterStyle::Flow);
            return list;
          }};
}

// An nftables table name: it becomes part of nftables commands, so only a plain identifier.
std::string NftTableName(std::string& value) {
  const bool plain = !value.empty() && value.size() <= 32 &&
                     std::isalpha(static_cast<unsigned char>(value[0])) &&
                     std::all_of(value.begin(), value.end(),
                                 [](unsigned char c) { return std::isalnum(c) || c == '_'; });
  return plain ? ""
               : "a table name of letters, digits and '_', starting with a letter (at most 32)";
}

#define STEEN_FIELD(expr) \
  [](WatchConfig & c) -> auto& { return c.expr; }

const std::vector<Binding>& Bindings() {
  static const std::vector<Binding> kBindings = [] {
    constexpr double kMaxWeight = 1e6;
    constexpr int64_t kWindowMin = kNsPerMs;
    std::vector<Binding> b;
    b.push_back(TextList("paths", STEEN_FIELD(paths), AbsolutePath, CheckWatchPaths));
    b.push_back(ActionBinding());
    b.push_back(Duration("response.kill_after", STEEN_FIELD(kill_after), 0,
                         limits::kMaxKillAfterSeconds * kNsPerSecond, kNsPerSecond));
    b.push_back(Duration("response.hold_suspect_writes", STEEN_FIELD(hold_suspect_writes), 0,
                         limits::kMaxHoldSuspectWritesMs * kNsPerMs, kNsPerMs));
    b.push_back(TextList("response.protected_exes", STEEN_FIELD(detect.response.protected_exes),
                         AbsolutePath));
    b.push_back(TextList("response.allowed_exes", STEEN_FIELD(detect.response.allowed_exes),
                         AbsolutePath, WarnMissingFiles()));
    b.push_back(
        TextList("response.allowed_comms", STEEN_FIELD(detect.response.allowed_comms), NonEmpty));
    b.push_back(TextList("response.allowed_users", STEEN_FIELD(detect.response.allowed_users),
                         NonEmpty, WarnUnknownUsers(true)));
    b.push_back(Flag("dry_run", STEEN_FIELD(dry_run)));
    b.push_back(
        TextList("exclusions.paths", STEEN_FIELD(detect.exclusions.path_prefixes), AbsolutePath));
    b.push_back(TextList("exclusions.exe_paths", STEEN_FIELD(detect.exclusions.exe_paths),
                         AbsolutePath, WarnMissingFiles()));
    b.push_back(
        TextList("exclusions.exe_sha256", STEEN_FIELD(detect.exclusions.exe_sha256), Sha256));
    b.push_back(TextList("exclusions.users", STEEN_FIELD(detect.exclusions.users), NonEmpty,
                         WarnUnknownUsers(false)));
    b.push_back(UidList());

    b.push_back(Real("detect.alert_score", STEEN_FIELD(detect.alert_score), 0, true));
    b.push_back(
        Real("detect.min_destruction_score", STEEN_FIELD(detect.min_destruction_score), 0, false));
    b.push_back(Real("detect.escalate_factor", STEEN_FIELD(detect.escalate_factor), 1, true, 1000));
    b.push_back(Real("detect.weight_damaged_from_intact",
                     STEEN_FIELD(detect.weight_damaged_from_intact), 0, false, kMaxWeight));
    b.push_back(Real("detect.weight_damaged_unknown_before",
                     STEEN_FIELD(detect.weight_damaged_unknown_before), 0, false, kMaxWeight));
    b.push_back(Real("detect.weight_damaged_no_before",
                     STEEN_FIELD(detect.weight_damaged_no_before), 0, false, kMaxWeight));
    b.push_back(Real("detect.weight_randomness_gained",
                     STEEN_FIELD(detect.weight_randomness_gained), 0, false, kMaxWeight));
    b.push_back(Real("detect.weight_randomness_gained_intact",
                     STEEN_FIELD(detect.weight_randomness_gained_intact), 0, false, kMaxWeight));
    b.push_back(Real("detect.weight_format_lost", STEEN_FIELD(detect.weight_format_lost), 0, false,
                     kMaxWeight));
    b.push_back(Real("detect.weight_replaced_original",
                     STEEN_FIELD(detect.weight_replaced_original), 0, false, kMaxWeight));
    b.push_back(
        Real("detect.weight_canary", STEEN_FIELD(detect.weight_canary), 0, false, kMaxWeight));
    b.push_back(Real("detect.max_file_destruction", STEEN_FIELD(detect.max_file_destruction), 0,
                     true, kMaxWeight));
    b.push_back(Real("detect.weight_new_damaged_file", STEEN_FIELD(detect.weight_new_damaged_file),
                     0, false, kMaxWeight));
    b.push_back(Real("detect.weight_renamed_extension",
                     STEEN_FIELD(detect.weight_renamed_extension), 0, false, kMaxWeight));
    b.push_back(Real("detect.weight_renamed_extension_shared",
                     STEEN_FIELD(detect.weight_renamed_extension_shared), 0, false, kMaxWeight));
    b.push_back(
        Integer("detect.rename_cluster_min", STEEN_FIELD(detect.rename_cluster_min), 1, 1000));
    b.push_back(Real("detect.weight_note_folder", STEEN_FIELD(detect.weight_note_folder), 0, false,
                     kMaxWeight));
    b.push_back(Real("detect.weight_note_name", STEEN_FIELD(detect.weight_note_name), 0, false,
                     kMaxWeight));
    b.push_back(Integer("detect.note_min_folders", STEEN_FIELD(detect.note_min_folders), 1, 1000));
    b.push_back(Integer("detect.note_max_folders_scored",
                        STEEN_FIELD(detect.note_max_folders_scored), 1,
                        static_cast<int64_t>(limits::kMaxDetectNoteFoldersPerName)));
    b.push_back(
        Real("detect.max_note_score", STEEN_FIELD(detect.max_note_score), 0, false, kMaxWeight));
    b.push_back(Integer("detect.note_max_bytes", STEEN_FIELD(detect.note_max_bytes), 1,
                        static_cast<int64_t>(limits::kAnalysisReadBudget)));
    b.push_back(TextList("detect.note_patterns", STEEN_FIELD(detect.note_patterns), LowerWord));
    b.push_back(TextList("detect.note_extensions", STEEN_FIELD(detect.note_extensions), Extension));
    b.push_back(TextList("detect.note_formats", STEEN_FIELD(detect.note_formats), LowerWord));
    b.push_back(
        Real("detect.randomness_gain_min", STEEN_FIELD(detect.randomness_gain_min), 0, true, 1));
    b.push_back(
        Real("detect.randomness_after_min", STEEN_FIELD(detect.randomness_after_min), 0, true, 1));
    b.push_back(Duration("detect.rate_window", STEEN_FIELD(detect.rate_window_ns), kWindowMin,
                         kMaxWindowNs));
    b.push_back(Integer("detect.rate_min_folders", STEEN_FIELD(detect.rate_min_folders), 1,
                        static_cast<int64_t>(limits::kMaxDetectRateFoldersPerScope)));
    b.push_back(Real("detect.rate_multiplier", STEEN_FIELD(detect.rate_multiplier), 1, false, 100));
    b.push_back(Duration("detect.evidence_window", STEEN_FIELD(detect.evidence_window_ns),
                         kWindowMin, kMaxWindowNs));
    b.push_back(Duration("detect.pair_window", STEEN_FIELD(detect.pair_window_ns), kWindowMin,
                         kMaxWindowNs));
    b.push_back(Duration("detect.read_window", STEEN_FIELD(detect.read_window_ns), kWindowMin,
                         kMaxWindowNs));
    b.push_back(
        Duration("detect.actor_idle", STEEN_FIELD(detect.actor_idle_ns), kWindowMin, kMaxWindowNs));
    b.push_back(Duration("detect.actor_idle_no_evidence",
                         STEEN_FIELD(detect.actor_idle_no_evidence_ns), kWindowMin, kMaxWindowNs));
    b.push_back(Duration("detect.sweep_interval", STEEN_FIELD(detect.sweep_interval_ns), kWindowMin,
                         kMaxWindowNs));
    b.push_back(
        TextList("detect.container_formats", STEEN_FIELD(detect.container_formats), LowerWord));
    b.push_back(TextList("detect.benign_rename_suffixes",
                         STEEN_FIELD(detect.benign_rename_suffixes), Extension));
    b.push_back(
        Flag("detect.canary_on_open_for_write", STEEN_FIELD(detect.canary_on_open_for_write)));
    b.push_back(Flag("detect.scope_tree", STEEN_FIELD(detect.scope_tree)));
    b.push_back(Flag("detect.scope_smb", STEEN_FIELD(detect.scope_smb)));
    b.push_back(Flag("detect.scope_cgroup", STEEN_FIELD(detect.scope_cgroup)));
    b.push_back(Flag("detect.scope_user", STEEN_FIELD(detect.scope_user)));

    b.push_back(Flag("permission_events", STEEN_FIELD(permission_events)));
    b.push_back(Duration("permission_deadline", STEEN_FIELD(permission_deadline),
                         limits::kMinPermissionDeadlineMs * kNsPerMs,
                         limits::kMaxPermissionDeadlineMs * kNsPerMs, kNsPerMs));
    b.push_back(Flag("canaries.enabled", STEEN_FIELD(canaries.enabled)));
    b.push_back(Integer("canaries.max_directories", STEEN_FIELD(canaries.max_directories), 1,
                        limits::kMaxCanaryDirectories));
    b.push_back(TextList("canaries.names", STEEN_FIELD(canaries.names), CanaryName,
                         [](Context& ctx, const std::string& key, const YAML::Node& node,
                            const std::vector<std::string>& values) {
                           if (node.IsNull() || node.size() == 0) {
                             ctx.Error(key, node, "at least one name (or canaries.enabled: false)");
                           }
                         }));
    b.push_back(Flag("vault.enabled", STEEN_FIELD(vault.enabled)));
    b.push_back(Text("vault.dir", STEEN_FIELD(vault.dir), [](std::string& value) {
      return value.empty() ? std::string() : AbsolutePath(value);
    }));
    b.push_back(Integer("vault.max_bytes", STEEN_FIELD(vault.max_bytes),
                        static_cast<int64_t>(limits::MiB), int64_t{1} << 50));
    b.push_back(Integer("vault.max_files", STEEN_FIELD(vault.max_files), 1, int64_t{1} << 32));
    b.push_back(Duration("vault.retention", STEEN_FIELD(vault.retention), kNsPerSecond,
                         limits::kMaxVaultRetentionSeconds * kNsPerSecond, kNsPerSecond));
    b.push_back(
        Integer("vault.max_file_bytes", STEEN_FIELD(vault.max_file_bytes), 0, int64_t{1} << 50));
    b.push_back(
        Integer("vault.min_free_bytes", STEEN_FIELD(vault.min_free_bytes), 0, int64_t{1} << 50));
    b.push_back(Flag("smb.contain_client", STEEN_FIELD(smb.contain_client)));
    b.push_back(Flag("smb.block_reconnect", STEEN_FIELD(smb.block_reconnect)));
    b.push_back(Integer("smb.block_seconds", STEEN_FIELD(smb.block_seconds), 1,
                        limits::kMaxSmbBlockSeconds));
    b.push_back(PortList());
    b.push_back(Text("smb.nft_table", STEEN_FIELD(smb.nft_table), NftTableName));
    // outputs: structured, see LoadOutputs / RenderOutputs (placeholder keeps the order).
    b.push_back({"outputs", nullptr, nullptr});
    b.push_back(Text("state_dir", STEEN_FIELD(state_dir), AbsolutePath));
    b.push_back(Duration("watchdog", STEEN_FIELD(watchdog), 0,
                         limits::kMaxWatchdogSeconds * kNsPerSecond, kNsPerSecond));
    b.push_back(Integer("nice", STEEN_FIELD(nice), -20, 19));
    b.push_back(Duration("rescan_lookback", STEEN_FIELD(rescan_lookback), 0,
                         limits::kMaxRescanLookbackSeconds * kNsPerSecond, kNsPerSecond));
    return b;
  }();
  return kBindings;
}

#undef STEEN_FIELD

const Binding* FindBinding(const std::string& key) {
  for (const auto& binding : Bindings()) {
    if (binding.key == key) return &binding;
  }
  return nullptr;
}

bool IsSection(const std::string& key) {
  for (const auto& binding : Bindings()) {
    if (binding.key.starts_with(key + ".")) return true;
  }
  return false;
}

// Names allowed directly under a section ("" = top level).
std::vector<std::string> ChildNames(const std::string& section) {
  std::vector<std::string> names;
  std::string prefix = section.empty() ? "" : section + ".";
  for (const auto& binding : Bindings()) {
    if (!binding.key.starts_with(prefix)) continue;
    std::string rest = binding.key.substr(prefix.size());
    rest = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), rest) == names.end()) names.push_back(rest);
  }
  return names;
}

std::string Suggestion(const std::string& section, const std::string& name) {
  std::string prefix = section.empty() ? "" : section + ".";
  std::string close = Closest(name, ChildNames(section));
  if (!close.empty()) return " (did you mean '" + prefix + close + "'?)";
  // The right name in the wrong section ("alert_score" at the top level).
  for (const auto& binding : Bindings()) {
    std::string last = binding.key.substr(binding.key.rfind('.') + 1);
    if (last == name || (binding.key.find('.') != std::string::npos &&
                         binding.key.substr(0, binding.key.find('.')) == name)) {
      std::string target =
          last == name ? binding.key : binding.key.substr(0, binding.key.find('.'));
      return " (did you mean '" + target + "'?)";
    }
  }
  return "";
}

// ---- Outputs
// -------------------------------------------------------------------------------------

const std::map<std::string, std::vector<std::string>>& OutputKeys() {
  static const std::map<std::string, std::vector<std::string>> kKeys = {
      {"stdout", {"type"}},
      {"file", {"type", "path", "mode", "fsync_each"}},
      {"syslog", {"type", "host", "port", "transport", "facility", "app_name"}},
      {"journald", {"type", "socket_path", "syslog_identifier"}}};
  return kKeys;
}

std::optional<int> ParseFacility(const YAML::Node& node) {
  if (auto number = ParseInteger(node)) {
    if (*number >= 0 && *number <= 23) return static_cast<int>(*number);
    return std::nullopt;
  }
  if (!node.IsScalar()) return std::nullopt;
  static const std::map<std::string, int> kNames = {
      {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
      {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
      {"authpriv", 10}, {"ftp", 11},    {"ntp", 12},    {"audit", 13},  {"alert", 14},
      {"clock", 15},    {"local0", 16}, {"local1", 17}, {"local2", 18}, {"local3", 19},
      {"local4", 20},   {"local5", 21}, {"local6", 22}, {"local7", 23}};
  auto it = kNames.find(node.Scalar());
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

void LoadOutput(Context& ctx, const std::string& key, const YAML::Node& node, OutputSpec* spec) {
  if (!node.IsMap()) {
    ctx.Expected(key, node, "a mapping with at least 'type: stdout|file|syslog|journald'");
    return;
  }
  const YAML::Node type_node = node["type"];
  if (!type_node.IsDefined()) {
    ctx.Error(key, node, "missing 'type' (one of stdout, file, syslog, journald)");
    return;
  }
  std::string type = type_node.IsScalar() ? type_node.Scalar() : "";
  auto keys = OutputKeys().find(type);
  if (keys == OutputKeys().end()) {
    std::vector<std::string> types = {"stdout", "file", "syslog", "journald"};
    std::string close = Closest(type, types);
    ctx.Expected(key + ".type", type_node,
                 "one of stdout, file, syslog, journald" +
                     (close.empty() ? std::string() : " (did you mean '" + close + "'?)"));
    return;
  }
  for (const auto& entry : node) {
    std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    if (std::find(keys->second.begin(), keys->second.end(), name) != keys->second.end()) continue;
    std::string owner;
    for (const auto& [other, other_keys] : OutputKeys()) {
      if (std::find(other_keys.begin(), other_keys.end(), name) != other_keys.end()) owner = other;
    }
    std::string close = Closest(name, keys->second);
    std::string hint = !close.empty()   ? " (did you mean '" + close + "'?)"
                       : !owner.empty() ? " (it belongs to " + owner + " outputs)"
                                        : "";
    ctx.Error(
        key + "." + name, entry.first,
        "unknown key for " + type + " outputs" + hint + "; they take: " + [&] {
          std::string list;
          for (const auto& k : keys->second) list += (list.empty() ? "" : ", ") + k;
          return list;
        }());
  }
  auto text = [&](const char* name, std::string* out, bool required, ItemCheck check) {
    const YAML::Node value = node[name];
    std::string k = key + "." + name;
    if (!value.IsDefined()) {
      if (required)
        ctx.Error(key, node, "missing '" + std::string(name) + "' (" + type + " outputs need it)");
      return;
    }
    std::string text = value.IsScalar() ? value.Scalar() : "";
    std::string expected = value.IsScalar() ? check(text) : "a text";
    if (!expected.empty()) {
      ctx.Expected(k, value, expected);
      return;
    }
    *out = text;
  };
  if (type == "stdout") {
    spec->type = OutputSpec::Type::kStdout;
  } else if (type == "file") {
    spec->type = OutputSpec::Type::kFile;
    text("path", &spec->file.path, true, AbsolutePath);
    if (!spec->file.path.empty()) {
      std::string parent = spec->file.path.substr(0, spec->file.path.rfind('/'));
      if (parent.empty()) parent = "/";
      struct stat st {};
      if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        ctx.Error(key + ".path", node["path"],
                  "folder " + parent + " does not exist (create it, e.g. mkdir -p " + parent + ")");
      } else if (::stat(spec->file.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        ctx.Error(key + ".path", node["path"], spec->file.path + " is a folder, not a file");
      }
    }
    if (const YAML::Node mode = node["mode"]; mode.IsDefined()) {
      auto value = mode.IsScalar() ? ParseInteger(mode.Scalar(), 8) : std::nullopt;
      if (!value || *value < 0 || *value > 0777) {
        ctx.Expected(key + ".mode", mode, "permissions in octal, e.g. 0640");
      } else {
        spec->file.mode = static_cast<unsigned>(*value);
      }
    }
    if (const YAML::Node fsync = node["fsync_each"]; fsync.IsDefined()) {
      if (auto value = ParseBool(fsync)) {
        spec->file.fsync_each = *value;
      } else {
        ctx.Expected(key + ".fsync_each", fsync, "true or false");
      }
    }
  } else if (type == "syslog") {
    spec->type = OutputSpec::Type::kSyslog;
    text("host", &spec->syslog.host, true, NonEmpty);
    if (const YAML::Node port = node["port"]; port.IsDefined()) {
      auto value = ParseInteger(port);
      if (!value || *value < 1 || *value > 65535) {
        ctx.Expected(key + ".port", port, "a port from 1 to 65535");
      } else {
        spec->syslog.port = static_cast<uint16_t>(*value);
      }
    }
    if (const YAML::Node transport = node["transport"]; transport.IsDefined()) {
      std::string value = transport.IsScalar() ? transport.Scalar() : "";
      if (value == "udp") {
        spec->syslog.transport = outputs::SyslogTransport::kUdp;
      } else if (value == "tcp") {
        spec->syslog.transport = outputs::SyslogTransport::kTcp;
      } else {
        ctx.Expected(key + ".transport", transport, "udp or tcp");
      }
    }
    if (const YAML::Node facility = node["facility"]; facility.IsDefined()) {
      if (auto value = ParseFacility(facility)) {
        spec->syslog.facility = *value;
      } else {
        ctx.Expected(key + ".facility", facility,
                     "a facility from 0 to 23 or a name (auth, daemon, audit, local0..local7)");
      }
    }
    text("app_name", &spec->syslog.app_name, false, [](std::string& value) -> std::string {
      // RFC 5424 APP-NAME: 1*48 PRINTUSASCII (no spaces).
      bool printable = std::all_of(value.begin(), value.end(),
                                   [](unsigned char c) { return c > 32 && c < 127; });
      if (value.empty() || value.size() > 48 || !printable) {
        return "1 to 48 printable ASCII characters without spaces (RFC 5424 APP-NAME)";
      }
      return "";
    });
  } else {
    spec->type = OutputSpec::Type::kJournald;
    std::string socket;
    text("socket_path", &socket, false, [](std::string& value) -> std::string {
      if (value.empty()) return "";
      if (value.size() >= sizeof(sockaddr_un{}.sun_path)) {
        return "a socket path shorter than " + std::to_string(sizeof(sockaddr_un{}.sun_path)) +
               " bytes";
      }
      return AbsolutePath(value);
    });
    spec->journald.socket_path =
        socket.empty() ? std::string(outputs::kJournalDefaultSocket) : socket;
    text("syslog_identifier", &spec->journald.syslog_identifier, false, NonEmpty);
  }
}

void LoadOutputs(Context& ctx, const YAML::Node& node, WatchConfig& config) {
  if (!node.IsSequence() || node.size() == 0) {
    ctx.Expected("outputs", node,
                 "a list of at least one output (e.g. '- type: stdout'); alerts must go somewhere");
    return;
  }
  if (node.size() > limits::kMaxOutputs) {
    ctx.Error("outputs", node, "at most " + std::to_string(limits::kMaxOutputs) + " outputs");
    return;
  }
  std::vector<OutputSpec> specs(node.size());
  for (std::size_t i = 0; i < node.size(); ++i) {
    LoadOutput(ctx, "outputs." + std::to_string(i), node[i], &specs[i]);
  }
  config.outputs = std::move(specs);
}

YAML::Node RenderOutputs(const WatchConfig& config) {
  YAML::Node list(YAML::NodeType::Sequence);
  for (const auto& spec : config.outputs) {
    YAML::Node out(YAML::NodeType::Map);
    out["type"] = std::string(ToString(spec.type));
    switch (spec.type) {
      case OutputSpec::Type::kStdout:
        break;
      case OutputSpec::Type::kFile: {
        char mode[8];
        std::snprintf(mode, sizeof mode, "0%o", spec.file.mode & 0777);
        out["path"] = spec.file.path;
        out["mode"] = std::string(mode);
        out["fsync_each"] = spec.file.fsync_each ? "true" : "false";
        break;
      }
      case OutputSpec::Type::kSyslog:
        out["host"] = spec.syslog.host;
        out["port"] = std::to_string(spec.syslog.port);
        out["transport"] = spec.syslog.transport == outputs::SyslogTransport::kTcp ? "tcp" : "udp";
        out["facility"] = std::to_string(spec.syslog.facility);
        out["app_name"] = spec.syslog.app_name;
        break;
      case OutputSpec::Type::kJournald:
        out["socket_path"] = spec.journald.socket_path;
        out["syslog_identifier"] = spec.journald.syslog_identifier;
        break;
    }
    list.push_back(out);
  }
  return list;
}

// ---- Tree walk
// -----------------------------------------------------------------------------------

void LoadSection(Context& ctx, const YAML::Node& map, const std::string& section,
                 WatchConfig& config, std::map<std::string, YAML::Node>* seen) {
  for (const auto& entry : map) {
    if (!entry.first.IsScalar()) {
      ctx.Error(section.empty() ? "(top level)" : section, entry.first,
                "keys must be plain names, found " + Describe(entry.first));
      continue;
    }
    const std::string& name = entry.first.Scalar();
    std::string key = section.empty() ? name : section + "." + name;
    (*seen)[key] = entry.second;
    if (key == "outputs") {
      LoadOutputs(ctx, entry.second, config);
    } else if (const Binding* binding = FindBinding(key)) {
      binding->load(ctx, key, entry.second, config);
    } else if (IsSection(key)) {
      if (entry.second.IsMap()) {
        LoadSection(ctx, entry.second, key, config, seen);
      } else if (!entry.second.IsNull()) {
        ctx.Expected(
            key, entry.second, "a mapping of keys (" + [&] {
              std::string list;
              for (const auto& child : ChildNames(key)) list += (list.empty() ? "" : ", ") + child;
              return list;
            }() + ")");
      }
    } else {
      ctx.Error(key, entry.first, "unknown key" + Suggestion(section, name));
    }
  }
}

// Cross-key checks, once every key is loaded.
void CheckWhole(Context& ctx, const std::map<std::string, YAML::Node>& seen, WatchConfig& config) {
  auto node_of = [&](const std::string& key) {
    auto it = seen.find(key);
    return it == seen.end() ? YAML::Node() : it->second;
  };
  const YAML::Node given_paths = node_of("paths");
  bool paths_given = given_paths.IsSequence() && given_paths.size() > 0;  // maybe invalid ones
  if (config.paths.empty() && !paths_given) {
    ctx.Error("paths", node_of("paths"),
              "no folder to protect: give paths on the command line (steen watch /srv/share) or "
              "under 'paths:' in the config file");
  }
  if (config.detect.note_max_folders_scored < config.detect.note_min_folders) {
    ctx.Error("detect.note_max_folders_scored", node_of("detect.note_max_folders_scored"),
              "must be >= detect.note_min_folders (" +
                  std::to_string(config.detect.note_min_folders) + ")");
  }
  if (config.detect.actor_idle_no_evidence_ns > config.detect.actor_idle_ns) {
    ctx.Error("detect.actor_idle_no_evidence", node_of("detect.actor_idle_no_evidence"),
              "must not be longer than detect.actor_idle (" +
                  FormatDuration(static_cast<int64_t>(config.detect.actor_idle_ns)) + ")");
  }
  if (config.kill_after.count() > 0 && config.action != Action::kSuspend) {
    ctx.Error("response.kill_after", node_of("response.kill_after"),
              "only applies with response.action: suspend (it is '" +
                  std::string(ToString(config.action)) + "'); set it to 0s");
  }
  if (config.hold_suspect_writes > config.permission_deadline) {
    ctx.Error("response.hold_suspect_writes", node_of("response.hold_suspect_writes"),
              "must not be longer than permission_deadline (" +
                  std::to_string(config.permission_deadline.count()) +
                  "ms): the deadline lets a held open through first");
  }
  CheckStateDir(ctx, "state_dir", node_of("state_dir"), config.state_dir);
  if (config.vault.enabled) {
    const std::string vault_dir = VaultDir(config);
    const std::string key = config.vault.dir.empty() ? "state_dir" : "vault.dir";
    for (const std::string& root : config.paths) {
      if (sys::PathIsUnder(vault_dir, root) || sys::PathIsUnder(root, vault_dir)) {
        ctx.Error(key, node_of(key),
                  "the vault " + vault_dir + " must not be inside or above the protected path " +
                      root + " (its copies would be watched like the files they protect)");
      }
    }
    if (config.vault.max_file_bytes > config.vault.max_bytes) {
      ctx.Error("vault.max_file_bytes", node_of("vault.max_file_bytes"),
                "must not be larger than vault.max_bytes (" +
                    std::to_string(config.vault.max_bytes) + ")");
    }
  }
  if (config.smb.block_reconnect && config.smb.ports.empty()) {
    ctx.Error("smb.ports", node_of("smb.ports"),
              "at least one port to refuse (or smb.block_reconnect: false)");
  }
  const YAML::Node prefixes = node_of("exclusions.paths");
  for (std::size_t i = 0; i < config.detect.exclusions.path_prefixes.size(); ++i) {
    const std::string& prefix = config.detect.exclusions.path_prefixes[i];
    bool inside = std::any_of(config.paths.begin(), config.paths.end(),
                              [&](const auto& root) { return sys::PathIsUnder(prefix, root); });
    if (!inside && !config.paths.empty()) {
      ctx.Warn("exclusions.paths." + std::to_string(i),
               prefixes.IsSequence() && i < prefixes.size() ? prefixes[i] : prefixes,
               prefix + " is outside every protected path: it excludes nothing");
    }
  }
}

// ---- Overrides
// -----------------------------------------------------------------------------------

// Sets `key` (dotted; numbers index lists, one past the end appends) to `value` in the tree.
// Returns what is wrong, or "".
std::string ApplyOverride(YAML::Node& root, const std::string& key, const YAML::Node& value) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = key.find('.', start);
    parts.push_back(key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& part : parts) {
    if (part.empty()) return "empty component in key '" + key + "'";
  }
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  YAML::Node current;
  current.reset(root);
  std::string walked;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    bool last = i + 1 == parts.size();
    bool next_is_index = !last && IsNumber(parts[i + 1]);
    YAML::Node fresh = last            ? value
                       : next_is_index ? YAML::Node(YAML::NodeType::Sequence)
                                       : YAML::Node(YAML::NodeType::Map);
    YAML::Node next;
    if (current.IsSequence()) {
      if (!IsNumber(part))
        return walked + " is a list: '" + part + "' must be an index (0, 1, ...)";
      std::size_t index = std::stoul(part);
      if (index > current.size()) {
        return "index " + part + " is past the end of " + walked + " (" +
               std::to_string(current.size()) + " entries; " + std::to_string(current.size()) +
               " appends one)";
      }
      if (index == current.size()) {
        current.push_back(fresh);
      } else if (last) {
        current[index] = value;
      } else if (!current[index].IsMap() && !current[index].IsSequence()) {
        current[index] = fresh;
      }
      next.reset(current[index]);
    } else {
      YAML::Node child = current[part];
      if (last) {
        child = value;
      } else if (!child.IsMap() && !child.IsSequence()) {
        child = fresh;
      }
      next.reset(current[part]);
    }
    walked += (walked.empty() ? "" : ".") + part;
    current.reset(next);
  }
  return "";
}

std::string Resolve(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) != nullptr) return resolved;
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

}  // namespace

StatusOr<WatchConfig> LoadWatchConfig(const ConfigSources& sources) {
  std::string file = sources.config_file.value_or("");
  Context ctx(file);
  YAML::Node root;
  if (sources.config_file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return Status::FromErrno("config file " + file, errno);
    if (!S_ISREG(st.st_mode))
      return Status::InvalidArgument("config file " + file + " is not a file");
    if (static_cast<std::size_t>(st.st_size) > limits::kMaxConfigFileBytes) {
      return Status::InvalidArgument("config file " + file + " is larger than 1 MiB: wrong file?");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return Status::FromErrno("config file " + file, errno);
    std::stringstream text;
    text << in.rdbuf();
    try {
      root = YAML::Load(text.str());
    } catch (const YAML::ParserException& e) {
      return Status::InvalidArgument(
          "config has 1 error:\n  " + file + ":" + std::to_string(e.mark.line + 1) + ":" +
          std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
    }
    if (!root.IsNull() && !root.IsMap()) {
      return Status::InvalidArgument("config has 1 error:\n  " + ctx.Where("", root) +
                                     ": expected a mapping of keys (paths:, detect:, outputs:, "
                                     "...), found " +
                                     Describe(root));
    }
  }
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);

  for (const auto& text : sources.overrides) {
    std::size_t eq = text.find('=');
    std::string origin = "-o " + text;
    std::string key = text.substr(0, eq);
    if (eq == std::string::npos || key.empty()) {
      ctx.RawError(origin + ": expected key=value (e.g. -o detect.alert_score=150)");
      continue;
    }
    YAML::Node value;
    try {
      value = YAML::Load(text.substr(eq + 1));
    } catch (const YAML::ParserException& e) {
      ctx.RawError(origin + ": the value is not valid YAML: " + e.msg);
      continue;
    }
    if (std::string problem = ApplyOverride(root, key, value); !problem.empty()) {
      ctx.RawError(origin + ": " + problem);
      continue;
    }
    ctx.AddOrigin(key, origin);
  }
  if (!sources.cli_paths.empty()) {
    YAML::Node paths(YAML::NodeType::Sequence);
    for (const auto& path : sources.cli_paths) paths.push_back(Resolve(path));
    root["paths"] = paths;
    ctx.AddOrigin("paths", "command line");
  }

  WatchConfig config = DefaultConfig();
  std::map<std::string, YAML::Node> seen;
  try {
    LoadSection(ctx, root, "", config, &seen);
  } catch (const YAML::Exception& e) {
    return Status::Internal("config: unexpected YAML error: " + std::string(e.what()));
  }
  if (sources.dry_run) config.dry_run = true;
  CheckWhole(ctx, seen, config);

  if (!ctx.errors().empty()) {
    std::string message = "config has " + std::to_string(ctx.errors().size()) +
                          (ctx.errors().size() == 1 ? " error:" : " errors:");
    for (const auto& error : ctx.errors()) message += "\n  " + error;
    return Status::InvalidArgument(message);
  }
  config.source = file;
  config.warnings = std::move(ctx.warnings());
  return config;
}

std::string RenderConfig(const WatchConfig& config) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& binding : Bindings()) {
    YAML::Node value = binding.key == "outputs" ? RenderOutputs(config) : binding.render(config);
    // Nested keys: walk/create the sections (the table lists a section's keys together).
    YAML::Node current;
    current.reset(root);
    std::string key = binding.key;
    std::size_t dot;
    while ((dot = key.find('.')) != std::string::npos) {
      YAML::Node child = current[key.substr(0, dot)];
      if (!child.IsMap()) child = YAML::Node(YAML::NodeType::Map);
      YAML::Node next;
      next.reset(current[key.substr(0, dot)]);
      current.reset(next);
      key = key.substr(dot + 1);
    }
    current[key] = value;
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> ConfigKeys() {
  std::vector<std::string> keys;
  for (const auto& binding : Bindings()) {
    if (binding.key == "outputs") {
      for (const auto& [type, names] : OutputKeys()) {
        for (const auto& name : names) {
          std::string key = "outputs.N." + name;
          if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
        }
      }
    } else {
      keys.push_back(binding.key);
    }
  }
  return keys;
}

StatusOr<std::vector<std::unique_ptr<outputs::AlertSink>>> MakeSinks(const WatchConfig& config) {
  std::vector<std::unique_ptr<outputs::AlertSink>> sinks;
  for (std::size_t i = 0; i < config.outputs.size(); ++i) {
    const OutputSpec& spec = config.outputs[i];
    std::string label = "outputs." + std::to_string(i) + " (" + std::string(ToString(spec.type));
    StatusOr<std::unique_ptr<outputs::AlertSink>> sink = Status::Internal("unreachable");
    switch (spec.type) {
      case OutputSpec::Type::kStdout:
        sink = outputs::MakeJsonLinesStdoutSink();
        label += ")";
        break;
      case OutputSpec::Type::kFile:
        sink = outputs::MakeJsonLinesFileSink(spec.file);
        label += " " + spec.file.path + ")";
        break;
      case OutputSpec::Type::kSyslog:
        sink = outputs::MakeSyslogSink(spec.syslog);
        label += " " + spec.syslog.host + ":" + std::to_string(spec.syslog.port) + ")";
        break;
      case OutputSpec::Type::kJournald: {
        outputs::JournaldOptions options = spec.journald;
        if (options.socket_path.empty()) {
          options.socket_path = std::string(outputs::kJournalDefaultSocket);
        }
        sink = outputs::MakeJournaldSink(options);
        label += " " + options.socket_path + ")";
        break;
      }
    }
    if (!sink.ok()) {
      std::string message = label + ": " + sink.status().message();
      return sink.status().code() == Status::Code::kInvalidArgument
                 ? Status::InvalidArgument(message)
                 : Status::IoError(message);
    }
    sinks.push_back(std::move(sink).value());
  }
  return sinks;
}

}  // namespace steen::watch
