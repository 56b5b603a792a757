#include "sys/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>

#include <algorithm>
#include <charconv>
#include <unordered_set>
#include <vector>

#include "steen/limits.h"
#include "sys/exe_hasher.h"
#include "sys/smb_sessions.h"

namespace steen::sys {
namespace {

template <typename T>
bool ParseNumber(std::string_view tok, T* out) {
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), *out);
  return ec == std::errc() && p == tok.data() + tok.size();
}

std::vector<std::string_view> SplitSpaces(std::string_view s, std::size_t max_fields) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size() && out.size() < max_fields) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\n' || s[pos] == '\t')) ++pos;
    if (pos >= s.size()) break;
    std::size_t end = s.find_first_of(" \t\n", pos);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// The process's parent link from its stat; none when it exited meanwhile.
std::optional<ParentLink> ReadParentLink(FileOpener* opener, const std::string& proc_root,
                                         pid_t pid) {
  auto text = ReadProcTextFile(opener, proc_root + "/" + std::to_string(pid) + "/stat",
                               limits::kMaxProcFileBytes);
  if (!text.ok()) return std::nullopt;
  auto stat = ParseProcStat(*text);
  if (!stat) return std::nullopt;
  return ParentLink{pid, stat->ppid, stat->start_time};
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  std::size_t open = text.find('(');
  std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat st;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!ParseNumber(pid_text, &st.pid)) return std::nullopt;
  st.comm = std::string(text.substr(open + 1, close - open - 1));
  // After ") ": field 3 (state) is index 0, so field N is index N - 3; start_time is field 22.
  auto fields = SplitSpaces(text.substr(close + 1), 20);
  if (fields.size() < 20 || fields[0].size() != 1) return std::nullopt;
  st.state = fields[0][0];
  if (!ParseNumber(fields[1], &st.ppid) || !ParseNumber(fields[2], &st.pgid) ||
      !ParseNumber(fields[3], &st.sid) || !ParseNumber(fields[19], &st.start_time)) {
    return std::nullopt;
  }
  return st;
}

std::optional<ProcStatus> ParseProcStatus(std::string_view text) {
  ProcStatus st;
  bool have_tgid = false;
  std::size_t pos = 0;
  int lines = 0;
  while (pos < text.size() && lines++ < 256) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    auto values = SplitSpaces(line.substr(colon + 1), 4);
    if (values.empty()) continue;
    if (key == "Name") {
      st.name = std::string(line.substr(colon + 1));
      while (!st.name.empty() && (st.name.front() == '\t' || st.name.front() == ' ')) {
        st.name.erase(st.name.begin());
      }
    } else if (key == "Tgid") {
      have_tgid = ParseNumber(values[0], &st.tgid);
    } else if (key == "PPid") {
      ParseNumber(values[0], &st.ppid);
    } else if (key == "Uid" && values.size() >= 2) {
      st.has_uid =
          ParseNumber(values[0], &st.real_uid) && ParseNumber(values[1], &st.effective_uid);
    }
  }
  if (!have_tgid) return std::nullopt;
  return st;
}

std::string ParseCgroup(std::string_view text) {
  std::string first;
  std::size_t pos = 0;
  int lines = 0;
  while (pos < text.size() && lines++ < 64) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    // hierarchy-ID:controller-list:cgroup-path (the path may itself contain ':').
    std::size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) continue;
    std::size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    std::string_view path = line.substr(c2 + 1);
    if (line.substr(0, c1) == "0" && c2 == c1 + 1) return std::string(path);
    if (first.empty()) first = std::string(path);
  }
  return first;
}

