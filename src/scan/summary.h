// Summary: counts for the end-of-scan report, kept per worker and merged at the end. Bounded:
// formats are capped, folders are tracked only when they hold damage, and at most
// limits::kMaxDamagedFoldersTracked of them (the least damaged are pruned, making counts lower
// bounds; `folders_approximate` says so).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "steen/limits.h"
#include "steen/scan.h"

namespace steen::scan {

class FolderCounter {
 public:
  explicit FolderCounter(std::size_t capacity = limits::kMaxDamagedFoldersTracked)
      : capacity_(capacity < 2 ? 2 : capacity) {}
  void Add(std::string_view folder, uint64_t n = 1);
  void Merge(const FolderCounter& other);
  // The n folders with the most damage, most first (ties by path, for stable output).
  std::vector<std::pair<std::string, uint64_t>> Top(std::size_t n) const;
  bool approximate() const { return approximate_; }
  std::size_t size() const { return counts_.size(); }

 private:
  void PruneIfFull();
  std::size_t capacity_;
  std::unordered_map<std::string, uint64_t> counts_;
  bool approximate_ = false;
};

// The folder part of a path: "a/b/c" -> "a/b", "/c" -> "/", "c" -> ".".
std::string_view FolderOf(std::string_view path);

struct Summary {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t bytes_read = 0;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> by_verdict;  // "intact", "damaged", "unknown"
  std::map<std::string, uint64_t> by_kind;     // damaged files only
  std::map<std::string, uint64_t> by_format;   // capped at limits::kMaxFormatsTracked, then "other"
  FolderCounter damaged_folders;

  void Add(const FileReport& file);
  void AddError() { ++errors; }
  void Merge(const Summary& other);
};

}  // namespace steen::scan
