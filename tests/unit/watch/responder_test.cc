// Containment per SMB client (issue 6), with fakes only: the responder stops every smbd session of
// the client and none of another client's, never the main smbd, refuses the client's reconnection
// with the configured ports and duration, keeps going when the firewall says no, does nothing in
// dry run; the incident records the block and `steen resume` lifts it.
#include "watch/responder.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sqlite3.h"
#include "sys/client_blocker.h"
#include "sys/process_control.h"
#include "sys/smb_sessions.h"
#include "watch/incident_operator.h"
#include "watch/incident_store.h"

namespace steen::watch {
namespace {

using std::chrono::seconds;

constexpr pid_t kMainSmbd = 1000;
constexpr char kClient[] = "198.18.0.2";
constexpr char kOtherClient[] = "198.18.0.3";

// Calls in order across the fakes: "block 198.18.0.2", "list 198.18.0.2", ...
using Events = std::vector<std::string>;

class FakeSessions : public sys::SmbSessionTable {
 public:
  explicit FakeSessions(Events* events) : events_(events) {}
  void Add(pid_t pid, const std::string& address, const std::string& user) {
    sessions_[pid] = {pid, static_cast<uint64_t>(pid) * 10, address, user, "WS-" + user};
  }
  std::optional<sys::SmbSession> ForPid(pid_t pid) override {
    auto it = sessions_.find(pid);
    if (it == sessions_.end()) return std::nullopt;
    return it->second;
  }
  std::vector<sys::SmbSession> ServingClient(std::string_view address) override {
    events_->push_back("list " + std::string(address));
    std::vector<sys::SmbSession> out;
    for (const auto& [pid, session] : sessions_) {
      if (session.client_address == address) out.push_back(session);
    }
    return out;
  }

 private:
  Events* events_;
  std::map<pid_t, sys::SmbSession> sessions_;
};

class OrderedBlocker : public sys::RecordingClientBlocker {
 public:
  explicit OrderedBlocker(Events* events) : events_(events) {}
  Status Block(std::string_view address, const std::vector<uint16_t>& ports,
               seconds duration) override {
    events_->push_back("block " + std::string(address));
    return RecordingClientBlocker::Block(address, ports, duration);
  }

 private:
  Events* events_;
};

// /proc as the responder would read it: smbd children of the main smbd.
Actor ProcView(pid_t pid) {
  Actor actor;
  actor.pid = pid;
  actor.start_time = static_cast<uint64_t>(pid) * 10;
  actor.ppid = pid == kMainSmbd ? 1 : kMainSmbd;
  actor.exe = "/usr/sbin/smbd";
  actor.comm = "smbd";
  actor.uid = pid == kMainSmbd ? 0 : 1001;
  actor.user = pid == kMainSmbd ? "root" : "bob";
  return actor;
}

// A target as the detector gives it: an smbd child attributed to its client.
Actor SmbdOf(pid_t pid, const std::string& address, const std::string& user) {
  Actor actor = ProcView(pid);
  actor.smb_client_address = address;
  actor.smb_user = user;
  return actor;
}

Alert SmbAlert() {
  Alert alert;
  alert.scope = ActorScope::kSmbClient;
  alert.scope_key = std::string(kClient) + " bob";
  alert.actor = SmbdOf(2001, kClient, "bob");
  return alert;
}

std::vector<pid_t> Signalled(sys::RecordingProcessControl& control, const std::string& action) {
  std::vector<pid_t> pids;
  for (const auto& call : control.calls()) {
    if (call.action == action) pids.push_back(call.pid);
  }
  return pids;
}

class ContainmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Client 198.18.0.2: bob on two connections and carol (same address: NAT or a shared PC);
    // client 198.18.0.3: dave. The main smbd serves nobody.
    sessions_.Add(2001, kClient, "bob");
    sessions_.Add(2002, kClient, "bob");
    sessions_.Add(2003, kClient, "carol");
    sessions_.Add(3001, kOtherClient, "dave");
  }
  std::unique_ptr<Responder> Make(ResponderOptions options = {}, bool with_sessions = true) {
    return std::make_unique<Responder>(options, &control_, ProcView,
                                       with_sessions ? &sessions_ : nullptr, &blocker_);
  }
  ResponseTargets Writer() {
    ResponseTargets targets;
    targets.processes = {SmbdOf(2001, kClient, "bob")};
    return targets;
  }

