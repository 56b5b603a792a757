// Detector: routes each event to the scopes of its actor, classifies what the event did to the
// file, pairs new encrypted files with deleted originals, and decides when a scope alerts.
#include <algorithm>
#include <charconv>
#include <deque>
#include <list>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "detect/describe.h"
#include "detect/names.h"
#include "detect/scope.h"
#include "steen/detect.h"
#include "steen/limits.h"

namespace steen {

bool ChangeNeedsBefore(const ContentView& after, const DetectConfig& config) {
  // Mirrors detect::ClassifyContent: damage and a lost format need a non-intact `after` (or one
  // of no known format), a randomness gain needs a random enough one.
  return after.verdict != Verdict::kIntact || after.format == "unknown" ||
         (after.blocks_measured && after.random_block_fraction >= config.randomness_after_min);
}

bool CouldReplaceOriginal(const ContentView& content, const DetectConfig& config) {
  return content.verdict == Verdict::kDamaged ||
         detect::Contains(config.container_formats, content.format);
}

namespace detect {
namespace {

// The identity of an actor as far as scope membership goes.
struct ActorKeys {
  pid_t pid = 0;
  uint64_t start = 0;
  pid_t ppid = 0;
  pid_t sid = 0;
  uid_t uid = 0;
  bool has_user = false;
  std::string cgroup;
  std::string smb;
};

struct ScopeRef : ScopeMatcher {
  std::string map_key;
};

std::string SmbKey(const Actor& actor) {
  if (actor.smb_client_address.empty()) return {};
  return actor.smb_client_address + " " + (actor.smb_user.empty() ? "-" : actor.smb_user);
}

bool UsefulCgroup(const std::string& cgroup) { return !cgroup.empty() && cgroup != "/"; }

ActorKeys KeysOf(const Actor& actor) {
  ActorKeys keys;
  keys.pid = actor.pid;
  keys.start = actor.start_time;
  keys.ppid = actor.ppid;
  keys.sid = actor.sid;
  keys.uid = actor.uid;
  keys.has_user = !actor.user.empty();  // a process gone unattributed has no known user
  keys.cgroup = actor.cgroup;
  keys.smb = SmbKey(actor);
  return keys;
}

bool InScope(const ScopeMatcher& ref, const ActorKeys& keys) {
  switch (ref.scope) {
    case ActorScope::kProcess:
      return keys.pid == ref.pid &&
             (ref.root_start == 0 || keys.start == 0 || keys.start == ref.root_start);
    case ActorScope::kProcessTree:
      if (!keys.smb.empty()) return false;
      if (ref.sid != 0) return keys.sid == ref.sid;
      if (keys.pid == ref.pid) {
        return ref.root_start == 0 || keys.start == 0 || keys.start == ref.root_start;
      }
      return keys.ppid == ref.pid;
    case ActorScope::kSmbClient:
      return keys.smb == ref.key;
    case ActorScope::kCgroup:
      return keys.cgroup == ref.key;
    case ActorScope::kUser:
      return keys.has_user && keys.uid == ref.uid;
  }
  return false;
}

std::string MapKey(ActorScope scope, std::string_view key) {
  return std::string(ToString(scope)) + "|" + std::string(key);
}

std::string FileKey(uint64_t device, uint64_t inode, std::string_view path) {
  if (inode != 0) return "i:" + std::to_string(device) + ":" + std::to_string(inode);
  return "p:" + std::string(path);
}

// The deepest process in every chain (each a contributor's pid, then its ancestors); 0 if none.
pid_t DeepestCommon(const std::vector<std::vector<pid_t>>& chains) {
  if (chains.empty()) return 0;
  for (pid_t candidate : chains.front()) {
    if (std::all_of(chains.begin() + 1, chains.end(), [&](const std::vector<pid_t>& chain) {
          return std::find(chain.begin(), chain.end(), candidate) != chain.end();
        })) {
      return candidate;
    }
  }
  return 0;
}

std::vector<pid_t> ChainOf(const Actor& actor) {
  std::vector<pid_t> chain = {actor.pid};
  chain.insert(chain.end(), actor.ancestors.begin(), actor.ancestors.end());
  return chain;
}

// The deepest process that is, or is an ancestor of, every contributor, without leaving their
// login session (each chain ends at its session leader, whose pid is the session id): 0 when there
// is none, or a contributor's chain does not reach its leader (a daemonised process).
pid_t CommonAncestorInSession(const std::vector<const Contributor*>& contributors) {
  std::vector<std::vector<pid_t>> chains;
  for (const Contributor* contributor : contributors) {
    const Actor& actor = contributor->actor;
    std::vector<pid_t> chain = ChainOf(actor);
    const auto leader = std::find(chain.begin(), chain.end(), actor.sid);
    if (actor.sid <= 1 || leader == chain.end()) return 0;
    chain.erase(std::next(leader), chain.end());
    chains.push_back(std::move(chain));
  }
  return DeepestCommon(chains);
}

// The same across sessions, at most `generations` above each contributor (a user's workers each
// in a session of their own, started by one loop); 0 when there is none that near.
pid_t CommonAncestorNear(const std::vector<const Contributor*>& contributors, int generations) {
  std::vector<std::vector<pid_t>> chains;
  for (const Contributor* contributor : contributors) {
    std::vector<pid_t> chain = ChainOf(contributor->actor);
    if (chain.size() > static_cast<std::size_t>(generations) + 1) chain.resize(generations + 1);
    chains.push_back(std::move(chain));
  }
  return DeepestCommon(chains);
}

bool StructuredFormat(const std::string& format) {
  return !format.empty() && format != "unknown" && format != "text" && format != "empty";
}

// An intact file whose bytes are now an encrypted container (openssl enc, gpg, age, 7z -p...)
// written in place or renamed over it. A container over a container (an archive updated, a vault
// re-encrypted) and a first write of an empty file are not.
// Password-protected office documents and PDFs keep their format and are not counted: a user
// protecting documents is no attack, and the file stays usable.
bool EncryptedOver(const ContentView& was, const ContentView& now, const DetectConfig& config) {
  return was.verdict == Verdict::kIntact && !was.encrypted_container && was.format != "empty" &&
         !was.format.empty() && now.verdict == Verdict::kIntact && now.encrypted_container &&
         now.format != was.format && Contains(config.container_formats, now.format);
}

// What a change of content (before -> after) did to one file.
EvidenceUpdate ClassifyContent(const std::optional<ContentView>& before,
                               const std::optional<ContentView>& after, bool is_new,
                               const DetectConfig& config) {
  EvidenceUpdate update;
  if (!after) return update;
  const ContentView& now = *after;
  const bool damaged = now.verdict == Verdict::kDamaged;
  if (damaged) update.after_kind = now.kind;
  update.after_format = now.format;
  if (is_new) {
    if (damaged) update.bits |= kNewDamaged;
    return update;
  }
  if (!before) {
    if (damaged) update.bits |= kDamagedNoBefore;
    return update;
  }
  const ContentView& was = *before;
  if (was.verdict == Verdict::kDamaged) return update;  // nothing left to destroy
  if (EncryptedOver(was, now, config)) {
    update.bits |= kEncryptedOver;
    update.before_format = was.format;
    return update;
  }
  if (!ChangeNeedsBefore(now, config)) return update;
  if (damaged) {
    if (was.verdict == Verdict::kIntact) {
      update.bits |= kDamagedFromIntact;
      update.before_format = was.format;
    } else {
      update.bits |= kDamagedUnknownBefore;
    }
    return update;
  }
  if (was.blocks_measured && now.blocks_measured &&
      now.random_block_fraction - was.random_block_fraction >= config.randomness_gain_min &&
      now.random_block_fraction >= config.randomness_after_min) {
    update.bits |= now.verdict == Verdict::kIntact ? kRandomnessGainedIntact : kRandomnessGained;
    update.before_format = was.format;
  }
  // A valid structure gone, whatever replaced it: damage, or bytes of no known format at all
  // (a wiper's zeros or junk over the header read as "intact, unknown": nothing random).
  if (was.verdict == Verdict::kIntact && StructuredFormat(was.format) &&
      (now.verdict != Verdict::kIntact || now.format == "unknown") && now.format != was.format) {
    update.bits |= kFormatLost;
    update.before_format = was.format;
  }
  return update;
}

// A bounded map with least-recently-used eviction and time expiry (insertion order = time order).
template <typename Value>
class LruMap {
 public:
  explicit LruMap(std::size_t capacity) : capacity_(capacity) {}
  Value* Find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  Value& Put(const std::string& key, Value value) {
    Erase(key);
    entries_.emplace_back(key, std::move(value));
    index_.emplace(key, std::prev(entries_.end()));
    while (entries_.size() > capacity_) {
      index_.erase(entries_.front().first);
      entries_.pop_front();
    }
    return entries_.back().second;
  }
  void Erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    entries_.erase(it->second);
    index_.erase(it);
  }
  template <typename Expired>
  void ExpireFront(Expired expired) {
    while (!entries_.empty() && expired(entries_.front().second)) {
      index_.erase(entries_.front().first);
      entries_.pop_front();
    }
  }
  std::size_t size() const { return entries_.size(); }

