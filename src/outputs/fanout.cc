// AlertFanout: one bounded queue and one worker thread per sink. The caller (the detection
// pipeline) only copies the alert into the queues; a stalled collector fills its own queue and
// drops (counted), while the other sinks keep delivering.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "steen/outputs.h"

namespace steen::outputs {

using Clock = std::chrono::steady_clock;

struct AlertFanout::Worker {
  std::unique_ptr<AlertSink> sink;
  std::string name;
  std::size_t capacity = 0;
  const FanoutOptions* options = nullptr;

  mutable std::mutex mu;
  std::condition_variable wake;  // work, flush, reopen or stop
  std::condition_variable idle;  // queue drained / flush done
  std::deque<std::shared_ptr<const Alert>> queue;
  bool busy = false;  // inside sink->Emit
  bool stop = false;
  bool reopen = false;
  Clock::time_point drain_deadline{};
  uint64_t flush_requested = 0;
  uint64_t flush_done = 0;
  uint64_t emitted = 0, failed = 0, dropped = 0, dropped_reported = 0;
  std::string last_error;
  std::thread thread;

  void Report(const Status& status) {
    if (options->on_problem) options->on_problem(name, status);
  }

  void Run() {
    std::unique_lock<std::mutex> lock(mu);
    for (;;) {
      wake.wait(lock,
                [&] { return !queue.empty() || stop || reopen || flush_done < flush_requested; });
      if (reopen) {
        reopen = false;
        lock.unlock();
        Status st = sink->Reopen();
        if (!st.ok()) Report(st);
        lock.lock();
        if (!st.ok()) last_error = st.ToString();
      }
      if (stop && !queue.empty() && Clock::now() >= drain_deadline) {
        dropped += queue.size();  // could not drain in time
        queue.clear();
      }
      if (!queue.empty()) {
        std::shared_ptr<const Alert> alert = std::move(queue.front());
        queue.pop_front();
        busy = true;
        lock.unlock();
        Status st = sink->Emit(*alert);
        alert.reset();
        if (!st.ok()) Report(st);
        lock.lock();
        busy = false;
        if (st.ok()) {
          ++emitted;
        } else {
          ++failed;
          last_error = st.ToString();
        }
      }
      if (dropped > dropped_reported) {
        uint64_t newly = dropped - dropped_reported;
        dropped_reported = dropped;
        lock.unlock();
        Report(Status::ResourceExhausted(std::to_string(newly) + " alert(s) dropped: " + name +
                                         " queue full (capacity " + std::to_string(capacity) +
                                         ")"));
        lock.lock();
      }
      if (queue.empty() && flush_done < flush_requested) {
        uint64_t target = flush_requested;
        lock.unlock();
        Status st = sink->Flush();
        if (!st.ok()) Report(st);
        lock.lock();
        flush_done = target;
      }
      if (queue.empty()) idle.notify_all();
      if (stop && queue.empty()) break;
    }
  }
};

AlertFanout::AlertFanout(FanoutOptions options) : options_(std::move(options)) {
  if (options_.queue_capacity == 0) options_.queue_capacity = 1;
}

AlertFanout::~AlertFanout() { Stop(); }

void AlertFanout::AddSink(std::unique_ptr<AlertSink> sink) {
  if (!sink || stopped_) return;
  auto worker = std::make_unique<Worker>();
  worker->name = std::string(sink->name());
  worker->sink = std::move(sink);
  worker->capacity = options_.queue_capacity;
  worker->options = &options_;
  Worker* raw = worker.get();
  worker->thread = std::thread([raw] { raw->Run(); });
  workers_.push_back(std::move(worker));
}

bool AlertFanout::Emit(const Alert& alert) {
  accepted_.fetch_add(1, std::memory_order_relaxed);
  auto shared = std::make_shared<const Alert>(alert);
  bool all_queued = true;
  for (auto& worker : workers_) {
    std::lock_guard<std::mutex> lock(worker->mu);
    if (worker->stop || worker->queue.size() >= worker->capacity) {
      ++worker->dropped;
      all_queued = false;
      // Wake the worker so it reports the drop even when it is idle after Stop.
      worker->wake.notify_one();
      continue;
    }
    worker->queue.push_back(shared);
    worker->wake.notify_one();
  }
  return all_queued;
}

bool AlertFanout::Flush(int timeout_ms) {
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  bool done = true;
  for (auto& worker : workers_) {
    std::unique_lock<std::mutex> lock(worker->mu);
    if (worker->stop) continue;
    uint64_t target = ++worker->flush_requested;
    worker->wake.notify_one();
    bool ok = worker->idle.wait_until(lock, deadline, [&] {
      return worker->queue.empty() && !worker->busy && worker->flush_done >= target;
    });
    done = done && ok;
  }
  return done;
}

void AlertFanout::Reopen() {
  for (auto& worker : workers_) {
    std::lock_guard<std::mutex> lock(worker->mu);
    worker->reopen = true;
    worker->wake.notify_one();
  }
}

void AlertFanout::Stop() {
  if (stopped_) return;
  stopped_ = true;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.drain_timeout_ms);
  for (auto& worker : workers_) {
    std::lock_guard<std::mutex> lock(worker->mu);
    worker->stop = true;
    worker->drain_deadline = deadline;
    worker->wake.notify_one();
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
    Status st = worker->sink->Flush();
    if (!st.ok()) worker->Report(st);
  }
}

FanoutStats AlertFanout::Stats() const {
  FanoutStats stats;
  stats.accepted = accepted_.load(std::memory_order_relaxed);
  for (const auto& worker : workers_) {
    std::lock_guard<std::mutex> lock(worker->mu);
    SinkStats s;
    s.name = worker->name;
    s.emitted = worker->emitted;
    s.failed = worker->failed;
    s.dropped = worker->dropped;
    s.queued = worker->queue.size();
    s.last_error = worker->last_error;
    stats.sinks.push_back(std::move(s));
  }
  return stats;
}

}  // namespace steen::outputs
