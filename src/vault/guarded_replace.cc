#include "vault/guarded_replace.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <mutex>
#include <optional>

#include "sys/file_users.h"
#include "sys/unique_fd.h"

namespace steen::vault {
namespace {

FileState FromStat(const struct stat& st) {
  FileState s;
  s.exists = true;
  s.regular = S_ISREG(st.st_mode);
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

bool SameInode(const FileState& a, const FileState& b) {
  return a.exists && b.exists && a.device == b.device && a.inode == b.inode;
}

// A lease break is signalled with SIGIO, whose default action ends the process. steen never
// handles SIGIO; it asks the kernel (F_GETLEASE) whether a break is pending instead.
void IgnoreLeaseBreakSignal() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGIO, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      struct sigaction ignore {};
      ignore.sa_handler = SIG_IGN;
      ::sigemptyset(&ignore.sa_mask);
      ::sigaction(SIGIO, &ignore, nullptr);
    }
  });
}

bool Tolerated(const sys::FileUser& user, const ReplaceOptions& options) {
  for (const ActorRef& a : options.tolerated_writers) {
    if (a.pid == user.pid &&
        (a.start_time == 0 || user.start_time == 0 || a.start_time == user.start_time)) {
      return true;
    }
  }
  return false;
}

std::string Describe(const std::vector<sys::FileUser>& users) {
  std::string out;
  for (const sys::FileUser& u : users) {
    if (!out.empty()) out += ", ";
    out += u.how;
    out += u.pid > 0 ? " by pid " + std::to_string(u.pid) : std::string(" (holder not named)");
    if (!u.exe.empty()) out += " (" + u.exe + ")";
  }
  return out;
}

ReplaceResult Outcome(ReplaceOutcome outcome, std::string detail) {
  ReplaceResult r;
  r.outcome = outcome;
  r.detail = std::move(detail);
  return r;
}

// The target, opened, checked and (where the filesystem allows) leased.
struct Held {
  sys::UniqueFd fd;
  FileState state;
  bool leased = false;

  // Somebody opened the file for writing, truncated it or wrote it since the checks.
  bool TouchedSinceChecks() const {
    if (leased && ::fcntl(fd.get(), F_GETLEASE) != F_RDLCK) return true;
    struct stat st {};
    return ::fstat(fd.get(), &st) != 0 || !Unchanged(state, FromStat(st));
  }
  ~Held() {
    if (leased) ::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
  }
};

// Opens `target` and checks it against `expected`; nullopt = go ahead (with `held` filled).
StatusOr<std::optional<ReplaceResult>> Check(const std::string& target, const FileState& expected,
                                             const ReplaceOptions& options, Held* held) {
  IgnoreLeaseBreakSignal();
  // O_NONBLOCK: a write lease held by somebody else (Samba's kernel oplocks) makes the open fail
  // with EWOULDBLOCK instead of waiting for the lease holder.
  held->fd.Reset(::open(target.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!held->fd) {
    if (errno == ENOENT) {
      return std::optional(Outcome(ReplaceOutcome::kChanged, target + " is gone"));
    }
    if (errno == EWOULDBLOCK) {
      return std::optional(
          Outcome(ReplaceOutcome::kBusy, target + " is leased by another program (an oplock)"));
    }
    if (errno == ELOOP) {
      return std::optional(Outcome(ReplaceOutcome::kChanged, target + " is now a symbolic link"));
    }
    return Status::FromErrno("open " + target, errno);
  }
  struct stat st {};
  if (::fstat(held->fd.get(), &st) != 0) return Status::FromErrno("fstat " + target, errno);
  held->state = FromStat(st);
  if (!held->state.regular || !Unchanged(expected, held->state)) {
    return std::optional(
        Outcome(ReplaceOutcome::kChanged, target + " changed after the rollback looked at it"));
  }
  std::vector<sys::FileUser> locks;
  for (sys::FileUser& u : sys::LocksOn(st.st_dev, st.st_ino)) {
    if (!Tolerated(u, options)) locks.push_back(std::move(u));
  }
  if (!locks.empty()) {
    return std::optional(Outcome(ReplaceOutcome::kBusy, target + " is locked: " + Describe(locks)));
  }
  if (::fcntl(held->fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    held->leased = true;
    return std::optional<ReplaceResult>();
  }
  const int lease_errno = errno;
  // No lease: somebody writes the file, or the filesystem (or our privileges) allow none. Who?
  std::vector<sys::FileUser> writers;
  for (sys::FileUser& u : sys::WritersOf(st.st_dev, st.st_ino)) {
    if (!Tolerated(u, options)) writers.push_back(std::move(u));
  }
  if (!writers.empty()) {
    return std::optional(Outcome(ReplaceOutcome::kBusy, target + " is " + Describe(writers)));
  }
  if (lease_errno == EAGAIN || lease_errno == EBUSY) {
    // Only tolerated writers hold it (the suspended offender), or the last writer just closed it.
    if (::fcntl(held->fd.get(), F_SETLEASE, F_RDLCK) == 0) held->leased = true;
  }
  return std::optional<ReplaceResult>();
}

// A name next to `target` that nobody else uses: ".steen-WHAT-PID-INODE".
std::string Hidden(const std::string& target, const char* what, ino_t inode) {
  const std::size_t slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : target.substr(0, slash);
  return dir + "/.steen-" + what + "-" + std::to_string(::getpid()) + "-" + std::to_string(inode);
}

}  // namespace

FileState StateOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  return FromStat(st);
}

