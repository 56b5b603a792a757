// Incidents: what `steen watch` did about an alert, kept in an embedded SQLite database
// (STATE_DIR/incidents.db) so the operator can decide later (`steen incidents`, `steen resume`,
// `steen kill`) and rollback (issue 5) can find the processes and time window of an attack.
//
// One incident per alerting scope while it is open: the first alert of a scope (process tree, SMB
// client, user, ...) creates an incident; escalations of the same scope (same ActorScope and
// scope_key) while the incident is `alerted` or `suspended` are added to it. Once the operator has
// decided (resumed, killed, closed), a new alert of that scope opens a new incident.
//
// The daemon and the CLI use the database at the same time from separate processes: WAL mode, a
// busy timeout, and every write in one BEGIN IMMEDIATE transaction. Every write also appends a row
// to the history (actions) table whose sequence number is a monotonic change counter: the daemon
// polls ChangesSince(last_seen) to learn about operator decisions (e.g. a resumed incident means
// "stop acting on these processes").
//
// Ids are human-friendly: "INC-YYYY-MM-DD-NNNN", the UTC day the incident was created and its
// number within that day (0001, 0002, ...; more than 9999 a day simply widens the number).
//
// Thread safety: one IncidentStore may be shared by threads of one process (calls are serialised
// by an internal mutex); separate processes each open their own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "steen/alert.h"
#include "steen/event.h"
#include "steen/status.h"

struct sqlite3;

