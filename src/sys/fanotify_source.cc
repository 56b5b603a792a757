#include "sys/fanotify_source.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fanotify.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sys/exe_hasher.h"

namespace steen::sys {
namespace {

constexpr uint64_t kNameMask =
    FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_ONDIR | FAN_EVENT_ON_CHILD;

class FanotifyResponder : public PermissionResponder {
 public:
  explicit FanotifyResponder(int group_fd) : group_fd_(group_fd) {}
  bool Allow(int event_fd) override {
    fanotify_response response{};
    response.fd = event_fd;
    response.response = FAN_ALLOW;
    return ::write(group_fd_, &response, sizeof(response)) == sizeof(response);
  }

 private:
  int group_fd_;
};

bool IsOwnThread(pid_t self, pid_t tid) {
  // Signal 0 to (our tgid, tid) succeeds only for threads of this process; no file is opened.
  return ::syscall(SYS_tgkill, self, tid, 0) == 0;
}

uint64_t FsidOf(const struct statfs& st) {
  int32_t words[2];
  std::memcpy(words, &st.f_fsid, sizeof(words));
  return static_cast<uint32_t>(words[0]) |
         (static_cast<uint64_t>(static_cast<uint32_t>(words[1])) << 32);
}

// Highest ancestor of `path` on the same device (the mount's root, bind mounts aside).
std::string MountRootOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path;
  std::string current = path;
  while (current.size() > 1) {
    std::size_t slash = current.rfind('/');
    std::string parent = slash == 0 ? "/" : current.substr(0, slash);
    struct stat pst {};
    if (::stat(parent.c_str(), &pst) != 0 || pst.st_dev != st.st_dev) break;
    current = parent;
  }
  return current;
}

std::string FdPath(int fd) { return ReadLink("/proc/self/fd/" + std::to_string(fd)); }

class FanotifySourceImpl : public FanotifySource {
 public:
  explicit FanotifySourceImpl(const FanotifyOptions& options)
      : options_(options), queue_(options.queue_capacity) {
    opener_ = options.opener ? options.opener : DefaultFileOpener();
    clock_ = options.clock ? options.clock : RealClock::Get();
    attributor_ = options.attributor;
    if (attributor_ == nullptr) {
      own_hasher_ = std::make_unique<ExeHasher>(opener_);
      own_attributor_ = std::make_unique<ProcessAttributor>(opener_, clock_, own_hasher_.get());
      own_attributor_->SetSmbSessions(options.smb_sessions);
      own_attributor_->SetProcessHistory(options.process_history);
      attributor_ = own_attributor_.get();
    }
  }
  ~FanotifySourceImpl() override { Stop(); }

  Status Init();

  std::optional<SysEvent> Next(std::chrono::milliseconds timeout) override {
    if (pending_overflow_.exchange(false)) {
      SysEvent ev;
      ev.kind = SysEvent::Kind::kOverflow;
      ev.detail = "steen's event queue was full: events were dropped; rescan the trees";
      return ev;
    }
    return queue_.Pop(timeout);
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (stop_efd_.valid()) {
      uint64_t one = 1;
      (void)!::write(stop_efd_.get(), &one, sizeof(one));
    }
    if (content_reader_.joinable()) content_reader_.join();
    if (name_reader_.joinable()) name_reader_.join();
    enforcer_.reset();
    if (registry_) registry_->Shutdown();
    queue_.Close();
    // Closing the content group makes the kernel allow anything still pending.
    content_group_.Reset();
    name_group_.Reset();
  }

  SourceStats Stats() const override {
    SourceStats s;
    s.events = events_.load();
    s.dropped = queue_.dropped();
    s.kernel_overflows = kernel_overflows_.load();
    s.own_events = own_events_.load();
    s.unresolved_paths = unresolved_.load();
    s.malformed = malformed_.load();
    s.watch_limit_hits = watch_limit_hits_.load();
    s.outside_events = outside_events_.load();
    {
      std::lock_guard lock(watch_mu_);
      s.watched_directories = watched_.size();
    }
    if (registry_) s.tickets = registry_->Stats();
    return s;
  }

