// The vault's store and catalog in a temporary folder: copies, dedup, unchanged files, quotas and
// pins, retention, abandoned copies, kept links, crash recovery, schema and corruption errors, two
// processes' worth of instances, concurrent copies.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "steen/limits.h"
#include "steen/vault.h"
#include "vault/intent_log.h"

namespace steen::vault {
namespace {

namespace fs = std::filesystem;

int64_t fake_now = 0;
int64_t FakeNow() { return fake_now; }

class VaultStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-vault-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/share");
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    fake_now = ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;  // later than the files' mtimes
    actor_.pid = 100;
    actor_.start_time = 5;
    actor_.exe = "/usr/bin/writer";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::unique_ptr<Vault> Open(VaultOptions options = {}) {
    options.dir = root_ + "/vault";
    options.now_ns = FakeNow;
    auto opened = Vault::Open(options);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    return opened.ok() ? std::move(*opened) : nullptr;
  }
  std::string File(const std::string& name, const std::string& content) {
    const std::string path = root_ + "/share/" + name;
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    fake_now = std::max<int64_t>(fake_now, ts.tv_sec * 1'000'000'000LL + ts.tv_nsec + 1);
    return path;
  }
  // What the permission reader does at a read-only open: the vault keeps a link to the file.
  static Status KeepLinkOf(Vault& v, const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IoError("open " + path);
    struct stat st {};
    ::fstat(fd, &st);
    Status kept = v.KeepLink(fd, {path, st.st_dev, st.st_ino});
    ::close(fd);
    return kept;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // A version's content, read as rollback reads it (an object file or a range of a pack).
  static std::string ReadObject(const Vault& v, const Version& version) {
    auto fd = v.OpenObject(version);
    if (!fd.ok()) return "<" + fd.status().ToString() + ">";
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(*fd, buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<std::size_t>(n));
    ::close(*fd);
    return out;
  }
  // Bigger than what goes into packs: a copy that is a file of its own.
  static std::string Big(char fill, const std::string& tail = "") {
    return std::string(limits::kVaultPackMaxObjectBytes + 1000, fill) + tail;
  }
  StatusOr<PreserveResult> Preserve(Vault& v, const std::string& path,
                                    const std::function<bool()>& valid = {},
                                    HashWhen hash_when = HashWhen::kBeforeReturn) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    struct stat st {};
    ::fstat(fd, &st);
    auto r = v.PreserveBeforeWrite(fd, {path, st.st_dev, st.st_ino}, actor_, valid, hash_when);
    ::close(fd);
    fake_now += 1'000'000'000;  // one second later
    return r;
  }
  std::size_t CountFiles(const std::string& dir) {
    std::size_t n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.is_regular_file();
    return n;
  }

  std::string root_;
  ActorRef actor_;
};

TEST_F(VaultStoreTest, CopyIsByteExactWithModeAndMtime) {
  auto v = Open();
  const std::string path = File("a.docx", std::string(300000, 'a') + "tail");
  ::chmod(path.c_str(), 0640);
  struct stat before {};
  ::stat(path.c_str(), &before);
  auto r = Preserve(*v, path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, PreserveOutcome::kCopied);
  auto version = v->GetVersion(r->version_id);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->size, 300004u);
  EXPECT_EQ(version->kind, VersionKind::kBeforeWrite);
  EXPECT_EQ(version->actor.pid, 100);
  const std::string out = root_ + "/restored";
  ASSERT_TRUE(v->Materialize(*version, out).ok());
  EXPECT_EQ(Read(out), Read(path));
  struct stat after {};
  ::stat(out.c_str(), &after);
  EXPECT_EQ(after.st_mode & 07777, 0640u);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  EXPECT_FALSE(v->Materialize(*version, out).ok()) << "an existing destination is never replaced";
}

TEST_F(VaultStoreTest, IdenticalContentIsStoredOnceAndUnchangedFilesAreNotCopiedAgain) {
  auto v = Open();
  const std::string a = File("a.txt", "same bytes");
  const std::string b = File("b.txt", "same bytes");
  auto ra = Preserve(*v, a);
  auto rb = Preserve(*v, b);
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(rb->outcome, PreserveOutcome::kDeduplicated);
  EXPECT_EQ(v->Stats().objects, 1u);
  EXPECT_EQ(v->Stats().versions, 2u);
  auto again = Preserve(*v, a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, PreserveOutcome::kUnchanged);
  EXPECT_EQ(again->version_id, ra->version_id);
  EXPECT_EQ(v->Stats().versions, 2u);
}

TEST_F(VaultStoreTest, EmptyFilesAndTooLargeFiles) {
  VaultOptions options;
  options.max_file_bytes = 1000;
  auto v = Open(options);
  auto empty = Preserve(*v, File("e", ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->outcome, PreserveOutcome::kEmpty);
  auto big = Preserve(*v, File("big", std::string(1001, 'x')));
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), Status::Code::kResourceExhausted);
  EXPECT_NE(big.status().message().find("max_file_bytes"), std::string::npos);
}

