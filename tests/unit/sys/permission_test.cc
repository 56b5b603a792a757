#include "sys/permission.h"

#include <gtest/gtest.h>
#include <sys/eventfd.h>

#include <mutex>
#include <vector>

#include "sys/bounded_queue.h"

namespace steen::sys {
namespace {

// Records every answer; fails the test on a second answer for the same fd while it is open.
class RecordingResponder : public PermissionResponder {
 public:
  explicit RecordingResponder(std::vector<int>* answers) : answers_(answers) {}
  bool Allow(int event_fd) override {
    answers_->push_back(event_fd);
    return true;
  }

 private:
  std::vector<int>* answers_;
};

UniqueFd NewFd() { return UniqueFd(::eventfd(0, EFD_CLOEXEC)); }

struct Fixture {
  std::vector<int> answers;
  FakeClock clock;
  std::shared_ptr<TicketRegistry> registry = TicketRegistry::Create(
      std::make_unique<RecordingResponder>(&answers), &clock, std::chrono::milliseconds(2000), 3);
};

TEST(Permission, HolderAnswersExactlyOnce) {
  Fixture f;
  auto ticket = f.registry->Issue(NewFd());
  ASSERT_TRUE(ticket);
  int fd = ticket->fd();
  EXPECT_FALSE(ticket->answered());
  EXPECT_TRUE(ticket->Allow());
  EXPECT_FALSE(ticket->Allow());
  EXPECT_TRUE(ticket->answered());
  ticket.reset();  // destructor: no second answer
  EXPECT_EQ(f.answers, std::vector<int>{fd});
  auto stats = f.registry->Stats();
  EXPECT_EQ(stats.issued, 1u);
  EXPECT_EQ(stats.answered_by_holder, 1u);
  EXPECT_EQ(stats.outstanding, 0u);
}

TEST(Permission, DestructorAllowsAndMovedFromTicketsDoNothing) {
  Fixture f;
  {
    auto ticket = f.registry->Issue(NewFd());
    PermissionTicket moved = std::move(*ticket);
    PermissionTicket moved_again = std::move(moved);
  }
  EXPECT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.registry->Outstanding(), 0u);
}

TEST(Permission, DeadlineAllowsOverdueTicketsOnlyOnce) {
  Fixture f;
  auto early = f.registry->Issue(NewFd());
  f.clock.AdvanceMs(1500);
  auto late = f.registry->Issue(NewFd());
  EXPECT_EQ(f.registry->EnforceDeadlines(), 0);
  f.clock.AdvanceMs(499);
  EXPECT_EQ(f.registry->EnforceDeadlines(), 0);
  f.clock.AdvanceMs(1);
  EXPECT_EQ(f.registry->EnforceDeadlines(), 1);  // `early` reached 2000 ms
  EXPECT_TRUE(early->answered());
  EXPECT_FALSE(late->answered());
  EXPECT_EQ(f.registry->NextDeadlineNs(), late->deadline_ns());
  // The holder still has the fd (it may finish reading) but cannot answer a second time.
  EXPECT_GE(early->fd(), 0);
  EXPECT_FALSE(early->Allow());
  f.clock.AdvanceMs(1500);
  EXPECT_EQ(f.registry->EnforceDeadlines(), 1);
  early.reset();
  late.reset();
  EXPECT_EQ(f.answers.size(), 2u);
  auto stats = f.registry->Stats();
  EXPECT_EQ(stats.timeouts, 2u);
  EXPECT_EQ(stats.answered_by_holder, 0u);
}

TEST(Permission, FullRegistryAllowsAtOnce) {
  Fixture f;
  std::vector<PermissionTicket> held;
  for (int i = 0; i < 3; ++i) held.push_back(std::move(*f.registry->Issue(NewFd())));
  EXPECT_FALSE(f.registry->Issue(NewFd()));  // max_outstanding = 3
  EXPECT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.registry->Stats().allowed_at_once, 1u);
  held.clear();
  EXPECT_EQ(f.answers.size(), 4u);
}

TEST(Permission, ShutdownAllowsEverythingAndThenStaysSilent) {
  Fixture f;
  auto a = f.registry->Issue(NewFd());
  auto b = f.registry->Issue(NewFd());
  f.registry->Shutdown();
  EXPECT_EQ(f.answers.size(), 2u);
  EXPECT_TRUE(a->answered());
  a.reset();
  b.reset();
  f.registry->AllowNow(NewFd());  // group closed: the kernel already allowed; nothing written
  EXPECT_FALSE(f.registry->Issue(NewFd()));
  EXPECT_EQ(f.answers.size(), 2u);
}

TEST(Permission, EnforcerThreadAllowsWithRealClock) {
  std::vector<int> answers;
  std::mutex mu;
  class LockedResponder : public PermissionResponder {
   public:
    LockedResponder(std::vector<int>* a, std::mutex* m) : a_(a), m_(m) {}
    bool Allow(int fd) override {
      std::lock_guard lock(*m_);
      a_->push_back(fd);
      return true;
    }
    std::vector<int>* a_;
    std::mutex* m_;
  };
  auto registry = TicketRegistry::Create(std::make_unique<LockedResponder>(&answers, &mu),
                                         RealClock::Get(), std::chrono::milliseconds(100), 10);
  DeadlineEnforcer enforcer(registry);
  auto ticket = registry->Issue(NewFd());
  for (int i = 0; i < 100 && !ticket->answered(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(ticket->answered());
  EXPECT_EQ(registry->Stats().timeouts, 1u);
}

TEST(BoundedQueue, DropsWhenFullAndHandsTheItemBack) {
  BoundedQueue<int> q(2);
  EXPECT_FALSE(q.TryPush(1));
  EXPECT_FALSE(q.TryPush(2));
  auto back = q.TryPush(3);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, 3);
  EXPECT_EQ(q.dropped(), 1u);
  EXPECT_EQ(q.Pop(std::chrono::milliseconds(0)), 1);
  EXPECT_EQ(q.Pop(std::chrono::milliseconds(0)), 2);
  EXPECT_FALSE(q.Pop(std::chrono::milliseconds(1)));
  q.Close();
  EXPECT_TRUE(q.TryPush(4));
}

TEST(BoundedQueue, DroppedTicketsAllow) {
  Fixture f;
  BoundedQueue<PermissionTicket> q(1);
  EXPECT_FALSE(q.TryPush(std::move(*f.registry->Issue(NewFd()))));
  { auto rejected = q.TryPush(std::move(*f.registry->Issue(NewFd()))); }
  EXPECT_EQ(f.answers.size(), 1u);
  q.Clear();
  EXPECT_EQ(f.answers.size(), 2u);
}

}  // namespace
}  // namespace steen::sys