  std::size_t OutstandingTickets() const override {
    return registry_ ? registry_->Outstanding() : 0;
  }

 private:
  struct Mount {
    uint64_t fsid;
    dev_t dev;
    UniqueFd fd;  // the mount's root, O_RDONLY: open_by_handle_at's mount_fd
  };

  void Push(SysEvent ev) {
    if (auto rejected = queue_.TryPush(std::move(ev))) {
      pending_overflow_ = true;
      // `rejected` is destroyed here: its fd closes, its ticket (if any) allows.
    } else {
      ++events_;
    }
  }

  bool InsideRoots(const std::string& path) const {
    for (const auto& root : options_.roots) {
      if (PathIsUnder(path, root)) return true;
    }
    return false;
  }

  void Stamp(FileEvent* ev) {
    ev->time_ns = clock_->MonotonicNs();
    ev->wall_time_ns = clock_->WallNs();
  }

  // Marks `dir` and (bounded) its subdirectories in both groups. `emit_creates`: report the
  // entries found (they appeared before the mark, so no event of their own was seen).
  void MarkTree(const std::string& dir, bool emit_creates, std::size_t walk_budget);
  Status MarkOne(int dir_fd, const struct stat& st, const std::string& path);
  void UnmarkTree(const std::string& top, std::size_t walk_budget);

  void ContentReaderLoop();
  void NameReaderLoop();
  void HandleContentEvent(RawFanotifyEvent& raw);
  // What the opener asked for, from /proc/TID/syscall (kUnknown when it cannot be read).
  OpenRequest ReadOpenRequest(pid_t tid);
  void HandleNameEvent(const RawFanotifyEvent& raw);
  std::string ResolveHandle(const FileId& id, dev_t* dev, bool directory);
  bool ReadBatch(int group_fd, std::vector<uint8_t>& buf, ParsedBuffer* out);

