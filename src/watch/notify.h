// Liveness: systemd's notify protocol (READY=1, STATUS=, WATCHDOG=1, STOPPING=1 through
// libsystemd's sd_notify; nothing happens when not run by systemd) and an internal watchdog
// thread that notices a stuck main loop. While the loop is stuck, the kernel layer's deadline
// enforcer keeps answering permission events, so the host never hangs; the watchdog reports the
// stall once (callback: a health alert), asks systemd to act (WATCHDOG=trigger) and, if the loop is
// still stuck after twice the limit, aborts so that systemd (Restart=on-failure) or whoever runs
// the daemon starts a fresh one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace steen::watch {

class SystemdNotifier {
 public:
  SystemdNotifier();
  void Ready(const std::string& status);
  void Status(const std::string& status);
  void Stopping();
  void Trigger();  // WATCHDOG=trigger: systemd handles it like a missed heartbeat
  // From the main loop: sends WATCHDOG=1 at most every half of WatchdogSec.
  void Heartbeat(uint64_t now_ns);
  bool under_systemd() const { return under_systemd_; }
  bool watchdog_enabled() const { return watchdog_usec_ > 0; }

 private:
  bool under_systemd_ = false;
  uint64_t watchdog_usec_ = 0;
  uint64_t last_heartbeat_ns_ = 0;
};

class LoopWatchdog {
 public:
  // limit 0: disabled (no thread). `on_stall(stalled_for)` runs on the watchdog thread: it must be
  // quick and thread-safe (AlertFanout::Emit is). abort_after_twice: abort() at 2 x limit.
  LoopWatchdog(std::chrono::milliseconds limit,
               std::function<void(std::chrono::milliseconds)> on_stall, bool abort_after_twice);
  ~LoopWatchdog();
  LoopWatchdog(const LoopWatchdog&) = delete;
  LoopWatchdog& operator=(const LoopWatchdog&) = delete;
  void Beat();  // the loop is alive (cheap: one atomic store)
  uint64_t stalls() const { return stalls_.load(); }

 private:
  void Run();
  std::chrono::milliseconds limit_;
  std::function<void(std::chrono::milliseconds)> on_stall_;
  bool abort_after_twice_;
  std::atomic<uint64_t> last_beat_ns_;
  std::atomic<uint64_t> stalls_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

uint64_t MonotonicNowNs();

}  // namespace steen::watch
