// TIFF validator (classic and BigTIFF, so also DNG, CR2, NEF and other TIFF-based raw formats):
// walks the IFD chain and the EXIF/SubIFD children, checks entry counts and types, that every
// out-of-line value, strip and tile lies inside the file, and samples the strips: compressed
// strips must decode (LZW codes, Deflate) or start like their codec, uncompressed ones must not
// be random bytes.
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::Hex;

constexpr int kMaxIfds = 1024;
constexpr uint64_t kMaxEntriesPerIfd = 4096;
constexpr uint64_t kMaxStripsRead = 16384;
constexpr int kStripsSampled = 6;

struct TiffContext {
  media::ByteCursor* c;
  bool big_endian;
  bool big_tiff;
  uint64_t size;
  uint64_t max_end = 0;
  bool has_maker_note = false;
  bool is_dng = false;
  uint32_t compression = 1;
  uint32_t samples_per_pixel = 1;
  uint32_t bits_per_sample = 1;
  bool lsb_fill_order = false;      // FillOrder 2: bits of each byte stored in reverse
  std::size_t bytes_per_pixel = 0;  // 0 when pixels are not whole bytes
  std::vector<std::pair<uint64_t, uint64_t>> strips;  // offset, length of the first IFD's image
  std::string error;
  uint64_t error_at = 0;
  bool error_inverted = false;  // the broken IFD is a valid one bit-flipped (255 - b)
  bool truncated = false;
  std::set<uint64_t> visited;
  int ifds = 0;
};

uint64_t Load(const TiffContext& t, std::string_view b, std::size_t at, int width) {
  auto get = [&](auto tag) -> uint64_t {
    using T = decltype(tag);
    auto v = t.big_endian ? LoadBE<T>(b, at) : LoadLE<T>(b, at);
    return v ? static_cast<uint64_t>(*v) : 0;
  };
  switch (width) {
    case 1:
      return b.size() > at ? static_cast<uint8_t>(b[at]) : 0;
    case 2:
      return get(uint16_t{});
    case 4:
      return get(uint32_t{});
    default:
      return get(uint64_t{});
  }
}

int TypeSize(uint32_t type) {
  static constexpr int kSizes[19] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
  return type < 19 ? kSizes[type] : 0;
}

// A field type this file may use (types 16-18 are BigTIFF's).
bool TypeValid(const TiffContext& t, uint32_t type) {
  return TypeSize(type) != 0 && (t.big_tiff || type <= 13);
}

// The values of an entry (SHORT/LONG/LONG8 arrays), capped.
std::vector<uint64_t> Values(TiffContext& t, uint32_t type, uint64_t count, uint64_t value_at) {
  std::vector<uint64_t> out;
  const int width = TypeSize(type);
  if (width != 2 && width != 4 && width != 8) return out;
  const uint64_t n = std::min(count, kMaxStripsRead);
  std::string_view b = t.c->Bytes(value_at, static_cast<std::size_t>(n * width));
  for (uint64_t i = 0; i < n && (i + 1) * width <= b.size(); ++i)
    out.push_back(Load(t, b, i * width, width));
  return out;
}

void WalkIfd(TiffContext& t, uint64_t offset, int depth, bool first_image);

// Whether the IFD at `offset`, bit-flipped back (255 - b), has a sane entry count and entries of
// valid types in ascending tag order (the first eight are checked).
bool InvertedIfdIsValid(const TiffContext& t, uint64_t offset) {
  const std::size_t entry_size = t.big_tiff ? 20 : 12;
  const int count_width = t.big_tiff ? 8 : 2;
  const std::string back = Inverted(t.c->Bytes(offset, count_width + 8 * entry_size));
  const uint64_t count = Load(t, back, 0, count_width);
  if (count == 0 || count > kMaxEntriesPerIfd) return false;
  const uint64_t checked = std::min<uint64_t>(count, 8);
  if (back.size() < count_width + checked * entry_size) return false;
  uint64_t previous_tag = 0;
  for (uint64_t i = 0; i < checked; ++i) {
    const std::size_t at = count_width + i * entry_size;
    const uint64_t tag = Load(t, back, at, 2);
    const auto type = static_cast<uint32_t>(Load(t, back, at + 2, 2));
    if ((i > 0 && tag <= previous_tag) || !TypeValid(t, type)) {
      return false;
    }
    previous_tag = tag;
  }
  return true;
}

