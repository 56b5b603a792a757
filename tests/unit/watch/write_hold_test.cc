// The hold of a suspect's writes (watch/write_hold.h) and the order events are handled in
// (watch/event_order.h), without a kernel: plain actors, events and a fake source.
#include "watch/write_hold.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "steen/limits.h"
#include "sys/event_source.h"
#include "watch/event_order.h"

namespace steen::watch {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kMs = 1'000'000;

Actor Process(pid_t pid, pid_t ppid) {
  Actor actor;
  actor.pid = actor.tid = pid;
  actor.start_time = 1000 + static_cast<uint64_t>(pid);
  actor.ppid = ppid;
  actor.sid = ppid;
  actor.uid = 1000;
  return actor;
}

ScopeMatcher ProcessScope(const Actor& actor) {
  ScopeMatcher scope;
  scope.scope = ActorScope::kProcess;
  scope.key = std::to_string(actor.pid);
  scope.pid = actor.pid;
  scope.root_start = actor.start_time;
  return scope;
}

sys::SysEvent OpenEvent(const Actor& actor, uint64_t inode) {
  sys::SysEvent ev;
  ev.kind = sys::SysEvent::Kind::kPermission;
  ev.event.op = FileOp::kOpenForWrite;
  ev.event.actor = actor;
  ev.event.device = 1;
  ev.event.inode = inode;
  ev.event.path = "/srv/share/f" + std::to_string(inode);
  return ev;
}

sys::SysEvent FileEventOf(FileOp op, uint64_t inode) {
  sys::SysEvent ev;
  ev.kind = sys::SysEvent::Kind::kFile;
  ev.event.op = op;
  ev.event.device = 1;
  ev.event.inode = inode;
  ev.event.path = "/srv/share/f" + std::to_string(inode);
  return ev;
}

class WriteHoldTest : public ::testing::Test {
 protected:
  WriteHold hold_{milliseconds(500)};
  const Actor attacker_ = Process(4242, 4000);
  const Actor bystander_ = Process(5000, 1);
  uint64_t now_ = 1'000'000 * kMs;
};

TEST_F(WriteHoldTest, NobodyWaitsWithoutASuspect) {
  hold_.Opened(1, 10, attacker_, now_);
  hold_.Opened(1, 11, attacker_, now_);
  EXPECT_FALSE(hold_.Suspected(attacker_));
  EXPECT_FALSE(hold_.MustWait(attacker_, now_));
}

TEST_F(WriteHoldTest, ASuspectWaitsUntilItsWritesInFlightAreJudged) {
  hold_.Opened(1, 10, attacker_, now_);
  hold_.Opened(1, 11, attacker_, now_ + 1 * kMs);
  hold_.Opened(1, 20, bystander_, now_ + 2 * kMs);
  hold_.SetSuspects({ProcessScope(attacker_)});
  EXPECT_TRUE(hold_.Suspected(attacker_));
  EXPECT_FALSE(hold_.Suspected(bystander_));
  // The bystander never waits, whatever is in flight.
  EXPECT_FALSE(hold_.MustWait(bystander_, now_ + 3 * kMs));
  ASSERT_TRUE(hold_.MustWait(attacker_, now_ + 3 * kMs));
  hold_.Hold(OpenEvent(attacker_, 12), now_ + 3 * kMs);
  // A write opened after the hold began is not waited for.
  hold_.Opened(1, 13, attacker_, now_ + 4 * kMs);
  hold_.Closed(1, 20, bystander_.pid);
  EXPECT_TRUE(hold_.Release(now_ + 5 * kMs).empty());
  hold_.Closed(1, 10, attacker_.pid);
  EXPECT_TRUE(hold_.Release(now_ + 6 * kMs).empty());
  hold_.Closed(1, 11, attacker_.pid);
  const std::vector<sys::SysEvent> released = hold_.Release(now_ + 7 * kMs);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].event.inode, 12u);
  EXPECT_EQ(hold_.stats().held, 1u);
  EXPECT_EQ(hold_.stats().released_judged, 1u);
  EXPECT_EQ(hold_.held(), 0u);
}

