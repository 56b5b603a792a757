// Daemon pipeline tests: FakeEventSource in, RecordingProcessControl and a capturing sink out.
// Files are real (a temporary folder) because the daemon reads content only through the fds the
// events carry, exactly as with fanotify.
#include "watch/daemon.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>

#include "steen/limits.h"
#include "sys/permission.h"
#include "sys/proc.h"
#include "watch/canaries.h"
#include "watch/content_view.h"
#include "watch/responder.h"

namespace steen::watch {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

struct Captured {
  std::mutex mu;
  std::vector<Alert> alerts;
  std::vector<Alert> Get() {
    std::lock_guard lock(mu);
    return alerts;
  }
};

class CapturingSink : public outputs::AlertSink {
 public:
  explicit CapturingSink(std::shared_ptr<Captured> out) : out_(std::move(out)) {}
  Status Emit(const Alert& alert) override {
    std::lock_guard lock(out_->mu);
    out_->alerts.push_back(alert);
    return Status::Ok();
  }
  std::string_view name() const override { return "capture"; }

 private:
  std::shared_ptr<Captured> out_;
};

class CountingResponder : public sys::PermissionResponder {
 public:
  explicit CountingResponder(std::shared_ptr<std::atomic<int>> count) : count_(std::move(count)) {}
  bool Allow(int) override {
    ++*count_;
    return true;
  }

 private:
  std::shared_ptr<std::atomic<int>> count_;
};

std::string RandomBytes(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Actor Attacker(pid_t pid = 4242, const std::string& exe = "/tmp/locker") {
  Actor actor;
  actor.pid = actor.tid = pid;
  actor.start_time = 77;
  actor.ppid = 4000;
  actor.pgid = actor.sid = 4000;
  actor.comm = "locker";
  actor.exe = exe;
  actor.uid = 1000;
  actor.user = "alice";
  return actor;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("steen-daemon-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_ / "share" / "docs");
    config_ = DefaultConfig();
    config_.paths = {(root_ / "share").string()};
    config_.state_dir = (root_ / "state").string();
    config_.canaries.enabled = false;
    config_.watchdog = std::chrono::seconds(0);
    registry_ = sys::TicketRegistry::Create(std::make_unique<CountingResponder>(answered_),
                                            sys::RealClock::Get(), milliseconds(60000), 1024);
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(root_);
  }

  void StartDaemon(std::unique_ptr<IncidentStore> incidents = nullptr,
                   std::size_t queue_capacity = 1024,
                   std::unique_ptr<vault::Vault> vault = nullptr) {
    auto source = std::make_unique<sys::FakeEventSource>(queue_capacity);
    source_ = source.get();
    DaemonDeps deps;
    deps.source = std::move(source);
    deps.control = &control_;
    deps.open_incidents = false;
    deps.incidents = std::move(incidents);
    deps.vault = std::move(vault);
    deps.sinks.push_back(std::make_unique<CapturingSink>(captured_));
    deps.attribute = [](pid_t pid) {
      Actor actor;
      actor.pid = pid;
      actor.start_time = 5;
      actor.ppid = 1;
      actor.exe = "/usr/bin/bash";
      return actor;
    };
    deps.abort_on_stall = false;
    deps.catalog_batch = catalog_batch_;
    deps.log = [this](const std::string& line) { log_.push_back(line); };
    auto daemon = Daemon::Start(config_, std::move(deps));
    ASSERT_TRUE(daemon.ok()) << daemon.status().message();
    daemon_ = std::move(*daemon);
  }

  vault::VaultOptions VaultOptionsForTest() const {
    vault::VaultOptions options;
    options.dir = (root_ / "share-vault").string();
    options.min_free_bytes = 0;
    return options;
  }
  void StartDaemonWithVault() {
    auto vault = vault::Vault::Open(VaultOptionsForTest());
    ASSERT_TRUE(vault.ok()) << vault.status().message();
    StartDaemon(nullptr, 1024, std::move(*vault));
  }

  milliseconds catalog_batch_{limits::kCatalogBatchMs};

  std::string Doc(int i) {
    return (root_ / "share" / "docs" / ("report" + std::to_string(i) + ".pdf")).string();
  }

  // An open-for-write permission event of `path` by `actor`, stamped from `fd`, without a ticket.
  sys::SysEvent OpenForWrite(const std::string& path, const Actor& actor, int fd) {
    sys::SysEvent ev;
    ev.kind = sys::SysEvent::Kind::kPermission;
    ev.event.op = FileOp::kOpenForWrite;
    ev.event.path = path;
    ev.event.actor = actor;
    Stamp(fd, &ev.event);
    return ev;
  }

  // A name event (create, delete, rename) by `actor`, 50 ms after the previous event.
  sys::SysEvent NameEvent(FileOp op, const std::string& path, const Actor& actor) {
    sys::SysEvent ev;
    ev.kind = sys::SysEvent::Kind::kFile;
    ev.event.op = op;
    ev.event.path = path;
    ev.event.actor = actor;
    ev.event.time_ns = clock_ns_ += 50'000'000;
    return ev;
  }

  // A new empty file at `path` opened for writing by `actor`, as the permission reader reports
  // it: allowed at once (no ticket), its state at the open recorded; with `vault`, the link the
  // reader keeps of every file opened in a tree.
  sys::SysEvent CreateEmpty(const std::string& path, const Actor& actor,
                            vault::Vault* vault = nullptr) {
    WriteFile(path, "");
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    sys::SysEvent ev = OpenForWrite(path, actor, fd);
    ev.allowed_empty = true;
    ::fstat(fd, &ev.stat_at_open);
    if (vault != nullptr) {
      EXPECT_TRUE(vault->KeepLink(fd, {path, ev.event.device, ev.event.inode}).ok()) << path;
    }
    ::close(fd);
    return ev;
  }

  sys::SysEvent Permission(const std::string& path, const Actor& actor) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    sys::SysEvent ev = OpenForWrite(path, actor, fd);
    ev.open_request.intent = sys::OpenIntent::kWrite;
    ev.ticket = registry_->Issue(sys::UniqueFd(fd));
    return ev;
  }

  sys::SysEvent CloseWrite(const std::string& path, const Actor& actor) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    sys::SysEvent ev;
    ev.kind = sys::SysEvent::Kind::kFile;
    ev.event.op = FileOp::kCloseWrite;
    ev.event.path = path;
    ev.event.actor = actor;
    Stamp(fd, &ev.event);
    ev.fd = sys::UniqueFd(fd);
    return ev;
  }

  void Stamp(int fd, FileEvent* event) {
    struct stat st {};
    ::fstat(fd, &st);
    event->device = st.st_dev;
    event->inode = st.st_ino;
    event->size = static_cast<uint64_t>(st.st_size);
    event->time_ns = clock_ns_ += 50'000'000;  // 20 files a second
    event->wall_time_ns = static_cast<int64_t>(clock_ns_);
  }