namespace steen::watch {

// Lifecycle of an incident.
//   alerted    an alert was recorded but no process is stopped (dry run, alert-only rule, or
//   nothing
//              could be suspended)
//   suspended  at least one process of the incident is stopped (SIGSTOP) awaiting a decision
//   killed     the incident's processes were killed (by the daemon after the grace period, or the
//              operator with `steen kill`)
//   resumed    the operator let the processes continue (`steen resume`): a false positive, the
//              daemon must not act on these processes again for this incident
//   closed     nothing more to do (terminal)
enum class IncidentState { kAlerted, kSuspended, kKilled, kResumed, kClosed };
std::string_view ToString(IncidentState state);
std::optional<IncidentState> ParseIncidentState(std::string_view text);
// Whether a new alert of the same scope is merged into the incident (alerted or suspended).
bool IsOpen(IncidentState state);

// What happened to one process of an incident.
//   observed   recorded (the alert's actor, or a contributor) but not signalled (dry run, or not
//              yet acted upon)
//   suspended  SIGSTOP delivered          killed   SIGKILL delivered
//   resumed    SIGCONT delivered          gone     exited (or its pid now belongs to another
//                                                  process) before it could be signalled
//   refused    deliberately not signalled (init, sshd, steen itself, allow list); reason says why
enum class ProcessState { kObserved, kSuspended, kKilled, kResumed, kGone, kRefused };
std::string_view ToString(ProcessState state);
std::optional<ProcessState> ParseProcessState(std::string_view text);

struct IncidentProcess {
  // Identity is (pid, start_time): a pid reused by another process is a different row. Carries
  // pid, start_time, exe, exe_sha256, comm, uid, user, cgroup and the SMB fields.
  Actor actor;
  // The process's start as wall time (boot time + start_time ticks): rollback may treat changes
  // before it as not this process's doing. 0 when unknown.
  int64_t start_wall_ns = 0;
  ProcessState state = ProcessState::kObserved;
  std::string reason;  // why the state (error of a failed signal, refusal reason, ...)
  int64_t first_seen_ns = 0;
  int64_t updated_ns = 0;
};

// A client address refused at the firewall for an incident (containment per SMB client).
//   blocked   installed; the kernel lifts it at until_ns by itself
//   failed    could not be installed (reason says why); containment was by signals only
//   dry-run   what would have been installed (dry run, or response.action alert)
//   released  lifted by `steen resume` (or the daemon acting on it) before its time
enum class BlockState { kBlocked, kFailed, kDryRun, kReleased };
std::string_view ToString(BlockState state);
std::optional<BlockState> ParseBlockState(std::string_view text);

struct IncidentBlock {
  std::string address;          // canonical text ("198.18.0.2", "2001:db8::1")
  std::vector<uint16_t> ports;  // TCP ports refused
  BlockState state = BlockState::kBlocked;
  // Where it lives, so that any steen process (the CLI) releases it in the right place: the
  // nftables table (family inet).
  std::string nft_table;
  int64_t since_ns = 0;  // wall time it was installed (or tried)
  int64_t until_ns = 0;  // wall time the kernel lifts it (0 when not installed)
  std::string reason;    // error of a failed block or release
  int64_t updated_ns = 0;
};

struct IncidentFile {
  std::string path;
  int64_t first_seen_ns = 0;  // wall time of the alert (or AddFiles call) that first listed it
};

// One row of the history: every change to an incident, in order. `seq` is the store-wide change
// counter (strictly increasing over all incidents; never reused).
struct IncidentAction {
  int64_t seq = 0;
  std::string incident_id;
  int64_t time_ns = 0;  // wall time
  std::string who;      // "daemon" or "operator uid N" (see OperatorActor)
  std::string what;     // "created", "alert", "process", "files", "state"
  std::string detail;   // a sentence for a person, e.g. "suspended -> resumed", "pid 4242 gone"
  std::string result;   // "ok" or the error
};

// One alert behind an incident, with the alert exactly as the outputs sent it (ECS JSON).
struct IncidentAlert {
  std::string alert_id;
  int64_t time_ns = 0;
  std::string rule_name;
  std::string severity;
  double score = 0.0;
  std::string json;  // outputs::FormatEcsJson(alert)
};

struct Incident {
  std::string id;  // "INC-2026-12-02-0001"
  int64_t created_ns = 0;
  int64_t updated_ns = 0;
  IncidentState state = IncidentState::kAlerted;
  // Latest (escalated) alert's values.
  std::string rule_name;
  std::string severity;
  double score = 0.0;
  ActorScope scope = ActorScope::kProcess;
  std::string scope_key;
  std::string host;
  std::string message;
  std::vector<Indicator> indicators;  // latest alert's indicators
  // Time window for rollback: from the earliest known start of the activity (earliest process
  // start, else first alert) to the latest evidence or containment (last alert, file, suspend or
  // kill). While the incident is alerted/resumed, activity may continue past window_end_ns.
  int64_t window_start_ns = 0;
  int64_t window_end_ns = 0;
  std::vector<IncidentProcess> processes;  // in order of recording
  std::vector<IncidentFile> files;         // first limits::kMaxIncidentFiles distinct paths
  int64_t file_count = 0;             // all affected files (>= files.size(); the detector's count)
  std::vector<IncidentBlock> blocks;  // client addresses refused, one row per address
  // Filled by Get(); List() leaves them empty (and sets the counts) to stay cheap.
  std::vector<IncidentAlert> alerts;
  std::vector<IncidentAction> history;
  int64_t alert_count = 0;
};

struct IncidentFilter {
  std::optional<IncidentState> state;  // only this state
  int64_t since_ns = 0;                // only incidents updated at or after (wall ns); 0 = all
  std::size_t limit = 0;               // newest first; 0 = limits::kMaxIncidentsListed
  bool with_history = false;           // also load each incident's history (for JSON output)
};

struct IncidentStoreOptions {
  // false: a missing database is NotFound (the CLI must not create an empty one as a side effect).
  bool create = true;
  // Wall clock in ns; null = CLOCK_REALTIME. Tests set a fixed clock.
  int64_t (*now_ns)() = nullptr;
  // Boot time (wall ns) to turn Actor::start_time ticks into wall time; 0 = read /proc/stat btime.
  int64_t boot_time_ns = 0;
};

// "operator uid N": the `who` of operator decisions in the history.
std::string OperatorActor(uid_t uid);
inline constexpr std::string_view kDaemonActor = "daemon";
// The database file inside a state directory: STATE_DIR/incidents.db.
std::string IncidentDbPath(std::string_view state_dir);

class IncidentStore {
 public:
  // Opens (creating when options.create) the database at `path`: missing parent directory created
  // 0700, database file 0600. Errors: NotFound (missing and !create), PermissionDenied,
  // Corruption (not a SQLite database, or not steen's), Unsupported (written by a newer steen: the
  // schema version is higher than this build knows).
  static StatusOr<std::unique_ptr<IncidentStore>> Open(const std::string& path,
                                                       IncidentStoreOptions options = {});
  ~IncidentStore();
  IncidentStore(const IncidentStore&) = delete;
  IncidentStore& operator=(const IncidentStore&) = delete;

