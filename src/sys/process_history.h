// What the kernel's process events (the proc connector: fork, setuid, setsid, exit) said about
// processes, kept a while after they exit. `rm` started by `xargs sh -c` deletes its file and
// exits before its fanotify event is read: /proc then knows nothing of it, and without its parent,
// session and user its delete belongs to nobody (it was counted as uid 0's). With the history it
// is attributed through its parent, which usually still runs.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "steen/status.h"

namespace steen::sys {

struct ProcessRecord {
  pid_t ppid = 0;
  uint64_t start_time = 0;  // clock ticks since boot, as /proc/PID/stat's starttime
  bool own_uid = false;     // setuid since the fork: euid below; else the parent's
  uid_t euid = 0;
  bool own_session = false;  // setsid since the fork: its own pid is its session
  uint64_t exit_ns = 0;      // CLOCK_MONOTONIC; 0 while it runs
  uint64_t exec_ns = 0;      // CLOCK_MONOTONIC of its last exec; 0 when none was seen
};

struct ProcessHistoryStats {
  uint64_t forks = 0;
  uint64_t exits = 0;
  uint64_t dropped = 0;  // forks not recorded: the table was full of running processes
  uint64_t lost = 0;     // events the kernel dropped (socket buffer full)
};

class ProcessHistory {
 public:
  // Events as the proc connector gives them; `time_ns` is its timestamp (CLOCK_MONOTONIC).
  // `boot_offset_ns` is CLOCK_BOOTTIME - CLOCK_MONOTONIC, `ticks_per_second` _SC_CLK_TCK: together
  // they turn the fork's time into /proc's start time.
  void OnFork(pid_t parent_tgid, pid_t child_pid, pid_t child_tgid, uint64_t time_ns);
  void OnUid(pid_t pid, pid_t tgid, uid_t euid);
  void OnSid(pid_t pid, pid_t tgid);
  void OnExec(pid_t tgid, uint64_t time_ns);
  void OnExit(pid_t pid, pid_t tgid, uint64_t time_ns);
  void OnLost();
  void SetClock(uint64_t boot_offset_ns, uint64_t ticks_per_second);

  std::optional<ProcessRecord> Find(pid_t pid) const;
  // Find, and when the process is unknown, first read what the kernel has queued (a fork the
  // listener thread has not read yet: on a loaded machine an `rm`'s delete can be attributed
  // before its fork was applied).
  std::optional<ProcessRecord> FindOrCatchUp(pid_t pid) const;
  // Whether process `pid` ran exec after `since_ns` (CLOCK_MONOTONIC), queued events read first:
  // an attribution reused from a moment ago must not outlive the program it named.
  bool ExecSince(pid_t pid, uint64_t since_ns) const;
  // How to read what is queued (the listener's); null to stop. Waits for calls in progress.
  void SetCatchUp(std::function<void()> catch_up);
  ProcessHistoryStats Stats() const;
  std::size_t size() const;

 private:
  void Prune(uint64_t now_ns);  // with mu_ held
  void DropOldestExited();      // with mu_ held, exited_ not empty
  void CatchUp() const;         // reads what the kernel has queued, through catch_up_

  mutable std::mutex mu_;
  mutable std::shared_mutex catch_up_mu_;  // held shared while catch_up_ runs
  std::function<void()> catch_up_;
  std::unordered_map<pid_t, ProcessRecord> records_;
  std::deque<std::pair<uint64_t, pid_t>> exited_;  // exit time, pid: oldest first
  uint64_t boot_offset_ns_ = 0;
  uint64_t ticks_per_second_ = 100;
  ProcessHistoryStats stats_;
};

// Listens to the proc connector (NETLINK_CONNECTOR, CN_IDX_PROC; needs CAP_NET_ADMIN) on a
// thread of its own and feeds a ProcessHistory. Stops when destroyed.
class ProcEventListener {
 public:
  static StatusOr<std::unique_ptr<ProcEventListener>> Start(
      std::shared_ptr<ProcessHistory> history);
  ~ProcEventListener();
  ProcEventListener(const ProcEventListener&) = delete;
  ProcEventListener& operator=(const ProcEventListener&) = delete;

 private:
  ProcEventListener(int fd, std::shared_ptr<ProcessHistory> history);
  void Run();
  // Reads and applies every event queued now (never blocks). From the listener's thread and from
  // attribution threads catching up; one at a time, so a fork and its exit apply in order.
  void Drain();

  int fd_;
  std::mutex read_mu_;
  std::shared_ptr<ProcessHistory> history_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace steen::sys