  // One in-place encryption as the kernel reports it: open for write (the old content is read
  // through the ticket), the write, close-write (the new content through the event fd).
  void EncryptInPlace(int i, const Actor& actor) {
    ASSERT_TRUE(source_->Push(Permission(Doc(i), actor)));
    daemon_->Poll(milliseconds(0));
    std::string bytes = RandomBytes(fs::file_size(Doc(i)), 1000 + i);
    int fd = ::open(Doc(i).c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_EQ(::pwrite(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
    ASSERT_TRUE(source_->Push(CloseWrite(Doc(i), actor)));
    daemon_->Poll(milliseconds(0));
  }

  void Populate(int n) {
    for (int i = 0; i < n; ++i)
      WriteFile(Doc(i), MakeCanaryContent("report.pdf", std::to_string(i)));
  }

  // A daemon with an incident store over 10 files, and Attacker() (pid 4242) encrypting them in
  // place until it is stopped; `*files` is how many it encrypted. The one incident's id.
  std::string StopAttackerWithIncidents(int* files) {
    auto store = IncidentStore::Open((root_ / "state" / "incidents.db").string());
    EXPECT_TRUE(store.ok()) << store.status().message();
    if (!store.ok()) return "";
    Populate(10);
    StartDaemon(std::move(*store));
    *files = 0;
    while (*files < 10 && control_.calls().empty()) EncryptInPlace((*files)++, Attacker());
    EXPECT_EQ(control_.calls().size(), 1u);
    auto list = daemon_->incidents()->List();
    EXPECT_TRUE(list.ok());
    if (!list.ok() || list->size() != 1) {
      ADD_FAILURE() << "one incident expected";
      return "";
    }
    return (*list)[0].id;
  }

  // What `steen resume` records: the operator says the incident was a false positive.
  void ResumeByOperator(const std::string& id) {
    IncidentStore* incidents = daemon_->incidents();
    ASSERT_TRUE(
        incidents->SetProcessState(id, 4242, 77, ProcessState::kResumed, "ok", OperatorActor(0))
            .ok());
    ASSERT_TRUE(
        incidents->Transition(id, IncidentState::kResumed, OperatorActor(0), "false positive")
            .ok());
  }

  int RenameCiphertextOverOriginals(
      const std::function<std::string(std::size_t size, int seed)>& ciphertext);

  std::vector<Alert> AlertsOf(const std::string& rule) {
    std::vector<Alert> out;
    for (const Alert& a : captured_->Get()) {
      if (a.rule_name == rule) out.push_back(a);
    }
    return out;
  }

  fs::path root_;
  WatchConfig config_;
  std::shared_ptr<std::atomic<int>> answered_ = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<sys::TicketRegistry> registry_;
  sys::RecordingProcessControl control_;
  std::shared_ptr<Captured> captured_ = std::make_shared<Captured>();
  sys::FakeEventSource* source_ = nullptr;
  std::unique_ptr<Daemon> daemon_;
  std::vector<std::string> log_;
  uint64_t clock_ns_ = 1'000'000'000'000;
};

// A writer that destroyed a file and opens the next one while its other writes are in flight (a
// multi-threaded encryptor) waits until those are judged; other writers never wait.
class DaemonHoldTest : public DaemonTest {
 protected:
  void Open(int i, const Actor& actor) {
    ASSERT_TRUE(source_->Push(Permission(Doc(i), actor)));
    daemon_->Poll(milliseconds(0));
  }
  void EncryptAndClose(int i, const Actor& actor) {
    WriteFile(Doc(i), RandomBytes(fs::file_size(Doc(i)), 2000 + i));
    ASSERT_TRUE(source_->Push(CloseWrite(Doc(i), actor)));
    daemon_->Poll(milliseconds(0));
  }
  // Two threads of the attacker open docs 0 and 1; doc 0 is encrypted and judged (one file
  // destroyed: a suspect, no alert) while doc 1 is still being written.
  void SuspectWithDocOneInFlight() {
    Open(0, attacker_);
    Open(1, attacker_);
    EncryptAndClose(0, attacker_);
  }
  const Actor attacker_ = Attacker();
  const Actor bystander_ = [] {
    Actor actor = Attacker(5151, "/usr/bin/libreoffice");
    actor.ppid = actor.pgid = actor.sid = 5000;
    return actor;
  }();
};

TEST_F(DaemonHoldTest, ASuspectsNextOpenWaitsUntilItsWritesInFlightAreJudged) {
  Populate(5);
  StartDaemon();
  Open(0, attacker_);
  Open(1, attacker_);
  ASSERT_EQ(answered_->load(), 2);  // no evidence yet: nobody waits
  EncryptAndClose(0, attacker_);    // one file destroyed: a suspect, no alert
  Open(2, attacker_);
  EXPECT_EQ(answered_->load(), 2) << "doc 1 is still being written";
  EXPECT_EQ(daemon_->hold_stats().held, 1u);
  Open(3, bystander_);
  EXPECT_EQ(answered_->load(), 3) << "another program does not wait";
  EncryptAndClose(1, attacker_);  // judged: 2 files, still below an alert
  EXPECT_EQ(answered_->load(), 4);
  EXPECT_EQ(daemon_->hold_stats().released_judged, 1u);
  EXPECT_TRUE(control_.calls().empty());
  // Doc 2 is in flight now: the next open waits for it in turn.
  Open(4, attacker_);
  EXPECT_EQ(answered_->load(), 4);
  EXPECT_EQ(daemon_->hold_stats().held, 2u);
  EXPECT_EQ(daemon_->stats().permission_answered, 4u);
}

TEST_F(DaemonHoldTest, HeldOpensGoOnceTheAlertStoppedTheWriter) {
  Populate(5);
  StartDaemon();
  for (int i = 0; i < 3; ++i) Open(i, attacker_);
  EncryptAndClose(0, attacker_);
  Open(3, attacker_);
  Open(4, attacker_);
  EXPECT_EQ(answered_->load(), 3);
  EncryptAndClose(1, attacker_);
  EXPECT_EQ(answered_->load(), 3) << "doc 2 is still being written";
  EncryptAndClose(2, attacker_);  // the third file: alert, suspend
  ASSERT_EQ(control_.calls().size(), 1u);
  EXPECT_EQ(control_.calls()[0].action, "suspend");
  EXPECT_EQ(answered_->load(), 5) << "the held opens return into a stopped process";
  EXPECT_EQ(daemon_->hold_stats().released_alert, 2u);
}

// The hold covers the suspect process (its threads), not the other workers its parent started
// (the alert stops those: ResponderTest.AStoppedWritersClonesAreStoppedWithIt).
TEST_F(DaemonHoldTest, AnotherWorkerOfTheSameParentIsNotHeld) {
  Populate(4);
  StartDaemon();
  Actor sibling = Attacker(4243);  // another worker of the same parent, with no evidence itself
  SuspectWithDocOneInFlight();
  Open(2, sibling);
  EXPECT_EQ(answered_->load(), 3);
  Open(3, attacker_);
  EXPECT_EQ(answered_->load(), 3) << "the suspect itself waits";
  EXPECT_EQ(daemon_->hold_stats().held, 1u);
}

// A file moved out of the trees is closed out there, unseen: its write is no longer in flight
// (class B encryptors move each file out, encrypt it there and move it back).
TEST_F(DaemonHoldTest, AFileMovedOutIsNoLongerAWriteInFlight) {
  Populate(3);
  StartDaemon();
  SuspectWithDocOneInFlight();
  Open(2, attacker_);
  ASSERT_EQ(answered_->load(), 2);
  const std::string outside = (root_ / "staging-report1.pdf").string();
  struct stat st {};
  ASSERT_EQ(::stat(Doc(1).c_str(), &st), 0);
  fs::rename(Doc(1), outside);
  sys::SysEvent moved = NameEvent(FileOp::kRename, Doc(1), attacker_);
  moved.event.new_path = outside;
  moved.event.device = st.st_dev;
  moved.event.inode = st.st_ino;
  ASSERT_TRUE(source_->Push(std::move(moved)));
  daemon_->Poll(milliseconds(0));
  EXPECT_EQ(answered_->load(), 3);
  EXPECT_EQ(daemon_->hold_stats().released_judged, 1u);
}

TEST_F(DaemonHoldTest, AHoldEndsWithItsBudget) {
  config_.hold_suspect_writes = milliseconds(50);
  Populate(3);
  StartDaemon();
  SuspectWithDocOneInFlight();  // doc 1 is never closed
  Open(2, attacker_);
  ASSERT_EQ(answered_->load(), 2);
  const auto start = std::chrono::steady_clock::now();
  while (answered_->load() < 3 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
    daemon_->Poll(milliseconds(200));
  }
  EXPECT_EQ(answered_->load(), 3);
  EXPECT_EQ(daemon_->hold_stats().released_budget, 1u);
}

TEST_F(DaemonHoldTest, NothingIsHeldInDryRunOrWhenTurnedOff) {
  for (bool dry_run : {true, false}) {
    config_.dry_run = dry_run;
    config_.hold_suspect_writes = milliseconds(dry_run ? 500 : 0);
    Populate(3);
    answered_->store(0);
    StartDaemon();
    SuspectWithDocOneInFlight();
    Open(2, attacker_);
    EXPECT_EQ(answered_->load(), 3) << dry_run;
    EXPECT_EQ(daemon_->hold_stats().held, 0u);
    daemon_.reset();
  }
}

TEST_F(DaemonTest, InPlaceEncryptionIsSuspendedWithinThreeFiles) {
  Populate(8);
  StartDaemon();
  const Actor attacker = Attacker();
  int files = 0;
  while (files < 8 && control_.calls().empty()) EncryptInPlace(files++, attacker);
  daemon_->Stop();

  ASSERT_EQ(control_.calls().size(), 1u);
  EXPECT_EQ(control_.calls()[0].action, "suspend");
  EXPECT_EQ(control_.calls()[0].pid, 4242);
  EXPECT_EQ(control_.calls()[0].start_time, 77u);
  EXPECT_LE(files, 3);
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].action, ResponseAction::kSuspended);
  EXPECT_EQ(alerts[0].actor.pid, 4242);
  EXPECT_NE(alerts[0].action_detail.find("SIGSTOP sent to 4242"), std::string::npos)
      << alerts[0].action_detail;
  // Every write was judged against the content it replaced.
  EXPECT_EQ(daemon_->stats().before_hits, static_cast<uint64_t>(files));
  EXPECT_EQ(daemon_->stats().analysis_errors, 0u);
  EXPECT_EQ(answered_->load(), files);
  EXPECT_EQ(daemon_->stats().permission_answered, static_cast<uint64_t>(files));
}

// A file opened for writing again, unchanged since its last close-write, is judged against the
// view taken then (not read again); once it changed, it is read again. An encryption of such a
// file is still judged against what it replaced.
TEST_F(DaemonTest, AnUnchangedFileIsNotReadAgainAtItsNextOpen) {
  Populate(2);
  StartDaemon();
  const Actor editor = Attacker(5000, "/usr/bin/editor");
  const std::string doc = Doc(0);
  ASSERT_TRUE(source_->Push(Permission(doc, editor)));
  ASSERT_TRUE(source_->Push(CloseWrite(doc, editor)));  // saved unchanged
  daemon_->Poll(milliseconds(0));
  const uint64_t analyses = daemon_->stats().analyses;
  EXPECT_EQ(daemon_->stats().views_reused, 0u);
  ASSERT_TRUE(source_->Push(Permission(doc, editor)));
  daemon_->Poll(milliseconds(0));
  EXPECT_EQ(daemon_->stats().views_reused, 1u);
  EXPECT_EQ(daemon_->stats().analyses, analyses) << "the unchanged file was read again";
  ASSERT_TRUE(source_->Push(CloseWrite(doc, editor)));
  daemon_->Poll(milliseconds(0));
  // Changed behind the daemon's back (no close-write seen): read again at the next open.
  ::usleep(2000);
  WriteFile(doc, MakeCanaryContent("report.pdf", "changed"));
  ASSERT_TRUE(source_->Push(Permission(doc, editor)));
  daemon_->Poll(milliseconds(0));
  EXPECT_EQ(daemon_->stats().views_reused, 1u);
  // The encryption of a file whose view was reused is judged like any other.
  const Actor attacker = Attacker();
  ASSERT_TRUE(source_->Push(CloseWrite(doc, editor)));
  daemon_->Poll(milliseconds(0));
  int files = 0;
  while (files < 2 && control_.calls().empty()) EncryptInPlace(files++, attacker);
  EXPECT_GE(daemon_->stats().views_reused, 2u);
  EXPECT_EQ(daemon_->stats().analysis_errors, 0u);
}

TEST_F(DaemonTest, FilesMovedOutAndBackEncryptedAreJudgedOnTheWayIn) {
  // Class B: each file leaves the tree, is encrypted outside and comes back under a new name.
  Populate(10);
  fs::create_directories(root_ / "outside");
  StartDaemon();
  const Actor attacker = Attacker();
  int files = 0;
  while (files < 10 && control_.calls().empty()) {
    const std::string original = Doc(files);
    const std::string away = (root_ / "outside" / "tmp").string();
    const std::string back = original + ".locked";
    fs::rename(original, away);
    sys::SysEvent out = NameEvent(FileOp::kRename, original, attacker);
    out.event.new_path = away;
    ASSERT_TRUE(source_->Push(std::move(out)));
    WriteFile(away, RandomBytes(fs::file_size(away), 50 + files));
    fs::rename(away, back);
    sys::SysEvent in;
    in.kind = sys::SysEvent::Kind::kFile;
    in.event.op = FileOp::kRename;
    in.event.new_path = back;  // where it came from is unknown to the kernel layer
    in.event.actor = attacker;
    in.event.time_ns = clock_ns_ += 50'000'000;
    ASSERT_TRUE(source_->Push(std::move(in)));
    daemon_->Poll(milliseconds(0));
    ++files;
  }
  daemon_->Stop();
  ASSERT_EQ(control_.calls().size(), 1u) << "not stopped after " << files << " files";
  EXPECT_EQ(control_.calls()[0].pid, 4242);
  EXPECT_LE(files, 10);
  EXPECT_EQ(daemon_->stats().moved_in_analysed, static_cast<uint64_t>(files));
}

// With a vault, the content before a write is its protective copy, measured only when what was
// written makes it matter: edits that leave valid files never read their copies; an encryption
// is judged against the copy (valid PDF to encrypted), and the copies hold what was overwritten.
TEST_F(DaemonTest, ProtectiveCopiesAreReadOnlyWhenTheWriteMadeThemMatter) {
  Populate(6);
  StartDaemonWithVault();
  const Actor editor = Attacker(5000, "/usr/bin/editor");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(source_->Push(Permission(Doc(i), editor)));
    daemon_->Poll(milliseconds(0));
    WriteFile(Doc(i), MakeCanaryContent("report.pdf", "edited " + std::to_string(i)));
    ASSERT_TRUE(source_->Push(CloseWrite(Doc(i), editor)));
    daemon_->Poll(milliseconds(0));
  }
  EXPECT_EQ(daemon_->stats().before_hits, 3u);
  EXPECT_EQ(daemon_->stats().before_copies_unread, 3u);
  EXPECT_EQ(daemon_->stats().analyses, 3u) << "only the files written were read";
  EXPECT_TRUE(captured_->Get().empty());