TEST_F(VaultStoreTest, QuotaEvictsOldestFirstButNeverPinnedVersions) {
  VaultOptions options;
  options.max_bytes = 3000;
  auto v = Open(options);
  auto first = Preserve(*v, File("1", std::string(1000, '1')));
  auto second = Preserve(*v, File("2", std::string(1000, '2')));
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(v->Pin("INC-1", {actor_}, 0).ok());
  // Both are pinned now: a third fits, a fourth does not.
  ASSERT_TRUE(Preserve(*v, File("3", std::string(1000, '3'))).ok());
  auto fourth = Preserve(*v, File("4", std::string(1000, '4')));
  ASSERT_FALSE(fourth.ok());
  EXPECT_EQ(fourth.status().code(), Status::Code::kResourceExhausted);
  EXPECT_TRUE(v->GetVersion(first->version_id).ok());
  // Released: the oldest goes first.
  ASSERT_TRUE(v->Release("INC-1").ok());
  ASSERT_TRUE(Preserve(*v, File("5", std::string(1000, '5'))).ok());
  EXPECT_FALSE(v->GetVersion(first->version_id).ok());
  EXPECT_TRUE(v->GetVersion(second->version_id).ok());
  EXPECT_LE(v->Stats().object_bytes, 3000u);
}

TEST_F(VaultStoreTest, TheDiskReserveRefusesACopyWithoutDroppingHistoryThatCouldNotMakeRoom) {
  VaultOptions options;
  options.min_free_bytes = 0;
  auto v = Open(options);
  auto kept = Preserve(*v, File("1", std::string(1000, '1')));
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  v.reset();
  options.min_free_bytes = uint64_t{1} << 60;  // more than any disk has free
  v = Open(options);
  auto refused = Preserve(*v, File("2", std::string(1000, '2')));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Status::Code::kResourceExhausted);
  EXPECT_NE(refused.status().message().find("vault.min_free_bytes"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(v->Stats().refused_disk, 1u);
  EXPECT_TRUE(v->GetVersion(kept->version_id).ok());  // evicting it would not have helped
  EXPECT_EQ(CountFiles(root_ + "/vault/tmp"), 0u);
}

TEST_F(VaultStoreTest, RetentionEvictsOldUnpinnedVersions) {
  VaultOptions options;
  options.retention_ns = 3600LL * 1'000'000'000;
  auto v = Open(options);
  auto old_one = Preserve(*v, File("old", "old content"));
  ActorRef other = actor_;
  other.pid = 200;
  ASSERT_TRUE(old_one.ok());
  fake_now += 7200LL * 1'000'000'000;
  auto fresh = Preserve(*v, File("new", "new content"));
  ASSERT_TRUE(fresh.ok());
  auto evicted = v->Maintain();
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, 1u);
  EXPECT_FALSE(v->GetVersion(old_one->version_id).ok());
  EXPECT_TRUE(v->GetVersion(fresh->version_id).ok());
}

// Small copies share pack files (no inode each); equal content is one object whichever way it
// came (a packed copy, then a deleted file's kept link); restores are byte-exact.
TEST_F(VaultStoreTest, SmallCopiesArePackedDeduplicatedAndRestoredExactly) {
  auto v = Open();
  std::vector<std::string> contents = {"first small file", std::string(5000, 'b'),
                                       std::string(limits::kVaultPackMaxObjectBytes, 'c'), ""};
  for (int i = 0; i < 256; ++i) contents[3].push_back(static_cast<char>(i));
  std::vector<int64_t> ids;
  std::string pack;
  for (std::size_t i = 0; i < contents.size(); ++i) {
    auto r = Preserve(*v, File("s" + std::to_string(i), contents[i]));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->outcome, PreserveOutcome::kCopied);
    EXPECT_EQ(r->object_path, "") << "no file of its own";
    auto version = v->GetVersion(r->version_id);
    ASSERT_TRUE(version.ok());
    EXPECT_EQ(version->object.rfind("packs/", 0), 0u) << version->object;
    EXPECT_EQ(version->sha256.size(), 64u) << "hashed at once";
    const std::string this_pack = version->object.substr(0, version->object.find(':'));
    if (pack.empty()) pack = this_pack;
    EXPECT_EQ(this_pack, pack) << "one pack";
    ids.push_back(r->version_id);
  }
  EXPECT_EQ(CountFiles(root_ + "/vault/objects"), 0u);
  EXPECT_EQ(CountFiles(root_ + "/vault/packs"), 1u);
  auto twin = Preserve(*v, File("twin", contents[1]));
  ASSERT_TRUE(twin.ok());
  EXPECT_EQ(twin->outcome, PreserveOutcome::kDeduplicated);
  EXPECT_EQ(v->GetVersion(twin->version_id)->object, v->GetVersion(ids[1])->object);
  // A file deleted after it was read: its kept link becomes a version, onto the packed object.
  const std::string gone = File("gone", contents[2]);
  ASSERT_TRUE(KeepLinkOf(*v, gone).ok());
  struct stat st {};
  ::stat(gone.c_str(), &st);
  ::unlink(gone.c_str());
  Status deleted = v->NoteDelete({gone, st.st_dev, st.st_ino}, actor_, fake_now);
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  auto versions = v->Versions(gone);
  ASSERT_TRUE(versions.ok() && versions->size() == 1u);
  EXPECT_EQ(versions->front().object, v->GetVersion(ids[2])->object) << "one object per content";
  EXPECT_EQ(CountFiles(root_ + "/vault/objects"), 0u);
  EXPECT_EQ(v->Stats().objects, 4u);
  for (std::size_t i = 0; i < contents.size(); ++i) {
    const std::string dest = root_ + "/restored-" + std::to_string(i);
    ASSERT_TRUE(v->Materialize(*v->GetVersion(ids[i]), dest).ok());
    EXPECT_EQ(Read(dest), contents[i]) << i;
  }
  // Reopened (another daemon run), the same objects read back and new copies go to a new pack.
  v.reset();
  v = Open();
  EXPECT_EQ(ReadObject(*v, *v->GetVersion(ids[3])), contents[3]);
  EXPECT_EQ(v->Stats().objects, 4u);
  auto later = Preserve(*v, File("later", "after the restart"));
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(CountFiles(root_ + "/vault/packs"), 2u);
}