 private:
  std::size_t capacity_;
  std::list<std::pair<std::string, Value>> entries_;
  std::unordered_map<std::string, typename std::list<std::pair<std::string, Value>>::iterator>
      index_;
};

struct ReadInfo {
  uint64_t time = 0;
  uint64_t size = 0;
  std::vector<ActorKeys> readers;  // the last two (RememberReader)
};

struct Creation {
  uint64_t time = 0;
  ActorKeys creator;
};

// A file created moments ago is new to the process that writes it only when that process's user
// or SMB client created it: a writer overwriting a file somebody else just made (a colleague's
// upload, an administrator's restore) destroys content, and must be judged as such.
// The same SMB client, the same process, or the same user.
bool SameParty(const ActorKeys& a, const ActorKeys& b) {
  if (!a.smb.empty() || !b.smb.empty()) return a.smb == b.smb;
  if (a.pid > 0 && a.pid == b.pid && a.start == b.start) return true;
  return a.has_user && b.has_user && a.uid == b.uid;
}

bool CreatedBySameParty(const Creation& creation, const ActorKeys& writer) {
  return SameParty(creation.creator, writer);
}

// A canary deleted by a party that had not read it (yet): a mirror (rsync --delete) removing a
// file its source does not have, unless that party's read of it still arrives (an encryptor that
// holds the original while it unlinks it closes it afterwards, "PATH (deleted)").
struct UnreadCanaryDelete {
  std::string path;
  uint64_t time = 0;
  ActorKeys keys;
};

// A new file that may replace an original: damaged bytes or an encrypted container.
struct PendingNew {
  std::string file_key;
  std::string path;
  uint64_t size = 0;
  uint64_t time = 0;
  ActorKeys keys;
  Actor writer;  // who wrote it: credited with the destruction when it replaces an original
  std::string format;
  bool encrypted_container = false;    // may hold many originals (an archive), see TryPair
  std::vector<std::string> paired_in;  // scope map keys where it already replaced an original
};

// An existing file that was deleted, waiting for its replacement (or matched already).
struct PendingDeleted {
  std::string path;
  uint64_t size = 0;
  uint64_t time = 0;
  ActorKeys keys;
  std::vector<ActorKeys> readers;
  std::vector<std::string> paired_in;
};

// Keeps the last two readers of a file (the newest last).
void RememberReader(std::vector<ActorKeys>& readers, const ActorKeys& reader) {
  readers.push_back(reader);
  if (readers.size() > 2) readers.erase(readers.begin());
}

bool Paired(const std::vector<std::string>& paired_in, const std::string& map_key) {
  return std::find(paired_in.begin(), paired_in.end(), map_key) != paired_in.end();
}

// A reader that still holds the original when it unlinks it (read, write the copy, unlink,
// close: what most tools do) closes it after the delete, under "PATH (deleted)".
std::string_view WithoutDeletedSuffix(std::string_view path) {
  constexpr std::string_view kDeletedSuffix = " (deleted)";
  if (path.ends_with(kDeletedSuffix)) path.remove_suffix(kDeletedSuffix.size());
  return path;
}

uint64_t Distance(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

bool SizeClose(uint64_t replacement, uint64_t original) {
  if (original == 0) return false;
  return replacement * 2 >= original && replacement <= original * 2 + 64 * 1024;
}

}  // namespace
}  // namespace detect

using detect::ActorKeys;
using detect::EvidenceUpdate;
using detect::PendingDeleted;
using detect::PendingNew;
using detect::ScopeRef;
using detect::ScopeState;

struct Detector::Impl {
  explicit Impl(DetectConfig c)
      : config(std::move(c)),
        reads(limits::kMaxDetectRecentReads),
        creations(limits::kMaxDetectRecentCreations),
        first_names(limits::kMaxDetectRecentCreations) {}

