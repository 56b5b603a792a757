// Real fanotify tests (root). Safety: every test marks only a temporary tree it created under
// /tmp, runs under an alarm (SIGALRM's default action ends the process, which closes the groups:
// the kernel then allows every pending permission event), and every child process has its own
// alarm. Skipped with a message when not root.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sys/exe_hasher.h"
#include "sys/fanotify_source.h"
#include "sys/process_history.h"

namespace steen::sys {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

class FanotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "fanotify tests need root (CAP_SYS_ADMIN); skipped";
    ::alarm(90);  // watchdog: a hang fails (kills) the test binary instead of the machine
    char tmpl[] = "/tmp/steen-sys-fan-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    tree_ = tmpl;
  }
  void TearDown() override {
    source_.reset();  // groups closed before the tree is removed
    if (!tree_.empty()) fs::remove_all(tree_);
    ::alarm(0);
  }
  Status OpenSource(FanotifyOptions options) {
    options.roots = {tree_};
    auto src = FanotifySource::Open(options);
    if (!src.ok()) return src.status();
    source_ = std::move(*src);
    return Status::Ok();
  }

  std::string tree_;
  std::unique_ptr<FanotifySource> source_;
};

// What a test remembers of an event after handing its fd/ticket back.
struct Seen {
  SysEvent::Kind kind;
  FileOp op;
  std::string path, new_path;
  Actor actor;
  bool is_dir;
  OpenIntent intent;
  bool truncate;
  std::string content;  // first bytes read through the event fd (close-write, permission)
  uint64_t size;
};