  const Actor attacker = Attacker();
  std::vector<std::string> originals;
  for (int i = 3; i < 6; ++i) originals.push_back(ReadAll(Doc(i)));
  int files = 0;
  while (files < 3 && control_.calls().empty()) EncryptInPlace(3 + files++, attacker);
  daemon_->Stop();  // delivers the alerts
  ASSERT_EQ(control_.calls().size(), 1u);
  EXPECT_EQ(daemon_->stats().before_copies_unread, 3u) << "the encrypted files' copies were read";
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_EQ(alerts.size(), 1u);
  bool from_valid_pdf = false;
  for (const Indicator& indicator : alerts[0].indicators) {
    if (indicator.name == "damaged_files" &&
        indicator.detail.find("from valid pdf") != std::string::npos) {
      from_valid_pdf = true;
    }
  }
  EXPECT_TRUE(from_valid_pdf) << alerts[0].message;
  for (int i = 0; i < files; ++i) {
    auto versions = daemon_->vault()->Versions(Doc(3 + i));
    ASSERT_TRUE(versions.ok() && !versions->empty());
    auto copy = daemon_->vault()->OpenObject(versions->back());
    ASSERT_TRUE(copy.ok()) << copy.status().ToString();
    sys::UniqueFd copy_fd(*copy);
    std::string restored(originals[i].size() + 1, '\0');
    restored.resize(static_cast<std::size_t>(
        std::max<ssize_t>(0, ::pread(copy_fd.get(), restored.data(), restored.size(), 0))));
    EXPECT_EQ(restored, originals[i]);
    EXPECT_EQ(versions->back().sha256.size(), 64u) << "hashed once the writer was answered";
  }
}

