#include "scan/file_scan.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "scan/file_source.h"
#include "unit/scan/temp_tree.h"

namespace steen::scan {
namespace {

using testing::TempTree;

FileTask TaskFor(const std::string& path) { return FileTask{nullptr, path, false}; }

// Reads the whole file, like a deep analysis would.
StatusOr<Analysis> ReadEverything(ByteSource& source, const AnalyzeOptions&) {
  std::string bytes;
  Status status = source.ReadAt(0, source.Size(), &bytes);
  if (!status.ok()) return status;
  Analysis analysis;
  analysis.bytes_read = bytes.size();
  analysis.format = "test";
  return analysis;
}

TEST(FileByteSourceTest, ReadsRangesAndStopsAtTheEnd) {
  TempTree tree;
  tree.Write("f", "0123456789");
  const int fd = open((tree / "f").c_str(), O_RDONLY);
  FileByteSource source(fd, 10);
  std::string out = "stale";
  ASSERT_TRUE(source.ReadAt(2, 3, &out).ok());
  EXPECT_EQ(out, "234");
  ASSERT_TRUE(source.ReadAt(8, 100, &out).ok());
  EXPECT_EQ(out, "89");
  ASSERT_TRUE(source.ReadAt(10, 5, &out).ok());
  EXPECT_EQ(out, "");
  ASSERT_TRUE(source.ReadAt(1000, 5, &out).ok());
  EXPECT_EQ(out, "");
  EXPECT_FALSE(source.shrank());
  close(fd);
}

TEST(FileByteSourceTest, ReportsAFileThatShrankWhileRead) {
  TempTree tree;
  tree.Write("f", std::string(100, 'a'));
  const int fd = open((tree / "f").c_str(), O_RDWR);
  FileByteSource source(fd, 100);
  ASSERT_EQ(ftruncate(fd, 50), 0);
  std::string out;
  ASSERT_TRUE(source.ReadAt(40, 20, &out).ok());
  EXPECT_EQ(out.size(), 10u);
  EXPECT_TRUE(source.shrank());
  close(fd);
}

TEST(FileByteSourceTest, NeverReadsPastTheSizeSeenAtOpen) {
  TempTree tree;
  tree.Write("f", "abc");
  const int fd = open((tree / "f").c_str(), O_RDWR | O_APPEND);
  FileByteSource source(fd, 3);
  ASSERT_EQ(write(fd, "defgh", 5), 5);  // grows
  std::string out;
  ASSERT_TRUE(source.ReadAt(0, 100, &out).ok());
  EXPECT_EQ(out, "abc");
  close(fd);
}

TEST(FileByteSourceTest, ReadsHolesOfSparseFilesAsZeros) {
  TempTree tree;
  tree.Write("sparse", "");
  const int fd = open((tree / "sparse").c_str(), O_RDWR);
  ASSERT_EQ(pwrite(fd, "end", 3, 64 << 20), 3);
  FileByteSource source(fd, (64 << 20) + 3);
  std::string out;
  ASSERT_TRUE(source.ReadAt(32 << 20, 4096, &out).ok());
  EXPECT_EQ(out, std::string(4096, '\0'));
  ASSERT_TRUE(source.ReadAt(64 << 20, 10, &out).ok());
  EXPECT_EQ(out, "end");
  close(fd);
}

TEST(FileByteSourceTest, TurnsReadErrorsIntoStatus) {
  TempTree tree;
  const int fd = open(tree.path().c_str(), O_RDONLY | O_DIRECTORY);  // read() gives EISDIR
  FileByteSource source(fd, 4096);
  std::string out;
  const Status status = source.ReadAt(0, 10, &out);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("read at offset 0"), std::string::npos) << status.message();
  close(fd);
}

TEST(ScanFileTest, AnalysesARegularFile) {
  TempTree tree;
  tree.Write("f", "hello");
  FileOutcome outcome;
  ScanFile(TaskFor(tree / "f"), ReadEverything, {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed);
  EXPECT_EQ(outcome.size, 5u);
  EXPECT_EQ(outcome.analysis.bytes_read, 5u);
  EXPECT_EQ(outcome.path, tree / "f");
  EXPECT_TRUE(outcome.message.empty());
}

TEST(ScanFileTest, EmptyFileIsAnalysedNotAnError) {
  TempTree tree;
  tree.Write("empty", "");
  FileOutcome outcome;
  ScanFile(TaskFor(tree / "empty"), ReadEverything, {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed);
  EXPECT_EQ(outcome.size, 0u);
}

TEST(ScanFileTest, FileThatVanishedIsAClearError) {
  TempTree tree;
  FileOutcome outcome;
  ScanFile(TaskFor(tree / "gone"), ReadEverything, {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kError);
  EXPECT_EQ(outcome.message, "vanished before it could be read (No such file or directory)");
}

TEST(ScanFileTest, FifoSwappedInIsSkippedWithoutBlocking) {
  TempTree tree;
  ASSERT_EQ(mkfifo((tree / "fifo").c_str(), 0644), 0);
  FileOutcome outcome;
  ScanFile(TaskFor(tree / "fifo"), ReadEverything, {}, &outcome);  // would hang without O_NONBLOCK
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kSkippedSpecial);
}

TEST(ScanFileTest, SymlinkSwappedInIsNotFollowed) {
  TempTree tree;
  tree.Write("target", "x");
  ASSERT_EQ(symlink("target", (tree / "link").c_str()), 0);
  FileOutcome outcome;
  ScanFile(TaskFor(tree / "link"), ReadEverything, {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kError);
  EXPECT_NE(outcome.message.find("symbolic link"), std::string::npos);
  ScanFile(FileTask{nullptr, tree / "link", /*follow=*/true}, ReadEverything, {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed);
}

TEST(ScanFileTest, AnalysisErrorsAreReported) {
  TempTree tree;
  tree.Write("f", "x");
  FileOutcome outcome;
  ScanFile(
      TaskFor(tree / "f"),
      [](ByteSource&, const AnalyzeOptions&) -> StatusOr<Analysis> {
        return Status::IoError("read at offset 0: Input/output error");
      },
      {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kError);
  EXPECT_EQ(outcome.message, "read at offset 0: Input/output error");
}

TEST(ScanFileTest, WarnsWhenTheFileShrinksDuringAnalysis) {
  TempTree tree;
  tree.Write("f", std::string(1000, 'x'));
  const std::string path = tree / "f";
  FileOutcome outcome;
  ScanFile(
      TaskFor(path),
      [&](ByteSource& source, const AnalyzeOptions& options) -> StatusOr<Analysis> {
        EXPECT_EQ(truncate(path.c_str(), 10), 0);
        return ReadEverything(source, options);
      },
      {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed);
  EXPECT_NE(outcome.message.find("shrank"), std::string::npos) << outcome.message;
}

TEST(ScanFileTest, WarnsWhenTheFileGrowsDuringAnalysis) {
  TempTree tree;
  tree.Write("f", "abc");
  const std::string path = tree / "f";
  FileOutcome outcome;
  ScanFile(
      TaskFor(path),
      [&](ByteSource& source, const AnalyzeOptions& options) -> StatusOr<Analysis> {
        tree.Write("f", "abcdef");
        return ReadEverything(source, options);
      },
      {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed);
  EXPECT_NE(outcome.message.find("changed while being read"), std::string::npos) << outcome.message;
}

TEST(ScanFileTest, LeavesAtimeAndMtimeUnchanged) {
  TempTree tree;
  tree.Write("f", std::string(10000, 'x'));
  const std::string path = tree / "f";
  const timespec old_times[2] = {{1000000000, 0}, {1100000000, 0}};  // atime, mtime in 2001/2004
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), old_times, 0), 0);
  FileOutcome outcome;
  ScanFile(TaskFor(path), ReadEverything, {}, &outcome);
  ASSERT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed);
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);  // relatime would have updated an atime this old
  EXPECT_EQ(st.st_mtim.tv_sec, 1100000000);
}

}  // namespace
}  // namespace steen::scan