std::string ReadThrough(int fd) {
  char buf[256];
  ssize_t n = ::pread(fd, buf, sizeof(buf), 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

Seen Remember(SysEvent& ev) {
  Seen s{ev.kind,
         ev.event.op,
         ev.event.path,
         ev.event.new_path,
         ev.event.actor,
         ev.is_directory,
         ev.open_request.intent,
         ev.open_request.truncate,
         "",
         ev.event.size};
  if (ev.fd) s.content = ReadThrough(ev.fd.get());
  if (ev.ticket) s.content = ReadThrough(ev.ticket->fd());
  return s;
}

bool ChildDone(pid_t pid, int* status) { return ::waitpid(pid, status, WNOHANG) == pid; }

// The children that these tests fork() call only async-signal-safe functions and never allocate:
// every path they use is built before the fork. The parent has threads (the source's readers, the
// hasher), and a child inherits any allocator lock one of them held at the fork, never to be
// released: with ASan's allocator a child hung that way until its alarm, about once in twenty runs
// under load.

const Seen* Find(const std::vector<Seen>& seen, SysEvent::Kind kind, FileOp op,
                 const std::string& path) {
  for (const auto& s : seen) {
    if (s.kind == kind && s.op == op && s.path == path) return &s;
  }
  return nullptr;
}

TEST_F(FanotifyTest, CreateWriteRenameDeleteEndToEnd) {
  fs::create_directory(tree_ + "/sub");
  FanotifyOptions options;
  ASSERT_TRUE(OpenSource(options).ok());
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const std::string sub = tree_ + "/sub";
  const std::string a_txt = sub + "/a.txt", b_txt = sub + "/b.txt", newdir = sub + "/newdir",
                    c_txt = sub + "/newdir/c.txt";
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(20);
    int fd = ::open(a_txt.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || ::write(fd, "hello", 5) != 5) ::_exit(2);
    ::close(fd);
    if (::rename(a_txt.c_str(), b_txt.c_str()) != 0) ::_exit(3);
    if (::mkdir(newdir.c_str(), 0755) != 0) ::_exit(4);
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(5);  // the watcher has marked newdir
    fd = ::open(c_txt.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || ::write(fd, "second", 6) != 6) ::_exit(6);
    ::close(fd);
    if (::unlink(b_txt.c_str()) != 0) ::_exit(7);
    if (::read(go[0], &c, 1) != 1) ::_exit(8);  // stay alive until the delete was attributed
    ::_exit(0);
  }
  std::vector<Seen> seen;
  int status = -1;
  bool done = false, released = false, seen_delete = false, seen_close_c = false, finished = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    auto ev = source_->Next(milliseconds(50));
    if (ev) {
      seen.push_back(Remember(*ev));
      if (ev->ticket) EXPECT_TRUE(ev->ticket->Allow());
      if (!released && ev->event.op == FileOp::kCreate && ev->event.path == sub + "/newdir") {
        released = ::write(go[1], "x", 1) == 1;
      }
      // The two groups are read by two threads: release the child only when both reported
      // its last actions, so that every event is attributed while the process still exists.
      seen_delete = seen_delete || (ev->event.op == FileOp::kDelete);
      seen_close_c = seen_close_c || (ev->event.op == FileOp::kCloseWrite &&
                                      ev->event.path == sub + "/newdir/c.txt");
      if (seen_delete && seen_close_c && !finished) {
        finished = ::write(go[1], "y", 1) == 1;
      }
      continue;
    }
    if (!done) done = ChildDone(child, &status);
    if (done) break;  // child finished and nothing arrived for 50 ms
  }
  if (!done || ::getenv("STEEN_SYS_TEST_VERBOSE")) {
    for (const auto& s : seen) {
      std::cerr << static_cast<int>(s.kind) << " op " << static_cast<int>(s.op) << " " << s.path
                << " -> " << s.new_path << " pid " << s.actor.pid << "\n";
    }
    auto st = source_->Stats();
    std::cerr << "unresolved " << st.unresolved_paths << " malformed " << st.malformed
              << " watched " << st.watched_directories << " own " << st.own_events << "\n";
  }
  ASSERT_TRUE(done) << "child did not finish";
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ::close(go[0]);
  ::close(go[1]);

  const std::string self_exe = fs::read_symlink("/proc/self/exe").string();
  auto check_actor = [&](const Seen* s) {
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->actor.pid, child);
    EXPECT_EQ(s->actor.ppid, ::getpid());
    EXPECT_EQ(s->actor.exe, self_exe);
    EXPECT_GT(s->actor.start_time, 0u);
    EXPECT_EQ(s->actor.user, "root");
  };
  const Seen* perm = Find(seen, SysEvent::Kind::kPermission, FileOp::kOpenForWrite, sub + "/a.txt");
  check_actor(perm);
  if (perm) {
    EXPECT_EQ(perm->intent, OpenIntent::kWrite);
    EXPECT_TRUE(perm->truncate);
  }
  check_actor(Find(seen, SysEvent::Kind::kFile, FileOp::kCreate, sub + "/a.txt"));
  // A content event's path is the file's name when the event is read: the rename may be first.
  const Seen* close_a = Find(seen, SysEvent::Kind::kFile, FileOp::kCloseWrite, sub + "/a.txt");
  if (close_a == nullptr) {
    close_a = Find(seen, SysEvent::Kind::kFile, FileOp::kCloseWrite, sub + "/b.txt");
  }
  check_actor(close_a);
  if (close_a) EXPECT_EQ(close_a->content, "hello");  // read only through the event fd
  const Seen* rename = Find(seen, SysEvent::Kind::kFile, FileOp::kRename, sub + "/a.txt");
  check_actor(rename);
  if (rename) EXPECT_EQ(rename->new_path, sub + "/b.txt");
  const Seen* mkdir = Find(seen, SysEvent::Kind::kFile, FileOp::kCreate, sub + "/newdir");
  check_actor(mkdir);
  if (mkdir) EXPECT_TRUE(mkdir->is_dir);
  // Inside the new directory: events only exist if it was marked when it appeared.
  check_actor(Find(seen, SysEvent::Kind::kFile, FileOp::kCreate, sub + "/newdir/c.txt"));
  const Seen* close_c =
      Find(seen, SysEvent::Kind::kFile, FileOp::kCloseWrite, sub + "/newdir/c.txt");
  check_actor(close_c);
  if (close_c) EXPECT_EQ(close_c->content, "second");
  check_actor(Find(seen, SysEvent::Kind::kFile, FileOp::kDelete, sub + "/b.txt"));

  source_->Stop();
  auto stats = source_->Stats();
  EXPECT_GE(stats.tickets.issued, 2u);
  EXPECT_EQ(stats.tickets.answered_by_holder, stats.tickets.issued);
  EXPECT_EQ(stats.tickets.timeouts, 0u);
  EXPECT_EQ(stats.tickets.outstanding, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.watched_directories, 3u);  // tree, sub, newdir
}

