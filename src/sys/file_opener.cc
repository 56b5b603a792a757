#include "sys/file_opener.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>

#include "steen/limits.h"

namespace steen::sys {
namespace {

thread_local ThreadRole g_role = ThreadRole::kOther;

class RealFileOpener : public FileOpener {
 public:
  StatusOr<UniqueFd> OpenAt(int dirfd, const std::string& path, int flags) override {
    int fd = ::openat(dirfd, path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path, errno);
    return UniqueFd(fd);
  }
  StatusOr<UniqueFd> OpenByHandle(int mount_fd, file_handle* handle, int flags) override {
    int fd = ::open_by_handle_at(mount_fd, handle, flags | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open_by_handle_at", errno);
    return UniqueFd(fd);
  }
};

}  // namespace

void SetThreadRole(ThreadRole role) { g_role = role; }
ThreadRole CurrentThreadRole() { return g_role; }

const char* ToString(ThreadRole role) {
  switch (role) {
    case ThreadRole::kOther:
      return "other";
    case ThreadRole::kPermissionReader:
      return "permission-reader";
    case ThreadRole::kDeadlineEnforcer:
      return "deadline-enforcer";
    case ThreadRole::kNameReader:
      return "name-reader";
    case ThreadRole::kExeHasher:
      return "exe-hasher";
  }
  return "?";
}

bool RoleAnswersPermissions(ThreadRole role) {
  return role == ThreadRole::kPermissionReader || role == ThreadRole::kDeadlineEnforcer;
}

FileOpener* DefaultFileOpener() {
  static RealFileOpener* opener = new RealFileOpener();
  return opener;
}

namespace {

StatusOr<std::string> ReadBounded(FileOpener* opener, const std::string& path,
                                  std::size_t max_bytes, bool short_read_is_end) {
  auto fd = opener->Open(path, O_RDONLY);
  if (!fd.ok()) return fd.status();
  std::string out;
  char buf[4096];
  while (out.size() < max_bytes) {
    const std::size_t want = std::min(sizeof(buf), max_bytes - out.size());
    ssize_t n = ::read(fd->get(), buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (short_read_is_end && static_cast<std::size_t>(n) < want) break;
  }
  return out;
}

}  // namespace

StatusOr<std::string> ReadSmallFile(FileOpener* opener, const std::string& path,
                                    std::size_t max_bytes) {
  return ReadBounded(opener, path, max_bytes, /*short_read_is_end=*/false);
}

StatusOr<std::string> ReadProcTextFile(FileOpener* opener, const std::string& path,
                                       std::size_t max_bytes) {
  return ReadBounded(opener, path, max_bytes, /*short_read_is_end=*/true);
}

std::string ReadLink(const std::string& path) {
  char buf[PATH_MAX];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof(buf));
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof(buf)) return {};
  return std::string(buf, static_cast<std::size_t>(n));
}

bool PathIsUnder(const std::string& path, const std::string& root) {
  if (root.empty()) return false;
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  if (path.compare(0, r.size(), r) != 0) return false;
  return path.size() == r.size() || r == "/" || path[r.size()] == '/';
}

GuardedFileOpener::GuardedFileOpener(FileOpener* inner, std::vector<std::string> marked_roots,
                                     std::function<int()> outstanding_tickets)
    : inner_(inner),
      roots_(std::move(marked_roots)),
      outstanding_(std::move(outstanding_tickets)) {}

void GuardedFileOpener::Note(const std::string& path) {
  bool under = false;
  for (const auto& root : roots_) under = under || PathIsUnder(path, root);
  std::lock_guard lock(mu_);
  records_.push_back({path, CurrentThreadRole(), outstanding_ ? outstanding_() : 0, under});
}

StatusOr<UniqueFd> GuardedFileOpener::OpenAt(int dirfd, const std::string& path, int flags) {
  std::string full = path;
  if (dirfd != AT_FDCWD && (path.empty() || path[0] != '/')) {
    full = ReadLink("/proc/self/fd/" + std::to_string(dirfd)) + "/" + path;
  }
  // /proc/PID/exe and /proc/PID/fd/N are magic links: the file opened is their target.
  if (full.rfind("/proc/", 0) == 0 &&
      (full.find("/exe") != std::string::npos || full.find("/fd/") != std::string::npos)) {
    std::string target = ReadLink(full);
    if (!target.empty()) full = target;
  }
  // Note before opening: if the open itself hangs, the record already tells who did it.
  Note(full);
  return inner_->OpenAt(dirfd, path, flags);
}

StatusOr<UniqueFd> GuardedFileOpener::OpenByHandle(int mount_fd, file_handle* handle, int flags) {
  auto fd = inner_->OpenByHandle(mount_fd, handle, flags);
  if (fd.ok()) Note(ReadLink("/proc/self/fd/" + std::to_string(fd->get())));
  return fd;
}

std::vector<GuardedFileOpener::Record> GuardedFileOpener::records() const {
  std::lock_guard lock(mu_);
  return records_;
}

std::vector<GuardedFileOpener::Record> GuardedFileOpener::violations() const {
  std::vector<Record> out;
  for (const auto& r : records()) {
    if (r.under_marked_root && RoleAnswersPermissions(r.role)) out.push_back(r);
  }
  return out;
}

int GuardedFileOpener::opens_under_marked_roots() const {
  int n = 0;
  for (const auto& r : records()) n += r.under_marked_root ? 1 : 0;
  return n;
}

}  // namespace steen::sys
