#include "sys/process_control.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "steen/limits.h"
#include "sys/proc.h"

namespace steen::sys {
namespace {

// Direct system calls: glibc 2.36's <sys/pidfd.h> lacks C linkage for C++ callers.
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

}  // namespace

std::optional<int64_t> ParseSyscallNumber(std::string_view text) {
  const std::size_t end = text.find_first_of(" \n");
  std::string_view head = text.substr(0, end);
  int64_t nr = 0;
  auto [ptr, ec] = std::from_chars(head.data(), head.data() + head.size(), nr);
  if (ec != std::errc() || ptr != head.data() + head.size() || head.empty()) return std::nullopt;
  return nr;
}

bool IsEventLoopWait(int64_t nr) {
  switch (nr) {
#ifdef SYS_epoll_wait
    case SYS_epoll_wait:
#endif
#ifdef SYS_epoll_pwait
    case SYS_epoll_pwait:
#endif
#ifdef SYS_epoll_pwait2
    case SYS_epoll_pwait2:
#endif
#ifdef SYS_poll
    case SYS_poll:
#endif
#ifdef SYS_ppoll
    case SYS_ppoll:
#endif
#ifdef SYS_select
    case SYS_select:
#endif
#ifdef SYS_pselect6
    case SYS_pselect6:
#endif
      return true;
    default:
      return false;
  }
}

KernelProcessControl::KernelProcessControl(FileOpener* opener, std::string proc_root)
    : opener_(opener ? opener : DefaultFileOpener()), proc_root_(std::move(proc_root)) {}

Status KernelProcessControl::Suspend(pid_t pid, uint64_t start_time) {
  return Signal(pid, start_time, SIGSTOP, "suspend");
}
Status KernelProcessControl::Resume(pid_t pid, uint64_t start_time) {
  return Signal(pid, start_time, SIGCONT, "resume");
}
Status KernelProcessControl::Kill(pid_t pid, uint64_t start_time) {
  return Signal(pid, start_time, SIGKILL, "kill");
}

StatusOr<ProcStat> KernelProcessControl::StatOf(pid_t pid, uint64_t start_time,
                                                const std::string& who) const {
  auto text = ReadSmallFile(opener_, proc_root_ + "/" + std::to_string(pid) + "/stat",
                            limits::kMaxProcFileBytes);
  if (!text.ok()) return Status::NotFound(who + ": the process has exited");
  auto stat = ParseProcStat(*text);
  if (!stat) return Status::Internal(who + ": unreadable /proc stat");
  if (start_time != 0 && stat->start_time != start_time) {
    return Status::NotFound(who + ": it now belongs to another process (start time " +
                            std::to_string(stat->start_time) + ", expected " +
                            std::to_string(start_time) + ")");
  }
  return *stat;
}

Status KernelProcessControl::Signal(pid_t pid, uint64_t start_time, int sig, const char* what) {
  std::string who = std::string(what) + " pid " + std::to_string(pid);
  if (pid <= 1) return Status::InvalidArgument("refusing to " + who + ": not a user process");
  if (pid == ::getpid()) return Status::InvalidArgument("refusing to " + who + ": it is steen");
  if (start_time == 0) {
    return Status::InvalidArgument("refusing to " + who +
                                   ": no start time recorded, a reused pid could be hit");
  }
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) {
    if (errno == ESRCH) return Status::NotFound("cannot " + who + ": the process has exited");
    return Status::FromErrno("cannot " + who + ": pidfd_open", errno);
  }
  UniqueFd guard(pidfd);
  // The pidfd now pins this exact process; if its start time is the recorded one, it is the
  // process we attributed, and the signal below cannot reach a newcomer that reused the pid.
  auto stat = StatOf(pid, start_time, "cannot " + who);
  if (!stat.ok()) return stat.status();
  if (PidfdSendSignal(pidfd, sig) != 0) {
    if (errno == ESRCH) return Status::NotFound("cannot " + who + ": the process has exited");
    return Status::FromErrno("cannot " + who + ": pidfd_send_signal", errno);
  }
  return Status::Ok();
}

// A stopped thread's /proc syscall file names the call it stopped in or at the return of (a stop
// takes effect on the way back to user space); a thread stopped in user code shows -1. Samba's
// main thread holds no database lock across its event loop's wait, so a stop there is harmless to
// the other clients.
StatusOr<StopPoint> KernelProcessControl::Inspect(pid_t pid, uint64_t start_time) {
  const std::string who = "pid " + std::to_string(pid);
  auto stat = StatOf(pid, start_time, who);
  if (!stat.ok()) return stat.status();
  if (stat->state != 'T' && stat->state != 't') return StopPoint::kNotStopped;
  auto call = ReadSmallFile(
      opener_, proc_root_ + "/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/syscall",
      limits::kMaxProcFileBytes);
  if (!call.ok()) {
    if (call.status().code() == Status::Code::kNotFound) {
      return Status::NotFound(who + ": the process has exited");
    }
    return Status::Unsupported(who + ": " + call.status().message());
  }
  std::optional<int64_t> nr = ParseSyscallNumber(*call);
  return nr && IsEventLoopWait(*nr) ? StopPoint::kEventWait : StopPoint::kElsewhere;
}

}  // namespace steen::sys