// The "cannot deadlock" proof on a live kernel: a busy child (writes, reads, renames, deletes,
// runs a program copied INTO the marked tree) while the listener attributes every event and the
// consumer holds permission tickets until the executable's hash (which opens the program inside
// the marked tree) is known. Every permission event must be answered by its holder, none by the
// deadline, and no permission-answering thread may open anything inside the tree.
TEST_F(FanotifyTest, BusyChildWithExecInsideTreeNeverStalls) {
  fs::create_directory(tree_ + "/bin");
  const std::string prog = tree_ + "/bin/prog";
  fs::copy_file("/usr/bin/dd", prog);
  ::chmod(prog.c_str(), 0755);
  std::string prog_sha;
  {
    int fd = ::open(prog.c_str(), O_RDONLY);
    prog_sha = ExeHasher::HashFd(fd, 1ull << 30).value_or("");
    ::close(fd);
  }
  FanotifySource* live = nullptr;
  GuardedFileOpener guard(DefaultFileOpener(), {tree_},
                          [&] { return live ? static_cast<int>(live->OutstandingTickets()) : 0; });
  ExeHasher hasher(&guard);
  ProcessAttributor attributor(&guard, RealClock::Get(), &hasher);
  // As the daemon runs it: the kernel's process events tell an exec within the attribution
  // reuse window (the child execs prog microseconds after its last event as the test binary).
  auto history = std::make_shared<ProcessHistory>();
  auto listener = ProcEventListener::Start(history);
  if (listener.ok()) attributor.SetProcessHistory(history);
  FanotifyOptions options;
  options.opener = &guard;
  options.attributor = &attributor;
  options.forward_read_opens = true;  // every open of the child becomes a ticket
  ASSERT_TRUE(OpenSource(options).ok());
  live = source_.get();

  const int kIterations = 300;
  const int kFiles = 16;
  std::vector<std::string> files, locked, dd_outputs;
  for (int i = 0; i < kFiles; ++i) {
    files.push_back(tree_ + "/f" + std::to_string(i) + ".dat");
    locked.push_back(files.back() + ".locked");
  }
  for (int i = 0; i < kIterations; ++i) {
    dd_outputs.push_back("of=" + tree_ + "/dd" + std::to_string(i) + ".out");
  }
  auto started = std::chrono::steady_clock::now();
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(60);
    char buf[4096] = {1, 2, 3};
    for (int i = 0; i < kIterations; ++i) {
      const char* f = files[i % kFiles].c_str();
      int fd = ::open(f, O_CREAT | O_RDWR | O_TRUNC, 0644);
      if (fd < 0 || ::write(fd, buf, sizeof(buf)) != sizeof(buf)) ::_exit(2);
      ::close(fd);
      fd = ::open(f, O_RDONLY);
      if (fd < 0 || ::read(fd, buf, sizeof(buf)) <= 0) ::_exit(3);
      ::close(fd);
      if (::rename(f, locked[i % kFiles].c_str()) != 0) ::_exit(4);
      if (i % 3 == 0) ::unlink(locked[i % kFiles].c_str());
      if (i % 30 == 0) {
        pid_t p = ::fork();
        if (p == 0) {
          ::execl(prog.c_str(), "prog", "if=/dev/zero", dd_outputs[i].c_str(), "bs=1k", "count=4",
                  "status=none", nullptr);
          ::_exit(9);
        }
        int st = 0;
        if (::waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0) ::_exit(5);
      }
    }
    ::_exit(0);
  }
  uint64_t tickets_seen = 0, held_for_hash = 0, events = 0;
  std::map<std::string, int> hashes_seen;
  int status = -1;
  bool done = false;
  while (std::chrono::steady_clock::now() - started < std::chrono::seconds(60)) {
    auto ev = source_->Next(milliseconds(100));
    if (!ev) {
      if (done || (done = ChildDone(child, &status))) break;
      continue;
    }
    ++events;
    if (ev->kind != SysEvent::Kind::kPermission) continue;
    ++tickets_seen;
    ReadThrough(ev->ticket->fd());  // a protective read, through the event fd only
    if (ev->event.actor.exe == prog) {
      // Hold the ticket while the hasher opens the program inside the marked tree.
      std::string digest = ev->event.actor.exe_sha256;
      for (int i = 0; i < 150 && digest.empty(); ++i) {
        std::this_thread::sleep_for(milliseconds(5));
        digest = hasher.LookupOrRequest(ev->event.actor.pid);
      }
      ++held_for_hash;
      ++hashes_seen[digest];
    }
    if (tickets_seen % 2 == 0) EXPECT_TRUE(ev->ticket->Allow());
    // odd ones: allowed by the ticket's destructor
  }
  if (!done) done = ChildDone(child, &status);
  auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(done) << "child did not finish within the watchdog";
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  source_->Stop();
  auto stats = source_->Stats();
  // Every permission event was answered, by its holder, in time.
  EXPECT_GE(tickets_seen, 2u * kIterations);
  EXPECT_EQ(stats.tickets.issued, tickets_seen);
  EXPECT_EQ(stats.tickets.answered_by_holder, tickets_seen);
  EXPECT_EQ(stats.tickets.timeouts, 0u);
  EXPECT_EQ(stats.tickets.outstanding, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_LT(elapsed, std::chrono::seconds(30));
  // The hasher did open the program inside the marked tree (our own event, answered at once)...
  int hasher_opens_in_tree = 0;
  for (const auto& r : guard.records()) {
    if (r.under_marked_root && r.role == ThreadRole::kExeHasher) ++hasher_opens_in_tree;
  }
  EXPECT_GE(hasher_opens_in_tree, 1);
  EXPECT_GT(stats.own_events, 0u);
  EXPECT_GE(held_for_hash, 1u);
  EXPECT_EQ(hashes_seen[prog_sha], static_cast<int>(held_for_hash));
  // ...and no thread that answers permission events ever opened anything inside it.
  for (const auto& v : guard.violations()) {
    ADD_FAILURE() << "thread " << ToString(v.role) << " opened " << v.path;
  }
  std::cerr << "events " << events << ", tickets " << tickets_seen << ", own events "
            << stats.own_events << ", elapsed "
            << std::chrono::duration_cast<milliseconds>(elapsed).count() << " ms\n";
}

