// FileByteSource: a steen::ByteSource over an open file descriptor, read with pread only (no
// seeking, so one fd could be shared; nothing is ever written).
#pragma once

#include <cstdint>
#include <string>

#include "steen/content.h"

namespace steen::scan {

// Opens a file for scanning without changing it: O_RDONLY|O_NOATIME|O_NOFOLLOW|O_CLOEXEC|
// O_NONBLOCK|O_NOCTTY (O_NONBLOCK so a FIFO swapped in after listing cannot hang us). Falls back
// without O_NOATIME when the kernel refuses it (EPERM: not the owner). `follow` drops O_NOFOLLOW.
// Returns the fd or -errno.
int OpenForScan(int dir_fd, const char* name, bool follow);
// Same for a directory (adds O_DIRECTORY).
int OpenDirectoryForScan(int dir_fd, const char* name, bool follow);

class FileByteSource final : public ByteSource {
 public:
  // Does not take ownership of fd. `size` is the size seen by fstat when the file was opened;
  // reads never go past it, even if the file grows meanwhile.
  FileByteSource(int fd, uint64_t size) : fd_(fd), size_(size) {}

  uint64_t Size() const override { return size_; }
  // Loops over short reads and EINTR. If the file shrank, returns the bytes that are left and
  // records it (shrank()); an I/O error returns a Status naming the offset.
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override;

  bool shrank() const { return shrank_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int fd_;
  uint64_t size_;
  bool shrank_ = false;
  uint64_t bytes_read_ = 0;
};

}  // namespace steen::scan