void WalkChain(TiffContext& t, uint64_t offset, int depth) {
  for (bool first = depth == 0; offset != 0 && t.error.empty() && !t.truncated; first = false) {
    if (depth > 4 || t.ifds >= kMaxIfds || !t.visited.insert(offset).second) return;
    ++t.ifds;
    const uint64_t entry_size = t.big_tiff ? 20 : 12;
    const int count_width = t.big_tiff ? 8 : 2;
    std::string_view cb = t.c->Bytes(offset, count_width);
    if (offset + count_width > t.size) {
      t.truncated = true;
      return;
    }
    const uint64_t count = Load(t, cb, 0, count_width);
    if (count == 0 || count > kMaxEntriesPerIfd) {
      t.error = "TIFF IFD at " + Hex(offset) + ": entry count " + std::to_string(count);
      t.error_at = offset;
      if (InvertedIfdIsValid(t, offset)) {
        t.error = "TIFF IFD at " + Hex(offset) + ": a valid IFD inverted (255 - b)";
        t.error_inverted = true;
      }
      return;
    }
    const uint64_t next_at = offset + count_width + count * entry_size;
    if (next_at + (t.big_tiff ? 8 : 4) > t.size) {
      // Entries cut off by EOF: truncated, unless the entries that are there are garbage.
      const uint64_t present = (t.size - offset - count_width) / entry_size;
      std::string_view e =
          t.c->Bytes(offset + count_width, static_cast<std::size_t>(present * entry_size));
      for (uint64_t i = 0; i + 1 <= present && (i + 1) * entry_size <= e.size(); ++i) {
        const uint32_t type = static_cast<uint32_t>(Load(t, e, i * entry_size + 2, 2));
        if (!TypeValid(t, type)) {
          t.error =
              "TIFF IFD at " + Hex(offset) + ": entry " + std::to_string(i) + " has invalid type";
          t.error_at = offset;
          return;
        }
      }
      t.truncated = true;
      return;
    }
    t.max_end = std::max(t.max_end, next_at + (t.big_tiff ? 8 : 4));
    WalkIfd(t, offset, depth, first);
    if (!t.error.empty()) return;
    offset = Load(t, t.c->Bytes(next_at, t.big_tiff ? 8 : 4), 0, t.big_tiff ? 8 : 4);
  }
}