TEST_F(WriteHoldTest, TheBudgetEndsAHoldAndAgesOutLongOpenFiles) {
  hold_.Opened(1, 10, attacker_, now_);  // a log kept open: never closed
  hold_.SetSuspects({ProcessScope(attacker_)});
  ASSERT_TRUE(hold_.MustWait(attacker_, now_ + 100 * kMs));
  hold_.Hold(OpenEvent(attacker_, 12), now_ + 100 * kMs);
  ASSERT_TRUE(hold_.NextDeadline().has_value());
  EXPECT_EQ(*hold_.NextDeadline(), now_ + 600 * kMs);
  // Past the budget of the write in flight (500 ms after it was opened): nothing to wait for.
  const std::vector<sys::SysEvent> released = hold_.Release(now_ + 500 * kMs);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(hold_.stats().released_judged, 1u);
  EXPECT_FALSE(hold_.MustWait(attacker_, now_ + 501 * kMs));
  // A hold whose writes never close ends with its own budget.
  hold_.Opened(1, 30, attacker_, now_ + 600 * kMs);
  ASSERT_TRUE(hold_.MustWait(attacker_, now_ + 601 * kMs));
  hold_.Hold(OpenEvent(attacker_, 31), now_ + 601 * kMs);
  EXPECT_TRUE(hold_.Release(now_ + 1000 * kMs).empty());
  EXPECT_EQ(hold_.Release(now_ + 1101 * kMs).size(), 1u);
  EXPECT_EQ(hold_.stats().released_budget, 1u);
  EXPECT_FALSE(hold_.NextDeadline().has_value());
}

TEST_F(WriteHoldTest, AnAlertLetsEveryHeldOpenGo) {
  hold_.Opened(1, 10, attacker_, now_);
  hold_.SetSuspects({ProcessScope(attacker_)});
  for (uint64_t inode = 11; inode < 14; ++inode) {
    ASSERT_TRUE(hold_.MustWait(attacker_, now_));
    hold_.Hold(OpenEvent(attacker_, inode), now_);
  }
  // Only the opens of the processes the alert stopped, when it says which.
  const std::vector<sys::SysEvent> first =
      hold_.ReleaseAll(WriteHold::Why::kAlert, [](const Actor&) { return false; });
  EXPECT_TRUE(first.empty());
  EXPECT_EQ(hold_.ReleaseAll(WriteHold::Why::kAlert).size(), 3u);
  EXPECT_EQ(hold_.stats().released_alert, 3u);
}

// A stopped process never closes what it has open: a worker of the same tree must not wait for
// that (the budget) while its own writes stay unjudged.
TEST_F(WriteHoldTest, WritesOfAStoppedProcessAreNotWaitedFor) {
  const Actor sibling = Process(4243, 4000);
  ScopeMatcher tree;
  tree.scope = ActorScope::kProcessTree;
  tree.key = "4000";
  tree.pid = 4000;
  hold_.Opened(1, 10, attacker_, now_);
  hold_.SetSuspects({tree});
  ASSERT_TRUE(hold_.MustWait(sibling, now_ + 1 * kMs));
  hold_.Hold(OpenEvent(sibling, 11), now_ + 1 * kMs);
  hold_.Stopped(attacker_.pid, attacker_.start_time);
  EXPECT_EQ(hold_.Release(now_ + 2 * kMs).size(), 1u);
  EXPECT_EQ(hold_.stats().released_judged, 1u);
}

TEST_F(WriteHoldTest, HeldOpensAndWritesInFlightAreBounded) {
  hold_.SetSuspects({ProcessScope(attacker_)});
  for (std::size_t i = 0; i < limits::kMaxWritesInFlight + 10; ++i) {
    hold_.Opened(1, 100 + i, attacker_, now_);
  }
  EXPECT_EQ(hold_.stats().in_flight_dropped, 10u);
  std::size_t held = 0;
  while (hold_.MustWait(attacker_, now_)) {
    hold_.Hold(OpenEvent(attacker_, 1), now_);
    ASSERT_LE(++held, limits::kMaxHeldWrites);
  }
  EXPECT_EQ(held, limits::kMaxHeldWrites);  // beyond it an open goes through unheld
}

