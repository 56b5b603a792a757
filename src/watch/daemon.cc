#include "watch/daemon.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <list>
#include <map>
#include <optional>
#include <unordered_map>

#include "base/fd_io.h"
#include "steen/limits.h"
#include "steen/vault.h"
#include "sys/client_blocker.h"
#include "sys/fanotify_source.h"
#include "sys/file_opener.h"
#include "sys/proc.h"
#include "sys/smb_sessions.h"
#include "sys/unique_fd.h"
#include "watch/canaries.h"
#include "watch/content_view.h"
#include "watch/event_order.h"
#include "watch/incident_operator.h"
#include "watch/notify.h"
#include "watch/rescan.h"
#include "watch/responder.h"
#include "watch/safe_stops.h"
#include "watch/stopped_trees.h"
#include "watch/write_hold.h"

namespace steen::watch {
namespace {

// Values by (device, inode), least recently put dropped first.
template <typename Value>
class InodeLru {
 public:
  explicit InodeLru(std::size_t capacity) : capacity_(capacity) {}
  // Returns true when an older entry had to be evicted.
  bool Put(uint64_t device, uint64_t inode, Value value) {
    const Key key{device, inode};
    Erase(key);
    order_.push_back(key);
    map_.emplace(key, Entry{std::move(value), std::prev(order_.end())});
    if (map_.size() <= capacity_) return false;
    map_.erase(order_.front());
    order_.pop_front();
    return true;
  }
  std::optional<Value> Take(uint64_t device, uint64_t inode) {
    auto it = map_.find(Key{device, inode});
    if (it == map_.end()) return std::nullopt;
    Value value = std::move(it->second.value);
    order_.erase(it->second.position);
    map_.erase(it);
    return value;
  }
  const Value* Find(uint64_t device, uint64_t inode) const {
    auto it = map_.find(Key{device, inode});
    return it == map_.end() ? nullptr : &it->second.value;
  }
  void Drop(uint64_t device, uint64_t inode) { Erase(Key{device, inode}); }

 private:
  struct Key {
    uint64_t device, inode;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<uint64_t>()(k.inode * 1000003ull ^ k.device);
    }
  };
  struct Entry {
    Value value;
    typename std::list<Key>::iterator position;
  };
  void Erase(const Key& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    order_.erase(it->second.position);
    map_.erase(it);
  }
  std::size_t capacity_;
  std::list<Key> order_;
  std::unordered_map<Key, Entry, KeyHash> map_;
};

// What tells a file's content changed without reading it: a write changes ctime (which nobody
// can set), and kernels since 6.13 give a change right after a stat a fine-grained, newer ctime.
struct FileStamp {
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};
std::optional<FileStamp> StampOf(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0) return std::nullopt;
  const auto ns = [](const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  return FileStamp{static_cast<uint64_t>(st.st_size), ns(st.st_mtim), ns(st.st_ctim)};
}
// A view of a file's content as it was at `stamp`.
struct KnownView {
  FileStamp stamp;
  ContentView view;
};

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

int64_t WallNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

Status EnsureDirectory(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is not a directory");
    return Status::Ok();
  }
  // Parents first (state_dir may be /var/lib/steen on a fresh machine).
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    Status parent = EnsureDirectory(path.substr(0, slash));
    if (!parent.ok()) return parent;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno("creating state directory " + path, errno);
  }
  return Status::Ok();
}

// The same failure with where it happened in front of the message.
Status WithContext(const Status& status, const std::string& context) {
  std::string msg = context + ": " + status.message();
  switch (status.code()) {
    case Status::Code::kOk:
      return status;
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(msg);
    case Status::Code::kNotFound:
      return Status::NotFound(msg);
    case Status::Code::kIoError:
      return Status::IoError(msg);
    case Status::Code::kCorruption:
      return Status::Corruption(msg);
    case Status::Code::kResourceExhausted:
      return Status::ResourceExhausted(msg);
    case Status::Code::kPermissionDenied:
      return Status::PermissionDenied(msg);
    case Status::Code::kUnsupported:
      return Status::Unsupported(msg);
    case Status::Code::kInternal:
      return Status::Internal(msg);
  }
  return Status::Internal(msg);
}

}  // namespace

struct Daemon::Impl {
  WatchConfig config;
  DaemonDeps deps;
  std::function<void(const std::string&)> log;
  DaemonStats stats;
  std::string host;

  std::unique_ptr<outputs::AlertFanout> fanout;
  std::unique_ptr<IncidentStore> incidents;
  std::unique_ptr<vault::Vault> vault;
  std::vector<uint64_t> linkable_devices;  // filesystems the vault can hard-link on
  std::unique_ptr<Detector> detector;
  std::string self_exe;
  // Operator tools seen (steen rollback / vault restore), by (pid, start time): they put files
  // back, which is never scored nor stopped. Bounded: cleared when full.
  std::map<std::pair<pid_t, uint64_t>, bool> operator_tools;
  std::unique_ptr<sys::KernelProcessControl> own_control;
  std::unique_ptr<sys::ProcessAttributor> attributor;
  // The kernel's process events, for processes gone before their events are read.
  std::shared_ptr<sys::ProcessHistory> process_history;
  std::unique_ptr<sys::ProcEventListener> process_events;
  std::unique_ptr<Responder> responder;
  // Refuses contained SMB clients (smb.block_reconnect; null in dry run, alert-only and tests),
  // and lifts the blocks of resumed incidents (null in tests).
  std::unique_ptr<sys::ClientBlocker> blocker;
  sys::NftClientBlocker* nft_blocker = nullptr;  // `blocker` when it is the real firewall
  BlockerFor release_blockers;
  uint64_t next_block_reconcile_ns = 0;
  std::unique_ptr<Canaries> canaries;
  std::unique_ptr<sys::EventSource> source;
  std::unique_ptr<CloseWritesFirst> events;  // the order events are handled in (over `source`)
  ContentAnalyzer analyzer;
  std::unique_ptr<Rescanner> rescanner;
  // The content of each file opened for writing as it was before the write: measured (the view
  // kept from its last close, or read through the ticket), or its protective copy, measured at
  // the close only when what was written makes the comparison matter (detect::ChangeNeedsBefore):
  // most writes leave intact content, and their copies are never read again.
  struct BeforeContent {
    std::optional<ContentView> view;
    int64_t copy_version = 0;  // the vault version holding it, when `view` is not measured yet
  };
  InodeLru<BeforeContent> before{limits::kMaxBeforeViews};
  // The view each recently written file had after its last close-write: the next open for
  // writing of an unchanged file reuses it instead of reading the file again (logs, documents
  // saved again and again).
  InodeLru<KnownView> known{limits::kMaxKnownViews};
  // New files whose content after their first close-write could replace an original (damaged
  // bytes or an encrypted container): when one is renamed over a file the vault kept, the rename
  // is judged like a write of it, with the kept file's content as its before view.
  InodeLru<ContentView> replacements{limits::kMaxKnownViews};
  StoppedTrees stopped_trees;
  // Who created each file that was empty when opened for writing, while no other writer has
  // opened it since: all its content is that writer's own, so when the same writer deletes it
  // (a SQLite journal at every commit, a temporary file), nobody's data goes with it and the
  // vault lets it go instead of keeping its last name.
  InodeLru<vault::ActorRef> scratch{limits::kMaxScratchFiles};
  // Opens for writing of suspects wait for their writes in flight to be judged (null: off).
  std::unique_ptr<WriteHold> hold;
  uint64_t hold_generation = UINT64_MAX;  // detector suspects_generation() last handed over
  // Processes an alert stopped since the last ReleaseHeld (pid, start time): their held opens go
  // (they stop on their return from open). Other held opens wait on: a suspect the response did
  // not stop (an SMB session outside the contained client, a protected program) would write once
  // let go, and must be judged like the others.
  std::vector<std::pair<pid_t, uint64_t>> stopped_writers;
  // smbd sessions just stopped, until each is stopped at its event loop's wait (safe_stops.h).
  std::unique_ptr<SafeStops> safe_stops;
  SystemdNotifier notifier;
  std::unique_ptr<LoopWatchdog> watchdog;

  std::atomic<bool> stop_requested{false};
  std::atomic<bool> reopen_requested{false};
  bool stopped = false;
  std::string running_marker;

  int64_t last_change_seq = 0;
  uint64_t next_incident_poll_ns = 0;
  uint64_t next_canary_check_ns = 0;
  uint64_t next_status_ns = 0;
  uint64_t next_vault_maintain_ns = 0;
  uint64_t next_vault_gap_alert_ns = 0;
  uint64_t vault_gaps_since_alert = 0;
  uint64_t last_event_ns = 0;
  std::atomic<uint64_t> own_alert_counter{0};

