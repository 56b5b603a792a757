// The real EventSource: two fanotify groups on the directories of the protected trees.
//
//   name group  (FAN_CLASS_NOTIF, FAN_REPORT_DFID_NAME[_TARGET], FAN_REPORT_TID): FAN_CREATE,
//               FAN_DELETE, FAN_RENAME with FAN_ONDIR. Directory-entry events are refused on mount
//               marks, and a filesystem mark would watch more than we may, so every directory of
//               every tree gets an inode mark; new directories are marked as they appear.
//   content group (FAN_CLASS_CONTENT, fd per event, FAN_REPORT_TID): FAN_CLOSE_WRITE and the
//               permission event FAN_OPEN_PERM (permission events cannot be combined with FID
//               reporting, hence two groups), with FAN_EVENT_ON_CHILD and without FAN_ONDIR so
//               that our own directory walks never raise permission events.
// See docs/design/sys.md for the deadlock analysis.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "steen/limits.h"
#include "sys/clock.h"
#include "sys/event_source.h"
#include "sys/file_opener.h"
#include "sys/proc.h"
#include "sys/process_history.h"

namespace steen::sys {

struct FanotifyOptions {
  std::vector<std::string> roots;  // absolute, canonical directories
  bool permission_events = true;   // FAN_OPEN_PERM on files of the trees
  // Read-only and exec opens are allowed at once by the reader unless this is set (they cannot
  // destroy content; only writable or unknown-intent opens become tickets).
  bool forward_read_opens = false;
  // Opens for writing of an empty regular file are answered by the permission reader at once:
  // there is nothing to copy and nothing to read. They still reach the daemon as kPermission
  // events, without a ticket, with `allowed_empty` and the file's stat. Every file that tar, cp
  // or unzip creates is opened empty; the round trip through the daemon's queue was most of
  // what watching cost them.
  bool allow_empty_writes_early = false;
  // Called on the permission reader thread before such an early answer, with the opener: true
  // makes the open a ticket like any write (the daemon holds a suspect's writes). Must be quick
  // and must never open a file.
  std::function<bool(const Actor&)> hold_empty_write;
  // Called on the permission reader thread for each open of a file in the trees that the reader
  // answers at once (read-only and exec opens; writes of empty files), just BEFORE the answer,
  // with the kernel's fd and the file's path, device, inode and size. The vault keeps a hard link
  // of the inode here, so that a later delete or rename over it loses nothing (an encryptor reads
  // a file before it deletes it). It must be quick and must never open a file inside a tree (the
  // reader holds the event).
  std::function<void(int fd, const FileEvent& file)> before_early_allow;
  bool report_close_nowrite = false;
  // Events caused by our own process are skipped (permission ones are always allowed at once).
  bool report_own_events = false;
  std::chrono::milliseconds permission_deadline{limits::kPermissionDeadlineMs};
  std::size_t queue_capacity = limits::kSysEventQueueCapacity;
  std::size_t max_outstanding_tickets = limits::kMaxOutstandingTickets;
  std::size_t max_watched_directories = limits::kMaxWatchedDirectories;
  FileOpener* opener = nullptr;             // default: DefaultFileOpener()
  ProcessAttributor* attributor = nullptr;  // default: one of its own, with an ExeHasher
  // Given to its own attributor (not used with `attributor`): smbd children are attributed to the
  // SMB client they serve. Shared with the daemon's attributor: one cache, one smbstatus worker.
  std::shared_ptr<SmbSessionTable> smb_sessions;
  // Given to its own attributor too: processes gone before their events are read are attributed
  // through their parent (null: by their pid alone).
  std::shared_ptr<const ProcessHistory> process_history;
  Clock* clock = nullptr;  // default: RealClock
};

class FanotifySource : public EventSource {
 public:
  // Creates both groups, starts the reader and enforcer threads, then marks the trees.
  static StatusOr<std::unique_ptr<FanotifySource>> Open(const FanotifyOptions& options);
  ~FanotifySource() override = default;
  // Outstanding permission tickets right now (tests, health).
  virtual std::size_t OutstandingTickets() const = 0;
};

// Checks a root before anything is marked: absolute, canonical, a directory, and not a parent of
// system folders (/, /etc, /usr, /proc, ...): marking those could make the daemon's own reads of
// NSS files or libraries generate events.
Status ValidateWatchRoot(const std::string& root);

// Inode number from a file handle of the common types (FILEID_INO32_GEN[_PARENT], used by ext4
// and others); 0 when the type is not understood.
uint64_t InodeFromHandle(const FileId& id);

}  // namespace steen::sys