  FanotifyOptions options_;
  FileOpener* opener_;
  // Ours, read once: every event asks whether its thread is ours (a getpid per event was 5% of
  // the daemon's system calls under rsync).
  const pid_t self_pid_ = ::getpid();
  // Threads found not to be ours, and when (both readers ask). A tid becomes ours only when that
  // thread exits and steen starts one that gets the same id: pid_max thread starts later, so a
  // check is reused for kOwnThreadCheckReuseMs instead of a tgkill per event.
  std::mutex foreign_mu_;
  std::unordered_map<pid_t, uint64_t> foreign_threads_;
  bool IsOwn(pid_t tid) {
    const uint64_t now = clock_->MonotonicNs();
    const uint64_t reuse_ns = static_cast<uint64_t>(limits::kOwnThreadCheckReuseMs) * 1000000;
    {
      std::lock_guard lock(foreign_mu_);
      auto it = foreign_threads_.find(tid);
      if (it != foreign_threads_.end() && now - it->second < reuse_ns) return false;
    }
    const bool own = IsOwnThread(self_pid_, tid);
    if (!own) {
      std::lock_guard lock(foreign_mu_);
      if (foreign_threads_.size() >= limits::kAttributionCacheEntries) foreign_threads_.clear();
      foreign_threads_[tid] = now;
    }
    return own;
  }
  Clock* clock_;
  ProcessAttributor* attributor_;
  std::unique_ptr<ExeHasher> own_hasher_;
  std::unique_ptr<ProcessAttributor> own_attributor_;
  UniqueFd name_group_, content_group_, stop_efd_;
  std::vector<Mount> mounts_;
  std::shared_ptr<TicketRegistry> registry_;
  std::unique_ptr<DeadlineEnforcer> enforcer_;
  BoundedQueue<SysEvent> queue_;
  std::atomic<bool> pending_overflow_{false}, stopped_{false};
  std::thread content_reader_, name_reader_;
  mutable std::mutex watch_mu_;
  std::set<std::pair<uint64_t, uint64_t>> watched_;  // (dev, ino) of marked directories
  std::atomic<uint64_t> events_{0}, kernel_overflows_{0}, own_events_{0}, unresolved_{0},
      malformed_{0}, watch_limit_hits_{0}, outside_events_{0};
  uint64_t content_mask_ = 0;
  Status first_mark_error_;  // guarded by watch_mu_
};

Status FanotifySourceImpl::Init() {
  for (const auto& root : options_.roots) {
    Status valid = ValidateWatchRoot(root);
    if (!valid.ok()) return valid;
    // The mount's root, not the watched root: open_by_handle_at() only decodes handles below
    // mount_fd's directory (seen on 6.18), and a directory moved out of the tree must still
    // resolve. Not O_PATH: an O_PATH mount_fd is refused with EBADF (6.18). Opened before any
    // mark exists, so this open cannot raise an event.
    auto fd = opener_->Open(MountRootOf(root), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd.ok()) return fd.status();
    struct statfs sfs {};
    struct stat st {};
    if (::fstatfs(fd->get(), &sfs) != 0 || ::fstat(fd->get(), &st) != 0) {
      return Status::FromErrno("stat " + root, errno);
    }
    mounts_.push_back({FsidOf(sfs), st.st_dev, std::move(*fd)});
  }
  // Name group: directory handle + name, plus the target's handle where the kernel offers it.
  int name_fd = ::fanotify_init(
      FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID | FAN_REPORT_DFID_NAME_TARGET,
      O_RDONLY | O_LARGEFILE);
  if (name_fd < 0 && errno == EINVAL) {
    name_fd = ::fanotify_init(
        FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID | FAN_REPORT_DFID_NAME,
        O_RDONLY | O_LARGEFILE);
  }
  if (name_fd < 0) {
    return Status::FromErrno("fanotify_init (name group; needs CAP_SYS_ADMIN and Linux >= 5.17)",
                             errno);
  }
  name_group_.Reset(name_fd);
  // The events' fds read what was written (and, for the vault, what is about to be): without
  // O_NOATIME every saved file would look read just after its save (relatime updates an atime
  // older than the mtime), which backup, tiering and forensic tools rely on; and each such update
  // dirtied the inode. The kernel opens these fds for us: O_NOATIME needs no ownership check here.
  int content_fd = ::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID,
                                   O_RDONLY | O_LARGEFILE | O_CLOEXEC | O_NOATIME);
  if (content_fd < 0) {
    return Status::FromErrno("fanotify_init (content group; needs CAP_SYS_ADMIN)", errno);
  }
  content_group_.Reset(content_fd);
  content_mask_ = FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD;
  if (options_.permission_events) content_mask_ |= FAN_OPEN_PERM;
  if (options_.report_close_nowrite) content_mask_ |= FAN_CLOSE_NOWRITE;
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Status::FromErrno("eventfd", errno);
  stop_efd_.Reset(efd);

  registry_ =
      TicketRegistry::Create(std::make_unique<FanotifyResponder>(content_group_.get()), clock_,
                             options_.permission_deadline, options_.max_outstanding_tickets);
  enforcer_ = std::make_unique<DeadlineEnforcer>(registry_);
  // Readers first, marks second: every event a mark can raise has a thread to answer it.
  content_reader_ = std::thread([this] { ContentReaderLoop(); });
  name_reader_ = std::thread([this] { NameReaderLoop(); });
  for (const auto& root : options_.roots) {
    MarkTree(root, false, options_.max_watched_directories);
  }
  {
    std::lock_guard lock(watch_mu_);
    if (watched_.empty()) {
      return first_mark_error_.ok() ? Status::IoError("no directory could be marked")
                                    : first_mark_error_;
    }
  }
  return Status::Ok();
}