  DetectConfig config;
  DetectorStats stats;
  uint64_t now = 0;
  uint64_t last_sweep = 0;
  uint64_t event_seq = 0;
  uint64_t alert_seq = 0;
  uint64_t suspects_generation = 0;
  std::unordered_map<std::string, std::unique_ptr<ScopeState>> scopes;
  detect::LruMap<detect::ReadInfo> reads;
  detect::LruMap<detect::Creation> creations;
  // Existing files renamed: their first name in the window. `shred -u` renames the original
  // (x -> 0000 -> ... -> 0) before it unlinks it: the delete of "0" is the delete of x, which a
  // new x.gpg replaced.
  detect::LruMap<std::string> first_names;
  std::deque<PendingNew> pending_new;
  std::deque<PendingDeleted> pending_deleted;
  std::deque<detect::UnreadCanaryDelete> unread_canary_deletes;
  // Scopes that alerted (and when): a process inside one of them is covered by that alert.
  std::vector<std::pair<ScopeRef, uint64_t>> alerted_refs;

  // Per event: scopes touched, with their scores before the event.
  struct Touch {
    ScopeState* state;
    double destruction;
    double support;
  };
  std::vector<Touch> touched;
  // The writer of a new file that this event found replacing an original (a pair, a rename over
  // it), when another process did the deleting or renaming: `gpg -c x; rm x`, `openssl enc -out
  // x.tmp; mv x.tmp x`. Both are credited, so both are targets and the incident's rollback
  // removes the writer's files too.
  std::optional<Actor> replacement_writer;