TEST_F(FanotifyTest, OwnOpensAndDirectoryHandlesRaiseNoTickets) {
  fs::create_directory(tree_ + "/sub");
  {
    int fd = ::open((tree_ + "/sub/r.txt").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_EQ(::write(fd, "r", 1), 1);
    ::close(fd);
  }
  FanotifyOptions options;
  options.forward_read_opens = true;
  ASSERT_TRUE(OpenSource(options).ok());
  // Our own writes inside the tree (the daemon restoring a file) do not wait for anyone.
  auto t0 = std::chrono::steady_clock::now();
  std::thread([&] {
    int fd = ::open((tree_ + "/sub/own.txt").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }).join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(500));

  const std::string sub = tree_ + "/sub", sub_file = tree_ + "/sub/r.txt";
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(20);
    // Directory by handle (O_PATH) and by path: the content group has no FAN_ONDIR.
    struct {
      file_handle fh;
      unsigned char bytes[128];
    } h;
    h.fh.handle_bytes = 128;
    int mount_id = 0;
    if (::name_to_handle_at(AT_FDCWD, sub.c_str(), &h.fh, &mount_id, 0) != 0) {
      ::_exit(2);
    }
    int mount_fd = ::open(tree_.c_str(), O_RDONLY | O_DIRECTORY);  // O_PATH: EBADF on 6.18
    int by_handle = ::open_by_handle_at(mount_fd, &h.fh, O_PATH | O_DIRECTORY);
    if (by_handle < 0) ::_exit(3);
    int dir = ::open(sub.c_str(), O_RDONLY | O_DIRECTORY);
    if (dir < 0) ::_exit(4);
    // Positive control: a regular file read does raise a (forwarded) permission event.
    int file = ::open(sub_file.c_str(), O_RDONLY);
    if (file < 0) ::_exit(5);
    ::_exit(0);
  }
  std::vector<Seen> seen;
  int status = -1;
  bool done = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto ev = source_->Next(milliseconds(50));
    if (ev) {
      seen.push_back(Remember(*ev));
      continue;  // tickets allow when dropped
    }
    if (done || (done = ChildDone(child, &status))) break;
  }
  ASSERT_TRUE(done);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  int permissions = 0;
  for (const auto& s : seen) {
    if (s.kind != SysEvent::Kind::kPermission) continue;
    ++permissions;
    EXPECT_EQ(s.path, tree_ + "/sub/r.txt") << "unexpected permission event";
    EXPECT_EQ(s.intent, OpenIntent::kRead);
    EXPECT_EQ(s.actor.pid, child);
  }
  EXPECT_EQ(permissions, 1);
  auto stats = source_->Stats();
  EXPECT_GE(stats.own_events, 1u);
  EXPECT_EQ(stats.tickets.timeouts, 0u);
}

