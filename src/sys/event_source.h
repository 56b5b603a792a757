// The event seam the daemon consumes (LevelDB Env style): the real implementation reads fanotify
// (fanotify_source.h); FakeEventSource lets daemon tests inject events, overflows and tickets.
//
// Threads and ownership (real source):
//   - permission reader: reads the content group (FAN_CLASS_CONTENT, fd per event), answers at
//     once permission events of our own process and (by default) read-only opens, issues a
//     PermissionTicket for writable opens, and queues close-write events with their fd.
//   - name reader: reads the FID group (create/delete/rename with directory handles + names),
//     resolves paths (open_by_handle_at O_PATH on directories), marks new directories.
//   - deadline enforcer: allows tickets not answered in time.
//   - the daemon: calls Next() from its own thread(s); owns each SysEvent it gets. Reading file
//     bytes is allowed ONLY through SysEvent::fd or ticket->fd(). Dropping a SysEvent closes its
//     fd and allows its ticket.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "steen/event.h"
#include "steen/status.h"
#include "sys/bounded_queue.h"
#include "sys/fanotify_parse.h"
#include "sys/permission.h"
#include "sys/unique_fd.h"

namespace steen::sys {

struct SysEvent {
  enum class Kind {
    kFile,        // create / delete / rename / close-write / close-nowrite (event.op)
    kPermission,  // a file is being opened: `ticket` must be answered (it allows when dropped)
    kOverflow,    // events were lost (kernel queue overflow or our queue full): rescan
    kWatchLimit,  // a new directory could not be marked (limit or error): `detail` says which
  };
  Kind kind = Kind::kFile;
  FileEvent event;  // op, path, new_path, actor, times, device/inode/size where known
  bool is_directory = false;
  // Content events: the kernel-opened fd of the file (O_RDONLY, generates no events).
  UniqueFd fd;
  // kPermission only.
  std::optional<PermissionTicket> ticket;
  // kPermission without a ticket: an open for writing of an empty regular file, allowed by the
  // source already (FanotifyOptions::allow_empty_writes_early); `stat_at_open` is its state then.
  bool allowed_empty = false;
  struct stat stat_at_open {};
  OpenRequest open_request;  // what the opener asked for (from /proc/TID/syscall)
  uint64_t mask = 0;         // raw fanotify mask (diagnostics)
  std::string detail;        // kOverflow / kWatchLimit: human-readable reason
};

struct SourceStats {
  uint64_t events = 0;            // queued to the daemon
  uint64_t dropped = 0;           // not queued (queue full)
  uint64_t kernel_overflows = 0;  // FAN_Q_OVERFLOW seen
  uint64_t own_events = 0;        // caused by our own process (answered/skipped at once)
  uint64_t unresolved_paths = 0;  // directory handle no longer resolvable (deleted)
  uint64_t watched_directories = 0;
  uint64_t watch_limit_hits = 0;
  uint64_t malformed = 0;
  uint64_t outside_events = 0;  // from directories moved out of the trees: not reported
  TicketStats tickets;
};

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Next event, or nullopt after `timeout` (or once stopped and drained).
  virtual std::optional<SysEvent> Next(std::chrono::milliseconds timeout) = 0;
  // Stops the readers, allows every outstanding permission event and closes the groups.
  virtual void Stop() = 0;
  virtual SourceStats Stats() const = 0;
};

// For daemon tests: Push() what the kernel would have produced.
class FakeEventSource : public EventSource {
 public:
  explicit FakeEventSource(std::size_t capacity = 1024) : queue_(capacity) {}
  bool Push(SysEvent event) { return !queue_.TryPush(std::move(event)).has_value(); }
  std::optional<SysEvent> Next(std::chrono::milliseconds timeout) override {
    return queue_.Pop(timeout);
  }
  void Stop() override { queue_.Close(); }
  SourceStats Stats() const override {
    SourceStats s;
    s.dropped = queue_.dropped();
    return s;
  }

 private:
  BoundedQueue<SysEvent> queue_;
};

}  // namespace steen::sys
