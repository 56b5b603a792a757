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

// Uncompressed pixels: neighbouring pixels of one channel are close in real images (even noisy
// photos step by a few tens at most on average), while random bytes step by 85 on average. Counts
// windows of kPixelWindow pixels in `block` whose first-channel steps average above
// kNoisyPixelStep; `stride` is the bytes per pixel.
inline constexpr int kPixelWindow = 16;
inline constexpr int kNoisyPixelStep = 56;
inline int NoisyPixelWindows(std::string_view block, std::size_t stride) {
  if (stride == 0) return 0;
  const std::size_t pixels = block.size() / stride;
  int noisy = 0;
  for (std::size_t w = 0; w + kPixelWindow <= pixels; w += kPixelWindow) {
    int sum = 0;
    for (int k = 1; k < kPixelWindow; ++k) {
      const int a = static_cast<uint8_t>(block[(w + k - 1) * stride]);
      const int b = static_cast<uint8_t>(block[(w + k) * stride]);
      sum += a > b ? a - b : b - a;
    }
    if (sum > kNoisyPixelStep * (kPixelWindow - 1)) ++noisy;
  }
  return noisy;
}

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

}  // namespace steen::content::media