// The vault's hook: a read-only open in a tree calls before_early_allow with the file's path and
// inode before the opener gets its fd (so a hard link can be made before any delete); a hook that
// throws cannot leave the event unanswered.
TEST_F(FanotifyTest, ReadOpenHookRunsBeforeTheAnswerAndCannotBlockIt) {
  const std::string file = tree_ + "/read-me.txt";
  { std::ofstream(file) << "content"; }
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  std::mutex mu;
  std::vector<std::pair<std::string, uint64_t>> seen;
  std::atomic<bool> throw_next{false};
  FanotifyOptions options;
  options.before_early_allow = [&](int fd, const FileEvent& ev) {
    ASSERT_GE(fd, 0);
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.emplace_back(ev.path, ev.inode);
    }
    if (throw_next) throw std::runtime_error("hook failure");
  };
  ASSERT_TRUE(OpenSource(options).ok());
  // A child reads the file (our own opens are answered without the hook).
  auto read_in_child = [&] {
    pid_t child = ::fork();
    if (child == 0) {
      ::alarm(20);
      int fd = ::open(file.c_str(), O_RDONLY);
      _exit(fd >= 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  };
  ASSERT_TRUE(read_in_child());
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(seen.size(), 1u);  // synchronous: done before the child's open returned
    EXPECT_EQ(seen[0].first, file);
    EXPECT_EQ(seen[0].second, static_cast<uint64_t>(st.st_ino));
  }
  throw_next = true;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(read_in_child());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1))
      << "answered at once, not by the deadline";
}

// allow_empty_writes_early: an open for writing of an empty file is answered by the reader (the
// hook first) and still reported, without a ticket, with the file's stat; a file with content
// waits for the daemon's answer as before.
TEST_F(FanotifyTest, EmptyFilesOpenedForWritingAreAllowedByTheReader) {
  const std::string empty = tree_ + "/empty.txt";
  const std::string full = tree_ + "/full.txt";
  { std::ofstream(empty) << ""; }
  { std::ofstream(full) << "content"; }
  std::atomic<int> hooked{0};
  FanotifyOptions options;
  options.allow_empty_writes_early = true;
  options.permission_deadline = milliseconds(3000);
  options.before_early_allow = [&](int, const FileEvent& ev) {
    if (ev.path == empty && ev.size == 0) ++hooked;
  };
  ASSERT_TRUE(OpenSource(options).ok());
  // The child opens the empty file (and creates a new one) while nobody reads the source: only
  // the reader can answer within the deadline.
  const std::string created = tree_ + "/created.txt";
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(20);
    const auto t0 = std::chrono::steady_clock::now();
    int a = ::open(empty.c_str(), O_WRONLY);
    int b = ::open(created.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
    const auto waited = std::chrono::steady_clock::now() - t0;
    _exit(a >= 0 && b >= 0 && waited < std::chrono::milliseconds(1500) ? 0 : 1);
  }
  int status = -1;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "an empty file's open waited for the daemon";
  EXPECT_EQ(hooked.load(), 1);
  std::vector<SysEvent> permissions;
  for (auto ev = source_->Next(milliseconds(200)); ev; ev = source_->Next(milliseconds(200))) {
    if (ev->kind == SysEvent::Kind::kPermission) permissions.push_back(std::move(*ev));
  }
  ASSERT_EQ(permissions.size(), 2u);
  for (const SysEvent& ev : permissions) {
    EXPECT_TRUE(ev.allowed_empty) << ev.event.path;
    EXPECT_FALSE(ev.ticket.has_value());
    EXPECT_TRUE(S_ISREG(ev.stat_at_open.st_mode));
    EXPECT_EQ(ev.stat_at_open.st_size, 0);
    EXPECT_EQ(ev.event.actor.pid, child);
  }
  // A file with content: a ticket, held until answered.
  child = ::fork();
  if (child == 0) {
    ::alarm(20);
    _exit(::open(full.c_str(), O_WRONLY) >= 0 ? 0 : 1);
  }
  std::optional<SysEvent> held;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!held && std::chrono::steady_clock::now() < deadline) {
    auto ev = source_->Next(milliseconds(50));
    if (ev && ev->kind == SysEvent::Kind::kPermission) held = std::move(ev);
  }
  ASSERT_TRUE(held.has_value());
  EXPECT_FALSE(held->allowed_empty);
  ASSERT_TRUE(held->ticket.has_value());
  EXPECT_TRUE(held->ticket->Allow());
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The daemon reads every written file through the events' fds (before and after the write). Read
// with an access time update, every saved file would look read just after its save (relatime
// updates an atime older than the mtime), which backup, tiering and forensic tools rely on.
TEST_F(FanotifyTest, ReadingThroughEventFdsLeavesTheAccessTimeAlone) {
  const std::string path = tree_ + "/doc.txt";
  { std::ofstream(path) << "the content before the write"; }
  const struct timespec old_atime { 1'000'000'000, 0 };
  const struct timespec times[2] = {old_atime, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  FanotifyOptions options;
  options.permission_deadline = milliseconds(5000);
  ASSERT_TRUE(OpenSource(options).ok());
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(20);
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    const bool wrote = fd >= 0 && ::write(fd, " and after", 10) == 10;
    _exit(wrote && ::close(fd) == 0 ? 0 : 1);
  }
  std::string before, after;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (after.empty() && std::chrono::steady_clock::now() < deadline) {
    auto ev = source_->Next(milliseconds(50));
    if (!ev || ev->event.path != path) continue;
    if (ev->kind == SysEvent::Kind::kPermission && ev->ticket) {
      before = ReadThrough(ev->ticket->fd());
      EXPECT_TRUE(ev->ticket->Allow());
    } else if (ev->kind == SysEvent::Kind::kFile && ev->event.op == FileOp::kCloseWrite && ev->fd) {
      after = ReadThrough(ev->fd.get());
    }
  }
  int status = -1;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(before, "the content before the write");
  EXPECT_EQ(after, "the content before the write and after");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, old_atime.tv_sec) << "reading through the events' fds set atime";
}

