// The vault: protective copies of files from before a process changed them, and rollback.
//
//   daemon (open-for-write permission, ticket held) ─► Vault::PreserveBeforeWrite(fd)  copy/reflink
//   daemon (any open of a file in a tree)           ─► Vault::KeepLink(fd)  hard link of the inode
//   daemon (delete / rename events)                 ─► Vault::NoteDelete / NoteRename  (a kept link
//                                                      whose inode lost its last name becomes a
//                                                      version; the change is recorded)
//   steen rollback INCIDENT ─► Rollback(vault, request) ─► restores, verifies sha256, journal
//
// Layout of a vault folder (it must be on the same filesystem as the trees it protects for hard
// links; copies work anywhere):
//   catalog.db        SQLite (WAL): versions, links, changes, pins, rollback journal
//   objects/ab/<sha256>  content-addressed copies (deduplicated; reflinked where the fs can)
//   packs/<name>.pack    small copies appended to pack files (src/vault/packs.h)
//   links/<dev>-<ino>    hard links that keep an inode's data when its names go
//   tmp/              copies in progress (removed at Open: a crash mid-copy leaves nothing)
//
// Thread safety: every Vault method may be called from any thread (one internal mutex).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "steen/event.h"
#include "steen/limits.h"
#include "steen/status.h"