Status FanotifySourceImpl::MarkOne(int dir_fd, const struct stat& st, const std::string& path) {
  {
    std::lock_guard lock(watch_mu_);
    auto key = std::make_pair(static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino));
    // Already in the set: mark again anyway (idempotent). Inode numbers are reused, and a deleted
    // directory whose delete we missed would otherwise hide its successor.
    if (watched_.count(key) == 0 && watched_.size() >= options_.max_watched_directories) {
      return Status::ResourceExhausted("watched-directory limit reached (" +
                                       std::to_string(options_.max_watched_directories) +
                                       "); not watching " + path);
    }
  }
  if (::fanotify_mark(name_group_.get(), FAN_MARK_ADD | FAN_MARK_ONLYDIR, kNameMask, dir_fd,
                      nullptr) != 0) {
    return Status::FromErrno("fanotify_mark (names; FAN_RENAME needs Linux >= 5.17) " + path,
                             errno);
  }
  if (::fanotify_mark(content_group_.get(), FAN_MARK_ADD | FAN_MARK_ONLYDIR, content_mask_, dir_fd,
                      nullptr) != 0) {
    int err = errno;
    ::fanotify_mark(name_group_.get(), FAN_MARK_REMOVE, kNameMask, dir_fd, nullptr);
    return Status::FromErrno("fanotify_mark (content) " + path, err);
  }
  std::lock_guard lock(watch_mu_);
  watched_.insert({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
  return Status::Ok();
}

void FanotifySourceImpl::MarkTree(const std::string& top, bool emit_creates,
                                  std::size_t walk_budget) {
  std::vector<std::string> stack{top};
  std::size_t walked = 0;
  dev_t top_dev = 0;
  bool first = true;
  while (!stack.empty() && walked < walk_budget) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    // O_RDONLY on a directory: the content group's marks lack FAN_ONDIR, so this raises no
    // permission event (and the name group has none).
    auto fd = opener_->Open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd.ok()) continue;  // removed meanwhile
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) continue;
    if (first) {
      top_dev = st.st_dev;
      first = false;
    } else if (st.st_dev != top_dev) {
      continue;  // another file system mounted inside: not ours to watch (no mount fd for it)
    }
    ++walked;
    Status marked = MarkOne(fd->get(), st, dir);
    if (!marked.ok()) {
      {
        std::lock_guard lock(watch_mu_);
        if (first_mark_error_.ok()) first_mark_error_ = marked;
      }
      ++watch_limit_hits_;
      SysEvent ev;
      ev.kind = SysEvent::Kind::kWatchLimit;
      ev.event.path = dir;
      ev.detail = marked.message();
      Stamp(&ev.event);
      Push(std::move(ev));
      if (marked.code() == Status::Code::kResourceExhausted) return;
      continue;
    }
    DIR* d = ::fdopendir(fd->Release());
    if (d == nullptr) continue;
    std::size_t entries = 0;
    while (dirent* de = ::readdir(d)) {
      if (++entries > 10 * limits::kMaxNewDirectoryWalk) break;
      std::string name = de->d_name;
      if (name == "." || name == "..") continue;
      std::string child = dir + "/" + name;
      bool is_dir = de->d_type == DT_DIR;
      if (de->d_type == DT_UNKNOWN) {
        struct stat cst {};
        is_dir = ::fstatat(::dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) == 0 &&
                 S_ISDIR(cst.st_mode);
      }
      if (is_dir && stack.size() < walk_budget) stack.push_back(child);
      if (emit_creates) {
        SysEvent ev;
        ev.kind = SysEvent::Kind::kFile;
        ev.event.op = FileOp::kCreate;
        ev.event.path = child;
        ev.is_directory = is_dir;
        ev.detail = "found in a new directory before it was marked";
        Stamp(&ev.event);
        Push(std::move(ev));
      }
    }
    ::closedir(d);
  }
}