// Evicted packed copies give their pages back, and a pack nothing is left in goes.
TEST_F(VaultStoreTest, EvictedPackedCopiesFreeTheirPackWhenItEmpties) {
  VaultOptions options;
  options.retention_ns = 3600LL * 1'000'000'000;
  auto v = Open(options);
  auto old_a = Preserve(*v, File("a", std::string(8000, 'a')));
  auto old_b = Preserve(*v, File("b", std::string(8000, 'b')));
  ASSERT_TRUE(old_a.ok() && old_b.ok());
  const std::string old_object = v->GetVersion(old_a->version_id)->object;
  const std::string old_pack = root_ + "/vault/" + old_object.substr(0, old_object.find(':'));
  v.reset();
  v = Open(options);  // a new run appends to a new pack
  fake_now += 7200LL * 1'000'000'000;
  auto fresh = Preserve(*v, File("c", std::string(8000, 'c')));
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(fs::exists(old_pack));
  auto evicted = v->Maintain();
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, 2u);
  EXPECT_FALSE(fs::exists(old_pack)) << "nothing live was left in it";
  EXPECT_EQ(CountFiles(root_ + "/vault/packs"), 1u);
  EXPECT_EQ(v->Stats().objects, 1u);
  EXPECT_EQ(ReadObject(*v, *v->GetVersion(fresh->version_id)), std::string(8000, 'c'));
}

// Inside a batch, a packed copy's rows go to the intent log and the writer needs no commit; a
// copy of its own still does. A crash before the commit (a child process that dies without
// closing its vault) loses no row: the next owner records them again from the log.
TEST_F(VaultStoreTest, PackedCopiesNeedNoCommitAndOutliveACrashBeforeIt) {
  const std::string small = File("small.txt", "content before the write");
  const std::string twin = File("twin.txt", "content before the write");
  const std::string big = File("big.bin", Big('g'));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // no gtest assertions here: the exit code tells
    VaultOptions options;
    options.dir = root_ + "/vault";
    options.now_ns = FakeNow;
    auto v = Vault::Open(options);
    if (!v.ok()) ::_exit(10);
    (*v)->BeginBatch();
    const auto preserve = [&](const std::string& path) {
      const int fd = ::open(path.c_str(), O_RDONLY);
      struct stat st {};
      ::fstat(fd, &st);
      auto r = (*v)->PreserveBeforeWrite(fd, {path, st.st_dev, st.st_ino}, actor_);
      ::close(fd);
      return r;
    };
    auto a = preserve(small);
    auto b = preserve(twin);
    auto c = preserve(big);
    if (!a.ok() || a->commit_needed) ::_exit(11);
    if (!b.ok() || b->outcome != PreserveOutcome::kDeduplicated || b->commit_needed) ::_exit(12);
    if (!c.ok() || !c->commit_needed) ::_exit(13);
    ::_exit(0);  // dies with the batch open: nothing committed, no destructor runs
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GT(fs::file_size(root_ + "/vault/intents.log"), 0u);

  auto v = Open();
  EXPECT_EQ(v->Stats().replayed, 2u);
  for (const std::string& path : {small, twin}) {
    auto versions = v->Versions(path);
    ASSERT_TRUE(versions.ok() && versions->size() == 1u) << path;
    EXPECT_EQ(ReadObject(*v, versions->front()), "content before the write");
    EXPECT_EQ(versions->front().actor.pid, actor_.pid);
    auto changes = v->ChangesBy({actor_}, 0);
    ASSERT_TRUE(changes.ok());
    bool recorded = false;
    for (const Change& change : *changes) {
      recorded |= change.path == path && change.version_id == versions->front().id;
    }
    EXPECT_TRUE(recorded) << "the write change that rollback selects: " << path;
  }
  EXPECT_TRUE(v->Versions(big)->empty()) << "its rows were to be committed before the answer";
  EXPECT_EQ(fs::file_size(root_ + "/vault/intents.log"), 0u);
  // Opened again: nothing is recorded twice.
  v.reset();
  v = Open();
  EXPECT_EQ(v->Stats().replayed, 0u);
  EXPECT_EQ(v->Versions(small)->size(), 1u);
  // A committed batch empties the log.
  v->BeginBatch();
  auto r = Preserve(*v, File("third.txt", "third"));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->commit_needed);
  EXPECT_GT(fs::file_size(root_ + "/vault/intents.log"), 0u);
  ASSERT_TRUE(v->CommitBatch().ok());
  EXPECT_EQ(fs::file_size(root_ + "/vault/intents.log"), 0u);
}

// A record whose range no longer holds its content (evicted and punched before a crash) is not
// recorded again.
TEST_F(VaultStoreTest, AnIntentWhoseRangeLostItsContentIsNotReplayed) {
  std::string object;
  {
    auto v = Open();
    auto r = Preserve(*v, File("a.txt", "kept"));
    ASSERT_TRUE(r.ok());
    object = v->GetVersion(r->version_id)->object;
  }
  CopyIntent stale;
  stale.version.path = root_ + "/share/ghost.txt";
  stale.version.device = 1;
  stale.version.inode = 2;
  stale.version.size = 4;
  stale.version.taken_ns = fake_now;
  stale.version.sha256 = std::string(64, '0');  // not what the range holds
  stale.version.object = object;
  stale.change_time_ns = fake_now;
  {
    auto log = IntentLog::Open(root_ + "/vault/intents.log");
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(stale).ok());
  }
  auto v = Open();
  EXPECT_EQ(v->Stats().replayed, 0u);
  EXPECT_TRUE(v->Versions(stale.version.path)->empty());
  EXPECT_EQ(v->Stats().versions, 1u);
}

