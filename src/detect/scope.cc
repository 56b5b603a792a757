#include "detect/scope.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "steen/limits.h"

namespace steen::detect {

double WeightOf(uint32_t bit, const DetectConfig& config) {
  switch (bit) {
    case kDamagedFromIntact:
      return config.weight_damaged_from_intact;
    case kDamagedUnknownBefore:
      return config.weight_damaged_unknown_before;
    case kDamagedNoBefore:
      return config.weight_damaged_no_before;
    case kRandomnessGained:
      return config.weight_randomness_gained;
    case kRandomnessGainedIntact:
      return config.weight_randomness_gained_intact;
    case kFormatLost:
      return config.weight_format_lost;
    case kReplacedOriginal:
    case kEncryptedOver:  // the same destruction as a pair: the original's bytes now ciphertext
      return config.weight_replaced_original;
    case kNewDamaged:
      return config.weight_new_damaged_file;
    default:
      return 0;  // renames are scored per extension
  }
}

void ScopeState::Recompute(FileRecord& record, const DetectConfig& config) {
  double destruction = 0;
  for (int i = 0; i < 8; ++i) {
    const uint32_t bit = 1u << i;
    if (record.bits & bit) destruction += WeightOf(bit, config);
  }
  destruction = std::min(destruction, config.max_file_destruction);
  const double support = (record.bits & kNewDamaged) ? WeightOf(kNewDamaged, config) : 0;
  destruction_sum_ += destruction - record.destruction;
  support_sum_ += support - record.support;
  record.destruction = destruction;
  record.support = support;

  const bool count_rename =
      !record.rename_ext.empty() &&
      ((record.bits & kRenamedAppended) ||
       ((record.bits & kRenamedReplaced) && (record.bits & kDestructionBits)));
  if (count_rename != record.counted_rename) {
    if (count_rename) {
      if (ext_counts.size() < limits::kMaxDetectExtensionsPerScope ||
          ext_counts.count(record.rename_ext) > 0) {
        ++ext_counts[record.rename_ext];
        record.counted_rename = true;
      }
    } else {
      auto it = ext_counts.find(record.rename_ext);
      if (it != ext_counts.end() && --it->second <= 0) ext_counts.erase(it);
      record.counted_rename = false;
    }
  }
}

int ScopeState::AddEvidence(const std::string& file_key, std::string_view path,
                            const EvidenceUpdate& update, const DetectConfig& config,
                            uint64_t now_ns) {
  auto found = index.find(file_key);
  std::list<FileRecord>::iterator it;
  if (found == index.end()) {
    FileRecord record;
    record.key = file_key;
    record.first_ns = now_ns;
    records.push_back(std::move(record));
    it = std::prev(records.end());
    index.emplace(file_key, it);
  } else {
    it = found->second;
    records.splice(records.end(), records, it);  // newest evidence last
  }
  FileRecord& record = *it;
  record.path = std::string(path);
  record.last_ns = now_ns;
  record.bits |= update.bits;
  if (!update.before_format.empty() && record.before_format.empty()) {
    record.before_format = update.before_format;
  }
  if (update.after_kind != DamageKind::kNone) record.after_kind = update.after_kind;
  if (!update.after_format.empty()) record.after_format = update.after_format;
  if (!update.replaced.empty()) record.replaced = update.replaced;
  if (!update.rename_ext.empty() && update.rename_ext != record.rename_ext) {
    // A second rename to another extension: uncount the first before switching.
    if (record.counted_rename) {
      auto ext = ext_counts.find(record.rename_ext);
      if (ext != ext_counts.end() && --ext->second <= 0) ext_counts.erase(ext);
      record.counted_rename = false;
    }
    record.rename_ext = update.rename_ext;
  }
  Recompute(record, config);

  int evicted = 0;
  while (records.size() > limits::kMaxDetectFilesPerScope) {
    Remove(records.begin(), /*keep_score=*/true);
    ++evicted;
  }
  return evicted;
}

void ScopeState::Remove(std::list<FileRecord>::iterator it, bool keep_score) {
  FileRecord& record = *it;
  if (keep_score && (record.destruction > 0 || record.support > 0 || record.counted_rename)) {
    evicted_destruction += record.destruction;
    evicted_support += record.support;
    ++evicted_files;
    if (record.bits & kDestructionBits) ++evicted_destroyed_files;
    for (int i = 0; i < kEvidenceBitCount; ++i) {
      if (record.bits & (1u << i)) ++evicted_bit_counts[i];
    }
  }
  destruction_sum_ -= record.destruction;
  support_sum_ -= record.support;
  // An evicted rename stays in ext_counts (it keeps scoring); an expired one leaves.
  if (record.counted_rename && !keep_score) {
    auto ext = ext_counts.find(record.rename_ext);
    if (ext != ext_counts.end() && --ext->second <= 0) ext_counts.erase(ext);
  }
  if (!record.key.empty()) index.erase(record.key);
  records.erase(it);
}

const FileRecord* ScopeState::Find(const std::string& file_key) const {
  auto it = index.find(file_key);
  return it == index.end() ? nullptr : &*it->second;
}

void ScopeState::Rekey(const std::string& old_key, const std::string& new_key,
                       std::string_view new_path) {
  auto it = index.find(old_key);
  if (it == index.end()) return;
  auto record = it->second;
  record->path = std::string(new_path);
  if (old_key == new_key) return;
  index.erase(it);
  auto clash = index.find(new_key);
  if (clash != index.end()) {
    // Renamed over a file that had its own record: that one was replaced (deleted).
    clash->second->key.clear();
    index.erase(clash);
  }
  record->key = new_key;
  index.emplace(new_key, record);
}

void ScopeState::Unindex(const std::string& file_key) {
  auto it = index.find(file_key);
  if (it == index.end()) return;
  it->second->key.clear();
  index.erase(it);
}

void ScopeState::AddCanary(std::string_view path) {
  if (std::find(canary_paths.begin(), canary_paths.end(), path) != canary_paths.end()) return;
  ++canary_count;
  if (canary_paths.size() < 8) canary_paths.emplace_back(path);
}

void ScopeState::AddNoteCandidate(std::string_view name, std::string_view folder, bool pattern,
                                  uint64_t now_ns) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto it = notes.find(lower);
  if (it == notes.end()) {
    if (notes.size() >= limits::kMaxDetectNoteNamesPerScope) {
      // Keep the names that look most like notes: drop the weakest (fewest folders, no pattern).
      auto weakest = std::min_element(notes.begin(), notes.end(), [](const auto& a, const auto& b) {
        return std::make_tuple(a.second.pattern, a.second.folders.size(), a.second.last_ns) <
               std::make_tuple(b.second.pattern, b.second.folders.size(), b.second.last_ns);
      });
      const auto& w = weakest->second;
      if (std::make_tuple(w.pattern, w.folders.size()) > std::make_tuple(pattern, size_t{1})) {
        return;
      }
      notes.erase(weakest);
    }
    it = notes.emplace(lower, NoteName{}).first;
    it->second.name = std::string(name);
  }
  NoteName& note = it->second;
  note.pattern = note.pattern || pattern;
  note.last_ns = now_ns;
  if (note.folders.size() < limits::kMaxDetectNoteFoldersPerName &&
      std::find(note.folders.begin(), note.folders.end(), folder) == note.folders.end()) {
    note.folders.emplace_back(folder);
  }
}

