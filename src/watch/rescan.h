// Rescan after lost events: when the kernel queue (or ours) overflowed, some writes were never
// seen. The rescanner walks the protected trees on its own thread, re-examines the regular files
// changed (mtime or ctime) since a given wall time, and reports those whose content is damaged, so
// the daemon can alert on them. It reads files by path, which is safe: it never holds a permission
// ticket, and its own opens are answered at once by the kernel layer (own pid). Bounded by
// limits::kMaxRescanFiles / kMaxRescanDirectories; one rescan at a time (a request during a running
// one is remembered and run once afterwards, covering both windows).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "steen/content.h"

namespace steen::watch {

struct RescanResult {
  std::string reason;
  int64_t since_wall_ns = 0;
  uint64_t directories = 0;
  uint64_t files_examined = 0;  // changed within the window and analysed
  uint64_t errors = 0;          // could not be opened or read (vanished files included)
  uint64_t damaged = 0;
  std::vector<std::string> damaged_paths;  // first limits::kMaxRescanAlertFiles
  bool truncated = false;                  // a bound stopped the walk
};

class Rescanner {
 public:
  Rescanner(const ContentAnalyzer* analyzer, std::vector<std::string> roots);
  ~Rescanner();  // stops (between files) and joins
  Rescanner(const Rescanner&) = delete;
  Rescanner& operator=(const Rescanner&) = delete;

  // Requests a rescan of files changed at or after since_wall_ns.
  void Request(int64_t since_wall_ns, const std::string& reason);
  // A finished rescan's result, once.
  std::optional<RescanResult> TakeResult();
  bool busy() const;
  // Runs one rescan on the calling thread (tests, and the worker).
  RescanResult RunOnce(int64_t since_wall_ns, const std::string& reason);

 private:
  void Run();
  const ContentAnalyzer* analyzer_;
  std::vector<std::string> roots_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool running_ = false;
  std::optional<int64_t> pending_since_;
  std::string pending_reason_;
  std::vector<RescanResult> results_;
  std::atomic<bool> abort_{false};
  std::thread thread_;
};

}  // namespace steen::watch