  // Records an alert: adds to the incident the alert names, else to the open (alerted/suspended)
  // incident of the same scope + scope_key, else to the open incident that lists alert.actor or
  // one of `members` (pid + start time; e.g. the processes the alert contained) — alerts of two
  // scopes about the same processes are one attack —, else creates an incident. Stores the alert
  // JSON, the latest rule/severity/score/indicators/ message, the files (capped; file_count = the
  // largest count seen), and alert.actor as a process (state observed, when it has a pid) unless
  // already recorded. Returns the incident id (also to be put into Alert::incident_id before the
  // alert goes to the outputs).
  StatusOr<std::string> RecordAlert(const Alert& alert, const std::vector<Actor>& members = {});

  // Adds or updates a process of an incident, keyed by (actor.pid, actor.start_time): fields of a
  // later Actor that are non-empty replace the stored ones (e.g. exe_sha256 arriving late). The
  // state is set and recorded in the history when it changes. `who` is kDaemonActor or
  // OperatorActor(uid).
  Status RecordProcess(const std::string& id, const Actor& actor, ProcessState state,
                       const std::string& reason, std::string_view who = kDaemonActor);
  // Changes the state of an already recorded process. NotFound if the incident or process is not
  // recorded.
  Status SetProcessState(const std::string& id, pid_t pid, uint64_t start_time, ProcessState state,
                         const std::string& reason, std::string_view who = kDaemonActor);

  // Records the block of a client address (one row per incident and address: a later call
  // replaces it, e.g. a renewal or a release), with a history row. `who` as for RecordProcess.
  Status RecordBlock(const std::string& id, const IncidentBlock& block,
                     std::string_view who = kDaemonActor);
  // Blocks in state `blocked` whose time is not up at now_ns, of incidents not resumed, with
  // their incident ids: what the firewall should hold (a reboot or a reloaded firewall loses
  // them; the daemon puts them back).
  StatusOr<std::vector<std::pair<std::string, IncidentBlock>>> ActiveBlocks(int64_t now_ns);

  // Adds affected files seen after the alert (capped; file_count grows by the new distinct ones).
  Status AddFiles(const std::string& id, const std::vector<std::string>& paths);

  // Changes the incident state. Allowed: any non-closed state to suspended, killed, resumed or
  // closed, except that killed only goes to closed; closed is terminal; nothing returns to alerted.
  // Setting the current state again is accepted and recorded. InvalidArgument for other moves,
  // NotFound for an unknown id.
  Status Transition(const std::string& id, IncidentState new_state, std::string_view who,
                    const std::string& detail);

  // The newest incident in state killed that lists the process (pid + start time) as killed; ""
  // when there is none.
  StatusOr<std::string> KilledIncidentOf(pid_t pid, uint64_t start_time);

  // Incidents newest first (without alerts and history).
  StatusOr<std::vector<Incident>> List(const IncidentFilter& filter = {});
  // One incident in full. NotFound (message says how to list ids) for an unknown id.
  StatusOr<Incident> Get(const std::string& id);

  // History rows with seq > `after_seq`, oldest first, at most `limit`
  // (0 = limits::kMaxIncidentChangesPerPoll). Cheap: one indexed query. Poll with the last seq seen
  // (start from LatestChange() to skip the past).
  StatusOr<std::vector<IncidentAction>> ChangesSince(int64_t after_seq, std::size_t limit = 0);
  // The highest seq so far (0 for an empty store).
  StatusOr<int64_t> LatestChange();

  const std::string& path() const { return path_; }
  // The store's clock (wall time; a fixed one in tests).
  int64_t NowNs() const { return options_.now_ns(); }

 private:
  struct Statements;
  IncidentStore(std::string path, IncidentStoreOptions options);
  Status Init();
  // Helpers: called with mu_ held; the *Locked ones inside InTransaction.
  Status InTransaction(const std::function<Status()>& body);
  Status DbError(std::string_view what) const;
  Status ReadError(std::string_view what) const;
  Status UnknownIncident(const std::string& id) const;
  int64_t StartWallNs(uint64_t start_time_ticks) const;
  Status RequireIncidentLocked(const std::string& id);
  Status AddActionLocked(const std::string& id, int64_t now, std::string_view who,
                         std::string_view what, std::string_view detail, std::string_view result);
  Status AddFilesLocked(const std::string& id, const std::vector<std::string>& paths,
                        int64_t time_ns, int64_t reported_count);
  Status UpsertProcessLocked(const std::string& id, const Actor& actor,
                             std::optional<ProcessState> state, const std::string& reason,
                             std::string_view who, int64_t now, bool cap_is_error);
  Status LoadDetailsLocked(Incident& incident, bool alerts, bool history);

  std::string path_;
  IncidentStoreOptions options_;
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> stmts_;
};

}  // namespace steen::watch