void FanotifySourceImpl::UnmarkTree(const std::string& top, std::size_t walk_budget) {
  std::vector<std::string> stack{top};
  std::size_t walked = 0;
  while (!stack.empty() && walked++ < walk_budget) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    auto fd = opener_->Open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!fd.ok()) continue;
    struct stat st {};
    if (::fstat(fd->get(), &st) == 0) {
      std::lock_guard lock(watch_mu_);
      watched_.erase({static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino)});
    }
    ::fanotify_mark(name_group_.get(), FAN_MARK_REMOVE, kNameMask, fd->get(), nullptr);
    ::fanotify_mark(content_group_.get(), FAN_MARK_REMOVE, content_mask_, fd->get(), nullptr);
    DIR* d = ::fdopendir(fd->Release());
    if (d == nullptr) continue;
    while (dirent* de = ::readdir(d)) {
      std::string name = de->d_name;
      if (name == "." || name == ".." || de->d_type != DT_DIR) continue;
      if (stack.size() < walk_budget) stack.push_back(dir + "/" + name);
    }
    ::closedir(d);
  }
}

bool FanotifySourceImpl::ReadBatch(int group_fd, std::vector<uint8_t>& buf, ParsedBuffer* out) {
  pollfd fds[2] = {{group_fd, POLLIN, 0}, {stop_efd_.get(), POLLIN, 0}};
  int n = ::poll(fds, 2, 500);
  if (n < 0 && errno != EINTR) return false;
  if (fds[1].revents != 0) return false;
  if (n <= 0 || (fds[0].revents & POLLIN) == 0) {
    *out = ParsedBuffer{};
    return true;
  }
  ssize_t len = ::read(group_fd, buf.data(), buf.size());
  if (len <= 0) {
    *out = ParsedBuffer{};
    return true;
  }
  *out = ParseFanotifyBuffer(buf.data(), static_cast<std::size_t>(len));
  if (out->trailing_bytes != 0 || out->version_mismatch) ++malformed_;
  return true;
}

void FanotifySourceImpl::ContentReaderLoop() {
  SetThreadRole(ThreadRole::kPermissionReader);
  std::vector<uint8_t> buf(limits::kFanotifyReadBufferBytes);
  ParsedBuffer batch;
  while (ReadBatch(content_group_.get(), buf, &batch)) {
    for (auto& raw : batch.events) HandleContentEvent(raw);
  }
}

OpenRequest FanotifySourceImpl::ReadOpenRequest(pid_t tid) {
  // The kernel queues the event before the opener goes to sleep waiting for the answer: read
  // this early, /proc/TID/syscall says "running" and the intent is unknown (a write, to be safe:
  // a needless copy, and the opener's name on a file it only read). A loaded machine widens that
  // window, so a "running" task is read again, briefly (the opener waits for us anyway).
  const std::string path = "/proc/" + std::to_string(tid) + "/syscall";
  OpenRequest request;
  for (int attempt = 0; attempt < limits::kSyscallReadAttempts; ++attempt) {
    auto line = ReadProcTextFile(opener_, path, 512);
    if (!line.ok()) break;  // gone
    if (!line->starts_with("running")) return ParseSyscallOpenRequest(*line);
    if (attempt < 4) {
      ::sched_yield();
    } else {
      ::usleep(100);
    }
  }
  return request;
}

