// Canary files: real-looking documents (a valid XLSX, DOCX or PDF made here by code) that steen
// places in the top folders of each protected tree. Nothing legitimate opens them for writing,
// renames or deletes them, so the detector alerts on the first touch (DetectConfig::weight_canary).
//
// Placed before the fanotify marks exist (start-up), re-created from the main loop when missing
// (our own events are skipped by the kernel layer), removed on a clean shutdown when they are
// still exactly as placed (a touched canary is evidence: it stays).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "steen/event.h"
#include "steen/status.h"
#include "watch/config.h"

namespace steen::watch {

// The bytes of a canary named `file_name` (the extension picks the format: .xlsx, .docx, .pdf;
// anything else gets a plain text memo). `seed_text` (e.g. the folder name) makes each unique.
std::string MakeCanaryContent(const std::string& file_name, const std::string& seed_text);

// "{folder}" in a name template replaced by the folder's own name.
std::string ExpandCanaryName(const std::string& name_template, const std::string& folder);

struct CanaryStats {
  uint64_t placed = 0;
  uint64_t restored = 0;
  uint64_t removed = 0;
  uint64_t kept = 0;    // touched canaries left in place at shutdown
  uint64_t errors = 0;  // could not be written
};

class Canaries {
 public:
  Canaries(CanaryConfig config, std::vector<std::string> roots);
  // Walks each root breadth first and places one canary in each of the first max_directories
  // folders. A name already taken by a real file is skipped (never overwritten). Returns the
  // first error only when nothing could be placed at all.
  Status Place();
  // Re-creates canaries that are missing (deleted or renamed away). Returns how many.
  int Restore();
  // Removes the canaries that are still exactly as placed.
  void Remove();

  bool IsCanary(const FileEvent& event) const;
  // After a deleted canary's event was scored: its inode number may now be reused by a real file.
  void Forget(const FileEvent& event);
  const std::vector<std::string>& paths() const { return paths_; }
  const CanaryStats& stats() const { return stats_; }

 private:
  struct Placed {
    std::string path;
    std::string folder;
    uint64_t device = 0;
    uint64_t inode = 0;
    uint64_t size = 0;
    int64_t mtime_ns = 0;
  };
  Status Write(Placed* canary, bool exclusive);

  CanaryConfig config_;
  std::vector<std::string> roots_;
  std::vector<Placed> placed_;
  std::vector<std::string> paths_;
  std::set<std::string> path_set_;
  std::set<std::pair<uint64_t, uint64_t>> inodes_;  // every inode a canary ever had
  CanaryStats stats_;
};

}  // namespace steen::watch
