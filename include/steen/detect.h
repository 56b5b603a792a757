// Detection engine of `steen watch`: file events in, alerts out. Pure: no clock (time comes from
// FileEvent::time_ns), no kernel, no globals, no I/O, so every attack and workload can be replayed
// in unit tests. Not thread-safe: the daemon calls one Detector from one thread.
//
// Evidence is scored per actor *scope* (process, process tree or session, SMB client, cgroup,
// user), so that work split over many short-lived processes or reconnecting smbd children still
// adds up. Each scope counts every file once (rewriting a file 10 times is one file). Design and
// weights: docs/design/detect.md.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "steen/alert.h"
#include "steen/event.h"

namespace steen {

// Events the detector ignores completely (trusted tools, noisy trees). Path prefixes match whole
// components ("/srv/db" covers "/srv/db/x", not "/srv/dbx"). Canary events are exempt from path
// prefixes (a prefix that happens to cover a canary must not blind it) but not from actor rules.
struct Exclusions {
  std::vector<std::string> path_prefixes;  // a rename is excluded only if both paths are
  std::vector<std::string> exe_paths;      // exact /proc/PID/exe targets
  std::vector<std::string> exe_sha256;     // hex, lower case; applies once the exe is hashed
  std::vector<std::string> users;          // user names (Actor::user)
  std::vector<uid_t> uids;
  std::vector<pid_t> pids;  // e.g. steen's own pid: it writes the canaries

  // Why the event is excluded ("path prefix /srv/db", ...), or empty when it is not.
  std::string Match(const FileEvent& event) const;
};

// Who may be stopped. Protection goes by executable path (comm names can be set by any process).
struct ResponsePolicy {
  pid_t self_pid = 0;    // steen itself
  std::string self_exe;  // steen's executable, protected too (empty: only self_pid)
  // Never stopped: the init system and its user managers, sshd (the way in for the admin), the
  // journal and the session manager.
  std::vector<std::string> protected_exes = {"/sbin/init",
                                             "/usr/sbin/init",
                                             "/lib/systemd/systemd",
                                             "/usr/lib/systemd/systemd",
                                             "/usr/sbin/sshd",
                                             "/lib/systemd/systemd-journald",
                                             "/usr/lib/systemd/systemd-journald",
                                             "/lib/systemd/systemd-logind",
                                             "/usr/lib/systemd/systemd-logind",
                                             "/usr/bin/dbus-daemon"};
  // Operator allow list: never stopped (alerts still fire). Comm names are spoofable: prefer exes.
  std::vector<std::string> allowed_exes;
  std::vector<std::string> allowed_comms;
  std::vector<std::string> allowed_users;  // names, or uids written as numbers
};

struct SuspendDecision {
  bool allowed = false;
  std::string reason;  // why not (empty when allowed)
  explicit operator bool() const { return allowed; }
};

// Whether the response may SIGSTOP this process. Never: pid <= 1, kernel threads (pid 2 or parent
// 2, or no executable), steen itself, protected executables, anything on the allow lists.
SuspendDecision MaySuspend(const Actor& actor, const ResponsePolicy& policy);

// Whether two processes run the same program as the same user: the same executable path, and
// the same file when both are hashed already.
bool SameProgram(const Actor& a, const Actor& b);
// Whether `other` is a clone of `process`: another child of the same parent running the same
// program (a worker pool started by fork or by exec of one binary). Never for SMB clients'
// processes (an smbd's siblings serve other clients).
bool IsCloneOf(const Actor& other, const Actor& process);

// Every threshold, with the reason for its default. Scores are points; an alert needs
// `alert_score` in total AND at least `min_destruction_score` from destruction evidence (files
// whose existing content was destroyed or replaced, canaries): notes, renames, new random files
// and write rate only support, they never alert alone.
struct DetectConfig {
  double alert_score = 100;           // three plain in-place encryptions (3 x 40) cross it
  double min_destruction_score = 60;  // at least two destroyed files (or a canary)
  double escalate_factor = 2.0;       // an alerted scope alerts again once its score doubles

  // ---- Destruction evidence, per distinct file (capped at max_file_destruction) ----
  double weight_damaged_from_intact = 40;       // before: valid format, after: damaged (strongest)
  double weight_damaged_unknown_before = 25;    // before: unknown verdict, after: damaged
  double weight_damaged_no_before = 25;         // existing file, no before view, after damaged
  double weight_randomness_gained = 30;         // random blocks appeared, verdict not damaged
  double weight_randomness_gained_intact = 15;  // same, but after still validates (db blobs)
  double weight_format_lost = 25;               // valid format before, unrecognised after
  double weight_replaced_original = 40;  // original replaced: paired copy, or container over it
  // A canary written, renamed, or deleted by a party that read it: alert at once.
  double weight_canary = 1000;
  double max_file_destruction = 60;  // one file never counts as more than 1.5 files

