// Settling smbd stops at the event loop's wait (watch/safe_stops.h), with the recording process
// control and scripted stop points: where each stop lands, what is signalled, and when it gives up.
#include "watch/safe_stops.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "steen/limits.h"

namespace steen::watch {
namespace {

constexpr uint64_t kMs = 1'000'000;

// The signals sent and inspections made, as "suspend 10", "resume 10", "inspect 10".
std::vector<std::string> Calls(sys::RecordingProcessControl& control) {
  std::vector<std::string> out;
  for (const auto& call : control.calls()) {
    out.push_back(call.action + " " + std::to_string(call.pid));
  }
  return out;
}

Actor Smbd(pid_t pid) {
  Actor actor;
  actor.pid = pid;
  actor.start_time = 77;
  actor.comm = "smbd";
  return actor;
}

// Runs Advance at every deadline until nothing is pending (or `limit` rounds).
std::vector<SafeStops::Settled> Drain(SafeStops& stops, uint64_t& now, int limit = 1000) {
  std::vector<SafeStops::Settled> settled;
  for (int i = 0; i < limit && stops.pending() > 0; ++i) {
    now = *stops.NextDeadline();
    SafeStops::Progress progress = stops.Advance(now);
    settled.insert(settled.end(), progress.settled.begin(), progress.settled.end());
  }
  return settled;
}

TEST(SafeStops, AStopAtTheEventLoopWaitIsLeftAlone) {
  sys::RecordingProcessControl control;
  control.ScriptStopPoints({sys::StopPoint::kEventWait});
  SafeStops stops(&control, nullptr);
  stops.Add(Smbd(10), "INC-1", 0);
  EXPECT_TRUE(stops.Advance(0).settled.empty());  // not due before the stop had a moment
  uint64_t now = 0;
  auto settled = Drain(stops, now);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(settled[0].note, "");
  EXPECT_EQ(Calls(control), (std::vector<std::string>{"inspect 10"}));
  EXPECT_EQ(stops.stats().at_once, 1u);
  EXPECT_FALSE(stops.NextDeadline());
}

// Stopped inside Samba's code: stepped (SIGCONT, a short run, SIGSTOP) until it stops at the wait;
// the re-stopped process is reported (its held open may go).
TEST(SafeStops, AStopElsewhereIsSteppedUntilItLandsAtTheWait) {
  sys::RecordingProcessControl control;
  control.ScriptStopPoints({sys::StopPoint::kElsewhere, sys::StopPoint::kNotStopped,
                            sys::StopPoint::kElsewhere, sys::StopPoint::kEventWait});
  SafeStops stops(&control, nullptr);
  stops.Add(Smbd(10), "INC-1", 0);
  uint64_t now = 0;
  std::vector<std::pair<pid_t, uint64_t>> again;
  std::vector<SafeStops::Settled> settled;
  while (stops.pending() > 0) {
    now = *stops.NextDeadline();
    SafeStops::Progress progress = stops.Advance(now);
    again.insert(again.end(), progress.stopped_again.begin(), progress.stopped_again.end());
    settled.insert(settled.end(), progress.settled.begin(), progress.settled.end());
  }
  EXPECT_EQ(Calls(control),
            (std::vector<std::string>{"inspect 10", "resume 10", "suspend 10", "inspect 10",
                                      "inspect 10", "resume 10", "suspend 10", "inspect 10"}));
  EXPECT_EQ(again.size(), 2u);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(settled[0].note, "");
  EXPECT_EQ(stops.stats().after_steps, 1u);
  EXPECT_EQ(stops.stats().steps, 2u);
  EXPECT_LT(now, 20 * kMs);
}

// Never at the wait: after kSafeStopMaxSteps steps it is left stopped, with a note for the
// incident; it is never left running.
TEST(SafeStops, GivesUpAfterItsStepsAndLeavesItStopped) {
  sys::RecordingProcessControl control;
  control.ScriptStopPoints({sys::StopPoint::kElsewhere});
  SafeStops stops(&control, nullptr);
  stops.Add(Smbd(10), "INC-1", 0);
  uint64_t now = 0;
  auto settled = Drain(stops, now);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(settled[0].incident_id, "INC-1");
  EXPECT_NE(settled[0].note.find("outside its event loop"), std::string::npos);
  EXPECT_EQ(stops.stats().left, 1u);
  EXPECT_EQ(stops.stats().steps, static_cast<uint64_t>(limits::kSafeStopMaxSteps));
  EXPECT_EQ(Calls(control).back(), "inspect 10");
  int conts = 0, stops_sent = 0;
  for (const std::string& call : Calls(control)) {
    conts += call.rfind("resume", 0) == 0;
    stops_sent += call.rfind("suspend", 0) == 0;
  }
  EXPECT_EQ(conts, stops_sent);
}

// A stop that does not take effect (the smbd waits in an open) is looked at until the budget.
TEST(SafeStops, AStopThatNeverTakesEffectEndsWithTheBudget) {
  sys::RecordingProcessControl control;
  control.ScriptStopPoints({sys::StopPoint::kNotStopped});
  SafeStops stops(&control, nullptr);
  stops.Add(Smbd(10), "INC-1", 0);
  uint64_t now = 0;
  auto settled = Drain(stops, now, 100000);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_NE(settled[0].note.find("had not taken effect"), std::string::npos);
  EXPECT_GE(now, uint64_t{limits::kSafeStopBudgetMs} * kMs);
  for (const std::string& call : Calls(control)) EXPECT_EQ(call, "inspect 10");
}

// Gone, resumed by the operator, or not inspectable: dropped without a signal.
TEST(SafeStops, GoneResumedOrUnknownAreDropped) {
  sys::RecordingProcessControl control;
  control.ScriptStopPoints({Status::NotFound("exited")});
  std::map<pid_t, bool> spared;
  SafeStops stops(&control, [&](pid_t pid, uint64_t, const std::string&) { return !spared[pid]; });
  stops.Add(Smbd(10), "INC-1", 0);
  stops.Add(Smbd(10), "INC-1", 0);  // once
  EXPECT_EQ(stops.pending(), 1u);
  uint64_t now = 0;
  EXPECT_TRUE(Drain(stops, now).empty());
  EXPECT_EQ(stops.stats().gone, 1u);

  control.ScriptStopPoints({Status::Unsupported("no /proc syscall")});
  stops.Add(Smbd(11), "INC-1", now);
  EXPECT_TRUE(Drain(stops, now).empty());
  EXPECT_EQ(stops.stats().unknown, 1u);

  control.ScriptStopPoints({sys::StopPoint::kElsewhere});
  const std::size_t before = Calls(control).size();
  stops.Add(Smbd(12), "INC-1", now);
  now = *stops.NextDeadline();
  (void)stops.Advance(now);  // stepped: running now
  spared[12] = true;         // the operator resumed it meanwhile
  EXPECT_TRUE(Drain(stops, now).empty());
  EXPECT_EQ(stops.stats().released, 1u);
  const std::vector<std::string> calls = Calls(control);
  EXPECT_EQ(
      std::vector<std::string>(calls.begin() + static_cast<std::ptrdiff_t>(before), calls.end()),
      (std::vector<std::string>{"inspect 12", "resume 12", "suspend 12", "resume 12"}));

  // Resumed while its stop never took effect: no note about a process that is not stopped.
  control.ScriptStopPoints({sys::StopPoint::kNotStopped});
  stops.Add(Smbd(13), "INC-1", now);
  spared[13] = true;
  EXPECT_TRUE(Drain(stops, now, 100000).empty());
  EXPECT_EQ(stops.stats().released, 2u);
  EXPECT_EQ(stops.stats().left, 0u);
}

// A step's SIGSTOP that fails (no pidfd: out of file descriptors) is sent again: a stepped
// process is never left running.
TEST(SafeStops, AFailedStopAfterAStepIsSentAgain) {
  class FailingOnce : public sys::RecordingProcessControl {
   public:
    Status Suspend(pid_t pid, uint64_t start_time) override {
      if (failures_left-- > 0) return Status::Internal("pidfd_open: too many open files");
      return RecordingProcessControl::Suspend(pid, start_time);
    }
    int failures_left = 2;
  } control;
  control.ScriptStopPoints({sys::StopPoint::kElsewhere, sys::StopPoint::kEventWait});
  SafeStops stops(&control, nullptr);
  stops.Add(Smbd(10), "INC-1", 0);
  uint64_t now = 0;
  auto settled = Drain(stops, now);
  ASSERT_EQ(settled.size(), 1u);
  EXPECT_EQ(stops.stats().stop_retries, 2u);
  EXPECT_EQ(stops.stats().after_steps, 1u);
  EXPECT_EQ(Calls(control),
            (std::vector<std::string>{"inspect 10", "resume 10", "suspend 10", "inspect 10"}));
}

// The daemon stopping between a step's SIGCONT and its SIGSTOP stops it again.
TEST(SafeStops, AbandonStopsWhatAStepLeftRunning) {
  sys::RecordingProcessControl control;
  control.ScriptStopPoints({sys::StopPoint::kElsewhere});
  SafeStops stops(&control, nullptr);
  stops.Add(Smbd(10), "INC-1", 0);
  stops.Add(Smbd(11), "INC-1", 5 * kMs);
  (void)stops.Advance(*stops.NextDeadline());  // 10 stepped, 11 not due
  stops.Abandon();
  EXPECT_EQ(stops.pending(), 0u);
  EXPECT_EQ(Calls(control), (std::vector<std::string>{"inspect 10", "resume 10", "suspend 10"}));
}

}  // namespace
}  // namespace steen::watch