  Events events_;
  FakeSessions sessions_{&events_};
  OrderedBlocker blocker_{&events_};
  sys::RecordingProcessControl control_;
};

TEST_F(ContainmentTest, SuspendsEverySessionOfTheClientAndNoneOfAnother) {
  auto responder = Make();
  ResponseOutcome outcome = responder->Respond(SmbAlert(), Writer(), 0);

  EXPECT_EQ(outcome.action, ResponseAction::kSuspended);
  EXPECT_EQ(Signalled(control_, "suspend"), (std::vector<pid_t>{2001, 2002, 2003}));
  EXPECT_EQ(outcome.pids, (std::vector<pid_t>{2001, 2002, 2003}));
  for (const auto& call : control_.calls()) {
    EXPECT_NE(call.pid, 3001) << "another client's session";
    EXPECT_NE(call.pid, kMainSmbd) << "the main smbd";
    EXPECT_EQ(call.start_time, static_cast<uint64_t>(call.pid) * 10) << "pid reuse check";
  }
  // The writer first, then the block, then the client's other sessions (listed once the client
  // can open no new one).
  EXPECT_EQ(events_, (Events{"block 198.18.0.2", "list 198.18.0.2"}));
  ASSERT_EQ(outcome.clients.size(), 1u);
  const ClientOutcome& client = outcome.clients[0];
  EXPECT_EQ(client.address, kClient);
  EXPECT_EQ(client.sessions, (std::vector<pid_t>{2001, 2002, 2003}));
  EXPECT_EQ(client.users, (std::vector<std::string>{"bob", "carol"}));
  EXPECT_EQ(client.block, BlockState::kBlocked);
  EXPECT_TRUE(blocker_.IsBlocked(kClient));
  EXPECT_FALSE(blocker_.IsBlocked(kOtherClient));
  // Every session is recorded with its client, for the incident.
  for (const ProcessOutcome& p : outcome.processes) {
    EXPECT_EQ(p.state, ProcessState::kSuspended);
    EXPECT_EQ(p.actor.smb_client_address, kClient);
  }
  EXPECT_NE(outcome.detail.find("SIGSTOP sent to 2001 (smbd for 198.18.0.2 bob), 2002 (smbd for "
                                "198.18.0.2 bob), 2003 (smbd for 198.18.0.2 carol)"),
            std::string::npos)
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("SMB client 198.18.0.2 (sessions of bob, carol: one address, "
                                "contained as one client): reconnection refused for 900 s "
                                "(tcp 445,139)"),
            std::string::npos)
      << outcome.detail;
  EXPECT_EQ(responder->stats().suspended, 3u);
  EXPECT_EQ(responder->stats().client_sessions, 2u);
  EXPECT_EQ(responder->stats().clients_blocked, 1u);
  EXPECT_EQ(responder->stats().clients_contained, 1u);
}

TEST_F(ContainmentTest, BlocksWithTheConfiguredPortsAndDuration) {
  ResponderOptions options;
  options.smb.ports = {4455};
  options.smb.block_seconds = 60;
  Make(options)->Respond(SmbAlert(), Writer(), 0);
  auto calls = blocker_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].action, "block");
  EXPECT_EQ(calls[0].address, kClient);
  EXPECT_EQ(calls[0].ports, std::vector<uint16_t>{4455});
  EXPECT_EQ(calls[0].duration, seconds(60));
}

