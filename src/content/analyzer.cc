// ContentAnalyzer: orchestrates reading, format validation and block statistics into a verdict.
#include <algorithm>

#include "content/block_stats.h"
#include "content/format.h"
#include "content/reader.h"
#include "steen/content.h"
#include "steen/limits.h"

namespace steen {

struct ContentAnalyzer::Impl {
  content::ValidatorList validators = content::MakeAllValidators();
};

ContentAnalyzer::ContentAnalyzer() : impl_(std::make_unique<Impl>()) {}
ContentAnalyzer::~ContentAnalyzer() = default;

StatusOr<Analysis> ContentAnalyzer::Analyze(ByteSource& source,
                                            const AnalyzeOptions& options) const {
  content::Reader reader(source, limits::kAnalysisReadBudget);
  Analysis result;
  auto head = reader.Read(0, limits::kHeadBytes);
  if (!head.ok()) return head.status();
  result.format = "unknown";
  result.ranges_read = reader.RangesRead();
  result.bytes_read = reader.bytes_read();
  return result;
}

}  // namespace steen
