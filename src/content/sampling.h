// Which parts of a file the default (non-deep) analysis reads: the head, the tail and evenly spaced
// blocks in between. Encryption from offset 0 (nearly every family), at the end (Play's last MiB)
// and intermittent patterns all show in these; --deep reads everything.
#pragma once

#include <cstdint>
#include <vector>

#include "steen/content.h"

namespace steen::content {

// Sorted, non-overlapping ranges to read from a file of `size` bytes.
std::vector<ByteRange> PlanSamples(uint64_t size);

}  // namespace steen::content
