#include "sys/exe_hasher.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <vector>

#include "steen/limits.h"

namespace steen::sys {
namespace {

ExeKey KeyOf(const struct stat& st) {
  return {static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
          static_cast<uint64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace

ExeHasher::ExeHasher(FileOpener* opener, std::string proc_root)
    : opener_(opener), proc_root_(std::move(proc_root)) {
  worker_ = std::thread([this] { Run(); });
}

ExeHasher::~ExeHasher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

std::string ExeHasher::LookupOrRequest(pid_t pid) {
  struct stat st {};
  if (::stat((proc_root_ + "/" + std::to_string(pid) + "/exe").c_str(), &st) != 0) return {};
  ExeKey key = KeyOf(st);
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    ++stats_.cache_hits;
    return it->second;
  }
  if (pending_.count(key) != 0) return {};
  if (queue_.size() >= limits::kExeHashQueueCapacity) {
    ++stats_.dropped;
    return {};
  }
  pending_[key] = true;
  queue_.emplace_back(pid, key);
  cv_.notify_one();
  return {};
}

std::optional<std::string> ExeHasher::Lookup(const ExeKey& key) {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

void ExeHasher::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

ExeHasherStats ExeHasher::Stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

std::optional<std::string> ExeHasher::HashFd(int fd, uint64_t max_bytes) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
  std::vector<unsigned char> buf(256 * 1024);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > max_bytes) return std::nullopt;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &md_len) != 1) return std::nullopt;
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < md_len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

void ExeHasher::Run() {
  SetThreadRole(ThreadRole::kExeHasher);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto [pid, key] = queue_.front();
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    // Opening /proc/PID/exe opens the program file itself (even if renamed or deleted since).
    std::optional<std::string> digest;
    auto fd = opener_->Open(proc_root_ + "/" + std::to_string(pid) + "/exe", O_RDONLY);
    ExeKey opened_key = key;
    if (fd.ok()) {
      struct stat st {};
      if (::fstat(fd->get(), &st) == 0) opened_key = KeyOf(st);
      digest = HashFd(fd->get(), limits::kMaxExeHashBytes);
    }
    lock.lock();
    busy_ = false;
    pending_.erase(key);
    // Only cache when the file opened is the one that was asked about.
    if (digest && opened_key == key) {
      if (cache_.size() >= limits::kExeHashCacheEntries) cache_.clear();
      cache_[key] = *digest;
      ++stats_.hashed;
    } else {
      ++stats_.failed;
    }
    if (queue_.empty()) idle_cv_.notify_all();
  }
}

}  // namespace steen::sys
