#include "sys/process_control.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

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
  auto text = ReadSmallFile(opener_, proc_root_ + "/" + std::to_string(pid) + "/stat",
                            limits::kMaxProcFileBytes);
  if (!text.ok()) return Status::NotFound("cannot " + who + ": the process has exited");
  auto stat = ParseProcStat(*text);
  if (!stat) return Status::Internal("cannot " + who + ": unreadable /proc stat");
  if (stat->start_time != start_time) {
    return Status::NotFound("not signalling pid " + std::to_string(pid) +
                            ": it now belongs to another process (start time " +
                            std::to_string(stat->start_time) + ", expected " +
                            std::to_string(start_time) + ")");
  }
  if (PidfdSendSignal(pidfd, sig) != 0) {
    if (errno == ESRCH) return Status::NotFound("cannot " + who + ": the process has exited");
    return Status::FromErrno("cannot " + who + ": pidfd_send_signal", errno);
  }
  return Status::Ok();
}

}  // namespace steen::sys