// An eviction inside a batch punches its range only once the batch is committed: a crash before
// (a child that dies with the batch open) leaves the row, and the content it names, intact.
TEST_F(VaultStoreTest, AnEvictedPackedCopyKeepsItsBytesUntilTheDeleteIsCommitted) {
  VaultOptions options;
  options.retention_ns = 3600LL * 1'000'000'000;
  int64_t old_id = 0;
  {
    auto v = Open(options);
    auto old_one = Preserve(*v, File("old", std::string(9000, 'o')));
    ASSERT_TRUE(old_one.ok());
    old_id = old_one->version_id;
    ASSERT_TRUE(Preserve(*v, File("keep", std::string(9000, 'k'))).ok());  // keeps the pack
  }
  fake_now += 7200LL * 1'000'000'000;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    VaultOptions child_options = options;
    child_options.dir = root_ + "/vault";
    child_options.now_ns = FakeNow;
    auto v = Vault::Open(child_options);
    if (!v.ok()) ::_exit(10);
    (*v)->BeginBatch();
    auto evicted = (*v)->Maintain();
    if (!evicted.ok() || *evicted != 2) ::_exit(11);
    ::_exit(0);  // the deletes were never committed
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  fake_now -= 7200LL * 1'000'000'000;  // within retention again: nothing evicted at Open
  auto v = Open(options);
  auto version = v->GetVersion(old_id);
  ASSERT_TRUE(version.ok()) << "the delete was not committed";
  EXPECT_EQ(ReadObject(*v, *version), std::string(9000, 'o')) << "and its bytes are still there";
  // Committed this time: the range goes with the batch.
  fake_now += 7200LL * 1'000'000'000;
  v->BeginBatch();
  auto evicted = v->Maintain();
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(*evicted, 2u);
  ASSERT_TRUE(v->CommitBatch().ok());
  EXPECT_FALSE(v->GetVersion(old_id).ok());
}

TEST_F(VaultStoreTest, AnAbandonedCopyLeavesNothing) {
  auto v = Open();
  auto r = Preserve(*v, File("x", "content"), [] { return false; });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(v->Stats().aborted, 1u);
  EXPECT_EQ(CountFiles(root_ + "/vault/objects"), 0u);
  EXPECT_EQ(CountFiles(root_ + "/vault/packs"), 0u);
  EXPECT_EQ(CountFiles(root_ + "/vault/tmp"), 0u);
}

TEST_F(VaultStoreTest, KeptLinkBecomesAVersionOnlyWhenTheLastNameGoes) {
  auto v = Open();
  const std::string a = File("a.jpg", "picture");
  const std::string b = File("b.jpg", "linked twice");
  const std::string b2 = root_ + "/share/b-again.jpg";
  ASSERT_EQ(::link(b.c_str(), b2.c_str()), 0);
  for (const std::string& p : {a, b}) {
    int fd = ::open(p.c_str(), O_RDONLY);
    struct stat st {};
    ::fstat(fd, &st);
    ASSERT_TRUE(v->KeepLink(fd, {p, st.st_dev, st.st_ino}).ok());
    ASSERT_TRUE(v->KeepLink(fd, {p, st.st_dev, st.st_ino}).ok()) << "idempotent";
    ::close(fd);
  }
  ::unlink(a.c_str());
  ::unlink(b.c_str());
  ASSERT_TRUE(v->NoteDelete({a, 0, 0}, actor_, fake_now).ok());
  ASSERT_TRUE(v->NoteDelete({b, 0, 0}, actor_, fake_now).ok());
  auto va = v->Versions(a);
  ASSERT_TRUE(va.ok());
  ASSERT_EQ(va->size(), 1u);
  EXPECT_EQ((*va)[0].kind, VersionKind::kDeleted);
  ASSERT_TRUE(v->Materialize((*va)[0], a).ok());
  EXPECT_EQ(Read(a), "picture");
  auto vb = v->Versions(b);
  ASSERT_TRUE(vb.ok());
  EXPECT_TRUE(vb->empty()) << "b still has a name: nothing lost, no version";
  auto changes = v->ChangesBy({actor_}, 0);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), 2u);
}

// steen's rollback removing an offender's file: recorded, but its ciphertext is not kept.
TEST_F(VaultStoreTest, DeleteWithoutKeepingDropsTheLinkAndKeepsNoVersion) {
  auto v = Open();
  const std::string a = File("a.locked", "ciphertext");
  ASSERT_TRUE(KeepLinkOf(*v, a).ok());
  ASSERT_EQ(CountFiles(root_ + "/vault/links"), 1u);
  ::unlink(a.c_str());
  ASSERT_TRUE(v->NoteDelete({a, 0, 0}, actor_, fake_now, /*keep_last_name=*/false).ok());
  auto versions = v->Versions(a);
  ASSERT_TRUE(versions.ok());
  EXPECT_TRUE(versions->empty());
  EXPECT_EQ(CountFiles(root_ + "/vault/links"), 0u) << "the vault's link is the data's last name";
  EXPECT_EQ(CountFiles(root_ + "/vault/objects"), 0u);
  auto changes = v->ChangesBy({actor_}, 0);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].op, ChangeOp::kDelete);
}

