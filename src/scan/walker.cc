#include "scan/walker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "fmt/format.h"
#include "scan/file_source.h"

namespace steen::scan {
namespace {

// getdents64 buffers: generous near the roots (fewer syscalls on big folders), small deeper down
// so a pathologically deep tree costs little memory per level.
constexpr std::size_t kShallowDirentBuffer = 32 * 1024;
constexpr std::size_t kDeepDirentBuffer = 4 * 1024;
constexpr std::size_t kShallowLevels = 16;

struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

unsigned char TypeFromMode(mode_t mode) {
  if (S_ISREG(mode)) return DT_REG;
  if (S_ISDIR(mode)) return DT_DIR;
  if (S_ISLNK(mode)) return DT_LNK;
  if (S_ISFIFO(mode)) return DT_FIFO;
  if (S_ISSOCK(mode)) return DT_SOCK;
  if (S_ISCHR(mode)) return DT_CHR;
  if (S_ISBLK(mode)) return DT_BLK;
  return DT_UNKNOWN;
}

}  // namespace

DirectoryHandle::~DirectoryHandle() {
  if (fd >= 0) close(fd);
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path;
  path.reserve(dir.size() + 1 + name.size());
  path.append(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  path.append(name);
  return path;
}

std::string FileTask::FullPath() const { return dir ? JoinPath(dir->path, name) : name; }

struct Walker::Frame {
  std::shared_ptr<DirectoryHandle> dir;
  dev_t dev = 0;
  ino_t ino = 0;
  std::unique_ptr<char[]> buffer;
  std::size_t capacity = 0;
  std::size_t pos = 0;
  std::size_t len = 0;
};

void Walker::Error(std::string_view path, std::string_view message, bool is_root) {
  ++counters_.errors;
  if (is_root) ++counters_.root_errors;
  visitor_.OnError(path, message, is_root);
}

void Walker::WalkRoot(const std::string& root) {
  struct stat st;
  if (stat(root.c_str(), &st) != 0) {
    Error(root, std::strerror(errno), true);
    return;
  }
  if (S_ISREG(st.st_mode)) {
    visitor_.OnFile(FileTask{nullptr, root, true});
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    ++counters_.skipped_special;
    return;
  }
  const int fd = OpenDirectoryForScan(AT_FDCWD, root.c_str(), /*follow=*/true);
  if (fd < 0) {
    Error(root, std::strerror(-fd), true);
    return;
  }
  WalkDirectory(std::make_shared<DirectoryHandle>(fd, root), st.st_dev, st.st_ino);
}

bool Walker::Descend(std::vector<Frame>& stack, std::string_view name, bool follow) {
  const DirectoryHandle& parent = *stack.back().dir;
  const std::string child_name(name);
  if (static_cast<int>(stack.size()) > options_.max_depth) {
    Error(JoinPath(parent.path, name),
          fmt::format("not walked: more than {} directory levels deep", options_.max_depth));
    return false;
  }
  const int fd = OpenDirectoryForScan(parent.fd, child_name.c_str(), follow);
  if (fd < 0) {
    // Without follow, ELOOP/ENOTDIR mean the entry was replaced by a link or file meanwhile.
    Error(JoinPath(parent.path, name), std::strerror(-fd));
    return false;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    Error(JoinPath(parent.path, name), std::strerror(errno));
    close(fd);
    return false;
  }
  // A directory that is its own ancestor (symlink or bind mount loop) would be walked forever.
  for (const Frame& ancestor : stack) {
    if (ancestor.dev == st.st_dev && ancestor.ino == st.st_ino) {
      close(fd);
      Error(JoinPath(parent.path, name),
            fmt::format("not walked: loop back to {}", ancestor.dir->path));
      return false;
    }
  }
  Frame frame;
  frame.dir = std::make_shared<DirectoryHandle>(fd, JoinPath(parent.path, name));
  frame.dev = st.st_dev;
  frame.ino = st.st_ino;
  frame.capacity = stack.size() < kShallowLevels ? kShallowDirentBuffer : kDeepDirentBuffer;
  frame.buffer = std::make_unique<char[]>(frame.capacity);
  stack.push_back(std::move(frame));
  ++counters_.directories;
  return true;
}

void Walker::WalkDirectory(std::shared_ptr<DirectoryHandle> root, dev_t dev, ino_t ino) {
  std::vector<Frame> stack;
  Frame first;
  first.dir = std::move(root);
  first.dev = dev;
  first.ino = ino;
  first.capacity = kShallowDirentBuffer;
  first.buffer = std::make_unique<char[]>(first.capacity);
  stack.push_back(std::move(first));
  ++counters_.directories;

  while (!stack.empty()) {
    Frame& frame = stack.back();
    if (frame.pos >= frame.len) {
      const long n = syscall(SYS_getdents64, frame.dir->fd, frame.buffer.get(), frame.capacity);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Error(frame.dir->path, fmt::format("cannot list: {}", std::strerror(errno)));
      if (n <= 0) {
        stack.pop_back();  // queued files keep the directory fd alive as long as they need it
        continue;
      }
      frame.pos = 0;
      frame.len = static_cast<std::size_t>(n);
    }
    const auto* entry = reinterpret_cast<const LinuxDirent64*>(frame.buffer.get() + frame.pos);
    frame.pos += entry->d_reclen;
    const std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;

    unsigned char type = entry->d_type;
    if (type == DT_UNKNOWN) {  // some file systems do not fill d_type
      struct stat st;
      if (fstatat(frame.dir->fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) Error(JoinPath(frame.dir->path, name), std::strerror(errno));
        continue;  // vanished since listing: nothing to scan
      }
      type = TypeFromMode(st.st_mode);
    }
    bool follow = false;
    if (type == DT_LNK) {
      struct stat st;
      if (!options_.follow_symlinks || fstatat(frame.dir->fd, entry->d_name, &st, 0) != 0) {
        ++counters_.skipped_symlinks;  // not followed, or dangling
        continue;
      }
      type = TypeFromMode(st.st_mode);
      follow = true;
    }
    switch (type) {
      case DT_REG:
        visitor_.OnFile(FileTask{frame.dir, std::string(name), follow});
        break;
      case DT_DIR:
        Descend(stack, name, follow);  // may reallocate `stack`: `frame` is not used after this
        break;
      default:  // FIFO, socket, character or block device: opening a FIFO could block forever
        ++counters_.skipped_special;
        break;
    }
  }
}

}  // namespace steen::scan