  // ---- Supporting evidence ----
  double weight_new_damaged_file = 8;    // a new file with random content (copies do that)
  double weight_renamed_extension = 10;  // appended/changed extension (a.docx -> a.docx.PLAY)
  double weight_renamed_extension_shared = 20;  // same new extension on >= rename_cluster_min
  int rename_cluster_min = 3;
  double weight_note_folder = 10;  // per folder holding the same new small text file
  double weight_note_name = 5;     // file name looks like a ransom note (patterns below)
  int note_min_folders = 3;        // same name in this many folders looks like notes
  int note_max_folders_scored = 8;
  double max_note_score = 40;
  uint64_t note_max_bytes = 64 * 1024;
  // Lower-case substrings of a note's name, and the extensions a note has.
  std::vector<std::string> note_patterns = {
      "readme", "read_me", "read-me",     "restore", "decrypt", "how_to", "how-to",
      "howto",  "recover", "instruction", "ransom",  "unlock",  "!!!"};
  std::vector<std::string> note_extensions = {"txt", "hta", "html", "htm"};
  std::vector<std::string> note_formats = {"text"};  // ContentView formats of a note

  // ---- Randomness gained (intermittent patterns the verdict may miss) ----
  double randomness_gain_min = 0.3;   // after.random_block_fraction - before's
  double randomness_after_min = 0.4;  // and at least this much of the file random afterwards

  // ---- Write rate across folders: a multiplier, applied only once destruction is proven ----
  uint64_t rate_window_ns = 10'000'000'000;  // 10 s
  int rate_min_folders = 4;
  double rate_multiplier = 1.25;

  // ---- Time windows (FileEvent::time_ns) ----
  uint64_t evidence_window_ns = 30ull * 60 * 1'000'000'000;  // slow encryptors: 1 file / 10 min
  uint64_t pair_window_ns = 2ull * 60 * 1'000'000'000;       // new file <-> deleted original
  uint64_t read_window_ns = 5ull * 60 * 1'000'000'000;       // "deleted after read"
  uint64_t actor_idle_ns = 30ull * 60 * 1'000'000'000;       // forget scopes idle this long
  uint64_t actor_idle_no_evidence_ns = 2ull * 60 * 1'000'000'000;  // ... or this, if clean
  uint64_t sweep_interval_ns = 5'000'000'000;                      // expiry runs at most this often

  // Formats of encrypted containers: a new one replacing a deleted original is destruction
  // (gpg -c x && rm x, 7z a -p, ccrypt). Single-file compressors (gzip, xz, zstd, bzip2) are not
  // here: logrotate and `gzip x` replace originals with them legitimately.
  std::vector<std::string> container_formats = {
      "openpgp", "openpgp-armored", "age",          "age-armored", "7z", "zip",
      "rar",     "openssl-enc",     "ansible-vault"};
  // Appended suffixes that are not ransomware (editors, package managers, downloads). All-digit
  // suffixes (logrotate's .1) and names ending in '~' are benign too.
  std::vector<std::string> benign_rename_suffixes = {
      "tmp",     "temp",     "bak",      "backup",    "old",      "orig",       "new",
      "save",    "swp",      "swo",      "part",      "partial",  "crdownload", "download",
      "lock",    "dpkg-old", "dpkg-new", "dpkg-dist", "dpkg-bak", "dpkg-tmp",   "ucf-old",
      "ucf-new", "ucf-dist", "rpmnew",   "rpmsave"};

  // A process opening a canary for writing alerts before it writes (earliest response).
  bool canary_on_open_for_write = true;
  // Scopes beyond the process itself (each can be turned off).
  bool scope_tree = true;    // parent + children; also the login session (sid)
  bool scope_smb = true;     // SMB client address + user (smbd children come and go)
  bool scope_cgroup = true;  // systemd service / login scope
  bool scope_user = true;    // uid

