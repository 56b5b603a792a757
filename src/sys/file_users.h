// Who uses a file right now: the processes that can write it (a descriptor open for writing or a
// shared writable mapping) and the locks on it. Used before steen replaces a file (rollback,
// restore) so that it never swaps a file out from under a program that is editing it.
//
// Everything is read from /proc: fd links are stat()ed, never opened, so no fanotify event is
// generated and no watcher can be waited on. The parsers are pure and unit-tested.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace steen::sys {

struct FileUser {
  pid_t pid = 0;            // -1 for an open-file-description lock (the kernel names no pid)
  uint64_t start_time = 0;  // /proc/PID/stat field 22 (0 = unknown)
  std::string exe;          // /proc/PID/exe, when readable
  std::string how;          // "open for writing", "shared writable mapping", "POSIX WRITE lock"...
};

// One holder line of /proc/locks ("->" lines are waiters and are skipped).
struct LockEntry {
  std::string kind;  // POSIX, FLOCK, OFDLCK, LEASE, DELEG
  std::string mode;  // READ, WRITE, ...
  pid_t pid = 0;
  unsigned major = 0, minor = 0;
  uint64_t inode = 0;
};
std::vector<LockEntry> ParseProcLocks(std::string_view text);

// A line of /proc/PID/maps that maps (major:minor, inode) shared and writable.
bool MapsLineIsSharedWritable(std::string_view line, unsigned major, unsigned minor,
                              uint64_t inode);

// The "flags:" field of /proc/PID/fdinfo/N (octal), or -1.
int ParseFdinfoFlags(std::string_view text);

// Processes other than the caller that can write (dev, ino): descriptors open for writing and
// shared writable mappings. Processes that vanish while being read are skipped.
std::vector<FileUser> WritersOf(dev_t dev, ino_t ino, const std::string& proc_root = "/proc");

// Locks and leases on (dev, ino) held by processes other than the caller (OFD locks, whose owner
// the kernel does not name, are always listed).
std::vector<FileUser> LocksOn(dev_t dev, ino_t ino, const std::string& proc_root = "/proc");

}  // namespace steen::sys