// A file that was empty before its write is new content, judged by its verdict: its blocks are
// not measured, and its view is not kept as the next write's before view (which must carry that
// measurement); the view of an in-place write is.
TEST_F(DaemonTest, NewFilesAreJudgedWithoutMeasuringTheirBlocks) {
  StartDaemon();
  const Actor app = Attacker(4300, "/usr/bin/cp");
  const std::string path = (root_ / "share" / "docs" / "photo.bin").string();
  ASSERT_TRUE(source_->Push(CreateEmpty(path, app)));
  daemon_->Poll(milliseconds(0));
  WriteFile(path, RandomBytes(64 * 1024, 5));
  ASSERT_TRUE(source_->Push(CloseWrite(path, app)));
  daemon_->Poll(milliseconds(0));
  EXPECT_EQ(daemon_->stats().new_files_unmeasured, 1u);
  // Opened for writing again, unchanged: read through the ticket (no view was kept).
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(source_->Push(Permission(path, app)));
    daemon_->Poll(milliseconds(0));
    ASSERT_TRUE(source_->Push(CloseWrite(path, app)));
    daemon_->Poll(milliseconds(0));
  }
  EXPECT_EQ(daemon_->stats().new_files_unmeasured, 1u);
  EXPECT_EQ(daemon_->stats().views_reused, 1u) << "the second reopen reuses the measured view";
}

// The move out of the trees is read after the fact: a file already rewritten out there is no
// content from before the attack, and copying it only filled the vault with ciphertext.
// A file created empty, written and deleted by one writer (SQLite's journal at every commit) held
// only that writer's bytes: the vault lets it go. Written by another writer in between, or
// deleted by another, it is kept like any deleted file.
TEST_F(DaemonTest, ScratchFilesDeletedByTheirOnlyWriterAreNotKept) {
  auto opened = vault::Vault::Open(VaultOptionsForTest());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  vault::Vault* vault = opened->get();
  StartDaemon(nullptr, 1024, std::move(*opened));
  const Actor app = Attacker(4300, "/usr/bin/python3");
  const Actor other = Attacker(4400, "/usr/bin/vim");
  // Created empty by `creator` (the source allows it at once and keeps the link), written by
  // `writer` through a ticket when it differs, then deleted by `deleter`.
  auto lifecycle = [&](const std::string& name, const Actor& creator, const Actor& writer,
                       const Actor& deleter) {
    const std::string path = (root_ / "share" / "docs" / name).string();
    sys::SysEvent create = CreateEmpty(path, creator, vault);
    const uint64_t device = create.event.device, inode = create.event.inode;
    ASSERT_TRUE(source_->Push(std::move(create)));
    daemon_->Poll(milliseconds(0));
    WriteFile(path, MakeCanaryContent("memo.txt", name));
    ASSERT_TRUE(source_->Push(CloseWrite(path, creator)));
    daemon_->Poll(milliseconds(0));
    if (writer.pid != creator.pid) {
      ASSERT_TRUE(source_->Push(Permission(path, writer)));
      daemon_->Poll(milliseconds(0));
    }
    fs::remove(path);
    sys::SysEvent del = NameEvent(FileOp::kDelete, path, deleter);
    del.event.device = device;
    del.event.inode = inode;
    ASSERT_TRUE(source_->Push(std::move(del)));
    daemon_->Poll(milliseconds(0));
  };
  lifecycle("app.db-journal", app, app, app);
  lifecycle("shared.tmp", app, other, app);
  lifecycle("handed-over.tmp", app, app, other);
  daemon_->Stop();
  EXPECT_EQ(daemon_->stats().scratch_files_dropped, 1u);
  EXPECT_TRUE(captured_->Get().empty());
  auto reader = vault::Vault::Open(VaultOptionsForTest());
  ASSERT_TRUE(reader.ok());
  const auto deleted_versions = [&](const std::string& name) {
    auto versions = (*reader)->Versions((root_ / "share" / "docs" / name).string());
    EXPECT_TRUE(versions.ok());
    std::size_t n = 0;
    for (const auto& v : *versions) n += v.kind == vault::VersionKind::kDeleted;
    return n;
  };
  EXPECT_EQ(deleted_versions("app.db-journal"), 0u) << "a scratch file was kept";
  EXPECT_EQ(deleted_versions("shared.tmp"), 1u) << "another writer's bytes were let go";
  EXPECT_EQ(deleted_versions("handed-over.tmp"), 1u) << "another party's delete was let go";
}

// An encryptor that writes a temporary file of ciphertext and renames it over the original (no
// write of the original at all): the rename is judged like a write, against the original's
// content from the link the vault kept when it was read. Before, it went unseen.
// What `openssl enc -in F -out F.tmp && mv -f F.tmp F` does to each file until stopped (at most 6):
// read the original (the vault keeps a link), write `ciphertext(size, seed)` to a new temporary
// file, rename it over the original. Returns how many files it replaced.
int DaemonTest::RenameCiphertextOverOriginals(
    const std::function<std::string(std::size_t size, int seed)>& ciphertext) {
  Populate(6);
  auto opened = vault::Vault::Open(VaultOptionsForTest());
  EXPECT_TRUE(opened.ok()) << opened.status().message();
  if (!opened.ok()) return 0;
  vault::Vault* vault = opened->get();
  StartDaemon(nullptr, 1024, std::move(*opened));
  const Actor attacker = Attacker();
  int files = 0;
  while (files < 6 && control_.calls().empty()) {
    const std::string original = Doc(files);
    const std::string temporary = original + ".tmp";
    {  // read: the permission reader keeps a link of every file opened in a tree
      int fd = ::open(original.c_str(), O_RDONLY | O_CLOEXEC);
      EXPECT_GE(fd, 0);
      sys::SysEvent read = OpenForWrite(original, attacker, fd);
      EXPECT_TRUE(vault->KeepLink(fd, {original, read.event.device, read.event.inode}).ok());
      ::close(fd);
    }
    sys::SysEvent create = CreateEmpty(temporary, attacker);
    const uint64_t device = create.event.device, inode = create.event.inode;
    EXPECT_TRUE(source_->Push(std::move(create)));
    daemon_->Poll(milliseconds(0));
    WriteFile(temporary, ciphertext(fs::file_size(original), 2000 + files));
    EXPECT_TRUE(source_->Push(CloseWrite(temporary, attacker)));
    daemon_->Poll(milliseconds(0));
    fs::rename(temporary, original);
    sys::SysEvent moved = NameEvent(FileOp::kRename, temporary, attacker);
    moved.event.new_path = original;
    moved.event.device = device;
    moved.event.inode = inode;
    EXPECT_TRUE(source_->Push(std::move(moved)));
    daemon_->Poll(milliseconds(0));
    ++files;
  }
  daemon_->Stop();
  return files;
}