void WalkIfd(TiffContext& t, uint64_t offset, int depth, bool first_image) {
  const uint64_t entry_size = t.big_tiff ? 20 : 12;
  const int count_width = t.big_tiff ? 8 : 2;
  const int inline_bytes = t.big_tiff ? 8 : 4;
  const uint64_t count = Load(t, t.c->Bytes(offset, count_width), 0, count_width);
  std::string_view entries =
      t.c->Bytes(offset + count_width, static_cast<std::size_t>(count * entry_size));
  if (entries.size() < count * entry_size) return;
  std::vector<uint64_t> strip_offsets, strip_lengths;
  std::vector<uint64_t> children;
  for (uint64_t i = 0; i < count; ++i) {
    const std::size_t e = static_cast<std::size_t>(i * entry_size);
    const uint32_t tag = static_cast<uint32_t>(Load(t, entries, e, 2));
    const uint32_t type = static_cast<uint32_t>(Load(t, entries, e + 2, 2));
    const uint64_t n = Load(t, entries, e + 4, t.big_tiff ? 8 : 4);
    const int width = TypeSize(type);
    if (!TypeValid(t, type)) {
      t.error = "TIFF IFD at " + Hex(offset) + ": tag " + std::to_string(tag) +
                " has invalid type " + std::to_string(type);
      t.error_at = offset;
      return;
    }
    const std::size_t value_field = e + 4 + (t.big_tiff ? 8 : 4);
    uint64_t value_at = offset + count_width + value_field;
    const uint64_t bytes = n * static_cast<uint64_t>(width);
    if (n > (uint64_t{1} << 40)) {
      t.error = "TIFF IFD at " + Hex(offset) + ": tag " + std::to_string(tag) + " count " +
                std::to_string(n);
      t.error_at = offset;
      return;
    }
    if (bytes > static_cast<uint64_t>(inline_bytes)) {
      value_at = Load(t, entries, value_field, inline_bytes);
      if (value_at + bytes > t.size) {
        t.error = "TIFF tag " + std::to_string(tag) + " at " + Hex(offset) + ": value at " +
                  Hex(value_at) + " lies beyond the file";
        t.error_at = offset;
        return;
      }
      t.max_end = std::max(t.max_end, value_at + bytes);
    }
    switch (tag) {
      case 259:
        if (first_image)
          t.compression = static_cast<uint32_t>(Load(t, entries, value_field, width));
        break;
      case 266:
        if (first_image) t.lsb_fill_order = Load(t, entries, value_field, width) == 2;
        break;
      case 277:
        if (first_image)
          t.samples_per_pixel = static_cast<uint32_t>(Load(t, entries, value_field, width));
        break;
      case 258:
        if (first_image) {
          auto v = Values(t, type, std::min<uint64_t>(n, 1), value_at);
          if (!v.empty()) t.bits_per_sample = static_cast<uint32_t>(v[0]);
        }
        break;
      case 273:
      case 324:
        strip_offsets = Values(t, type, n, value_at);
        break;
      case 279:
      case 325:
        strip_lengths = Values(t, type, n, value_at);
        break;
      case 513:
        strip_offsets = Values(t, type, n, value_at);
        break;
      case 514:
        strip_lengths = Values(t, type, n, value_at);
        break;
      case 330:
      case 34665:
      case 34853:
      case 40965:
        for (uint64_t v : Values(t, type == 13 ? 4 : type, n, value_at)) children.push_back(v);
        break;
      case 37500:
        t.has_maker_note = true;
        break;
      case 50706:
        t.is_dng = true;
        break;
      default:
        break;
    }
  }
  for (std::size_t i = 0; i < std::min(strip_offsets.size(), strip_lengths.size()); ++i) {
    const uint64_t end = strip_offsets[i] + strip_lengths[i];
    if (end > t.size) {
      // The last strips missing: a truncated file, unless the offset itself is absurd.
      if (strip_offsets[i] > t.size + (uint64_t{1} << 32) ||
          strip_lengths[i] > (uint64_t{1} << 34)) {
        t.error = "TIFF strip " + std::to_string(i) + " of IFD at " + Hex(offset) +
                  " lies beyond the file";
        t.error_at = offset;
        return;
      }
      t.truncated = true;
    }
    t.max_end = std::max(t.max_end, end);
    if (first_image && depth == 0) t.strips.emplace_back(strip_offsets[i], strip_lengths[i]);
  }
  for (uint64_t child : children) {
    if (child != 0 && child < t.size) WalkChain(t, child, depth + 1);
  }
}

// TIFF LZW as real encoders write it: 9- to 12-bit codes, 256 = clear, 257 = end of information.
// Current encoders pack codes MSB-first and widen one code early; the pre-1991 ("old-style")
// libtiff encoder packs them LSB-first and widens on time; FillOrder 2 reverses the bits of every
// byte. Every code must refer to the table built so far (code <= next free entry); ciphertext
// breaks that rule within a few dozen codes in every variant, real strips never.
struct LzwVariant {
  bool msb_first;
  bool early_change;
  bool reverse_bits;
};

uint8_t ReverseBits(uint8_t b) {
  b = static_cast<uint8_t>((b & 0xF0) >> 4 | (b & 0x0F) << 4);
  b = static_cast<uint8_t>((b & 0xCC) >> 2 | (b & 0x33) << 2);
  return static_cast<uint8_t>((b & 0xAA) >> 1 | (b & 0x55) << 1);
}

constexpr int kMaxLzwCodesProbed = 4096;

