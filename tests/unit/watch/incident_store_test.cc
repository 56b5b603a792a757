#include "watch/incident_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "sqlite3.h"
#include "steen/limits.h"
#include "watch/incident_operator.h"

namespace steen::watch {
namespace {

int64_t FixedNow() { return int64_t{1796212800} * 1000000000; }  // 2026-12-02T12:00:00Z

class IncidentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-incidents-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/state/incidents.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<IncidentStore> Open() {
    IncidentStoreOptions options;
    options.now_ns = FixedNow;
    options.boot_time_ns = FixedNow() - int64_t{3600} * 1000000000;
    auto store = IncidentStore::Open(path_, options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  static Alert MakeAlert(std::string scope_key, double score, std::vector<std::string> files) {
    Alert alert;
    alert.id = "a-" + std::to_string(score);
    alert.wall_time_ns = FixedNow();
    alert.rule_name = "ransomware-encryption";
    alert.severity = "critical";
    alert.score = score;
    alert.scope = ActorScope::kProcessTree;
    alert.scope_key = std::move(scope_key);
    alert.actor.pid = 4242;
    alert.actor.start_time = 1000;
    alert.actor.exe = "/usr/bin/evil";
    alert.actor.comm = "evil";
    alert.actor.user = "alice";
    alert.files = files;
    alert.file_count = static_cast<int64_t>(files.size());
    alert.indicators = {{"damaged_files", 3, "3 files became random"}};
    alert.host = "fs1";
    alert.message = "encryption";
    return alert;
  }
  std::string dir_;
  std::string path_;
};

TEST_F(IncidentStoreTest, CreatesDatabasePrivately) {
  auto store = Open();
  ASSERT_TRUE(store);
  struct stat info {};
  ASSERT_EQ(::stat(path_.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/state").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);
}

TEST_F(IncidentStoreTest, MissingDatabaseIsNotFoundWithoutCreate) {
  IncidentStoreOptions options;
  options.create = false;
  auto store = IncidentStore::Open(path_, options);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(IncidentStoreTest, RecordCreatesAndEscalationMerges) {
  auto store = Open();
  auto first = store->RecordAlert(MakeAlert("tree:100", 10, {"/d/a", "/d/b"}));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, "INC-2026-12-02-0001");
  auto second = store->RecordAlert(MakeAlert("tree:100", 25, {"/d/b", "/d/c"}));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  Alert unrelated = MakeAlert("tree:200", 12, {"/d/x"});
  unrelated.actor.pid = 5151;
  auto other = store->RecordAlert(unrelated);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, "INC-2026-12-02-0002");

  auto incident = store->Get(*first);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(incident->score, 25);
  EXPECT_EQ(incident->alert_count, 2);
  ASSERT_EQ(incident->alerts.size(), 2u);
  EXPECT_NE(incident->alerts[0].json.find(*first), std::string::npos);
  ASSERT_EQ(incident->files.size(), 3u);
  EXPECT_EQ(incident->file_count, 3);
  ASSERT_EQ(incident->processes.size(), 1u);
  EXPECT_EQ(incident->processes[0].actor.exe, "/usr/bin/evil");
  EXPECT_EQ(incident->processes[0].state, ProcessState::kObserved);
  EXPECT_GT(incident->processes[0].start_wall_ns, 0);
  EXPECT_LE(incident->window_start_ns, incident->processes[0].start_wall_ns);
  ASSERT_EQ(incident->indicators.size(), 1u);
  EXPECT_EQ(incident->indicators[0].name, "damaged_files");

  // Once the operator decided, the scope opens a new incident.
  ASSERT_TRUE(store->Transition(*first, IncidentState::kResumed, OperatorActor(0), "").ok());
  auto third = store->RecordAlert(MakeAlert("tree:100", 30, {}));
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(*third, "INC-2026-12-02-0003");
}

// A process alerts, then its tree (the process and its siblings): one attack, one incident, so
// one resume or rollback covers it. A pid reused by another process is not the same process.
TEST_F(IncidentStoreTest, ScopesAboutTheSameProcessesShareTheIncident) {
  auto store = Open();
  auto first = store->RecordAlert(MakeAlert("4242", 10, {"/d/a"}));
  ASSERT_TRUE(first.ok());
  Alert tree = MakeAlert("tree:100", 20, {"/d/b"});
  tree.actor.pid = 4243;
  Actor sibling = tree.actor;
  Actor known;
  known.pid = 4242;
  known.start_time = 1000;
  auto joined = store->RecordAlert(tree, {sibling, known});
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(*joined, *first);
  auto incident = store->Get(*first);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(incident->alert_count, 2);
  EXPECT_EQ(incident->processes.size(), 2u);
  EXPECT_EQ(incident->files.size(), 2u);

  Alert reused = MakeAlert("tree:300", 20, {"/d/c"});
  reused.actor.pid = 6000;
  Actor same_pid_later = known;
  same_pid_later.start_time = 9999;
  auto separate = store->RecordAlert(reused, {same_pid_later});
  ASSERT_TRUE(separate.ok());
  EXPECT_NE(*separate, *first);

  // Once decided (resumed), the incident takes no more alerts: the next one is new.
  ASSERT_TRUE(store->Transition(*first, IncidentState::kResumed, OperatorActor(0), "").ok());
  auto after = store->RecordAlert(MakeAlert("tree:400", 30, {}), {known});
  ASSERT_TRUE(after.ok());
  EXPECT_NE(*after, *first);
  EXPECT_NE(*after, *separate);
}

TEST_F(IncidentStoreTest, FilesAreCappedButCounted) {
  auto store = Open();
  std::vector<std::string> files;
  for (std::size_t i = 0; i < limits::kMaxIncidentFiles + 10; ++i) {
    files.push_back("/d/f" + std::to_string(i));
  }
  auto id = store->RecordAlert(MakeAlert("k", 10, files));
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(store->AddFiles(*id, {"/d/late1", "/d/late2"}).ok());
  auto incident = store->Get(*id);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(incident->files.size(), limits::kMaxIncidentFiles);
  EXPECT_EQ(incident->file_count, static_cast<int64_t>(limits::kMaxIncidentFiles + 12));
}

TEST_F(IncidentStoreTest, TransitionsAndHistory) {
  auto store = Open();
  auto id = store->RecordAlert(MakeAlert("k", 10, {}));
  ASSERT_TRUE(id.ok());
  Actor actor;
  actor.pid = 4242;
  actor.start_time = 1000;
  ASSERT_TRUE(store->SetProcessState(*id, 4242, 1000, ProcessState::kSuspended, "").ok());
  EXPECT_EQ(store->SetProcessState(*id, 4242, 999, ProcessState::kSuspended, "").code(),
            Status::Code::kNotFound);
  ASSERT_TRUE(store->Transition(*id, IncidentState::kSuspended, kDaemonActor, "SIGSTOP").ok());
  ASSERT_TRUE(store->Transition(*id, IncidentState::kKilled, OperatorActor(7), "").ok());
  EXPECT_EQ(store->Transition(*id, IncidentState::kResumed, OperatorActor(7), "").code(),
            Status::Code::kInvalidArgument);
  ASSERT_TRUE(store->Transition(*id, IncidentState::kClosed, OperatorActor(7), "").ok());
  EXPECT_EQ(store->Transition(*id, IncidentState::kSuspended, kDaemonActor, "").code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(store->Transition("INC-nope", IncidentState::kClosed, kDaemonActor, "").code(),
            Status::Code::kNotFound);
  auto incident = store->Get(*id);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(incident->state, IncidentState::kClosed);
  std::vector<std::string> whats;
  for (const auto& action : incident->history) whats.push_back(action.what + "|" + action.who);
  EXPECT_EQ(whats, (std::vector<std::string>{"process|daemon", "created|daemon", "process|daemon",
                                             "state|daemon", "state|operator uid 7",
                                             "state|operator uid 7"}));
}

// The incident that killed a process (pid + start time), for the daemon's late evidence of it:
// only a killed process of a killed incident counts.
TEST_F(IncidentStoreTest, KilledIncidentOfAProcess) {
  auto store = Open();
  auto id = store->RecordAlert(MakeAlert("k", 10, {}));
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(store->KilledIncidentOf(4242, 1000).value(), "") << "observed, not killed";
  ASSERT_TRUE(store->SetProcessState(*id, 4242, 1000, ProcessState::kKilled, "").ok());
  EXPECT_EQ(store->KilledIncidentOf(4242, 1000).value(), "") << "the incident is not killed";
  ASSERT_TRUE(store->Transition(*id, IncidentState::kKilled, OperatorActor(7), "").ok());
  EXPECT_EQ(store->KilledIncidentOf(4242, 1000).value(), *id);
  EXPECT_EQ(store->KilledIncidentOf(4242, 999).value(), "") << "another process with that pid";
}

TEST_F(IncidentStoreTest, ChangesSinceIsMonotonicAndSeesOtherConnections) {
  auto daemon = Open();
  auto cli = Open();
  auto id = daemon->RecordAlert(MakeAlert("k", 10, {}));
  ASSERT_TRUE(id.ok());
  auto latest = daemon->LatestChange();
  ASSERT_TRUE(latest.ok());
  EXPECT_GT(*latest, 0);
  auto none = daemon->ChangesSince(*latest);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(cli->Transition(*id, IncidentState::kResumed, OperatorActor(0), "").ok());
  auto changes = daemon->ChangesSince(*latest);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].incident_id, *id);
  EXPECT_EQ((*changes)[0].what, "state");
  EXPECT_GT((*changes)[0].seq, *latest);
}

TEST_F(IncidentStoreTest, ConcurrentWritersFromTwoConnections) {
  auto a = Open();
  auto b = Open();
  // 100 unrelated attackers (scopes and processes of their own): 100 incidents.
  auto attacker = [](const std::string& key, pid_t pid) {
    Alert alert = MakeAlert(key, 1, {});
    alert.actor.pid = pid;
    return alert;
  };
  std::thread other([&] {
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(b->RecordAlert(attacker("b" + std::to_string(i), 100 + i)).ok());
  });
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(a->RecordAlert(attacker("a" + std::to_string(i), 200 + i)).ok());
  other.join();
  auto all = a->List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 100u);
  std::set<std::string> ids;
  for (const auto& incident : *all) ids.insert(incident.id);
  EXPECT_EQ(ids.size(), 100u);
}

TEST_F(IncidentStoreTest, PersistsAcrossReopen) {
  std::string id;
  {
    auto store = Open();
    auto recorded = store->RecordAlert(MakeAlert("k", 10, {"/d/a"}));
    ASSERT_TRUE(recorded.ok());
    id = *recorded;
    ASSERT_TRUE(store->Transition(id, IncidentState::kSuspended, kDaemonActor, "").ok());
  }
  auto store = Open();
  IncidentFilter filter;
  filter.state = IncidentState::kSuspended;
  auto listed = store->List(filter);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, id);
  EXPECT_EQ((*listed)[0].files.size(), 1u);
}

TEST_F(IncidentStoreTest, RefusesNewerSchema) {
  { ASSERT_TRUE(Open()); }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = IncidentStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(store.status().message().find("newer steen"), std::string::npos);
}

TEST_F(IncidentStoreTest, CorruptFileIsAClearError) {
  std::filesystem::create_directories(dir_ + "/state");
  {
    std::ofstream out(path_);
    out << std::string(8192, 'x');
  }
  auto store = IncidentStore::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kCorruption);
  EXPECT_NE(store.status().message().find(path_), std::string::npos);
}