TEST_F(DaemonTest, CiphertextRenamedOverItsOriginalIsJudgedAgainstTheKeptCopy) {
  const int files = RenameCiphertextOverOriginals(RandomBytes);
  ASSERT_EQ(control_.calls().size(), 1u);
  EXPECT_EQ(control_.calls()[0].action, "suspend");
  EXPECT_LE(files, 3);
  EXPECT_EQ(daemon_->stats().renames_over_judged, static_cast<uint64_t>(files));
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].message.find("went from valid"), std::string::npos) << alerts[0].message;
}

// The same with `openssl enc -pass ...`, whose output is a valid container ("Salted__", salt,
// ciphertext): intact as a file, but an encrypted container where a document was.
TEST_F(DaemonTest, EncryptedContainersRenamedOverOriginalsAreDestruction) {
  const int files = RenameCiphertextOverOriginals(
      [](std::size_t size, int seed) { return "Salted__" + RandomBytes(8 + size, seed); });
  ASSERT_EQ(control_.calls().size(), 1u);
  EXPECT_EQ(control_.calls()[0].action, "suspend");
  EXPECT_LE(files, 3);
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_NE(alerts[0].message.find("to an encrypted container (openssl-enc)"), std::string::npos)
      << alerts[0].message;
}

TEST_F(DaemonTest, FileMovedOutIsCopiedOnlyWhileUnchangedSinceTheMove) {
  Populate(2);
  fs::create_directories(root_ / "outside");
  StartDaemonWithVault();
  auto move_out = [&](int i, bool rewrite_outside) {
    const std::string away = (root_ / "outside" / std::to_string(i)).string();
    ::usleep(20'000);  // the move's ctime later than the file's last write (coarse clock)
    fs::rename(Doc(i), away);
    if (rewrite_outside) {
      ::usleep(20'000);
      WriteFile(away, RandomBytes(fs::file_size(away), 7));
    }
    sys::SysEvent out;
    out.kind = sys::SysEvent::Kind::kFile;
    out.event.op = FileOp::kRename;
    out.event.path = Doc(i);
    out.event.new_path = away;
    out.event.actor = Attacker();
    out.event.time_ns = clock_ns_ += 50'000'000;
    ASSERT_TRUE(source_->Push(std::move(out)));
    daemon_->Poll(milliseconds(0));
  };
  const std::string original0 = ReadAll(Doc(0));
  move_out(0, false);
  move_out(1, true);
  daemon_->Stop();
  EXPECT_EQ(daemon_->stats().moved_out_changed, 1u);
  vault::VaultOptions options = VaultOptionsForTest();
  auto reader = vault::Vault::Open(options);
  ASSERT_TRUE(reader.ok());
  auto kept = (*reader)->Versions(Doc(0));
  ASSERT_TRUE(kept.ok());
  ASSERT_EQ(kept->size(), 1u);
  const std::string copy = (root_ / "copy0").string();
  ASSERT_TRUE((*reader)->Materialize(kept->front(), copy).ok());
  EXPECT_EQ(ReadAll(copy), original0);
  auto none = (*reader)->Versions(Doc(1));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "a copy of what was written outside was kept";
  bool gap_logged = false;
  for (const std::string& line : log_)
    gap_logged = gap_logged || line.find("moved out") != std::string::npos;
  EXPECT_TRUE(gap_logged) << "no earlier copy: the gap must be said";
}

TEST_F(DaemonTest, IncidentRecordsTheSuspensionAndOperatorResumeIsRespected) {
  int files = 0;
  const std::string id = StopAttackerWithIncidents(&files);
  ASSERT_FALSE(id.empty());
  auto full = daemon_->incidents()->Get(id);
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->state, IncidentState::kSuspended);
  bool suspended_recorded = false;
  for (const IncidentProcess& p : full->processes) {
    suspended_recorded |= p.actor.pid == 4242 && p.state == ProcessState::kSuspended;
  }
  EXPECT_TRUE(suspended_recorded);

  ResumeByOperator(id);
  daemon_->CheckOperatorDecisions();
  EXPECT_EQ(daemon_->stats().operator_decisions, 1u);
  // The same process goes on writing: alerts may fire again, but it is never stopped again.
  while (files < 10) EncryptInPlace(files++, Attacker());
  daemon_->Stop();
  EXPECT_EQ(control_.calls().size(), 1u);
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts[0].incident_id, id);
}

// A process the operator killed with its incident closes, as it dies, the files it had open:
// written before the stop, judged after the decision (the SMB e2e test's killed smbd released
// three partly encrypted files, and a second incident, of its user, blocked the client again
// after the operator's resume of the first). Their files join the incident that killed it.
TEST_F(DaemonTest, FilesClosedByAProcessKilledWithItsIncidentJoinThatIncident) {
  int files = 0;
  const std::string id = StopAttackerWithIncidents(&files);
  ASSERT_FALSE(id.empty());
  IncidentStore* incidents = daemon_->incidents();
  ASSERT_TRUE(
      incidents->SetProcessState(id, 4242, 77, ProcessState::kKilled, "", OperatorActor(0)).ok());
  ASSERT_TRUE(incidents->Transition(id, IncidentState::kKilled, OperatorActor(0), "").ok());
  daemon_->CheckOperatorDecisions();
  const std::size_t calls = control_.calls().size();
  const auto before = incidents->Get(id);
  ASSERT_TRUE(before.ok());
  while (files < 10) EncryptInPlace(files++, Attacker());
  EXPECT_GE(daemon_->stats().alerts_of_killed, 1u) << "the late files raised no alert to fold";
  auto list = incidents->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 1u) << "a second incident for a killed process";
  const auto after = incidents->Get(id);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(after->file_count, before->file_count);
  EXPECT_EQ(control_.calls().size(), calls) << "nothing is signalled again";
  // Another process's damage is a new incident as ever.
  Populate(16);
  while (files < 16) EncryptInPlace(files++, Attacker(5555, "/tmp/other"));
  list = incidents->List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
}

// `steen resume` lifts an SMB client's block at once, and the client's next connection may be
// judged before the daemon's next look at the incidents (every kIncidentPollMs): an alert from
// the resumed incident's own evidence must first see the decision, not stop the client again in
// a second incident (the SMB e2e test's next case was refused so, under load).
// An smbd session stopped inside Samba's code, where it may hold a lock of the databases every
// other client's smbd needs, is stepped (SIGCONT, a short run, SIGSTOP) until it stops at its
// event loop's wait (watch/safe_stops.h).
TEST_F(DaemonTest, AnSmbdStoppedOutsideItsEventLoopIsSteppedToIt) {
  auto store = IncidentStore::Open((root_ / "state" / "incidents.db").string());
  ASSERT_TRUE(store.ok()) << store.status().message();
  Populate(8);
  StartDaemon(std::move(*store));
  control_.ScriptStopPoints({sys::StopPoint::kElsewhere, sys::StopPoint::kEventWait});
  Actor smbd = Attacker(4242, "/usr/sbin/smbd");
  smbd.comm = "smbd";
  smbd.smb_client_address = "198.18.0.2";
  int files = 0;
  while (files < 8 && control_.calls().empty()) EncryptInPlace(files++, smbd);
  auto actions = [&] {
    std::vector<std::string> out;
    for (const auto& call : control_.calls()) {
      EXPECT_EQ(call.pid, 4242);
      out.push_back(call.action);
    }
    return out;
  };
  for (int i = 0; i < 500 && actions().size() < 5; ++i) daemon_->Poll(milliseconds(2));
  EXPECT_EQ(actions(),
            (std::vector<std::string>{"suspend", "inspect", "resume", "suspend", "inspect"}));
  daemon_->Stop();
  EXPECT_TRUE(std::any_of(log_.begin(), log_.end(), [](const std::string& line) {
    return line.find("smbd stops: 0 at the event loop's wait at once, 1 after 1 steps") !=
           std::string::npos;
  })) << ::testing::PrintToString(log_);
}

