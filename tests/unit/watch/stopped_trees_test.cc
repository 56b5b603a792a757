#include "watch/stopped_trees.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "steen/limits.h"

namespace steen::watch {
namespace {

constexpr uint64_t kMs = 1'000'000;

// A process whose parent chain is `ancestors` (parent first), started at `start` ticks.
Actor Proc(pid_t pid, std::vector<pid_t> ancestors, uint64_t start) {
  Actor actor;
  actor.pid = pid;
  actor.start_time = start;
  actor.ppid = ancestors.empty() ? 1 : ancestors.front();
  actor.ancestors = std::move(ancestors);
  actor.exe = "/usr/bin/openssl";
  return actor;
}

// xargs 500 (started at tick 50) runs sh 601/602, each an openssl and an rm.
TEST(StoppedTrees, ChangersBelowTheStoppedRootBeforeAndAfterTheStopJoinItsIncident) {
  StoppedTrees trees;
  const Actor xargs = Proc(500, {400, 300}, 50);
  const Actor openssl_1 = Proc(611, {601, 500, 400, 300}, 60);
  const Actor rm_1 = Proc(612, {601, 500, 400, 300}, 61);
  const Actor other_user_tool = Proc(700, {400, 300}, 62);  // a sibling of xargs, not below it
  EXPECT_TRUE(trees.Changed(openssl_1, 1 * kMs).empty());
  EXPECT_TRUE(trees.Changed(rm_1, 2 * kMs).empty());
  EXPECT_TRUE(trees.Changed(other_user_tool, 3 * kMs).empty());
  EXPECT_TRUE(trees.Changed(xargs, 3 * kMs).empty());
  // The alert named rm_1 (a contributor) and stopped xargs: openssl_1 is what it missed.
  const std::vector<Actor> below = trees.Stopped("INC-1", xargs, {rm_1}, 4 * kMs);
  ASSERT_EQ(below.size(), 1u);
  EXPECT_EQ(below[0].pid, 611);
  // Later: the in-flight writer below it joins once; a process older than the root whose
  // ancestors name its pid (a reused pid) does not; nor does anybody else.
  const Actor openssl_2 = Proc(621, {602, 500, 400, 300}, 70);
  EXPECT_EQ(trees.Changed(openssl_2, 5 * kMs), std::vector<std::string>{"INC-1"});
  EXPECT_TRUE(trees.Changed(openssl_2, 6 * kMs).empty());
  EXPECT_TRUE(trees.Changed(Proc(630, {500}, 10), 7 * kMs).empty());
  EXPECT_TRUE(trees.Changed(other_user_tool, 8 * kMs).empty());
  // Resumed by the operator: followed no more.
  trees.Forget("INC-1");
  EXPECT_TRUE(trees.Changed(Proc(640, {500}, 80), 9 * kMs).empty());
  EXPECT_EQ(trees.roots(), 0u);
}

TEST(StoppedTrees, MemoryAndTimeAreBounded) {
  StoppedTrees trees;
  const Actor root = Proc(500, {300}, 50);
  // A changer seen longer ago than the window is not named at the stop.
  trees.Changed(Proc(611, {500}, 60), 0);
  EXPECT_TRUE(
      trees.Stopped("INC-1", root, {}, limits::kStoppedTreeRecentChangersNs + 2 * kMs).empty());
  // Roots are followed for a while, and only so many at once.
  EXPECT_TRUE(trees.Changed(Proc(612, {500}, 61), limits::kStoppedTreeFollowNs * 2).empty());
  for (std::size_t i = 0; i < limits::kMaxStoppedTreeRoots + 5; ++i) {
    trees.Stopped("INC-" + std::to_string(i), Proc(1000 + static_cast<pid_t>(i), {300}, 50), {},
                  limits::kStoppedTreeFollowNs * 2);
  }
  EXPECT_EQ(trees.roots(), limits::kMaxStoppedTreeRoots);
  for (int i = 0; i < 2000; ++i)
    trees.Changed(Proc(5000 + i, {300}, 90), limits::kStoppedTreeFollowNs * 2);
}

}  // namespace
}  // namespace steen::watch