namespace steen::vault {

// Why a version exists.
enum class VersionKind {
  kBeforeWrite,  // content copied when a process opened the file for writing
  kDeleted,      // the inode's last name was deleted; its data kept through the vault's link
  kRenamedOver,  // another file was renamed over it; data kept through the vault's link
};
std::string_view ToString(VersionKind kind);
std::optional<VersionKind> ParseVersionKind(std::string_view text);

// Who did it: the parts of an Actor the catalog keeps (enough to select an incident's changes).
struct ActorRef {
  pid_t pid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a reused pid apart (0 = unknown)
  std::string exe;
  uid_t uid = 0;
  std::string smb_client_address;  // smbd sessions: the client (empty for local processes)
  std::string smb_user;
};
ActorRef ToActorRef(const Actor& actor);

// The file as the daemon saw it.
struct FileIdentity {
  std::string path;  // absolute
  uint64_t device = 0;
  uint64_t inode = 0;
};

struct Version {
  int64_t id = 0;
  std::string path;  // the file's path when the version was taken
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  uint32_t mode = 0;  // st_mode permission bits (restored with the content)
  uid_t uid = 0;
  gid_t gid = 0;
  int64_t mtime_ns = 0;  // the file's mtime when taken (restored too)
  int64_t taken_ns = 0;  // wall clock
  VersionKind kind = VersionKind::kBeforeWrite;
  std::string sha256;  // hex of the content
  // Relative to the vault folder: a file ("objects/ab/<sha>") or, for a small copy, a range of a
  // pack file ("packs/<name>.pack:<offset>:<length>"; read it with OpenObject).
  std::string object;
  ActorRef actor;           // the process whose action made the copy necessary
  std::string incident_id;  // pinned by this open incident ("" = not pinned)
};

// A change to the trees' names or content, in the order the daemon saw it (rollback replays them
// backwards).
enum class ChangeOp { kCreate, kWrite, kRename, kDelete };
std::string_view ToString(ChangeOp op);

struct Change {
  int64_t id = 0;       // increasing: the order of the changes
  int64_t time_ns = 0;  // wall clock
  ChangeOp op = ChangeOp::kWrite;
  std::string path;
  std::string new_path;  // kRename only
  uint64_t device = 0;
  uint64_t inode = 0;
  ActorRef actor;
  int64_t version_id = 0;  // the version this change made necessary (0 = none)
};

struct VaultOptions {
  std::string dir;  // created if missing (mode 0700)
  // Quotas; 0 = the default of limits.h. Oldest versions are evicted first; versions pinned by an
  // open incident never are.
  uint64_t max_bytes = 0;
  uint64_t max_files = 0;
  int64_t retention_ns = 0;  // versions older than this are evicted (0 = the default)
  // Single files larger than this are not copied at open-for-write (0 = the default).
  uint64_t max_file_bytes = 0;
  // Free space left on the vault's filesystem (0 = none: copies may fill the disk).
  uint64_t min_free_bytes = limits::kDefaultVaultMinFreeBytes;
  int64_t (*now_ns)() = nullptr;  // wall clock seam for tests; null = CLOCK_REALTIME
};

struct VaultStats {
  uint64_t versions = 0;
  uint64_t objects = 0;
  uint64_t object_bytes = 0;  // bytes of distinct objects (what the vault costs on disk)
  uint64_t links = 0;
  uint64_t copies = 0;        // copies made since Open
  uint64_t reflinks = 0;      // of which were reflinks
  uint64_t deduplicated = 0;  // copies whose content was already in the vault
  uint64_t unchanged = 0;     // PreserveBeforeWrite skipped: latest version still current
  uint64_t evicted = 0;
  uint64_t refused_quota = 0;  // not kept: quota full of pinned versions, or file too large
  uint64_t refused_disk = 0;   // not kept: the filesystem would drop below min_free_bytes
  uint64_t aborted = 0;        // copy abandoned (still_valid() false: the write may have begun)
  uint64_t replayed = 0;       // copies recorded again from the intent log at Open (a crash)
  uint64_t errors = 0;
};

// What PreserveBeforeWrite did.
enum class PreserveOutcome { kCopied, kDeduplicated, kUnchanged, kEmpty };

// When PreserveBeforeWrite hashes its copy. kLater stores and records the copy under a
// placeholder ("pending-..."), so that a writer waiting for the caller's answer does not wait for
// the sha256 of its file (100 ms for 200 MiB, the whole wait when the copy is a reflink); the
// caller answers, then calls FinishPending(). A pending copy is complete and restorable.
enum class HashWhen { kBeforeReturn, kLater };

struct PreserveResult {
  PreserveOutcome outcome = PreserveOutcome::kCopied;
  int64_t version_id = 0;  // 0 for kEmpty (an empty file needs no copy; the change is recorded)
  // The copy's object file (the content before the write, never changed): readable once the
  // writer is let go. Empty when no object was stored or the copy is packed (read it with
  // OpenObject).
  std::string object_path;
  // The rows that record the copy are durable only once the catalog's batch commits (the daemon
  // commits before it answers the writer). False when they are committed already or written to
  // the intent log (a packed copy inside a batch): the writer may be answered at once.
  bool commit_needed = true;
};

class Vault {
 public:
  // Creates the folders, opens the catalog, recovers after a crash (removes tmp/, drops catalog
  // rows whose object is missing, removes unreferenced objects). A vault of a newer schema is a
  // clear error.
  static StatusOr<std::unique_ptr<Vault>> Open(VaultOptions options);
  ~Vault();
  Vault(const Vault&) = delete;
  Vault& operator=(const Vault&) = delete;

  // Keeps the current content of the file open as `fd` (read with pread only; the fd's offset and
  // the file are never changed) before `actor` writes it, and records a kWrite change.
  // `still_valid` is asked after the copy: false means the write may have started meanwhile (the
  // permission deadline passed), so the copy is dropped (kAborted status). Quota full of pinned
  // versions, or a file over max_file_bytes: ResourceExhausted (the caller alerts and allows the
  // write: writes are never blocked). If the latest version of this inode matches its size and
  // mtime and the file was not changed since, no copy is made (kUnchanged).
  StatusOr<PreserveResult> PreserveBeforeWrite(int fd, const FileIdentity& file,
                                               const ActorRef& actor,
                                               const std::function<bool()>& still_valid = {},
                                               HashWhen hash_when = HashWhen::kBeforeReturn);
  // Hashes the copies PreserveBeforeWrite left pending, moves each to its content address (or
  // drops it for an equal object kept already) and records its sha256. Pending copies left over
  // are finished by ~Vault, and by the next owner's Open after a crash.
  void FinishPending();

