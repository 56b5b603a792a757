#include "watch/notify.h"

#include <systemd/sd-daemon.h>

#include <cstdio>
#include <cstdlib>

#include "sys/clock.h"

namespace steen::watch {

uint64_t MonotonicNowNs() { return sys::RealClock::Get()->MonotonicNs(); }

SystemdNotifier::SystemdNotifier() {
  under_systemd_ = std::getenv("NOTIFY_SOCKET") != nullptr;
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_usec_ = usec;
}

void SystemdNotifier::Ready(const std::string& status) {
  if (!under_systemd_) return;
  sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void SystemdNotifier::Status(const std::string& status) {
  if (!under_systemd_) return;
  sd_notifyf(0, "STATUS=%s", status.c_str());
}

void SystemdNotifier::Stopping() {
  if (!under_systemd_) return;
  sd_notify(0, "STOPPING=1");
}

void SystemdNotifier::Trigger() {
  if (!under_systemd_) return;
  sd_notify(0, "WATCHDOG=trigger");
}

void SystemdNotifier::Heartbeat(uint64_t now_ns) {
  if (watchdog_usec_ == 0) return;
  if (now_ns - last_heartbeat_ns_ < watchdog_usec_ * 1000 / 2) return;
  last_heartbeat_ns_ = now_ns;
  sd_notify(0, "WATCHDOG=1");
}

LoopWatchdog::LoopWatchdog(std::chrono::milliseconds limit,
                           std::function<void(std::chrono::milliseconds)> on_stall,
                           bool abort_after_twice)
    : limit_(limit),
      on_stall_(std::move(on_stall)),
      abort_after_twice_(abort_after_twice),
      last_beat_ns_(MonotonicNowNs()) {
  if (limit_.count() > 0) thread_ = std::thread([this] { Run(); });
}

LoopWatchdog::~LoopWatchdog() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LoopWatchdog::Beat() { last_beat_ns_.store(MonotonicNowNs(), std::memory_order_relaxed); }

void LoopWatchdog::Run() {
  const uint64_t limit_ns = static_cast<uint64_t>(limit_.count()) * 1'000'000ull;
  const auto tick = std::min<std::chrono::milliseconds>(limit_ / 4 + std::chrono::milliseconds(1),
                                                        std::chrono::milliseconds(1000));
  bool reported = false;
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, tick);
    if (stop_) break;
    const uint64_t beat = last_beat_ns_.load(std::memory_order_relaxed);
    const uint64_t now = MonotonicNowNs();
    const uint64_t stalled = now > beat ? now - beat : 0;
    if (stalled < limit_ns) {
      reported = false;
      continue;
    }
    if (!reported) {
      reported = true;
      ++stalls_;
      if (on_stall_) on_stall_(std::chrono::milliseconds(stalled / 1'000'000));
    }
    if (abort_after_twice_ && stalled >= 2 * limit_ns) {
      std::fprintf(stderr, "steen watch: main loop stuck for %llu ms: aborting for a restart\n",
                   static_cast<unsigned long long>(stalled / 1'000'000));
      std::abort();
    }
  }
}

}  // namespace steen::watch