TEST_F(DaemonTest, AnAlertFirstSeesAResumeNotPolledYet) {
  int files = 0;
  const std::string id = StopAttackerWithIncidents(&files);
  ASSERT_FALSE(id.empty());
  ResumeByOperator(id);
  // No CheckOperatorDecisions: the next alert's own look must find the decision.
  while (files < 10) EncryptInPlace(files++, Attacker());
  daemon_->Stop();
  EXPECT_EQ(control_.calls().size(), 1u) << "stopped again after the operator's resume";
  EXPECT_EQ(daemon_->stats().operator_decisions, 1u);
}

TEST_F(DaemonTest, EventFloodIsBoundedAndCounted) {
  StartDaemon(nullptr, /*queue_capacity=*/64);
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    sys::SysEvent ev;
    ev.kind = sys::SysEvent::Kind::kFile;
    ev.event.op = FileOp::kCreate;
    ev.event.path = Doc(i);
    ev.event.actor = Attacker();
    if (!source_->Push(std::move(ev))) ++refused;
  }
  EXPECT_EQ(refused, 1000 - 64);
  EXPECT_EQ(daemon_->source_stats().dropped, static_cast<uint64_t>(refused));
  int handled = 0;
  for (int round = 0; round < 10; ++round) handled += daemon_->Poll(milliseconds(0));
  EXPECT_EQ(handled, 64);
  daemon_->Stop();
  EXPECT_EQ(daemon_->stats().handler_errors, 0u);
}

TEST_F(DaemonTest, DryRunDecidesButSignalsNothing) {
  config_.dry_run = true;
  Populate(5);
  StartDaemon();
  for (int i = 0; i < 5; ++i) EncryptInPlace(i, Attacker());
  daemon_->Stop();
  EXPECT_TRUE(control_.calls().empty());
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_FALSE(alerts.empty());
  EXPECT_EQ(alerts[0].action, ResponseAction::kDryRun);
  EXPECT_EQ(alerts[0].pids, std::vector<pid_t>{4242});
  EXPECT_NE(alerts[0].action_detail.find("would send SIGSTOP"), std::string::npos);
}

TEST_F(DaemonTest, AlertOnlyActionSignalsNothing) {
  config_.action = Action::kAlert;
  Populate(5);
  StartDaemon();
  for (int i = 0; i < 5; ++i) EncryptInPlace(i, Attacker());
  daemon_->Stop();
  EXPECT_TRUE(control_.calls().empty());
  ASSERT_FALSE(AlertsOf("ransomware-encryption").empty());
  EXPECT_EQ(AlertsOf("ransomware-encryption")[0].action, ResponseAction::kNone);
}

TEST_F(DaemonTest, ProtectedExecutableIsNeverSuspended) {
  Populate(5);
  StartDaemon();
  for (int i = 0; i < 5; ++i) EncryptInPlace(i, Attacker(4343, "/usr/sbin/sshd"));
  daemon_->Stop();
  EXPECT_TRUE(control_.calls().empty());
  auto alerts = AlertsOf("ransomware-encryption");
  ASSERT_FALSE(alerts.empty());  // the alert still fires
  EXPECT_NE(alerts[0].action, ResponseAction::kSuspended);
}

TEST_F(DaemonTest, OverflowRaisesAnAlertAndRescansWhatWasMissed) {
  Populate(3);
  StartDaemon();
  // Damage made while events were lost: only the rescan can see it.
  WriteFile(Doc(1), RandomBytes(fs::file_size(Doc(1)), 9));
  sys::SysEvent ev;
  ev.kind = sys::SysEvent::Kind::kOverflow;
  ev.detail = "kernel fanotify queue overflowed";
  ASSERT_TRUE(source_->Push(std::move(ev)));
  daemon_->Poll(milliseconds(0));
  ASSERT_TRUE(daemon_->WaitRescan(milliseconds(30000)));
  daemon_->Stop();
  ASSERT_EQ(AlertsOf("queue-overflow").size(), 1u);
  EXPECT_EQ(daemon_->stats().overflows, 1u);
  auto rescan = AlertsOf("rescan-damage");
  ASSERT_EQ(rescan.size(), 1u);
  EXPECT_EQ(rescan[0].file_count, 1);
  EXPECT_EQ(rescan[0].files, std::vector<std::string>{Doc(1)});
}

TEST_F(DaemonTest, PermissionTicketIsAnsweredWhenAnalysisFails) {
  StartDaemon();
  // A directory's fd cannot be read as a file: the analysis fails, the open is still allowed.
  int fd = ::open((root_ / "share" / "docs").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  sys::SysEvent ev;
  ev.kind = sys::SysEvent::Kind::kPermission;
  ev.event.op = FileOp::kOpenForWrite;
  ev.event.path = (root_ / "share" / "docs").string();
  ev.event.actor = Attacker();
  ev.ticket = registry_->Issue(sys::UniqueFd(fd));
  ASSERT_TRUE(ev.ticket.has_value());
  ASSERT_TRUE(source_->Push(std::move(ev)));
  EXPECT_EQ(daemon_->Poll(milliseconds(0)), 1);
  EXPECT_EQ(answered_->load(), 1);
  EXPECT_EQ(daemon_->stats().analysis_errors, 1u);
  EXPECT_EQ(registry_->Outstanding(), 0u);
}

TEST_F(DaemonTest, VanishedProcessAndFileAreScoredWithoutCrash) {
  StartDaemon();
  sys::SysEvent ev;  // close-write without fd (file gone) by a process that exited (pid only)
  ev.kind = sys::SysEvent::Kind::kFile;
  ev.event.op = FileOp::kCloseWrite;
  ev.event.path = Doc(99);
  ev.event.actor.pid = 31337;
  ASSERT_TRUE(source_->Push(std::move(ev)));
  sys::SysEvent del;
  del.kind = sys::SysEvent::Kind::kFile;
  del.event.op = FileOp::kDelete;
  del.event.path = Doc(98);
  ASSERT_TRUE(source_->Push(std::move(del)));
  EXPECT_EQ(daemon_->Poll(milliseconds(0)), 2);
  daemon_->Stop();
  EXPECT_EQ(daemon_->stats().handler_errors, 0u);
  EXPECT_TRUE(captured_->Get().empty());
}

TEST_F(DaemonTest, CanaryOpenedForWriteStopsTheWriterBeforeItWrites) {
  config_.canaries.enabled = true;
  config_.canaries.max_directories = 4;
  StartDaemon();
  auto canaries = daemon_->canary_paths();
  ASSERT_EQ(canaries.size(), 2u);  // share and share/docs
  for (const std::string& path : canaries) EXPECT_TRUE(fs::exists(path)) << path;
  ASSERT_TRUE(source_->Push(Permission(canaries[1], Attacker())));
  daemon_->Poll(milliseconds(0));
  ASSERT_EQ(control_.calls().size(), 1u);
  EXPECT_EQ(control_.calls()[0].action, "suspend");
  EXPECT_EQ(answered_->load(), 1);
  daemon_->Stop();
  auto alerts = AlertsOf("canary-touched");
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].action, ResponseAction::kSuspended);
  // Untouched canaries are removed on a clean stop.
  for (const std::string& path : canaries) EXPECT_FALSE(fs::exists(path)) << path;
}

