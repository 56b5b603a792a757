// Stopping an smbd where it holds none of Samba's shared locks. Every smbd of a server shares
// databases (locking.tdb, smbXsrv_open_global.tdb, ...) guarded by tdb chain locks and robust
// mutexes that are held for microseconds around each update; a SIGSTOP that lands inside one
// keeps it held, and every other client whose request needs it hangs until the operator decides
// (seen in the SMB end-to-end test: a colleague's save waited 20 s on a futex). Samba holds none
// across its event loop's wait, so a stopped smbd that is not stopped there is stepped: SIGCONT,
// a short run, SIGSTOP again, until it stops at the wait (or the steps or the time run out, and
// it is left stopped where it is). Design: docs/design/watch.md "Stopping smbd at a safe point".
//
// Runs on the daemon's thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "steen/event.h"
#include "sys/process_control.h"

namespace steen::watch {

struct SafeStopStats {
  uint64_t at_once = 0;       // stopped at the event loop's wait by the first SIGSTOP
  uint64_t after_steps = 0;   // ... after stepping
  uint64_t steps = 0;         // SIGCONT + SIGSTOP pairs sent
  uint64_t left = 0;          // steps or time ran out: left stopped outside the wait
  uint64_t gone = 0;          // exited (or killed) while settled
  uint64_t stop_retries = 0;  // a step's SIGSTOP failed for another reason and was sent again
  uint64_t released = 0;      // resumed by the operator while settled: not stopped again
  uint64_t unknown = 0;       // could not be told (no /proc syscall file): left as stopped
  uint64_t dropped = 0;       // limits::kMaxSafeStops reached: left as stopped
};

class SafeStops {
 public:
  // Whether the process may still be stopped for the incident (false once the operator resumed
  // it); asked when a step ends (after its SIGSTOP: a resumed process gets SIGCONT back) and
  // before a note is made.
  using MayStop = std::function<bool(pid_t, uint64_t start_time, const std::string& incident_id)>;
  SafeStops(sys::ProcessControl* control, MayStop may_stop);

  // `actor` was just sent SIGSTOP for `incident_id`.
  void Add(const Actor& actor, const std::string& incident_id, uint64_t now_ns);

  struct Settled {
    pid_t pid = 0;
    uint64_t start_time = 0;
    std::string incident_id;
    std::string note;  // for the incident's process row, when it was not stopped at the wait
  };
  struct Progress {
    // Stopped again just now: an open of theirs the daemon holds may go (it stops at its return).
    std::vector<std::pair<pid_t, uint64_t>> stopped_again;
    // Done with: stopped at the wait, or left as they are (with a note).
    std::vector<Settled> settled;
  };
  // Advances every stop that is due at `now_ns`.
  Progress Advance(uint64_t now_ns);
  // When the next one is due (the daemon's poll must not sleep past it).
  std::optional<uint64_t> NextDeadline() const;
  std::size_t pending() const { return stops_.size(); }
  // The daemon stops: a process between the SIGCONT and the SIGSTOP of a step is stopped again,
  // every other is left as it is.
  void Abandon();

  const SafeStopStats& stats() const { return stats_; }

 private:
  struct Stop {
    pid_t pid = 0;
    uint64_t start_time = 0;
    std::string incident_id;
    bool running = false;  // between the SIGCONT of a step and its SIGSTOP
    int steps = 0;
    uint64_t first_ns = 0;
    uint64_t due_ns = 0;
  };
  // Whether `stop` is finished with (and recorded in `progress`).
  bool Step(Stop& stop, uint64_t now_ns, Progress& progress);

  sys::ProcessControl* control_;
  MayStop may_stop_;
  std::vector<Stop> stops_;
  SafeStopStats stats_;
};

}  // namespace steen::watch
