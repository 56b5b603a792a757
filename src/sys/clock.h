// Time as a seam: deadline logic is tested with a clock the test moves by hand.
#pragma once

#include <time.h>

#include <atomic>
#include <cstdint>

namespace steen::sys {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t MonotonicNs() = 0;  // CLOCK_MONOTONIC
  virtual int64_t WallNs() = 0;        // CLOCK_REALTIME
};

class RealClock : public Clock {
 public:
  uint64_t MonotonicNs() override { return Read(CLOCK_MONOTONIC); }
  int64_t WallNs() override { return static_cast<int64_t>(Read(CLOCK_REALTIME)); }
  static RealClock* Get() {
    static RealClock* clock = new RealClock();
    return clock;
  }

 private:
  static uint64_t Read(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  }
};

class FakeClock : public Clock {
 public:
  uint64_t MonotonicNs() override { return now_ns_.load(); }
  int64_t WallNs() override { return static_cast<int64_t>(now_ns_.load()); }
  void AdvanceMs(uint64_t ms) { now_ns_ += ms * 1000000ull; }
  void AdvanceUs(uint64_t us) { now_ns_ += us * 1000ull; }

 private:
  std::atomic<uint64_t> now_ns_{1000000000ull};
};

}  // namespace steen::sys