TEST_F(VaultStoreTest, RenameOverKeepsTheReplacedFileAndFolderRenamesMoveLinks) {
  auto v = Open();
  fs::create_directories(root_ + "/share/dir");
  const std::string x = File("dir/x", "original x");
  const std::string y = File("y", "ciphertext");
  ASSERT_TRUE(KeepLinkOf(*v, x).ok());
  // The folder is renamed: the kept link follows.
  const std::string moved = root_ + "/share/moved";
  ASSERT_EQ(::rename((root_ + "/share/dir").c_str(), moved.c_str()), 0);
  ASSERT_TRUE(v->NoteRename(root_ + "/share/dir", moved, actor_, fake_now).ok());
  // y renamed over moved/x.
  ASSERT_EQ(::rename(y.c_str(), (moved + "/x").c_str()), 0);
  ASSERT_TRUE(v->NoteRename(y, moved + "/x", actor_, fake_now).ok());
  auto versions = v->Versions(moved + "/x");
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ((*versions)[0].kind, VersionKind::kRenamedOver);
  EXPECT_EQ(ReadObject(*v, (*versions)[0]), "original x");
  auto changes = v->ChangesBy({actor_}, 0);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ(changes->back().version_id, (*versions)[0].id);
}

// The daemon's permission reader adds link rows to an open batch between polls: closing the vault
// commits them (SQLite rolls back what is open when its connection closes).
TEST_F(VaultStoreTest, TheRowsOfAnOpenBatchOutliveClosingTheVault) {
  const std::string path = File("read-last", "read just before the daemon stopped");
  {
    auto v = Open();
    v->BeginBatch();
    ASSERT_TRUE(KeepLinkOf(*v, path).ok());
  }
  auto reopened = Open();
  EXPECT_EQ(reopened->Stats().links, 1u);
}

// A folder's rename moves the links under it, and only those: names that merely start with the
// folder's name ("dir.txt", "dir-x/", "dir0") sort around "dir/" and must stay where they are.
TEST_F(VaultStoreTest, AFolderRenameMovesTheLinksUnderItAndNotItsNamesakes) {
  auto v = Open();
  fs::create_directories(root_ + "/share/dir");
  fs::create_directories(root_ + "/share/dir-x");
  const std::vector<std::string> names = {"dir/x", "dir.txt", "dir-x/y", "dir0", "dirz"};
  for (const std::string& name : names) {
    const std::string path = File(name, "original " + name);
    ASSERT_TRUE(KeepLinkOf(*v, path).ok());
  }
  const std::string moved = root_ + "/share/moved";
  ASSERT_EQ(::rename((root_ + "/share/dir").c_str(), moved.c_str()), 0);
  ASSERT_TRUE(v->NoteRename(root_ + "/share/dir", moved, actor_, fake_now).ok());
  // Each file is then replaced by a rename over it: its version is found where its link is.
  const std::vector<std::pair<std::string, std::string>> now_at = {{"moved/x", "dir/x"},
                                                                   {"dir.txt", "dir.txt"},
                                                                   {"dir-x/y", "dir-x/y"},
                                                                   {"dir0", "dir0"},
                                                                   {"dirz", "dirz"}};
  for (const auto& [where, name] : now_at) {
    const std::string target = root_ + "/share/" + where;
    const std::string fresh = File("fresh", "ciphertext");
    ASSERT_EQ(::rename(fresh.c_str(), target.c_str()), 0);
    ASSERT_TRUE(v->NoteRename(fresh, target, actor_, fake_now).ok());
    auto versions = v->Versions(target);
    ASSERT_TRUE(versions.ok());
    ASSERT_EQ(versions->size(), 1u) << where;
    EXPECT_EQ((*versions)[0].kind, VersionKind::kRenamedOver) << where;
    EXPECT_EQ(ReadObject(*v, (*versions)[0]), "original " + name) << where;
  }
}

TEST_F(VaultStoreTest, RenameSidesOutsideTheTreesAreRecordedAsUnknown) {
  auto v = Open();
  const std::string a = File("a", "original a");
  const std::string b = File("b", "original b");
  ASSERT_TRUE(KeepLinkOf(*v, b).ok());
  // Moved out: the far side resolved from the file's handle came back as the vault's own link.
  ASSERT_TRUE(v->NoteRename(a, v->dir() + "/links/1-2", actor_, fake_now).ok());
  // Moved in from an unknown place: an empty old side must not move every kept link.
  ASSERT_TRUE(v->NoteRename("", root_ + "/share/c", actor_, fake_now).ok());
  auto changes = v->ChangesBy({actor_}, 0);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 2u);
  EXPECT_EQ((*changes)[0].path, a);
  EXPECT_EQ((*changes)[0].new_path, "") << "the vault's link is never a destination";
  EXPECT_EQ((*changes)[1].path, "");
  // b's kept link still knows its path: its last name going makes a version found by path.
  ::unlink(b.c_str());
  ASSERT_TRUE(v->NoteDelete({b, 0, 0}, actor_, fake_now).ok());
  auto versions = v->Versions(b);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_EQ(ReadObject(*v, (*versions)[0]), "original b");
}

TEST_F(VaultStoreTest, ChangesAreSelectedByProcessOrBySmbClient) {
  auto v = Open();
  ActorRef reused = actor_;
  reused.start_time = 6;  // same pid, another process
  ActorRef session1, session2;
  session1.pid = 300;
  session1.smb_client_address = "198.18.0.2";
  session2.pid = 301;
  session2.smb_client_address = "198.18.0.2";
  for (const ActorRef* a : {&actor_, &reused, &session1, &session2}) {
    ASSERT_TRUE(v->NoteCreate({root_ + "/share/f", 1, 1}, *a, fake_now).ok());
  }
  EXPECT_EQ(v->ChangesBy({actor_}, 0)->size(), 1u);
  ActorRef client;
  client.smb_client_address = "198.18.0.2";
  EXPECT_EQ(v->ChangesBy({client}, 0)->size(), 2u);
  EXPECT_EQ(v->ChangesBy({actor_}, fake_now + 1)->size(), 0u);
}

