#include "watch/rescan.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>

#include "base/fd_io.h"
#include "steen/limits.h"
#include "watch/content_view.h"

namespace steen::watch {
namespace {

int64_t Ns(const timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

Rescanner::Rescanner(const ContentAnalyzer* analyzer, std::vector<std::string> roots)
    : analyzer_(analyzer), roots_(std::move(roots)) {
  thread_ = std::thread([this] { Run(); });
}

Rescanner::~Rescanner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  abort_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Rescanner::Request(int64_t since_wall_ns, const std::string& reason) {
  {
    std::lock_guard lock(mu_);
    pending_since_ = pending_since_ ? std::min(*pending_since_, since_wall_ns) : since_wall_ns;
    pending_reason_ = reason;
  }
  cv_.notify_all();
}

std::optional<RescanResult> Rescanner::TakeResult() {
  std::lock_guard lock(mu_);
  if (results_.empty()) return std::nullopt;
  RescanResult result = std::move(results_.front());
  results_.erase(results_.begin());
  return result;
}

bool Rescanner::busy() const {
  std::lock_guard lock(mu_);
  return running_ || pending_since_.has_value();
}

void Rescanner::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || pending_since_.has_value(); });
    if (stop_) return;
    const int64_t since = *pending_since_;
    const std::string reason = pending_reason_;
    pending_since_.reset();
    running_ = true;
    lock.unlock();
    RescanResult result = RunOnce(since, reason);
    lock.lock();
    running_ = false;
    if (results_.size() < 16) results_.push_back(std::move(result));
  }
}

RescanResult Rescanner::RunOnce(int64_t since_wall_ns, const std::string& reason) {
  RescanResult result;
  result.reason = reason;
  result.since_wall_ns = since_wall_ns;
  std::deque<std::string> folders(roots_.begin(), roots_.end());
  while (!folders.empty() && !abort_) {
    if (result.directories >= limits::kMaxRescanDirectories ||
        result.files_examined >= limits::kMaxRescanFiles) {
      result.truncated = true;
      break;
    }
    std::string folder = std::move(folders.front());
    folders.pop_front();
    int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir_fd < 0) {
      ++result.errors;  // vanished or unreadable: counted, the walk goes on
      continue;
    }
    DIR* dir = ::fdopendir(dir_fd);
    if (dir == nullptr) {
      ::close(dir_fd);
      ++result.errors;
      continue;
    }
    ++result.directories;
    while (dirent* entry = ::readdir(dir)) {
      if (abort_) break;
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      const std::string path = folder + "/" + name;
      if (S_ISDIR(st.st_mode)) {
        folders.push_back(path);
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      if (std::max(Ns(st.st_mtim), Ns(st.st_ctim)) < since_wall_ns) continue;
      if (result.files_examined >= limits::kMaxRescanFiles) {
        result.truncated = true;
        break;
      }
      const int fd = OpenWithoutAtime(dir_fd, name.c_str(),
                                      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) {
        ++result.errors;
        continue;
      }
      ++result.files_examined;
      auto view = AnalyzeFd(*analyzer_, fd);
      ::close(fd);
      if (!view.ok()) {
        ++result.errors;
        continue;
      }
      if (view->verdict == Verdict::kDamaged) {
        ++result.damaged;
        if (result.damaged_paths.size() < limits::kMaxRescanAlertFiles) {
          result.damaged_paths.push_back(path);
        }
      }
    }
    ::closedir(dir);
  }
  return result;
}

}  // namespace steen::watch