void FanotifySourceImpl::HandleContentEvent(RawFanotifyEvent& raw) {
  UniqueFd fd(raw.fd >= 0 ? raw.fd : -1);  // owned from here on, whatever happens
  if (raw.mask & FAN_Q_OVERFLOW) {
    ++kernel_overflows_;
    SysEvent ev;
    ev.kind = SysEvent::Kind::kOverflow;
    ev.detail = "kernel fanotify queue overflowed (content group): rescan the trees";
    Stamp(&ev.event);
    Push(std::move(ev));
    return;
  }
  bool own = IsOwn(raw.pid);
  if (raw.mask & FAN_ALL_PERM_EVENTS) {
    if (own) {
      // Our own open (exe hasher, vault, restore): answer before anything else can happen.
      ++own_events_;
      registry_->AllowNow(std::move(fd));
      return;
    }
    const OpenRequest request = ReadOpenRequest(raw.pid);
    struct stat st {};
    const bool have_stat = ::fstat(fd.get(), &st) == 0;
    const bool regular = have_stat && S_ISREG(st.st_mode);
    // The hook, then the answer: whatever the hook did.
    const auto allow_now = [&](const std::string& path) {
      if (options_.before_early_allow && regular) {
        FileEvent file;
        file.path = path;
        file.device = st.st_dev;
        file.inode = st.st_ino;
        file.size = static_cast<uint64_t>(st.st_size);
        file.actor.pid = raw.pid;
        Stamp(&file);
        try {
          options_.before_early_allow(fd.get(), file);
        } catch (...) {
        }
      }
      registry_->AllowNow(std::move(fd));
    };
    if (!options_.forward_read_opens &&
        (request.intent == OpenIntent::kRead || request.intent == OpenIntent::kExec)) {
      allow_now(regular && options_.before_early_allow ? FdPath(fd.get()) : std::string());
      return;
    }
    SysEvent ev;
    ev.kind = SysEvent::Kind::kPermission;
    ev.mask = raw.mask;
    ev.open_request = request;
    ev.event.op = FileOp::kOpenForWrite;
    ev.event.path = FdPath(fd.get());
    if (have_stat) {
      ev.event.device = st.st_dev;
      ev.event.inode = st.st_ino;
      ev.event.size = static_cast<uint64_t>(st.st_size);
    }
    ev.event.actor = attributor_->Attribute(raw.pid);
    Stamp(&ev.event);
    if (options_.allow_empty_writes_early && regular && st.st_size == 0 &&
        !(options_.hold_empty_write && options_.hold_empty_write(ev.event.actor))) {
      allow_now(ev.event.path);
      ev.allowed_empty = true;
      ev.stat_at_open = st;
      Push(std::move(ev));
      return;
    }
    ev.ticket = registry_->Issue(std::move(fd));
    if (!ev.ticket) return;  // too many outstanding: already allowed
    Push(std::move(ev));
    return;
  }
  if (own) {
    ++own_events_;
    if (!options_.report_own_events) return;
  }
  SysEvent ev;
  ev.kind = SysEvent::Kind::kFile;
  ev.mask = raw.mask;
  ev.event.op = (raw.mask & FAN_CLOSE_WRITE) ? FileOp::kCloseWrite : FileOp::kCloseNoWrite;
  if (fd.valid()) {
    ev.event.path = FdPath(fd.get());
    struct stat st {};
    if (::fstat(fd.get(), &st) == 0) {
      ev.event.device = st.st_dev;
      ev.event.inode = st.st_ino;
      ev.event.size = static_cast<uint64_t>(st.st_size);
    }
  }
  ev.event.actor = attributor_->Attribute(raw.pid);
  Stamp(&ev.event);
  ev.fd = std::move(fd);
  Push(std::move(ev));
}

std::string FanotifySourceImpl::ResolveHandle(const FileId& id, dev_t* dev, bool directory) {
  const Mount* mount = nullptr;
  for (const auto& m : mounts_) {
    if (m.fsid == id.fsid) mount = &m;
  }
  if (mount == nullptr || id.handle.size() > limits::kMaxFileHandleBytes) return {};
  *dev = mount->dev;
  alignas(file_handle) uint8_t storage[sizeof(file_handle) + limits::kMaxFileHandleBytes];
  auto* fh = reinterpret_cast<file_handle*>(storage);
  fh->handle_bytes = static_cast<unsigned int>(id.handle.size());
  fh->handle_type = id.handle_type;
  std::memcpy(fh->f_handle, id.handle.data(), id.handle.size());
  // O_PATH: opens without reading; O_PATH opens raise no fanotify event at all (no permission
  // event even for regular files), so this is safe on every thread.
  auto fd = opener_->OpenByHandle(mount->fd.get(), fh, O_PATH | (directory ? O_DIRECTORY : 0));
  if (!fd.ok()) {
    return {};
  }
  std::string path = FdPath(fd->get());
  static constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() >= kDeleted.size() &&
      path.compare(path.size() - kDeleted.size(), kDeleted.size(), kDeleted) == 0) {
    return {};
  }
  return path;
}

