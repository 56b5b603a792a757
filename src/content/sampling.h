// Which parts of a file the default (non-deep) analysis reads: the head, the tail and evenly spaced
// blocks in between. Encryption from offset 0 (nearly every family), at the end (Play's last MiB)
// and intermittent patterns all show in these; --deep reads everything.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "steen/content.h"

namespace steen::content {

// Sorted, non-overlapping ranges to read from a file of `size` bytes.
std::vector<ByteRange> PlanSamples(uint64_t size);

// Offsets of the middle sample blocks of PlanSamples(file_size) (read by every default analysis,
// so cached) that start after `start` and leave `block` bytes before `end`: a validator's test of
// its payload then sees every part of it the default scan reads.
std::vector<uint64_t> SampledBlockOffsets(uint64_t file_size, uint64_t start, uint64_t end,
                                          std::size_t block);

// min(count, total) distinct indices spread evenly over [0, total), the first and the last
// included: which of a validator's items (pages, sectors, records) to sample.
std::vector<uint64_t> EvenlySpaced(uint64_t total, uint64_t count);

}  // namespace steen::content
