// Walker: streams the regular files of a tree, depth first, without collecting paths. Directories
// are opened relative to their parent (openat), so names deeper than PATH_MAX still work, and read
// with getdents64 into a small buffer per level. The walker never opens a non-directory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace steen::scan {

// An open directory, shared by the walker and the queued files that live in it, so workers can
// openat() them; the fd closes when the last user lets go.
struct DirectoryHandle {
  DirectoryHandle(int fd, std::string path) : fd(fd), path(std::move(path)) {}
  ~DirectoryHandle();
  DirectoryHandle(const DirectoryHandle&) = delete;
  DirectoryHandle& operator=(const DirectoryHandle&) = delete;
  const int fd;
  const std::string path;  // as given by the user, then joined with '/'
};

// A file to analyse: `name` inside `dir`, or, when dir is null, a path given on the command line.
struct FileTask {
  std::shared_ptr<const DirectoryHandle> dir;
  std::string name;
  bool follow = false;  // open through a symbolic link (the file was reached through one)
  std::string FullPath() const;
};

// Joins a directory path and a name with exactly one '/'.
std::string JoinPath(std::string_view dir, std::string_view name);

class WalkVisitor {
 public:
  virtual ~WalkVisitor() = default;
  virtual void OnFile(FileTask task) = 0;
  // `message` does not repeat the path, e.g. "Permission denied".
  virtual void OnError(std::string_view path, std::string_view message, bool is_root) = 0;
};

struct WalkOptions {
  bool follow_symlinks = false;
  int max_depth = 0;  // directories more than this many levels below a root are not walked
};

struct WalkCounters {
  uint64_t directories = 0;
  uint64_t skipped_special = 0;
  uint64_t skipped_symlinks = 0;
  uint64_t errors = 0;
  uint64_t root_errors = 0;
};

class Walker {
 public:
  Walker(WalkOptions options, WalkVisitor& visitor) : options_(options), visitor_(visitor) {}
  // Walks one path argument: a directory (recursively), a regular file, or something else
  // (special files are counted; a missing path is reported as a root error).
  void WalkRoot(const std::string& root);
  const WalkCounters& counters() const { return counters_; }

 private:
  struct Frame;
  void WalkDirectory(std::shared_ptr<DirectoryHandle> root, dev_t dev, ino_t ino);
  bool Descend(std::vector<Frame>& stack, std::string_view name, bool follow);
  void Error(std::string_view path, std::string_view message, bool is_root = false);

  WalkOptions options_;
  WalkVisitor& visitor_;
  WalkCounters counters_;
};

}  // namespace steen::scan
