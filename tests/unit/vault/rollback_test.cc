// Rollback against a real vault in a temporary folder, with the changes an encryptor makes fed the
// way the daemon feeds them (no kernel needed): in place + rename last, rename first, new file +
// unlink, rename over, ransom notes, a colleague's later edit, dry run, a second run.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "steen/vault.h"
#include "unit/vault/file_holder.h"

namespace steen::vault {
namespace {

namespace fs = std::filesystem;

class RollbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-rollback-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    share_ = root_ + "/share";
    fs::create_directories(share_ + "/docs");
    VaultOptions options;
    options.dir = root_ + "/vault";
    auto opened = Vault::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    vault_ = std::move(*opened);
    attacker_.pid = 4242;
    attacker_.start_time = 777;
    attacker_.exe = "/usr/bin/encryptor";
    colleague_.pid = 5151;
    colleague_.start_time = 888;
    colleague_.exe = "/usr/bin/libreoffice";
  }
  void TearDown() override {
    vault_.reset();
    fs::remove_all(root_);
  }

  static void Write(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static FileIdentity Identity(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return {path, st.st_dev, st.st_ino};
  }

  // What the daemon does when `actor` opens `path` for writing: a kept link, then the copy.
  void OpenForWrite(const std::string& path, const ActorRef& actor) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    const FileIdentity id = Identity(path);
    (void)vault_->KeepLink(fd, id);
    auto kept = vault_->PreserveBeforeWrite(fd, id, actor);
    ::close(fd);
    ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  }
  void OpenForRead(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    ASSERT_TRUE(vault_->KeepLink(fd, Identity(path)).ok());
    ::close(fd);
  }
  void Rename(const std::string& from, const std::string& to, const ActorRef& actor) {
    ASSERT_EQ(::rename(from.c_str(), to.c_str()), 0);
    ASSERT_TRUE(vault_->NoteRename(from, to, actor, Now()).ok());
  }
  void Create(const std::string& path, const std::string& content, const ActorRef& actor) {
    Write(path, content);
    ASSERT_TRUE(vault_->NoteCreate(Identity(path), actor, Now()).ok());
  }
  void Delete(const std::string& path, const ActorRef& actor) {
    const FileIdentity id = Identity(path);
    ASSERT_EQ(::unlink(path.c_str()), 0);
    ASSERT_TRUE(vault_->NoteDelete(id, actor, Now()).ok());
  }
  static int64_t Now() {
    struct timespec ts {};
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
  }

  RollbackReport RollbackAttacker(bool dry_run = false, int busy_wait_ms = 10000,
                                  std::function<void(const std::string&)> before_swap = {}) {
    RollbackRequest request;
    request.incident_id = "INC-TEST-0001";
    request.actors = {attacker_};
    request.dry_run = dry_run;
    request.busy_wait_ms = busy_wait_ms;
    request.before_swap = std::move(before_swap);
    auto report = Rollback(*vault_, request);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : RollbackReport{};
  }

  std::string root_, share_;
  std::unique_ptr<Vault> vault_;
  ActorRef attacker_, colleague_;
};

TEST_F(RollbackTest, InPlaceThenRenameLastIsRestoredUnderItsName) {
  const std::string a = share_ + "/docs/report.docx";
  Write(a, "the original report");
  OpenForWrite(a, attacker_);
  Write(a, "CIPHERTEXT-CIPHERTEXT");
  Rename(a, a + ".PLAY", attacker_);
  Create(share_ + "/ReadMe.txt", "PLAY\n", attacker_);

  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(Read(a), "the original report");
  EXPECT_FALSE(fs::exists(a + ".PLAY"));
  EXPECT_FALSE(fs::exists(share_ + "/ReadMe.txt"));
  EXPECT_EQ(report.restored, 1u);
  EXPECT_EQ(report.renamed_back, 1u);
  EXPECT_EQ(report.removed, 1u);
}

TEST_F(RollbackTest, RenameFirstThenWriteIsRestored) {
  const std::string a = share_ + "/docs/budget.xlsx";
  Write(a, "budget figures");
  Rename(a, a + ".enc", attacker_);
  OpenForWrite(a + ".enc", attacker_);
  Write(a + ".enc", "RANDOMRANDOMRANDOM");
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(Read(a), "budget figures");
  EXPECT_FALSE(fs::exists(a + ".enc"));
}

