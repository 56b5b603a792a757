// The file-opening seam: every file the sys layer opens goes through one FileOpener.
//
// Why: a thread that opens a file inside a tree marked for permission events generates a new
// permission event. If that thread is the one that answers permission events, it waits for itself
// and the machine's accesses to the tree hang (until the deadline enforcer or a kill). Routing
// every open through one interface lets tests wrap it (GuardedFileOpener below) and prove that the
// threads answering permission events never open anything inside a marked root.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "steen/status.h"
#include "sys/unique_fd.h"

struct file_handle;

namespace steen::sys {

// What the calling thread does for the sys layer; set once per thread (thread_local).
enum class ThreadRole {
  kOther,             // daemon threads, tests
  kPermissionReader,  // reads the permission group and answers own-pid events: must never block
  kDeadlineEnforcer,  // answers overdue tickets: must never block
  kNameReader,        // reads the FID (create/delete/rename) group; may open directories O_PATH
  kExeHasher,         // reads executables (may be inside a marked tree: its events are ours,
                      // answered at once by the permission reader)
};
void SetThreadRole(ThreadRole role);
ThreadRole CurrentThreadRole();
const char* ToString(ThreadRole role);
// True for roles that answer permission events: they must never open inside a marked root.
bool RoleAnswersPermissions(ThreadRole role);

class FileOpener {
 public:
  virtual ~FileOpener() = default;
  // open(2)/openat(2): `dirfd` may be AT_FDCWD. `path` is what the caller wants opened (absolute
  // or relative to dirfd).
  virtual StatusOr<UniqueFd> OpenAt(int dirfd, const std::string& path, int flags) = 0;
  // open_by_handle_at(2). `described_path` is unknown before the call, so guards check the
  // resulting path (readlink of the new fd) instead.
  virtual StatusOr<UniqueFd> OpenByHandle(int mount_fd, file_handle* handle, int flags) = 0;
  StatusOr<UniqueFd> Open(const std::string& path, int flags) {
    return OpenAt(-100 /* AT_FDCWD */, path, flags);
  }
};

// The real thing (process-wide instance).
FileOpener* DefaultFileOpener();

// Reads a whole small file through `opener` (bounded by max_bytes). For /proc files.
StatusOr<std::string> ReadSmallFile(FileOpener* opener, const std::string& path,
                                    std::size_t max_bytes);
// The same for a /proc file that the kernel makes whole at each read (stat, status, syscall,
// children: seq_file fills the caller's buffer as far as the text goes), so a read that returns
// less than asked is the end: one read instead of two. Attribution reads such a file per event.
StatusOr<std::string> ReadProcTextFile(FileOpener* opener, const std::string& path,
                                       std::size_t max_bytes);
// readlink(2) into a string ("" on failure). Does not open anything.
std::string ReadLink(const std::string& path);
// True when `path` equals `root` or lies below it (textual, both absolute and normalised).
bool PathIsUnder(const std::string& path, const std::string& root);

// Test decorator: records every open and flags the dangerous ones: an open inside a marked root
// by a thread whose role answers permission events, or by any thread while the ticket counter it
// is given says a permission ticket is outstanding and the opener is that ticket's responder.
class GuardedFileOpener : public FileOpener {
 public:
  struct Record {
    std::string path;
    ThreadRole role;
    int outstanding_tickets;
    bool under_marked_root;
  };
  GuardedFileOpener(FileOpener* inner, std::vector<std::string> marked_roots,
                    std::function<int()> outstanding_tickets);
  StatusOr<UniqueFd> OpenAt(int dirfd, const std::string& path, int flags) override;
  StatusOr<UniqueFd> OpenByHandle(int mount_fd, file_handle* handle, int flags) override;

  std::vector<Record> records() const;
  // Opens under a marked root done by a permission-answering thread (must stay empty).
  std::vector<Record> violations() const;
  int opens_under_marked_roots() const;

 private:
  void Note(const std::string& path);
  FileOpener* inner_;
  std::vector<std::string> roots_;
  std::function<int()> outstanding_;
  mutable std::mutex mu_;
  std::vector<Record> records_;
};

}  // namespace steen::sys
