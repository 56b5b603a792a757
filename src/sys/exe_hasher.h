// SHA-256 of executables, computed on a worker thread with a cache keyed by what identifies one
// version of a file (dev, ino, size, mtime).
//
// Why a separate thread: an executable may live inside a tree marked for permission events. Our
// own open of it generates a permission event that the permission reader thread answers at once
// (own pid). If hashing ran on that reader thread it would wait for itself. The hasher therefore
// never answers permission events, and the reader never hashes.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "sys/file_opener.h"

namespace steen::sys {

struct ExeKey {
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const ExeKey&) const = default;
};
struct ExeKeyHash {
  std::size_t operator()(const ExeKey& k) const {
    return std::hash<uint64_t>()(k.dev * 1000003u ^ k.ino * 7919u ^ k.size ^
                                 static_cast<uint64_t>(k.mtime_ns));
  }
};

struct ExeHasherStats {
  uint64_t hashed = 0;
  uint64_t cache_hits = 0;
  uint64_t dropped = 0;  // queue full
  uint64_t failed = 0;   // process gone, unreadable, too large
};

class ExeHasher {
 public:
  explicit ExeHasher(FileOpener* opener, std::string proc_root = "/proc");
  ~ExeHasher();  // stops and joins the worker
  ExeHasher(const ExeHasher&) = delete;
  ExeHasher& operator=(const ExeHasher&) = delete;

  // Hex digest of the executable of `pid` when already known; otherwise queues it (bounded) and
  // returns "". stat(2)s /proc/PID/exe (follows the link without opening the file).
  std::string LookupOrRequest(pid_t pid);
  // Digest by key when known.
  std::optional<std::string> Lookup(const ExeKey& key);
  // Blocks until the queue is empty and the worker is idle (tests).
  void WaitIdle();
  ExeHasherStats Stats();

  // Hashes one open file (pure helper, tests).
  static std::optional<std::string> HashFd(int fd, uint64_t max_bytes);

 private:
  void Run();
  FileOpener* opener_;
  std::string proc_root_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<pid_t, ExeKey>> queue_;
  std::unordered_map<ExeKey, std::string, ExeKeyHash> cache_;
  std::unordered_map<ExeKey, bool, ExeKeyHash> pending_;
  bool busy_ = false;
  bool stop_ = false;
  ExeHasherStats stats_;
  std::thread worker_;
};

}  // namespace steen::sys