// Offset of the first impossible code in `b`, or npos when the probed codes are all possible.
std::size_t FirstBadLzwCode(std::string_view b, const LzwVariant& v) {
  uint32_t bit_buffer = 0;
  int bits = 0;
  std::size_t pos = 0;
  int width = 9;
  uint32_t next = 258;
  bool have_previous = false;
  for (int codes = 0; codes < kMaxLzwCodesProbed; ++codes) {
    const std::size_t code_start = pos;
    while (bits < width) {
      if (pos >= b.size()) return std::string_view::npos;  // end of the sample: all good
      uint8_t byte = static_cast<uint8_t>(b[pos++]);
      if (v.reverse_bits) byte = ReverseBits(byte);
      if (v.msb_first) {
        bit_buffer = (bit_buffer << 8) | byte;
      } else {
        bit_buffer |= uint32_t{byte} << bits;
      }
      bits += 8;
    }
    uint32_t code;
    if (v.msb_first) {
      code = (bit_buffer >> (bits - width)) & ((1u << width) - 1);
    } else {
      code = bit_buffer & ((1u << width) - 1);
      bit_buffer >>= width;
    }
    bits -= width;
    if (v.msb_first) bit_buffer &= (1u << bits) - 1;
    if (code == 257) return std::string_view::npos;
    if (code == 256) {
      width = 9;
      next = 258;
      have_previous = false;
      continue;
    }
    if (!have_previous) {
      if (code > 255) return code_start;  // after a clear code only a literal can follow
      have_previous = true;
      continue;
    }
    if (code > next) return code_start;
    if (next < 4096) ++next;
    const uint32_t limit = (1u << width) - (v.early_change ? 1u : 0u);
    if (next >= limit && width < 12) ++width;
  }
  return std::string_view::npos;
}

// Offset of the first impossible code under the variant that decodes furthest; npos when one
// variant decodes the whole sample.
std::size_t LzwDamageOffset(std::string_view b) {
  std::size_t furthest = 0;
  for (bool reverse : {false, true}) {
    for (const LzwVariant v : {LzwVariant{true, true, reverse}, LzwVariant{false, false, reverse},
                               LzwVariant{true, false, reverse}}) {
      const std::size_t bad = FirstBadLzwCode(b, v);
      if (bad == std::string_view::npos) return bad;
      furthest = std::max(furthest, bad);
    }
  }
  return furthest;
}

class TiffValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "tiff"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, std::string_view("II*\0", 4)) ||
           StartsWith(head, std::string_view("MM\0*", 4)) ||
           StartsWith(head, std::string_view("II+\0", 4)) ||
           StartsWith(head, std::string_view("MM\0+", 4));
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "tiff";
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    media::ByteCursor c(reader);
    std::string_view h = c.Bytes(0, 16);
    TiffContext t;
    t.c = &c;
    t.size = size;
    t.big_endian = StartsWith(h, "MM");
    t.big_tiff = Load(t, h, 2, 2) == 43;
    if (h.size() < (t.big_tiff ? 16u : 8u)) return Truncated(report, "TIFF header incomplete");
    if (HasAt(h, 8, "CR")) report.format = "cr2";
    const uint64_t first = t.big_tiff ? Load(t, h, 8, 8) : Load(t, h, 4, 4);
    if (first < 8 || first >= size) {
      if (first >= size && first < size + (uint64_t{1} << 32))
        return Truncated(report, "TIFF first IFD past the end");
      media::MarkDamaged(report, 4, size - 4,
                         "TIFF: first IFD offset " + Hex(first) + " is invalid");
      return report;
    }
    WalkChain(t, first, 0);
    if (!t.error.empty()) {
      media::MarkDamaged(report, t.error_at, size - t.error_at, t.error);
      if (t.error_inverted) report.evidence = DamageEvidence::kTransformed;
      return report;
    }
    if (t.is_dng) report.format = "dng";
    if (t.bits_per_sample % 8 == 0 && t.samples_per_pixel >= 1 && t.samples_per_pixel <= 8) {
      t.bytes_per_pixel = t.bits_per_sample / 8 * t.samples_per_pixel;
    }
    if (t.truncated) return Truncated(report, "TIFF structures point past the end of the file");
    report.high_entropy_body = t.compression != 1;
    if (!CheckStrips(c, t, report)) return report;
    // Maker notes hold private offsets this walk does not follow: then the end is unknown.
    report.structure_end = t.has_maker_note ? 0 : t.max_end;
    report.reasons.push_back("TIFF: " + std::to_string(t.ifds) +
                             " IFDs walked, values and strips inside the file");
    return report;
  }

 private:
  static bool CheckStrips(media::ByteCursor& c, const TiffContext& t, FormatReport& report) {
    if (t.strips.empty()) return true;
    const std::size_t stride = t.bytes_per_pixel != 0 ? t.bytes_per_pixel : 1;
    media::RandomSampleCheck random_pixels(stride);
    std::vector<ByteRange> sampled;  // strip starts added to random_pixels
    std::size_t previous = t.strips.size();
    for (int k = 0; k < kStripsSampled; ++k) {
      const std::size_t i = (t.strips.size() - 1) * k / (kStripsSampled - 1);
      if (i == previous) continue;  // few strips: each sampled once
      previous = i;
      const auto [offset, length] = t.strips[i];
      if (length == 0) continue;
      std::string_view b =
          c.Bytes(offset, static_cast<std::size_t>(std::min<uint64_t>(length, 4 * limits::KiB)));
      std::string problem;
      uint64_t problem_at = offset;
      if (t.compression == 1) {
        random_pixels.Add(offset, b, t.strips.size() == 1 && b.size() == length);
        sampled.push_back({offset, b.size()});
      } else if (t.compression == 5) {
        const std::size_t bad = LzwDamageOffset(b);
        if (bad != std::string_view::npos) {
          problem = "LZW code at " + Hex(offset + bad) + " refers to no table entry";
          problem_at = offset + bad;
        }
      } else if (t.compression == 7 && b.size() >= 2 && !StartsWith(b, "\xFF\xD8")) {
        problem = "JPEG strip does not start with SOI";
      } else if ((t.compression == 8 || t.compression == 32946) && b.size() >= 2) {
        z_stream zs{};
        if (inflateInit(&zs) == Z_OK) {
          std::string out(limits::kMaxPartDecoded, '\0');
          zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(b.data()));
          zs.avail_in = static_cast<uInt>(b.size());
          zs.next_out = reinterpret_cast<Bytef*>(out.data());
          zs.avail_out = static_cast<uInt>(out.size());
          const int rc = inflate(&zs, Z_NO_FLUSH);
          if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT) problem = "Deflate strip does not inflate";
          inflateEnd(&zs);
        }
      }
      if (!problem.empty()) {
        media::MarkDamaged(
            report, problem_at, t.size - problem_at,
            "TIFF strip " + std::to_string(i) + " at " + Hex(offset) + ": " + problem);
        return false;
      }
    }
    if (t.compression == 1) AddSampledBlocks(c, t, stride, sampled, random_pixels);
    if (random_pixels.Found()) {
      media::MarkRandom(report, random_pixels.offset(), t.size - random_pixels.offset(),
                        "TIFF uncompressed strips: " + random_pixels.description());
      return false;
    }
    return true;
  }

  // The blocks the analyzer samples anyway (cached) that lie inside the uncompressed image data
  // (strips merged where they follow each other), so that the pixel test sees every part of the
  // image the default scan reads, not only strip starts. Blocks overlapping `sampled` (bytes
  // already added) are skipped: repeated bytes would fake structure.
  static void AddSampledBlocks(media::ByteCursor& c, const TiffContext& t, std::size_t stride,
                               const std::vector<ByteRange>& sampled,
                               media::RandomSampleCheck& check) {
    std::vector<std::pair<uint64_t, uint64_t>> strips(t.strips.begin(), t.strips.end());
    std::sort(strips.begin(), strips.end());
    std::vector<ByteRange> image;
    for (const auto& [offset, length] : strips) {
      if (!image.empty() && image.back().end() == offset) {
        image.back().length += length;
      } else {
        image.push_back({offset, length});
      }
    }
    if (image.empty()) return;
    for (uint64_t sample : SampledBlockOffsets(t.size, image.front().offset, image.back().end(),
                                               limits::kSampleBlockBytes)) {
      auto next = std::upper_bound(image.begin(), image.end(), sample,
                                   [](uint64_t o, const ByteRange& e) { return o < e.offset; });
      if (next == image.begin()) continue;
      const ByteRange& region = *std::prev(next);
      const uint64_t at = region.offset + (sample - region.offset) / stride * stride;
      const ByteRange block{at, limits::kSampleBlockBytes};
      if (block.end() > region.end()) continue;
      if (std::any_of(sampled.begin(), sampled.end(), [&](const ByteRange& s) {
            return s.offset < block.end() && block.offset < s.end();
          })) {
        continue;
      }
      check.Add(at, c.Bytes(at, block.length), false);
    }
  }

  static FormatReport Truncated(FormatReport& report, std::string reason) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back(std::move(reason));
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeTiffValidator() {
  return std::make_unique<TiffValidator>();
}

}  // namespace steen::content
