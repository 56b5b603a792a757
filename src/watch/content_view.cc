#include "watch/content_view.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "content/block_stats.h"
#include "steen/limits.h"

namespace steen::watch {

Status FdByteSource::ReadAt(uint64_t offset, std::size_t length, std::string* out) {
  out->clear();
  if (offset >= size_) return Status::Ok();
  const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(length, size_ - offset));
  out->resize(want);
  std::size_t got = 0;
  while (got < want) {
    ssize_t n = ::pread(fd_, out->data() + got, want - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      out->clear();
      return Status::FromErrno("read at offset " + std::to_string(offset + got), err);
    }
    if (n == 0) break;  // the file shrank since fstat
    got += static_cast<std::size_t>(n);
  }
  out->resize(got);
  if (measure_blocks_) Measure(offset, *out);
  return Status::Ok();
}

void FdByteSource::Measure(uint64_t offset, const std::string& bytes) {
  constexpr uint64_t kBlock = limits::kStatsBlockBytes;
  // Whole aligned blocks inside the range only: a partial block has too little evidence.
  uint64_t first = (offset + kBlock - 1) / kBlock;
  for (uint64_t block = first; (block + 1) * kBlock <= offset + bytes.size(); ++block) {
    auto it = std::lower_bound(seen_blocks_.begin(), seen_blocks_.end(), block);
    if (it != seen_blocks_.end() && *it == block) continue;
    seen_blocks_.insert(it, block);
    std::string_view span(bytes.data() + (block * kBlock - offset), kBlock);
    ++blocks_measured_;
    if (content::LooksRandom(span)) ++blocks_random_;
  }
}

ContentView EmptyView() {
  ContentView view;
  view.verdict = Verdict::kIntact;
  view.format = "empty";
  return view;
}

StatusOr<ContentView> AnalyzeFd(const ContentAnalyzer& analyzer, int fd, bool measure_blocks) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno("fstat", errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument("not a regular file");
  if (st.st_size == 0) return EmptyView();
  FdByteSource source(fd, static_cast<uint64_t>(st.st_size), measure_blocks);
  auto analysis = analyzer.Analyze(source);
  if (!analysis.ok()) return analysis.status();
  ContentView view;
  view.verdict = analysis->verdict;
  view.kind = analysis->kind;
  view.score = analysis->score;
  view.format = analysis->format;
  view.encrypted_container = analysis->encrypted_container;
  view.reasons = std::move(analysis->reasons);
  if (source.blocks_measured() > 0) {
    view.blocks_measured = true;
    view.random_block_fraction =
        static_cast<double>(source.blocks_random()) / static_cast<double>(source.blocks_measured());
  }
  return view;
}

}  // namespace steen::watch