bool Unchanged(const FileState& then, const FileState& now) {
  // Not ctime: links (the vault's own), renames and chmod change it without touching the data.
  return SameInode(then, now) && then.size == now.size && then.mtime_ns == now.mtime_ns;
}

StatusOr<ReplaceResult> GuardedReplace(const std::string& staged, const std::string& target,
                                       const FileState& expected, const ReplaceOptions& options) {
  if (!expected.exists) {
    if (options.before_swap) options.before_swap();
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
      return ReplaceResult{};
    }
    if (errno == EEXIST) {
      return Outcome(ReplaceOutcome::kChanged, "a new file appeared at " + target);
    }
    if (errno != EINVAL) return Status::FromErrno("rename " + staged + " -> " + target, errno);
    // No RENAME_NOREPLACE here: link(2) refuses an existing name just as atomically.
    if (::link(staged.c_str(), target.c_str()) != 0) {
      if (errno == EEXIST) {
        return Outcome(ReplaceOutcome::kChanged, "a new file appeared at " + target);
      }
      return Status::FromErrno("link " + staged + " -> " + target, errno);
    }
    ::unlink(staged.c_str());
    return ReplaceResult{};
  }

  Held held;
  auto checked = Check(target, expected, options, &held);
  if (!checked.ok()) return checked.status();
  if (checked->has_value()) return **checked;
  if (options.before_swap) options.before_swap();

  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL) return Status::FromErrno("exchange " + staged + " <-> " + target, errno);
    // A filesystem without exchange: the last check and a plain rename (a narrower guarantee).
    if (!Unchanged(held.state, StateOf(target)) || held.TouchedSinceChecks()) {
      return Outcome(ReplaceOutcome::kChanged, target + " changed during the restore");
    }
    if (::rename(staged.c_str(), target.c_str()) != 0) {
      return Status::FromErrno("rename " + staged + " -> " + target, errno);
    }
    return ReplaceResult{};
  }
  // `staged` now names what was at `target`.
  if (!SameInode(held.state, StateOf(staged))) {
    // Somebody put another file at the target between the checks and the exchange: theirs.
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
      return Status::FromErrno("exchange back " + staged + " <-> " + target, errno);
    }
    return Outcome(ReplaceOutcome::kChanged, target + " was replaced during the restore");
  }
  ReplaceResult result;
  if (held.TouchedSinceChecks()) {
    // Somebody opened the old file for writing in the last instant: keep it for them.
    const std::string keep = options.keep_displaced_as.empty()
                                 ? target + ".steen-displaced-" + std::to_string(::getpid())
                                 : options.keep_displaced_as;
    if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, keep.c_str(), RENAME_NOREPLACE) != 0) {
      return Status::FromErrno("keep the displaced file " + staged + " -> " + keep, errno);
    }
    result.displaced_kept = keep;
    result.detail =
        "opened for writing during the restore: the file it replaced is kept at " + keep;
    return result;
  }
  if (::unlink(staged.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("remove the replaced file " + staged, errno);
  }
  return result;
}

StatusOr<ReplaceResult> GuardedRemove(const std::string& target, const FileState& expected,
                                      const ReplaceOptions& options) {
  Held held;
  auto checked = Check(target, expected, options, &held);
  if (!checked.ok()) return checked.status();
  if (checked->has_value()) return **checked;
  if (options.before_swap) options.before_swap();
  // Moved to a hidden name first, so a file that turns out to be another or in use goes back.
  const std::string hidden = Hidden(target, "remove", held.state.inode);
  if (::renameat2(AT_FDCWD, target.c_str(), AT_FDCWD, hidden.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == ENOENT) return Outcome(ReplaceOutcome::kChanged, target + " is gone");
    return Status::FromErrno("rename " + target + " -> " + hidden, errno);
  }
  const bool other_file = !SameInode(held.state, StateOf(hidden));
  if (other_file || held.TouchedSinceChecks()) {
    if (::renameat2(AT_FDCWD, hidden.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
      return Status::FromErrno("put back " + hidden + " -> " + target, errno);
    }
    return other_file
               ? Outcome(ReplaceOutcome::kChanged, target + " was replaced during the rollback")
               : Outcome(ReplaceOutcome::kBusy,
                         target + " was opened for writing during the rollback");
  }
  if (::unlink(hidden.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno("remove " + hidden, errno);
  }
  return ReplaceResult{};
}

}  // namespace steen::vault