TEST_F(DaemonTest, DeletedCanaryIsRestored) {
  config_.canaries.enabled = true;
  config_.canaries.max_directories = 1;
  StartDaemon();
  auto canaries = daemon_->canary_paths();
  ASSERT_EQ(canaries.size(), 1u);
  fs::remove(canaries[0]);
  daemon_->Poll(milliseconds(0));  // the first periodic pass checks the canaries
  EXPECT_TRUE(fs::exists(canaries[0]));
  EXPECT_EQ(daemon_->stats().canaries_restored, 1u);
}

TEST(CanaryContent, DocumentsAreValidForTheAnalyzer) {
  ContentAnalyzer analyzer;
  for (std::string name :
       {"2024 budget review.xlsx", "board minutes.docx", "contracts.pdf", "memo.txt"}) {
    std::string bytes = MakeCanaryContent(name, "finance");
    MemoryByteSource source(bytes);
    auto analysis = analyzer.Analyze(source);
    ASSERT_TRUE(analysis.ok());
    EXPECT_EQ(analysis->verdict, Verdict::kIntact) << name << ": " << analysis->format;
    EXPECT_NE(bytes, MakeCanaryContent(name, "hr")) << "canaries differ per folder";
  }
  EXPECT_EQ(ExpandCanaryName("{folder} inventory.xlsx", "/srv/share/finance"),
            "finance inventory.xlsx");
}

TEST(ContentViewTest, RandomBlockFractionComesFromTheBytesRead) {
  ContentAnalyzer analyzer;
  char path[] = "/tmp/steen-view-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string random = RandomBytes(256 * 1024, 3);
  ASSERT_EQ(::write(fd, random.data(), random.size()), static_cast<ssize_t>(random.size()));
  auto view = AnalyzeFd(analyzer, fd);
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->blocks_measured);
  EXPECT_GT(view->random_block_fraction, 0.9);
  EXPECT_EQ(view->verdict, Verdict::kDamaged);
  ASSERT_EQ(::ftruncate(fd, 0), 0);
  view = AnalyzeFd(analyzer, fd);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->format, "empty");
  ::close(fd);
  ::unlink(path);
}