class FlakyControl : public sys::ProcessControl {
 public:
  Status Suspend(pid_t, uint64_t) override { return Status::Ok(); }
  Status Resume(pid_t pid, uint64_t) override {
    if (pid == 2) return Status::NotFound("exited");
    if (pid == 3) return Status::PermissionDenied("no");
    return Status::Ok();
  }
  Status Kill(pid_t, uint64_t) override { return Status::Ok(); }
};

TEST_F(IncidentStoreTest, ResumeReportsGoneAndFailures) {
  auto store = Open();
  auto id = store->RecordAlert(MakeAlert("k", 10, {}));
  ASSERT_TRUE(id.ok());
  for (pid_t pid : {1, 2, 3}) {
    Actor actor;
    actor.pid = pid;
    actor.start_time = 5;
    ASSERT_TRUE(store->RecordProcess(*id, actor, ProcessState::kSuspended, "").ok());
  }
  ASSERT_TRUE(store->Transition(*id, IncidentState::kSuspended, kDaemonActor, "").ok());
  FlakyControl control;
  auto outcome = ResumeIncident(*store, *id, control, 0);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(outcome->processes.size(), 3u);  // the observed alert actor is not resumed
  EXPECT_EQ(outcome->failures, 1);
  auto incident = store->Get(*id);
  ASSERT_TRUE(incident.ok());
  EXPECT_EQ(incident->state, IncidentState::kResumed);
  std::map<pid_t, ProcessState> states;
  for (const auto& p : incident->processes) states[p.actor.pid] = p.state;
  EXPECT_EQ(states[1], ProcessState::kResumed);
  EXPECT_EQ(states[2], ProcessState::kGone);
  EXPECT_EQ(states[3], ProcessState::kSuspended);
  EXPECT_EQ(states[4242], ProcessState::kObserved);
  // A killed incident cannot be resumed.
  sys::RecordingProcessControl recording;
  ASSERT_TRUE(KillIncident(*store, *id, recording, 0).ok());
  EXPECT_EQ(ResumeIncident(*store, *id, recording, 0).status().code(),
            Status::Code::kInvalidArgument);
  std::string json = IncidentToJson(*store->Get(*id), false);
  EXPECT_NE(json.find("\"state\":\"killed\""), std::string::npos);
}

