// Attribution, exe hashing and process control against real (child) processes; no root needed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <thread>

#include "steen/limits.h"
#include "sys/clock.h"
#include "sys/exe_hasher.h"
#include "sys/file_opener.h"
#include "sys/proc.h"
#include "sys/process_control.h"
#include "sys/process_history.h"
#include "sys/smb_sessions.h"

namespace steen::sys {
namespace {

pid_t SpawnSleeper() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::alarm(30);  // never outlive the test
    for (;;) ::pause();
  }
  return pid;
}

char StateOf(pid_t pid) {
  auto text = ReadSmallFile(DefaultFileOpener(), "/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!text.ok()) return '?';
  auto st = ParseProcStat(*text);
  return st ? st->state : '?';
}

// A temporary folder standing in for /proc, removed when the test ends, failed assertions
// included (each test made and removed its own, and a failing one left it behind).
class FakeProcRoot {
 public:
  FakeProcRoot() {
    char tmpl[] = "/tmp/steen-sys-proc-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~FakeProcRoot() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  FakeProcRoot(const FakeProcRoot&) = delete;
  FakeProcRoot& operator=(const FakeProcRoot&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A fake /proc/PID under `root`: status (name, parent, uid) and, unless `with_stat` is false (a
// process gone between the two reads), stat (state, parent, session `sid`, start time).
void WriteFakeProcess(const std::string& root, pid_t pid, pid_t ppid, uint64_t start,
                      const std::string& comm, uid_t uid = 0, char state = 'S',
                      bool with_stat = true, pid_t sid = 880) {
  const std::string dir = root + "/" + std::to_string(pid);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/status") << "Name:\t" << comm << "\nTgid:\t" << pid << "\nPPid:\t" << ppid
                                 << "\nUid:\t" << uid << "\t" << uid << "\t" << uid << "\t" << uid
                                 << "\n";
  if (with_stat) {
    std::ofstream(dir + "/stat") << pid << " (" << comm << ") " << state << " " << ppid << " "
                                 << sid << " " << sid << " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
                                 << start << " 0 0\n";
  }
}

// One read for a /proc file the kernel makes whole (a short read is its end), and a file longer
// than one read buffer still read whole, as ReadSmallFile reads it.
TEST(ProcFiles, TextFileReadWholeInOneReadOrMore) {
  auto status = ReadProcTextFile(DefaultFileOpener(), "/proc/self/status", 16 * 1024);
  ASSERT_TRUE(status.ok());
  EXPECT_NE(status->find("Tgid:"), std::string::npos);
  EXPECT_NE(status->find("Cpus_allowed"), std::string::npos) << "cut short";
  const FakeProcRoot folder;
  ASSERT_TRUE(folder.ok());
  const std::string path = folder.path() + "/long";
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + "\n";
  std::ofstream(path) << text;
  auto whole = ReadProcTextFile(DefaultFileOpener(), path, 64 * 1024);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(*whole, text);
  auto bounded = ReadProcTextFile(DefaultFileOpener(), path, 100);
  ASSERT_TRUE(bounded.ok());
  EXPECT_EQ(*bounded, text.substr(0, 100));
  EXPECT_FALSE(ReadProcTextFile(DefaultFileOpener(), path + "-missing", 100).ok());
}

TEST(Attribution, OwnProcessAndThread) {
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get());
  Actor me = attributor.Attribute(::getpid());
  EXPECT_EQ(me.pid, ::getpid());
  EXPECT_EQ(me.ppid, ::getppid());
  EXPECT_EQ(me.pgid, ::getpgrp());
  EXPECT_EQ(me.sid, ::getsid(0));
  EXPECT_GT(me.start_time, 0u);
  EXPECT_EQ(me.exe, std::filesystem::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(me.uid, ::geteuid());
  EXPECT_FALSE(me.user.empty());
  EXPECT_FALSE(me.comm.empty());
  EXPECT_FALSE(me.cgroup.empty());
  if (::getppid() > 1) {
    ASSERT_FALSE(me.ancestors.empty());
    EXPECT_EQ(me.ancestors[0], ::getppid());
  }
  for (pid_t a : me.ancestors) EXPECT_GT(a, 1);
  // A thread id maps to its process.
  pid_t tid = 0;
  Actor from_thread;
  std::thread t([&] {
    tid = ::gettid();
    from_thread = attributor.Attribute(tid);
  });
  t.join();
  EXPECT_EQ(from_thread.pid, ::getpid());
  EXPECT_EQ(from_thread.tid, tid);
  EXPECT_GE(attributor.Stats().cache_hits, 1u);
}

TEST(Attribution, ExitedProcessGivesPartialActor) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get());
  Actor gone = attributor.Attribute(pid);
  EXPECT_EQ(gone.pid, pid);
  EXPECT_TRUE(gone.exe.empty());
  EXPECT_EQ(gone.start_time, 0u);
  EXPECT_EQ(attributor.Stats().vanished, 1u);
}

// The kernel's process events, applied by hand: a fork's record (parent, start time in /proc's
// ticks), its own uid and session once it changes them, kept a while after its exit.
TEST(ProcessHistory, RecordsForksAndKeepsExitedProcessesForAWhile) {
  ProcessHistory history;
  history.SetClock(/*boot_offset_ns=*/2'000'000'000, /*ticks_per_second=*/100);
  history.OnFork(/*parent_tgid=*/500, /*child_pid=*/611, /*child_tgid=*/611, 3'000'000'000);
  history.OnFork(611, 612, 611, 3'100'000'000);  // a thread of 611: not a process
  ASSERT_TRUE(history.Find(611).has_value());
  EXPECT_FALSE(history.Find(612).has_value());
  EXPECT_EQ(history.Find(611)->ppid, 500);
  EXPECT_EQ(history.Find(611)->start_time, 500u);  // (3 s + 2 s) x 100 ticks
  EXPECT_FALSE(history.Find(611)->own_uid);
  history.OnUid(611, 611, 1000);
  history.OnSid(611, 611);
  EXPECT_TRUE(history.Find(611)->own_uid);
  EXPECT_EQ(history.Find(611)->euid, 1000u);
  EXPECT_TRUE(history.Find(611)->own_session);
  EXPECT_FALSE(history.ExecSince(611, 0));
  history.OnExec(611, 3'500'000'000);
  EXPECT_TRUE(history.ExecSince(611, 3'400'000'000));
  EXPECT_FALSE(history.ExecSince(611, 3'600'000'000)) << "an exec before the check is no news";
  history.OnExit(611, 611, 4'000'000'000);
  ASSERT_TRUE(history.Find(611).has_value()) << "kept after its exit";
  // Another fork much later prunes it.
  history.OnFork(500, 700, 700, 4'000'000'000 + limits::kProcessHistoryKeepNs + 1);
  EXPECT_FALSE(history.Find(611).has_value());
  EXPECT_EQ(history.Stats().forks, 2u);
  EXPECT_EQ(history.Stats().exits, 1u);
}

TEST(ProcessHistory, TableIsBoundedExitedFirst) {
  ProcessHistory history;
  for (std::size_t i = 0; i < limits::kMaxProcessHistory; ++i) {
    const pid_t pid = 10 + static_cast<pid_t>(i);
    history.OnFork(1, pid, pid, 1000 + i);
  }
  history.OnExit(10, 10, 5000);
  history.OnFork(1, 9, 9, 6000);  // room made from the exited one
  EXPECT_TRUE(history.Find(9).has_value());
  EXPECT_FALSE(history.Find(10).has_value());
  history.OnFork(1, 8, 8, 7000);  // full of running processes: dropped
  EXPECT_FALSE(history.Find(8).has_value());
  EXPECT_EQ(history.Stats().dropped, 1u);
  EXPECT_EQ(history.size(), limits::kMaxProcessHistory);
}

// A process gone from /proc before its first event was read is attributed through its parent
// (user, session, cgroup, ancestors), with its own uid when it changed it; without a record it
// is known by its pid alone.
TEST(Attribution, GoneProcessIsAttributedThroughItsParentFromTheHistory) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  std::filesystem::create_directories(root + "/500");  // xargs, still running
  std::ofstream(root + "/500/status") << "Name:\txargs\nTgid:\t500\nPPid:\t400\nUid:\t0\t0\t0\t0\n";
  std::ofstream(root + "/500/stat")
      << "500 (xargs) S 400 450 450 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n";
  std::ofstream(root + "/500/cgroup") << "0::/user.slice/session-3.scope\n";
  auto history = std::make_shared<ProcessHistory>();
  history->SetClock(0, 100);
  history->OnFork(500, 611, 611, 4'000'000'000);  // rm, gone
  history->OnFork(500, 612, 612, 4'100'000'000);  // a worker that switched to uid 65534
  history->OnUid(612, 612, 65534);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  attributor.SetProcessHistory(history);
  const Actor rm = attributor.Attribute(611);
  EXPECT_EQ(rm.pid, 611);
  EXPECT_EQ(rm.ppid, 500);
  EXPECT_EQ(rm.start_time, 400u);
  EXPECT_EQ(rm.sid, 450);
  EXPECT_EQ(rm.uid, 0u);
  EXPECT_EQ(rm.user, "root");
  EXPECT_EQ(rm.cgroup, "/user.slice/session-3.scope");
  EXPECT_EQ(rm.ancestors, (std::vector<pid_t>{500, 400}));
  EXPECT_TRUE(rm.exe.empty());
  const Actor worker = attributor.Attribute(612);
  EXPECT_EQ(worker.uid, 65534u);
  EXPECT_FALSE(worker.user.empty());
  const Actor unknown = attributor.Attribute(613);
  EXPECT_EQ(unknown.pid, 613);
  EXPECT_TRUE(unknown.user.empty());
  // A gone child of smbd was one client's session: not lent smbd's place (every client's).
  std::filesystem::create_directories(root + "/900");
  std::ofstream(root + "/900/status") << "Name:\tsmbd\nTgid:\t900\nPPid:\t1\nUid:\t0\t0\t0\t0\n";
  std::ofstream(root + "/900/stat")
      << "900 (smbd) S 1 900 900 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 100 0 0\n";
  history->OnFork(900, 914, 914, 4'200'000'000);
  history->OnUid(914, 914, 1001);
  const Actor session = attributor.Attribute(914);
  EXPECT_EQ(session.pid, 914);
  EXPECT_EQ(session.ppid, 0);
  EXPECT_TRUE(session.user.empty());
  EXPECT_EQ(attributor.Stats().vanished_from_history, 2u);
}

// Under load a shell exits while it is read (status read, stat gone) or an rm is a zombie whose
// shell is gone: the chain up to the still-running xargs must not be cut there, or the rm's
// delete falls outside the stopped tree it belongs to (a load-only e2e failure).
TEST(Attribution, ChainThroughProcessesGoneWhileReadFollowsTheHistory) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  std::filesystem::create_directories(root + "/700");  // xargs as nobody, still running
  std::ofstream(root + "/700/status")
      << "Name:\txargs\nTgid:\t700\nPPid:\t1\nUid:\t65534\t65534\t65534\t65534\n";
  std::ofstream(root + "/700/stat")
      << "700 (xargs) S 1 690 690 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 300 0 0\n";
  std::filesystem::create_directories(root + "/720");  // its shell, exiting: status only
  std::ofstream(root + "/720/status")
      << "Name:\tsh\nTgid:\t720\nPPid:\t700\nUid:\t65534\t65534\t65534\t65534\n";
  std::filesystem::create_directories(root + "/730");  // a zombie rm; its shell 731 is gone
  std::ofstream(root + "/730/status")
      << "Name:\trm\nTgid:\t730\nPPid:\t731\nUid:\t65534\t65534\t65534\t65534\n";
  std::ofstream(root + "/730/stat")
      << "730 (rm) Z 731 690 690 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 420 0 0\n";
  auto history = std::make_shared<ProcessHistory>();
  history->SetClock(0, 100);
  history->OnFork(700, 720, 720, 4'000'000'000);
  history->OnFork(720, 721, 721, 4'010'000'000);  // rm below the exiting shell, gone
  history->OnFork(700, 731, 731, 4'100'000'000);
  history->OnFork(731, 730, 730, 4'200'000'000);
  history->OnExit(731, 731, 4'250'000'000);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  attributor.SetProcessHistory(history);
  const Actor rm = attributor.Attribute(721);
  EXPECT_EQ(rm.start_time, 401u);
  EXPECT_EQ(rm.ancestors, (std::vector<pid_t>{720, 700}));
  EXPECT_EQ(rm.user, "nobody");
  EXPECT_EQ(rm.uid, 65534u);
  const Actor zombie = attributor.Attribute(730);
  EXPECT_EQ(zombie.start_time, 420u);
  EXPECT_EQ(zombie.ancestors, (std::vector<pid_t>{731, 700}));
  // Without a history the shell that exited mid-read still gives what status showed.
  ProcessAttributor plain(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  const Actor shell = plain.Attribute(720);
  EXPECT_EQ(shell.ppid, 700);
  EXPECT_EQ(shell.ancestors, (std::vector<pid_t>{700}));
  EXPECT_EQ(shell.user, "nobody");
}

// `( ( openssl enc ... && rm ... ) & )` per file: each worker is orphaned at once and adopted by
// init. Its ancestors are who started it (the gone subshell, then the loop), from the fork
// records, so the loop is the common ancestor an alert stops; without the records, init's.
TEST(Attribution, AnOrphanDescendsFromWhoStartedItNotFromInit) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  WriteFakeProcess(root, 880, 1, 100, "timeout");  // the session leader
  WriteFakeProcess(root, 900, 880, 200, "bash");   // the loop
  WriteFakeProcess(root, 950, 1, 501, "openssl");  // the worker, adopted by init
  auto history = std::make_shared<ProcessHistory>();
  history->SetClock(0, 100);
  history->OnFork(900, 940, 940, 5'000'000'000);  // the subshell, gone
  history->OnFork(940, 950, 950, 5'005'000'000);  // start 500 (ticks): /proc rounds to 501
  history->OnExit(940, 940, 5'006'000'000);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  attributor.SetProcessHistory(history);
  const Actor worker = attributor.Attribute(950);
  EXPECT_EQ(worker.ppid, 1) << "the parent is still who /proc says";
  EXPECT_EQ(worker.ancestors, (std::vector<pid_t>{940, 900, 880}));
  // A record of another process under that pid (started long before) says nothing.
  WriteFakeProcess(root, 951, 1, 9000, "openssl");
  history->OnFork(900, 951, 951, 3'000'000'000);
  EXPECT_TRUE(attributor.Attribute(951).ancestors.empty());
  ProcessAttributor plain(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  EXPECT_TRUE(plain.Attribute(950).ancestors.empty());
}

// One session, 810 (a client's smbd); every other smbd is unmatched.
class OneSmbSession : public SmbSessionTable {
 public:
  std::optional<SmbSession> ForPid(pid_t pid) override {
    if (pid != 810) return std::nullopt;
    return SmbSession{810, 100, "198.18.0.2", "alice", "", "share"};
  }
  std::vector<SmbSession> ServingClient(std::string_view) override { return {}; }
};

// An smbd child goes back to root when it exits: its last events, read as a zombie or while it
// goes, must not join root's other work (an administrator's copy was stopped so in the SMB e2e
// test). A matched session keeps its client; an unmatched smbd as root has no known user.
TEST(Attribution, UnmatchedSmbdAsRootHasNoUser) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  // The client's session, as root for a moment; a zombie session, gone from the session table;
  // one exiting while read; one unmatched, but as a user: that user's.
  WriteFakeProcess(root, 810, 800, 100, "smbd", 0, 'S', true, 800);
  WriteFakeProcess(root, 811, 800, 100, "smbd", 0, 'Z', true, 800);
  WriteFakeProcess(root, 812, 800, 100, "smbd", 0, 'S', false, 800);
  WriteFakeProcess(root, 813, 800, 100, "smbd", 1001, 'S', true, 800);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  attributor.SetSmbSessions(std::make_shared<OneSmbSession>());
  const Actor matched = attributor.Attribute(810);
  EXPECT_EQ(matched.smb_client_address, "198.18.0.2");
  EXPECT_EQ(matched.user, "root");
  EXPECT_TRUE(attributor.Attribute(811).user.empty());
  const Actor exiting = attributor.Attribute(812);
  EXPECT_EQ(exiting.comm, "smbd");
  EXPECT_TRUE(exiting.user.empty());
  EXPECT_FALSE(attributor.Attribute(813).user.empty());
  // Without Samba attribution (no session table) nothing changes.
  ProcessAttributor plain(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  EXPECT_EQ(plain.Attribute(811).user, "root");
}

// The real proc connector: a child that forks, exits, and is reaped is still known by its parent.
TEST(ProcessHistory, ProcConnectorReportsARealForkAndExit) {
  auto history = std::make_shared<ProcessHistory>();
  auto listener = ProcEventListener::Start(history);
  if (!listener.ok()) GTEST_SKIP() << listener.status().message();  // needs CAP_NET_ADMIN
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  std::optional<ProcessRecord> record;
  for (int i = 0; i < 200 && !(record && record->exit_ns != 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    record = history->Find(child);
  }
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->ppid, ::getpid());
  EXPECT_NE(record->exit_ns, 0u);
  // Asked before the listener's thread ran: the caller reads what the kernel queued itself.
  for (int i = 0; i < 20; ++i) {
    pid_t quick = ::fork();
    if (quick == 0) ::_exit(0);
    ::waitpid(quick, nullptr, 0);
    const std::optional<ProcessRecord> found = history->FindOrCatchUp(quick);
    ASSERT_TRUE(found.has_value()) << "fork " << i << " not caught up";
    EXPECT_EQ(found->ppid, ::getpid());
  }
  // Its start time as /proc would have shown it: within a tick of our own start and now.
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", ::getpid());
  std::ifstream stat(path);
  std::string line((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto parsed = ParseProcStat(line);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_GE(record->start_time + 1, parsed->start_time);
  timespec boot{};
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  const uint64_t ticks = static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
  const uint64_t now_ticks = static_cast<uint64_t>(boot.tv_sec) * ticks +
                             static_cast<uint64_t>(boot.tv_nsec) * ticks / 1'000'000'000u;
  EXPECT_LE(record->start_time, now_ticks + 1) << "a start time in the future: a wrapped offset";
}

TEST(Attribution, FakeProcRootWithHostileComm) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  std::filesystem::create_directories(root + "/4242");
  std::ofstream(root + "/4242/status") << "Name:\tx\nTgid:\t4242\nPPid:\t1\nUid:\t0\t0\t0\t0\n";
  std::ofstream(root + "/4242/stat")
      << "4242 (rm -rf ) (x) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 555 0 0\n";
  std::ofstream(root + "/4242/cgroup") << "0::/user.slice/evil.scope\n";
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, root);
  Actor a = attributor.Attribute(4242);
  EXPECT_EQ(a.comm, "rm -rf ) (x");
  EXPECT_EQ(a.start_time, 555u);
  EXPECT_EQ(a.ppid, 1);
  EXPECT_TRUE(a.ancestors.empty());  // up to, not including, pid 1
  EXPECT_EQ(a.cgroup, "/user.slice/evil.scope");
  EXPECT_EQ(a.user, "root");
}

// Its last events are often read after the writer is gone (killed once suspended, or a
// short-lived worker): they must still be attributed to it, not to a bare thread id.
TEST(Attribution, ThreadGoneSinceAnEarlierEventIsAttributedToItsProcess) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  std::filesystem::create_directories(root + "/4242");
  std::filesystem::create_directories(root + "/4243");
  std::ofstream(root + "/4242/status") << "Name:\tx\nTgid:\t4242\nPPid:\t1\nUid:\t0\t0\t0\t0\n";
  std::ofstream(root + "/4243/status") << "Name:\tx\nTgid:\t4242\nPPid:\t1\nUid:\t0\t0\t0\t0\n";
  std::ofstream(root + "/4242/stat")
      << "4242 (w) S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0\n";
  FakeClock clock;
  ProcessAttributor attributor(DefaultFileOpener(), &clock, nullptr, root);
  Actor alive = attributor.Attribute(4243);
  ASSERT_EQ(alive.pid, 4242);
  ASSERT_EQ(alive.start_time, 777u);
  clock.AdvanceUs(limits::kAttributionReuseUs + 1);  // /proc is read again
  std::filesystem::remove_all(root + "/4243");
  std::filesystem::remove_all(root + "/4242");
  Actor gone = attributor.Attribute(4243);
  EXPECT_EQ(gone.pid, 4242);
  EXPECT_EQ(gone.tid, 4243);
  EXPECT_EQ(gone.start_time, 777u);
  EXPECT_EQ(gone.comm, "w");
  Actor main_gone = attributor.Attribute(4242);
  EXPECT_EQ(main_gone.pid, 4242);
  EXPECT_EQ(main_gone.start_time, 777u);
  // Never seen: a bare id, as before.
  Actor unknown = attributor.Attribute(4244);
  EXPECT_EQ(unknown.pid, 4244);
  EXPECT_EQ(unknown.start_time, 0u);
  EXPECT_EQ(attributor.Stats().vanished, 3u);
  EXPECT_EQ(attributor.Stats().vanished_from_cache, 2u);
}

// A file's create, open and close come microseconds apart: within kAttributionReuseUs of a check
// the attributor reads nothing; within kAttributionRecheckMs of a full read it checks only stat
// and exe, so a new program (exec) or a reused pid is seen once the short reuse time is over, and
// a uid changed without exec once the recheck window is over.
TEST(Attribution, RecentProcessIsRecheckedCheaplyButExecAndPidReuseShowAtOnce) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  const std::string dir = root + "/4242";
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir + "/" + name, std::ios::trunc) << text;
  };
  const auto stat_line = [](const std::string& comm, int start) {
    return "4242 (" + comm + ") S 1 4242 4242 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " +
           std::to_string(start) + " 0 0\n";
  };
  write("status", "Name:\tw\nTgid:\t4242\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n");
  write("stat", stat_line("w", 777));
  FakeClock clock;
  ProcessAttributor attributor(DefaultFileOpener(), &clock, nullptr, root);
  EXPECT_EQ(attributor.Attribute(4242).uid, 1000u);
  // Within kAttributionReuseUs of that read, nothing is read again (the file may even be gone).
  std::filesystem::remove(dir + "/stat");
  EXPECT_EQ(attributor.Attribute(4242).start_time, 777u);
  EXPECT_EQ(attributor.Stats().reused, 1u);
  write("stat", stat_line("w", 777));
  const auto past_reuse = [&] { clock.AdvanceUs(limits::kAttributionReuseUs + 1); };
  past_reuse();
  // setuid() without exec: the cached uid until the window is over, then the new one.
  write("status", "Name:\tw\nTgid:\t4242\nPPid:\t1\nUid:\t0\t0\t0\t0\n");
  EXPECT_EQ(attributor.Attribute(4242).uid, 1000u);
  EXPECT_EQ(attributor.Stats().rechecks_skipped, 1u);
  clock.AdvanceMs(limits::kAttributionRecheckMs + 1);
  EXPECT_EQ(attributor.Attribute(4242).uid, 0u);
  EXPECT_EQ(attributor.Stats().rechecks_skipped, 1u);
  // exec (a new comm), inside the recheck window, once the reuse time is over: read in full.
  past_reuse();
  write("status", "Name:\tw\nTgid:\t4242\nPPid:\t1\nUid:\t33\t33\t33\t33\n");
  write("stat", stat_line("locker", 777));
  Actor after_exec = attributor.Attribute(4242);
  EXPECT_EQ(after_exec.comm, "locker");
  EXPECT_EQ(after_exec.uid, 33u);
  // The pid reused by another process (another start time), inside the window: in full.
  past_reuse();
  write("status", "Name:\tw\nTgid:\t4242\nPPid:\t1\nUid:\t7\t7\t7\t7\n");
  write("stat", stat_line("locker", 999));
  Actor reused = attributor.Attribute(4242);
  EXPECT_EQ(reused.start_time, 999u);
  EXPECT_EQ(reused.uid, 7u);
  EXPECT_EQ(attributor.Stats().rechecks_skipped, 1u);
  // The next event of that process, inside the window: cheap again, same answer.
  past_reuse();
  Actor again = attributor.Attribute(4242);
  EXPECT_EQ(again.start_time, 999u);
  EXPECT_EQ(again.uid, 7u);
  EXPECT_EQ(again.comm, "locker");
  EXPECT_EQ(attributor.Stats().rechecks_skipped, 2u);
  EXPECT_EQ(attributor.Stats().reused, 1u);
}

TEST(ExeHasher, HashesKnownBytesAndOwnExecutable) {
  char path[] = "/tmp/steen-sys-hash-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  ::lseek(fd, 0, SEEK_SET);
  EXPECT_EQ(ExeHasher::HashFd(fd, 100),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  ::lseek(fd, 0, SEEK_SET);
  EXPECT_FALSE(ExeHasher::HashFd(fd, 2));  // over the size cap
  ::close(fd);
  ::unlink(path);

  ExeHasher hasher(DefaultFileOpener());
  EXPECT_EQ(hasher.LookupOrRequest(::getpid()), "");  // queued
  hasher.WaitIdle();
  std::string digest = hasher.LookupOrRequest(::getpid());
  ASSERT_EQ(digest.size(), 64u);
  int self = ::open("/proc/self/exe", O_RDONLY);
  EXPECT_EQ(ExeHasher::HashFd(self, 1ull << 32), digest);
  ::close(self);
  EXPECT_EQ(hasher.Stats().hashed, 1u);
}

TEST(ProcessControl, SuspendResumeKillWithStartTimeCheck) {
  pid_t child = SpawnSleeper();
  ASSERT_GT(child, 0);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get());
  Actor actor = attributor.Attribute(child);
  ASSERT_GT(actor.start_time, 0u);
  KernelProcessControl control;

  // A different start time means "the pid now belongs to someone else": nothing is sent.
  Status reused = control.Kill(child, actor.start_time + 1);
  EXPECT_EQ(reused.code(), Status::Code::kNotFound) << reused.ToString();
  EXPECT_NE(reused.message().find("another process"), std::string::npos);
  EXPECT_EQ(control.Kill(child, 0).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(control.Kill(1, 1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(control.Kill(::getpid(), actor.start_time).code(), Status::Code::kInvalidArgument);

  ASSERT_TRUE(control.Suspend(child, actor.start_time).ok());
  for (int i = 0; i < 100 && StateOf(child) != 'T'; ++i) ::usleep(10000);
  EXPECT_EQ(StateOf(child), 'T');
  ASSERT_TRUE(control.Resume(child, actor.start_time).ok());
  for (int i = 0; i < 100 && StateOf(child) == 'T'; ++i) ::usleep(10000);
  EXPECT_NE(StateOf(child), 'T');
  ASSERT_TRUE(control.Kill(child, actor.start_time).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  Status gone = control.Kill(child, actor.start_time);
  EXPECT_EQ(gone.code(), Status::Code::kNotFound) << gone.ToString();
}

TEST(ProcessControl, SyscallNumbersAndEventLoopWaits) {
  EXPECT_EQ(ParseSyscallNumber("232 0x4 0x7ffc 0x3e8 0xffffffff 0x0 0x0 0x7ffd 0x7f12\n"), 232);
  EXPECT_EQ(ParseSyscallNumber("-1 0x7ffd10 0x55d2\n"), -1);
  EXPECT_EQ(ParseSyscallNumber("running\n"), std::nullopt);
  EXPECT_EQ(ParseSyscallNumber(""), std::nullopt);
  EXPECT_EQ(ParseSyscallNumber("12x 0x1"), std::nullopt);
#ifdef SYS_epoll_pwait
  EXPECT_TRUE(IsEventLoopWait(SYS_epoll_pwait));
#endif
#ifdef SYS_ppoll
  EXPECT_TRUE(IsEventLoopWait(SYS_ppoll));
#endif
  EXPECT_FALSE(IsEventLoopWait(SYS_futex));
  EXPECT_FALSE(IsEventLoopWait(SYS_openat));
  EXPECT_FALSE(IsEventLoopWait(-1));
}

// A child stopped while it waits in poll(2) is at an event loop's wait; one stopped in user code
// (a busy loop) or in another call (a pause in nanosleep, as in a lock's back-off) is elsewhere.
TEST(ProcessControl, InspectTellsAnEventLoopWaitFromElsewhere) {
  enum class Doing { kPoll, kSpin, kNanosleep };
  auto spawn = [](Doing doing) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      for (;;) {
        switch (doing) {
          case Doing::kPoll:
            ::poll(nullptr, 0, -1);
            break;
          case Doing::kSpin:
            for (volatile int i = 0; i < 1000000; ++i) {
            }
            break;
          case Doing::kNanosleep: {
            timespec ts{10, 0};
            ::nanosleep(&ts, nullptr);
            break;
          }
        }
      }
    }
    return pid;
  };
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get());
  KernelProcessControl control;
  for (Doing doing : {Doing::kPoll, Doing::kSpin, Doing::kNanosleep}) {
    const pid_t child = spawn(doing);
    ASSERT_GT(child, 0);
    ::usleep(50000);  // in its loop
    const uint64_t start_time = attributor.Attribute(child).start_time;
    ASSERT_GT(start_time, 0u);
    auto running = control.Inspect(child, start_time);
    ASSERT_TRUE(running.ok()) << running.status().ToString();
    EXPECT_EQ(*running, StopPoint::kNotStopped);
    ASSERT_TRUE(control.Suspend(child, start_time).ok());
    for (int i = 0; i < 100 && StateOf(child) != 'T'; ++i) ::usleep(10000);
    auto point = control.Inspect(child, start_time);
    ASSERT_TRUE(point.ok()) << point.status().ToString();
    EXPECT_EQ(*point, doing == Doing::kPoll ? StopPoint::kEventWait : StopPoint::kElsewhere)
        << "case " << static_cast<int>(doing);
    EXPECT_EQ(control.Inspect(child, start_time + 1).status().code(), Status::Code::kNotFound);
    ASSERT_TRUE(control.Kill(child, start_time).ok());
    ASSERT_EQ(::waitpid(child, nullptr, 0), child);
    EXPECT_EQ(control.Inspect(child, start_time).status().code(), Status::Code::kNotFound);
  }
}

TEST(GuardedOpener, FlagsOpensUnderMarkedRootsByAnsweringThreads) {
  GuardedFileOpener guard(DefaultFileOpener(), {"/proc/self"}, [] { return 1; });
  EXPECT_TRUE(guard.Open("/proc/self/stat", O_RDONLY).ok());  // role kOther: recorded, allowed
  std::thread([&] {
    SetThreadRole(ThreadRole::kPermissionReader);
    (void)guard.Open("/proc/self/status", O_RDONLY);
    (void)guard.Open("/proc/version", O_RDONLY);  // outside the root
  }).join();
  EXPECT_EQ(guard.records().size(), 3u);
  EXPECT_EQ(guard.opens_under_marked_roots(), 2);
  auto bad = guard.violations();
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].path, "/proc/self/status");
  EXPECT_EQ(bad[0].outstanding_tickets, 1);
  EXPECT_TRUE(PathIsUnder("/a/b", "/a"));
  EXPECT_TRUE(PathIsUnder("/a", "/a/"));
  EXPECT_FALSE(PathIsUnder("/ab", "/a"));
}

std::vector<pid_t> Pids(const std::vector<ParentLink>& links) {
  std::vector<pid_t> pids;
  for (const ParentLink& link : links) pids.push_back(link.pid);
  return pids;
}

// The members of a process tree are found in /proc, nearest first, and only processes started
// after their parent are followed (a reused parent pid names somebody else's children).
TEST(ProcessTree, DescendantsOfThisProcess) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::fork() == 0) {
      (void)::write(ready[1], "g", 1);
      ::pause();
      ::_exit(0);
    }
    (void)::write(ready[1], "c", 1);
    ::pause();
    ::_exit(0);
  }
  char bytes[2];
  ASSERT_EQ(::read(ready[0], bytes, 1), 1);
  ASSERT_EQ(::read(ready[0], bytes + 1, 1), 1);
  const std::vector<ParentLink> links = ListParentLinks(DefaultFileOpener());
  uint64_t own_start = 0;
  for (const ParentLink& link : links) {
    if (link.pid == ::getpid()) own_start = link.start_time;
  }
  ASSERT_NE(own_start, 0u);
  const std::vector<pid_t> found = Pids(DescendantsOf(::getpid(), own_start, links, 100));
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], child);
  const pid_t grandchild = found[1];
  EXPECT_EQ(Pids(DescendantsOf(::getpid(), own_start, links, 1)), (std::vector<pid_t>{child}));
  // The kernel's child lists name the same family, read without the rest of /proc.
  const std::vector<ParentLink> family = ListFamilyLinks(DefaultFileOpener(), {::getpid()}, 100);
  EXPECT_EQ(Pids(DescendantsOf(::getpid(), own_start, family, 100)), found);
  EXPECT_EQ(Pids(ListFamilyLinks(DefaultFileOpener(), {::getpid()}, 1)),
            (std::vector<pid_t>{child}));
  ::kill(grandchild, SIGKILL);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
}

// Children are listed per thread (the one that forked them); a child whose stat is gone exited
// meanwhile; without child lists (a kernel without CONFIG_PROC_CHILDREN) nothing is found, and the
// caller's full read of /proc is what finds the family.
TEST(ProcessTree, FamilyFromTheKernelsChildListsOfEveryThread) {
  const FakeProcRoot fake_proc;
  ASSERT_TRUE(fake_proc.ok());
  const std::string root = fake_proc.path();
  auto process = [&](pid_t pid, pid_t ppid, int start) {
    std::filesystem::create_directories(root + "/" + std::to_string(pid) + "/task");
    std::ofstream(root + "/" + std::to_string(pid) + "/stat")
        << pid << " (w) S " << ppid << " 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start << " 0 0\n";
  };
  auto children = [&](pid_t pid, pid_t tid, const std::string& list) {
    const std::string dir = root + "/" + std::to_string(pid) + "/task/" + std::to_string(tid);
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/children") << list;
  };
  process(10, 1, 100);
  children(10, 10, "11 ");
  children(10, 15, "12 19 ");  // 19 exited: listed, no stat
  process(11, 10, 110);
  children(11, 11, "13\n");
  process(12, 10, 120);
  children(12, 12, "");
  process(13, 11, 130);
  std::filesystem::create_directories(root + "/13/task/13");  // no child list file
  const std::vector<ParentLink> family = ListFamilyLinks(DefaultFileOpener(), {10}, 100, root);
  EXPECT_EQ(Pids(family), (std::vector<pid_t>{11, 12, 13}));
  ASSERT_EQ(family.size(), 3u);
  EXPECT_EQ(family[2].ppid, 11);
  EXPECT_EQ(family[2].start_time, 130u);
  EXPECT_EQ(Pids(ListFamilyLinks(DefaultFileOpener(), {10}, 2, root)),
            (std::vector<pid_t>{11, 12}));
  EXPECT_EQ(Pids(ListFamilyLinks(DefaultFileOpener(), {11, 12}, 100, root)),
            (std::vector<pid_t>{13}));
  EXPECT_TRUE(ListFamilyLinks(DefaultFileOpener(), {13, 99}, 100, root).empty());
}

TEST(ProcessTree, OlderProcessesAndCyclesAreNotFollowed) {
  // 10 (start 100) -> 11 (start 150) -> 12 (start 160); 13 claims parent 10 but is older (a
  // previous process 10's child); 20 <-> 21 name each other.
  const std::vector<ParentLink> links = {{10, 1, 100}, {11, 10, 150}, {12, 11, 160},
                                         {13, 10, 50}, {20, 21, 5},   {21, 20, 6}};
  EXPECT_EQ(Pids(DescendantsOf(10, 100, links, 100)), (std::vector<pid_t>{11, 12}));
  EXPECT_EQ(Pids(DescendantsOf(10, 0, links, 100)), (std::vector<pid_t>{11, 13, 12}));
  EXPECT_EQ(Pids(DescendantsOf(20, 0, links, 100)), (std::vector<pid_t>{21}));
  EXPECT_TRUE(DescendantsOf(12, 160, links, 100).empty());
}

}  // namespace
}  // namespace steen::sys