void ScopeState::Wrote(std::string_view folder, uint64_t now_ns) {
  auto it = folders.find(std::string(folder));
  if (it != folders.end()) {
    it->second = std::max(it->second, now_ns);
    return;
  }
  if (folders.size() >= limits::kMaxDetectRateFoldersPerScope) {
    auto oldest =
        std::min_element(folders.begin(), folders.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    folders.erase(oldest);
  }
  folders.emplace(std::string(folder), now_ns);
}

void ScopeState::Contribute(const Actor& actor, double destruction, double support,
                            uint64_t now_ns) {
  if (actor.pid <= 0) return;
  const std::string key = std::to_string(actor.pid) + ":" + std::to_string(actor.start_time);
  auto it = contributors.find(key);
  if (it == contributors.end()) {
    if (contributors.size() >= limits::kMaxDetectContributorsPerScope) {
      auto least = std::min_element(
          contributors.begin(), contributors.end(), [](const auto& a, const auto& b) {
            return std::make_tuple(a.second.destruction, a.second.support, a.second.last_ns) <
                   std::make_tuple(b.second.destruction, b.second.support, b.second.last_ns);
          });
      contributors.erase(least);
    }
    it = contributors.emplace(key, Contributor{}).first;
  }
  it->second.actor = actor;
  it->second.destruction += destruction;
  it->second.support += support;
  it->second.last_ns = now_ns;
}

void ScopeState::Expire(uint64_t now_ns, const DetectConfig& config) {
  while (!records.empty() && records.front().last_ns + config.evidence_window_ns < now_ns) {
    Remove(records.begin(), /*keep_score=*/false);
  }
  for (auto it = notes.begin(); it != notes.end();) {
    it = it->second.last_ns + config.evidence_window_ns < now_ns ? notes.erase(it) : std::next(it);
  }
  for (auto it = folders.begin(); it != folders.end();) {
    it = it->second + config.rate_window_ns < now_ns ? folders.erase(it) : std::next(it);
  }
}

double ScopeState::Destruction(const DetectConfig& config) const {
  return destruction_sum_ + evicted_destruction +
         static_cast<double>(canary_count) * config.weight_canary;
}

double ScopeState::RenameScore(const DetectConfig& config) const {
  double score = 0;
  for (const auto& [ext, count] : ext_counts) {
    const double weight = count >= config.rename_cluster_min
                              ? config.weight_renamed_extension_shared
                              : config.weight_renamed_extension;
    score += weight * count;
  }
  return score;
}

double ScopeState::Support(const DetectConfig& config) const {
  return support_sum_ + evicted_support + RenameScore(config);
}

double ScopeState::NoteScore(const DetectConfig& config) const {
  double score = 0;
  for (const auto& [lower, note] : notes) {
    const int folders_with_note = static_cast<int>(note.folders.size());
    if (folders_with_note >= config.note_min_folders) {
      score +=
          config.weight_note_folder * std::min(folders_with_note, config.note_max_folders_scored);
    }
    if (note.pattern) score += config.weight_note_name;
  }
  return std::min(score, config.max_note_score);
}

int ScopeState::RecentFolders(uint64_t now_ns, const DetectConfig& config) const {
  int count = 0;
  for (const auto& [folder, last] : folders) {
    if (last + config.rate_window_ns >= now_ns) ++count;
  }
  return count;
}

bool ScopeState::RateApplies(uint64_t now_ns, const DetectConfig& config) const {
  return RecentFolders(now_ns, config) >= config.rate_min_folders;
}

double ScopeState::Score(uint64_t now_ns, const DetectConfig& config) const {
  const double base = Destruction(config) + Support(config) + NoteScore(config);
  return RateApplies(now_ns, config) ? base * config.rate_multiplier : base;
}

bool ScopeState::HasEvidence() const {
  return destruction_sum_ + evicted_destruction > 0 || canary_count > 0 || alerted;
}

int64_t ScopeState::FilesWithEvidence() const {
  int64_t count = evicted_files;
  for (const FileRecord& record : records) {
    if (record.destruction > 0 || record.support > 0 || record.counted_rename) ++count;
  }
  return count;
}

int64_t ScopeState::DestroyedFiles() const {
  int64_t count = evicted_destroyed_files;
  for (const FileRecord& record : records) {
    if (record.bits & kDestructionBits) ++count;
  }
  return count;
}

int64_t ScopeState::CountBit(uint32_t bit) const {
  int64_t count = 0;
  for (int i = 0; i < kEvidenceBitCount; ++i) {
    if (bit == (1u << i)) count += evicted_bit_counts[i];
  }
  for (const FileRecord& record : records) {
    if (record.bits & bit) ++count;
  }
  return count;
}

}  // namespace steen::detect
