#include "detect/describe.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "detect/names.h"
#include "steen/limits.h"

namespace steen::detect {
namespace {

std::string JoinFirst(const std::set<std::string>& items, std::size_t max, std::string_view sep) {
  std::string out;
  std::size_t n = 0;
  for (const std::string& item : items) {
    if (n == max) break;
    if (n++ > 0) out += sep;
    out += item;
  }
  return out;
}

std::string_view KindPhrase(DamageKind kind) {
  switch (kind) {
    case DamageKind::kEncrypted:
      return "random bytes";
    case DamageKind::kPartiallyEncrypted:
      return "partly random bytes";
    case DamageKind::kEncodedCiphertext:
      return "encoded ciphertext";
    case DamageKind::kBitTransformed:
      return "bit-transformed bytes";
    case DamageKind::kOverwritten:
      return "overwritten bytes";
    case DamageKind::kNone:
      break;
  }
  return "damaged bytes";
}

std::string Plural(int64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string ActorLabel(const Actor& actor) {
  std::string label = actor.exe.empty() ? actor.comm : actor.exe;
  if (label.empty()) label = "unknown executable";
  const std::string user = actor.user.empty() ? std::to_string(actor.uid) : actor.user;
  return fmt::format("{}, user {}", label, user);
}

std::string Subject(const ScopeState& state, const Actor& actor) {
  const std::size_t processes = std::max<std::size_t>(1, state.contributors.size());
  const std::string user = actor.user.empty() ? std::to_string(actor.uid) : actor.user;
  switch (state.scope) {
    case ActorScope::kProcess:
      return fmt::format("process {} ({})", actor.pid, ActorLabel(actor));
    case ActorScope::kProcessTree:
      if (state.key.rfind("sid:", 0) == 0) {
        return fmt::format("session {} ({}, user {})", state.key.substr(4),
                           Plural(processes, "process", "processes"), user);
      }
      return fmt::format("process tree of {} ({}, user {})", state.key,
                         Plural(processes, "process", "processes"), user);
    case ActorScope::kSmbClient:
      return fmt::format("SMB client {} ({} via smbd {})", state.key,
                         Plural(processes, "smbd process", "smbd processes"), actor.pid);
    case ActorScope::kCgroup:
      return fmt::format("cgroup {} ({}, last {})", state.key,
                         Plural(processes, "process", "processes"), ActorLabel(actor));
    case ActorScope::kUser:
      return fmt::format("user {} (uid {}, {})", user, state.key,
                         Plural(processes, "process", "processes"));
  }
  return state.key;
}

}  // namespace

const Contributor* MainContributor(const ScopeState& state) {
  const Contributor* best = nullptr;
  for (const auto& [key, contributor] : state.contributors) {
    if (best == nullptr ||
        std::make_tuple(contributor.destruction, contributor.support, contributor.last_ns) >
            std::make_tuple(best->destruction, best->support, best->last_ns)) {
      best = &contributor;
    }
  }
  return best;
}

Alert DescribeAlert(const ScopeState& state, const DetectConfig& config,
                    const AlertContext& context) {
  Alert alert;
  alert.id = context.id;
  alert.wall_time_ns = context.wall_time_ns;
  alert.scope = state.scope;
  alert.scope_key = state.key;
  alert.score = context.score;
  alert.rule_name = state.canary_count > 0 ? "canary-touched" : "ransomware-encryption";
  alert.severity =
      (state.canary_count > 0 || context.score >= 2 * config.alert_score) ? "critical" : "high";
  const Contributor* main = MainContributor(state);
  alert.actor = main != nullptr ? main->actor : context.fallback_actor;
  alert.pids = context.pids;

  // Facts gathered from the records.
  std::set<std::string> intact_formats, lost_formats, replacement_exts, folders;
  std::set<std::string> encrypted_over_formats, container_formats;
  std::set<DamageKind> kinds;
  for (const FileRecord& record : state.records) {
    if (record.bits & kDestructionBits) folders.insert(std::string(Folder(record.path)));
    if (record.bits & kDamagedFromIntact) {
      if (!record.before_format.empty()) intact_formats.insert(record.before_format);
      kinds.insert(record.after_kind);
    }
    if ((record.bits & kFormatLost) && !record.before_format.empty()) {
      lost_formats.insert(record.before_format);
    }
    if (record.bits & kEncryptedOver) {
      if (!record.before_format.empty()) encrypted_over_formats.insert(record.before_format);
      container_formats.insert(record.after_format);
    }
    if (record.bits & kReplacedOriginal) {
      // An original taken into an encrypted archive keeps its own record: the archive's format.
      const std::string ext =
          record.path == record.replaced ? "" : ToLower(Extension(BaseName(record.path)));
      replacement_exts.insert(ext.empty() ? record.after_format : "." + ext);
    }
  }

  std::vector<std::string> parts;
  auto add = [&](std::string name, int64_t count, std::string detail) {
    if (count <= 0) return;
    parts.push_back(detail);
    alert.indicators.push_back(Indicator{std::move(name), count, std::move(detail)});
  };
  if (state.canary_count > 0) {
    add("canary_touched", state.canary_count,
        fmt::format("touched canary {}",
                    JoinFirst({state.canary_paths.begin(), state.canary_paths.end()}, 3, ", ")));
  }
  {
    const int64_t n = state.CountBit(kDamagedFromIntact);
    const std::string kind =
        kinds.size() == 1 ? std::string(KindPhrase(*kinds.begin())) : "damaged bytes";
    add("damaged_files", n,
        fmt::format("{} went from valid {} to {}", n,
                    intact_formats.empty() ? "files" : JoinFirst(intact_formats, 4, "/"), kind));
  }
  {
    const int64_t n = state.CountBit(kDamagedUnknownBefore);
    add("damaged_unknown_before", n,
        fmt::format("{} of unrecognised format turned into damaged bytes", n));
  }
  {
    const int64_t n = state.CountBit(kDamagedNoBefore);
    add("damaged_no_before", n,
        fmt::format("{} now hold damaged bytes (no earlier view seen)",
                    Plural(n, "file", "files")));
  }
  {
    const int64_t n = state.CountBit(kRandomnessGained) + state.CountBit(kRandomnessGainedIntact);
    add("randomness_gained", n, fmt::format("{} gained random blocks", n));
  }
  {
    const int64_t n = state.CountBit(kFormatLost);
    add("format_lost", n,
        fmt::format("{} lost their {} format", n,
                    lost_formats.empty() ? "file" : JoinFirst(lost_formats, 4, "/")));
  }
  {
    const int64_t n = state.CountBit(kReplacedOriginal);
    add("replaced_originals", n,
        fmt::format("{} deleted and replaced by encrypted copies ({})",
                    Plural(n, "original", "originals"), JoinFirst(replacement_exts, 3, ", ")));
  }
  {
    const int64_t n = state.CountBit(kEncryptedOver);
    add("encrypted_over_originals", n,
        fmt::format(
            "{} from valid {} to an encrypted container ({})",
            Plural(n, "original rewritten", "originals rewritten"),
            encrypted_over_formats.empty() ? "files" : JoinFirst(encrypted_over_formats, 4, "/"),
            JoinFirst(container_formats, 3, ", ")));
  }
  {
    const int64_t n = state.CountBit(kNewDamaged);
    add("new_damaged_files", n,
        fmt::format("{} with random content", Plural(n, "new file", "new files")));
  }
  {
    std::vector<std::pair<int, std::string>> exts;
    for (const auto& [ext, count] : state.ext_counts) exts.emplace_back(count, ext);
    std::sort(exts.rbegin(), exts.rend());
    for (std::size_t i = 0; i < exts.size() && i < 3; ++i) {
      add("renamed_extension", exts[i].first,
          fmt::format("renamed {} to .{}", exts[i].first, exts[i].second));
    }
  }
  {
    std::vector<const NoteName*> notes;
    for (const auto& [lower, note] : state.notes) {
      if (static_cast<int>(note.folders.size()) >= config.note_min_folders || note.pattern) {
        notes.push_back(&note);
      }
    }
    std::sort(notes.begin(), notes.end(), [](const NoteName* a, const NoteName* b) {
      return a->folders.size() > b->folders.size();
    });
    for (std::size_t i = 0; i < notes.size() && i < 2 && state.NoteScore(config) > 0; ++i) {
      const int64_t n = static_cast<int64_t>(notes[i]->folders.size());
      add("ransom_notes", n,
          fmt::format("note {} written in {}", notes[i]->name, Plural(n, "folder", "folders")));
    }
  }
  if (state.RateApplies(context.now_ns, config)) {
    const int n = state.RecentFolders(context.now_ns, config);
    add("write_rate", n,
        fmt::format("wrote in {} folders within {} s", n, config.rate_window_ns / 1'000'000'000));
  }

  // Files, newest last.
  for (const std::string& canary : state.canary_paths) alert.files.push_back(canary);
  std::vector<std::string> recent;
  for (auto it = state.records.rbegin(); it != state.records.rend(); ++it) {
    if (recent.size() + alert.files.size() >= limits::kMaxAlertFiles) break;
    if (it->destruction > 0 || it->support > 0 || it->counted_rename) recent.push_back(it->path);
  }
  alert.files.insert(alert.files.end(), recent.rbegin(), recent.rend());
  alert.file_count = state.FilesWithEvidence() + state.canary_count;

  const int64_t destroyed = state.DestroyedFiles();
  std::string message = Subject(state, alert.actor);
  if (destroyed > 0) {
    message += fmt::format(" damaged {} in {}: ", Plural(destroyed, "file", "files"),
                           Plural(static_cast<int64_t>(std::max<std::size_t>(1, folders.size())),
                                  "folder", "folders"));
  } else {
    message += ": ";
  }
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) message += "; ";
    message += parts[i];
  }
  if (context.escalation) message += fmt::format(" (escalated: score {:.0f})", context.score);
  alert.message = std::move(message);
  return alert;
}

}  // namespace steen::detect