TEST_F(ContainmentTest, FirewallFailureStillSuspendsAndSaysWhy) {
  blocker_.FailWith(Status::PermissionDenied(
      "refusing 198.18.0.2 on tcp 445,139 in nftables table inet steen: nftables: Could not "
      "process rule: Operation not permitted (steen needs CAP_NET_ADMIN)"));
  auto responder = Make();
  ResponseOutcome outcome = responder->Respond(SmbAlert(), Writer(), 0);
  EXPECT_EQ(outcome.action, ResponseAction::kSuspended);
  EXPECT_EQ(Signalled(control_, "suspend"), (std::vector<pid_t>{2001, 2002, 2003}));
  ASSERT_EQ(outcome.clients.size(), 1u);
  EXPECT_EQ(outcome.clients[0].block, BlockState::kFailed);
  EXPECT_NE(outcome.clients[0].error.find("Operation not permitted"), std::string::npos);
  EXPECT_NE(outcome.detail.find("SMB client 198.18.0.2 (sessions of bob, carol: one address, "
                                "contained as one client): reconnection NOT refused: refusing "
                                "198.18.0.2"),
            std::string::npos)
      << outcome.detail;
  EXPECT_EQ(responder->stats().block_failures, 1u);
  EXPECT_EQ(responder->stats().clients_blocked, 0u);
  // Without any blocker at all, the same: stopped, and the reason given.
  sys::RecordingProcessControl control;
  Responder bare({}, &control, ProcView, &sessions_, nullptr);
  ResponseOutcome without = bare.Respond(SmbAlert(), Writer(), 0);
  EXPECT_EQ(without.action, ResponseAction::kSuspended);
  EXPECT_EQ(without.clients[0].block, BlockState::kFailed);
  EXPECT_NE(without.detail.find("reconnection NOT refused: no firewall access"), std::string::npos)
      << without.detail;
}

TEST_F(ContainmentTest, DryRunAndAlertOnlyDecideTheSameAndDoNothing) {
  ResponderOptions options;
  options.dry_run = true;
  ResponseOutcome outcome = Make(options)->Respond(SmbAlert(), Writer(), 0);
  EXPECT_TRUE(control_.calls().empty());
  EXPECT_TRUE(blocker_.calls().empty());
  EXPECT_EQ(outcome.action, ResponseAction::kDryRun);
  EXPECT_EQ(outcome.pids, (std::vector<pid_t>{2001, 2002, 2003}));
  ASSERT_EQ(outcome.clients.size(), 1u);
  EXPECT_EQ(outcome.clients[0].block, BlockState::kDryRun);
  EXPECT_NE(outcome.detail.find("dry run: would send SIGSTOP to 2001 (smbd for 198.18.0.2 bob)"),
            std::string::npos)
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("would refuse its reconnection for 900 s (tcp 445,139)"),
            std::string::npos)
      << outcome.detail;

  ResponderOptions alert_only;
  alert_only.action = Action::kAlert;
  ResponseOutcome alerted = Make(alert_only)->Respond(SmbAlert(), Writer(), 0);
  EXPECT_TRUE(control_.calls().empty());
  EXPECT_TRUE(blocker_.calls().empty());
  EXPECT_EQ(alerted.action, ResponseAction::kNone);
  EXPECT_EQ(alerted.clients[0].block, BlockState::kDryRun);
  EXPECT_EQ(alerted.clients[0].sessions, (std::vector<pid_t>{2001, 2002, 2003}));
}

TEST_F(ContainmentTest, TheMainSmbdIsNeverStopped) {
  // The policy itself lets smbd children (and the main smbd) through: the responder must refuse
  // the one serving nobody.
  EXPECT_TRUE(MaySuspend(SmbdOf(2001, kClient, "bob"), ResponsePolicy{}));
  EXPECT_TRUE(MaySuspend(ProcView(kMainSmbd), ResponsePolicy{}));
  ResponseTargets targets = Writer();
  targets.processes.push_back(ProcView(kMainSmbd));
  auto responder = Make();
  ResponseOutcome outcome = responder->Respond(SmbAlert(), targets, 0);
  EXPECT_EQ(Signalled(control_, "suspend"), (std::vector<pid_t>{2001, 2002, 2003}));
  auto main = std::find_if(outcome.processes.begin(), outcome.processes.end(),
                           [](const ProcessOutcome& p) { return p.actor.pid == kMainSmbd; });
  ASSERT_NE(main, outcome.processes.end());
  EXPECT_EQ(main->state, ProcessState::kRefused);
  EXPECT_NE(main->reason.find("smbd serving no client"), std::string::npos) << main->reason;

  // Without a session table: the main smbd is the smbd whose parent is no smbd; a child (parent
  // smbd) is stopped like any process.
  sys::RecordingProcessControl control;
  Responder bare({}, &control, ProcView, nullptr, &blocker_);
  ResponseTargets plain;
  plain.processes = {ProcView(kMainSmbd), ProcView(2001)};
  ResponseOutcome without = bare.Respond(Alert{}, plain, 0);
  EXPECT_EQ(Signalled(control, "suspend"), std::vector<pid_t>{2001});
  EXPECT_EQ(without.processes[0].state, ProcessState::kRefused);
}

