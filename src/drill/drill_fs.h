// Internal: the file-system seam of the drill. The runner (runner.cc) attacks and undoes through
// a DrillFs so that the same walk, layouts, ciphers, footers, order, notes and manifest work on a
// local folder (LocalDrillFs: openat/renameat2 by file descriptors, the historical behaviour) and
// on an SMB share (SmbDrillFs, smb_fs.cc: libsmbclient, so that on the server the writer is smbd,
// as in a remote encryption).
//
// Paths: a relative path ("a/b.txt"; "" = the target itself) lies inside the target and is
// resolved without following symlinks at any component. An absolute path ("/x/y") names a place
// outside the target on the same file system, used only for the move-out-back staging folder: on
// the local side an ordinary absolute path (next to the manifest), on SMB a path from the share's
// root.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "steen/drill.h"
#include "steen/status.h"

namespace steen::drill {

enum class EntryType { kRegular, kDirectory, kSymlink, kOther };

struct EntryInfo {
  EntryType type = EntryType::kOther;
  uint64_t size = 0;
  uint32_t permissions = 0644;
  bool foreign_device = false;  // another file system mounted inside the target (local only)
  int64_t created_s = 0;        // birth time when the file system records it, else change time
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
};

struct DirEntry {
  std::string name;
  EntryInfo info;
};

class DrillFile {
 public:
  virtual ~DrillFile() = default;
  virtual Status Info(EntryInfo* info) = 0;
  // Reads up to `length` bytes (fewer at end of file).
  virtual Status ReadAt(uint64_t offset, uint64_t length, std::string* out) = 0;
  virtual Status WriteAt(uint64_t offset, std::string_view data) = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // A local descriptor that can be mapped MAP_SHARED, or -1 where no mapping exists (SMB: the
  // mmap pattern falls back to pwrite, see RunDrill).
  virtual int MappableFd() const { return -1; }
};

enum class OpenMode {
  kRead,             // the original of a new-file pattern, notes and checks
  kReadWrite,        // in-place patterns
  kCreateExclusive,  // new files and notes: never an existing file
};

class DrillFs {
 public:
  virtual ~DrillFs() = default;
  // The target as the manifest records it: a canonical local path or an smb:// URL.
  virtual std::string Target() const = 0;
  virtual bool IsRemote() const = 0;
  // Whether a file may be renamed or removed while the drill holds it open. Locally yes (POSIX);
  // over SMB libsmbclient opens without FILE_SHARE_DELETE, so the runner closes the file first
  // and reopens it under its new name.
  virtual bool OpenFilesCanBeMoved() const { return true; }
  // The folder's entries without "." and "..", in no particular order; entries whose metadata
  // cannot be read are left out. `birth_times`: fill created_s from the birth time when known.
  virtual Status List(const std::string& dir, bool birth_times, std::vector<DirEntry>* out) = 0;
  // Never follows a symlink in the last component (a symlink is reported as kSymlink).
  virtual Status Stat(const std::string& path, EntryInfo* info) = 0;
  virtual StatusOr<std::unique_ptr<DrillFile>> Open(const std::string& path, OpenMode mode,
                                                    uint32_t permissions = 0644) = 0;
  // Never replaces an existing `to` (EEXIST).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Replaces the file `to` with `from` in one rename (an encryptor moving its temporary file of
  // ciphertext over the original).
  virtual Status RenameOver(const std::string& from, const std::string& to) = 0;
  virtual Status Unlink(const std::string& path) = 0;
  virtual Status MakeDir(const std::string& path) = 0;  // OK when it already exists
  virtual Status RemoveDir(const std::string& path) = 0;
};

// ---- Local (local_fs.cc) ------------------------------------------------------------------------

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept;
  Fd& operator=(Fd&& o) noexcept;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// The local implementation, rooted at an existing folder (opened once, O_NOFOLLOW).
StatusOr<std::unique_ptr<DrillFs>> OpenLocalDrillFs(const std::string& real_target);

// ---- SMB (smb_fs.cc) ----------------------------------------------------------------------------

struct SmbUrl {
  std::string host;
  uint16_t port = 445;
  std::string share;
  std::string path;  // inside the share, no leading or trailing '/'; "" = the share's root
  std::string ToString() const;  // smb://host:port/share[/path], never with credentials
};
// Parses smb://HOST[:PORT]/SHARE[/PATH]; credentials in the URL are refused (auth file only).
StatusOr<SmbUrl> ParseSmbUrl(std::string_view url);

// Logs in (checking the credentials and that the target folder exists) and returns the share
// rooted at url.path. Errors: InvalidArgument for refused credentials, IoError for an unreachable
// server, NotFound for a missing share or folder.
StatusOr<std::unique_ptr<DrillFs>> OpenSmbDrillFs(const SmbUrl& url,
                                                  const SmbCredentials& credentials);

}  // namespace steen::drill
