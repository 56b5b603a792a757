// Rollback of an incident: the offender's changes, replayed backwards.
//
// The catalog lists every change the daemon saw, in order: creates, writes (each with the version
// of the content from before it), renames and deletes (with the version kept through the vault's
// link when the name was the inode's last). Undoing them newest first walks every file back
// through its names to where it was before the incident:
//   rename a -> b   : b goes back to a; a file the rename replaced at b comes back from its
//                     kRenamedOver version
//   write p (v)     : p gets v's content, for the offender's earliest write of that inode only
//                     (v is then the content from before the incident); skipped for files the
//                     offender created itself (they are removed)
//   delete p (v)    : p comes back from v
//   create p        : p is removed (ciphertext copies, ransom notes)
// A path somebody else changed after the offender is never overwritten or removed: the restored
// content goes next to it as "<name>.steen-restored-<incident>" (kKeptAside). Files are swapped
// in through GuardedReplace: one that somebody has open for writing or locked right now is tried
// again for a while and then reported busy; one that changes during the swap is kept aside too.
// Every step is idempotent (it checks what is there before acting) and recorded in the vault's
// journal, so a rollback killed halfway is simply run again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "steen/vault.h"
#include "vault/guarded_replace.h"

namespace steen::vault {

std::string_view ToString(RollbackAction action) {
  switch (action) {
    case RollbackAction::kRestored:
      return "restored";
    case RollbackAction::kRecreated:
      return "recreated";
    case RollbackAction::kRenamedBack:
      return "renamed_back";
    case RollbackAction::kRemoved:
      return "removed";
    case RollbackAction::kKeptAside:
      return "kept_aside";
    case RollbackAction::kAlreadyDone:
      return "already_done";
    case RollbackAction::kBusy:
      return "busy";
    case RollbackAction::kFailed:
      return "failed";
  }
  return "failed";
}

namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool SameActor(const ActorRef& a, const ActorRef& b) {
  if (!a.smb_client_address.empty() && a.smb_client_address == b.smb_client_address) return true;
  return a.pid == b.pid && (a.start_time == 0 || b.start_time == 0 || a.start_time == b.start_time);
}

class Rollbacker {
 public:
  Rollbacker(Vault& vault, const RollbackRequest& request) : vault_(vault), request_(request) {
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe));
    if (n > 0) own_exe_.assign(exe, static_cast<std::size_t>(n));
    // The incident's processes are suspended (or gone): a file they still hold open is theirs to
    // lose, not a user's edit to protect.
    replace_options_.tolerated_writers = request_.actors;
  }

  StatusOr<RollbackReport> Run() {
    auto changes = vault_.ChangesBy(request_.actors, request_.since_ns);
    if (!changes.ok()) return changes.status();
    changes_ = std::move(*changes);
    // The offender's earliest write of each inode carries the content from before the incident;
    // the paths it created are removed rather than restored.
    std::set<std::pair<uint64_t, uint64_t>> seen_inodes;
    for (const Change& c : changes_) {
      if (c.op == ChangeOp::kWrite && c.inode != 0 &&
          seen_inodes.insert({c.device, c.inode}).second) {
        first_writes_.insert(c.id);
      }
      if (c.op == ChangeOp::kWrite && c.inode == 0) first_writes_.insert(c.id);
    }
    // In phases, each newest first: the daemon reads names and contents from two fanotify queues,
    // so a write and the rename of the same file may be recorded in either order. Names first
    // (renames back, deleted files back), then contents (into the name each inode had before the
    // offender renamed it), then the offender's own files go.
    for (ChangeOp phase :
         {ChangeOp::kRename, ChangeOp::kDelete, ChangeOp::kWrite, ChangeOp::kCreate}) {
      for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
        if (it->op == phase) Undo(*it);
      }
    }
    RetryBusy();
    return report_;
  }

 private:
  // Files in use are tried again (in the order they were found) until the wait is over; what is
  // still in use then is reported busy and left for a later run (it is not journaled as done).
  void RetryBusy() {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(request_.busy_wait_ms);
    while (!busy_.empty() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::vector<Change> again;
      again.swap(busy_);
      busy_detail_.clear();
      for (const Change& c : again) Undo(c);
    }
    for (const Change& c : busy_) {
      Add(Item(RollbackAction::kBusy, c.path.empty() ? c.new_path : c.path,
               busy_detail_[c.id] + ": not replaced; run the rollback again once it is closed"));
    }
  }

  void Defer(const Change& c, const std::string& why) {
    busy_.push_back(c);
    busy_detail_[c.id] = why;
  }

  // Swaps `version` in at `path` (which the rollback saw as `seen`) through a temporary file in
  // the same folder. Materialize checks the sha256.
  StatusOr<ReplaceResult> PutVersion(const Version& version, const std::string& path,
                                     const FileState& seen) {
    const std::string dir = path.substr(0, path.rfind('/'));
    // The offender may have removed the folder too (`rm -rf`): made again, like its nearest
    // existing ancestor (mode and owner).
    if (Status s = MakeMissingFolders(dir); !s.ok()) return s;
    const std::string tmp =
        dir + "/.steen-restore-" + std::to_string(::getpid()) + "-" + std::to_string(version.id);
    ::unlink(tmp.c_str());  // a leftover of a killed rollback
    if (Status s = vault_.Materialize(version, tmp); !s.ok()) return s;
    ReplaceOptions options = replace_options_;
    options.keep_displaced_as = path + ".steen-displaced-" + request_.incident_id;
    if (request_.before_swap) options.before_swap = [this, &path] { request_.before_swap(path); };
    auto result = GuardedReplace(tmp, path, seen, options);
    if (!result.ok() || result->outcome != ReplaceOutcome::kReplaced) ::unlink(tmp.c_str());
    return result;
  }

  static Status MakeMissingFolders(const std::string& dir) {
    if (dir.empty() || dir[0] != '/') {
      return Status::InvalidArgument("not an absolute folder: " + dir);
    }
    std::vector<std::string> missing;
    std::string at = dir;
    struct stat st {};
    while (::lstat(at.c_str(), &st) != 0) {
      if (errno != ENOENT) return Status::FromErrno("lstat " + at, errno);
      missing.push_back(at);
      at = at.substr(0, std::max<std::size_t>(at.rfind('/'), 1));
    }
    if (!S_ISDIR(st.st_mode)) return Status::IoError("not a folder: " + at);
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      if (::mkdir(it->c_str(), st.st_mode & 07777) != 0 && errno != EEXIST) {
        return Status::FromErrno("mkdir " + *it, errno);
      }
      (void)::lchown(it->c_str(), st.st_uid, st.st_gid);
      (void)::chmod(it->c_str(), st.st_mode & 07777);  // the umask narrowed mkdir's mode
    }
    return Status::Ok();
  }

  StatusOr<ReplaceResult> Remove(const std::string& path, const FileState& seen) {
    ReplaceOptions options = replace_options_;
    if (request_.before_swap) options.before_swap = [this, &path] { request_.before_swap(path); };
    return GuardedRemove(path, seen, options);
  }

  bool IsOffender(const ActorRef& actor) const {
    for (const ActorRef& a : request_.actors) {
      if (SameActor(a, actor)) return true;
    }
    return false;
  }

  // The file `c` names is one the offender created (a ciphertext copy, a note, a temporary file):
  // it is removed, not restored. The create is matched by path and inode, in any order: creates
  // come from fanotify's name group and writes from its content group, two queues the daemon
  // reads on two threads, so a create may be recorded after the first write of its file.
  bool CreatedByOffender(const Change& c) const {
    for (const Change& created : changes_) {
      if (created.op != ChangeOp::kCreate || created.path != c.path) continue;
      if (created.inode == 0 || c.inode == 0 ||
          (created.inode == c.inode && created.device == c.device)) {
        return true;
      }
    }
    return false;
  }

  // Somebody other than the offender changed `path` after change `after_id`.
  bool ChangedByOthers(const std::string& path, int64_t after_id, std::string* who) {
    auto later = vault_.ChangesTo(path, after_id);
    if (!later.ok()) return false;
    for (const Change& c : *later) {
      // Our own steps (this run or a killed earlier one: steen's own executable) are not news.
      if (c.actor.pid == ::getpid() || (!own_exe_.empty() && c.actor.exe == own_exe_)) continue;
      if (!IsOffender(c.actor)) {
        *who = "pid " + std::to_string(c.actor.pid) +
               (c.actor.exe.empty() ? "" : " (" + c.actor.exe + ")");
        return true;
      }
    }
    return false;
  }

  std::string StepKey(const Change& c) const { return "change-" + std::to_string(c.id); }

  bool AlreadyDone(const Change& c) {
    auto state = vault_.JournalGet(request_.incident_id, StepKey(c));
    return state.ok() && state->has_value() && **state == "done";
  }

  void Done(const Change& c, RollbackItem item) {
    if (!request_.dry_run && item.action != RollbackAction::kFailed) {
      (void)vault_.JournalPut(request_.incident_id, StepKey(c), "done",
                              std::string(ToString(item.action)) + " " + item.path);
    }
    Add(std::move(item));
  }

  void Add(RollbackItem item) {
    switch (item.action) {
      case RollbackAction::kRestored:
        ++report_.restored;
        break;
      case RollbackAction::kRecreated:
        ++report_.recreated;
        break;
      case RollbackAction::kRenamedBack:
        ++report_.renamed_back;
        break;
      case RollbackAction::kRemoved:
        ++report_.removed;
        break;
      case RollbackAction::kKeptAside:
        ++report_.kept_aside;
        break;
      case RollbackAction::kBusy:
        ++report_.busy;
        break;
      case RollbackAction::kFailed:
        ++report_.failed;
        break;
      case RollbackAction::kAlreadyDone:
        break;
    }
    report_.items.push_back(std::move(item));
  }

  static RollbackItem Item(RollbackAction action, std::string path, std::string detail) {
    RollbackItem item;
    item.action = action;
    item.path = std::move(path);
    item.detail = std::move(detail);
    return item;
  }

  // Writes the version next to a file somebody else changed since. `why` completes "PATH was".
  void KeepAside(const Change& c, const Version& version, const std::string& path,
                 const std::string& why) {
    const std::string aside = path + ".steen-restored-" + request_.incident_id;
    RollbackItem item =
        Item(RollbackAction::kKeptAside, aside,
             path + " was " + why +
                 ": not overwritten; the version from before the incident is at " + aside);
    item.from_path = path;
    item.sha256 = version.sha256;
    if (!request_.dry_run && !Exists(aside)) {
      if (Status s = vault_.Materialize(version, aside); !s.ok()) {
        Add(Item(RollbackAction::kFailed, path, "keeping aside: " + s.message()));
        return;
      }
    }
    Done(c, std::move(item));
  }

  void Undo(const Change& c) {
    if (AlreadyDone(c)) {
      Add(Item(RollbackAction::kAlreadyDone, c.path, "done by an earlier run"));
      return;
    }
    switch (c.op) {
      case ChangeOp::kRename:
        UndoRename(c);
        break;
      case ChangeOp::kWrite:
        UndoWrite(c);
        break;
      case ChangeOp::kDelete:
        UndoDelete(c);
        break;
      case ChangeOp::kCreate:
        UndoCreate(c);
        break;
    }
  }

  void UndoRename(const Change& c) {
    if (c.path.empty()) {
      // Moved in from outside the trees (where the source is not known): the offender's file.
      Change created = c;
      created.op = ChangeOp::kCreate;
      created.path = c.new_path;
      created.new_path.clear();
      UndoCreate(created);
      return;
    }
    std::string who;
    if (ChangedByOthers(c.new_path, c.id, &who)) {
      Add(Item(RollbackAction::kKeptAside, c.new_path,
               "renamed from " + c.path + " by the offender, then changed by " + who +
                   ": left where it is"));
      return;
    }
    if (!Exists(c.new_path)) {
      // Already back (an earlier run), or moved on (out of the trees and back under another
      // name): the content phase puts it back from its copy.
      return;
    }
    const std::string exists_again =
        c.path + " exists again (somebody made a new file there): " + c.new_path +
        " left where it is";
    if (Exists(c.path)) {
      Add(Item(RollbackAction::kKeptAside, c.new_path, exists_again));
      return;
    }
    RollbackItem item =
        Item(RollbackAction::kRenamedBack, c.path, "renamed back from " + c.new_path);
    item.from_path = c.new_path;
    // RENAME_NOREPLACE: a file somebody makes at the old name in the meantime is never replaced.
    if (!request_.dry_run && ::renameat2(AT_FDCWD, c.new_path.c_str(), AT_FDCWD, c.path.c_str(),
                                         RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) {
        Add(Item(RollbackAction::kKeptAside, c.new_path, exists_again));
      } else {
        Add(Item(RollbackAction::kFailed, c.path,
                 Status::FromErrno("rename " + c.new_path + " -> " + c.path, errno).message()));
      }
      return;
    }
    // The file the rename replaced comes back (only where nothing is now).
    if (c.version_id != 0) {
      auto replaced = vault_.GetVersion(c.version_id);
      if (replaced.ok()) {
        RollbackItem back = Item(RollbackAction::kRecreated, c.new_path,
                                 "the file the rename replaced, from the vault");
        back.sha256 = replaced->sha256;
        if (request_.dry_run) {
          Add(std::move(back));
        } else if (auto put = PutVersion(*replaced, c.new_path, FileState{}); !put.ok()) {
          Add(Item(RollbackAction::kFailed, c.new_path, put.status().message()));
        } else if (put->outcome == ReplaceOutcome::kReplaced) {
          Add(std::move(back));
        } else {
          KeepAside(c, *replaced, c.new_path, "made anew by somebody during the rollback");
        }
      }
    }
    Done(c, std::move(item));
  }

  void UndoWrite(const Change& c) {
    if (first_writes_.count(c.id) == 0) return;  // an earlier write of the same file restores it
    if (CreatedByOffender(c)) return;            // the offender's own file: removed later
    if (c.version_id == 0) {
      Add(Item(RollbackAction::kFailed, c.path,
               "written by the offender without a protective copy (empty, too large or not "
               "kept): cannot be restored"));
      return;
    }
    auto version = vault_.GetVersion(c.version_id);
    if (!version.ok()) {
      Add(Item(RollbackAction::kFailed, c.path,
               "version " + std::to_string(c.version_id) + ": " + version.status().message()));
      return;
    }
    const std::string path = NameBeforeRenames(c);
    std::string who;
    if (ChangedByOthers(path, LastOffenderChange(path), &who)) {
      KeepAside(c, *version, path, "changed by " + who + " after the incident");
      return;
    }
    const FileState seen = StateOf(path);
    RollbackItem item = Item(RollbackAction::kRestored, path, "content from before the incident");
    item.sha256 = version->sha256;
    if (!request_.dry_run) {
      auto put = PutVersion(*version, path, seen);
      if (!put.ok()) {
        Add(Item(RollbackAction::kFailed, path, put.status().message()));
        return;
      }
      if (put->outcome == ReplaceOutcome::kBusy) return Defer(c, put->detail);
      if (put->outcome == ReplaceOutcome::kChanged) {
        KeepAside(c, *version, path, "changed while the rollback ran (" + put->detail + ")");
        return;
      }
      if (!put->detail.empty()) item.detail += "; " + put->detail;
    }
    Done(c, std::move(item));
  }

  // Where the written (or deleted) file is once the renames are undone: the name it had before
  // the offender's first rename of it. Followed back by name first, newest rename first (`shred
  // -u` renames x -> 0000 -> ... -> 0 before it unlinks: the delete of "0" is x's; the chain's
  // first rename may carry no inode), else by inode. Only renames recorded before the change
  // count: a later file shredded through the same names is another chain.
  std::string NameBeforeRenames(const Change& write) const {
    std::string name = write.path;
    for (auto it = changes_.rbegin(); it != changes_.rend(); ++it) {
      if (it->id >= write.id) continue;  // changes_ is in id (record) order
      if (it->op != ChangeOp::kRename || it->path.empty() || it->new_path != name) continue;
      if (write.inode != 0 && it->inode != 0 &&
          (it->inode != write.inode || it->device != write.device)) {
        continue;
      }
      name = it->path;
    }
    if (name != write.path || write.inode == 0) return name;
    // A name the offender renamed away is the first name already (the write came before).
    for (const Change& c : changes_) {
      if (c.op == ChangeOp::kRename && c.path == write.path) return name;
    }
    for (const Change& c : changes_) {
      if (c.op == ChangeOp::kRename && !c.path.empty() && c.inode == write.inode &&
          c.device == write.device) {
        return c.path;
      }
    }
    return write.path;
  }

  void UndoDelete(const Change& c) {
    if (CreatedByOffender(c)) return;  // its own temporary file
    // Under the name it had before the offender renamed it on its way out (shred -u).
    const std::string path = NameBeforeRenames(c);
    if (Exists(path)) {
      // Back already (an earlier run or a later rename undone), or somebody made a new one.
      return;
    }
    if (c.version_id == 0) {
      Add(Item(RollbackAction::kFailed, path,
               "deleted by the offender and not kept by the vault (no link: another filesystem, "
               "or never opened before)"));
      return;
    }
    auto version = vault_.GetVersion(c.version_id);
    if (!version.ok()) {
      Add(Item(RollbackAction::kFailed, path, version.status().message()));
      return;
    }
    RollbackItem item = Item(RollbackAction::kRecreated, path, "deleted by the offender");
    item.sha256 = version->sha256;
    if (!request_.dry_run) {
      auto put = PutVersion(*version, path, FileState{});
      if (!put.ok()) {
        Add(Item(RollbackAction::kFailed, path, put.status().message()));
        return;
      }
      if (put->outcome != ReplaceOutcome::kReplaced) {
        KeepAside(c, *version, path, "made anew by somebody during the rollback");
        return;
      }
    }
    Done(c, std::move(item));
  }

  void UndoCreate(const Change& c) {
    if (!Exists(c.path)) return;  // renamed back to its first name or deleted: nothing to remove
    std::string who;
    if (ChangedByOthers(c.path, LastOffenderChange(c.path), &who)) {
      Add(Item(RollbackAction::kKeptAside, c.path,
               "created by the offender, then changed by " + who + ": not removed"));
      return;
    }
    const FileState seen = StateOf(c.path);
    if (!seen.exists || !seen.regular) return;
    RollbackItem item = Item(RollbackAction::kRemoved, c.path, "created by the offender");
    if (!request_.dry_run) {
      auto removed = Remove(c.path, seen);
      if (!removed.ok()) {
        Add(Item(RollbackAction::kFailed, c.path, removed.status().message()));
        return;
      }
      if (removed->outcome == ReplaceOutcome::kBusy) return Defer(c, removed->detail);
      if (removed->outcome == ReplaceOutcome::kChanged) {
        Add(Item(RollbackAction::kKeptAside, c.path,
                 "created by the offender, then " + removed->detail + ": not removed"));
        return;
      }
    }
    Done(c, std::move(item));
  }

  // Id of the offender's last change that touched `path` (0 = none).
  int64_t LastOffenderChange(const std::string& path) const {
    int64_t last = 0;
    for (const Change& c : changes_) {
      if (c.path == path || c.new_path == path) last = c.id;
    }
    return last;
  }

  Vault& vault_;
  const RollbackRequest& request_;
  std::vector<Change> changes_;
  std::set<int64_t> first_writes_;
  RollbackReport report_;
  std::string own_exe_;
  ReplaceOptions replace_options_;
  std::vector<Change> busy_;
  std::map<int64_t, std::string> busy_detail_;
};

}  // namespace

StatusOr<RollbackReport> Rollback(Vault& vault, const RollbackRequest& request) {
  if (request.actors.empty()) {
    return Status::InvalidArgument("incident " + request.incident_id +
                                   " names no process: nothing to roll back");
  }
  return Rollbacker(vault, request).Run();
}

}  // namespace steen::vault