TEST_F(ContainmentTest, AGoneSmbdIsGoneNotRefused) {
  // A writer whose session ended before the alert: no client known any more, not alive.
  auto attribute = [](pid_t pid) { return pid == 2600 ? Actor{} : ProcView(pid); };
  sys::RecordingProcessControl control;
  Responder responder({}, &control, attribute, &sessions_, &blocker_);
  ResponseTargets targets;
  targets.processes = {ProcView(2600), ProcView(kMainSmbd)};
  ResponseOutcome outcome = responder.Respond(Alert{}, targets, 0);
  ASSERT_EQ(outcome.processes.size(), 2u);
  // RecordingProcessControl "signals" anything; the point is that the policy let it through.
  EXPECT_EQ(outcome.processes[0].actor.pid, 2600);
  EXPECT_NE(outcome.processes[0].state, ProcessState::kRefused) << outcome.processes[0].reason;
  EXPECT_EQ(outcome.processes[1].state, ProcessState::kRefused);
  EXPECT_EQ(Signalled(control, "suspend"), std::vector<pid_t>{2600});

  // A session of the client that ended between the listing and the signal is skipped quietly.
  sessions_.Add(2600, kClient, "bob");
  sys::RecordingProcessControl again;
  Responder contained({}, &again, attribute, &sessions_, &blocker_);
  ResponseOutcome client = contained.Respond(SmbAlert(), Writer(), 0);
  EXPECT_EQ(Signalled(again, "suspend"), (std::vector<pid_t>{2001, 2002, 2003}));
  for (const ProcessOutcome& p : client.processes) EXPECT_NE(p.actor.pid, 2600);
}

TEST_F(ContainmentTest, ATargetWithoutClientFieldsIsLookedUp) {
  // Attribution missed the client (the event was read before the table knew the session).
  ResponseTargets targets;
  targets.processes = {ProcView(2002)};
  ResponseOutcome outcome = Make()->Respond(Alert{}, targets, 0);
  EXPECT_EQ(Signalled(control_, "suspend"), (std::vector<pid_t>{2002, 2001, 2003}));
  ASSERT_EQ(outcome.clients.size(), 1u);
  EXPECT_EQ(outcome.clients[0].address, kClient);
}

TEST_F(ContainmentTest, EachSettingCanBeTurnedOff) {
  ResponderOptions no_contain;
  no_contain.smb.contain_client = false;
  ResponseOutcome blocked_only = Make(no_contain)->Respond(SmbAlert(), Writer(), 0);
  EXPECT_EQ(Signalled(control_, "suspend"), std::vector<pid_t>{2001});
  EXPECT_TRUE(blocker_.IsBlocked(kClient)) << "the writer's address is still refused";
  EXPECT_EQ(blocked_only.clients[0].sessions, std::vector<pid_t>{2001});

  sys::RecordingProcessControl control;
  sys::RecordingClientBlocker blocker;
  ResponderOptions no_block;
  no_block.smb.block_reconnect = false;
  Responder responder(no_block, &control, ProcView, &sessions_, &blocker);
  ResponseOutcome suspended_only = responder.Respond(SmbAlert(), Writer(), 0);
  EXPECT_EQ(Signalled(control, "suspend"), (std::vector<pid_t>{2001, 2002, 2003}));
  EXPECT_TRUE(blocker.calls().empty());
  EXPECT_FALSE(suspended_only.clients[0].block.has_value());
  EXPECT_EQ(suspended_only.detail.find("reconnection"), std::string::npos);
}