  std::vector<ScopeRef> ScopesFor(const Actor& actor) const;
  ScopeState* Use(const ScopeRef& ref, bool create);
  void EvictForRoom();
  // `renamed_onto`: `created` was just renamed onto the deleted file's path (delete the original,
  // move the ciphertext into its place), a pair by that alone.
  bool TryPair(PendingNew& created, PendingDeleted& deleted, const ScopeRef& ref,
               bool renamed_onto = false);
  void OnWrite(const FileEvent& event, const ActorKeys& keys, const std::vector<ScopeRef>& refs);
  void OnDelete(const FileEvent& event, const ActorKeys& keys, const std::vector<ScopeRef>& refs);
  void OnRead(const FileEvent& event, const ActorKeys& keys, const std::vector<ScopeRef>& refs);
  void OnRename(const FileEvent& event, const std::vector<ScopeRef>& refs);
  void AddEvidence(const ScopeRef& ref, const std::string& file_key, std::string_view path,
                   const EvidenceUpdate& update);
  bool Redundant(const ScopeState& state, const ScopeRef& ref) const;
  // Whether `path` was read by the party `keys` within the read window.
  bool ReadBy(const std::string& path, const ActorKeys& keys);
  // A canary this party deleted without having read it, now read (path may end " (deleted)").
  bool TakeUnreadCanaryDelete(std::string_view path, const ActorKeys& keys);
  ResponseTargets TargetsOf(const ScopeState& state, const ResponsePolicy& policy) const;
  std::vector<Alert> Evaluate(const std::vector<ScopeRef>& refs, const FileEvent& event);
  // A contributor with evidence (damage or renames) that no alert of the scope named yet.
  static bool HasNewContributor(const ScopeState& state);
  void Expire(uint64_t now_ns);
};

std::vector<ScopeRef> Detector::Impl::ScopesFor(const Actor& actor) const {
  std::vector<ScopeRef> refs;
  auto add = [&](ActorScope scope, std::string key) {
    ScopeRef ref;
    ref.scope = scope;
    ref.map_key = detect::MapKey(scope, key);
    ref.key = std::move(key);
    refs.push_back(std::move(ref));
    return &refs.back();
  };
  const bool smb = !actor.smb_client_address.empty();
  // An smbd child is one session of its client: the client is the actor (its scope holds every
  // session's evidence, so it alerts no later), and one client gets one incident, not one per
  // session plus one for the client.
  const bool client_is_actor = smb && config.scope_smb;
  if (actor.pid > 0 && !client_is_actor) {
    ScopeRef* ref = add(ActorScope::kProcess, std::to_string(actor.pid));
    ref->pid = actor.pid;
    ref->root_start = actor.start_time;
  }
  if (smb && config.scope_smb) add(ActorScope::kSmbClient, detect::SmbKey(actor));
  // smbd children share their parent and session with every other client: no tree scopes.
  if (!smb && config.scope_tree) {
    if (actor.pid > 1) {
      ScopeRef* ref = add(ActorScope::kProcessTree, std::to_string(actor.pid));
      ref->pid = actor.pid;
      ref->root_start = actor.start_time;  // children know only the parent's pid
    }
    if (actor.ppid > 1) {
      ScopeRef* ref = add(ActorScope::kProcessTree, std::to_string(actor.ppid));
      ref->pid = actor.ppid;
    }
    if (actor.sid > 1) {
      ScopeRef* ref = add(ActorScope::kProcessTree, "sid:" + std::to_string(actor.sid));
      ref->sid = actor.sid;
    }
  }
  // Every client's smbd shares Samba's service cgroup: no cgroup scope either.
  if (!smb && config.scope_cgroup && detect::UsefulCgroup(actor.cgroup)) {
    add(ActorScope::kCgroup, actor.cgroup);
  }
  // Only a known user: a process gone unattributed (pid alone, uid 0 by default) is nobody's,
  // and its damage in root's scope joined root's other work (an administrator's copy).
  if (config.scope_user && !actor.user.empty()) {
    ScopeRef* ref = add(ActorScope::kUser, std::to_string(actor.uid));
    ref->uid = actor.uid;
  }
  return refs;
}

void Detector::Impl::EvictForRoom() {
  // Evict 1/16 of the cap at once: least valuable first (no evidence, then least recent).
  std::vector<std::pair<std::pair<bool, uint64_t>, std::string>> candidates;
  candidates.reserve(scopes.size());
  for (const auto& [key, state] : scopes) {
    if (state->last_event_seq == event_seq) continue;  // pinned by the current event
    candidates.push_back({{state->HasEvidence(), state->last_seen_ns}, key});
  }
  const std::size_t count =
      std::min(candidates.size(), std::max<std::size_t>(1, limits::kMaxDetectScopes / 16));
  std::partial_sort(candidates.begin(), candidates.begin() + count, candidates.end());
  for (std::size_t i = 0; i < count; ++i) {
    scopes.erase(candidates[i].second);
    ++stats.scopes_evicted;
  }
  ++suspects_generation;
}

ScopeState* Detector::Impl::Use(const ScopeRef& ref, bool create) {
  auto it = scopes.find(ref.map_key);
  ScopeState* state = nullptr;
  if (it != scopes.end()) {
    state = it->second.get();
    // A reused pid is another process: start afresh (pointer stays valid for this event).
    if (state->last_event_seq != event_seq && ref.root_start != 0 && state->root_start != 0 &&
        ref.root_start != state->root_start) {
      std::unique_ptr<ScopeState> fresh =
          std::make_unique<ScopeState>(ref.scope, ref.key, ref.root_start);
      it->second.swap(fresh);
      state = it->second.get();
    }
  } else {
    if (!create) return nullptr;
    if (scopes.size() >= limits::kMaxDetectScopes) EvictForRoom();
    auto inserted = scopes.emplace(
        ref.map_key, std::make_unique<ScopeState>(ref.scope, ref.key, ref.root_start));
    state = inserted.first->second.get();
  }
  if (state->matcher.key.empty()) state->matcher = ref;
  if (state->root_start == 0) state->root_start = state->matcher.root_start = ref.root_start;
  if (state->last_event_seq != event_seq) {
    state->last_event_seq = event_seq;
    touched.push_back(Touch{state, state->Destruction(config),
                            state->Support(config) + state->NoteScore(config)});
  }
  state->last_seen_ns = std::max(state->last_seen_ns, now);
  return state;
}

void Detector::Impl::AddEvidence(const ScopeRef& ref, const std::string& file_key,
                                 std::string_view path, const EvidenceUpdate& update) {
  ScopeState* state = Use(ref, true);
  stats.file_records_evicted += state->AddEvidence(file_key, path, update, config, now);
}

bool Detector::Impl::TryPair(PendingNew& created, PendingDeleted& deleted, const ScopeRef& ref,
                             bool renamed_onto) {
  if (!detect::InScope(ref, created.keys) || !detect::InScope(ref, deleted.keys)) return false;
  if (detect::Paired(deleted.paired_in, ref.map_key)) return false;
  if (detect::Distance(created.time, deleted.time) > config.pair_window_ns) return false;
  if (created.path == deleted.path && !renamed_onto) return false;
  const bool read_here =
      std::any_of(deleted.readers.begin(), deleted.readers.end(),
                  [&](const ActorKeys& reader) { return detect::InScope(ref, reader); });
  // One copy per original: named after it, or read here and of a close size.
  const bool copy = !detect::Paired(created.paired_in, ref.map_key) &&
                    (renamed_onto || detect::NamedAfter(created.path, deleted.path) ||
                     (read_here && detect::SizeClose(created.size, deleted.size)));
  // An encrypted archive of what was read here, then deleted (`tar c dir | openssl enc -out
  // dir.enc && rm -rf dir`, `zip -e -m`, `7z a -p -sdel`): every original it took counts,
  // whatever the sizes. A user doing this to their own folder is stopped too: that is what an
  // attack on it looks like.
  const bool archived = !copy && read_here && created.encrypted_container;
  if (!copy && !archived) return false;
  EvidenceUpdate update;
  update.bits = detect::kReplacedOriginal;
  update.replaced = deleted.path;
  update.after_format = created.format;
  if (archived) {
    // One record per original (the archive is one file): its path, the archive's format.
    AddEvidence(ref, detect::FileKey(0, 0, deleted.path), deleted.path, update);
  } else {
    AddEvidence(ref, created.file_key, created.path, update);
    created.paired_in.push_back(ref.map_key);
  }
  replacement_writer = created.writer;
  deleted.paired_in.push_back(ref.map_key);
  ++stats.pairs;
  return true;
}

void Detector::Impl::OnWrite(const FileEvent& event, const ActorKeys& keys,
                             const std::vector<ScopeRef>& refs) {
  const std::string file_key = detect::FileKey(event.device, event.inode, event.path);
  const std::string folder(detect::Folder(event.path));
  const detect::Creation* creation = creations.Find(event.path);
  const bool is_new = (creation != nullptr && detect::CreatedBySameParty(*creation, keys)) ||
                      (event.before && event.before->format == "empty");
  const EvidenceUpdate update = detect::ClassifyContent(event.before, event.after, is_new, config);
  if (update.bits != 0) {
    for (const ScopeRef& ref : refs) AddEvidence(ref, file_key, event.path, update);
  }
  if (event.after && is_new && event.after->verdict != Verdict::kDamaged &&
      detect::Contains(config.note_formats, event.after->format) &&
      event.size <= config.note_max_bytes) {
    const std::string_view name = detect::BaseName(event.path);
    const bool pattern =
        detect::LooksLikeNoteName(name, config.note_patterns, config.note_extensions);
    for (const ScopeRef& ref : refs) {
      Use(ref, true)->AddNoteCandidate(name, folder, pattern, now);
    }
  }
  for (const ScopeRef& ref : refs) {
    if (ScopeState* state = Use(ref, false)) state->Wrote(folder, now);
  }

  const bool replacement_kind = event.after && CouldReplaceOriginal(*event.after, config);
  if (!is_new || !replacement_kind) return;
  PendingNew* created = nullptr;
  for (PendingNew& pending : pending_new) {
    if (pending.file_key == file_key) created = &pending;
  }
  if (created == nullptr) {
    pending_new.push_back(PendingNew{file_key,
                                     event.path,
                                     event.size,
                                     now,
                                     keys,
                                     event.actor,
                                     event.after->format,
                                     event.after->encrypted_container,
                                     {}});
    created = &pending_new.back();
    if (pending_new.size() > limits::kMaxDetectPendingPairs) {
      pending_new.pop_front();  // deque: `created` (the back) stays valid
    }
  } else {
    created->size = event.size;
    created->time = now;
    created->writer = event.actor;
    created->format = event.after->format;
    created->encrypted_container = event.after->encrypted_container;
  }
  for (const ScopeRef& ref : refs) {
    // An encrypted archive pairs with every original it may hold; any other copy with one.
    for (auto it = pending_deleted.rbegin(); it != pending_deleted.rend(); ++it) {
      if (TryPair(*created, *it, ref) && !created->encrypted_container) break;
    }
  }
}

void Detector::Impl::OnDelete(const FileEvent& event, const ActorKeys& keys,
                              const std::vector<ScopeRef>& refs) {
  const std::string file_key = detect::FileKey(event.device, event.inode, event.path);
  const std::string path_key = detect::FileKey(0, 0, event.path);
  for (const ScopeRef& ref : refs) {
    if (ScopeState* state = Use(ref, false)) {
      state->Unindex(file_key);
      state->Unindex(path_key);
      state->Wrote(detect::Folder(event.path), now);
    }
  }
  // A deleted new file (a temp, or a replacement itself) replaces nothing.
  std::erase_if(pending_new, [&](const PendingNew& p) { return p.path == event.path; });
  const bool was_new = creations.Find(event.path) != nullptr;
  creations.Erase(event.path);
  if (was_new) return;

  PendingDeleted deleted;
  deleted.path = event.path;
  if (const std::string* first = first_names.Find(event.path)) {
    deleted.path = *first;  // renamed before it went: paired, and read, under its first name
    first_names.Erase(event.path);
  }
  deleted.size = event.size;
  deleted.time = now;
  deleted.keys = keys;
  if (detect::ReadInfo* read = reads.Find(deleted.path)) {
    deleted.readers = read->readers;
    if (deleted.size == 0) deleted.size = read->size;
  }
  for (const ScopeRef& ref : refs) {
    for (auto it = pending_new.rbegin(); it != pending_new.rend(); ++it) {
      if (TryPair(*it, deleted, ref)) break;
    }
  }
  pending_deleted.push_back(std::move(deleted));
  if (pending_deleted.size() > limits::kMaxDetectPendingPairs) pending_deleted.pop_front();
}

void Detector::Impl::OnRead(const FileEvent& event, const ActorKeys& keys,
                            const std::vector<ScopeRef>& refs) {
  const std::string path(detect::WithoutDeletedSuffix(event.path));
  detect::ReadInfo info;
  if (detect::ReadInfo* old = reads.Find(path)) info = *old;
  info.time = now;
  if (event.size != 0) info.size = event.size;
  detect::RememberReader(info.readers, keys);
  reads.Put(path, std::move(info));

  // The delete came first: give that original its reader and pair it now.
  for (auto deleted = pending_deleted.rbegin(); deleted != pending_deleted.rend(); ++deleted) {
    if (deleted->path != path) continue;
    detect::RememberReader(deleted->readers, keys);
    if (deleted->size == 0) deleted->size = event.size;
    for (const ScopeRef& ref : refs) {
      for (auto created = pending_new.rbegin(); created != pending_new.rend(); ++created) {
        if (TryPair(*created, *deleted, ref)) break;
      }
    }
    break;
  }
}

void Detector::Impl::OnRename(const FileEvent& event, const std::vector<ScopeRef>& refs) {
  const std::string old_key = detect::FileKey(event.device, event.inode, event.path);
  const std::string new_key = detect::FileKey(event.device, event.inode, event.new_path);
  if (detect::Creation* creation = creations.Find(event.path)) {
    const detect::Creation copy = *creation;
    creations.Erase(event.path);
    creations.Put(event.new_path, copy);
  } else if (!event.path.empty() && !event.new_path.empty()) {
    std::string first = event.path;
    if (const std::string* earlier = first_names.Find(event.path)) first = *earlier;
    first_names.Erase(event.path);
    if (first != event.new_path) first_names.Put(event.new_path, std::move(first));
  }
  PendingNew* moved = nullptr;
  for (PendingNew& pending : pending_new) {
    if (pending.file_key == old_key || pending.path == event.path) {
      pending.file_key = new_key;
      pending.path = event.new_path;
      moved = &pending;
    }
  }
  // Moved onto the path of an original deleted just before: it takes that file's place.
  if (moved != nullptr && !event.new_path.empty()) {
    for (auto deleted = pending_deleted.rbegin(); deleted != pending_deleted.rend(); ++deleted) {
      if (deleted->path != event.new_path) continue;
      for (const ScopeRef& ref : refs) (void)TryPair(*moved, *deleted, ref, /*renamed_onto=*/true);
      break;
    }
  }
  const detect::RenameInfo info =
      detect::ClassifyRename(event.path, event.new_path, config.benign_rename_suffixes);
  // The watcher may describe a rename over an existing file as a write: before = the replaced
  // file's content, after = the renamed file's. Without `before`, `after` is a moved file.
  EvidenceUpdate content;
  if (event.after) {
    content = detect::ClassifyContent(event.before, event.after, !event.before, config);
    if (moved != nullptr && (content.bits & detect::kDestructionBits)) {
      replacement_writer = moved->writer;
    }
  }
  for (const ScopeRef& ref : refs) {
    ScopeState* state = Use(ref, false);
    if (state != nullptr) state->Rekey(old_key, new_key, event.new_path);
    EvidenceUpdate update = content;
    if (info.shape == detect::RenameShape::kAppended) {
      update.bits |= detect::kRenamedAppended;
      update.rename_ext = info.new_extension;
    } else if (info.shape == detect::RenameShape::kReplaced) {
      update.bits |= detect::kRenamedReplaced;  // weighs once the file carries destruction
      update.rename_ext = info.new_extension;
    }
    if (update.bits != 0) AddEvidence(ref, new_key, event.new_path, update);
    if (ScopeState* now_state = Use(ref, false)) {
      now_state->Wrote(detect::Folder(event.new_path), now);
    }
  }
}

bool Detector::Impl::ReadBy(const std::string& path, const ActorKeys& keys) {
  const detect::ReadInfo* read = reads.Find(path);
  if (read == nullptr || read->time + config.read_window_ns < now) return false;
  return std::any_of(read->readers.begin(), read->readers.end(),
                     [&](const ActorKeys& reader) { return detect::SameParty(reader, keys); });
}

bool Detector::Impl::TakeUnreadCanaryDelete(std::string_view path, const ActorKeys& keys) {
  path = detect::WithoutDeletedSuffix(path);
  for (auto it = unread_canary_deletes.begin(); it != unread_canary_deletes.end(); ++it) {
    if (it->path == path && it->time + config.pair_window_ns >= now &&
        detect::SameParty(it->keys, keys)) {
      unread_canary_deletes.erase(it);
      return true;
    }
  }
  return false;
}

// A broader scope is redundant while every process behind its evidence is inside a scope that
// already alerted (a process tree after its process, a user after its process tree).
bool Detector::Impl::Redundant(const ScopeState& state, const ScopeRef& ref) const {
  if (state.scope == ActorScope::kProcess || state.contributors.empty()) return false;
  return std::all_of(state.contributors.begin(), state.contributors.end(), [&](const auto& entry) {
    const ActorKeys keys = detect::KeysOf(entry.second.actor);
    return std::any_of(alerted_refs.begin(), alerted_refs.end(), [&](const auto& alerted) {
      return alerted.first.map_key != ref.map_key && detect::InScope(alerted.first, keys);
    });
  });
}

ResponseTargets Detector::Impl::TargetsOf(const ScopeState& state,
                                          const ResponsePolicy& policy) const {
  ResponseTargets targets;
  std::vector<const detect::Contributor*> ordered;
  for (const auto& [key, contributor] : state.contributors) ordered.push_back(&contributor);
  std::sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return std::make_tuple(a->destruction, a->support, a->last_ns) >
           std::make_tuple(b->destruction, b->support, b->last_ns);
  });
  bool serves_smb = false;
  for (const detect::Contributor* contributor : ordered) {
    serves_smb = serves_smb || !contributor->actor.smb_client_address.empty();
    SuspendDecision decision = MaySuspend(contributor->actor, policy);
    if (decision) {
      targets.processes.push_back(contributor->actor);
    } else {
      targets.refused.emplace_back(contributor->actor, decision.reason);
    }
  }
  if (serves_smb) return targets;
  pid_t root = 0;
  if (state.scope == ActorScope::kUser) {
    // Workers in sessions of their own (setsid per file) share only their user and the loop
    // that starts them; a lone contributor is no loop's worker.
    if (ordered.size() < 2) return targets;
    root = detect::CommonAncestorNear(ordered, limits::kMaxUserSpawnerGenerations);
  } else if (state.scope != ActorScope::kProcessTree) {
    return targets;
  } else if (state.key.rfind("sid:", 0) == 0) {
    // A login session: the nearest process inside it that every contributor descends from (the
    // `xargs -P` or script whose grandchildren encrypt and delete, each exiting after a file).
    root = detect::CommonAncestorInSession(ordered);
  } else {
    const auto* begin = state.key.data();
    if (std::from_chars(begin, begin + state.key.size(), root).ec != std::errc()) root = 0;
  }
  if (root > 1 && root != policy.self_pid) {
    const bool contributed = std::any_of(ordered.begin(), ordered.end(),
                                         [&](const auto* c) { return c->actor.pid == root; });
    if (!contributed) targets.spawner_pid = root;
    targets.tree_root = root;
  }
  return targets;
}

