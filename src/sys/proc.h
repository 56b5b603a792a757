// Attribution from /proc: who is behind a pid or tid. Parsing is pure (unit-tested with odd
// command names); ProcessAttributor reads /proc through the FileOpener seam, caches by
// (pid, start time) and returns a partial Actor when the process is gone (no error storm: exits
// are counted, not reported).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "steen/event.h"
#include "sys/clock.h"
#include "sys/file_opener.h"
#include "sys/process_history.h"

namespace steen::sys {

class ExeHasher;
class SmbSessionTable;

// Fields of /proc/PID/stat we use. comm may contain spaces and ')' (it is cut at the LAST ')').
struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgid = 0;
  pid_t sid = 0;
  uint64_t start_time = 0;  // field 22, clock ticks since boot
};
std::optional<ProcStat> ParseProcStat(std::string_view text);

// Fields of /proc/PID/status we use.
struct ProcStatus {
  std::string name;  // comm, as the Name line shows it (escaped by the kernel)
  pid_t tgid = 0;
  pid_t ppid = 0;
  uid_t real_uid = 0;
  uid_t effective_uid = 0;  // smbd switches euid to the client's user: this is the one we report
  bool has_uid = false;
};
std::optional<ProcStatus> ParseProcStatus(std::string_view text);

// The unified-hierarchy path ("0::/system.slice/smbd.service" -> "/system.slice/smbd.service"),
// or the first line's path on v1-only systems.
std::string ParseCgroup(std::string_view text);

// The process ids listed in `proc_root` (at most limits::kMaxProcessesScanned), ascending.
std::vector<pid_t> ListPids(FileOpener* opener, const std::string& proc_root = "/proc");

// A process and its parent, as /proc/PID/stat shows them.
struct ParentLink {
  pid_t pid = 0;
  pid_t ppid = 0;
  uint64_t start_time = 0;
};
// Every listed process's parent (processes that exit while read are skipped).
std::vector<ParentLink> ListParentLinks(FileOpener* opener, const std::string& proc_root = "/proc");
// The processes below `roots` as the kernel's child lists show them (/proc/PID/task/TID/children,
// each child's link read from its own stat), nearest first, at most `max`: a read of one family
// instead of every process, for a response that must stop workers within milliseconds. The lists
// are exact only while the listed parents are stopped (proc(5)), so callers that must miss nobody
// follow up with ListParentLinks. Empty when the kernel has no child lists
// (CONFIG_PROC_CHILDREN) or the roots are gone.
std::vector<ParentLink> ListFamilyLinks(FileOpener* opener, const std::vector<pid_t>& roots,
                                        std::size_t max, const std::string& proc_root = "/proc");
// The descendants of `root` in `links`, nearest first, at most `max`. Only processes that started
// no earlier than their parent are followed (an older process whose parent pid matches is the
// child of a previous process with that pid); root_start 0 skips that check for the root.
std::vector<ParentLink> DescendantsOf(pid_t root, uint64_t root_start,
                                      const std::vector<ParentLink>& links, std::size_t max);

// uid -> user name (getpwuid_r), cached; the number as text when there is no such user.
class UserNames {
 public:
  std::string Lookup(uid_t uid);

 private:
  std::mutex mu_;
  std::unordered_map<uid_t, std::string> names_;
};

struct AttributionStats {
  uint64_t attributed = 0;
  uint64_t cache_hits = 0;
  uint64_t vanished = 0;  // process exited before (full) attribution
  // Of those, attributed from what an earlier event of the same thread or process showed.
  uint64_t vanished_from_cache = 0;
  // Of those, attributed through their parent from the kernel's process events (ProcessHistory).
  uint64_t vanished_from_history = 0;
  // Of the cache hits, those taken on /proc/PID/stat and exe alone (status read recently).
  uint64_t rechecks_skipped = 0;
  // Of the cache hits, those taken without reading anything (checked within kAttributionReuseUs).
  uint64_t reused = 0;
};