TEST_F(VaultStoreTest, RecoveryAfterACrashCleansEverythingHalfDone) {
  int64_t kept_id = 0, kept_big_id = 0, lost_id = 0, cut_id = 0;
  std::string lost_object, cut_pack;
  {
    auto v = Open();
    kept_id = Preserve(*v, File("keep", "kept content"))->version_id;
    kept_big_id = Preserve(*v, File("keep-big", Big('k')))->version_id;
    auto lost = Preserve(*v, File("lost", Big('l', "object removed by hand")));
    lost_id = lost->version_id;
    lost_object = v->ObjectPath(*v->GetVersion(lost_id));
    ASSERT_TRUE(fs::exists(lost_object));
  }
  {  // A second owner's pack, cut short behind our back: its row names bytes that are gone.
    auto v = Open();
    auto cut = Preserve(*v, File("cut", std::string(9000, 'c')));
    cut_id = cut->version_id;
    cut_pack = v->GetVersion(cut_id)->object;
    cut_pack = root_ + "/vault/" + cut_pack.substr(0, cut_pack.find(':'));
  }
  ASSERT_EQ(::truncate(cut_pack.c_str(), 100), 0);
  ::unlink(lost_object.c_str());
  std::ofstream(root_ + "/vault/tmp/123-0") << "half a copy";
  fs::create_directories(root_ + "/vault/objects/ff");
  std::ofstream(root_ + "/vault/objects/ff/ff00") << "no row names me";
  std::ofstream(root_ + "/vault/packs/0000000000000000-1-0.pack") << "no row names this pack";
  auto v = Open();
  ASSERT_TRUE(v->GetVersion(kept_id).ok());
  EXPECT_EQ(ReadObject(*v, *v->GetVersion(kept_id)), "kept content");
  ASSERT_TRUE(v->GetVersion(kept_big_id).ok());
  EXPECT_EQ(ReadObject(*v, *v->GetVersion(kept_big_id)), Big('k'));
  EXPECT_FALSE(v->GetVersion(lost_id).ok());
  EXPECT_FALSE(v->GetVersion(cut_id).ok()) << "its pack ends before its range";
  EXPECT_FALSE(fs::exists(root_ + "/vault/tmp/123-0"));
  EXPECT_FALSE(fs::exists(root_ + "/vault/objects/ff/ff00"));
  EXPECT_FALSE(fs::exists(root_ + "/vault/packs/0000000000000000-1-0.pack"));
  EXPECT_FALSE(fs::exists(cut_pack)) << "no row names it any more";
  EXPECT_EQ(v->Stats().versions, 2u);
  EXPECT_EQ(v->Stats().objects, 2u);
}

// The daemon answers the writer before its copy is hashed: the copy is complete and restorable
// at once, under a placeholder; FinishPending gives it its content address and deduplicates it.
TEST_F(VaultStoreTest, ACopyHashedLaterIsRestorableAtOnceAndAddressedAfter) {
  auto v = Open();
  const std::string content = Big('x', "end");
  const std::string a = File("a.bin", content);
  const std::string b = File("b.bin", content);
  auto ra = Preserve(*v, a, {}, HashWhen::kLater);
  auto rb = Preserve(*v, b, {}, HashWhen::kLater);
  ASSERT_TRUE(ra.ok() && rb.ok()) << ra.status().ToString() << rb.status().ToString();
  EXPECT_EQ(ra->outcome, PreserveOutcome::kCopied);
  EXPECT_EQ(rb->outcome, PreserveOutcome::kCopied) << "not known equal before the hash";
  EXPECT_EQ(Read(ra->object_path), content);
  auto pending = v->GetVersion(ra->version_id);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->sha256.rfind("pending-", 0), 0u) << pending->sha256;
  EXPECT_EQ(v->Stats().objects, 2u);
  ASSERT_TRUE(v->Materialize(*pending, root_ + "/restored-pending").ok());
  EXPECT_EQ(Read(root_ + "/restored-pending"), content);

  v->FinishPending();
  auto va = v->GetVersion(ra->version_id);
  auto vb = v->GetVersion(rb->version_id);
  ASSERT_TRUE(va.ok() && vb.ok());
  EXPECT_EQ(va->sha256.size(), 64u) << va->sha256;
  EXPECT_EQ(va->sha256, vb->sha256);
  EXPECT_EQ(va->object, "objects/" + va->sha256.substr(0, 2) + "/" + va->sha256);
  EXPECT_FALSE(fs::exists(ra->object_path));
  EXPECT_FALSE(fs::exists(rb->object_path));
  EXPECT_EQ(v->Stats().objects, 1u);
  EXPECT_EQ(v->Stats().object_bytes, content.size());
  EXPECT_EQ(v->Stats().deduplicated, 1u);
  // A Version read while it was pending (another process's rollback) still finds its object.
  ASSERT_TRUE(v->Materialize(*pending, root_ + "/restored-stale").ok());
  EXPECT_EQ(Read(root_ + "/restored-stale"), content);
  // The same content hashed at once is the same object.
  auto rc = Preserve(*v, File("c.bin", content));
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(rc->outcome, PreserveOutcome::kDeduplicated);
}