bool Detector::Impl::HasNewContributor(const ScopeState& state) {
  return std::any_of(state.contributors.begin(), state.contributors.end(), [&](const auto& entry) {
    return (entry.second.destruction > 0 || entry.second.support > 0) &&
           !state.alerted_contributors.contains(entry.first);
  });
}

std::vector<Alert> Detector::Impl::Evaluate(const std::vector<ScopeRef>& refs,
                                            const FileEvent& event) {
  std::vector<Alert> alerts;
  for (const ScopeRef& ref : refs) {
    auto it = scopes.find(ref.map_key);
    if (it == scopes.end()) continue;
    ScopeState& state = *it->second;
    if (state.Destruction(config) < config.min_destruction_score) continue;
    const double score = state.Score(now, config);
    const bool canary_new = state.canary_count > 0 && !state.alerted_canary;
    bool escalation = false;
    if (!state.alerted) {
      if (score < config.alert_score && !canary_new) continue;
    } else {
      // While the scope's alert stands its evidence keeps counting, so a process that joins it
      // with evidence of its own (the next short-lived worker, the next smbd session of the
      // client) is named at once, after its first file, instead of when the score doubles.
      if (!canary_new && score < state.alerted_score * config.escalate_factor &&
          !HasNewContributor(state)) {
        continue;
      }
      escalation = true;
    }
    if (Redundant(state, ref)) {
      ++stats.alerts_redundant;
      continue;
    }
    const ResponseTargets targets = TargetsOf(state, config.response);
    detect::AlertContext context;
    context.id = "steen-" + std::to_string(event.wall_time_ns) + "-" + std::to_string(++alert_seq);
    context.wall_time_ns = event.wall_time_ns;
    context.now_ns = now;
    context.score = score;
    context.escalation = escalation;
    context.fallback_actor = event.actor;
    for (const Actor& actor : targets.processes) {
      if (context.pids.size() < limits::kMaxAlertPids) context.pids.push_back(actor.pid);
    }
    alerts.push_back(detect::DescribeAlert(state, config, context));
    state.alerted = true;
    state.alerted_score = std::max(state.alerted_score, score);
    // Bounded by the contributor cap: a contributor evicted and seen again counts as new.
    state.alerted_contributors.clear();
    for (const auto& [key, contributor] : state.contributors) {
      state.alerted_contributors.insert(key);
    }
    state.alerted_canary = state.alerted_canary || state.canary_count > 0;
    std::erase_if(alerted_refs, [&](const auto& a) { return a.first.map_key == ref.map_key; });
    alerted_refs.emplace_back(ref, now);
    if (alerted_refs.size() > limits::kMaxDetectAlertedScopes)
      alerted_refs.erase(alerted_refs.begin());
    ++stats.alerts;
    if (escalation) ++stats.alerts_escalated;
  }
  return alerts;
}