TEST_F(FanotifyTest, DeadlineAllowsWhenTheDaemonHoldsATicket) {
  FanotifyOptions options;
  options.permission_deadline = milliseconds(300);
  ASSERT_TRUE(OpenSource(options).ok());
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  const std::string held_path = tree_ + "/held.txt";
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(20);
    auto t0 = std::chrono::steady_clock::now();
    int fd = ::open(held_path.c_str(), O_CREAT | O_WRONLY, 0644);
    long ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (fd < 0) ::_exit(2);
    (void)!::write(report[1], &ms, sizeof(ms));
    ::_exit(0);
  }
  std::optional<SysEvent> held;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!held && std::chrono::steady_clock::now() < deadline) {
    auto ev = source_->Next(milliseconds(50));
    if (ev && ev->kind == SysEvent::Kind::kPermission) held = std::move(ev);
  }
  ASSERT_TRUE(held);
  long ms = -1;
  ASSERT_EQ(::read(report[0], &ms, sizeof(ms)), static_cast<ssize_t>(sizeof(ms)));
  int status = -1;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 1500);
  EXPECT_TRUE(held->ticket->answered());
  EXPECT_FALSE(held->ticket->Allow());
  EXPECT_EQ(source_->Stats().tickets.timeouts, 1u);
  ::close(report[0]);
  ::close(report[1]);
}

TEST_F(FanotifyTest, FullQueueDropsAllowsAndReportsOverflow) {
  FanotifyOptions options;
  options.queue_capacity = 8;
  options.permission_deadline = milliseconds(200);
  ASSERT_TRUE(OpenSource(options).ok());
  std::vector<std::string> names;
  for (int i = 0; i < 60; ++i) names.push_back(tree_ + "/q" + std::to_string(i));
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(30);
    for (const auto& name : names) {
      int fd = ::open(name.c_str(), O_CREAT | O_WRONLY, 0644);
      if (fd < 0) ::_exit(2);
      ::close(fd);
    }
    ::_exit(0);
  }
  int status = -1;
  ASSERT_EQ(::waitpid(child, &status, 0), child);  // nobody reads meanwhile
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto first = source_->Next(milliseconds(100));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->kind, SysEvent::Kind::kOverflow);
  EXPECT_FALSE(first->detail.empty());
  auto stats = source_->Stats();
  EXPECT_GT(stats.dropped, 0u);
  EXPECT_EQ(stats.tickets.outstanding, 0u);  // queued ones timed out, dropped ones allowed
}

