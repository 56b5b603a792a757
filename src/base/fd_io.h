// Whole reads and writes at an offset through a descriptor, retried on EINTR and short counts
// (pread/pwrite: the descriptor's own offset never moves). Shared by the drill and the vault.
// And the one way steen opens someone else's file to read it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "steen/status.h"

namespace steen {

// Reads `length` bytes at `offset` into *out, or fewer when the file ends first (*out is resized
// to what was read).
Status ReadAllFd(int fd, uint64_t offset, uint64_t length, std::string* out);
// Writes all of `data` at `offset`.
Status WriteAllFd(int fd, uint64_t offset, std::string_view data);

// openat(dirfd, path, flags | O_NOATIME), retried on EINTR: reading a file for a verdict must not
// make it look read. O_NOATIME is allowed to the owner and to CAP_FOWNER only; on EPERM the file
// is opened without it (relatime still applies then). Returns the fd, or -errno.
int OpenWithoutAtime(int dirfd, const char* path, int flags);

}  // namespace steen
