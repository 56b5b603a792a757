// The `steen watch` daemon: ties the layers together.
//
//   EventSource (fanotify) ─► main loop ─► content views (before at open-for-write, after at
//   close-write, read only through the kernel's fd) ─► Detector::Observe ─► alerts ─► Responder
//   (SIGSTOP / SIGKILL / dry run) ─► IncidentStore ─► AlertFanout (stdout, file, syslog, journald)
//
// Start-up, in order (each step can fail with a message a person can act on; nothing is marked
// before everything else is ready): config already validated by the caller -> state directory and
// incident store -> sinks and fan-out -> detector (steen's own pid excluded) -> responder ->
// canaries placed (before the marks, so placing them raises no event) -> fanotify marks ->
// rescan if the previous run did not stop cleanly -> READY=1.
//
// One thread (the caller of Run / Poll) does all the work; the kernel layer's threads read events
// and answer permission events whose deadline passed; a rescanner thread re-examines files after
// lost events; the watchdog thread notices a stuck loop. See docs/design/watch.md.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "steen/alert.h"
#include "steen/content.h"
#include "steen/detect.h"
#include "steen/limits.h"
#include "steen/outputs.h"
#include "steen/status.h"
#include "steen/vault.h"
#include "sys/event_source.h"
#include "sys/proc.h"
#include "sys/process_control.h"
#include "watch/config.h"
#include "watch/incident_store.h"
#include "watch/write_hold.h"

namespace steen::watch {

// Seams for tests; every member has a real default.
struct DaemonDeps {
  std::unique_ptr<sys::EventSource> source;  // null: FanotifySource over config.paths
  sys::ProcessControl* control = nullptr;    // null: KernelProcessControl (pidfd)
  std::unique_ptr<IncidentStore> incidents;  // null: STATE_DIR/incidents.db (if open_incidents)
  bool open_incidents = true;                // false + null incidents: no incident recording
  // null: VAULT_DIR (config.vault) when vault.enabled and open_incidents; else no copies.
  std::unique_ptr<vault::Vault> vault;
  // Used instead of MakeSinks(config) when non-empty.
  std::vector<std::unique_ptr<outputs::AlertSink>> sinks;
  // /proc view of a pid the detector has not seen (a process tree's spawner). null: /proc.
  std::function<Actor(pid_t)> attribute;
  // Processes and their parents (to find the workers of an attack that no judged file names
  // yet): Responder::ListProcesses. null: /proc, unless `attribute` is set (then none: a test's
  // pids are not this machine's).
  std::function<std::vector<sys::ParentLink>(const std::vector<pid_t>&)> processes;
  bool abort_on_stall = true;  // the watchdog aborts a loop stuck for 2 x config.watchdog
  // The longest a catalog batch stays open while events keep coming (tests lengthen it).
  std::chrono::milliseconds catalog_batch{limits::kCatalogBatchMs};
  // Diagnostics (start-up steps, errors that are counted). null: stderr.
  std::function<void(const std::string&)> log;
};

struct DaemonStats {
  uint64_t events = 0;
  uint64_t permission_events = 0;
  uint64_t permission_answered = 0;  // by us (the rest by the deadline enforcer or at drop)
  uint64_t close_writes = 0;
  uint64_t analyses = 0;
  uint64_t analysis_errors = 0;  // fd unreadable: the event is scored without that view
  uint64_t before_hits = 0;      // close-write found its open-for-write view
  uint64_t views_reused = 0;     // open-for-write of a file unchanged since its last close-write
  uint64_t before_misses = 0;
  uint64_t before_evicted = 0;         // limits::kMaxBeforeViews reached
  uint64_t before_copies_unread = 0;   // the content written made its copy's view unneeded
  uint64_t new_files_unmeasured = 0;   // new content judged by its verdict: blocks not measured
  uint64_t renames_over_judged = 0;    // ciphertext-like new files renamed over a kept file
  uint64_t stopped_tree_changers = 0;  // processes below a stopped root joined to its incident
  uint64_t scratch_files_dropped = 0;  // files deleted by their only writer: not kept in the vault
  uint64_t moved_in_analysed = 0;      // files moved into a tree, read by path afterwards
  uint64_t moved_out_changed = 0;      // moved out and written there before we could copy it
  uint64_t directory_events = 0;       // not scored (directories carry no content)
  uint64_t handler_errors = 0;  // an exception in one event's handling (event dropped, counted)
  uint64_t alerts = 0;          // detector alerts
  // Alerts whose every process an incident killed already: their files joined it, no new one.
  uint64_t alerts_of_killed = 0;
  uint64_t health_alerts = 0;  // overflow, watch limit, stall, rescan
  uint64_t overflows = 0;
  uint64_t watch_limits = 0;
  uint64_t incidents_recorded = 0;
  uint64_t vault_kept = 0;    // writes whose previous content is in the vault (copied or current)
  uint64_t vault_gaps = 0;    // writes let through without a copy (quota, too large, deadline)
  uint64_t vault_errors = 0;  // delete/rename/create bookkeeping that failed
  uint64_t incident_errors = 0;
  uint64_t operator_decisions = 0;  // resumes / kills / closes seen in the incident store
  uint64_t kills_after_grace = 0;
  uint64_t rescans = 0;
  uint64_t rescan_damaged = 0;
  uint64_t canaries_restored = 0;
  uint64_t alerts_dropped = 0;  // a sink's queue was full (the fan-out counts per sink)
};

class Daemon {
 public:
  // Runs the start-up steps. `config` must come from LoadWatchConfig (validated).
  static StatusOr<std::unique_ptr<Daemon>> Start(WatchConfig config, DaemonDeps deps = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // The main loop: until RequestStop(). Then Stop().
  Status Run();
  // Thread-safe (the signal thread calls these).
  void RequestStop();
  void RequestReopen();

  // One loop iteration: handles up to max_events events (waiting at most `timeout` for the first),
  // then the periodic work. Returns how many events were handled. Tests drive the daemon with it.
  int Poll(std::chrono::milliseconds timeout, int max_events = 64);
  // Reads operator decisions (resume, kill, close) from the incident store now; Poll does it every
  // limits::kIncidentPollMs.
  void CheckOperatorDecisions();
  // Stops the source (every outstanding permission event is allowed), removes untouched canaries,
  // drains the outputs. Idempotent.
  void Stop();

  const DaemonStats& stats() const;
  // Opens for writing held for a suspect's judgement (zero when the hold is off).
  WriteHoldStats hold_stats() const;
  const Detector& detector() const;
  std::vector<std::string> canary_paths() const;
  outputs::FanoutStats output_stats() const;
  sys::SourceStats source_stats() const;
  // Who was behind events: processes gone before they were read, and what the kernel's process
  // events told of them (zero when attribution is off or the proc connector is unavailable).
  sys::AttributionStats attribution_stats() const;
  sys::ProcessHistoryStats process_history_stats() const;
  IncidentStore* incidents();
  vault::Vault* vault();
  // Blocks until the rescanner is idle and its result handled (tests), at most timeout.
  bool WaitRescan(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit Daemon(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace steen::watch
