// The watcher's view of one version of a file: the content analyzer run over a descriptor the
// kernel gave us (fanotify event fd or permission ticket fd), reduced to the ContentView the
// detector scores. Reads only through that fd (pread: the fd's offset is never moved, nothing is
// written), bounded by the analyzer's own read budget (limits::kAnalysisReadBudget).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "steen/content.h"
#include "steen/event.h"
#include "steen/status.h"

namespace steen::watch {

// ByteSource over an fd with pread. Also measures, per 4 KiB block of what the analysis read,
// whether the bytes look random (each block counted once), which gives
// ContentView::random_block_fraction without a second read.
class FdByteSource final : public ByteSource {
 public:
  // Does not own fd. `size` is the size seen by fstat when the event was handled: reads stop there.
  // `measure_blocks` false: no block is measured.
  FdByteSource(int fd, uint64_t size, bool measure_blocks = true)
      : fd_(fd), size_(size), measure_blocks_(measure_blocks) {}
  uint64_t Size() const override { return size_; }
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override;

  uint64_t blocks_measured() const { return blocks_measured_; }
  uint64_t blocks_random() const { return blocks_random_; }

 private:
  void Measure(uint64_t offset, const std::string& bytes);
  int fd_;
  uint64_t size_;
  bool measure_blocks_;
  uint64_t blocks_measured_ = 0;
  uint64_t blocks_random_ = 0;
  std::vector<uint64_t> seen_blocks_;  // sorted block indexes already measured
};

// Analyzes the file behind `fd` (fstat for its size). A file of 0 bytes is the "empty" view (what
// the detector expects for a new file). Fails only when the fd cannot be read (the event then
// carries no view: the detector scores what it can). Without `measure_blocks` the view has no
// random_block_fraction (blocks_measured false).
StatusOr<ContentView> AnalyzeFd(const ContentAnalyzer& analyzer, int fd,
                                bool measure_blocks = true);

// The view of an empty file.
ContentView EmptyView();

}  // namespace steen::watch
