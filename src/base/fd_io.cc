#include "base/fd_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace steen {

Status ReadAllFd(int fd, uint64_t offset, uint64_t length, std::string* out) {
  out->resize(length);
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, out->data() + done, length - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("pread", errno);
    if (n == 0) break;
    done += n;
  }
  out->resize(done);
  return Status::Ok();
}

Status WriteAllFd(int fd, uint64_t offset, std::string_view data) {
  uint64_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd, data.data() + done, data.size() - done, offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno("pwrite", errno);
    done += n;
  }
  return Status::Ok();
}

int OpenWithoutAtime(int dirfd, const char* path, int flags) {
  for (;;) {
    int fd = ::openat(dirfd, path, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = ::openat(dirfd, path, flags);
    if (fd >= 0) return fd;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace steen