  Exclusions exclusions;
  ResponsePolicy response;  // used to choose Alert::pids
};

struct DetectorStats {
  uint64_t events = 0;
  uint64_t events_excluded = 0;
  uint64_t events_unattributed = 0;  // no pid, user, cgroup or SMB client: nobody to score
  uint64_t alerts = 0;
  uint64_t alerts_escalated = 0;  // repeated alerts for a scope whose score doubled
  uint64_t alerts_redundant = 0;  // broader scope alerts skipped: its processes already alerted
  uint64_t canary_touches = 0;
  uint64_t canary_deletes_unread = 0;  // canaries deleted by a party that had not read them
  uint64_t scopes = 0;                 // scopes tracked now
  uint64_t scopes_expired = 0;
  uint64_t scopes_evicted = 0;        // dropped because limits::kMaxDetectScopes was reached
  uint64_t file_records_evicted = 0;  // per-scope file cap reached (score kept, dedup lost)
  uint64_t pairs = 0;                 // originals matched with their replacement
};

// Processes the response may act on for one scope.
struct ResponseTargets {
  std::vector<Actor> processes;  // contributing processes the policy allows, most damage first
  std::vector<std::pair<Actor, std::string>> refused;  // protected contributors and why
  // Process tree scopes: the parent that spawned the contributors, when it did not contribute
  // itself (short-lived workers); for a login session, the nearest process of the session that
  // every contributor descends from. The detector has not seen it: the daemon must read its /proc
  // view, check it is no younger than the contributors (a reused pid) and call MaySuspend before
  // stopping it. 0 when there is none (or it serves SMB clients).
  pid_t spawner_pid = 0;
  // Process tree scopes (not SMB): the tree's root, or the session's common ancestor. When the
  // response stops the root, it stops the root's descendants too: workers already started that no
  // judged file names yet would otherwise go on (docs/design/watch.md "Response").
  pid_t tree_root = 0;
};

// Which actors one scope covers, matched as the detector matches them: a process (pid and start
// time), a parent's children or a login session (process tree), an SMB client, a cgroup, a user.
struct ScopeMatcher {
  ActorScope scope = ActorScope::kProcess;
  std::string key;          // as in Alert::scope_key
  pid_t pid = 0;            // process; process tree: its root (0 for a session)
  uint64_t root_start = 0;  // start time of that pid when known (a reused pid is another process)
  pid_t sid = 0;            // process tree of a login session
  uid_t uid = 0;            // user
  bool Covers(const Actor& actor) const;
};

// A scope's state, for diagnostics and tests.
struct ScopeSnapshot {
  ActorScope scope = ActorScope::kProcess;
  std::string key;
  double score = 0;        // including the rate multiplier when it applies
  double destruction = 0;  // destruction evidence alone
  bool alerted = false;
  int64_t files = 0;  // distinct files with evidence (including evicted records)
  int64_t contributors = 0;
};

// Whether the content before a write can change how the content it left (`after`) is judged:
// false when `after` is intact and not random enough for a randomness gain, whatever was there
// before. The watcher then need not measure the before content it kept (a protective copy).
bool ChangeNeedsBefore(const ContentView& after, const DetectConfig& config);

// Whether a new file with this content may replace an original (a pair with a deleted original,
// or renamed over one): damaged bytes or an encrypted container (DetectConfig::container_formats).
bool CouldReplaceOriginal(const ContentView& content, const DetectConfig& config);

class Detector {
 public:
  explicit Detector(DetectConfig config = {});
  ~Detector();
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;

  // Feeds one event; returns the alerts it caused (0..n: at most one per scope). A scope that
  // alerted stays quiet until its score reaches escalate_factor x the alerted score. A broader
  // scope (tree, user, ...) whose evidence all comes from processes already covered by an alert
  // stays quiet too, until another process adds evidence.
  std::vector<Alert> Observe(const FileEvent& event);

  // Drops expired evidence and idle scopes as of now_ns (Observe does this itself, at most every
  // sweep_interval_ns of event time; call it from an idle timer when events stop).
  void ExpireIdle(uint64_t now_ns);

  // Forgets one scope (e.g. after the operator resolved its incident). Returns false if unknown.
  // Scope keys are those of Alert::scope_key.
  bool Forget(ActorScope scope, std::string_view key);

  // Which processes to act on for a scope (see ResponseTargets).
  ResponseTargets Targets(ActorScope scope, std::string_view key,
                          const ResponsePolicy& policy) const;

  std::optional<ScopeSnapshot> Inspect(ActorScope scope, std::string_view key) const;

  // The processes and SMB clients (not process trees, sessions, users or cgroups) that hold
  // destruction evidence now: files they damaged or replaced. The watcher makes such a scope's
  // next writes wait until its writes in flight are judged, so that a fast multi-threaded writer
  // cannot get ahead of its own judgement.
  std::vector<ScopeMatcher> Suspects() const;
  // Changes whenever what Suspects() returns may have changed (cheap to poll after each event).
  uint64_t suspects_generation() const;

  const DetectorStats& stats() const;
  const DetectConfig& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace steen
