// Whole reads and writes at an offset through a descriptor, retried on EINTR and short counts
// (pread/pwrite: the descriptor's own offset never moves). Shared by the drill and the vault.
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

}  // namespace steen
