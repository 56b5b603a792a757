// GuardedReplace / GuardedRemove against real files and real other processes: a file in use
// (open for writing, locked, mapped) is never swapped; one that changed or was replaced is never
// touched; one opened for writing during the swap keeps its old inode for its writer.
#include "vault/guarded_replace.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "unit/vault/file_holder.h"

namespace steen::vault {
namespace {

namespace fs = std::filesystem;

class GuardedReplaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-guarded-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    target_ = dir_ + "/report.docx";
    staged_ = dir_ + "/.steen-restore-1";
    Write(target_, "CIPHERTEXT CIPHERTEXT");
    Write(staged_, "the original report");
  }
  void TearDown() override { fs::remove_all(dir_); }

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
  ReplaceResult Replace(const FileState& seen, const ReplaceOptions& options = {}) {
    auto result = GuardedReplace(staged_, target_, seen, options);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : ReplaceResult{};
  }
  size_t Entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }

  std::string dir_, target_, staged_;
};

TEST_F(GuardedReplaceTest, AnUnusedFileIsReplacedAndNothingIsLeftBehind) {
  ReplaceResult r = Replace(StateOf(target_));
  EXPECT_EQ(r.outcome, ReplaceOutcome::kReplaced) << r.detail;
  EXPECT_EQ(Read(target_), "the original report");
  EXPECT_TRUE(r.displaced_kept.empty());
  EXPECT_EQ(Entries(), 1u);
}

TEST_F(GuardedReplaceTest, WhereNothingWasSeenAFileThatAppearedIsNeverOverwritten) {
  ReplaceResult r = Replace(FileState{});
  EXPECT_EQ(r.outcome, ReplaceOutcome::kChanged);
  EXPECT_EQ(Read(target_), "CIPHERTEXT CIPHERTEXT");
  EXPECT_EQ(Read(staged_), "the original report");
  fs::remove(target_);
  EXPECT_EQ(Replace(FileState{}).outcome, ReplaceOutcome::kReplaced);
  EXPECT_EQ(Read(target_), "the original report");
}

TEST_F(GuardedReplaceTest, AFileChangedSinceItWasSeenIsNotReplaced) {
  const FileState seen = StateOf(target_);
  {
    std::ofstream out(target_, std::ios::binary | std::ios::app);
    out << " and a colleague's line";
  }
  ReplaceResult r = Replace(seen);
  EXPECT_EQ(r.outcome, ReplaceOutcome::kChanged);
  EXPECT_NE(r.detail.find("changed"), std::string::npos) << r.detail;
  EXPECT_EQ(Read(target_), "CIPHERTEXT CIPHERTEXT and a colleague's line");
  EXPECT_EQ(Read(staged_), "the original report");
}

TEST_F(GuardedReplaceTest, AFileOpenForWritingByAnotherProcessIsBusyUntilClosed) {
  FileHolder holder(target_, FileHolder::Hold::kOpenForWriting);
  ReplaceResult r = Replace(StateOf(target_));
  EXPECT_EQ(r.outcome, ReplaceOutcome::kBusy);
  EXPECT_NE(r.detail.find("open for writing by pid " + std::to_string(holder.pid())),
            std::string::npos)
      << r.detail;
  EXPECT_EQ(Read(target_), "CIPHERTEXT CIPHERTEXT");
  holder.Release();
  EXPECT_EQ(Replace(StateOf(target_)).outcome, ReplaceOutcome::kReplaced);
  EXPECT_EQ(Read(target_), "the original report");
}

TEST_F(GuardedReplaceTest, TheIncidentsOwnSuspendedWriterDoesNotMakeItBusy) {
  FileHolder holder(target_, FileHolder::Hold::kOpenForWriting);
  ReplaceOptions options;
  ActorRef offender;
  offender.pid = holder.pid();
  options.tolerated_writers = {offender};
  EXPECT_EQ(Replace(StateOf(target_), options).outcome, ReplaceOutcome::kReplaced);
  EXPECT_EQ(Read(target_), "the original report");
}

TEST_F(GuardedReplaceTest, LockedFilesAreBusy) {
  for (auto hold : {FileHolder::Hold::kReadLock, FileHolder::Hold::kFlock}) {
    FileHolder holder(target_, hold);
    ReplaceResult r = Replace(StateOf(target_));
    EXPECT_EQ(r.outcome, ReplaceOutcome::kBusy);
    EXPECT_NE(r.detail.find("lock"), std::string::npos) << r.detail;
    EXPECT_EQ(Read(target_), "CIPHERTEXT CIPHERTEXT");
  }
}