std::vector<pid_t> ListPids(FileOpener* opener, const std::string& proc_root) {
  std::vector<pid_t> pids;
  auto dir_fd = opener->Open(proc_root, O_RDONLY | O_DIRECTORY);
  if (!dir_fd.ok()) return pids;
  DIR* dir = ::fdopendir(dir_fd->get());
  if (dir == nullptr) return pids;
  dir_fd->Release();  // the DIR owns it now
  while (pids.size() < limits::kMaxProcessesScanned) {
    dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    pid_t pid = 0;
    if (ParseNumber(std::string_view(entry->d_name), &pid) && pid > 0) pids.push_back(pid);
  }
  ::closedir(dir);
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<ParentLink> ListParentLinks(FileOpener* opener, const std::string& proc_root) {
  std::vector<ParentLink> links;
  for (pid_t pid : ListPids(opener, proc_root)) {
    if (auto link = ReadParentLink(opener, proc_root, pid)) links.push_back(*link);
  }
  return links;
}

std::vector<ParentLink> ListFamilyLinks(FileOpener* opener, const std::vector<pid_t>& roots,
                                        std::size_t max, const std::string& proc_root) {
  std::vector<ParentLink> links;
  std::vector<pid_t> frontier(roots.begin(), roots.end());
  std::unordered_set<pid_t> seen(roots.begin(), roots.end());
  for (std::size_t next = 0; next < frontier.size() && links.size() < max; ++next) {
    const std::string task_dir = proc_root + "/" + std::to_string(frontier[next]) + "/task";
    // Every thread has its own list: a child is listed under the thread that forked it.
    for (pid_t tid : ListPids(opener, task_dir)) {
      auto text = ReadSmallFile(opener, task_dir + "/" + std::to_string(tid) + "/children",
                                limits::kMaxProcFileBytes);
      if (!text.ok()) continue;  // the thread exited, or no child lists in this kernel
      for (std::string_view field : SplitSpaces(*text, max)) {  // "pid pid ... "
        if (links.size() >= max) break;
        pid_t child = 0;
        if (!ParseNumber(field, &child) || child <= 0 || !seen.insert(child).second) continue;
        if (auto link = ReadParentLink(opener, proc_root, child)) {  // else it exited meanwhile
          links.push_back(*link);
          frontier.push_back(child);
        }
      }
    }
  }
  return links;
}

std::vector<ParentLink> DescendantsOf(pid_t root, uint64_t root_start,
                                      const std::vector<ParentLink>& links, std::size_t max) {
  std::unordered_map<pid_t, std::vector<const ParentLink*>> children;
  for (const ParentLink& link : links) {
    if (link.pid != link.ppid) children[link.ppid].push_back(&link);
  }
  std::vector<ParentLink> out;
  std::vector<std::pair<pid_t, uint64_t>> frontier = {{root, root_start}};
  std::unordered_set<pid_t> seen = {root};
  for (std::size_t next = 0; next < frontier.size() && out.size() < max; ++next) {
    const auto [parent, parent_start] = frontier[next];
    auto it = children.find(parent);
    if (it == children.end()) continue;
    for (const ParentLink* child : it->second) {
      if (out.size() >= max) break;
      if (parent_start != 0 && child->start_time < parent_start) continue;
      if (!seen.insert(child->pid).second) continue;
      out.push_back(*child);
      frontier.emplace_back(child->pid, child->start_time);
    }
  }
  return out;
}

std::string UserNames::Lookup(uid_t uid) {
  {
    std::lock_guard lock(mu_);
    auto it = names_.find(uid);
    if (it != names_.end()) return it->second;
  }
  std::string name = std::to_string(uid);
  passwd pw{};
  passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr &&
      result->pw_name != nullptr) {
    name = result->pw_name;
  }
  std::lock_guard lock(mu_);
  if (names_.size() >= limits::kUserNameCacheEntries) names_.clear();
  names_[uid] = name;
  return name;
}

ProcessAttributor::ProcessAttributor(FileOpener* opener, Clock* clock, ExeHasher* hasher,
                                     std::string proc_root)
    : opener_(opener), clock_(clock), hasher_(hasher), proc_root_(std::move(proc_root)) {}

void ProcessAttributor::SetSmbSessions(std::shared_ptr<SmbSessionTable> table) {
  smb_ = std::move(table);
}

std::string ProcessAttributor::ProcPath(pid_t pid, const char* file) const {
  return proc_root_ + "/" + std::to_string(pid) + "/" + file;
}

std::optional<pid_t> ProcessAttributor::ForkParent(pid_t pid, uint64_t start_time,
                                                   bool catch_up) const {
  if (history_ == nullptr || start_time == 0) return std::nullopt;
  const auto record = catch_up ? history_->FindOrCatchUp(pid) : history_->Find(pid);
  // The same process: its fork's time and /proc's start time, both in ticks, may round apart.
  if (!record || record->ppid <= 0 || record->start_time + 1 < start_time ||
      start_time + 1 < record->start_time) {
    return std::nullopt;
  }
  return record->ppid;
}