// A vault on another filesystem than the files (a disk of its own): the kernel cannot copy
// between them (copy_file_range: EXDEV), so the bytes go through pread and write.
TEST_F(VaultStoreTest, ACopyToAVaultOnAnotherFilesystemIsExact) {
  struct stat shm {
  }, share{};
  if (::stat("/dev/shm", &shm) != 0 || ::stat(root_.c_str(), &share) != 0 ||
      shm.st_dev == share.st_dev) {
    GTEST_SKIP() << "no second filesystem at /dev/shm";
  }
  char tmpl[] = "/dev/shm/steen-vault-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string elsewhere = tmpl;
  {
    VaultOptions options;
    options.dir = elsewhere + "/vault";
    options.now_ns = FakeNow;
    options.min_free_bytes = 0;
    auto v = Vault::Open(options);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    std::string content;
    for (int i = 0; i < 300000; ++i) content.push_back(static_cast<char>(i * 7 + i / 251));
    const std::string path = File("big.bin", content);
    for (HashWhen when : {HashWhen::kLater, HashWhen::kBeforeReturn}) {
      auto r = Preserve(**v, path, {}, when);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      (*v)->FinishPending();
      auto version = (*v)->GetVersion(r->version_id);
      ASSERT_TRUE(version.ok());
      EXPECT_EQ(ReadObject(**v, *version), content);
      EXPECT_EQ(version->sha256.size(), 64u);
      content += "x";
      File("big.bin", content);
    }
  }
  fs::remove_all(elsewhere);
}

// steen killed between its answer to the writer and the hash: the next owner hashes the copy.
TEST_F(VaultStoreTest, ACopyLeftUnhashedByACrashIsHashedAtOpen) {
  int64_t id = 0;
  std::string sha;
  {
    auto v = Open();
    auto r = Preserve(*v, File("a.txt", Big('p', "left pending")));
    ASSERT_TRUE(r.ok());
    id = r->version_id;
    sha = v->GetVersion(id)->sha256;
  }
  // The state such a crash leaves: the copy under its placeholder, the row naming it.
  const std::string placeholder = "pending-1-2-3";
  fs::create_directories(root_ + "/vault/objects/pe");
  fs::rename(root_ + "/vault/objects/" + sha.substr(0, 2) + "/" + sha,
             root_ + "/vault/objects/pe/" + placeholder);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((root_ + "/vault/catalog.db").c_str(), &db), SQLITE_OK);
  const std::string sql = "UPDATE versions SET sha256 = '" + placeholder +
                          "', object = 'objects/pe/" + placeholder + "'";
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);

  auto v = Open();
  auto version = v->GetVersion(id);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->sha256, sha);
  EXPECT_FALSE(fs::exists(root_ + "/vault/objects/pe/" + placeholder));
  ASSERT_TRUE(v->Materialize(*version, root_ + "/restored").ok());
  EXPECT_EQ(Read(root_ + "/restored"), Big('p', "left pending"));
  EXPECT_EQ(v->Stats().objects, 1u);
}

// Copies go into empty files made ahead (spare/): the owner's are removed when it closes, and
// left-overs of a killed owner at the next Open; another instance makes none.
TEST_F(VaultStoreTest, SpareFilesBelongToTheOwnerAndGoWithIt) {
  const auto spares = [&] { return CountFiles(root_ + "/vault/spare"); };
  {
    auto owner = Open();
    auto second = Open();
    ASSERT_TRUE(Preserve(*owner, File("f0", Big('a'))).ok());  // starts the maker
    for (int i = 0; i < 500 && spares() < limits::kVaultSpareFiles; ++i) ::usleep(10000);
    ASSERT_EQ(spares(), limits::kVaultSpareFiles);
    // The maker makes a file, then lists it: a copy taken in between would be topped up again.
    ::usleep(100000);
    ASSERT_EQ(spares(), limits::kVaultSpareFiles);
    for (int i = 1; i < 3; ++i) {
      ASSERT_TRUE(
          Preserve(*owner, File("f" + std::to_string(i), Big(static_cast<char>('a' + i)))).ok());
    }
    EXPECT_EQ(spares(), limits::kVaultSpareFiles - 2) << "the copies went into spare files";
    ASSERT_TRUE(Preserve(*second, File("g", "by the second instance")).ok());
    EXPECT_EQ(spares(), limits::kVaultSpareFiles - 2) << "only the owner uses them";
    for (int i = 0; i < 3; ++i) {
      auto versions = owner->Versions(root_ + "/share/f" + std::to_string(i));
      ASSERT_TRUE(versions.ok() && versions->size() == 1u);
      EXPECT_EQ(ReadObject(*owner, (*versions)[0]), Big(static_cast<char>('a' + i)));
    }
  }
  EXPECT_EQ(spares(), 0u);
  fs::create_directories(root_ + "/vault/spare");
  std::ofstream(root_ + "/vault/spare/4242-7") << "";
  auto v = Open();
  EXPECT_EQ(spares(), 0u);
}

TEST_F(VaultStoreTest, ASecondInstanceSharesTheCatalogWithoutRecovering) {
  auto owner = Open();
  ASSERT_TRUE(owner);
  std::ofstream(root_ + "/vault/tmp/999-0") << "the owner's copy in progress";
  auto second = Open();
  ASSERT_TRUE(second);
  EXPECT_TRUE(fs::exists(root_ + "/vault/tmp/999-0")) << "only the lock holder recovers";
  auto r = Preserve(*owner, File("a", "from the daemon"));
  ASSERT_TRUE(r.ok());
  auto seen = second->GetVersion(r->version_id);
  ASSERT_TRUE(seen.ok());
  ASSERT_TRUE(second->JournalPut("INC-1", "step", "done", "").ok());
  EXPECT_EQ(owner->JournalGet("INC-1", "step")->value_or(""), "done");
}