  void Log(const std::string& line) { log(line); }

  // ---- Start-up ----
  Status Init();
  // ---- Events ----
  void Handle(sys::SysEvent& ev);
  void HandlePermission(sys::SysEvent& ev);
  // Protective copy of the content before the write; returns a message for a vault gap ("" when
  // the content is kept). Only through the ticket's fd.
  // `copy` receives what the vault kept (version 0: nothing).
  std::string Preserve(sys::SysEvent& ev, vault::PreserveResult* copy);
  bool IsOperatorTool(const Actor& actor);
  // Returns the vault version of a file that a rename replaced (0: none kept).
  // Records the change; a delete without a path (its folder went first) gets the kept link's.
  int64_t NoteInVault(FileEvent& event, bool is_directory);
  // Scratch files (see `scratch`): an open for writing records or revokes its writer's claim;
  // a delete by the claimant takes it.
  void NoteWriter(const sys::SysEvent& ev);
  bool TakeOwnScratch(const FileEvent& deleted, const vault::ActorRef& by);
  void VaultGap(const std::string& message);
  // Commits the vault's batch of catalog rows; `reopen` starts the next one (events follow).
  void CommitVault(bool reopen);
  // Time until the open catalog batch must be committed (kDaemonPollMs when none is open).
  std::chrono::milliseconds CatalogBatchLeft() const;
  void PreserveMovedOut(int fd, const FileEvent& event, const vault::ActorRef& actor);
  bool Linkable(uint64_t device) const {
    return std::find(linkable_devices.begin(), linkable_devices.end(), device) !=
           linkable_devices.end();
  }
  void HandleFile(sys::SysEvent& ev);
  // Hold: the suspects after an event, and the held opens that may go now.
  void UpdateSuspects();
  void ReleaseHeld();
  // Steps the smbd stops that are due (safe_stops.h) and records those left outside the wait.
  void AdvanceSafeStops();
  void LetHeldGo(WriteHold::Why why, const std::function<bool(const Actor&)>& which = {});
  // Answers a permission event's ticket (if it has one) and records the write it lets through.
  void LetThrough(sys::SysEvent& ev);
  void HandleOverflow(const sys::SysEvent& ev);
  bool Inside(const std::string& path) const;
  void MovedIn(FileEvent& event);
  // `measure_blocks`: also the fraction of random 4 KiB blocks (for "randomness gained").
  std::optional<ContentView> View(int fd, bool measure_blocks = true);
  // The view of a protective copy (outside the trees: the vault never is inside them).
  std::optional<ContentView> ViewOfCopy(int64_t version_id);
  // The content before the write that `after` ended: measured now from its copy if needed.
  std::optional<ContentView> BeforeOf(std::optional<BeforeContent> was,
                                      const std::optional<ContentView>& after);
  // Respond to alerts (signals only); the caller answers its ticket before Publish.
  struct Decided {
    Alert alert;
    ResponseOutcome outcome;
    pid_t tree_root = 0;  // ResponseTargets::tree_root
  };
  // Processes below a stopped tree root that changed files join its incident (stopped_trees.h).
  void FollowStoppedTrees(const Actor& changer);
  void JoinIncident(const std::string& id, const std::vector<Actor>& changers);
  std::vector<Decided> Decide(std::vector<Alert> alerts);
  void Publish(std::vector<Decided> decided);
  void EmitHealth(Alert alert);
  Alert HealthAlert(const std::string& rule, const std::string& severity,
                    const std::string& message);
  // ---- SMB client blocks ----
  void SetUpBlocker();
  void RecordBlocks(const std::string& id, const ResponseOutcome& outcome);
  void ReconcileBlocks();
  // ---- Periodic ----
  void Periodic();
  // The killed incident of the first process of `targets` when an incident killed every one of
  // them (IncidentStore::KilledIncidentOf), "" otherwise (or when there are none).
  std::string KilledWith(const ResponseTargets& targets);
  // Applies the operator's decisions recorded since the last poll; returns the detector scopes
  // they made it forget.
  std::vector<std::pair<ActorScope, std::string>> PollOperatorDecisions();
  void KillAfterGrace(uint64_t now_ns);
  void HandleRescanResults();
};