void Detector::Impl::Expire(uint64_t now_ns) {
  last_sweep = now_ns;
  ++suspects_generation;  // evidence and scopes may go
  for (auto it = scopes.begin(); it != scopes.end();) {
    ScopeState& state = *it->second;
    const uint64_t idle =
        state.HasEvidence() ? config.actor_idle_ns : config.actor_idle_no_evidence_ns;
    if (state.last_seen_ns + idle < now_ns) {
      it = scopes.erase(it);
      ++stats.scopes_expired;
      continue;
    }
    state.Expire(now_ns, config);
    ++it;
  }
  reads.ExpireFront(
      [&](const detect::ReadInfo& r) { return r.time + config.read_window_ns < now_ns; });
  creations.ExpireFront(
      [&](const detect::Creation& c) { return c.time + config.pair_window_ns < now_ns; });
  while (!pending_new.empty() && pending_new.front().time + config.pair_window_ns < now_ns) {
    pending_new.pop_front();
  }
  while (!pending_deleted.empty() &&
         pending_deleted.front().time + config.pair_window_ns < now_ns) {
    pending_deleted.pop_front();
  }
  while (!unread_canary_deletes.empty() &&
         unread_canary_deletes.front().time + config.pair_window_ns < now_ns) {
    unread_canary_deletes.pop_front();
  }
  std::erase_if(alerted_refs,
                [&](const auto& a) { return a.second + config.actor_idle_ns < now_ns; });
  stats.scopes = scopes.size();
}