void FanotifySourceImpl::NameReaderLoop() {
  SetThreadRole(ThreadRole::kNameReader);
  std::vector<uint8_t> buf(limits::kFanotifyReadBufferBytes);
  ParsedBuffer batch;
  while (ReadBatch(name_group_.get(), buf, &batch)) {
    for (const auto& raw : batch.events) HandleNameEvent(raw);
  }
}

void FanotifySourceImpl::HandleNameEvent(const RawFanotifyEvent& raw) {
  if (raw.fd >= 0) ::close(raw.fd);  // never expected for FID groups
  if (raw.mask & FAN_Q_OVERFLOW) {
    ++kernel_overflows_;
    SysEvent ev;
    ev.kind = SysEvent::Kind::kOverflow;
    ev.detail = "kernel fanotify queue overflowed (name group): rescan the trees";
    Stamp(&ev.event);
    Push(std::move(ev));
    return;
  }
  if (raw.malformed) ++malformed_;
  SysEvent ev;
  ev.kind = SysEvent::Kind::kFile;
  ev.mask = raw.mask;
  ev.is_directory = (raw.mask & FAN_ONDIR) != 0;
  dev_t dev = 0;
  auto join = [&](const std::optional<DirEntryId>& entry) -> std::string {
    if (!entry) return {};
    std::string dir = ResolveHandle(entry->dir, &dev, true);
    if (dir.empty()) {
      ++unresolved_;
      return {};
    }
    return entry->name == "." ? dir : dir + "/" + entry->name;
  };
  if (raw.mask & FAN_RENAME) {
    ev.event.op = FileOp::kRename;
    ev.event.path = join(raw.old_entry);
    ev.event.new_path = join(raw.new_entry);
    // The kernel reports only the watched side of a rename. Moved out: the target's own handle
    // (FAN_REPORT_TARGET_FID) tells where it went. Moved in: where it came from stays unknown.
    if (!raw.new_entry && raw.fid) {
      ev.event.new_path = ResolveHandle(*raw.fid, &dev, (raw.mask & FAN_ONDIR) != 0);
    }
  } else if (raw.mask & FAN_CREATE) {
    ev.event.op = FileOp::kCreate;
    ev.event.path = join(raw.entry);
  } else if (raw.mask & FAN_DELETE) {
    ev.event.op = FileOp::kDelete;
    ev.event.path = join(raw.entry);
  } else {
    return;  // self events on directories etc.: not subscribed
  }
  ev.event.device = dev;
  if (raw.fid) ev.event.inode = InodeFromHandle(*raw.fid);
  Stamp(&ev.event);
  auto inside = [&](const std::string& path) {
    bool in = false;
    for (const auto& root : options_.roots) in = in || (!path.empty() && PathIsUnder(path, root));
    return in;
  };
  if (ev.is_directory) {
    if (ev.event.op == FileOp::kCreate && inside(ev.event.path)) {
      // mkdir: watch it and whatever was created in it before the mark.
      MarkTree(ev.event.path, true, limits::kMaxNewDirectoryWalk);
    } else if (ev.event.op == FileOp::kRename && inside(ev.event.new_path) &&
               !inside(ev.event.path)) {
      // Moved in from outside: its whole subtree is new to us. (A move inside the trees keeps
      // its marks: they belong to the inodes.)
      MarkTree(ev.event.new_path, true, limits::kMaxNewDirectoryWalk);
    } else if (ev.event.op == FileOp::kRename && !inside(ev.event.new_path) &&
               inside(ev.event.path) && !ev.event.new_path.empty()) {
      // Moved out: stop watching it. Content events already queued keep their (new) path: a
      // write just before a move out is still a write we must see.
      UnmarkTree(ev.event.new_path, limits::kMaxNewDirectoryWalk);
    } else if (ev.event.op == FileOp::kDelete && raw.fid) {
      std::lock_guard lock(watch_mu_);
      watched_.erase({static_cast<uint64_t>(dev), InodeFromHandle(*raw.fid)});
    }
  }
  // Name events from a moved-out tree that arrived before its marks were removed.
  if (!ev.event.path.empty() && !inside(ev.event.path) && !inside(ev.event.new_path)) {
    ++outside_events_;
    return;
  }
  bool own = IsOwn(raw.pid);
  if (own) {
    ++own_events_;
    if (!options_.report_own_events) return;
  }
  ev.event.actor = attributor_->Attribute(raw.pid);
  Push(std::move(ev));
}

}  // namespace