Status Daemon::Impl::Init() {
  // Steen itself: never scored (it writes the canaries), never stopped.
  const pid_t self = ::getpid();
  config.detect.exclusions.pids.push_back(self);
  config.detect.response.self_pid = self;
  self_exe = sys::ReadLink("/proc/self/exe");
  // Protected by pid, not by executable: `steen drill` runs from this same binary and must be
  // stoppable like any other writer (other steen commands never write into the trees).
  config.detect.response.self_exe.clear();
  host = HostName();

  // 1. State directory and incident store.
  if (deps.incidents) {
    incidents = std::move(deps.incidents);
  } else if (deps.open_incidents) {
    Status dir = EnsureDirectory(config.state_dir);
    if (!dir.ok()) return dir;
    auto store = IncidentStore::Open(IncidentDbPath(config.state_dir));
    if (!store.ok()) {
      return WithContext(store.status(), "incident store " + IncidentDbPath(config.state_dir));
    }
    incidents = std::move(*store);
  }
  if (incidents) {
    auto latest = incidents->LatestChange();
    if (latest.ok()) last_change_seq = *latest;
  }

  // 1b. Vault: protective copies must be possible before the first write is let through.
  if (deps.vault) {
    vault = std::move(deps.vault);
  } else if (config.vault.enabled && deps.open_incidents) {
    vault::VaultOptions options;
    options.dir = VaultDir(config);
    options.max_bytes = static_cast<uint64_t>(config.vault.max_bytes);
    options.max_files = static_cast<uint64_t>(config.vault.max_files);
    options.retention_ns = config.vault.retention.count() * 1'000'000'000ll;
    options.max_file_bytes = static_cast<uint64_t>(config.vault.max_file_bytes);
    options.min_free_bytes = static_cast<uint64_t>(config.vault.min_free_bytes);
    if (Status dir = EnsureDirectory(options.dir); !dir.ok()) return dir;
    auto opened = vault::Vault::Open(options);
    if (!opened.ok()) return WithContext(opened.status(), "vault " + options.dir);
    vault = std::move(*opened);
  }
  if (vault) {
    struct stat vst {};
    if (::stat(vault->dir().c_str(), &vst) == 0) {
      for (const std::string& root : config.paths) {
        struct stat rst {};
        if (::stat(root.c_str(), &rst) != 0) continue;
        if (rst.st_dev == vst.st_dev) {
          linkable_devices.push_back(rst.st_dev);
        } else {
          Log("vault " + vault->dir() + " is on another filesystem than " + root +
              ": files deleted or renamed over there cannot be kept (writes are still copied)");
        }
      }
    }
    Log("vault: " + vault->dir());
  }

  // 2. Sinks and fan-out.
  outputs::FanoutOptions fanout_options;
  fanout_options.on_problem = [this](std::string_view sink, const Status& status) {
    Log(fmt::format("output {}: {}", sink, status.message()));
  };
  fanout = std::make_unique<outputs::AlertFanout>(fanout_options);
  std::vector<std::unique_ptr<outputs::AlertSink>> sinks = std::move(deps.sinks);
  if (sinks.empty()) {
    auto made = MakeSinks(config);
    if (!made.ok()) return made.status();
    sinks = std::move(*made);
  }
  for (auto& sink : sinks) fanout->AddSink(std::move(sink));

  // 3. Detector and responder.
  detector = std::make_unique<Detector>(config.detect);
  sys::ProcessControl* control = deps.control;
  if (control == nullptr) {
    own_control = std::make_unique<sys::KernelProcessControl>();
    control = own_control.get();
  }
  std::function<Actor(pid_t)> attribute = deps.attribute;
  if (!attribute) {
    attributor = std::make_unique<sys::ProcessAttributor>(sys::DefaultFileOpener(),
                                                          sys::RealClock::Get(), nullptr);
    // Samba: an smbd child is attributed to the client it serves (address, user, machine).
    attributor->SetSmbSessions(std::make_shared<sys::ProcSmbSessionTable>());
    process_history = std::make_shared<sys::ProcessHistory>();
    auto listening = sys::ProcEventListener::Start(process_history);
    if (listening.ok()) {
      process_events = std::move(*listening);
      attributor->SetProcessHistory(process_history);
    } else {
      Log(listening.status().message() +
          ": a process that exits before its events are read is known by its pid alone");
      process_history.reset();
    }
    attribute = [this](pid_t pid) { return attributor->Attribute(pid); };
  }
  ResponderOptions response;
  response.action = config.action;
  response.kill_after = config.kill_after;
  response.dry_run = config.dry_run;
  response.policy = config.detect.response;
  response.smb = config.smb;
  if (deps.open_incidents) SetUpBlocker();
  Responder::ListProcesses processes = deps.processes;
  if (!processes && !deps.attribute) {
    processes = [](const std::vector<pid_t>& family_of) {
      return family_of.empty() ? sys::ListParentLinks(sys::DefaultFileOpener())
                               : sys::ListFamilyLinks(sys::DefaultFileOpener(), family_of,
                                                      limits::kMaxTreeMembersListed);
    };
  }
  responder = std::make_unique<Responder>(response, control, attribute,
                                          attributor ? attributor->smb_sessions().get() : nullptr,
                                          blocker.get(), std::move(processes));
  if (config.action == Action::kSuspend && !config.dry_run) {
    safe_stops = std::make_unique<SafeStops>(
        control, [this](pid_t pid, uint64_t start_time, const std::string& incident_id) {
          if (responder->IsSpared(pid, start_time)) return false;
          // The store, not the last poll of decisions: a `steen resume` within the second.
          if (!incidents) return true;
          auto incident = incidents->Get(incident_id);
          if (!incident.ok()) return true;
          if (incident->state != IncidentState::kSuspended) return false;
          for (const IncidentProcess& p : incident->processes) {
            if (p.actor.pid == pid && p.actor.start_time == start_time) {
              return p.state == ProcessState::kSuspended;
            }
          }
          return true;
        });
  }

  // 4. Canaries, before any mark exists.
  canaries = std::make_unique<Canaries>(config.canaries, config.paths);
  if (config.canaries.enabled) {
    Status placed = canaries->Place();
    if (!placed.ok()) Log("canaries not placed: " + placed.message());
    Log(fmt::format("{} canary files placed", canaries->paths().size()));
  }

  // 5. The event source (marks).
  if (config.hold_suspect_writes.count() > 0 && config.permission_events && !config.dry_run &&
      config.action != Action::kAlert) {
    hold = std::make_unique<WriteHold>(config.hold_suspect_writes);
  }
  if (deps.source) {
    source = std::move(deps.source);
  } else {
    sys::FanotifyOptions options;
    options.roots = config.paths;
    options.permission_events = config.permission_events;
    options.permission_deadline = config.permission_deadline;
    // Reads are needed to pair "read then deleted" (class C encryptors).
    options.report_close_nowrite = true;
    options.allow_empty_writes_early = true;
    if (hold) {
      // Permission reader thread: a suspect's new file waits like its other writes.
      options.hold_empty_write = [h = hold.get()](const Actor& actor) {
        return h->Suspected(actor);
      };
    }
    if (attributor) options.smb_sessions = attributor->smb_sessions();
    options.process_history = process_history;
    if (vault && !linkable_devices.empty()) {
      // Permission reader thread: one linkat when the inode is new to the vault, nothing opened.
      options.before_early_allow = [v = vault.get(), devices = linkable_devices](
                                       int fd, const FileEvent& file) {
        if (std::find(devices.begin(), devices.end(), file.device) == devices.end()) return;
        // The link itself is made now; its row joins the batch the loop commits within one poll
        // (a commit per open was a third of this thread's time on an untar).
        v->BeginBatch();
        (void)v->KeepLink(fd, vault::FileIdentity{file.path, file.device, file.inode});
      };
    }
    auto opened = sys::FanotifySource::Open(options);
    if (!opened.ok()) {
      canaries->Remove();
      return WithContext(opened.status(), "fanotify");
    }
    source = std::move(*opened);
  }
  events = std::make_unique<CloseWritesFirst>(source.get());

  // 6. Rescan when the previous run did not stop cleanly (its events may be lost).
  rescanner = std::make_unique<Rescanner>(&analyzer, config.paths);
  if (deps.open_incidents && !config.state_dir.empty()) {
    running_marker = config.state_dir + "/watch.running";
    struct stat st {};
    if (::stat(running_marker.c_str(), &st) == 0 && config.rescan_lookback.count() > 0) {
      Log("previous run did not stop cleanly: rescanning recently changed files");
      rescanner->Request(WallNowNs() - config.rescan_lookback.count() * 1'000'000'000ll,
                         "restart after an unclean stop");
      ++stats.rescans;
    }
    int fd = ::open(running_marker.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
      std::string pid = std::to_string(self) + "\n";
      (void)!::write(fd, pid.data(), pid.size());
      ::close(fd);
    }
  }

  // 7. Watchdog over the main loop.
  if (config.watchdog.count() > 0) {
    watchdog = std::make_unique<LoopWatchdog>(
        std::chrono::duration_cast<std::chrono::milliseconds>(config.watchdog),
        [this](std::chrono::milliseconds stalled) {
          // Runs on the watchdog thread: only thread-safe calls (the fan-out, sd_notify).
          Alert alert = HealthAlert(
              "watch-stalled", "high",
              fmt::format("steen watch: event loop stuck for {} ms; permission events are "
                          "answered by the deadline enforcer meanwhile",
                          stalled.count()));
          fanout->Emit(alert);
          notifier.Trigger();
        },
        deps.abort_on_stall);
  }
  notifier.Ready(fmt::format("watching {} tree(s)", config.paths.size()));
  return Status::Ok();
}

std::optional<ContentView> Daemon::Impl::View(int fd, bool measure_blocks) {
  if (fd < 0) return std::nullopt;
  ++stats.analyses;
  auto view = AnalyzeFd(analyzer, fd, measure_blocks);
  if (!view.ok()) {
    ++stats.analysis_errors;
    return std::nullopt;
  }
  return std::move(*view);
}

std::optional<ContentView> Daemon::Impl::BeforeOf(std::optional<BeforeContent> was,
                                                  const std::optional<ContentView>& after) {
  if (!was) return std::nullopt;
  if (was->view) return std::move(was->view);
  if (was->copy_version == 0 || !after || !ChangeNeedsBefore(*after, config.detect)) {
    ++stats.before_copies_unread;
    return std::nullopt;
  }
  return ViewOfCopy(was->copy_version);
}

std::optional<ContentView> Daemon::Impl::ViewOfCopy(int64_t version_id) {
  const StatusOr<vault::Version> version = vault->GetVersion(version_id);
  if (!version.ok()) {
    ++stats.analysis_errors;  // evicted by the vault's upkeep already: no before view
    return std::nullopt;
  }
  const StatusOr<int> opened = vault->OpenObject(*version);
  if (!opened.ok()) {
    ++stats.analysis_errors;  // removed by the vault's upkeep already: no before view
    return std::nullopt;
  }
  const sys::UniqueFd fd(*opened);
  return View(fd.get());
}

void Daemon::Impl::Handle(sys::SysEvent& ev) {
  ++stats.events;
  last_event_ns = MonotonicNowNs();
  switch (ev.kind) {
    case sys::SysEvent::Kind::kPermission:
      HandlePermission(ev);
      break;
    case sys::SysEvent::Kind::kFile:
      HandleFile(ev);
      break;
    case sys::SysEvent::Kind::kOverflow:
      HandleOverflow(ev);
      break;
    case sys::SysEvent::Kind::kWatchLimit:
      ++stats.watch_limits;
      EmitHealth(HealthAlert("watch-limit", "medium",
                             "steen watch: a new folder is not protected: " + ev.detail));
      break;
  }
}

