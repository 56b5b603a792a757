#include "scan/progress.h"

#include <chrono>

#include "fmt/format.h"

namespace steen::scan {
namespace {
constexpr std::chrono::milliseconds kRedrawInterval(200);
}  // namespace

ProgressLine::ProgressLine(const Scanner& scanner, std::FILE* err)
    : scanner_(scanner), err_(err), thread_([this] { Loop(); }) {}

ProgressLine::~ProgressLine() { Stop(); }

void ProgressLine::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  std::fputs("\r\033[K", err_);  // leave a clean line for the report
  std::fflush(err_);
}

void ProgressLine::Loop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!wake_.wait_for(lock, kRedrawInterval, [this] { return stop_; })) {
    const ProgressSnapshot now = scanner_.Progress();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mb = static_cast<double>(now.bytes) / 1e6;
    std::fputs(fmt::format("\r\033[K{} files, {:.1f} MB | {:.0f} files/s, {:.1f} MB/s | {} "
                           "damaged, {} errors",
                           now.files, mb, static_cast<double>(now.files) / seconds, mb / seconds,
                           now.damaged, now.errors)
                   .c_str(),
               err_);
    std::fflush(err_);
  }
}

}  // namespace steen::scan