  // The same record for a file that was empty when it was opened for writing (the open was
  // allowed without the daemon: nothing to copy). `at_open` is its state then.
  StatusOr<PreserveResult> NoteEmptyBeforeWrite(const FileIdentity& file, const ActorRef& actor,
                                                const struct stat& at_open);

  // Makes sure the vault holds a hard link to the inode open as `fd` (linkat through
  // /proc/self/fd), so its data survives a delete or a rename over it. Cheap when already linked.
  // Fails with NotSupported when the vault is on another filesystem.
  Status KeepLink(int fd, const FileIdentity& file);

  // A name went away. If the vault's link of that inode is now its last name, the link becomes a
  // version (kDeleted / kRenamedOver). The change is recorded either way. keep_last_name = false
  // (steen's own rollback removing an offender's file or a displaced ciphertext) keeps nothing:
  // the vault would otherwise hold every incident's ciphertext once more after its rollback.
  // A delete read after its folder was removed too (`rm -rf`) names no path: the link's path
  // (where the file was when opened) is recorded instead and, with `path_recorded`, returned.
  Status NoteDelete(const FileIdentity& file, const ActorRef& actor, int64_t time_ns,
                    bool keep_last_name = true, std::string* path_recorded = nullptr);
  // `old_path` -> `new_path` (a file or a folder: kept links and versions under a renamed folder
  // follow it). A file that was at new_path is found through its kept link (by path) and becomes a
  // kRenamedOver version when that link is now its inode's last name; its id goes to
  // *replaced_version when given (0 when no file was kept).
  Status NoteRename(const std::string& old_path, const std::string& new_path, const ActorRef& actor,
                    int64_t time_ns, int64_t* replaced_version = nullptr);
  Status NoteCreate(const FileIdentity& file, const ActorRef& actor, int64_t time_ns);

  // Groups the catalog rows written until CommitBatch() into one transaction: one write-ahead-log
  // commit instead of one per row (a file created in a watched tree writes four rows; their
  // commits were a third of the daemon's CPU on an untar). Rows are durable against a crash of
  // steen once CommitBatch() returns, so the daemon commits before it answers a permission event
  // and, at the latest, once its batch is limits::kCatalogBatchMs old (a commit per batch of events
  // was one per file under rsync: ~50 WAL page writes each). Rows written by other threads
  // meanwhile join the batch.
  void BeginBatch();
  Status CommitBatch();
  // How long the open batch has been open (its BEGIN, by any thread); nothing when none is.
  std::optional<std::chrono::nanoseconds> OpenBatchAge() const;
  // Another process waits for the catalog's write lock while a batch is open (it says so through
  // catalog.want while SQLite makes it wait). The daemon then commits and lets it in.
  bool OtherWriterWaits() const;
  // Waits until no other process waits for the write lock, at most `at_most`. Call with no batch
  // open and no permission event unanswered.
  void LetWaitingWriterIn(std::chrono::milliseconds at_most);

  // Pins every version and change of these actors from `since_ns` on (and later ones by the same
  // actors) to an incident: never evicted until Release. Idempotent.
  Status Pin(const std::string& incident_id, const std::vector<ActorRef>& actors, int64_t since_ns);
  Status Release(const std::string& incident_id);