TEST_F(WriteHoldTest, ZeroBudgetNeverHolds) {
  WriteHold off(milliseconds(0));
  off.Opened(1, 10, attacker_, now_);
  off.SetSuspects({ProcessScope(attacker_)});
  EXPECT_FALSE(off.MustWait(attacker_, now_));
}

TEST_F(WriteHoldTest, SuspectsAreReadSafelyFromAnotherThread) {
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) (void)hold_.Suspected(attacker_);
  });
  for (int i = 0; i < 2000; ++i) {
    hold_.SetSuspects(i % 2 ? std::vector<ScopeMatcher>{ProcessScope(attacker_)}
                            : std::vector<ScopeMatcher>{});
  }
  done = true;
  reader.join();
  EXPECT_TRUE(hold_.Suspected(attacker_));  // the last set (i = 1999) names it
}

// ---- CloseWritesFirst ----

TEST(CloseWritesFirstTest, ACloseWriteOfAnotherFileIsHandledBeforeQueuedOpens) {
  sys::FakeEventSource source;
  const Actor writer = Process(4242, 4000);
  ASSERT_TRUE(source.Push(OpenEvent(writer, 1)));
  ASSERT_TRUE(source.Push(OpenEvent(writer, 2)));
  ASSERT_TRUE(source.Push(FileEventOf(FileOp::kCloseWrite, 3)));
  CloseWritesFirst events(&source);
  std::vector<uint64_t> order;
  while (auto ev = events.Next(milliseconds(0))) order.push_back(ev->event.inode);
  EXPECT_EQ(order, (std::vector<uint64_t>{3, 1, 2}));
  EXPECT_EQ(events.moved_ahead(), 1u);
}

TEST(CloseWritesFirstTest, EventsOfTheSameFileAndNameEventsKeepTheirOrder) {
  sys::FakeEventSource source;
  const Actor writer = Process(4242, 4000);
  // An empty file's open (answered early by the source) and its close-write: in that order.
  ASSERT_TRUE(source.Push(OpenEvent(writer, 1)));
  ASSERT_TRUE(source.Push(FileEventOf(FileOp::kCloseWrite, 1)));
  ASSERT_TRUE(source.Push(FileEventOf(FileOp::kCloseWrite, 2)));  // behind a blocked one: stays
  // A rename stops the search: the close-write behind it stays behind it.
  ASSERT_TRUE(source.Push(OpenEvent(writer, 4)));
  ASSERT_TRUE(source.Push(FileEventOf(FileOp::kRename, 5)));
  ASSERT_TRUE(source.Push(FileEventOf(FileOp::kCloseWrite, 6)));
  CloseWritesFirst events(&source);
  std::vector<uint64_t> order;
  while (auto ev = events.Next(milliseconds(0))) order.push_back(ev->event.inode);
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 1, 2, 4, 5, 6}));
  EXPECT_EQ(events.moved_ahead(), 0u);
}

TEST(CloseWritesFirstTest, AnOpenIsPassedABoundedNumberOfTimes) {
  sys::FakeEventSource source(1024);
  const Actor writer = Process(4242, 4000);
  ASSERT_TRUE(source.Push(OpenEvent(writer, 1)));
  CloseWritesFirst events(&source);
  int passed = 0;
  for (uint64_t inode = 100;; ++inode) {
    ASSERT_TRUE(source.Push(FileEventOf(FileOp::kCloseWrite, inode)));
    std::optional<sys::SysEvent> ev = events.Next(milliseconds(0));
    ASSERT_TRUE(ev.has_value());
    if (ev->event.inode == 1) break;
    ASSERT_LE(++passed, limits::kMaxCloseWritesAhead);
  }
  EXPECT_EQ(passed, limits::kMaxCloseWritesAhead);
}

}  // namespace
}  // namespace steen::watch