TEST_F(RollbackTest, NewFileAndUnlinkIsRecreatedFromTheKeptLink) {
  const std::string a = share_ + "/docs/photo.jpg";
  Write(a, std::string(5000, 'J'));
  OpenForRead(a);  // the encryptor reads the original ...
  Create(a + ".locked", "", attacker_);
  OpenForWrite(a + ".locked", attacker_);
  Write(a + ".locked", "ENCRYPTED COPY");
  Delete(a, attacker_);  // ... and deletes it
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u) << (report.items.empty() ? "" : report.items[0].detail);
  EXPECT_EQ(Read(a), std::string(5000, 'J'));
  EXPECT_FALSE(fs::exists(a + ".locked"));
  EXPECT_EQ(report.recreated, 1u);
}

// `tar c dir | openssl enc -out dir.enc && rm -rf dir`: the folder goes with its files, and the
// last deletes are read after it is gone, without a path. The link made at the read knows where
// each file was; the rollback makes the folders again (mode and owner of the nearest one left).
TEST_F(RollbackTest, FilesOfARemovedFolderComeBackWithTheFolder) {
  const std::string dir = share_ + "/projects/2024";
  fs::create_directories(dir);
  ASSERT_EQ(::chmod(share_.c_str(), 0751), 0);
  const std::string a = dir + "/plan.odt", b = dir + "/budget.xlsx";
  Write(a, std::string(3000, 'A'));
  Write(b, std::string(4000, 'B'));
  OpenForRead(a);  // tar reads them
  OpenForRead(b);
  Create(share_ + "/2024.tar.enc", "ENCRYPTED ARCHIVE", attacker_);
  Delete(a, attacker_);  // rm -rf: the first delete still names its path ...
  const FileIdentity last = Identity(b);
  ASSERT_EQ(::unlink(b.c_str()), 0);
  fs::remove(dir);
  fs::remove(share_ + "/projects");
  // ... the last is read once the folder is gone: no path, only the inode.
  ASSERT_TRUE(vault_->NoteDelete({"", last.device, last.inode}, attacker_, Now()).ok());
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u) << (report.items.empty() ? "" : report.items[0].detail);
  EXPECT_EQ(report.recreated, 2u);
  EXPECT_EQ(Read(a), std::string(3000, 'A'));
  EXPECT_EQ(Read(b), std::string(4000, 'B'));
  EXPECT_FALSE(fs::exists(share_ + "/2024.tar.enc"));
  for (const std::string& made : {share_ + "/projects", dir}) {
    struct stat st {};
    ASSERT_EQ(::stat(made.c_str(), &st), 0) << made;
    EXPECT_EQ(st.st_mode & 07777, 0751u) << made << ": made like the share's own folder";
  }
}

// `shred -u x`: x overwritten and truncated, renamed x -> 0000 -> 00 -> 0, and 0 unlinked. It comes
// back as x (not as "0"), with its content from before; a second file whose shred was stopped
// halfway (at "0000") is renamed back and restored too.
TEST_F(RollbackTest, AFileRenamedOnItsWayOutComesBackUnderItsFirstName) {
  const std::string dir = share_ + "/docs";
  fs::create_directories(dir);
  for (const std::string name : {"report.pdf", "minutes.odt"}) {
    Write(dir + "/" + name, std::string(6000, name[0]));
  }
  auto shred = [&](const std::string& name, bool finish) {
    const std::string x = dir + "/" + name;
    OpenForWrite(x, attacker_);
    Write(x, "");  // overwritten, then truncated
    std::string at = x;
    for (const char* next : {"0000", "00", "0"}) {
      if (!finish && std::string(next) == "00") return;
      Rename(at, dir + "/" + next, attacker_);
      at = dir + "/" + next;
    }
    Delete(at, attacker_);
  };
  shred("report.pdf", true);
  shred("minutes.odt", false);  // stopped at "0000"
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u) << (report.items.empty() ? "" : report.items[0].detail);
  EXPECT_EQ(Read(dir + "/report.pdf"), std::string(6000, 'r'));
  EXPECT_EQ(Read(dir + "/minutes.odt"), std::string(6000, 'm'));
  for (const char* left : {"0", "00", "0000"}) EXPECT_FALSE(fs::exists(dir + "/" + left)) << left;
}

