#include "scan/walker.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "scan/file_scan.h"
#include "unit/scan/temp_tree.h"

namespace steen::scan {
namespace {

using testing::TempTree;

class Collector : public WalkVisitor {
 public:
  void OnFile(FileTask task) override {
    files.insert(task.FullPath());
    tasks.push_back(std::move(task));
  }
  void OnError(std::string_view path, std::string_view message, bool is_root) override {
    errors.push_back(std::string(path) + ": " + std::string(message) + (is_root ? " (root)" : ""));
  }
  std::set<std::string> files;
  std::vector<FileTask> tasks;
  std::vector<std::string> errors;
};

WalkCounters Walk(const std::string& root, Collector& collector, bool follow = false,
                  int max_depth = 4096) {
  Walker walker(WalkOptions{follow, max_depth}, collector);
  walker.WalkRoot(root);
  return walker.counters();
}

TEST(WalkerTest, FindsRegularFilesRecursively) {
  TempTree tree;
  tree.Mkdir("a");
  tree.Mkdir("a/b");
  tree.Mkdir("empty");
  tree.Write("top.txt", "x");
  tree.Write("a/one", "1");
  tree.Write("a/b/two", "22");
  Collector collector;
  const WalkCounters counters = Walk(tree.path(), collector);
  EXPECT_EQ(collector.files,
            (std::set<std::string>{tree / "top.txt", tree / "a/one", tree / "a/b/two"}));
  EXPECT_EQ(counters.directories, 4u);
  EXPECT_TRUE(collector.errors.empty());
}

TEST(WalkerTest, TrailingSlashOnRootGivesSinglSlashPaths) {
  TempTree tree;
  tree.Write("f", "x");
  Collector collector;
  Walk(tree.path() + "/", collector);
  EXPECT_EQ(collector.files, (std::set<std::string>{tree / "f"}));
}

TEST(WalkerTest, CountsSpecialFilesWithoutReportingThemAsFiles) {
  TempTree tree;
  ASSERT_EQ(mkfifo((tree / "fifo").c_str(), 0644), 0);
  const int sock = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string sock_path = tree / "sock";
  ASSERT_LT(sock_path.size(), sizeof(addr.sun_path));
  std::copy(sock_path.begin(), sock_path.end(), addr.sun_path);
  ASSERT_EQ(bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(sock);
  int expected_special = 2;
  if (mknod((tree / "null").c_str(), S_IFCHR | 0644, makedev(1, 3)) == 0) ++expected_special;
  tree.Write("regular", "r");
  Collector collector;
  const WalkCounters counters = Walk(tree.path(), collector);
  EXPECT_EQ(collector.files, (std::set<std::string>{tree / "regular"}));
  EXPECT_EQ(counters.skipped_special, static_cast<uint64_t>(expected_special));
}

TEST(WalkerTest, DoesNotFollowSymlinksByDefault) {
  TempTree tree;
  tree.Mkdir("real");
  tree.Write("real/f", "x");
  ASSERT_EQ(symlink("real", (tree / "dirlink").c_str()), 0);
  ASSERT_EQ(symlink("real/f", (tree / "filelink").c_str()), 0);
  ASSERT_EQ(symlink("nowhere", (tree / "dangling").c_str()), 0);
  Collector collector;
  const WalkCounters counters = Walk(tree.path(), collector);
  EXPECT_EQ(collector.files, (std::set<std::string>{tree / "real/f"}));
  EXPECT_EQ(counters.skipped_symlinks, 3u);
}

TEST(WalkerTest, FollowsSymlinksWhenAsked) {
  TempTree tree;
  tree.Mkdir("real");
  tree.Write("real/f", "x");
  ASSERT_EQ(symlink("real", (tree / "dirlink").c_str()), 0);
  ASSERT_EQ(symlink("real/f", (tree / "filelink").c_str()), 0);
  ASSERT_EQ(symlink("nowhere", (tree / "dangling").c_str()), 0);
  Collector collector;
  const WalkCounters counters = Walk(tree.path(), collector, /*follow=*/true);
  EXPECT_EQ(collector.files,
            (std::set<std::string>{tree / "real/f", tree / "dirlink/f", tree / "filelink"}));
  EXPECT_EQ(counters.skipped_symlinks, 1u);  // the dangling one
  // Files reached through a link must be opened without O_NOFOLLOW.
  for (const FileTask& task : collector.tasks) {
    if (task.name == "filelink") {
      EXPECT_TRUE(task.follow);
    }
  }
}

TEST(WalkerTest, DetectsSymlinkLoops) {
  TempTree tree;
  tree.Mkdir("a");
  tree.Mkdir("a/b");
  tree.Write("a/b/f", "x");
  ASSERT_EQ(symlink("../..", (tree / "a/b/up").c_str()), 0);  // points back at the root
  ASSERT_EQ(symlink(".", (tree / "a/self").c_str()), 0);
  Collector collector;
  Walk(tree.path(), collector, /*follow=*/true);
  EXPECT_EQ(collector.files, (std::set<std::string>{tree / "a/b/f"}));
  ASSERT_EQ(collector.errors.size(), 2u);
  for (const std::string& error : collector.errors) {
    EXPECT_NE(error.find("loop"), std::string::npos) << error;
  }
}

TEST(WalkerTest, KeepsInvalidUtf8NamesByteExact) {
  TempTree tree;
  const std::string name = "bad\xff\xfe name\n.txt";
  tree.Write(name, "x");
  Collector collector;
  Walk(tree.path(), collector);
  EXPECT_EQ(collector.files, (std::set<std::string>{tree / name}));
}

TEST(WalkerTest, ReportsDirectoriesBeyondTheDepthLimit) {
  TempTree tree;
  std::string dir;
  for (int level = 1; level <= 5; ++level) {
    dir += (dir.empty() ? "" : "/") + std::string("d") + std::to_string(level);
    tree.Mkdir(dir);
    tree.Write(dir + "/f", "x");
  }
  Collector collector;
  Walk(tree.path(), collector, false, /*max_depth=*/3);
  EXPECT_EQ(collector.files.size(), 3u);  // in d1, d1/d2, d1/d2/d3
  ASSERT_EQ(collector.errors.size(), 1u);
  EXPECT_NE(collector.errors[0].find("d4: not walked: more than 3 directory levels deep"),
            std::string::npos)
      << collector.errors[0];
}

TEST(WalkerTest, WalksAndOpensTreesDeeperThanPathMax) {
  TempTree tree;
  const std::string segment(200, 'n');
  int fd = open(tree.path().c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  for (int level = 0; level < 30; ++level) {  // 30 * 201 bytes > PATH_MAX
    ASSERT_EQ(mkdirat(fd, segment.c_str(), 0755), 0);
    const int child = openat(fd, segment.c_str(), O_RDONLY | O_DIRECTORY);
    close(fd);
    fd = child;
    ASSERT_GE(fd, 0);
  }
  const int file = openat(fd, "deep.txt", O_WRONLY | O_CREAT, 0644);
  ASSERT_EQ(write(file, "deep", 4), 4);
  close(file);
  close(fd);

  Collector collector;
  Walk(tree.path(), collector);
  EXPECT_TRUE(collector.errors.empty());
  ASSERT_EQ(collector.tasks.size(), 1u);
  EXPECT_GT(collector.tasks[0].FullPath().size(), 4096u);
  FileOutcome outcome;
  std::string seen;
  ScanFile(
      collector.tasks[0],
      [&](ByteSource& source, const AnalyzeOptions&) -> StatusOr<Analysis> {
        Status status = source.ReadAt(0, 100, &seen);
        if (!status.ok()) return status;
        return Analysis{};
      },
      {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed) << outcome.message;
  EXPECT_EQ(seen, "deep");
}

TEST(WalkerTest, ReportsMissingRootAndAcceptsFileRoot) {
  TempTree tree;
  tree.Write("file", "x");
  Collector collector;
  Walker walker(WalkOptions{false, 10}, collector);
  walker.WalkRoot(tree / "missing");
  walker.WalkRoot(tree / "file");
  EXPECT_EQ(walker.counters().root_errors, 1u);
  ASSERT_EQ(collector.errors.size(), 1u);
  EXPECT_EQ(collector.errors[0], tree / "missing: No such file or directory (root)");
  EXPECT_EQ(collector.files, (std::set<std::string>{tree / "file"}));
}

TEST(JoinPathTest, UsesExactlyOneSlash) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
}

}  // namespace
}  // namespace steen::scan