class ProcessAttributor {
 public:
  // `proc_root` is "/proc" except in tests. `hasher` may be null (no exe hashes).
  ProcessAttributor(FileOpener* opener, Clock* clock, ExeHasher* hasher = nullptr,
                    std::string proc_root = "/proc");
  // Never fails: fields the process no longer has are left empty. `tid` may be a thread id
  // (fanotify with FAN_REPORT_TID) or a process id. A thread or process that has exited (or was
  // killed) since its event is given what an earlier event of it showed, if one was seen: its
  // last events are often read after it is gone, and must still count for it.
  Actor Attribute(pid_t tid);
  AttributionStats Stats() const;
  // Samba: an smbd child's events then carry its client (smb_client_address, smb_user,
  // smb_machine). Set before the first Attribute(); shared so that every attributor of the
  // daemon (and containment) uses one table. Null (the default): nothing filled.
  void SetSmbSessions(std::shared_ptr<SmbSessionTable> table);
  const std::shared_ptr<SmbSessionTable>& smb_sessions() const { return smb_; }
  // The kernel's process events: a process gone before its first event was attributed (and never
  // seen before) is attributed through its parent. Null (the default): such a process is known
  // by its pid alone. Set before the first Attribute().
  void SetProcessHistory(std::shared_ptr<const ProcessHistory> history);

 private:
  struct CacheEntry {
    Actor actor;
    uint64_t inserted_ns;  // first read of ancestors, cgroup, user (kAttributionCacheTtlMs)
    uint64_t checked_ns;   // last read of status (uid) and tgid (kAttributionRecheckMs)
    uint64_t verified_ns;  // last read of stat and exe, in full or as a recheck
    std::list<pid_t>::iterator lru;
  };
  // The cached actor of process `tid` when its uid was read less than kAttributionRecheckMs ago
  // and /proc/TID/stat and exe show the same process and program: one small read and a
  // readlink instead of three reads (a file's create, open and close come within microseconds).
  std::optional<Actor> RecentlyChecked(pid_t tid);
  std::string ProcPath(pid_t pid, const char* file) const;
  void FillAncestors(Actor* actor);
  // The parent process `pid` (started at `start_time`) was forked by, from its fork record: who
  // started it, when /proc shows who adopted it. `catch_up` reads queued process events first.
  std::optional<pid_t> ForkParent(pid_t pid, uint64_t start_time, bool catch_up) const;
  // The executable's sha256 when the hasher knows it (asked for in the background otherwise).
  void FillExeHash(Actor* actor);
  // The cached actor of the process `tid` belonged to, or nothing.
  std::optional<Actor> Remembered(pid_t tid);
  Actor Resolve(pid_t tid, int depth);
  // smbd acting as root serves no client (it runs as the client's user while it does, and goes
  // back to root when it is idle or exits): the user of an smbd not matched to a session is
  // unknown, not root's, or its last events would join root's other work in one user scope.
  void ClearRootUserOfUnmatchedSmbd(Actor* actor) const;
  // A process gone from /proc (before or while it was read): what an earlier event of it showed,
  // else its ProcessHistory record and its parent's attribution, else `partial` with its ancestors.
  Actor Vanished(pid_t tid, int depth, Actor partial);
  // A process gone from /proc, from its ProcessHistory record and its parent's attribution.
  std::optional<Actor> FromHistory(pid_t tid, int depth);

  FileOpener* opener_;
  Clock* clock_;
  ExeHasher* hasher_;
  std::shared_ptr<SmbSessionTable> smb_;
  std::shared_ptr<const ProcessHistory> history_;
  std::string proc_root_;
  UserNames users_;
  mutable std::mutex mu_;
  std::unordered_map<pid_t, CacheEntry> cache_;
  std::list<pid_t> lru_;
  // Threads other than a process's main thread -> their process (bounded: cleared when full).
  std::unordered_map<pid_t, pid_t> thread_owner_;
  std::atomic<uint64_t> attributed_{0}, cache_hits_{0}, vanished_{0}, vanished_from_cache_{0},
      vanished_from_history_{0}, rechecks_skipped_{0}, reused_{0};
};

}  // namespace steen::sys