void ProcessAttributor::FillAncestors(Actor* actor) {
  // Who started it, not who adopted it: a worker double-forked away (`( ( cmd ) & )`) is the
  // child of init (or of a subreaper) in /proc, and its chain would never reach the loop that
  // spawns the next one. Its fork record still names the parent it had; the queued events are
  // read first, since a new process's fork may not be applied yet (this runs once per process
  // and cache lifetime, and a read of an empty queue is one non-blocking recv).
  pid_t next = actor->ppid;
  if (auto started_by = ForkParent(actor->pid, actor->start_time, /*catch_up=*/true)) {
    next = *started_by;
  }
  uint64_t child_start = actor->start_time;
  for (int i = 0; i < limits::kMaxAncestors && next > 1; ++i) {
    actor->ancestors.push_back(next);
    pid_t parent = 0;
    uint64_t start = 0;
    const auto link = ReadParentLink(opener_, proc_root_, next);
    if (link && (child_start == 0 || link->start_time <= child_start + 1)) {
      parent = link->ppid;
      start = link->start_time;
      if (auto started_by = ForkParent(next, start, /*catch_up=*/false)) parent = *started_by;
    } else if (history_ != nullptr) {
      // An ancestor gone meanwhile (the shell of a zombie `rm`): its fork record still names
      // its parent, and a chain cut here would put the process outside its stopped tree.
      // (A living process younger than its child holds a reused pid: its record says more.)
      if (const auto record = history_->FindOrCatchUp(next);
          record && (child_start == 0 || record->start_time <= child_start + 1)) {
        parent = record->ppid;
        start = record->start_time;
      }
    }
    if (parent <= 0 || parent == next) break;
    child_start = start;
    next = parent;
  }
}

void ProcessAttributor::FillExeHash(Actor* actor) {
  if (actor->exe_sha256.empty() && hasher_ != nullptr) {
    actor->exe_sha256 = hasher_->LookupOrRequest(actor->pid);
  }
}

std::optional<Actor> ProcessAttributor::RecentlyChecked(pid_t tid) {
  const uint64_t now = clock_->MonotonicNs();
  Actor cached;
  bool reuse = false;
  uint64_t verified_ns = 0;
  {
    std::lock_guard lock(mu_);
    if (thread_owner_.contains(tid)) return std::nullopt;  // a thread: status maps it
    auto it = cache_.find(tid);
    if (it == cache_.end() ||
        now - it->second.checked_ns >
            static_cast<uint64_t>(limits::kAttributionRecheckMs) * 1000000ull) {
      return std::nullopt;
    }
    cached = it->second.actor;
    // smbd switches its euid between root and the client's user: read every time.
    if (IsSmbdProcess(cached.comm, cached.exe)) return std::nullopt;
    verified_ns = it->second.verified_ns;
    reuse = now - verified_ns < static_cast<uint64_t>(limits::kAttributionReuseUs) * 1000;
  }
  // An exec since (a fork's child turning into the program it runs) is a new program: read it.
  if (reuse && history_ != nullptr && history_->ExecSince(tid, verified_ns)) reuse = false;
  if (reuse) {
    cached.tid = tid;
    FillExeHash(&cached);
    ++cache_hits_;
    ++reused_;
    return cached;
  }
  // Still the same process (start time: the pid was not reused; a thread under that id has its
  // own start time) running the same program (exec changes comm and exe).
  auto stat_text = ReadProcTextFile(opener_, ProcPath(tid, "stat"), limits::kMaxProcFileBytes);
  if (!stat_text.ok()) return std::nullopt;
  std::optional<ProcStat> stat = ParseProcStat(*stat_text);
  if (!stat || stat->start_time != cached.start_time || stat->comm != cached.comm) {
    return std::nullopt;
  }
  if (ReadLink(ProcPath(tid, "exe")) != cached.exe) return std::nullopt;
  cached.tid = tid;
  cached.ppid = stat->ppid;
  cached.pgid = stat->pgid;
  cached.sid = stat->sid;
  FillExeHash(&cached);
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(tid);
    if (it != cache_.end() && it->second.actor.start_time == cached.start_time) {
      it->second.actor.ppid = cached.ppid;
      it->second.actor.pgid = cached.pgid;
      it->second.actor.sid = cached.sid;
      it->second.actor.exe_sha256 = cached.exe_sha256;
      it->second.verified_ns = now;
    }
  }
  ++cache_hits_;
  ++rechecks_skipped_;
  return cached;
}