// Two files shredded one after the other through the same names (shred's names are as long as
// the file's: "docs.7z" goes 0000000 -> ... -> 0, "docs.tar" 00000000 -> ... -> 0), the later
// renames read after their names were gone (no inode). The first file's delete of "0" follows
// only the renames recorded before it, not the second file's later ones: it was recreated as
// "00000000" in the e2e gpg-shred case (an extra file after the rollback).
TEST_F(RollbackTest, ShredChainsThroughTheSameNamesEachComeBackUnderTheirOwnName) {
  const std::string dir = share_ + "/docs";
  fs::create_directories(dir);
  const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"a.odt", {"000", "00", "0"}}, {"b.pdf", {"0000", "000", "00", "0"}}};
  for (const auto& [name, chain] : files) Write(dir + "/" + name, std::string(6000, name[0]));
  for (const auto& [name, chain] : files) {
    const std::string x = dir + "/" + name;
    OpenForWrite(x, attacker_);
    Write(x, "");
    Rename(x, dir + "/" + chain[0], attacker_);  // read at once: with its inode
    std::vector<std::pair<std::string, std::string>> renames;
    for (std::size_t i = 1; i < chain.size(); ++i) {
      const std::string from = dir + "/" + chain[i - 1], to = dir + "/" + chain[i];
      ASSERT_EQ(::rename(from.c_str(), to.c_str()), 0);
      renames.emplace_back(from, to);
    }
    const FileIdentity gone = Identity(dir + "/0");
    ASSERT_EQ(::unlink((dir + "/0").c_str()), 0);
    for (const auto& [from, to] : renames) {  // read late: no inode
      ASSERT_TRUE(vault_->NoteRename(from, to, attacker_, Now()).ok());
    }
    ASSERT_TRUE(vault_->NoteDelete(gone, attacker_, Now()).ok());
  }
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u) << (report.items.empty() ? "" : report.items[0].detail);
  EXPECT_EQ(Read(dir + "/a.odt"), std::string(6000, 'a'));
  EXPECT_EQ(Read(dir + "/b.pdf"), std::string(6000, 'b'));
  for (const char* left : {"0", "00", "000", "0000"}) {
    EXPECT_FALSE(fs::exists(dir + "/" + left)) << left;
  }
}

TEST_F(RollbackTest, RenameOverTheOriginalIsUndone) {
  const std::string a = share_ + "/docs/contract.pdf";
  Write(a, "%PDF contract");
  OpenForRead(a);
  Create(a + ".tmp", "", attacker_);
  OpenForWrite(a + ".tmp", attacker_);
  Write(a + ".tmp", "ciphertext of the contract");
  Rename(a + ".tmp", a, attacker_);  // replaces the original
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(Read(a), "%PDF contract");
  EXPECT_FALSE(fs::exists(a + ".tmp"));
}

TEST_F(RollbackTest, AColleaguesLaterEditIsNeverOverwritten) {
  const std::string a = share_ + "/docs/minutes.docx";
  const std::string b = share_ + "/docs/plan.docx";
  Write(a, "minutes v1");
  Write(b, "plan v1");
  OpenForWrite(a, attacker_);
  Write(a, "XXXXXXXX");
  OpenForWrite(b, attacker_);
  Write(b, "YYYYYYYY");
  OpenForWrite(b, colleague_);  // the colleague saves over the damaged file afterwards
  Write(b, "plan v2 by the colleague");
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(Read(a), "minutes v1");
  EXPECT_EQ(Read(b), "plan v2 by the colleague");
  EXPECT_EQ(report.kept_aside, 1u);
  EXPECT_EQ(Read(b + ".steen-restored-INC-TEST-0001"), "plan v1");
}

TEST_F(RollbackTest, DryRunChangesNothingAndASecondRunIsANoOp) {
  const std::string a = share_ + "/docs/a.txt";
  Write(a, "alpha");
  OpenForWrite(a, attacker_);
  Write(a, "encrypted");
  Rename(a, a + ".x", attacker_);
  RollbackReport dry = RollbackAttacker(true);
  EXPECT_EQ(dry.restored + dry.renamed_back, 2u);
  EXPECT_TRUE(fs::exists(a + ".x"));
  EXPECT_FALSE(fs::exists(a));

  RollbackAttacker();
  EXPECT_EQ(Read(a), "alpha");
  RollbackReport again = RollbackAttacker();
  EXPECT_EQ(again.failed, 0u);
  EXPECT_EQ(again.restored + again.renamed_back + again.removed, 0u);
  EXPECT_EQ(Read(a), "alpha");
}