StatusOr<std::unique_ptr<FanotifySource>> FanotifySource::Open(const FanotifyOptions& options) {
  if (options.roots.empty()) return Status::InvalidArgument("no directory to watch");
  auto source = std::make_unique<FanotifySourceImpl>(options);
  Status status = source->Init();
  if (!status.ok()) {
    source->Stop();
    return status;
  }
  return std::unique_ptr<FanotifySource>(std::move(source));
}

Status ValidateWatchRoot(const std::string& root) {
  if (root.empty() || root[0] != '/') {
    return Status::InvalidArgument("watch root must be an absolute path: '" + root + "'");
  }
  char resolved[PATH_MAX];
  if (::realpath(root.c_str(), resolved) == nullptr) {
    return Status::FromErrno("watch root " + root, errno);
  }
  if (root != resolved) {
    return Status::InvalidArgument(
        "watch root must be canonical (no symlinks, '..' or trailing "
        "'/'): '" +
        root + "' is '" + resolved + "'");
  }
  struct stat st {};
  if (::stat(resolved, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("watch root is not a directory: " + root);
  }
  static const char* kSystem[] = {"/etc",  "/usr",  "/lib", "/lib64", "/bin", "/sbin",
                                  "/boot", "/proc", "/sys", "/dev",   "/run"};
  for (const char* sys_dir : kSystem) {
    if (root == "/" || PathIsUnder(sys_dir, root) || PathIsUnder(root, sys_dir)) {
      return Status::InvalidArgument("refusing to watch " + root + ": it is or contains " +
                                     sys_dir + " (system files must stay outside watched trees)");
    }
  }
  return Status::Ok();
}

uint64_t InodeFromHandle(const FileId& id) {
  // FILEID_INO32_GEN (1) and FILEID_INO32_GEN_PARENT (2), ext4 and others: u32 inode, u32
  // generation, ...
  if ((id.handle_type == 1 || id.handle_type == 2) && id.handle.size() >= 8) {
    uint32_t ino = 0;
    std::memcpy(&ino, id.handle.data(), 4);
    return ino;
  }
  // XFS with 64-bit inode numbers, its default (FILEID_INO32_GEN[_PARENT] | 0x80: u64 inode, u32
  // generation, ...), and btrfs (FILEID_BTRFS_WITHOUT_PARENT 0x4d, _WITH_PARENT 0x4e,
  // _WITH_PARENT_ROOT 0x4f: u64 objectid, the inode number in its subvolume, ...). Native order.
  const bool xfs64 = id.handle_type == 0x81 || id.handle_type == 0x82;
  const bool btrfs = id.handle_type >= 0x4d && id.handle_type <= 0x4f;
  if ((xfs64 && id.handle.size() >= 12) || (btrfs && id.handle.size() >= 20)) {
    uint64_t ino = 0;
    std::memcpy(&ino, id.handle.data(), 8);
    return ino;
  }
  return 0;
}

}  // namespace steen::sys