// A client caught twice: the second rollback starts after the first incident's last step before
// it; an incident of other processes and clients, a later one, and a decision taken after the
// second began do not move it.
TEST(RollbackStartTest, AnEarlierIncidentOfTheSameClientOwnsItsChanges) {
  auto process = [](pid_t pid, uint64_t start_time, const std::string& client) {
    IncidentProcess p;
    p.actor.pid = pid;
    p.actor.start_time = start_time;
    p.actor.smb_client_address = client;
    return p;
  };
  auto action = [](int64_t time_ns) {
    IncidentAction a;
    a.time_ns = time_ns;
    return a;
  };
  Incident first;
  first.id = "INC-1";
  first.created_ns = 1000;
  first.processes = {process(10, 7, "198.18.0.2")};
  first.history = {action(1000), action(1050), action(5000)};  // kill at 5000, after the second
  Incident second;
  second.id = "INC-2";
  second.created_ns = 3000;
  second.processes = {process(10, 7, "198.18.0.2"), process(20, 9, "198.18.0.2")};
  Incident unrelated;
  unrelated.id = "INC-0";
  unrelated.created_ns = 2000;
  unrelated.processes = {process(30, 1, "198.18.0.9")};
  unrelated.history = {action(2500)};
  Incident later;
  later.id = "INC-3";
  later.created_ns = 4000;
  later.processes = {process(20, 9, "198.18.0.2")};
  later.history = {action(4000)};

  EXPECT_EQ(RollbackStartNs(second, {first, second, unrelated, later}), 1050);
  EXPECT_EQ(RollbackStartNs(first, {first, second, unrelated, later}), 0);
  EXPECT_EQ(RollbackStartNs(later, {first, second, later}), 3000);  // second's creation
  // The same pid with another start time is another process; no client: not shared.
  Incident reused;
  reused.id = "INC-4";
  reused.created_ns = 6000;
  reused.processes = {process(10, 8, "")};
  Incident local;
  local.id = "INC-5";
  local.created_ns = 500;
  local.processes = {process(10, 7, "")};
  local.history = {action(600)};
  EXPECT_EQ(RollbackStartNs(reused, {local}), 0);
  EXPECT_EQ(RollbackStartNs(first, {local}), 600);  // same pid and start time
}

}  // namespace
}  // namespace steen::watch
