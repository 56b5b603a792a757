// Containment: turns an alert into signals. For each target the detector proposes
// (Detector::Targets), the responder re-checks the policy (MaySuspend), skips processes the
// operator already resumed, and then suspends (SIGSTOP) or kills (SIGKILL) through ProcessControl,
// which pins the pid and checks its start time (never a reused pid). With kill_after, suspended
// processes are killed when the grace ends unless the operator decided first. Dry run and the
// alert-only action decide exactly the same way and signal nothing.
//
// Containment per SMB client (config smb.*): when a target is an smbd serving a client, the
// client is what is contained. Every smbd serving that client's address is suspended too (found
// through the SmbSessionTable; never another client's, never the main smbd), and the address is
// refused at the firewall (ClientBlocker) for smb.block_seconds. A block that cannot be installed
// changes nothing else: the processes are still stopped, the alert goes out and says why.
// See docs/design/smb.md.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "steen/alert.h"
#include "steen/detect.h"
#include "sys/client_blocker.h"
#include "sys/proc.h"
#include "sys/process_control.h"
#include "sys/smb_sessions.h"
#include "watch/config.h"
#include "watch/incident_store.h"

namespace steen::watch {

struct ResponderOptions {
  Action action = Action::kSuspend;
  std::chrono::seconds kill_after{0};
  bool dry_run = false;
  ResponsePolicy policy;
  SmbConfig smb;  // containment per SMB client (nft_table is the daemon's business)
};

// What happened to one process.
struct ProcessOutcome {
  Actor actor;
  ProcessState state = ProcessState::kObserved;
  std::string reason;
};

// What happened to one SMB client (an address) behind the targets.
struct ClientOutcome {
  std::string address;
  std::vector<std::string> users;  // users of its sessions (several: a shared address, e.g. NAT)
  std::vector<pid_t> sessions;     // its smbd processes signalled (or that would be)
  // The firewall block: none when smb.block_reconnect is off; kDryRun when it would have been
  // installed; kFailed with `error` when it could not be.
  std::optional<BlockState> block;
  std::vector<uint16_t> ports;
  std::chrono::seconds duration{0};
  std::string error;
};

struct ResponseOutcome {
  ResponseAction action = ResponseAction::kNone;
  std::string detail;       // e.g. "SIGSTOP sent to 4242 (/usr/bin/locker)"
  std::vector<pid_t> pids;  // processes signalled (or that would be, in dry run)
  std::vector<ProcessOutcome> processes;
  std::vector<ClientOutcome> clients;  // SMB clients contained (or that would be)
};

struct ResponderStats {
  uint64_t suspended = 0;
  uint64_t killed = 0;
  uint64_t refused = 0;            // policy said no (protected, allow list, spared)
  uint64_t failed = 0;             // signal failed (gone, reused pid, permission)
  uint64_t dry_run = 0;            // decisions not carried out
  uint64_t kills_dropped = 0;      // pending kills beyond limits::kMaxPendingKills
  uint64_t clients_contained = 0;  // SMB clients whose sessions were all signalled
  uint64_t client_sessions = 0;    // of those sessions, the ones that were not targets themselves
  uint64_t clients_blocked = 0;    // reconnection refused at the firewall
  uint64_t block_failures = 0;     // the firewall refused the block (the processes still stopped)
  uint64_t clients_dropped = 0;    // clients beyond limits::kMaxContainedClientsPerAlert
  // Workers stopped that no judged file named: the rest of an alerted process tree, and the
  // clones of a stopped writer (same parent, same program); beyond kMaxTreeMembersStopped an
  // alert, dropped.
  uint64_t tree_members = 0;
  uint64_t tree_members_dropped = 0;
};

class Responder {
 public:
  // `attribute` gives the current /proc view of a pid the detector never saw (the spawner of a
  // process tree, the other sessions of an SMB client); it may return an Actor without exe when
  // the process is gone. `sessions` finds every smbd serving a client (null: only the targets are
  // signalled, and a target's client comes from its Actor). `blocker` refuses a client's
  // reconnection (null: a block is reported as failed, "no firewall access").
  // `processes(family_of)` lists processes with their parents: with `family_of` empty every
  // process, else at least those below the pids in it, quickly and possibly incompletely (a
  // response reads the family first, acts, then reads everything). null: workers of the same
  // attack that no judged file names are not looked for.
  using ListProcesses =
      std::function<std::vector<sys::ParentLink>(const std::vector<pid_t>& family_of)>;
  Responder(ResponderOptions options, sys::ProcessControl* control,
            std::function<Actor(pid_t)> attribute, sys::SmbSessionTable* sessions = nullptr,
            sys::ClientBlocker* blocker = nullptr, ListProcesses processes = nullptr);

  // Acts on `targets` for `alert` at monotonic time now_ns.
  ResponseOutcome Respond(const Alert& alert, const ResponseTargets& targets, uint64_t now_ns);

  // A pending kill whose grace ended.
  struct DueKill {
    Actor actor;
    std::string incident_id;
  };
  // Remembers that the suspended processes of `outcome` belong to `incident_id` (for kill_after).
  void Track(const ResponseOutcome& outcome, const std::string& incident_id, uint64_t now_ns);
  // Kills whose grace ended (removed from the pending list); the caller kills them via Kill().
  std::vector<DueKill> TakeDueKills(uint64_t now_ns);
  Status Kill(const Actor& actor);

  // The operator resumed (or otherwise decided about) this process: never act on it again, and
  // forget its pending kill.
  void Spare(pid_t pid, uint64_t start_time);
  // The operator decided about an incident: forget its pending kills.
  void CancelKills(const std::string& incident_id);
  bool IsSpared(pid_t pid, uint64_t start_time) const;

  const ResponderStats& stats() const { return stats_; }
  const ResponderOptions& options() const { return options_; }

 private:
  // Why an smbd must not be stopped although the policy allows it ("" when it may): it serves no
  // client (the main smbd or a helper every client depends on).
  std::string SharedSmbd(const Actor& actor);
  // Fills the SMB fields of a target smbd whose attribution has none.
  void AddSmbClient(Actor& actor);

  ResponderOptions options_;
  sys::ProcessControl* control_;
  std::function<Actor(pid_t)> attribute_;
  sys::SmbSessionTable* sessions_;
  sys::ClientBlocker* blocker_;
  ListProcesses processes_;
  std::set<std::pair<pid_t, uint64_t>> spared_;
  struct Pending {
    Actor actor;
    std::string incident_id;
    uint64_t due_ns;
  };
  std::map<std::pair<pid_t, uint64_t>, Pending> pending_kills_;
  ResponderStats stats_;
};

}  // namespace steen::watch
