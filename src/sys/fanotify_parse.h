// Pure decoding of what the kernel hands us: fanotify event buffers (metadata + info records with
// file handles and names) and /proc/TID/syscall lines. No system calls here, so every branch is
// unit-tested from byte buffers built by the tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steen::sys {

// A file identifier from an FID info record: file system id + opaque file handle.
struct FileId {
  uint64_t fsid = 0;  // __kernel_fsid_t's two 32-bit words, val[0] in the low half
  int32_t handle_type = 0;
  std::string handle;  // f_handle bytes (handle_bytes long)
  bool operator==(const FileId&) const = default;
};

// A directory handle plus the entry name (DFID_NAME, OLD_DFID_NAME, NEW_DFID_NAME records).
struct DirEntryId {
  FileId dir;
  std::string name;  // "." when the event is about the directory itself
};

// One event as read from a fanotify fd. The fd is a raw number owned by the caller of the parser:
// it must be closed (and answered first, for permission events) whatever else happens.
struct RawFanotifyEvent {
  uint64_t mask = 0;
  int fd = -1;                          // FAN_NOFD (-1) for FID groups
  int pid = 0;                          // tid when the group was created with FAN_REPORT_TID
  std::optional<FileId> fid;            // FAN_EVENT_INFO_TYPE_FID (object itself / target)
  std::optional<FileId> dfid;           // FAN_EVENT_INFO_TYPE_DFID (directory, no name)
  std::optional<DirEntryId> entry;      // FAN_EVENT_INFO_TYPE_DFID_NAME
  std::optional<DirEntryId> old_entry;  // FAN_RENAME: where it was
  std::optional<DirEntryId> new_entry;  // FAN_RENAME: where it is now
  bool malformed = false;  // some info record could not be decoded (the event is still reported)
};

struct ParsedBuffer {
  std::vector<RawFanotifyEvent> events;
  // Bytes after the last complete event that could not be parsed (0 when the buffer was whole);
  // the kernel never splits events, so non-zero means a corrupt buffer.
  std::size_t trailing_bytes = 0;
  // Metadata version differs from what we were built for: nothing can be trusted but the fds.
  bool version_mismatch = false;
};

// Decodes `len` bytes read from a fanotify fd. Never reads out of bounds; bounded by the buffer.
ParsedBuffer ParseFanotifyBuffer(const uint8_t* data, std::size_t len);

// What a process asked for when it opened the file (we cannot see the flags through fanotify, but
// the opener is blocked inside the syscall while we decide, so /proc/TID/syscall shows them).
enum class OpenIntent { kUnknown, kRead, kWrite, kExec };
struct OpenRequest {
  OpenIntent intent = OpenIntent::kUnknown;
  bool truncate = false;  // O_TRUNC (or creat): the old content is about to be discarded
  int flags = 0;
};
// Decodes one /proc/TID/syscall line ("257 0xffffff9c 0x7ffc... 0x241 0x1b6 ...") on x86_64.
OpenRequest ParseSyscallOpenRequest(std::string_view line);

// Builds the bytes the kernel would produce for one event (used by tests and by the fake source).
std::string EncodeFanotifyEventForTest(uint64_t mask, int fd, int pid,
                                       const std::vector<std::pair<uint8_t, DirEntryId>>& records);

}  // namespace steen::sys