bool Daemon::Impl::IsOperatorTool(const Actor& actor) {
  if (self_exe.empty() || actor.exe != self_exe) return false;
  const auto key = std::make_pair(actor.pid, actor.start_time);
  if (auto it = operator_tools.find(key); it != operator_tools.end()) return it->second;
  // /proc only (never a file in a tree): safe while a ticket is held.
  auto read = sys::ReadSmallFile(sys::DefaultFileOpener(),
                                 "/proc/" + std::to_string(actor.pid) + "/cmdline", 4096);
  const std::string cmdline = read.ok() ? *read : std::string();
  std::vector<std::string> argv;
  for (std::size_t start = 0; start < cmdline.size();) {
    std::size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    argv.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  const bool tool = argv.size() >= 2 && (argv[1] == "rollback" || argv[1] == "vault");
  if (operator_tools.size() >= limits::kMaxSparedProcesses) operator_tools.clear();
  operator_tools[key] = tool;
  return tool;
}

void Daemon::Impl::HandlePermission(sys::SysEvent& ev) {
  ++stats.permission_events;
  FileEvent& event = ev.event;
  event.is_canary = canaries->IsCanary(event);
  // First the protective copy (what must not be lost), then the analysis.
  std::string gap;
  vault::PreserveResult copy;
  // `steen rollback`'s own temporary files start empty: nothing to keep, and recording them
  // waited on the catalog the rollback was writing (a spurious vault gap after some rollbacks).
  const bool operators_new_file = ev.allowed_empty && IsOperatorTool(event.actor);
  if (vault && (ev.ticket || ev.allowed_empty) && !operators_new_file) {
    NoteWriter(ev);
    gap = Preserve(ev, &copy);
    // The copy's rows are durable before the write is allowed: committed, or (a packed copy) in
    // the vault's intent log. An empty file's open is allowed already; its rows go with the batch.
    // (A gap leaves `copy` as it was: commit_needed.)
    if (ev.ticket && copy.commit_needed) CommitVault(/*reopen=*/true);
  }
  if (IsOperatorTool(event.actor)) {
    // steen rollback putting files back: kept like any write, never judged.
    if (ev.ticket && ev.ticket->Allow()) ++stats.permission_answered;
    if (!gap.empty()) VaultGap(gap);
    return;
  }
  // The content before the write: the view kept from the file's last close when it is unchanged
  // since; else the protective copy, measured at the close if at all (the copy is that content,
  // and the writer need not wait for the analysis); else read through the ticket's fd (nothing
  // else is opened while the ticket is unanswered).
  if (ev.ticket) {
    BeforeContent was;
    const std::optional<FileStamp> stamp = StampOf(ev.ticket->fd());
    const KnownView* seen = known.Find(event.device, event.inode);
    if (stamp && seen != nullptr && seen->stamp == *stamp) {
      was.view = seen->view;
      ++stats.views_reused;
    } else if (copy.outcome == vault::PreserveOutcome::kEmpty) {
      was.view = EmptyView();
    } else if (copy.version_id != 0) {
      was.copy_version = copy.version_id;
    } else {
      was.view = View(ev.ticket->fd());
    }
    if ((was.view || was.copy_version != 0) &&
        before.Put(event.device, event.inode, std::move(was))) {
      ++stats.before_evicted;
    }
  } else if (ev.allowed_empty) {
    if (before.Put(event.device, event.inode, BeforeContent{EmptyView(), 0})) {
      ++stats.before_evicted;
    }
  }
  // A canary opened for writing alerts now: the writer is stopped inside open(), before it wrote.
  std::vector<Decided> decided;
  if (event.is_canary) decided = Decide(detector->Observe(event));
  const bool wait =
      hold && ev.ticket && decided.empty() && hold->MustWait(event.actor, MonotonicNowNs());
  if (!wait) LetThrough(ev);
  // Everything else is judged after the answer: the opener is known to hold the content now (a
  // file moved out of the trees, encrypted there and moved back is never read inside them).
  if (!event.is_canary) decided = Decide(detector->Observe(event));
  Publish(std::move(decided));
  if (!gap.empty()) VaultGap(gap);
  if (wait) hold->Hold(std::move(ev), MonotonicNowNs());
}

void Daemon::Impl::LetThrough(sys::SysEvent& ev) {
  if (ev.ticket && ev.ticket->Allow()) ++stats.permission_answered;
  if (!hold || !(ev.ticket || ev.allowed_empty)) return;
  hold->Opened(ev.event.device, ev.event.inode, ev.event.actor, MonotonicNowNs());
}

void Daemon::Impl::UpdateSuspects() {
  if (!hold || detector->suspects_generation() == hold_generation) return;
  hold_generation = detector->suspects_generation();
  hold->SetSuspects(detector->Suspects());
}

void Daemon::Impl::ReleaseHeld() {
  if (!hold) return;
  if (!stopped_writers.empty()) {
    for (const auto& [pid, start_time] : stopped_writers) hold->Stopped(pid, start_time);
    LetHeldGo(WriteHold::Why::kAlert, [this](const Actor& actor) {
      return std::find(stopped_writers.begin(), stopped_writers.end(),
                       std::make_pair(actor.pid, actor.start_time)) != stopped_writers.end();
    });
    stopped_writers.clear();
  }
  UpdateSuspects();
  for (sys::SysEvent& ev : hold->Release(MonotonicNowNs())) LetThrough(ev);
}

void Daemon::Impl::AdvanceSafeStops() {
  if (!safe_stops || safe_stops->pending() == 0) return;
  SafeStops::Progress progress = safe_stops->Advance(MonotonicNowNs());
  // Stopped again: a held open of theirs goes, like one of a process an alert stopped.
  if (hold) {
    stopped_writers.insert(stopped_writers.end(), progress.stopped_again.begin(),
                           progress.stopped_again.end());
  }
  for (const SafeStops::Settled& settled : progress.settled) {
    if (settled.note.empty()) continue;
    Log(fmt::format("incident {}: smbd {} {}", settled.incident_id, settled.pid, settled.note));
    if (incidents) {
      (void)incidents->SetProcessState(settled.incident_id, settled.pid, settled.start_time,
                                       ProcessState::kSuspended, settled.note);
    }
  }
}

void Daemon::Impl::LetHeldGo(WriteHold::Why why, const std::function<bool(const Actor&)>& which) {
  if (!hold) return;
  for (sys::SysEvent& ev : hold->ReleaseAll(why, which)) LetThrough(ev);
}

std::string Daemon::Impl::Preserve(sys::SysEvent& ev, vault::PreserveResult* copy) {
  const FileEvent& event = ev.event;
  const vault::FileIdentity file{event.path, event.device, event.inode};
  StatusOr<vault::PreserveResult> kept = Status::Internal("no ticket");
  if (ev.allowed_empty) {  // allowed by the source already (its hook kept the link)
    kept = vault->NoteEmptyBeforeWrite(file, vault::ToActorRef(event.actor), ev.stat_at_open);
  } else {
    const sys::PermissionTicket* ticket = &*ev.ticket;
    if (Linkable(event.device)) (void)vault->KeepLink(ticket->fd(), file);
    kept = vault->PreserveBeforeWrite(
        ticket->fd(), file, vault::ToActorRef(event.actor),
        [ticket] { return !ticket->answered(); }, vault::HashWhen::kLater);
  }
  if (kept.ok()) {
    ++stats.vault_kept;
    *copy = std::move(*kept);
    return "";
  }
  ++stats.vault_gaps;
  return fmt::format("{} opened for writing by pid {} ({}) without a protective copy: {}",
                     event.path, event.actor.pid, event.actor.exe, kept.status().message());
}

void Daemon::Impl::PreserveMovedOut(int fd, const FileEvent& event, const vault::ActorRef& actor) {
  // This runs after the move, maybe long after: out there the file may be rewritten already, and
  // a copy of that is no protective copy (a move-out-and-back attack made the vault keep its
  // ciphertext). The move set the inode's ctime; a write since sets mtime and ctime together.
  struct stat st {};
  if (::fstat(fd, &st) != 0) return;
  const auto ns = [](const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; };
  // Written out there before (or while) the copy could be made: no copy from here. Usually the
  // writer opened it inside the trees first, and that copy is the content before.
  const auto written_out_there = [&](std::string_view when) {
    ++stats.moved_out_changed;
    if (!vault->HasCopyOf(st.st_dev, st.st_ino)) {
      VaultGap(fmt::format("{} moved out of the trees to {} by pid {} ({}) and written there {}",
                           event.path, event.new_path, event.actor.pid, event.actor.exe, when));
    }
  };
  if (ns(st.st_mtim) >= ns(st.st_ctim)) {
    written_out_there("before a protective copy could be made");
    return;
  }
  // The writer is not held by any ticket here: it may start writing while the copy is read, and
  // a copy of half-rewritten bytes is no protective copy either. Kept only if the inode's times
  // and size are still those seen before the copy.
  const auto unchanged = [&] {
    struct stat now {};
    return ::fstat(fd, &now) == 0 && ns(now.st_mtim) == ns(st.st_mtim) &&
           ns(now.st_ctim) == ns(st.st_ctim) && now.st_size == st.st_size;
  };
  auto kept = vault->PreserveBeforeWrite(
      fd, vault::FileIdentity{event.path, event.device, event.inode}, actor, unchanged);
  if (!kept.ok()) {
    if (!unchanged()) {  // the vault dropped the copy (or failed reading a file being written)
      written_out_there("while its protective copy was made");
      return;
    }
    ++stats.vault_errors;
    Log("vault: " + event.path + ": " + kept.status().message());
  }
}

void Daemon::Impl::CommitVault(bool reopen) {
  if (!vault) return;
  if (Status s = vault->CommitBatch(); !s.ok()) {
    ++stats.vault_errors;
    Log("vault: " + s.message());
  }
  if (reopen) vault->BeginBatch();
}

std::chrono::milliseconds Daemon::Impl::CatalogBatchLeft() const {
  const std::chrono::milliseconds limit = deps.catalog_batch;
  const std::optional<std::chrono::nanoseconds> age = vault ? vault->OpenBatchAge() : std::nullopt;
  if (!age) return std::chrono::milliseconds(limits::kDaemonPollMs);
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(*age);
  return spent >= limit ? std::chrono::milliseconds(0) : limit - spent;
}

void Daemon::Impl::VaultGap(const std::string& message) {
  Log("vault: " + message);
  ++vault_gaps_since_alert;
  const uint64_t now = MonotonicNowNs();
  if (now < next_vault_gap_alert_ns) return;  // one health alert a minute at most
  next_vault_gap_alert_ns = now + 60'000'000'000ull;
  EmitHealth(HealthAlert(
      "vault-gap", "medium",
      fmt::format("steen watch: {} write(s) let through without a protective copy; latest: {}",
                  vault_gaps_since_alert, message)));
  vault_gaps_since_alert = 0;
}

namespace {
bool SameWriter(const vault::ActorRef& a, const vault::ActorRef& b) {
  return a.pid == b.pid && a.start_time == b.start_time && a.start_time != 0 &&
         a.smb_client_address == b.smb_client_address;
}
}  // namespace

void Daemon::Impl::NoteWriter(const sys::SysEvent& ev) {
  const FileEvent& event = ev.event;
  if (event.inode == 0) return;
  const vault::ActorRef writer = vault::ToActorRef(event.actor);
  const vault::ActorRef* claimant = scratch.Find(event.device, event.inode);
  if (claimant == nullptr) {
    if (ev.allowed_empty) (void)scratch.Put(event.device, event.inode, writer);
  } else if (!SameWriter(*claimant, writer)) {
    scratch.Drop(event.device, event.inode);  // another writer's content may be in it now
  }
}

bool Daemon::Impl::TakeOwnScratch(const FileEvent& deleted, const vault::ActorRef& by) {
  if (deleted.inode == 0) return false;
  std::optional<vault::ActorRef> claimant = scratch.Take(deleted.device, deleted.inode);
  return claimant && SameWriter(*claimant, by);
}

int64_t Daemon::Impl::NoteInVault(FileEvent& event, bool is_directory) {
  if (!vault) return 0;
  int64_t replaced_version = 0;
  const vault::ActorRef actor = vault::ToActorRef(event.actor);
  const vault::FileIdentity file{event.path, event.device, event.inode};
  Status s;
  switch (event.op) {
    case FileOp::kCreate:
      if (!is_directory) s = vault->NoteCreate(file, actor, event.wall_time_ns);
      break;
    case FileOp::kDelete:
      if (!is_directory) {
        const bool own_scratch = TakeOwnScratch(event, actor);
        if (own_scratch) ++stats.scratch_files_dropped;
        std::string recorded;
        s = vault->NoteDelete(file, actor, event.wall_time_ns,
                              !IsOperatorTool(event.actor) && !own_scratch, &recorded);
        if (event.path.empty()) event.path = recorded;  // the detector pairs it by its path
      }
      break;
    case FileOp::kRename: {
      s = vault->NoteRename(event.path, event.new_path, actor, event.wall_time_ns,
                            &replaced_version);
      if (!is_directory && Inside(event.path) && !Inside(event.new_path)) {
        // Moved out of the trees: whatever happens to it out there is not seen. Copy it now, from
        // outside the trees (no ticket is held here), under its old name for rollback.
        const int fd = OpenWithoutAtime(AT_FDCWD, event.new_path.c_str(),
                                        O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
          PreserveMovedOut(fd, event, actor);
          ::close(fd);
        }
      }
      break;
    }
    default:
      break;
  }
  if (!s.ok()) {
    ++stats.vault_errors;
    Log("vault: " + event.path + ": " + s.message());
  }
  return replaced_version;
}

void Daemon::Impl::HandleFile(sys::SysEvent& ev) {
  FileEvent& event = ev.event;
  const int64_t replaced_version = NoteInVault(event, ev.is_directory);
  if (IsOperatorTool(event.actor)) return;
  if (ev.is_directory) {
    ++stats.directory_events;
    return;
  }
  event.is_canary = canaries->IsCanary(event);
  switch (event.op) {
    case FileOp::kCloseWrite: {
      ++stats.close_writes;
      std::optional<BeforeContent> was = before.Take(event.device, event.inode);
      if (was) {
        ++stats.before_hits;
      } else {
        ++stats.before_misses;
      }
      // A file that was empty before this write is new content: the detector judges it by its
      // verdict alone, so its blocks' randomness is not measured (most of the analysis' time on a
      // copy of photos and videos). Such a view is not remembered as the next write's before view
      // either: that one must carry the measurement (the protective copy serves instead).
      const bool was_empty = was && was->view && was->view->format == EmptyView().format;
      if (was_empty) ++stats.new_files_unmeasured;
      const std::optional<FileStamp> stamp = StampOf(ev.fd.get());
      event.after = View(ev.fd.get(), /*measure_blocks=*/!was_empty);
      // Remembered only when nothing changed while it was read.
      if (event.after && !was_empty && stamp && StampOf(ev.fd.get()) == stamp) {
        known.Put(event.device, event.inode, KnownView{*stamp, *event.after});
      }
      event.before = BeforeOf(std::move(was), event.after);
      if (was_empty && event.after && CouldReplaceOriginal(*event.after, config.detect)) {
        replacements.Put(event.device, event.inode, *event.after);
      } else {
        replacements.Drop(event.device, event.inode);
      }
      break;
    }
    case FileOp::kDelete:
      if (event.inode != 0) {
        before.Drop(event.device, event.inode);
        known.Drop(event.device, event.inode);
        replacements.Drop(event.device, event.inode);
      }
      break;
    case FileOp::kRename:
      if (Inside(event.path) && !Inside(event.new_path)) {
        // Moved out of the trees: for what is protected, the file is gone (class B encryptors
        // move files out, encrypt them there and move them back under a new name). Its close
        // happens out there, unseen: a write of it is no longer in flight.
        event.op = FileOp::kDelete;
        event.new_path.clear();
        if (hold && event.inode != 0) hold->Closed(event.device, event.inode, event.actor.pid);
      } else if (!Inside(event.path) && Inside(event.new_path)) {
        MovedIn(event);
        return;
      } else if (replaced_version != 0 && event.inode != 0) {
        // Renamed over a file the vault kept (an encryptor writing a temporary file and moving
        // it over the original): judged like a write of the original, read from the kept copy
        // only when what replaced it could be ciphertext.
        if (const ContentView* renamed = replacements.Find(event.device, event.inode)) {
          event.after = *renamed;
          event.before = ViewOfCopy(replaced_version);
          ++stats.renames_over_judged;
        }
      }
      break;
    default:
      break;
  }
  ev.fd.Reset();  // nothing else is read from it
  if (event.op != FileOp::kCloseNoWrite) FollowStoppedTrees(event.actor);
  Publish(Decide(detector->Observe(event)));
  canaries->Forget(event);
  if (hold && event.op == FileOp::kCloseWrite) {
    hold->Closed(event.device, event.inode, event.actor.pid);
  }
}

bool Daemon::Impl::Inside(const std::string& path) const {
  if (path.empty()) return false;
  for (const std::string& root : config.paths) {
    if (sys::PathIsUnder(path, root)) return true;
  }
  return false;
}

void Daemon::Impl::MovedIn(FileEvent& event) {
  // A file moved in from outside is new content we never saw written: a creation followed by a
  // write whose `after` is read now. Reading by path is safe here: this thread holds no permission
  // ticket (held ones go first), and our own open is answered at once by the kernel layer.
  FollowStoppedTrees(event.actor);
  FileEvent created = event;
  created.op = FileOp::kCreate;
  created.path = event.new_path;
  created.new_path.clear();
  created.is_canary = canaries->IsCanary(created);
  Publish(Decide(detector->Observe(created)));
  FileEvent written = created;
  written.op = FileOp::kCloseWrite;
  LetHeldGo(WriteHold::Why::kOwnOpen);
  const int fd = OpenWithoutAtime(AT_FDCWD, created.path.c_str(),
                                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return;  // gone again: the create was scored
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    written.size = static_cast<uint64_t>(st.st_size);
    written.after = View(fd);
    ++stats.moved_in_analysed;
  }
  ::close(fd);
  if (written.after) Publish(Decide(detector->Observe(written)));
}

void Daemon::Impl::HandleOverflow(const sys::SysEvent& ev) {
  ++stats.overflows;
  std::string message = "steen watch: events were lost (" + ev.detail + ")";
  if (config.rescan_lookback.count() > 0) {
    message +=
        fmt::format("; rescanning files changed in the last {} s", config.rescan_lookback.count());
    rescanner->Request(WallNowNs() - config.rescan_lookback.count() * 1'000'000'000ll,
                       "events lost: " + ev.detail);
    ++stats.rescans;
  }
  EmitHealth(HealthAlert("queue-overflow", "high", message));
}

void Daemon::Impl::FollowStoppedTrees(const Actor& changer) {
  if (!incidents) return;
  for (const std::string& id : stopped_trees.Changed(changer, MonotonicNowNs())) {
    JoinIncident(id, {changer});
  }
}

void Daemon::Impl::JoinIncident(const std::string& id, const std::vector<Actor>& changers) {
  if (changers.empty()) return;
  std::vector<vault::ActorRef> actors;
  for (const Actor& changer : changers) {
    Status s = incidents->RecordProcess(
        id, changer, ProcessState::kObserved,
        "changed files below the incident's stopped process tree root (no judged file of its own)");
    if (!s.ok()) ++stats.incident_errors;
    actors.push_back(vault::ToActorRef(changer));
    ++stats.stopped_tree_changers;
  }
  if (vault) {
    Status pinned = vault->Pin(id, actors, 0);
    if (!pinned.ok()) Log("vault: pin " + id + ": " + pinned.message());
  }
}

std::string Daemon::Impl::KilledWith(const ResponseTargets& targets) {
  if (!incidents || targets.processes.empty() || !targets.refused.empty()) return {};
  std::string owner;  // the first target's
  for (const Actor& target : targets.processes) {
    auto killed = incidents->KilledIncidentOf(target.pid, target.start_time);
    if (!killed.ok() || killed->empty()) return {};
    if (owner.empty()) owner = *killed;
  }
  return owner;
}

std::vector<Daemon::Impl::Decided> Daemon::Impl::Decide(std::vector<Alert> alerts) {
  std::vector<Decided> decided;
  if (alerts.empty()) return decided;
  // The operator may have resumed this scope's incident since the last poll (`steen resume`
  // lifts the block at once, and the client's next connection comes within a second): its
  // evidence was the incident's, not a new one's.
  const auto forgotten = PollOperatorDecisions();
  for (Alert& alert : alerts) {
    if (std::find(forgotten.begin(), forgotten.end(),
                  std::make_pair(alert.scope, alert.scope_key)) != forgotten.end()) {
      Log(fmt::format("alert on {} {} dropped: its incident was just resumed by the operator",
                      ToString(alert.scope), alert.scope_key));
      continue;
    }
    ResponseTargets targets =
        detector->Targets(alert.scope, alert.scope_key, config.detect.response);
    // The files a process closes as it dies (an smbd the operator killed with its incident
    // releases what it had open, partly encrypted before the stop) are that incident's: a second
    // incident would block the client again, after the operator's decision.
    if (const std::string owner = KilledWith(targets); !owner.empty()) {
      ++stats.alerts_of_killed;
      Log(
          fmt::format("alert on {} {}: every process it names was killed with incident {}; "
                      "its {} file(s) join that incident",
                      ToString(alert.scope), alert.scope_key, owner, alert.files.size()));
      if (Status added = incidents->AddFiles(owner, alert.files); !added.ok()) {
        ++stats.incident_errors;
      }
      continue;
    }
    ++stats.alerts;
    ResponseOutcome outcome = responder->Respond(alert, targets, MonotonicNowNs());
    alert.action = outcome.action;
    alert.action_detail = outcome.detail;
    if (!outcome.pids.empty()) alert.pids = outcome.pids;
    alert.host = host;
    decided.push_back({std::move(alert), std::move(outcome), targets.tree_root});
  }
  return decided;
}

void Daemon::Impl::Publish(std::vector<Decided> decided) {
  for (Decided& d : decided) {
    // The processes it stopped: their held opens may go (a stopped opener stops at its return
    // from open, before it writes).
    for (const ProcessOutcome& p : d.outcome.processes) {
      if (hold && (p.state == ProcessState::kSuspended || p.state == ProcessState::kKilled)) {
        stopped_writers.emplace_back(p.actor.pid, p.actor.start_time);
      }
    }
    const uint64_t stopped_ns = MonotonicNowNs();
    if (incidents) {
      std::vector<Actor> members;
      for (const ProcessOutcome& p : d.outcome.processes) members.push_back(p.actor);
      auto id = incidents->RecordAlert(d.alert, members);
      if (id.ok()) {
        ++stats.incidents_recorded;
        d.alert.incident_id = *id;
        bool suspended = false, killed = false;
        for (const ProcessOutcome& p : d.outcome.processes) {
          Status s = incidents->RecordProcess(*id, p.actor, p.state, p.reason);
          if (!s.ok()) ++stats.incident_errors;
          suspended |= p.state == ProcessState::kSuspended;
          killed |= p.state == ProcessState::kKilled;
        }
        if (killed || suspended) {
          Status s = incidents->Transition(
              *id, killed ? IncidentState::kKilled : IncidentState::kSuspended, kDaemonActor,
              d.alert.action_detail);
          if (!s.ok()) ++stats.incident_errors;
        }
        RecordBlocks(*id, d.outcome);
        // Stopped smbd sessions share Samba's databases with every other client: each is settled
        // at its event loop's wait (after the incident's rows exist, for a note on them).
        if (safe_stops) {
          for (const ProcessOutcome& p : d.outcome.processes) {
            if (p.state == ProcessState::kSuspended &&
                sys::IsSmbdProcess(p.actor.comm, p.actor.exe)) {
              safe_stops->Add(p.actor, *id, stopped_ns);
            }
          }
        }
        if (vault) {
          // Everything these processes changed stays in the vault until the incident is closed.
          std::vector<vault::ActorRef> actors;
          for (const ProcessOutcome& p : d.outcome.processes) {
            actors.push_back(vault::ToActorRef(p.actor));
          }
          if (!actors.empty()) {
            Status pinned = vault->Pin(*id, actors, 0);
            if (!pinned.ok()) Log("vault: pin " + *id + ": " + pinned.message());
            // The incident's rows now, for an operator's `steen rollback` that may follow at once.
            CommitVault(/*reopen=*/true);
          }
        }
        if (d.tree_root > 0) {
          auto root = std::find_if(
              d.outcome.processes.begin(), d.outcome.processes.end(), [&](const ProcessOutcome& p) {
                return p.actor.pid == d.tree_root &&
                       (p.state == ProcessState::kSuspended || p.state == ProcessState::kKilled);
              });
          if (root != d.outcome.processes.end()) {
            JoinIncident(*id, stopped_trees.Stopped(*id, root->actor, members, MonotonicNowNs()));
          }
        }
        responder->Track(d.outcome, *id, MonotonicNowNs());
      } else {
        ++stats.incident_errors;
        Log("incident not recorded: " + id.status().message());
      }
    }
    if (!fanout->Emit(d.alert)) ++stats.alerts_dropped;
  }
}

Alert Daemon::Impl::HealthAlert(const std::string& rule, const std::string& severity,
                                const std::string& message) {
  Alert alert;
  alert.wall_time_ns = WallNowNs();
  alert.id = fmt::format("steen-{}-h{}", alert.wall_time_ns, ++own_alert_counter);
  alert.rule_name = rule;
  alert.severity = severity;
  alert.actor.pid = ::getpid();
  alert.actor.comm = "steen";
  alert.host = host;
  alert.message = message;
  return alert;
}

void Daemon::Impl::EmitHealth(Alert alert) {
  ++stats.health_alerts;
  Log(alert.message);
  if (!fanout->Emit(alert)) ++stats.alerts_dropped;
}

void Daemon::Impl::Periodic() {
  const uint64_t now = MonotonicNowNs();
  if (watchdog) watchdog->Beat();
  notifier.Heartbeat(now);
  if (reopen_requested.exchange(false)) {
    fanout->Reopen();
    Log("outputs reopened");
  }
  if (now >= next_incident_poll_ns) {
    next_incident_poll_ns = now + limits::kIncidentPollMs * 1'000'000ull;
    PollOperatorDecisions();
  }
  KillAfterGrace(now);
  if (blocker && incidents && now >= next_block_reconcile_ns) {
    next_block_reconcile_ns = now + limits::kBlockReconcileMs * 1'000'000ull;
    ReconcileBlocks();
  }
  HandleRescanResults();
  // Without events the detector's clock stands still: expire idle scopes from here.
  if (now - last_event_ns > 1'000'000'000ull) detector->ExpireIdle(now);
  if (config.canaries.enabled && now >= next_canary_check_ns) {
    next_canary_check_ns = now + limits::kCanaryCheckMs * 1'000'000ull;
    // Safe: this thread holds no permission ticket (held ones go first), and our own opens are
    // answered at once.
    LetHeldGo(WriteHold::Why::kOwnOpen);
    stats.canaries_restored += static_cast<uint64_t>(canaries->Restore());
  }
  if (vault && now >= next_vault_maintain_ns) {
    next_vault_maintain_ns = now + limits::kVaultMaintainMs * 1'000'000ull;
    auto evicted = vault->Maintain();
    if (!evicted.ok()) Log("vault maintenance: " + evicted.status().message());
  }
  if (now >= next_status_ns) {
    next_status_ns = now + 5'000'000'000ull;
    notifier.Status(fmt::format("{} events, {} alerts, {} analysed, {} overflows", stats.events,
                                stats.alerts, stats.analyses, stats.overflows));
  }
}

std::vector<std::pair<ActorScope, std::string>> Daemon::Impl::PollOperatorDecisions() {
  std::vector<std::pair<ActorScope, std::string>> forgotten;
  if (!incidents) return forgotten;
  auto changes = incidents->ChangesSince(last_change_seq);
  if (!changes.ok()) {
    ++stats.incident_errors;
    return forgotten;
  }
  std::vector<std::string> decided_ids;
  for (const IncidentAction& change : *changes) {
    last_change_seq = std::max(last_change_seq, change.seq);
    if (change.who == kDaemonActor) continue;
    if (std::find(decided_ids.begin(), decided_ids.end(), change.incident_id) ==
        decided_ids.end()) {
      decided_ids.push_back(change.incident_id);
    }
  }
  for (const std::string& id : decided_ids) {
    auto incident = incidents->Get(id);
    if (!incident.ok()) continue;
    ++stats.operator_decisions;
    if (incident->state != IncidentState::kSuspended &&
        incident->state != IncidentState::kAlerted) {
      responder->CancelKills(id);
    }
    if (incident->state == IncidentState::kResumed || incident->state == IncidentState::kClosed) {
      stopped_trees.Forget(id);
    }
    for (const IncidentProcess& p : incident->processes) {
      if (incident->state == IncidentState::kResumed || p.state == ProcessState::kResumed) {
        // A false positive by the operator's word: never stop these again, start their score
        // afresh.
        responder->Spare(p.actor.pid, p.actor.start_time);
        detector->Forget(ActorScope::kProcess, std::to_string(p.actor.pid));
        forgotten.emplace_back(ActorScope::kProcess, std::to_string(p.actor.pid));
      }
    }
    if (incident->state == IncidentState::kClosed && vault) {
      Status released = vault->Release(id);
      if (!released.ok()) Log("vault: release " + id + ": " + released.message());
    }
    if (incident->state == IncidentState::kResumed) {
      detector->Forget(incident->scope, incident->scope_key);
      forgotten.emplace_back(incident->scope, incident->scope_key);
      Log(fmt::format("incident {} resumed by the operator: its processes are spared", id));
    }
    // `steen resume` lifts the blocks itself; whatever it could not lift is tried again here.
    if (release_blockers && incident->state == IncidentState::kResumed) {
      for (const auto& release :
           ReleaseBlocks(*incidents, *incident, release_blockers, kDaemonActor)) {
        Log(!release.kept_for.empty()
                ? fmt::format("incident {}: SMB client {} still refused for incident {}", id,
                              release.address, release.kept_for)
            : release.message.empty()
                ? fmt::format("incident {}: SMB client {} let in again", id, release.address)
                : fmt::format("incident {}: SMB client {} still refused: {}", id, release.address,
                              release.message));
      }
    }
  }
  return forgotten;
}

void Daemon::Impl::SetUpBlocker() {
  // Lifting blocks after `steen resume` works whatever this run's settings: a block may come
  // from an earlier run.
  release_blockers =
      [this, others = NftBlockers()](const std::string& table) -> StatusOr<sys::ClientBlocker*> {
    if (blocker && table == config.smb.nft_table) return blocker.get();
    return others(table);
  };
  if (!config.smb.block_reconnect || config.dry_run || config.action == Action::kAlert) return;
  const std::string what = fmt::format("nftables table inet {}, tcp {}", config.smb.nft_table,
                                       sys::FormatPorts(config.smb.ports));
  sys::NftClientBlockerOptions options;
  options.table = config.smb.nft_table;
  auto made = sys::NftClientBlocker::Create(options);
  Status ready = made.ok() ? (*made)->Prepare() : made.status();
  if (made.ok()) {
    nft_blocker = made->get();
    blocker = std::move(*made);
  } else {
    // Every block then fails with this reason, and each alert says so.
    blocker = std::make_unique<sys::UnavailableClientBlocker>(
        made.status(), "nftables table inet " + config.smb.nft_table);
  }
  if (ready.ok()) {
    Log("smb: contained clients are refused in " + what);
    return;
  }
  EmitHealth(HealthAlert(
      "smb-block-unavailable", "medium",
      fmt::format("steen watch: contained SMB clients cannot be refused ({}): {}; their sessions "
                  "are still suspended and alerts still go out",
                  what, ready.message())));
}

void Daemon::Impl::RecordBlocks(const std::string& id, const ResponseOutcome& outcome) {
  std::optional<Incident> known;  // read only when a renewal failed
  for (const ClientOutcome& client : outcome.clients) {
    if (!client.block) continue;
    IncidentBlock block;
    block.address = client.address;
    block.ports = client.ports;
    block.state = *client.block;
    block.nft_table = config.smb.nft_table;
    block.since_ns = WallNowNs();
    if (block.state != BlockState::kFailed) {
      block.until_ns = block.since_ns + client.duration.count() * 1'000'000'000ll;
    } else {
      block.reason = client.error;
      Log(fmt::format("incident {}: SMB client {} not refused: {}", id, client.address,
                      client.error));
      if (!known) {
        auto incident = incidents->Get(id);
        known = incident.ok() ? std::move(*incident) : Incident{};
      }
      // A failed renewal leaves the earlier block in force: keep saying so.
      for (const IncidentBlock& earlier : known->blocks) {
        if (earlier.address == block.address && earlier.state == BlockState::kBlocked &&
            earlier.until_ns > block.since_ns) {
          block.state = BlockState::kBlocked;
          block.since_ns = earlier.since_ns;
          block.until_ns = earlier.until_ns;
          block.reason = "renewal failed: " + client.error;
        }
      }
    }
    if (!incidents->RecordBlock(id, block).ok()) ++stats.incident_errors;
  }
}

void Daemon::Impl::ReconcileBlocks() {
  const int64_t now = WallNowNs();
  auto active = incidents->ActiveBlocks(now);
  if (!active.ok() || active->empty()) return;
  auto present = blocker->List();
  if (!present.ok()) return;  // the next block attempt reports the problem
  for (const auto& [id, block] : *active) {
    if (block.nft_table != config.smb.nft_table) continue;
    bool held = false;
    for (const sys::BlockedClient& client : *present) {
      held |=
          client.address == block.address &&
          std::all_of(block.ports.begin(), block.ports.end(), [&](uint16_t port) {
            return std::find(client.ports.begin(), client.ports.end(), port) != client.ports.end();
          });
    }
    if (held) continue;
    // A reboot or a reloaded firewall (`flush ruleset`) dropped it; the incident still says so.
    const int64_t left = (block.until_ns - now + 999'999'999) / 1'000'000'000;
    Status put = blocker->Block(block.address, block.ports, std::chrono::seconds(left));
    Log(put.ok() ? fmt::format("incident {}: block of SMB client {} was missing from the firewall "
                               "(reboot or reloaded rules?): put back for {} s",
                               id, block.address, left)
                 : fmt::format("incident {}: block of SMB client {} is missing from the firewall "
                               "and cannot be put back: {}",
                               id, block.address, put.message()));
  }
}

void Daemon::Impl::KillAfterGrace(uint64_t now_ns) {
  for (Responder::DueKill& due : responder->TakeDueKills(now_ns)) {
    Status status = responder->Kill(due.actor);
    ++stats.kills_after_grace;
    if (!incidents) continue;
    if (status.ok()) {
      (void)incidents->SetProcessState(due.incident_id, due.actor.pid, due.actor.start_time,
                                       ProcessState::kKilled, "kill_after grace ended");
      (void)incidents->Transition(due.incident_id, IncidentState::kKilled, kDaemonActor,
                                  fmt::format("SIGKILL sent to {} after {} s suspended",
                                              due.actor.pid, config.kill_after.count()));
    } else {
      (void)incidents->SetProcessState(
          due.incident_id, due.actor.pid, due.actor.start_time,
          status.code() == Status::Code::kNotFound ? ProcessState::kGone : ProcessState::kSuspended,
          "kill after grace failed: " + status.message());
    }
  }
}

void Daemon::Impl::HandleRescanResults() {
  while (std::optional<RescanResult> result = rescanner->TakeResult()) {
    stats.rescan_damaged += result->damaged;
    Log(fmt::format("rescan ({}): {} files examined, {} damaged, {} errors{}", result->reason,
                    result->files_examined, result->damaged, result->errors,
                    result->truncated ? " (stopped at a limit)" : ""));
    if (result->damaged == 0) continue;
    Alert alert = HealthAlert(
        "rescan-damage", "high",
        fmt::format("steen watch: rescan after {} found {} damaged files changed recently",
                    result->reason, result->damaged));
    alert.files = result->damaged_paths;
    alert.file_count = static_cast<int64_t>(result->damaged);
    alert.actor = Actor{};  // nobody known: the events that would say who were lost
    alert.indicators.push_back(
        {"damaged_files", static_cast<int64_t>(result->damaged),
         fmt::format("{} files changed since the lost events are damaged", result->damaged)});
    std::vector<Decided> decided;
    decided.push_back({std::move(alert), ResponseOutcome{}});
    ++stats.health_alerts;
    Publish(std::move(decided));
  }
}

// ---- Daemon ----

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() { Stop(); }

StatusOr<std::unique_ptr<Daemon>> Daemon::Start(WatchConfig config, DaemonDeps deps) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->deps = std::move(deps);
  impl->log = impl->deps.log ? impl->deps.log : [](const std::string& line) {
    std::fprintf(stderr, "steen watch: %s\n", line.c_str());
  };
  Status status = impl->Init();
  if (!status.ok()) {
    if (impl->source) impl->source->Stop();
    if (impl->fanout) impl->fanout->Stop();
    return status;
  }
  return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Status Daemon::Run() {
  while (!impl_->stop_requested.load()) {
    Poll(std::chrono::milliseconds(limits::kDaemonPollMs));
  }
  Stop();
  return Status::Ok();
}

void Daemon::CheckOperatorDecisions() { impl_->PollOperatorDecisions(); }

void Daemon::RequestStop() { impl_->stop_requested = true; }
void Daemon::RequestReopen() { impl_->reopen_requested = true; }

int Daemon::Poll(std::chrono::milliseconds timeout, int max_events) {
  Impl& d = *impl_;
  if (d.stopped) return 0;
  int handled = 0;
  // Not past the moment a held open's budget runs out, nor a smbd stop's next step.
  const uint64_t now = MonotonicNowNs();
  auto not_past = [&](std::optional<uint64_t> due) {
    if (!due) return;
    timeout =
        std::min(timeout, std::chrono::milliseconds(*due > now ? (*due - now) / 1'000'000 + 1 : 0));
  };
  if (d.hold) not_past(d.hold->NextDeadline());
  if (d.safe_stops) not_past(d.safe_stops->NextDeadline());
  if (d.vault) timeout = std::min(timeout, d.CatalogBatchLeft());
  while (handled < max_events) {
    std::optional<sys::SysEvent> ev =
        d.events->Next(handled == 0 ? timeout : std::chrono::milliseconds(0));
    if (!ev) break;
    if (handled == 0 && d.vault) d.vault->BeginBatch();
    ++handled;
    try {
      d.Handle(*ev);
      d.ReleaseHeld();
    } catch (const std::exception& e) {
      // The event is dropped (its ticket allows in its destructor); the daemon goes on.
      ++d.stats.handler_errors;
      d.Log(std::string("event handling failed: ") + e.what());
    }
  }
  d.AdvanceSafeStops();
  d.ReleaseHeld();  // budgets that ran out while no event came
  // The copies' hashes (each moves a copy to its content address), on no writer's time and after
  // the batch's close-writes were judged: hashing a copy as its open was answered delayed the
  // judgement of files already written, and so the alert (docs/design/watch.md).
  if (d.vault) d.vault->FinishPending();
  d.Periodic();
  // Also the rows the permission reader's links added. While events keep coming, the batch
  // grows until it is kCatalogBatchMs old: a commit per poll was one per file under rsync.
  // A `steen rollback` waiting for the catalog gets its turn now, not after seconds of batches.
  const bool writer_waits = d.vault && d.vault->OtherWriterWaits();
  if (handled == 0 || writer_waits || d.CatalogBatchLeft().count() == 0) {
    d.CommitVault(/*reopen=*/false);
  }
  if (writer_waits) d.vault->LetWaitingWriterIn(std::chrono::milliseconds(limits::kCatalogYieldMs));
  return handled;
}

void Daemon::Stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.notifier.Stopping();
  d.watchdog.reset();
  if (d.safe_stops) {
    d.safe_stops->Abandon();  // none is left running between two steps
    const SafeStopStats& s = d.safe_stops->stats();
    if (s.at_once + s.after_steps + s.left + s.gone + s.released + s.unknown + s.dropped > 0) {
      d.Log(fmt::format(
          "smbd stops: {} at the event loop's wait at once, {} after {} steps, {} left elsewhere, "
          "{} gone, {} resumed meanwhile, {} not inspectable, {} not settled (too many)",
          s.at_once, s.after_steps, s.steps, s.left, s.gone, s.released, s.unknown, s.dropped));
    }
  }
  d.LetHeldGo(WriteHold::Why::kStop);
  if (d.events) d.events->Clear();
  if (d.source) d.source->Stop();  // allows every outstanding permission event
  if (d.vault) d.vault->FinishPending();
  d.CommitVault(/*reopen=*/false);  // the open batch, the permission reader's last links too
  d.rescanner.reset();
  if (d.canaries) d.canaries->Remove();
  if (d.nft_blocker) {
    if (Status removed = d.nft_blocker->RemoveIfUnused(); !removed.ok()) {
      d.Log("smb: " + removed.message());
    }
  }
  if (d.fanout) {
    d.fanout->Flush(outputs::kDefaultFanoutDrainTimeoutMs);
    d.fanout->Stop();
  }
  if (!d.running_marker.empty()) ::unlink(d.running_marker.c_str());
}

const DaemonStats& Daemon::stats() const { return impl_->stats; }
WriteHoldStats Daemon::hold_stats() const {
  return impl_->hold ? impl_->hold->stats() : WriteHoldStats{};
}
const Detector& Daemon::detector() const { return *impl_->detector; }
std::vector<std::string> Daemon::canary_paths() const { return impl_->canaries->paths(); }
outputs::FanoutStats Daemon::output_stats() const { return impl_->fanout->Stats(); }
sys::SourceStats Daemon::source_stats() const { return impl_->source->Stats(); }
sys::AttributionStats Daemon::attribution_stats() const {
  return impl_->attributor ? impl_->attributor->Stats() : sys::AttributionStats{};
}
sys::ProcessHistoryStats Daemon::process_history_stats() const {
  return impl_->process_history ? impl_->process_history->Stats() : sys::ProcessHistoryStats{};
}
IncidentStore* Daemon::incidents() { return impl_->incidents.get(); }
vault::Vault* Daemon::vault() { return impl_->vault.get(); }

bool Daemon::WaitRescan(std::chrono::milliseconds timeout) {
  const uint64_t end = MonotonicNowNs() + static_cast<uint64_t>(timeout.count()) * 1'000'000ull;
  while (MonotonicNowNs() < end) {
    if (impl_->rescanner && !impl_->rescanner->busy()) {
      impl_->HandleRescanResults();
      return true;
    }
    ::usleep(10000);
  }
  return false;
}

}  // namespace steen::watch
