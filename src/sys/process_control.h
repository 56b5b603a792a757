// Suspending, resuming and killing a process without ever signalling a reused pid: the pid is
// pinned with pidfd_open(2), then its start time is checked against the one recorded at
// attribution, and only then is the signal sent through the pidfd (pidfd_send_signal(2)).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "steen/status.h"
#include "sys/file_opener.h"
#include "sys/proc.h"

namespace steen::sys {

// Where a process's main thread is, once a SIGSTOP was sent to it.
enum class StopPoint {
  kNotStopped,  // the stop has not taken effect (yet): it runs, or waits in a permission event
  kEventWait,   // stopped in (or at the return of) an event loop's wait: epoll, poll, select
  kElsewhere,   // stopped anywhere else: in user code or another system call
};

// The system call number at the head of /proc/PID/task/TID/syscall ("232 0x4 ..." -> 232;
// "-1 0x7ffd... 0x7f..." -> -1), or nullopt for "running" and anything unreadable.
std::optional<int64_t> ParseSyscallNumber(std::string_view text);
// Whether `nr` is one of the waits an event loop blocks in on this architecture.
bool IsEventLoopWait(int64_t nr);

class ProcessControl {
 public:
  virtual ~ProcessControl() = default;
  // Where the process stands after a stop. NotFound when it exited (or its pid was reused);
  // Unsupported where it cannot be told (fakes, a kernel without /proc/PID/syscall).
  virtual StatusOr<StopPoint> Inspect(pid_t pid, uint64_t start_time) {
    (void)pid;
    (void)start_time;
    return Status::Unsupported("no stop inspection");
  }
  // `start_time` is Actor::start_time (field 22 of /proc/PID/stat); 0 skips the check (refused:
  // without it a reused pid could be hit).
  virtual Status Suspend(pid_t pid, uint64_t start_time) = 0;  // SIGSTOP
  virtual Status Resume(pid_t pid, uint64_t start_time) = 0;   // SIGCONT
  virtual Status Kill(pid_t pid, uint64_t start_time) = 0;     // SIGKILL
};

class KernelProcessControl : public ProcessControl {
 public:
  explicit KernelProcessControl(FileOpener* opener = nullptr, std::string proc_root = "/proc");
  Status Suspend(pid_t pid, uint64_t start_time) override;
  Status Resume(pid_t pid, uint64_t start_time) override;
  Status Kill(pid_t pid, uint64_t start_time) override;
  StatusOr<StopPoint> Inspect(pid_t pid, uint64_t start_time) override;

 private:
  Status Signal(pid_t pid, uint64_t start_time, int sig, const char* what);
  // /proc/PID/stat while `pid` is still the process started at `start_time` (0: any). NotFound
  // when it has exited or its pid now belongs to another process; messages start with `who`.
  StatusOr<ProcStat> StatOf(pid_t pid, uint64_t start_time, const std::string& who) const;
  FileOpener* opener_;
  std::string proc_root_;
};

// For daemon tests: records what would have been signalled.
class RecordingProcessControl : public ProcessControl {
 public:
  struct Call {
    std::string action;
    pid_t pid;
    uint64_t start_time;
  };
  Status Suspend(pid_t pid, uint64_t start_time) override {
    return Add("suspend", pid, start_time);
  }
  Status Resume(pid_t pid, uint64_t start_time) override { return Add("resume", pid, start_time); }
  Status Kill(pid_t pid, uint64_t start_time) override { return Add("kill", pid, start_time); }
  // What each Inspect answers, in order (the last one repeats); none scripted: Unsupported.
  void ScriptStopPoints(std::vector<StatusOr<StopPoint>> points) {
    std::lock_guard lock(mu_);
    stop_points_ = std::move(points);
  }
  StatusOr<StopPoint> Inspect(pid_t pid, uint64_t start_time) override {
    std::lock_guard lock(mu_);
    calls_.push_back({"inspect", pid, start_time});
    if (stop_points_.empty()) return Status::Unsupported("no stop points scripted");
    StatusOr<StopPoint> point = stop_points_.front();
    if (stop_points_.size() > 1) stop_points_.erase(stop_points_.begin());
    return point;
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

 private:
  Status Add(const char* action, pid_t pid, uint64_t start_time) {
    std::lock_guard lock(mu_);
    calls_.push_back({action, pid, start_time});
    return Status::Ok();
  }
  std::mutex mu_;
  std::vector<Call> calls_;
  std::vector<StatusOr<StopPoint>> stop_points_;
};

}  // namespace steen::sys