TEST_F(RollbackTest, OtherProcessesChangesAreNotRolledBack) {
  const std::string a = share_ + "/docs/notes.txt";
  Write(a, "before");
  OpenForWrite(a, colleague_);
  Write(a, "colleague's work");
  RollbackReport report = RollbackAttacker();
  EXPECT_EQ(report.items.size(), 0u);
  EXPECT_EQ(Read(a), "colleague's work");
}

TEST_F(RollbackTest, AnIncidentWithoutProcessesIsAClearError) {
  RollbackRequest request;
  request.incident_id = "INC-EMPTY";
  auto report = Rollback(*vault_, request);
  EXPECT_FALSE(report.ok());
}

TEST_F(RollbackTest, AFileInUseIsRestoredOnceItsUserClosesIt) {
  const std::string a = share_ + "/docs/ledger.ods";
  Write(a, "the ledger");
  OpenForWrite(a, attacker_);
  Write(a, "ENCRYPTED LEDGER");
  FileHolder editor(a, FileHolder::Hold::kOpenForWriting);
  std::thread closes([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    editor.Release();
  });
  RollbackReport report = RollbackAttacker(false, 10000);
  closes.join();
  EXPECT_EQ(report.busy, 0u);
  EXPECT_EQ(report.restored, 1u);
  EXPECT_EQ(Read(a), "the ledger");
}

TEST_F(RollbackTest, AFileStillInUseIsReportedBusyAndALaterRunRestoresIt) {
  const std::string a = share_ + "/docs/locked.docx";
  const std::string b = share_ + "/docs/free.docx";
  Write(a, "locked original");
  Write(b, "free original");
  OpenForWrite(a, attacker_);
  Write(a, "XXXX");
  OpenForWrite(b, attacker_);
  Write(b, "YYYY");
  {
    FileHolder samba(a, FileHolder::Hold::kReadLock);
    RollbackReport report = RollbackAttacker(false, 300);
    EXPECT_EQ(report.busy, 1u);
    EXPECT_EQ(report.restored, 1u);
    EXPECT_EQ(Read(a), "XXXX");  // untouched while locked
    EXPECT_EQ(Read(b), "free original");
    bool named = false;
    for (const RollbackItem& item : report.items) {
      if (item.action == RollbackAction::kBusy) {
        named = item.path == a && item.detail.find("lock") != std::string::npos;
      }
    }
    EXPECT_TRUE(named);
  }
  RollbackReport again = RollbackAttacker(false, 300);
  EXPECT_EQ(again.busy, 0u);
  EXPECT_EQ(again.restored, 1u);
  EXPECT_EQ(Read(a), "locked original");
}

TEST_F(RollbackTest, AFileReplacedDuringTheRestoreIsKeptAsideNotOverwritten) {
  const std::string a = share_ + "/docs/offer.pdf";
  Write(a, "%PDF the offer");
  OpenForWrite(a, attacker_);
  Write(a, "ENCRYPTED");
  // A user saves a new version (write to a temporary, rename over) the instant before the swap.
  RollbackReport report = RollbackAttacker(false, 1000, [&](const std::string& path) {
    if (path != a) return;
    Write(a + ".tmp", "%PDF the offer, signed");
    ASSERT_EQ(::rename((a + ".tmp").c_str(), a.c_str()), 0);
  });
  EXPECT_EQ(report.kept_aside, 1u);
  EXPECT_EQ(Read(a), "%PDF the offer, signed");
  EXPECT_EQ(Read(a + ".steen-restored-INC-TEST-0001"), "%PDF the offer");
  EXPECT_FALSE(fs::exists(a + ".tmp"));
}

TEST_F(RollbackTest, ANoteInUseIsNotRemovedUntilClosed) {
  const std::string note = share_ + "/README-DECRYPT.txt";
  Create(note, "pay", attacker_);
  {
    FileHolder holder(note, FileHolder::Hold::kOpenForWriting);
    RollbackReport report = RollbackAttacker(false, 200);
    EXPECT_EQ(report.busy, 1u);
    EXPECT_TRUE(fs::exists(note));
  }
  RollbackReport again = RollbackAttacker(false, 200);
  EXPECT_EQ(again.removed, 1u);
  EXPECT_FALSE(fs::exists(note));
}

}  // namespace
}  // namespace steen::vault
