#include "content/sampling.h"

#include <algorithm>

#include "steen/limits.h"

namespace steen::content {

std::vector<ByteRange> PlanSamples(uint64_t size) {
  std::vector<ByteRange> plan;
  const uint64_t head = limits::kHeadBytes;
  const uint64_t tail = limits::kTailBytes;
  if (size <= head + tail) {
    if (size > 0) plan.push_back({0, size});
    return plan;
  }
  plan.push_back({0, head});
  const uint64_t middle_begin = head;
  const uint64_t middle_end = size - tail;
  const uint64_t middle = middle_end - middle_begin;
  const uint64_t block = limits::kSampleBlockBytes;
  // One sampled block per 16 KiB of middle, at most kMaxSampleBlocks.
  const uint64_t count =
      std::min<uint64_t>(limits::kMaxSampleBlocks, std::max<uint64_t>(1, middle / (4 * block)));
  if (middle <= count * block) {
    plan.push_back({middle_begin, middle});
  } else {
    const uint64_t stride = (middle - block) / std::max<uint64_t>(1, count - 1);
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t offset = middle_begin + (count == 1 ? (middle - block) / 2 : i * stride);
      offset -= offset % 4096;  // align to the stats block grid
      if (!plan.empty() && offset < plan.back().end()) offset = plan.back().end();
      if (offset + block > middle_end) break;
      plan.push_back({offset, block});
    }
  }
  plan.push_back({middle_end, tail});
  return plan;
}

std::vector<uint64_t> SampledBlockOffsets(uint64_t file_size, uint64_t start, uint64_t end,
                                          std::size_t block) {
  std::vector<uint64_t> offsets;
  for (const ByteRange& r : PlanSamples(file_size)) {
    // The middle samples (head and tail are whole 64 KiB regions).
    if (r.length == limits::kSampleBlockBytes && r.offset > start && r.offset + block <= end) {
      offsets.push_back(r.offset);
    }
  }
  return offsets;
}

std::vector<uint64_t> EvenlySpaced(uint64_t total, uint64_t count) {
  count = std::min(count, total);
  std::vector<uint64_t> indices;
  indices.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    indices.push_back(count == 1 ? 0 : i * (total - 1) / (count - 1));
  }
  return indices;
}

}  // namespace steen::content