TEST_F(ContainmentTest, OperatorSparedSessionsAndOtherProcessesStayAlone) {
  auto responder = Make();
  responder->Spare(2003, 20030);
  ResponseTargets targets = Writer();
  ResponseOutcome outcome = responder->Respond(SmbAlert(), targets, 0);
  EXPECT_EQ(Signalled(control_, "suspend"), (std::vector<pid_t>{2001, 2002}));
  // A local process (no client) is contained as before: no block.
  sys::RecordingProcessControl control;
  sys::RecordingClientBlocker blocker;
  Responder local({}, &control, ProcView, &sessions_, &blocker);
  Actor locker;
  locker.pid = 4242;
  locker.start_time = 77;
  locker.exe = "/tmp/locker";
  ResponseTargets local_targets;
  local_targets.processes = {locker};
  ResponseOutcome local_outcome = local.Respond(Alert{}, local_targets, 0);
  EXPECT_EQ(Signalled(control, "suspend"), std::vector<pid_t>{4242});
  EXPECT_TRUE(local_outcome.clients.empty());
  EXPECT_TRUE(blocker.calls().empty());
}

TEST_F(ContainmentTest, KilledSessionsStayBlocked) {
  ResponderOptions kill_now;
  kill_now.action = Action::kKill;
  ResponseOutcome killed = Make(kill_now)->Respond(SmbAlert(), Writer(), 0);
  EXPECT_EQ(killed.action, ResponseAction::kKilled);
  EXPECT_EQ(Signalled(control_, "kill"), (std::vector<pid_t>{2001, 2002, 2003}));
  EXPECT_EQ(killed.clients[0].block, BlockState::kBlocked);

  // kill_after: every session of the client waits for its kill; the block is not touched.
  sys::RecordingProcessControl control;
  ResponderOptions grace;
  grace.kill_after = seconds(30);
  Responder responder(grace, &control, ProcView, &sessions_, &blocker_);
  ResponseOutcome outcome = responder.Respond(SmbAlert(), Writer(), 0);
  responder.Track(outcome, "INC-1", 0);
  auto due = responder.TakeDueKills(30'000'000'000ull);
  EXPECT_EQ(due.size(), 3u);
  for (const auto& kill : due) EXPECT_TRUE(responder.Kill(kill.actor).ok());
  EXPECT_EQ(Signalled(control, "kill").size(), 3u);
  EXPECT_TRUE(blocker_.IsBlocked(kClient));
  for (const auto& call : blocker_.calls()) EXPECT_EQ(call.action, "block");
}

// ---- The incident's record of the block, and `steen resume` ----

int64_t FixedNow() { return int64_t{1796212800} * 1000000000; }  // 2026-12-02T12:00:00Z

class BlockRecordTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-blocks-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    IncidentStoreOptions options;
    options.now_ns = FixedNow;
    auto store = IncidentStore::Open(dir_ + "/incidents.db", options);
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    auto id = store_->RecordAlert(SmbAlert());
    ASSERT_TRUE(id.ok()) << id.status().message();
    id_ = *id;
    for (pid_t pid : {2001, 2002}) {
      ASSERT_TRUE(
          store_->RecordProcess(id_, SmbdOf(pid, kClient, "bob"), ProcessState::kSuspended, "")
              .ok());
    }
    ASSERT_TRUE(store_->Transition(id_, IncidentState::kSuspended, kDaemonActor, "").ok());
    IncidentBlock block;
    block.address = kClient;
    block.ports = {445, 139};
    block.nft_table = "steen_test";
    block.since_ns = FixedNow();
    block.until_ns = FixedNow() + int64_t{900} * 1'000'000'000;
    ASSERT_TRUE(store_->RecordBlock(id_, block).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  BlockerFor Fake() {
    return [this](const std::string& table) -> StatusOr<sys::ClientBlocker*> {
      tables_.push_back(table);
      return &blocker_;
    };
  }

  std::string dir_;
  std::unique_ptr<IncidentStore> store_;
  std::string id_;
  sys::RecordingClientBlocker blocker_;
  std::vector<std::string> tables_;
};

TEST_F(BlockRecordTest, TheBlockIsPartOfTheIncident) {
  auto incident = store_->Get(id_);
  ASSERT_TRUE(incident.ok());
  ASSERT_EQ(incident->blocks.size(), 1u);
  const IncidentBlock& block = incident->blocks[0];
  EXPECT_EQ(block.address, kClient);
  EXPECT_EQ(block.ports, (std::vector<uint16_t>{445, 139}));
  EXPECT_EQ(block.state, BlockState::kBlocked);
  EXPECT_EQ(block.nft_table, "steen_test");
  EXPECT_EQ(incident->history.back().what, "block");
  EXPECT_EQ(incident->history.back().detail,
            "198.18.0.2 refused on tcp 445,139 until 2026-12-02T12:15:00Z (nftables table inet "
            "steen_test)");
  std::string json = IncidentToJson(*incident, false, FixedNow());
  EXPECT_NE(json.find("\"detail\":\"blocked 198.18.0.2 (tcp 445,139) until "
                      "2026-12-02T12:15:00.000Z\""),
            std::string::npos)
      << json;
  // Once its time is up the kernel lifted it: shown as expired, not blocked.
  std::string later = IncidentToJson(*incident, false, FixedNow() + int64_t{901} * 1'000'000'000);
  EXPECT_NE(later.find("\"state\":\"expired\""), std::string::npos) << later;
  // What the daemon puts back after a reboot: blocks in force only.
  auto active = store_->ActiveBlocks(FixedNow());
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].first, id_);
  EXPECT_TRUE(store_->ActiveBlocks(FixedNow() + int64_t{900} * 1'000'000'000)->empty());
  // The listing shows it too.
  EXPECT_NE(FormatIncidentTable(*store_->List()).find("SMB client"), std::string::npos);
}

TEST_F(BlockRecordTest, ResumeLiftsTheBlockAndContinuesTheSessions) {
  ASSERT_TRUE(blocker_.Block(kClient, {445, 139}, seconds(900)).ok());
  sys::RecordingProcessControl control;
  auto outcome = ResumeIncident(*store_, id_, control, 0, Fake());
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_TRUE(outcome->state_changed);
  EXPECT_EQ(outcome->failures, 0);
  ASSERT_EQ(outcome->releases.size(), 1u);
  EXPECT_EQ(outcome->releases[0].state, BlockState::kReleased);
  EXPECT_FALSE(blocker_.IsBlocked(kClient));
  EXPECT_EQ(tables_, std::vector<std::string>{"steen_test"}) << "released where it was made";
  EXPECT_EQ(Signalled(control, "resume"), (std::vector<pid_t>{2001, 2002}));
  auto incident = store_->Get(id_);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(incident->state, IncidentState::kResumed);
  EXPECT_EQ(incident->blocks[0].state, BlockState::kReleased);
  EXPECT_TRUE(store_->ActiveBlocks(FixedNow())->empty());
  // Who lifted it is in the history (the daemon polls operator rows).
  bool seen = false;
  for (const auto& action : incident->history) {
    seen |= action.what == "block" && action.who == OperatorActor(0) &&
            action.detail.find("198.18.0.2 released") != std::string::npos;
  }
  EXPECT_TRUE(seen);
}

TEST_F(BlockRecordTest, KillKeepsTheBlockAndResumeThenLiftsIt) {
  sys::RecordingProcessControl control;
  ASSERT_TRUE(KillIncident(*store_, id_, control, 0).ok());
  EXPECT_EQ(store_->Get(id_)->blocks[0].state, BlockState::kBlocked);
  EXPECT_TRUE(blocker_.calls().empty());
  // The sessions are gone; resume lets the client in again and leaves the incident killed.
  auto outcome = ResumeIncident(*store_, id_, control, 0, Fake());
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  EXPECT_FALSE(outcome->state_changed);
  EXPECT_TRUE(outcome->processes.empty());
  ASSERT_EQ(blocker_.calls().size(), 1u);
  EXPECT_EQ(blocker_.calls()[0].action, "unblock");
  EXPECT_EQ(blocker_.calls()[0].address, kClient);
  EXPECT_EQ(store_->Get(id_)->state, IncidentState::kKilled);
  EXPECT_EQ(store_->Get(id_)->blocks[0].state, BlockState::kReleased);
  // Nothing left to lift: a killed incident cannot be resumed.
  EXPECT_EQ(ResumeIncident(*store_, id_, control, 0, Fake()).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(BlockRecordTest, AFailedReleaseIsReportedAndKeptForTheDaemon) {
  blocker_.FailWith(Status::PermissionDenied("nftables: Operation not permitted"));
  sys::RecordingProcessControl control;
  auto outcome = ResumeIncident(*store_, id_, control, 0, Fake());
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->failures, 1);
  ASSERT_EQ(outcome->releases.size(), 1u);
  EXPECT_NE(outcome->releases[0].message.find("Operation not permitted"), std::string::npos);
  EXPECT_EQ(Signalled(control, "resume").size(), 2u) << "the sessions go on anyway";
  auto incident = store_->Get(id_);
  EXPECT_EQ(incident->blocks[0].state, BlockState::kBlocked);
  EXPECT_NE(incident->blocks[0].reason.find("release failed"), std::string::npos);
  // The daemon (or a later attempt) lifts it with the same call.
  blocker_.FailWith(Status::Ok());
  auto releases = ReleaseBlocks(*store_, *incident, Fake(), kDaemonActor);
  ASSERT_EQ(releases.size(), 1u);
  EXPECT_EQ(releases[0].state, BlockState::kReleased);
  EXPECT_EQ(store_->Get(id_)->blocks[0].state, BlockState::kReleased);
  // A resumed incident's block is never put back, even when its release had failed.
  EXPECT_TRUE(store_->ActiveBlocks(FixedNow())->empty());
}

// Two SMB users behind one address (NAT): each is its own incident with its own block of the
// address. Resuming one must not let the address in while the other still refuses it.
TEST_F(BlockRecordTest, ResumeLeavesAnAddressAnotherIncidentStillBlocks) {
  Alert other_user = SmbAlert();
  other_user.scope_key = std::string(kClient) + " mallory";
  other_user.actor = SmbdOf(2101, kClient, "mallory");
  auto other = store_->RecordAlert(other_user);
  ASSERT_TRUE(other.ok());
  ASSERT_NE(*other, id_);
  IncidentBlock block = store_->Get(id_)->blocks[0];
  ASSERT_TRUE(store_->RecordBlock(*other, block).ok());
  ASSERT_TRUE(blocker_.Block(kClient, {445, 139}, seconds(900)).ok());
  sys::RecordingProcessControl control;
  auto outcome = ResumeIncident(*store_, id_, control, 0, Fake());
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  ASSERT_EQ(outcome->releases.size(), 1u);
  EXPECT_EQ(outcome->releases[0].kept_for, *other);
  EXPECT_EQ(outcome->failures, 0);
  EXPECT_TRUE(blocker_.IsBlocked(kClient)) << "the other incident still refuses the address";
  EXPECT_EQ(store_->Get(id_)->blocks[0].state, BlockState::kReleased);
  auto active = store_->ActiveBlocks(FixedNow());
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].first, *other);
  // Once that one is resumed too, the address is let in.
  auto second = ResumeIncident(*store_, *other, control, 0, Fake());
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->releases.size(), 1u);
  EXPECT_TRUE(second->releases[0].kept_for.empty());
  EXPECT_FALSE(blocker_.IsBlocked(kClient));
}

TEST_F(BlockRecordTest, AVersion1DatabaseGetsTheBlocksTable) {
  const std::string path = dir_ + "/old.db";
  {
    IncidentStoreOptions options;
    options.now_ns = FixedNow;
    ASSERT_TRUE(IncidentStore::Open(path, options).ok());
  }
  // What steen before blocks left behind: schema version 1, no blocks table.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "DROP TABLE blocks; UPDATE meta SET value = '1' WHERE key = "
                         "'schema_version'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  IncidentStoreOptions options;
  options.now_ns = FixedNow;
  auto store = IncidentStore::Open(path, options);
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto id = (*store)->RecordAlert(SmbAlert());
  ASSERT_TRUE(id.ok());
  IncidentBlock block;
  block.address = kClient;
  block.ports = {445};
  block.state = BlockState::kFailed;
  block.reason = "nftables: Operation not permitted";
  ASSERT_TRUE((*store)->RecordBlock(*id, block).ok());
  EXPECT_EQ((*store)->Get(*id)->blocks.at(0).state, BlockState::kFailed);
}

}  // namespace
}  // namespace steen::watch
