// What the watcher observed: one file-system event, attributed to the process that caused it, with
// the content engine's judgement of the bytes before and after when the event changed content.
// Produced by src/sys (fanotify + /proc), consumed by src/detect (pure scoring). Plain data: tests
// build these by hand.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "steen/content.h"

namespace steen {

// Who did it. Every field may be empty or zero when the process exited before attribution.
struct Actor {
  pid_t pid = 0;
  pid_t tid = 0;
  uint64_t start_time = 0;  // /proc/PID/stat field 22: tells a reused pid apart
  pid_t ppid = 0;
  pid_t pgid = 0;          // process group
  pid_t sid = 0;           // session: groups a login's processes (work split over many)
  std::string comm;        // /proc/PID/comm
  std::string exe;         // /proc/PID/exe target
  std::string exe_sha256;  // hex; empty until hashed (hashing is asynchronous)
  uid_t uid = 0;
  std::string user;              // name of uid, or the number as text
  std::vector<pid_t> ancestors;  // parent, grandparent, ... up to (not including) pid 1
  std::string cgroup;            // /proc/PID/cgroup (unified hierarchy path), e.g. a service
  // For Samba's smbd: the client this session serves (empty for local processes).
  std::string smb_client_address;
  std::string smb_user;
  std::string smb_machine;
  // The file share(s) the client has connected through this smbd ("share"; several sorted and
  // joined with ","; IPC$ left out); empty until smbstatus has answered, or when unknown.
  std::string smb_share;
};

enum class FileOp {
  kOpenForWrite,  // permission or open event for a file opened writable
  kCloseWrite,    // closed after writing: content changed
  kCloseNoWrite,  // closed after reading
  kCreate,
  kDelete,
  kRename,  // path -> new_path
};

// The content engine's view of one version of a file (before or after a change).
struct ContentView {
  Verdict verdict = Verdict::kUnknown;
  DamageKind kind = DamageKind::kNone;
  double score = 0.0;
  std::string format;
  bool encrypted_container = false;  // Analysis::encrypted_container
  std::vector<std::string> reasons;
  // Fraction of sampled blocks whose bytes look random (0..1), and whether the sampled blocks were
  // measured at all (too small a file has no block map).
  double random_block_fraction = 0.0;
  bool blocks_measured = false;
};

struct FileEvent {
  uint64_t time_ns = 0;      // CLOCK_MONOTONIC nanoseconds: detection windows use this
  int64_t wall_time_ns = 0;  // CLOCK_REALTIME nanoseconds: for alerts and incidents
  FileOp op = FileOp::kCloseWrite;
  Actor actor;
  std::string path;      // absolute
  std::string new_path;  // kRename only
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  bool is_canary = false;  // the path is one of steen's canary files
  // kCloseWrite: the content before the write (when the watcher saw it at open) and after.
  std::optional<ContentView> before;
  std::optional<ContentView> after;
};

}  // namespace steen