TEST_F(FanotifyTest, DirectoriesMovedInAreWatchedAndMovedOutAreNot) {
  const std::string outside = tree_ + "-outside";  // a sibling: never marked
  fs::create_directories(outside + "/box/inner");
  {
    int fd = ::open((outside + "/box/inner/old.txt").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ::close(fd);
  }
  FanotifyOptions options;
  ASSERT_TRUE(OpenSource(options).ok());
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const std::string box_outside = outside + "/box", box_inside = tree_ + "/box",
                    old_txt = tree_ + "/box/inner/old.txt",
                    after_txt = outside + "/box/inner/after.txt";
  pid_t child = ::fork();
  if (child == 0) {
    ::alarm(20);
    char c;
    if (::rename(box_outside.c_str(), box_inside.c_str()) != 0) ::_exit(2);
    if (::read(go[0], &c, 1) != 1) ::_exit(3);  // the watcher has marked the moved-in tree
    int fd = ::open(old_txt.c_str(), O_WRONLY | O_APPEND);
    if (fd < 0 || ::write(fd, "in", 2) != 2) ::_exit(4);
    ::close(fd);
    if (::read(go[0], &c, 1) != 1) ::_exit(8);  // the watcher has seen the write
    if (::rename(box_inside.c_str(), box_outside.c_str()) != 0) ::_exit(5);
    if (::read(go[0], &c, 1) != 1) ::_exit(9);  // the watcher has seen the move out
    fd = ::open(after_txt.c_str(), O_CREAT | O_WRONLY, 0644);
    if (fd < 0 || ::write(fd, "out", 3) != 3) ::_exit(6);
    ::close(fd);
    if (::read(go[0], &c, 1) != 1) ::_exit(7);
    ::_exit(0);
  }
  std::vector<Seen> seen;
  bool released = false, finished = false, seen_write = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    auto ev = source_->Next(milliseconds(100));
    if (!ev) {
      if (finished) break;
      continue;
    }
    seen.push_back(Remember(*ev));
    if (ev->ticket) ev->ticket->Allow();
    if (!released && ev->event.op == FileOp::kRename && ev->event.new_path == tree_ + "/box") {
      released = ::write(go[1], "x", 1) == 1;
    }
    if (!seen_write && ev->event.op == FileOp::kCloseWrite) {
      seen_write = ::write(go[1], "w", 1) == 1;
    }
    if (!finished && ev->event.op == FileOp::kRename && ev->event.path == tree_ + "/box") {
      EXPECT_EQ(ev->event.new_path, outside + "/box") << "target handle gives the new place";
      EXPECT_EQ(::write(go[1], "o", 1), 1);
      std::this_thread::sleep_for(milliseconds(200));  // let the child write outside
      finished = ::write(go[1], "y", 1) == 1;
    }
  }
  int status = -1;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(released && seen_write && finished);
  EXPECT_TRUE(Find(seen, SysEvent::Kind::kFile, FileOp::kRename, tree_ + "/box"));
  EXPECT_EQ(source_->Stats().watched_directories, 1u) << "moved-out directories are unmarked";
  EXPECT_TRUE(Find(seen, SysEvent::Kind::kFile, FileOp::kCreate, tree_ + "/box/inner/old.txt"))
      << "entries of a moved-in directory are reported";
  EXPECT_TRUE(Find(seen, SysEvent::Kind::kFile, FileOp::kCloseWrite, tree_ + "/box/inner/old.txt"))
      << "a moved-in subdirectory is watched";
  for (const auto& s : seen) {
    EXPECT_EQ(s.path.find(outside), std::string::npos)
        << "reported outside the tree: " << s.path << " op " << static_cast<int>(s.op) << " dir "
        << s.is_dir;
  }
  ::close(go[0]);
  ::close(go[1]);
  source_.reset();
  fs::remove_all(outside);
}

}  // namespace
}  // namespace steen::sys
