#include "watch/safe_stops.h"

#include <fmt/format.h>

#include <algorithm>

#include "steen/limits.h"

namespace steen::watch {
namespace {

constexpr uint64_t kStepNs = uint64_t{limits::kSafeStopStepUs} * 1000;
constexpr uint64_t kCheckNs = uint64_t{limits::kSafeStopCheckUs} * 1000;
constexpr uint64_t kBudgetNs = uint64_t{limits::kSafeStopBudgetMs} * 1'000'000;

}  // namespace

SafeStops::SafeStops(sys::ProcessControl* control, MayStop may_stop)
    : control_(control), may_stop_(std::move(may_stop)) {}

void SafeStops::Add(const Actor& actor, const std::string& incident_id, uint64_t now_ns) {
  auto same = [&](const Stop& s) { return s.pid == actor.pid && s.start_time == actor.start_time; };
  if (actor.pid <= 0 || std::any_of(stops_.begin(), stops_.end(), same)) return;
  if (stops_.size() >= limits::kMaxSafeStops) {
    ++stats_.dropped;
    return;
  }
  // Looked at once the stop has had a moment to take effect.
  stops_.push_back({actor.pid, actor.start_time, incident_id, false, 0, now_ns, now_ns + kCheckNs});
}

bool SafeStops::Step(Stop& stop, uint64_t now_ns, Progress& progress) {
  // Asked when a step ends and before a note is made: the operator may have resumed it.
  auto resumed = [&] {
    if (!may_stop_ || may_stop_(stop.pid, stop.start_time, stop.incident_id)) return false;
    ++stats_.released;
    return true;
  };
  auto settle = [&](std::string note) {
    progress.settled.push_back({stop.pid, stop.start_time, stop.incident_id, std::move(note)});
    return true;
  };
  if (stop.running) {
    // Stopped first, asked after: the question reads the incident store, which may be busy for a
    // while, and the step must not run longer meanwhile.
    Status stopped = control_->Suspend(stop.pid, stop.start_time);
    if (stopped.code() == Status::Code::kNotFound) {
      ++stats_.gone;
      return true;
    }
    if (!stopped.ok()) {
      // Never left running: tried again (out of file descriptors for its pidfd, say).
      ++stats_.stop_retries;
      stop.due_ns = now_ns + kCheckNs;
      return false;
    }
    if (resumed()) {
      (void)control_->Resume(stop.pid, stop.start_time);  // the operator's decision stands
      return true;
    }
    stop.running = false;
    stop.due_ns = now_ns + kCheckNs;
    progress.stopped_again.emplace_back(stop.pid, stop.start_time);
    return false;
  }
  StatusOr<sys::StopPoint> point = control_->Inspect(stop.pid, stop.start_time);
  if (!point.ok()) {
    if (point.status().code() == Status::Code::kNotFound) {
      ++stats_.gone;
      return true;
    }
    ++stats_.unknown;
    return true;
  }
  const bool out_of_time = now_ns - stop.first_ns >= kBudgetNs;
  switch (*point) {
    case sys::StopPoint::kEventWait:
      ++(stop.steps == 0 ? stats_.at_once : stats_.after_steps);
      return settle("");
    case sys::StopPoint::kNotStopped:
      // Waiting in an open the daemon holds, or the signal is on its way: looked at again soon.
      if (out_of_time) {
        if (resumed()) return true;  // no note about a process that is not stopped
        ++stats_.left;
        return settle("its stop had not taken effect after " +
                      std::to_string(limits::kSafeStopBudgetMs) + " ms");
      }
      stop.due_ns = now_ns + kCheckNs;
      return false;
    case sys::StopPoint::kElsewhere:
      break;
  }
  if (out_of_time || stop.steps >= limits::kSafeStopMaxSteps) {
    if (resumed()) return true;
    ++stats_.left;
    return settle(fmt::format(
        "stopped outside its event loop after {} steps: it may hold a lock of Samba's shared "
        "databases that other clients wait for (steen kill ends it)",
        stop.steps));
  }
  if (!control_->Resume(stop.pid, stop.start_time).ok()) {
    ++stats_.gone;
    return true;
  }
  ++stop.steps;
  ++stats_.steps;
  stop.running = true;
  stop.due_ns = now_ns + kStepNs;
  return false;
}

SafeStops::Progress SafeStops::Advance(uint64_t now_ns) {
  Progress progress;
  std::vector<Stop> kept;
  kept.reserve(stops_.size());
  for (Stop& stop : stops_) {
    if (stop.due_ns > now_ns || !Step(stop, now_ns, progress)) kept.push_back(std::move(stop));
  }
  stops_ = std::move(kept);
  return progress;
}

void SafeStops::Abandon() {
  for (const Stop& stop : stops_) {
    if (stop.running) (void)control_->Suspend(stop.pid, stop.start_time);
  }
  stops_.clear();
}

std::optional<uint64_t> SafeStops::NextDeadline() const {
  std::optional<uint64_t> next;
  for (const Stop& stop : stops_) {
    if (!next || stop.due_ns < *next) next = stop.due_ns;
  }
  return next;
}

}  // namespace steen::watch