Detector::Detector(DetectConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Detector::~Detector() = default;

std::vector<Alert> Detector::Observe(const FileEvent& event) {
  Impl& d = *impl_;
  d.now = std::max(d.now, event.time_ns);
  ++d.stats.events;
  ++d.event_seq;
  d.touched.clear();
  d.replacement_writer.reset();
  if (d.now >= d.last_sweep + d.config.sweep_interval_ns) d.Expire(d.now);
  if (!d.config.exclusions.Match(event).empty()) {
    ++d.stats.events_excluded;
    return {};
  }
  const ActorKeys keys = detect::KeysOf(event.actor);
  const std::vector<ScopeRef> refs = d.ScopesFor(event.actor);
  if (refs.empty()) ++d.stats.events_unattributed;

  bool canary = event.is_canary && event.op != FileOp::kCloseNoWrite &&
                (event.op != FileOp::kOpenForWrite || d.config.canary_on_open_for_write);
  // Deleting a canary destroys what it stands for only after reading it (a class C encryptor
  // reads, writes its copy, unlinks): a mirror's delete of a file it never read is not a touch.
  if (canary && event.op == FileOp::kDelete && !d.ReadBy(event.path, keys)) {
    canary = false;
    ++d.stats.canary_deletes_unread;
    d.unread_canary_deletes.push_back({event.path, d.now, keys});
    if (d.unread_canary_deletes.size() > limits::kMaxDetectPendingPairs) {
      d.unread_canary_deletes.pop_front();
    }
  }
  // ... and the deleter's read that arrives after the delete makes it one.
  if (event.op == FileOp::kCloseNoWrite && d.TakeUnreadCanaryDelete(event.path, keys)) {
    canary = true;
  }
  if (canary) {
    ++d.stats.canary_touches;
    for (const ScopeRef& ref : refs) d.Use(ref, true)->AddCanary(event.path);
  }
  switch (event.op) {
    case FileOp::kCloseNoWrite:
      d.OnRead(event, keys, refs);
      break;
    case FileOp::kCreate:
      d.creations.Put(event.path, detect::Creation{d.now, keys});
      break;
    case FileOp::kOpenForWrite:
      // Opening for write hands the content over too: a file opened, moved out of the tree,
      // encrypted there and moved back under another name was never read inside the tree.
      d.OnRead(event, keys, refs);
      break;
    case FileOp::kCloseWrite:
      d.OnWrite(event, keys, refs);
      break;
    case FileOp::kDelete:
      d.OnDelete(event, keys, refs);
      break;
    case FileOp::kRename:
      d.OnRename(event, refs);
      break;
  }
  // Credit what the event added to the process that caused it (and to the writer of the new
  // file that replaced an original, in the scopes that hold it).
  const bool credit_writer =
      d.replacement_writer && (d.replacement_writer->pid != event.actor.pid ||
                               d.replacement_writer->start_time != event.actor.start_time);
  const detect::ActorKeys writer_keys =
      credit_writer ? detect::KeysOf(*d.replacement_writer) : detect::ActorKeys{};
  for (const Impl::Touch& touch : d.touched) {
    const double destruction = touch.state->Destruction(d.config) - touch.destruction;
    const double support =
        touch.state->Support(d.config) + touch.state->NoteScore(d.config) - touch.support;
    if (destruction > 0 || support > 0) {
      touch.state->Contribute(event.actor, std::max(0.0, destruction), std::max(0.0, support),
                              d.now);
      if (credit_writer && detect::InScope(touch.state->matcher, writer_keys)) {
        touch.state->Contribute(*d.replacement_writer, std::max(0.0, destruction),
                                std::max(0.0, support), d.now);
      }
    }
    if (destruction != 0) ++d.suspects_generation;
  }
  std::vector<Alert> alerts = d.Evaluate(refs, event);
  d.stats.scopes = d.scopes.size();
  return alerts;
}

void Detector::ExpireIdle(uint64_t now_ns) {
  impl_->now = std::max(impl_->now, now_ns);
  impl_->Expire(impl_->now);
}

bool Detector::Forget(ActorScope scope, std::string_view key) {
  ++impl_->suspects_generation;
  return impl_->scopes.erase(detect::MapKey(scope, key)) > 0;
}

std::vector<ScopeMatcher> Detector::Suspects() const {
  std::vector<ScopeMatcher> suspects;
  for (const auto& [map_key, state] : impl_->scopes) {
    // A user, a cgroup or a login session holds every program someone runs: one of them that
    // destroyed a file must not make the others wait. A process tree neither: held while the
    // alert stopped only the contributors, 16 workers at 30 files/s gave up to 20 files instead
    // of 6. (Holding a suspect's clones too, now that the alert stops them, made no measurable
    // difference at 16 workers and 300 files/s: not done.)
    if (state->scope != ActorScope::kProcess && state->scope != ActorScope::kSmbClient) continue;
    if (state->Destruction(impl_->config) > 0) suspects.push_back(state->matcher);
  }
  return suspects;
}

uint64_t Detector::suspects_generation() const { return impl_->suspects_generation; }

bool ScopeMatcher::Covers(const Actor& actor) const {
  return detect::InScope(*this, detect::KeysOf(actor));
}

ResponseTargets Detector::Targets(ActorScope scope, std::string_view key,
                                  const ResponsePolicy& policy) const {
  auto it = impl_->scopes.find(detect::MapKey(scope, key));
  if (it == impl_->scopes.end()) return {};
  return impl_->TargetsOf(*it->second, policy);
}

std::optional<ScopeSnapshot> Detector::Inspect(ActorScope scope, std::string_view key) const {
  auto it = impl_->scopes.find(detect::MapKey(scope, key));
  if (it == impl_->scopes.end()) return std::nullopt;
  const ScopeState& state = *it->second;
  ScopeSnapshot snapshot;
  snapshot.scope = scope;
  snapshot.key = std::string(key);
  snapshot.score = state.Score(impl_->now, impl_->config);
  snapshot.destruction = state.Destruction(impl_->config);
  snapshot.alerted = state.alerted;
  snapshot.files = state.FilesWithEvidence();
  snapshot.contributors = static_cast<int64_t>(state.contributors.size());
  return snapshot;
}

const DetectorStats& Detector::stats() const { return impl_->stats; }
const DetectConfig& Detector::config() const { return impl_->config; }

}  // namespace steen