  // Queries.
  StatusOr<std::vector<Version>> Versions(const std::string& path_or_prefix,
                                          bool prefix = false) const;
  StatusOr<Version> GetVersion(int64_t id) const;
  // Opens a version's object for reading (the caller closes it), following its row when a
  // pending copy was moved to its content address since `version` was read.
  StatusOr<int> OpenObject(const Version& version) const;
  // Whether a protective copy (kBeforeWrite) of this inode was ever taken.
  bool HasCopyOf(uint64_t device, uint64_t inode) const;
  // The newest version of `path` taken at or before `at_ns` (0 = the newest).
  StatusOr<Version> VersionAt(const std::string& path, int64_t at_ns) const;
  // Changes by the actors (pid + start_time when non-zero; an smb client address matches every
  // session of that client) since `since_ns`, oldest first.
  StatusOr<std::vector<Change>> ChangesBy(const std::vector<ActorRef>& actors,
                                          int64_t since_ns) const;
  // Changes to `path` (or to new_path of a rename) after change id `after_id`, by anybody.
  StatusOr<std::vector<Change>> ChangesTo(const std::string& path, int64_t after_id) const;

  // Writes the version's content to `dest` (a new file: fails if it exists), with its mode and
  // mtime, and checks the sha256 of what was written.
  Status Materialize(const Version& version, const std::string& dest) const;
  // Absolute path of a version's object (read-only use); for a packed copy, the pack's path
  // followed by ":<offset>:<length>" (read it with OpenObject).
  std::string ObjectPath(const Version& version) const;

  // Evicts versions past retention and while over quota (oldest first, never pinned ones); drops
  // links older than retention whose inode still has other names. Returns how many versions went.
  StatusOr<uint64_t> Maintain();

  VaultStats Stats() const;
  const std::string& dir() const;

  // The rollback journal (used by Rollback; kept in the catalog so a rollback resumes after a
  // crash). Step keys are unique per incident.
  Status JournalPut(const std::string& incident_id, const std::string& step_key,
                    const std::string& state, const std::string& detail);
  StatusOr<std::optional<std::string>> JournalGet(const std::string& incident_id,
                                                  const std::string& step_key) const;

 private:
  struct Impl;
  explicit Vault(std::unique_ptr<Impl> impl);
  StatusOr<PreserveResult> Preserve(int fd, const struct stat& st, const FileIdentity& file,
                                    const ActorRef& actor, const std::function<bool()>& still_valid,
                                    HashWhen hash_when);
  std::unique_ptr<Impl> impl_;
};

// ---- Rollback
// -------------------------------------------------------------------------------------

struct RollbackRequest {
  std::string incident_id;
  std::vector<ActorRef> actors;  // the incident's processes (or an SMB client)
  int64_t since_ns = 0;          // changes from this wall time on (the incident's window start)
  bool dry_run = false;          // plan and report, change nothing
  // A file somebody else has open for writing or locked is not replaced under them: it is tried
  // again for this long, then reported busy (run the rollback again once it is closed).
  int busy_wait_ms = 10000;
  // Tests only: runs right before each file is swapped in or removed.
  std::function<void(const std::string& path)> before_swap;
};

enum class RollbackAction {
  kRestored,     // content put back to its last version from before the incident (sha256 checked)
  kRecreated,    // a deleted file brought back
  kRenamedBack,  // a renamed file back under its old name
  kRemoved,      // a file the offender created (ciphertext copy, ransom note)
  kKeptAside,    // someone else changed it since: not overwritten; the restored version written
                 // next to it as "<name>.steen-restored-<incident>"
  kAlreadyDone,  // a resumed rollback: this step was done before the crash
  kBusy,         // somebody else writes or locks it now: not replaced; a later run does it
  kFailed,
};
std::string_view ToString(RollbackAction action);

struct RollbackItem {
  RollbackAction action = RollbackAction::kRestored;
  std::string path;       // where the file is (after the rollback)
  std::string from_path;  // where it was (renames), or the removed path
  std::string sha256;     // the restored content's hash
  std::string detail;     // a sentence for a person
};

struct RollbackReport {
  std::vector<RollbackItem> items;
  uint64_t restored = 0, recreated = 0, renamed_back = 0, removed = 0, kept_aside = 0, busy = 0,
           failed = 0;
};

StatusOr<RollbackReport> Rollback(Vault& vault, const RollbackRequest& request);

}  // namespace steen::vault