TEST_F(GuardedReplaceTest, ASharedWritableMappingIsBusyEvenWithItsDescriptorClosed) {
  FileHolder holder(target_, FileHolder::Hold::kSharedWritableMapping);
  ReplaceResult r = Replace(StateOf(target_));
  EXPECT_EQ(r.outcome, ReplaceOutcome::kBusy);
  EXPECT_NE(r.detail.find("shared writable mapping"), std::string::npos) << r.detail;
}

TEST_F(GuardedReplaceTest, AFileReplacedDuringTheSwapIsLeftToWhoeverPutItThere) {
  ReplaceOptions options;
  options.before_swap = [&] {
    Write(dir_ + "/new", "saved by the user just now");
    ASSERT_EQ(::rename((dir_ + "/new").c_str(), target_.c_str()), 0);
  };
  ReplaceResult r = Replace(StateOf(target_), options);
  EXPECT_EQ(r.outcome, ReplaceOutcome::kChanged);
  EXPECT_EQ(Read(target_), "saved by the user just now");
  EXPECT_EQ(Read(staged_), "the original report");
}

// Waits (bounded) until the kernel is breaking this process's lease: somebody is in open(2).
bool WaitForLeaseBreak() {
  const std::string me = " " + std::to_string(::getpid()) + " ";
  for (int i = 0; i < 500; ++i) {
    std::ifstream locks("/proc/locks");
    std::string line;
    while (std::getline(locks, line)) {
      if (line.find("LEASE") != std::string::npos && line.find("BREAK") != std::string::npos &&
          line.find(me) != std::string::npos) {
        return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(GuardedReplaceTest, AFileOpenedForWritingDuringTheSwapIsKeptForItsWriter) {
  pid_t writer = -1;
  ReplaceOptions options;
  options.keep_displaced_as = target_ + ".displaced";
  options.before_swap = [&] {
    writer = ::fork();
    if (writer == 0) {
      // Blocks in open(2) until the lease is released, then writes into what it opened.
      int fd = ::open(target_.c_str(), O_WRONLY);
      bool ok = fd >= 0 && ::write(fd, "USER", 4) == 4;
      ::_exit(ok ? 0 : 1);
    }
    ASSERT_TRUE(WaitForLeaseBreak());
  };
  ReplaceResult r = Replace(StateOf(target_), options);
  int status = -1;
  ASSERT_EQ(::waitpid(writer, &status, 0), writer);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(r.outcome, ReplaceOutcome::kReplaced);
  EXPECT_EQ(Read(target_), "the original report");
  ASSERT_EQ(r.displaced_kept, target_ + ".displaced") << r.detail;
  EXPECT_EQ(Read(r.displaced_kept), "USERERTEXT CIPHERTEXT");
}

TEST_F(GuardedReplaceTest, RemoveTakesOnlyAnUnusedUnchangedFile) {
  {
    FileHolder holder(target_, FileHolder::Hold::kOpenForWriting);
    auto busy = GuardedRemove(target_, StateOf(target_), {});
    ASSERT_TRUE(busy.ok());
    EXPECT_EQ(busy->outcome, ReplaceOutcome::kBusy);
    EXPECT_TRUE(fs::exists(target_));
  }
  ReplaceOptions options;
  options.before_swap = [&] {
    Write(dir_ + "/new", "a user's file under that name");
    ASSERT_EQ(::rename((dir_ + "/new").c_str(), target_.c_str()), 0);
  };
  auto replaced = GuardedRemove(target_, StateOf(target_), options);
  ASSERT_TRUE(replaced.ok());
  EXPECT_EQ(replaced->outcome, ReplaceOutcome::kChanged);
  EXPECT_EQ(Read(target_), "a user's file under that name");

  auto removed = GuardedRemove(target_, StateOf(target_), {});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->outcome, ReplaceOutcome::kReplaced);
  EXPECT_FALSE(fs::exists(target_));
  EXPECT_EQ(Entries(), 1u);  // the staged file only: no hidden leftover
}

}  // namespace
}  // namespace steen::vault
