// The evidence held for one actor scope (a process, a process tree or session, an SMB client, a
// cgroup or a user): one record per distinct file, note candidates, new extensions, folders
// written, and the processes that contributed. Every container is bounded by limits.h.
#pragma once

#include <array>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "steen/alert.h"
#include "steen/detect.h"
#include "steen/event.h"

namespace steen::detect {

// Evidence about one file. Destruction bits (the low byte) can alert; the others only support.
enum Evidence : uint32_t {
  kDamagedFromIntact = 1u << 0,
  kDamagedUnknownBefore = 1u << 1,
  kDamagedNoBefore = 1u << 2,
  kRandomnessGained = 1u << 3,
  kRandomnessGainedIntact = 1u << 4,
  kFormatLost = 1u << 5,
  kReplacedOriginal = 1u << 6,
  // An intact original rewritten, or renamed over, as an encrypted container.
  kEncryptedOver = 1u << 7,
  kDestructionBits = 0xFFu,
  kNewDamaged = 1u << 8,
  kRenamedAppended = 1u << 9,
  kRenamedReplaced = 1u << 10,  // weighs only when the file also carries destruction
};
inline constexpr int kEvidenceBitCount = 11;
double WeightOf(uint32_t bit, const DetectConfig& config);

struct FileRecord {
  std::string key;   // index key; empty once the file was deleted (the evidence stays)
  std::string path;  // latest path
  uint32_t bits = 0;
  double destruction = 0;  // capped sum of destruction weights
  double support = 0;      // new-damaged weight (renames are scored per extension)
  std::string rename_ext;  // new extension, counted in ext_counts while counted_rename
  bool counted_rename = false;
  std::string before_format;  // valid format before the damage (for the message)
  DamageKind after_kind = DamageKind::kNone;
  std::string after_format;
  std::string replaced;  // the deleted original this file replaced
  uint64_t first_ns = 0;
  uint64_t last_ns = 0;
};

struct Contributor {
  Actor actor;
  double destruction = 0;
  double support = 0;
  uint64_t last_ns = 0;
};

struct NoteName {
  std::vector<std::string> folders;
  std::string name;  // as written (the key is lower case)
  bool pattern = false;
  uint64_t last_ns = 0;
};

// What a write, rename or pairing adds to a file's record.
struct EvidenceUpdate {
  uint32_t bits = 0;
  std::string before_format;
  DamageKind after_kind = DamageKind::kNone;
  std::string after_format;
  std::string rename_ext;
  std::string replaced;
};

class ScopeState {
 public:
  ScopeState(ActorScope scope, std::string key, uint64_t root_start)
      : scope(scope), key(std::move(key)), root_start(root_start) {}

  // Merges evidence into the file's record (creating it). Returns the number of records evicted
  // because the per-scope cap was reached.
  int AddEvidence(const std::string& file_key, std::string_view path, const EvidenceUpdate& update,
                  const DetectConfig& config, uint64_t now_ns);
  const FileRecord* Find(const std::string& file_key) const;
  // A rename: the record follows the file (only the path changes when the key is an inode).
  void Rekey(const std::string& old_key, const std::string& new_key, std::string_view new_path);
  // A delete: the record leaves the index (a reused inode is a new file) but keeps its evidence.
  void Unindex(const std::string& file_key);

  void AddCanary(std::string_view path);
  void AddNoteCandidate(std::string_view name, std::string_view folder, bool pattern,
                        uint64_t now_ns);
  void Wrote(std::string_view folder, uint64_t now_ns);
  void Contribute(const Actor& actor, double destruction, double support, uint64_t now_ns);
  // Drops evidence older than the evidence window and folders older than the rate window.
  void Expire(uint64_t now_ns, const DetectConfig& config);

  double Destruction(const DetectConfig& config) const;
  double Support(const DetectConfig& config) const;  // new damaged files + renames
  double RenameScore(const DetectConfig& config) const;
  double NoteScore(const DetectConfig& config) const;
  int RecentFolders(uint64_t now_ns, const DetectConfig& config) const;
  bool RateApplies(uint64_t now_ns, const DetectConfig& config) const;
  double Score(uint64_t now_ns, const DetectConfig& config) const;
  bool HasEvidence() const;
  int64_t FilesWithEvidence() const;
  int64_t DestroyedFiles() const;
  int64_t CountBit(uint32_t bit) const;

  const ActorScope scope;
  const std::string key;
  uint64_t root_start = 0;  // start time of the process (process scope) when known
  ScopeMatcher matcher;     // the actors it covers
  uint64_t last_seen_ns = 0;
  uint64_t last_event_seq = 0;  // pins the scope against eviction during one Observe call

  bool alerted = false;
  bool alerted_canary = false;
  bool covered = false;  // process scopes: an alert already covers this process
  double alerted_score = 0;

  int64_t canary_count = 0;
  std::vector<std::string> canary_paths;  // first few

  std::list<FileRecord> records;  // oldest evidence first
  std::unordered_map<std::string, std::list<FileRecord>::iterator> index;
  std::unordered_map<std::string, int> ext_counts;
  std::unordered_map<std::string, NoteName> notes;
  std::unordered_map<std::string, uint64_t> folders;          // folder -> last write
  std::unordered_map<std::string, Contributor> contributors;  // "pid:start"
  // Contributors an alert of this scope already named (and so targeted): a contributor with
  // evidence that is not among them makes the alerted scope alert again at once.
  std::unordered_set<std::string> alerted_contributors;

  // Records dropped by the per-scope cap: their score and counts stay.
  double evicted_destruction = 0;
  double evicted_support = 0;
  int64_t evicted_files = 0;
  int64_t evicted_destroyed_files = 0;
  std::array<int64_t, kEvidenceBitCount> evicted_bit_counts{};

 private:
  void Recompute(FileRecord& record, const DetectConfig& config);
  void Remove(std::list<FileRecord>::iterator it, bool keep_score);

  double destruction_sum_ = 0;
  double support_sum_ = 0;
};

}  // namespace steen::detect
