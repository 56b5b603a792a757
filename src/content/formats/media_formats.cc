// Registration of the media format validators: images, audio and video containers.
#include "content/formats/media_formats.h"

#include <algorithm>
#include <memory>

#include "content/block_stats.h"
#include "content/format.h"
#include "content/sampling.h"

namespace steen::content {

namespace media {
namespace {

// Random bytes step by 64 on average from one sample to the next (circular distance of two
// uniform bytes); real samples of one channel step far less, at least in the most significant
// byte. Cells (a few samples) need the looser threshold, whole blocks the tighter one.
constexpr double kCellLaneStep = 32;
constexpr double kBlockLaneStep = 48;
constexpr std::size_t kMinRandomBlock = limits::KiB;
constexpr std::size_t kMinRandomRegion = 256;
constexpr std::size_t kMinGathered = limits::KiB;
constexpr std::size_t kMaxGathered = 64 * limits::KiB;
constexpr std::size_t kMaxLanes = 8;

// Smallest, over the first kMaxLanes byte lanes, of the mean circular step between a byte and the
// byte `stride` further on. 0 when a lane has no step.
double MinLaneStep(std::string_view b, std::size_t stride) {
  const std::size_t lanes = std::min(stride, kMaxLanes);
  double min = 256;
  for (std::size_t lane = 0; lane < lanes; ++lane) {
    uint64_t sum = 0, n = 0;
    for (std::size_t i = lane; i + stride < b.size(); i += stride) {
      const int d =
          static_cast<uint8_t>(static_cast<uint8_t>(b[i + stride]) - static_cast<uint8_t>(b[i]));
      sum += static_cast<uint64_t>(std::min(d, 256 - d));
      ++n;
    }
    if (n == 0) return 0;
    min = std::min(min, static_cast<double>(sum) / static_cast<double>(n));
  }
  return lanes == 0 ? 0 : min;
}

// A cell of a few samples that looks random: (nearly) all bytes distinct, as random bytes almost
// always are at this size, and every lane jumping like random bytes.
bool CellLooksRandom(std::string_view cell, std::size_t stride) {
  bool seen[256] = {};
  std::size_t distinct = 0;
  for (unsigned char ch : cell) {
    distinct += seen[ch] ? 0 : 1;
    seen[ch] = true;
  }
  const std::size_t n = cell.size();
  if (distinct + n * n / 512 + 1 < n) return false;
  return MinLaneStep(cell, stride) >= kCellLaneStep;
}

}  // namespace

RandomSampleCheck::RandomSampleCheck(std::size_t stride)
    : stride_(std::clamp<std::size_t>(stride, 1, 16)),
      cell_(std::clamp<std::size_t>(4 * stride_, 16, 64)) {}

void RandomSampleCheck::Add(uint64_t offset, std::string_view block, bool whole_region) {
  if (found_) return;
  const std::size_t min_block = whole_region ? kMinRandomRegion : kMinRandomBlock;
  if (block.size() >= min_block && LooksRandom(block) &&
      MinLaneStep(block, stride_) >= kBlockLaneStep) {
    found_ = true;
    offset_ = offset;
    description_ = std::to_string(block.size()) + " bytes at " + Hex(offset) + " are random";
    return;
  }
  // Runs of random-looking cells; keep their interior.
  const std::size_t cells = block.size() / cell_;
  std::size_t i = 0;
  while (i < cells && gathered_.size() < kMaxGathered) {
    if (!CellLooksRandom(block.substr(i * cell_, cell_), stride_)) {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < cells && CellLooksRandom(block.substr(j * cell_, cell_), stride_)) ++j;
    if (j - i >= 3) {
      if (gathered_.empty()) gathered_from_ = offset + (i + 1) * cell_;
      gathered_.append(block.substr((i + 1) * cell_, (j - i - 2) * cell_));
      ++gathered_runs_;
    }
    i = j;
  }
}

bool RandomSampleCheck::Found() {
  if (found_) return true;
  if (gathered_.size() >= kMinGathered && LooksRandom(gathered_)) {
    found_ = true;
    offset_ = gathered_from_;
    description_ = std::to_string(gathered_runs_) + " runs of random bytes from " +
                   Hex(gathered_from_) + " (" + std::to_string(gathered_.size()) +
                   " bytes gathered pass the randomness test)";
  }
  return found_;
}

std::vector<ByteRange> MediaSampleBlocks(uint64_t file_size, uint64_t lo, uint64_t hi,
                                         std::size_t block) {
  std::vector<ByteRange> blocks;
  for (uint64_t o : MiddleSampleOffsets(lo, hi, block)) blocks.push_back({o, block});
  for (uint64_t o : SampledBlockOffsets(file_size, lo, hi, block)) blocks.push_back({o, block});
  std::sort(blocks.begin(), blocks.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  return blocks;
}

bool FindRandomSamples(ByteCursor& c, uint64_t start, uint64_t end, std::size_t stride,
                       RandomSampleCheck& check, std::size_t block) {
  if (end <= start) return false;
  if (stride == 0) stride = 1;
  std::vector<uint64_t> offsets = {start};
  for (uint64_t o : MiddleSampleOffsets(start, end, block)) offsets.push_back(o);
  for (uint64_t o : SampledBlockOffsets(c.size(), start, end, block)) offsets.push_back(o);
  if (end - start > block) offsets.push_back(end - block);
  std::sort(offsets.begin(), offsets.end());
  uint64_t covered = start;
  for (uint64_t offset : offsets) {
    offset = start + (offset - start) / stride * stride;
    if (offset < covered) {  // no byte twice: repeated bytes would fake structure
      offset = start + (covered - start + stride - 1) / stride * stride;
    }
    if (offset >= end) continue;
    const std::size_t length = static_cast<std::size_t>(std::min<uint64_t>(block, end - offset));
    std::string_view bytes = c.Bytes(offset, length);
    if (bytes.empty()) break;
    check.Add(offset, bytes, offset == start && bytes.size() == end - start);
    covered = offset + bytes.size();
  }
  return check.Found();
}

}  // namespace media

// Each validator lives in its own file and exposes only a factory.
std::unique_ptr<const FormatValidator> MakeJpegValidator();
std::unique_ptr<const FormatValidator> MakePngValidator();
std::unique_ptr<const FormatValidator> MakeGifValidator();
std::unique_ptr<const FormatValidator> MakeRiffValidator();
std::unique_ptr<const FormatValidator> MakeTiffValidator();
std::unique_ptr<const FormatValidator> MakeBmpValidator();
std::unique_ptr<const FormatValidator> MakeIsoBmffValidator();
std::unique_ptr<const FormatValidator> MakeOggValidator();
std::unique_ptr<const FormatValidator> MakeFlacValidator();
std::unique_ptr<const FormatValidator> MakeMatroskaValidator();
std::unique_ptr<const FormatValidator> MakeMp3Validator();

void RegisterMediaFormats(ValidatorList& out) {
  // Strong signatures first; MP3 last because a bare MPEG frame sync is the weakest signature.
  out.push_back(MakeJpegValidator());
  out.push_back(MakePngValidator());
  out.push_back(MakeGifValidator());
  out.push_back(MakeRiffValidator());
  out.push_back(MakeTiffValidator());
  out.push_back(MakeIsoBmffValidator());
  out.push_back(MakeOggValidator());
  out.push_back(MakeFlacValidator());
  out.push_back(MakeMatroskaValidator());
  out.push_back(MakeBmpValidator());
  out.push_back(MakeMp3Validator());
}

}  // namespace steen::content