// A file allowed open while empty (no fd any more): recorded like a copy of it, materialized as
// an empty file; the same empty state again is "unchanged"; a non-empty stat is refused.
TEST_F(VaultStoreTest, AFileOpenedEmptyIsRecordedWithoutItsFd) {
  auto v = Open();
  const std::string path = File("new.txt", "");
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  auto r = v->NoteEmptyBeforeWrite({path, st.st_dev, st.st_ino}, actor_, st);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->outcome, PreserveOutcome::kEmpty);
  auto version = v->GetVersion(r->version_id);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->size, 0u);
  ASSERT_TRUE(v->Materialize(*version, root_ + "/restored").ok());
  EXPECT_EQ(Read(root_ + "/restored"), "");
  fake_now += 1'000'000'000;
  auto again = v->NoteEmptyBeforeWrite({path, st.st_dev, st.st_ino}, actor_, st);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, PreserveOutcome::kUnchanged);
  auto changes = v->ChangesBy({actor_}, 0);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->size(), 2u) << "both opens are recorded as writes";
  st.st_size = 5;
  EXPECT_EQ(v->NoteEmptyBeforeWrite({path, st.st_dev, st.st_ino}, actor_, st).status().code(),
            Status::Code::kInvalidArgument);
}

// Rows written in a batch are seen by another connection (the CLI's) only once committed, and
// all of them then; a commit without a batch is a no-op.
TEST_F(VaultStoreTest, ABatchIsCommittedWhole) {
  auto owner = Open();
  auto reader = Open();
  ASSERT_TRUE(owner && reader);
  EXPECT_TRUE(owner->CommitBatch().ok());
  owner->BeginBatch();
  owner->BeginBatch();  // idempotent
  auto a = Preserve(*owner, File("a", "first"));
  auto b = Preserve(*owner, File("b", "second"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(owner->GetVersion(a->version_id).ok()) << "the writer sees its own rows";
  EXPECT_FALSE(reader->GetVersion(a->version_id).ok());
  ASSERT_TRUE(owner->CommitBatch().ok());
  EXPECT_TRUE(reader->GetVersion(a->version_id).ok());
  EXPECT_TRUE(reader->GetVersion(b->version_id).ok());
  // Without a batch every row is committed at once, as before.
  auto c = Preserve(*owner, File("c", "third"));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(reader->GetVersion(c->version_id).ok());
}

// The daemon holds the catalog's write lock batch after batch; a second process's writer (the
// CLI's `steen rollback`) says it waits, the owner sees it, commits and lets it in, instead of
// the writer finding a gap by chance (seconds under rsync with SQLite's own waits).
TEST_F(VaultStoreTest, AWriterKeptWaitingIsSeenAndLetIn) {
  auto owner = Open();
  auto other = Open();
  ASSERT_TRUE(owner && other);
  owner->BeginBatch();
  ASSERT_TRUE(Preserve(*owner, File("a", "first")).ok());  // the owner now holds the lock
  EXPECT_FALSE(owner->OtherWriterWaits());
  std::atomic<bool> pinned{false};
  std::thread writer([&] {
    EXPECT_TRUE(other->Pin("INC-1", {actor_}, 0).ok());
    pinned = true;
  });
  bool seen = false;
  for (int i = 0; i < 4000 && !seen; ++i) {
    seen = owner->OtherWriterWaits();
    if (!seen) ::usleep(1000);
  }
  EXPECT_TRUE(seen) << "the waiting writer was not seen";
  EXPECT_FALSE(pinned.load()) << "the writer did not wait for the lock";
  ASSERT_TRUE(owner->CommitBatch().ok());
  owner->LetWaitingWriterIn(std::chrono::milliseconds(4000));
  writer.join();
  EXPECT_TRUE(pinned.load());
  owner->BeginBatch();
  ASSERT_TRUE(Preserve(*owner, File("b", "second")).ok());
  EXPECT_FALSE(owner->OtherWriterWaits()) << "the writer's claim outlived its write";
  ASSERT_TRUE(owner->CommitBatch().ok());
}

TEST_F(VaultStoreTest, NewerSchemaAndCorruptCatalogAreClearErrors) {
  fs::create_directories(root_ + "/vault");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((root_ + "/vault/catalog.db").c_str(), &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  VaultOptions options;
  options.dir = root_ + "/vault";
  auto newer = Vault::Open(options);
  ASSERT_FALSE(newer.ok());
  EXPECT_NE(newer.status().message().find("newer"), std::string::npos);
  fs::remove(root_ + "/vault/catalog.db");
  std::ofstream(root_ + "/vault/catalog.db") << std::string(8192, 'z');
  auto corrupt = Vault::Open(options);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("catalog"), std::string::npos);
  options.dir = "relative/vault";
  EXPECT_FALSE(Vault::Open(options).ok());
}

TEST_F(VaultStoreTest, ConcurrentCopiesFromFourThreads) {
  auto v = Open();
  std::vector<std::string> paths;
  for (int i = 0; i < 40; ++i)
    paths.push_back(File("f" + std::to_string(i), std::string(5000 + i, 'a' + i % 26)));
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < 40; i += 4) {
        int fd = ::open(paths[i].c_str(), O_RDONLY);
        struct stat st {};
        ::fstat(fd, &st);
        if (v->PreserveBeforeWrite(fd, {paths[i], st.st_dev, st.st_ino}, actor_).ok()) ++ok;
        (void)v->KeepLink(fd, {paths[i], st.st_dev, st.st_ino});
        ::close(fd);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(v->Stats().versions, 40u);
  for (int i = 0; i < 40; ++i) {
    auto versions = v->Versions(paths[i]);
    ASSERT_TRUE(versions.ok());
    ASSERT_EQ(versions->size(), 1u);
    EXPECT_EQ(ReadObject(*v, (*versions)[0]), Read(paths[i]));
  }
}

}  // namespace
}  // namespace steen::vault
