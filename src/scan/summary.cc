#include "scan/summary.h"

#include <algorithm>

namespace steen::scan {
namespace {

void AddCapped(std::map<std::string, uint64_t>& counts, std::string_view key, uint64_t n) {
  auto it = counts.find(std::string(key));
  if (it != counts.end()) {
    it->second += n;
  } else if (counts.size() < limits::kMaxFormatsTracked) {
    counts.emplace(std::string(key), n);
  } else {
    counts["other"] += n;
  }
}

}  // namespace

std::string_view FolderOf(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

void FolderCounter::Add(std::string_view folder, uint64_t n) {
  auto it = counts_.find(std::string(folder));
  if (it != counts_.end()) {
    it->second += n;
    return;
  }
  PruneIfFull();
  counts_.emplace(std::string(folder), n);
}

void FolderCounter::Merge(const FolderCounter& other) {
  approximate_ = approximate_ || other.approximate_;
  for (const auto& [folder, n] : other.counts_) Add(folder, n);
}

// Keeps the most damaged half: amortised O(log n) per new folder, and the top folders of any
// realistic tree (damage concentrates in few folders) survive exactly.
void FolderCounter::PruneIfFull() {
  if (counts_.size() < capacity_) return;
  std::vector<uint64_t> values;
  values.reserve(counts_.size());
  for (const auto& entry : counts_) values.push_back(entry.second);
  auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  const uint64_t median = *middle;
  std::size_t to_remove = counts_.size() - capacity_ / 2;
  // Remove the smaller counts first, then (ties) entries equal to the median.
  for (const bool strict : {true, false}) {
    for (auto it = counts_.begin(); it != counts_.end() && to_remove > 0;) {
      if (strict ? it->second < median : it->second == median) {
        it = counts_.erase(it);
        --to_remove;
      } else {
        ++it;
      }
    }
  }
  approximate_ = true;
}

std::vector<std::pair<std::string, uint64_t>> FolderCounter::Top(std::size_t n) const {
  std::vector<std::pair<std::string, uint64_t>> all(counts_.begin(), counts_.end());
  const auto more_damaged = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  const std::size_t keep = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(keep), all.end(),
                    more_damaged);
  all.resize(keep);
  return all;
}

void Summary::Add(const FileReport& file) {
  ++files;
  bytes += file.size;
  const Analysis& analysis = *file.analysis;
  bytes_read += analysis.bytes_read;
  by_verdict[std::string(ToString(analysis.verdict))] += 1;
  AddCapped(by_format, analysis.format.empty() ? "unknown" : analysis.format, 1);
  if (analysis.verdict == Verdict::kDamaged) {
    by_kind[std::string(ToString(analysis.kind))] += 1;
    damaged_folders.Add(FolderOf(file.path));
  }
}

void Summary::Merge(const Summary& other) {
  files += other.files;
  bytes += other.bytes;
  bytes_read += other.bytes_read;
  errors += other.errors;
  for (const auto& [k, n] : other.by_verdict) by_verdict[k] += n;
  for (const auto& [k, n] : other.by_kind) by_kind[k] += n;
  for (const auto& [k, n] : other.by_format) AddCapped(by_format, k, n);
  damaged_folders.Merge(other.damaged_folders);
}

}  // namespace steen::scan
