// Small helpers shared by the media validators (JPEG, PNG, MP3, ISO BMFF, Ogg, FLAC, ...).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "content/format.h"
#include "content/reader.h"
#include "steen/limits.h"

namespace steen::content::media {

// Middle blocks sampled by media validators between head and tail (small: most formats only need a
// few hundred bytes to resynchronise and prove structure).
inline constexpr int kMiddleSamples = 8;
inline constexpr std::size_t kMiddleSampleBytes = 8 * limits::KiB;

inline std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

inline void MarkDamaged(FormatReport& report, uint64_t offset, uint64_t length,
                        std::string reason) {
  report.integrity = Integrity::kDamaged;
  report.reasons.push_back(std::move(reason));
  report.damaged_ranges.push_back({offset, length});
}

// The same, where the validator measured the bytes there as random: ciphertext, evidence enough
// for the analyzer whatever its own samples saw.
inline void MarkRandom(FormatReport& report, uint64_t offset, uint64_t length, std::string reason) {
  MarkDamaged(report, offset, length, std::move(reason));
  report.evidence = DamageEvidence::kRandom;
}

// Offsets of up to `count` blocks of `block` bytes spread evenly over [lo, hi).
inline std::vector<uint64_t> MiddleSampleOffsets(uint64_t lo, uint64_t hi, std::size_t block,
                                                 int count = kMiddleSamples) {
  std::vector<uint64_t> out;
  if (hi <= lo || hi - lo < block) return out;
  const uint64_t span = hi - lo - block;
  for (int i = 0; i < count; ++i) {
    out.push_back(lo + span * static_cast<uint64_t>(i + 1) / static_cast<uint64_t>(count + 1));
  }
  return out;
}

// The blocks of `block` bytes a validator of compressed media samples between head and tail:
// kMiddleSamples spread evenly over [lo, hi), and one at each of the analyzer's sample offsets in
// that range, where a valid file of such a format is otherwise never judged. Sorted by offset.
std::vector<ByteRange> MediaSampleBlocks(uint64_t file_size, uint64_t lo, uint64_t hi,
                                         std::size_t block);

// Reads the head and tail windows the analyzer reads anyway (free), so later small reads inside
// them hit the Reader's cache.
inline void PrimeHeadAndTail(Reader& reader) {
  (void)reader.Read(0, limits::kHeadBytes);
  if (reader.size() > limits::kHeadBytes) {
    const uint64_t tail =
        reader.size() > limits::kTailBytes ? reader.size() - limits::kTailBytes : 0;
    (void)reader.Read(tail, limits::kTailBytes);
  }
}

// Byte-at-a-time access through the Reader in aligned windows: parsers that hop through a file
// (marker walks, box walks) read only the windows they touch.
class ByteCursor {
 public:
  static constexpr std::size_t kWindow = 4 * limits::KiB;
  explicit ByteCursor(Reader& reader) : reader_(reader) {}
  uint64_t size() const { return reader_.size(); }
  // The byte at `offset`, or -1 past EOF or on a read error.
  int At(uint64_t offset) {
    if (offset >= window_base_ && offset - window_base_ < window_.size()) {
      return static_cast<uint8_t>(window_[offset - window_base_]);
    }
    if (offset >= reader_.size()) return -1;
    const uint64_t base = offset - offset % kWindow;
    auto bytes = reader_.Read(base, kWindow);
    if (!bytes.ok() || bytes->size() <= offset - base) return -1;
    window_ = *bytes;
    window_base_ = base;
    return static_cast<uint8_t>(window_[offset - window_base_]);
  }
  // `length` bytes at offset (fewer at EOF); a view valid for the Reader's lifetime.
  std::string_view Bytes(uint64_t offset, std::size_t length) {
    if (offset >= window_base_ && offset - window_base_ + length <= window_.size()) {
      return window_.substr(offset - window_base_, length);
    }
    auto bytes = reader_.Read(offset, length);
    return bytes.ok() ? *bytes : std::string_view();
  }

 private:
  Reader& reader_;
  std::string_view window_;
  uint64_t window_base_ = 0;
};

// Positive evidence that uncompressed samples (pixels, PCM frames, raw strips) were replaced by
// random bytes. Real pictures and sound can be very noisy (icons with alpha, dithering, white-noise
// effects), so a "jumpy" heuristic alone is no evidence; the evidence is bytes that pass the
// project's complete randomness test (LooksRandom: uniform histogram AND unrelated neighbours)
// and, sample by sample, step as far as random bytes do. Two tests:
//  1. one sampled block of at least 1 KiB (or the whole region when it is smaller, >= 256 bytes)
//     is random;
//  2. intermittent damage (e.g. 64 bytes of every 192): small cells that look random are gathered
//     from the interior of runs of such cells (the cells at a run's ends may straddle real data)
//     and the gathered bytes, at least 1 KiB, must pass LooksRandom as a whole. Real noisy cells
//     gathered this way keep their skewed histogram and fail it.
class RandomSampleCheck {
 public:
  // `stride`: bytes per pixel or per PCM frame (neighbouring samples of one channel lie `stride`
  // bytes apart); 1 when unknown.
  explicit RandomSampleCheck(std::size_t stride);
  // Feeds one sampled block (blocks must not overlap). `whole_region`: the block is all there is.
  void Add(uint64_t offset, std::string_view block, bool whole_region = false);
  // True when a block or the gathered cells look random; call after the last Add.
  bool Found();
  uint64_t offset() const { return offset_; }  // where the evidence starts
  // What was found, e.g. "4096 bytes at 0x2c are random".
  const std::string& description() const { return description_; }

 private:
  std::size_t stride_;
  std::size_t cell_;
  std::string gathered_;
  uint64_t gathered_from_ = 0;
  int gathered_runs_ = 0;
  bool found_ = false;
  uint64_t offset_ = 0;
  std::string description_;
};

// Samples [start, end) in non-overlapping blocks of `block` bytes (the first, kMiddleSamples
// spread evenly, the analyzer's own sample blocks inside it, the last; every block starts a whole
// number of `stride`s after `start`) and runs a RandomSampleCheck over them.
bool FindRandomSamples(ByteCursor& c, uint64_t start, uint64_t end, std::size_t stride,
                       RandomSampleCheck& check, std::size_t block = 4 * limits::KiB);

}  // namespace steen::content::media
