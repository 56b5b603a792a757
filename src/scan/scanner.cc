// Scanner: one walker thread (the caller's) feeds a bounded queue; N workers open, analyse and
// report. getdents64 is cheap next to opening and reading files, so one walker keeps up.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "scan/file_scan.h"
#include "scan/walker.h"
#include "steen/scan.h"

namespace steen::scan {
namespace {

// Fixed-size ring buffer: the walker blocks when workers fall behind, so memory stays bounded.
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : items_(capacity == 0 ? 1 : capacity) {}

  void Push(FileTask task) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return count_ < items_.size(); });
    items_[(head_ + count_) % items_.size()] = std::move(task);
    ++count_;
    not_empty_.notify_one();
  }

  // False when closed and drained.
  bool Pop(FileTask* task) {
    std::unique_lock lock(mu_);
    not_empty_.wait(lock, [&] { return count_ > 0 || closed_; });
    if (count_ == 0) return false;
    *task = std::move(items_[head_]);
    items_[head_] = FileTask{};  // drop the directory reference now, not when the slot is reused
    head_ = (head_ + 1) % items_.size();
    --count_;
    not_full_.notify_one();
    return true;
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::vector<FileTask> items_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool closed_ = false;
};

// One per worker, on its own cache line, so progress counting does not bounce lines between cores.
struct alignas(64) SlotCounters {
  std::atomic<uint64_t> files{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> damaged{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> skipped_special{0};
};

void Bump(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

struct Scanner::Impl : public WalkVisitor {
  ScanOptions options;
  AnalyzeFunction analyze;
  int threads = 1;
  std::unique_ptr<SlotCounters[]> counters;  // threads + 1 (the walker's)
  std::unique_ptr<BoundedQueue> queue;
  ScanObserver* observer = nullptr;

  void OnFile(FileTask task) override { queue->Push(std::move(task)); }
  void OnError(std::string_view path, std::string_view message, bool is_root) override {
    Bump(counters[threads].errors);
    observer->OnError(threads, path, message, is_root);
  }

  void Work(int slot) {
    SlotCounters& mine = counters[slot];
    FileTask task;
    FileOutcome outcome;  // reused: keeps its string capacity across files
    while (queue->Pop(&task)) {
      ScanFile(task, analyze, options.analyze, &outcome);
      task = FileTask{};
      switch (outcome.kind) {
        case FileOutcome::Kind::kAnalysed: {
          FileReport report{outcome.path, outcome.size, &outcome.analysis, outcome.message};
          observer->OnFile(slot, report);
          Bump(mine.files);
          Bump(mine.bytes, outcome.size);
          Bump(mine.bytes_read, outcome.analysis.bytes_read);
          if (outcome.analysis.verdict == Verdict::kDamaged) Bump(mine.damaged);
          break;
        }
        case FileOutcome::Kind::kError:
          observer->OnError(slot, outcome.path, outcome.message, false);
          Bump(mine.errors);
          break;
        case FileOutcome::Kind::kSkippedSpecial:
          Bump(mine.skipped_special);
          break;
        case FileOutcome::Kind::kSkippedOther:
          break;
      }
    }
  }
};

Scanner::Scanner(ScanOptions options, AnalyzeFunction analyze) : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->analyze = std::move(analyze);
  int threads = options.threads;
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  impl_->threads = threads <= 0 ? 1 : threads;
  impl_->counters = std::make_unique<SlotCounters[]>(impl_->threads + 1);
}

Scanner::~Scanner() = default;

int Scanner::threads() const { return impl_->threads; }

ProgressSnapshot Scanner::Progress() const {
  ProgressSnapshot snapshot;
  for (int i = 0; i <= impl_->threads; ++i) {
    const SlotCounters& c = impl_->counters[i];
    snapshot.files += c.files.load(std::memory_order_relaxed);
    snapshot.bytes += c.bytes.load(std::memory_order_relaxed);
    snapshot.damaged += c.damaged.load(std::memory_order_relaxed);
    snapshot.errors += c.errors.load(std::memory_order_relaxed);
  }
  return snapshot;
}

ScanStats Scanner::Run(const std::vector<std::string>& roots, ScanObserver& observer) {
  const auto start = std::chrono::steady_clock::now();
  Impl& impl = *impl_;
  for (int i = 0; i <= impl.threads; ++i) {
    SlotCounters& c = impl.counters[i];
    for (auto* counter :
         {&c.files, &c.bytes, &c.bytes_read, &c.damaged, &c.errors, &c.skipped_special}) {
      counter->store(0);
    }
  }
  impl.observer = &observer;
  impl.queue = std::make_unique<BoundedQueue>(impl.options.queue_capacity);
  observer.Start(impl.threads + 1);

  std::vector<std::thread> workers;
  workers.reserve(impl.threads);
  for (int i = 0; i < impl.threads; ++i) workers.emplace_back([&impl, i] { impl.Work(i); });

  Walker walker(WalkOptions{impl.options.follow_symlinks, impl.options.max_depth}, impl);
  for (const std::string& root : roots) walker.WalkRoot(root);
  impl.queue->Close();
  for (std::thread& worker : workers) worker.join();

  ScanStats stats;
  for (int i = 0; i <= impl.threads; ++i) {
    const SlotCounters& c = impl.counters[i];
    stats.files += c.files.load();
    stats.bytes += c.bytes.load();
    stats.bytes_read += c.bytes_read.load();
    stats.damaged += c.damaged.load();
    stats.errors += c.errors.load();
    stats.skipped_special += c.skipped_special.load();
  }
  const WalkCounters& walked = walker.counters();
  stats.root_errors = walked.root_errors;
  stats.directories = walked.directories;
  stats.skipped_special += walked.skipped_special;
  stats.skipped_symlinks = walked.skipped_symlinks;
  stats.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  impl.queue.reset();
  impl.observer = nullptr;
  return stats;
}

AnalyzeFunction MakeAnalyzeFunction(const ContentAnalyzer& analyzer) {
  return [&analyzer](ByteSource& source, const AnalyzeOptions& options) {
    return analyzer.Analyze(source, options);
  };
}

int ExitCodeFor(const ScanStats& stats) {
  if (stats.root_errors > 0) return 2;
  return stats.damaged > 0 ? 1 : 0;
}

}  // namespace steen::scan