void ProcessAttributor::SetProcessHistory(std::shared_ptr<const ProcessHistory> history) {
  history_ = std::move(history);
}

std::optional<Actor> ProcessAttributor::FromHistory(pid_t tid, int depth) {
  if (history_ == nullptr || depth >= limits::kMaxHistoryAncestorsResolved) return std::nullopt;
  const std::optional<ProcessRecord> record = history_->FindOrCatchUp(tid);
  if (!record || record->ppid <= 0) return std::nullopt;
  // The parent usually still runs (xargs, a shell); else its own record stands in for it.
  const Actor parent = Resolve(record->ppid, depth + 1);
  // An smbd session is its client, which is unknown once the session is gone; the main smbd's
  // place, user and service are every client's (they would put it in the wrong scopes).
  if (IsSmbdProcess(parent.comm, parent.exe)) return std::nullopt;
  Actor actor;
  actor.pid = actor.tid = tid;
  actor.start_time = record->start_time;
  actor.ppid = record->ppid;
  actor.sid = record->own_session ? tid : parent.sid;
  actor.pgid = record->own_session ? tid : parent.pgid;
  actor.cgroup = parent.cgroup;
  actor.ancestors.push_back(record->ppid);
  for (pid_t ancestor : parent.ancestors) {
    if (static_cast<int>(actor.ancestors.size()) >= limits::kMaxAncestors) break;
    actor.ancestors.push_back(ancestor);
  }
  if (record->own_uid) {
    actor.uid = record->euid;
    actor.user = users_.Lookup(actor.uid);
  } else if (!parent.user.empty()) {
    actor.uid = parent.uid;
    actor.user = parent.user;
  }
  // comm and exe stay empty: whatever it ran is gone (the response refuses such a process).
  return actor;
}

Actor ProcessAttributor::Attribute(pid_t tid) { return Resolve(tid, 0); }

void ProcessAttributor::ClearRootUserOfUnmatchedSmbd(Actor* actor) const {
  if (smb_ != nullptr && actor->uid == 0 && actor->smb_client_address.empty() &&
      IsSmbdProcess(actor->comm, actor->exe)) {
    actor->user.clear();
  }
}

Actor ProcessAttributor::Vanished(pid_t tid, int depth, Actor partial) {
  ++vanished_;
  if (auto remembered = Remembered(tid)) {
    ++vanished_from_cache_;
    remembered->tid = tid;
    return *remembered;
  }
  // partial.pid is the process of thread `tid` when status was read, else `tid` itself.
  if (auto recorded = FromHistory(partial.pid, depth)) {
    ++vanished_from_history_;
    recorded->tid = tid;
    return *recorded;
  }
  FillAncestors(&partial);  // only now: the two above bring their own
  return partial;
}