TEST(ResponderTest, KillAfterGraceUnlessSpared) {
  sys::RecordingProcessControl control;
  ResponderOptions options;
  options.kill_after = std::chrono::seconds(30);
  Responder responder(options, &control, nullptr);
  ResponseTargets targets;
  targets.processes = {Attacker(10), Attacker(11)};
  Alert alert;
  ResponseOutcome outcome = responder.Respond(alert, targets, 0);
  EXPECT_EQ(outcome.action, ResponseAction::kSuspended);
  EXPECT_EQ(outcome.pids, (std::vector<pid_t>{10, 11}));
  responder.Track(outcome, "INC-1", 0);
  responder.Spare(11, 77);
  EXPECT_TRUE(responder.TakeDueKills(29'000'000'000ull).empty());
  auto due = responder.TakeDueKills(30'000'000'000ull);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].actor.pid, 10);
  EXPECT_TRUE(responder.Kill(due[0].actor).ok());
  EXPECT_FALSE(responder.Kill(Attacker(11)).ok()) << "spared processes are never killed";
  // A spared process is refused on the next alert too.
  control.calls();
  ResponseTargets again;
  again.processes = {Attacker(11)};
  EXPECT_EQ(responder.Respond(alert, again, 0).processes[0].state, ProcessState::kRefused);
}

TEST(ResponderTest, SpawnerIsStoppedFirstAndCheckedByPolicy) {
  sys::RecordingProcessControl control;
  Responder responder({}, &control, [](pid_t pid) {
    Actor a;
    a.pid = pid;
    a.start_time = 9;
    a.ppid = 1;
    a.exe = pid == 50 ? "/usr/sbin/sshd" : "/usr/bin/drill";
    return a;
  });
  ResponseTargets targets;
  targets.processes = {Attacker(10)};
  targets.spawner_pid = 60;
  responder.Respond(Alert{}, targets, 0);
  ASSERT_EQ(control.calls().size(), 2u);
  EXPECT_EQ(control.calls()[0].pid, 60);
  targets.spawner_pid = 50;  // protected
  auto outcome = responder.Respond(Alert{}, targets, 0);
  EXPECT_EQ(control.calls().size(), 3u);
  EXPECT_NE(outcome.detail.find("not signalled"), std::string::npos);
  // A spawner that started after a worker it would have spawned is another process with the
  // same pid (the detector's ancestor pids can be minutes old): refused, not stopped.
  ResponseTargets reused;
  reused.processes = {Attacker(12)};
  reused.processes[0].start_time = 5;  // before the view's 9
  reused.spawner_pid = 60;
  outcome = responder.Respond(Alert{}, reused, 0);
  ASSERT_EQ(control.calls().size(), 4u);
  EXPECT_EQ(control.calls()[3].pid, 12);
  ASSERT_FALSE(outcome.processes.empty());
  EXPECT_EQ(outcome.processes[0].actor.pid, 60);
  EXPECT_EQ(outcome.processes[0].state, ProcessState::kRefused);
  EXPECT_NE(outcome.processes[0].reason.find("reused"), std::string::npos);
}

// /proc of a process tree: drill 60 (start 9) with workers 61..63; 64 is sshd; 70 is older than
// 60 (its parent pid names a previous process 60, reused).
Actor TreeView(pid_t pid) {
  Actor a;
  a.pid = pid;
  a.start_time = pid == 70 ? 1 : 9 + static_cast<uint64_t>(pid);
  a.ppid = pid == 60 ? 1 : 60;
  a.exe = pid == 64 ? "/usr/sbin/sshd" : "/usr/bin/drill";
  if (pid == 62) a.exe.clear();  // exited meanwhile
  return a;
}

std::vector<pid_t> Suspended(sys::RecordingProcessControl& control) {
  std::vector<pid_t> pids;
  for (const auto& call : control.calls()) {
    if (call.action == "suspend") pids.push_back(call.pid);
  }
  return pids;
}

// The responder's process listing over the processes `pids` as `view` shows them (the same for
// the quick read of a family as for the full read).
Responder::ListProcesses ProcessesIn(Actor (*view)(pid_t), std::vector<pid_t> pids) {
  return [view, pids](const std::vector<pid_t>&) {
    std::vector<sys::ParentLink> links;
    for (pid_t pid : pids) {
      const Actor a = view(pid);
      links.push_back({pid, a.ppid, a.start_time});
    }
    return links;
  };
}

const Responder::ListProcesses TreeProcesses = ProcessesIn(TreeView, {60, 61, 62, 63, 64, 70});

TEST(ResponderTest, StoppingATreesRootStopsItsWorkersThatNoJudgedFileNamedYet) {
  sys::RecordingProcessControl control;
  Responder responder({}, &control, TreeView, nullptr, nullptr, TreeProcesses);
  ResponseTargets targets;
  targets.processes = {Attacker(10)};
  targets.spawner_pid = 60;
  targets.tree_root = 60;
  ResponseOutcome outcome = responder.Respond(Alert{}, targets, 0);
  // The spawner, the contributor, then the workers: 62 is gone, 64 is protected, 70 is another
  // process's child.
  EXPECT_EQ(Suspended(control), (std::vector<pid_t>{60, 10, 61, 63}));
  EXPECT_EQ(responder.stats().tree_members, 2u);
  ASSERT_EQ(outcome.processes.size(), 5u);
  EXPECT_NE(outcome.processes[2].reason.find("in process tree 60"), std::string::npos);
  EXPECT_EQ(outcome.processes[4].state, ProcessState::kRefused);
  EXPECT_EQ(outcome.processes[4].actor.pid, 64);
}

// The family is read first and acted on before the rest of /proc is read (that read took ~6 ms
// under an attack's load, while the workers wrote on); the full read then finds what the quick
// one missed, and nobody is signalled twice.
TEST(ResponderTest, TheFamilyIsStoppedBeforeEveryProcessIsRead) {
  sys::RecordingProcessControl control;
  std::vector<std::vector<pid_t>> asked;
  std::vector<pid_t> suspended_before_full_read;
  Responder::ListProcesses processes = [&](const std::vector<pid_t>& family_of) {
    asked.push_back(family_of);
    std::vector<sys::ParentLink> links;
    if (family_of.empty()) {
      suspended_before_full_read = Suspended(control);
      for (pid_t pid : {60, 61, 62, 63, 64, 70}) {
        links.push_back({pid, TreeView(pid).ppid, TreeView(pid).start_time});
      }
    } else {
      links.push_back({61, 60, TreeView(61).start_time});  // the quick read missed 63
    }
    return links;
  };
  Responder responder({}, &control, TreeView, nullptr, nullptr, processes);
  ResponseTargets targets;
  targets.processes = {Attacker(10)};
  targets.spawner_pid = 60;
  targets.tree_root = 60;
  responder.Respond(Alert{}, targets, 0);
  ASSERT_EQ(asked.size(), 2u);
  // The tree's root and the stopped writers' parents (the attacker's is 4000).
  EXPECT_EQ(asked[0], (std::vector<pid_t>{60, 4000}));
  EXPECT_TRUE(asked[1].empty());
  EXPECT_EQ(suspended_before_full_read, (std::vector<pid_t>{60, 10, 61}));
  EXPECT_EQ(Suspended(control), (std::vector<pid_t>{60, 10, 61, 63}));
  EXPECT_EQ(responder.stats().tree_members, 2u);
  // No family to read first (no tree root, the writer's parent is init): one full read.
  asked.clear();
  sys::RecordingProcessControl control2;
  Responder orphans({}, &control2, TreeView, nullptr, nullptr, processes);
  ResponseTargets orphan_targets;
  Actor orphan = Attacker(11);
  orphan.ppid = 1;
  orphan_targets.processes = {orphan};
  orphans.Respond(Alert{}, orphan_targets, 0);
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_TRUE(asked[0].empty());
}

TEST(ResponderTest, ATreesWorkersAreLeftAloneWhenItsRootIsNotStopped) {
  sys::RecordingProcessControl control;
  ResponderOptions options;
  Responder responder(options, &control, TreeView, nullptr, nullptr, TreeProcesses);
  ResponseTargets targets;
  targets.processes = {Attacker(10)};
  targets.tree_root = 60;
  // The root is no target (it contributed and the policy refused it, or no spawner is named).
  responder.Respond(Alert{}, targets, 0);
  EXPECT_EQ(Suspended(control), (std::vector<pid_t>{10}));
  // The operator resumed the root earlier: neither it nor its workers are stopped again.
  responder.Spare(60, TreeView(60).start_time);
  targets.spawner_pid = 60;
  responder.Respond(Alert{}, targets, 0);
  EXPECT_EQ(Suspended(control), (std::vector<pid_t>{10, 10}));
  // Dry run decides the same and signals nothing.
  sys::RecordingProcessControl dry_control;
  options.dry_run = true;
  Responder dry(options, &dry_control, TreeView, nullptr, nullptr, TreeProcesses);
  ResponseOutcome outcome = dry.Respond(Alert{}, targets, 0);
  EXPECT_TRUE(dry_control.calls().empty());
  EXPECT_EQ(outcome.pids, (std::vector<pid_t>{60, 10, 61, 63}));
}

// /proc of work split over forked processes: locker 80 forked 81, 82 and 83 (83 as another
// user); 84 is an editor the same parent started; 86 is a locker under a protected parent 85.
Actor ForkedView(pid_t pid) {
  Actor a;
  a.pid = pid;
  a.start_time = 100 + static_cast<uint64_t>(pid);
  a.ppid = pid == 80 ? 4000 : pid == 86 ? 85 : 80;
  a.exe = pid == 84 ? "/usr/bin/vim" : pid == 85 ? "/usr/sbin/sshd" : "/usr/bin/locker";
  a.uid = pid == 83 ? 0 : 1000;
  return a;
}

const Responder::ListProcesses ForkedProcesses =
    ProcessesIn(ForkedView, {80, 81, 82, 83, 84, 85, 86});

TEST(ResponderTest, AStoppedWritersClonesAreStoppedWithIt) {
  sys::RecordingProcessControl control;
  Responder responder({}, &control, ForkedView, nullptr, nullptr, ForkedProcesses);
  ResponseTargets targets;
  targets.processes = {ForkedView(81)};
  ResponseOutcome outcome = responder.Respond(Alert{}, targets, 0);
  // The writer, its parent (same program: it forks them), its sibling of the same program and
  // user; not the other user's process, not the editor.
  EXPECT_EQ(Suspended(control), (std::vector<pid_t>{81, 80, 82}));
  ASSERT_EQ(outcome.processes.size(), 3u);
  EXPECT_NE(outcome.processes[2].reason.find("runs the same program as 81"), std::string::npos);
  // Under a protected parent, the writer alone.
  sys::RecordingProcessControl control2;
  Responder responder2({}, &control2, ForkedView, nullptr, nullptr, ForkedProcesses);
  targets.processes = {ForkedView(86)};
  responder2.Respond(Alert{}, targets, 0);
  EXPECT_EQ(Suspended(control2), (std::vector<pid_t>{86}));
  // An smbd's siblings serve other clients: never.
  sys::RecordingProcessControl control3;
  Responder responder3({}, &control3, ForkedView, nullptr, nullptr, ForkedProcesses);
  Actor smbd = ForkedView(81);
  smbd.smb_client_address = "198.18.0.2";
  targets.processes = {smbd};
  responder3.Respond(Alert{}, targets, 0);
  EXPECT_EQ(Suspended(control3), (std::vector<pid_t>{81}));
}

// The catalog rows of a stream of events are committed together, at the latest kCatalogBatchMs
// after the first (a commit per batch of events was one per file under rsync), and at once when
// the loop finds no more events: another process (`steen rollback`) sees them that late at most.
TEST_F(DaemonTest, CatalogRowsAreCommittedInBatchesOfBoundedAge) {
  Populate(3);
  catalog_batch_ = milliseconds(300);  // long enough for a loaded sanitizer build's Poll
  StartDaemonWithVault();
  auto reader = vault::Vault::Open(VaultOptionsForTest());
  ASSERT_TRUE(reader.ok());
  const vault::ActorRef who = vault::ToActorRef(Attacker());
  const auto committed = [&] {
    auto changes = (*reader)->ChangesBy({who}, 0);
    EXPECT_TRUE(changes.ok());
    return changes.ok() ? changes->size() : 0u;
  };
  const auto create = [&](int i) {
    ASSERT_TRUE(source_->Push(NameEvent(FileOp::kCreate, Doc(i), Attacker())));
    EXPECT_EQ(daemon_->Poll(milliseconds(0)), 1);
  };
  create(0);
  EXPECT_EQ(committed(), 0u) << "a batch younger than kCatalogBatchMs was committed";
  ::usleep(310'000);
  create(1);
  EXPECT_EQ(committed(), 2u) << "a batch older than kCatalogBatchMs was not committed";
  create(2);
  EXPECT_EQ(committed(), 2u);
  EXPECT_EQ(daemon_->Poll(milliseconds(0)), 0);
  EXPECT_EQ(committed(), 3u) << "an idle loop left its batch open";
}

}  // namespace
}  // namespace steen::watch
