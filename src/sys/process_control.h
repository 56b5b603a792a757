// Suspending, resuming and killing a process without ever signalling a reused pid: the pid is
// pinned with pidfd_open(2), then its start time is checked against the one recorded at
// attribution, and only then is the signal sent through the pidfd (pidfd_send_signal(2)).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "steen/status.h"
#include "sys/file_opener.h"

namespace steen::sys {

class ProcessControl {
 public:
  virtual ~ProcessControl() = default;
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

 private:
  Status Signal(pid_t pid, uint64_t start_time, int sig, const char* what);
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
};

}  // namespace steen::sys