Actor ProcessAttributor::Resolve(pid_t tid, int depth) {
  ++attributed_;
  if (std::optional<Actor> recent = RecentlyChecked(tid)) return std::move(*recent);
  Actor actor;
  actor.pid = tid;
  actor.tid = tid;
  // status first: it maps a thread id to its process (Tgid) and carries the thread's uids.
  auto status_text = ReadProcTextFile(opener_, ProcPath(tid, "status"), limits::kMaxProcFileBytes);
  std::optional<ProcStatus> status;
  if (status_text.ok()) status = ParseProcStatus(*status_text);
  if (!status) return Vanished(tid, depth, std::move(actor));
  actor.pid = status->tgid;
  if (status->has_uid) actor.uid = status->effective_uid;
  auto stat_text =
      ReadProcTextFile(opener_, ProcPath(actor.pid, "stat"), limits::kMaxProcFileBytes);
  std::optional<ProcStat> stat;
  if (stat_text.ok()) stat = ParseProcStat(*stat_text);
  if (!stat) {
    // Gone between the two reads (an exiting shell, on a loaded machine): what status showed
    // (its user, its parent) still places it when nothing better is known.
    actor.ppid = status->ppid;
    actor.comm = status->name;
    if (status->has_uid) actor.user = users_.Lookup(actor.uid);
    ClearRootUserOfUnmatchedSmbd(&actor);
    return Vanished(tid, depth, std::move(actor));
  }
  actor.start_time = stat->start_time;
  actor.ppid = stat->ppid;
  actor.pgid = stat->pgid;
  actor.sid = stat->sid;
  actor.comm = stat->comm;
  actor.exe = ReadLink(ProcPath(actor.pid, "exe"));  // a readlink: opens nothing

  uint64_t now = clock_->MonotonicNs();
  uint64_t inserted = now;  // a hit keeps its first time: the TTL bounds how stale data may be
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(actor.pid);
    if (it != cache_.end()) {
      const Actor& cached = it->second.actor;
      bool fresh = now - it->second.inserted_ns <
                   static_cast<uint64_t>(limits::kAttributionCacheTtlMs) * 1000000ull;
      // Same process (start time) and same program (exec changes exe and comm, not start time).
      if (fresh && cached.start_time == actor.start_time && cached.exe == actor.exe &&
          cached.uid == actor.uid && cached.comm == actor.comm) {
        actor.ancestors = cached.ancestors;
        actor.cgroup = cached.cgroup;
        actor.user = cached.user;
        actor.exe_sha256 = cached.exe_sha256;
        actor.smb_client_address = cached.smb_client_address;
        actor.smb_user = cached.smb_user;
        actor.smb_machine = cached.smb_machine;
        actor.smb_share = cached.smb_share;
        inserted = it->second.inserted_ns;
        ++cache_hits_;
      }
    }
  }
  bool hit = !actor.user.empty();
  if (!hit) {
    FillAncestors(&actor);
    auto cgroup = ReadSmallFile(opener_, ProcPath(actor.pid, "cgroup"), limits::kMaxProcFileBytes);
    if (cgroup.ok()) actor.cgroup = ParseCgroup(*cgroup);
    actor.user = users_.Lookup(actor.uid);
  }
  FillExeHash(&actor);
  // Asked on every event (the table caches): smbstatus may have named the machine (or a new
  // share) since.
  if (smb_ != nullptr && IsSmbdProcess(actor.comm, actor.exe)) {
    auto session = smb_->ForPid(actor.pid);
    if (session && session->start_time == actor.start_time) FillSmbFields(*session, &actor);
  }
  ClearRootUserOfUnmatchedSmbd(&actor);
  std::lock_guard lock(mu_);
  auto it = cache_.find(actor.pid);
  if (it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  while (cache_.size() >= limits::kAttributionCacheEntries && !lru_.empty()) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(actor.pid);
  cache_[actor.pid] = CacheEntry{actor, inserted, now, now, lru_.begin()};
  if (tid != actor.pid) {
    if (thread_owner_.size() >= limits::kAttributionCacheEntries) thread_owner_.clear();
    thread_owner_[tid] = actor.pid;
  }
  return actor;
}

std::optional<Actor> ProcessAttributor::Remembered(pid_t tid) {
  std::lock_guard lock(mu_);
  pid_t pid = tid;
  if (auto owner = thread_owner_.find(tid); owner != thread_owner_.end()) pid = owner->second;
  auto it = cache_.find(pid);
  // Any age: the entry is the last process seen under that pid, and a pid reused since would
  // have replaced it with its own first event.
  if (it == cache_.end()) return std::nullopt;
  return it->second.actor;
}

AttributionStats ProcessAttributor::Stats() const {
  AttributionStats stats;
  stats.attributed = attributed_.load();
  stats.cache_hits = cache_hits_.load();
  stats.vanished = vanished_.load();
  stats.vanished_from_cache = vanished_from_cache_.load();
  stats.vanished_from_history = vanished_from_history_.load();
  stats.rechecks_skipped = rechecks_skipped_.load();
  stats.reused = reused_.load();
  return stats;
}

}  // namespace steen::sys
