#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using Clock = std::chrono::steady_clock;
using testing::SampleAlert;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Records what it receives; optionally slow or failing. Counters are shared so the test can read
// them after the fanout (which owns the sink) is gone.
struct Record {
  std::mutex mu;
  std::vector<std::string> ids;
  std::atomic<int> flushes{0}, reopens{0};
  std::atomic<bool> reopen_on_worker{false};
};

class FakeSink : public AlertSink {
 public:
  FakeSink(std::string name, std::shared_ptr<Record> record, int delay_ms = 0, bool fail = false)
      : name_(std::move(name)), record_(std::move(record)), delay_ms_(delay_ms), fail_(fail) {}
  Status Emit(const Alert& alert) override {
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    if (fail_) return Status::IoError(name_ + ": collector unreachable");
    std::lock_guard<std::mutex> lock(record_->mu);
    record_->ids.push_back(alert.id);
    return Status::Ok();
  }
  Status Flush() override {
    ++record_->flushes;
    return Status::Ok();
  }
  Status Reopen() override {
    ++record_->reopens;
    record_->reopen_on_worker = std::this_thread::get_id() != main_thread_;
    return Status::Ok();
  }
  std::string_view name() const override { return name_; }

 private:
  std::string name_;
  std::shared_ptr<Record> record_;
  int delay_ms_;
  bool fail_;
  std::thread::id main_thread_ = std::this_thread::get_id();
};

Alert Numbered(int i) {
  Alert a = SampleAlert();
  a.id = "n" + std::to_string(i);
  return a;
}

const SinkStats& StatsOf(const FanoutStats& stats, const std::string& name) {
  for (const auto& s : stats.sinks) {
    if (s.name == name) return s;
  }
  static SinkStats none;
  ADD_FAILURE() << "no sink " << name;
  return none;
}

TEST(AlertFanout, SlowSinkDropsWithoutDelayingCallerOrOthers) {
  auto fast = std::make_shared<Record>();
  auto slow = std::make_shared<Record>();
  std::mutex problems_mu;
  std::vector<std::string> problems;
  FanoutOptions options;
  options.queue_capacity = 4;
  options.on_problem = [&](std::string_view sink, const Status& st) {
    std::lock_guard<std::mutex> lock(problems_mu);
    problems.push_back(std::string(sink) + ": " + st.message());
  };
  AlertFanout fanout(options);
  fanout.AddSink(std::make_unique<FakeSink>("fast", fast));
  fanout.AddSink(std::make_unique<FakeSink>("slow", slow, /*delay_ms=*/100));

  auto start = Clock::now();
  int not_all_queued = 0;
  for (int i = 0; i < 20; ++i) {
    if (!fanout.Emit(Numbered(i))) ++not_all_queued;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the fast worker keep up
  }
  EXPECT_LT(MsSince(start), 200) << "Emit waited for a sink";
  EXPECT_GT(not_all_queued, 0);
  ASSERT_TRUE(fanout.Flush(5000));

  FanoutStats stats = fanout.Stats();
  EXPECT_EQ(stats.accepted, 20u);
  EXPECT_EQ(StatsOf(stats, "fast").emitted, 20u);
  EXPECT_EQ(StatsOf(stats, "fast").dropped, 0u);
  const SinkStats& s = StatsOf(stats, "slow");
  EXPECT_GE(s.dropped, 14u);  // at most 4 queued + 1 in flight (+1 slack) of 20
  EXPECT_EQ(s.emitted + s.dropped, 20u);
  EXPECT_EQ(s.queued, 0u);
  {
    std::lock_guard<std::mutex> lock(fast->mu);
    ASSERT_EQ(fast->ids.size(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(fast->ids[i], "n" + std::to_string(i));  // in order
  }
  std::lock_guard<std::mutex> lock(problems_mu);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems.front().find("slow: "), std::string::npos);
  EXPECT_NE(problems.front().find("dropped"), std::string::npos);
}

TEST(AlertFanout, FailuresAreCountedAndReported) {
  auto record = std::make_shared<Record>();
  std::atomic<int> reports{0};
  FanoutOptions options;
  options.on_problem = [&](std::string_view, const Status& st) {
    if (st.code() == Status::Code::kIoError) ++reports;
  };
  AlertFanout fanout(options);
  fanout.AddSink(std::make_unique<FakeSink>("broken", record, 0, /*fail=*/true));
  for (int i = 0; i < 5; ++i) fanout.Emit(Numbered(i));
  ASSERT_TRUE(fanout.Flush(2000));
  FanoutStats stats = fanout.Stats();
  const SinkStats& s = stats.sinks.at(0);
  EXPECT_EQ(s.failed, 5u);
  EXPECT_EQ(s.emitted, 0u);
  EXPECT_NE(s.last_error.find("collector unreachable"), std::string::npos);
  EXPECT_EQ(reports.load(), 5);
}

TEST(AlertFanout, StopDrainsQueuedAlerts) {
  auto record = std::make_shared<Record>();
  {
    AlertFanout fanout;
    fanout.AddSink(std::make_unique<FakeSink>("sink", record, /*delay_ms=*/5));
    for (int i = 0; i < 30; ++i) ASSERT_TRUE(fanout.Emit(Numbered(i)));
    fanout.Stop();
    EXPECT_EQ(fanout.Stats().sinks.at(0).emitted, 30u);
    EXPECT_FALSE(fanout.Emit(Numbered(99)));  // after Stop: counted as dropped
    EXPECT_EQ(fanout.Stats().sinks.at(0).dropped, 1u);
  }
  EXPECT_EQ(record->ids.size(), 30u);
  EXPECT_GE(record->flushes.load(), 1);
}

TEST(AlertFanout, StopIsBoundedByDrainTimeout) {
  auto record = std::make_shared<Record>();
  FanoutOptions options;
  options.drain_timeout_ms = 100;
  AlertFanout fanout(options);
  fanout.AddSink(std::make_unique<FakeSink>("stuck", record, /*delay_ms=*/50));
  for (int i = 0; i < 100; ++i) fanout.Emit(Numbered(i));
  auto start = Clock::now();
  fanout.Stop();
  EXPECT_LT(MsSince(start), 100 + 50 + 200);
  FanoutStats stats = fanout.Stats();
  const SinkStats& s = stats.sinks.at(0);
  EXPECT_GT(s.dropped, 80u);
  EXPECT_EQ(s.emitted + s.dropped, 100u);
}

TEST(AlertFanout, ReopenAndFlushRunOnTheSinkWorker) {
  auto record = std::make_shared<Record>();
  AlertFanout fanout;
  fanout.AddSink(std::make_unique<FakeSink>("sink", record));
  fanout.Reopen();
  ASSERT_TRUE(fanout.Flush(2000));
  EXPECT_EQ(record->reopens.load(), 1);
  EXPECT_TRUE(record->reopen_on_worker.load());
  EXPECT_GE(record->flushes.load(), 1);
}

TEST(AlertFanout, FlushTimesOutOnAStuckSink) {
  auto record = std::make_shared<Record>();
  AlertFanout fanout;
  fanout.AddSink(std::make_unique<FakeSink>("stuck", record, /*delay_ms=*/300));
  fanout.Emit(Numbered(1));
  auto start = Clock::now();
  EXPECT_FALSE(fanout.Flush(50));
  EXPECT_LT(MsSince(start), 250);
}

}  // namespace
}  // namespace steen::outputs
