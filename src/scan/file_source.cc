#include "scan/file_source.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "base/fd_io.h"
#include "fmt/format.h"

namespace steen::scan {
int OpenForScan(int dir_fd, const char* name, bool follow) {
  int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
  if (!follow) flags |= O_NOFOLLOW;
  return OpenWithoutAtime(dir_fd, name, flags);
}

int OpenDirectoryForScan(int dir_fd, const char* name, bool follow) {
  int flags = O_RDONLY | O_CLOEXEC | O_DIRECTORY | O_NONBLOCK;
  if (!follow) flags |= O_NOFOLLOW;
  return OpenWithoutAtime(dir_fd, name, flags);
}

Status FileByteSource::ReadAt(uint64_t offset, std::size_t length, std::string* out) {
  out->clear();
  if (offset >= size_) return Status::Ok();
  const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(length, size_ - offset));
  out->resize(want);
  std::size_t got = 0;
  while (got < want) {
    const ssize_t n = pread(fd_, out->data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      out->resize(got);
      return Status::FromErrno(fmt::format("read at offset {}", offset + got), err);
    }
    if (n == 0) {  // end of file before Size(): the file shrank since it was opened
      shrank_ = true;
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  out->resize(got);
  bytes_read_ += got;
  return Status::Ok();
}

}  // namespace steen::scan
