// Operator decisions on incidents (`steen resume`, `steen kill`) and their presentation
// (`steen incidents`). The CLI only parses; everything here is testable with a fake
// ProcessControl.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "steen/status.h"
#include "sys/client_blocker.h"
#include "sys/process_control.h"
#include "watch/incident_store.h"

namespace steen::watch {

struct DecisionOutcome {
  struct Line {
    pid_t pid = 0;
    std::string name;     // exe or comm
    ProcessState state;   // the process's state after the decision
    std::string message;  // error or note; empty when signalled
  };
  // A client address whose block was lifted (or could not be).
  struct Release {
    std::string address;
    BlockState state;     // kReleased, or unchanged when it could not be lifted
    std::string message;  // error; empty when lifted
    // Another open incident's block of the same address, left in force (that incident's id).
    std::string kept_for;
  };
  std::string id;
  std::vector<Line> processes;
  std::vector<Release> releases;
  int failures = 0;  // processes that exist but could not be signalled, blocks not lifted
  // false: the incident was killed or closed already; resume only lifted its blocks.
  bool state_changed = true;
};

// The ClientBlocker holding the blocks of an nftables table (each block records its table).
using BlockerFor = std::function<StatusOr<sys::ClientBlocker*>(const std::string& nft_table)>;
// The real one: an NftClientBlocker per table, made on first use and kept by the function.
BlockerFor NftBlockers();

// Lifts every block of `incident` that may be in force (blocked, or failed: a failed renewal
// leaves the earlier block in place) and records it released, or why not. `who` as for
// IncidentStore::RecordBlock.
std::vector<DecisionOutcome::Release> ReleaseBlocks(IncidentStore& store, const Incident& incident,
                                                    const BlockerFor& blockers,
                                                    std::string_view who);

// Resume: the incident becomes `resumed` FIRST (so the daemon stops acting on it), its client
// addresses are let in again (blocks lifted through `blockers`; null: NftBlockers()), then every
// suspended process gets SIGCONT (pid + start time checked). A process that exited is recorded
// `gone`, not a failure. A killed (or closed) incident keeps its state, but its blocks are lifted
// (its sessions are gone; the client may come back). Errors: NotFound (unknown id),
// InvalidArgument (state forbids resume and there is no block to lift).
StatusOr<DecisionOutcome> ResumeIncident(IncidentStore& store, const std::string& id,
                                         sys::ProcessControl& control, uid_t operator_uid,
                                         const BlockerFor& blockers = nullptr);
// Kill: the incident becomes `killed`, then every recorded process not refused, gone or killed
// gets SIGKILL (suspended ones too). Blocks stay: the client is refused until its time is up or
// `steen resume` lifts it.
StatusOr<DecisionOutcome> KillIncident(IncidentStore& store, const std::string& id,
                                       sys::ProcessControl& control, uid_t operator_uid);

// Where the rollback of `incident` starts (wall ns): what its processes or SMB clients did before
// is not its doing when an earlier incident caught the same process (pid + start time) or client
// address: that incident owns their changes up to its last recorded step (alert, containment,
// decision) before `incident` was created. A client caught twice would otherwise see the second
// rollback replay the first attack, and an inode reused since tie the second attack's files to
// the first's copies. 0 (all of their changes) when no earlier incident shares one. `others` are
// read with their history (IncidentFilter::with_history); `incident` itself may be among them.
int64_t RollbackStartNs(const Incident& incident, const std::vector<Incident>& others);

// One JSON object on one line: id, time (RFC 3339 UTC), updated, state, rule, severity, score,
// scope, scope_key, host, message, process (the first recorded process, or null), processes,
// files {count, listed}, window {start, end}, blocks [{address, ports, state, table, since, until,
// reason, detail}], indicators, actions (history), alert_count. A block whose time is up at
// `now_ns` (0: the wall clock) shows as "expired". `full` adds the stored alerts (ECS JSON).
std::string IncidentToJson(const Incident& incident, bool full, int64_t now_ns = 0);
// Aligned table: ID, TIME (local ISO-8601), STATE, SCORE, PROCESS, FILES, RULE.
std::string FormatIncidentTable(const std::vector<Incident>& incidents);

}  // namespace steen::watch
