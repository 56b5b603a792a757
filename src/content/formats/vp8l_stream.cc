// VP8L parse (the WebP lossless bitstream, RFC 9649 section 3 onward): transforms with their
// sub-images, the color cache, prefix codes (simple or code-length coded, complete), the meta
// prefix image and every symbol of the picture. Sub-images are decoded to their pixel values
// (the meta image's values choose each block's codes); the picture itself only to positions.
#include "content/formats/vp8l_stream.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

namespace steen::content::media {
namespace {

// What the parse may hold: real encoders (libwebp) write at most 2,600 prefix code groups, and a
// meta image of at most 2,600 pixels (the only sub-image whose values are kept).
constexpr uint32_t kMaxGroups = 4096;
constexpr uint64_t kMaxMetaPixels = 1 << 20;
constexpr int kMaxCodeLength = 15;
constexpr uint32_t kLiteralCodes = 256;
constexpr uint32_t kLengthCodes = 24;
constexpr uint32_t kDistanceCodes = 40;
constexpr int kMaxCacheBits = 11;
constexpr int kFastBits = 8;
// The encoder pads the stream's last byte with zero bits (older libwebp alpha planes: and up to
// 4 zero bytes more).
constexpr uint64_t kMaxPaddingBits = 39;

// Distance codes 1-120 name a nearby pixel: (dy << 4) | (8 - dx) (RFC 9649 section 4.2.2).
constexpr std::array<uint8_t, 120> kDistanceMap = {
    0x18, 0x07, 0x17, 0x19, 0x28, 0x06, 0x27, 0x29, 0x16, 0x1a, 0x26, 0x2a, 0x38, 0x05, 0x37,
    0x39, 0x15, 0x1b, 0x36, 0x3a, 0x25, 0x2b, 0x48, 0x04, 0x47, 0x49, 0x14, 0x1c, 0x35, 0x3b,
    0x46, 0x4a, 0x24, 0x2c, 0x58, 0x45, 0x4b, 0x34, 0x3c, 0x03, 0x57, 0x59, 0x13, 0x1d, 0x56,
    0x5a, 0x23, 0x2d, 0x44, 0x4c, 0x55, 0x5b, 0x33, 0x3d, 0x68, 0x02, 0x67, 0x69, 0x12, 0x1e,
    0x66, 0x6a, 0x22, 0x2e, 0x54, 0x5c, 0x43, 0x4d, 0x65, 0x6b, 0x32, 0x3e, 0x78, 0x01, 0x77,
    0x79, 0x53, 0x5d, 0x11, 0x1f, 0x64, 0x6c, 0x42, 0x4e, 0x76, 0x7a, 0x21, 0x2f, 0x75, 0x7b,
    0x31, 0x3f, 0x63, 0x6d, 0x52, 0x5e, 0x00, 0x74, 0x7c, 0x41, 0x4f, 0x10, 0x20, 0x62, 0x6e,
    0x30, 0x73, 0x7d, 0x51, 0x5f, 0x40, 0x72, 0x7e, 0x61, 0x6f, 0x50, 0x71, 0x7f, 0x60, 0x70};
constexpr std::array<uint8_t, 19> kCodeLengthOrder = {17, 18, 0, 1,  2,  3,  4,  5,  16, 6,
                                                      7,  8,  9, 10, 11, 12, 13, 14, 15};

// Bits least significant first; past the end they read as zeros and are counted.
class BitReader {
 public:
  explicit BitReader(std::string_view bytes)
      : data_(reinterpret_cast<const uint8_t*>(bytes.data())), size_(bytes.size()) {}
  uint32_t Peek() const {  // the next 32 bits
    const uint64_t byte = pos_ >> 3;
    uint64_t word = 0;
    if (byte + 8 <= size_) {
      std::memcpy(&word, data_ + byte, 8);  // little-endian hosts only (x86-64, arm64)
    } else {
      for (uint64_t i = 0; i < 8 && byte + i < size_; ++i) {
        word |= uint64_t{data_[byte + i]} << (8 * i);
      }
    }
    return static_cast<uint32_t>(word >> (pos_ & 7));
  }
  uint32_t Read(int n) {  // n <= 24
    const uint32_t v = n == 0 ? 0 : Peek() & ((1u << n) - 1);
    pos_ += static_cast<uint64_t>(n);
    return v;
  }
  void Skip(int n) { pos_ += static_cast<uint64_t>(n); }
  uint64_t position() const { return pos_; }
  uint64_t size_bits() const { return uint64_t{size_} * 8; }
  bool PastEnd() const { return pos_ > size_bits(); }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

// A canonical prefix code: the first code bit read is the code's most significant.
class PrefixCode {
 public:
  // False when the lengths make no complete code (or none at all); one symbol alone is a code
  // of no bits.
  bool Build(const std::vector<uint8_t>& lengths) {
    counts_.fill(0);
    symbols_.clear();
    fast_.fill(0);
    uint32_t used = 0;
    for (uint8_t l : lengths) {
      if (l > 0) {
        ++counts_[l];
        ++used;
      }
    }
    if (used == 0) return false;
    if (used == 1) {
      single_ = true;
      single_symbol_ = static_cast<uint16_t>(
          std::find_if(lengths.begin(), lengths.end(), [](uint8_t l) { return l > 0; }) -
          lengths.begin());
      return true;
    }
    single_ = false;
    int64_t left = 1;  // Kraft: codes still free at each length
    for (int len = 1; len <= kMaxCodeLength; ++len) {
      left = left * 2 - counts_[static_cast<std::size_t>(len)];
      if (left < 0) return false;  // over-subscribed
    }
    if (left != 0) return false;  // incomplete
    std::array<uint16_t, kMaxCodeLength + 2> offsets{};
    for (int len = 1; len <= kMaxCodeLength; ++len) {
      offsets[static_cast<std::size_t>(len) + 1] = static_cast<uint16_t>(
          offsets[static_cast<std::size_t>(len)] + counts_[static_cast<std::size_t>(len)]);
    }
    symbols_.resize(used);
    for (std::size_t s = 0; s < lengths.size(); ++s) {
      if (lengths[s] != 0) symbols_[offsets[lengths[s]]++] = static_cast<uint16_t>(s);
    }
    // Codes of up to kFastBits bits, looked up by the next bits (reversed: read LSB first).
    uint32_t code = 0;
    std::size_t index = 0;
    for (int len = 1; len <= kFastBits; ++len) {
      for (uint32_t n = 0; n < counts_[static_cast<std::size_t>(len)]; ++n, ++code, ++index) {
        uint32_t reversed = 0;
        for (int b = 0; b < len; ++b) reversed |= ((code >> b) & 1u) << (len - 1 - b);
        for (uint32_t fill = reversed; fill < (1u << kFastBits); fill += 1u << len) {
          fast_[fill] = (uint32_t{symbols_[index]} << 8) | static_cast<uint32_t>(len);
        }
      }
      code <<= 1;
    }
    return true;
  }

  uint32_t Read(BitReader& br) const {
    if (single_) return single_symbol_;
    const uint32_t bits = br.Peek();
    const uint32_t fast = fast_[bits & ((1u << kFastBits) - 1)];
    if (fast != 0) {
      br.Skip(static_cast<int>(fast & 0xff));
      return fast >> 8;
    }
    // Longer codes, one bit at a time (RFC 1951's canonical decode).
    int32_t code = 0;
    int32_t first = 0;
    int32_t index = 0;
    for (int len = 1; len <= kMaxCodeLength; ++len) {
      code |= static_cast<int32_t>((bits >> (len - 1)) & 1u);
      const auto count = static_cast<int32_t>(counts_[static_cast<std::size_t>(len)]);
      if (code - count < first) {
        br.Skip(len);
        return symbols_[static_cast<std::size_t>(index + (code - first))];
      }
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    return 0;  // not reached: the code is complete
  }

 private:
  bool single_ = false;
  uint16_t single_symbol_ = 0;
  std::array<uint32_t, kMaxCodeLength + 1> counts_{};
  std::vector<uint16_t> symbols_;
  std::array<uint32_t, 1u << kFastBits> fast_{};
};

struct Group {
  std::array<PrefixCode, 5> codes;  // green + lengths + cache, red, blue, alpha, distance
};

uint32_t DivRoundUp(uint32_t v, int bits) { return (v + (1u << bits) - 1) >> bits; }

// A length or distance prefix symbol's value (RFC 9649 section 4.2.2).
uint32_t PrefixValue(uint32_t symbol, BitReader& br) {
  if (symbol < 4) return symbol + 1;
  const int extra = static_cast<int>((symbol - 2) >> 1);  // at most 18: symbols are below 40
  const uint32_t offset = (2 + (symbol & 1)) << extra;
  return offset + br.Read(extra) + 1;
}

class Parser {
 public:
  Parser(std::string_view bytes, uint64_t max_symbols) : br_(bytes), max_symbols_(max_symbols) {}

  BitReader& bits() { return br_; }
  bool out_of_work() const { return out_of_work_; }

  // One image stream: a picture's (level 0: transforms and meta codes allowed), or a sub-image
  // (values kept in `pixels`).
  // False where the stream breaks (out_of_work() tells the work limit apart).
  bool ImageStream(uint32_t xsize, uint32_t ysize, bool picture, std::vector<uint32_t>* pixels) {
    uint32_t width = xsize;
    if (picture) {
      unsigned seen = 0;
      while (br_.Read(1) != 0) {
        const uint32_t type = br_.Read(2);
        if ((seen & (1u << type)) != 0) return false;  // each transform at most once
        seen |= 1u << type;
        // Sub-images parsed, their values unused: nothing to keep.
        if (type == 0 || type == 1) {  // predictor, cross-color: a sub-image of block modes
          const int bits = static_cast<int>(br_.Read(3)) + 2;
          if (!ImageStream(DivRoundUp(width, bits), DivRoundUp(ysize, bits), false, nullptr)) {
            return false;
          }
        } else if (type == 3) {  // color indexing: a palette, then pixels packed
          const uint32_t colors = br_.Read(8) + 1;
          if (!ImageStream(colors, 1, false, nullptr)) return false;
          const int pack = colors > 16 ? 0 : colors > 4 ? 1 : colors > 2 ? 2 : 3;
          width = DivRoundUp(width, pack);
        }
        if (br_.PastEnd()) return false;
      }
    }
    int cache_bits = 0;
    if (br_.Read(1) != 0) {
      cache_bits = static_cast<int>(br_.Read(4));
      if (cache_bits < 1 || cache_bits > kMaxCacheBits) return false;
    }
    int meta_bits = 0;
    uint32_t meta_width = 0;
    std::vector<uint32_t> meta;
    uint32_t groups = 1;
    if (picture && br_.Read(1) != 0) {
      meta_bits = static_cast<int>(br_.Read(3)) + 2;
      meta_width = DivRoundUp(width, meta_bits);
      const uint32_t meta_height = DivRoundUp(ysize, meta_bits);
      if (uint64_t{meta_width} * meta_height > kMaxMetaPixels) {
        out_of_work_ = true;
        return false;
      }
      if (!ImageStream(meta_width, meta_height, false, &meta)) return false;
      for (uint32_t& p : meta) {
        p = (p >> 8) & 0xffff;
        groups = std::max(groups, p + 1);
      }
      if (groups > kMaxGroups) {
        out_of_work_ = true;
        return false;
      }
    }
    const uint32_t cache_size = cache_bits > 0 ? 1u << cache_bits : 0;
    std::vector<Group> codes(groups);
    const std::array<uint32_t, 5> alphabets = {kLiteralCodes + kLengthCodes + cache_size, 256, 256,
                                               256, kDistanceCodes};
    for (Group& g : codes) {
      for (std::size_t i = 0; i < 5; ++i) {
        if (!ReadCode(alphabets[i], g.codes[i])) return false;
      }
    }
    return Pixels(width, ysize, codes, meta, meta_bits, meta_width, cache_bits, pixels);
  }

 private:
  bool ReadCode(uint32_t alphabet, PrefixCode& code) {
    std::vector<uint8_t> lengths(alphabet, 0);
    if (br_.Read(1) != 0) {  // simple: one or two symbols
      const uint32_t count = br_.Read(1) + 1;
      const uint32_t first = br_.Read(br_.Read(1) != 0 ? 8 : 1);
      if (first >= alphabet) return false;
      lengths[first] = 1;
      if (count == 2) {
        const uint32_t second = br_.Read(8);
        if (second >= alphabet) return false;
        lengths[second] = 1;
      }
    } else {
      std::vector<uint8_t> code_lengths(19, 0);
      const uint32_t count = br_.Read(4) + 4;
      for (uint32_t i = 0; i < count; ++i) code_lengths[kCodeLengthOrder[i]] = br_.Read(3);
      PrefixCode length_code;
      if (!length_code.Build(code_lengths)) return false;
      uint32_t max_symbol = alphabet;
      if (br_.Read(1) != 0) {
        const int nbits = 2 + 2 * static_cast<int>(br_.Read(3));
        max_symbol = 2 + br_.Read(nbits);
        if (max_symbol > alphabet) return false;
      }
      uint8_t previous = 8;
      for (uint32_t symbol = 0; symbol < alphabet && max_symbol-- > 0;) {
        const uint32_t c = length_code.Read(br_);
        if (c < 16) {
          lengths[symbol++] = static_cast<uint8_t>(c);
          if (c != 0) previous = static_cast<uint8_t>(c);
          continue;
        }
        const uint32_t repeat = c == 16   ? br_.Read(2) + 3
                                : c == 17 ? br_.Read(3) + 3
                                          : br_.Read(7) + 11;
        if (symbol + repeat > alphabet) return false;
        std::fill_n(lengths.begin() + symbol, repeat, c == 16 ? previous : uint8_t{0});
        symbol += repeat;
      }
    }
    return !br_.PastEnd() && code.Build(lengths);
  }

  bool Pixels(uint32_t width, uint32_t height, const std::vector<Group>& codes,
              const std::vector<uint32_t>& meta, int meta_bits, uint32_t meta_width, int cache_bits,
              std::vector<uint32_t>* values) {
    const uint64_t total = uint64_t{width} * height;
    if (values != nullptr) values->assign(static_cast<std::size_t>(total), 0);
    std::vector<uint32_t> cache(cache_bits > 0 && values != nullptr ? 1u << cache_bits : 0);
    const auto cache_insert = [&](uint32_t argb) {
      if (!cache.empty()) cache[(0x1e35a7bdu * argb) >> (32 - cache_bits)] = argb;
    };
    uint64_t pos = 0;
    uint32_t col = 0;
    uint32_t row = 0;
    while (pos < total) {
      if (++symbols_ > max_symbols_) {
        out_of_work_ = true;
        return false;
      }
      const Group& g = meta_bits == 0
                           ? codes[0]
                           : codes[meta[static_cast<std::size_t>(row >> meta_bits) * meta_width +
                                        (col >> meta_bits)]];
      const uint32_t green = g.codes[0].Read(br_);
      uint64_t advance = 1;
      if (green < kLiteralCodes) {
        const uint32_t red = g.codes[1].Read(br_);
        const uint32_t blue = g.codes[2].Read(br_);
        const uint32_t alpha = g.codes[3].Read(br_);
        if (values != nullptr) {
          const uint32_t argb = alpha << 24 | red << 16 | green << 8 | blue;
          (*values)[static_cast<std::size_t>(pos)] = argb;
          cache_insert(argb);
        }
      } else if (green < kLiteralCodes + kLengthCodes) {
        const uint32_t length = PrefixValue(green - kLiteralCodes, br_);
        const uint32_t code = PrefixValue(g.codes[4].Read(br_), br_);
        uint64_t distance = 0;
        if (code > kDistanceMap.size()) {
          distance = code - kDistanceMap.size();
        } else {
          const uint32_t near = kDistanceMap[code - 1];
          const int64_t d = int64_t{near >> 4} * width + 8 - int64_t{near & 0xf};
          distance = d >= 1 ? static_cast<uint64_t>(d) : 1;
        }
        if (distance > pos || length > total - pos) return false;  // outside the picture
        if (values != nullptr) {
          for (uint64_t i = 0; i < length; ++i) {
            const uint32_t argb = (*values)[static_cast<std::size_t>(pos + i - distance)];
            (*values)[static_cast<std::size_t>(pos + i)] = argb;
            cache_insert(argb);
          }
        }
        advance = length;
      } else {
        const uint32_t key = green - kLiteralCodes - kLengthCodes;
        if (values != nullptr) {
          if (key >= cache.size()) return false;
          const uint32_t argb = cache[key];
          (*values)[static_cast<std::size_t>(pos)] = argb;
          cache_insert(argb);
        }
      }
      if (br_.PastEnd()) return false;
      pos += advance;
      col += static_cast<uint32_t>(advance % width);
      row += static_cast<uint32_t>(advance / width);
      if (col >= width) {
        col -= width;
        ++row;
      }
    }
    return true;
  }

  BitReader br_;
  uint64_t max_symbols_;
  uint64_t symbols_ = 0;
  bool out_of_work_ = false;
};

// Parses one picture's image stream of xsize x ysize from the reader's position to its end.
Vp8lStreamCheck ParseStream(std::string_view bytes, uint64_t start_bits, uint32_t xsize,
                            uint32_t ysize, uint64_t max_symbols) {
  Vp8lStreamCheck check;
  Parser parser(bytes, max_symbols);
  BitReader& br = parser.bits();
  br.Skip(static_cast<int>(start_bits));
  if (!parser.ImageStream(xsize, ysize, true, nullptr)) {
    if (parser.out_of_work()) {
      check.detail = "VP8L stream not parsed to its end (work limit)";
      return check;
    }
    check.result = Vp8lStreamCheck::Result::kBroken;
    check.offset = std::min<uint64_t>(br.position() / 8, bytes.size());
    check.detail = br.PastEnd() ? "VP8L stream runs past its end"
                                : "VP8L stream invalid near byte " + std::to_string(check.offset);
    return check;
  }
  const uint64_t unread = br.size_bits() - br.position();
  bool zeros = unread <= kMaxPaddingBits;
  for (uint64_t left = unread; zeros && left > 0;) {
    const int n = static_cast<int>(std::min<uint64_t>(left, 24));
    zeros = br.Read(n) == 0;
    left -= static_cast<uint64_t>(n);
  }
  if (!zeros) {
    check.result = Vp8lStreamCheck::Result::kBroken;
    check.offset = br.position() / 8;
    check.detail = "VP8L picture ends " + std::to_string(unread / 8) +
                   " bytes before its stream's end, on bits that are no padding";
    return check;
  }
  check.result = Vp8lStreamCheck::Result::kConsistent;
  check.detail =
      "VP8L " + std::to_string(xsize) + "x" + std::to_string(ysize) + " stream decodes to its end";
  return check;
}

}  // namespace

Vp8lStreamCheck CheckVp8lImage(std::string_view chunk, uint64_t max_symbols) {
  Vp8lStreamCheck check;
  if (chunk.size() < 5 || static_cast<uint8_t>(chunk[0]) != 0x2f) {
    check.result = Vp8lStreamCheck::Result::kBroken;
    check.detail = "VP8L signature missing";
    return check;
  }
  uint32_t header = 0;
  std::memcpy(&header, chunk.data() + 1, 4);
  const uint32_t width = (header & 0x3fff) + 1;
  const uint32_t height = ((header >> 14) & 0x3fff) + 1;
  if ((header >> 29) != 0) {
    check.result = Vp8lStreamCheck::Result::kBroken;
    check.detail = "VP8L version " + std::to_string(header >> 29);
    return check;
  }
  return ParseStream(chunk, uint64_t{5} * 8, width, height, max_symbols);
}

Vp8lStreamCheck CheckAlphaChunk(std::string_view chunk, uint32_t width, uint32_t height,
                                uint64_t max_symbols) {
  Vp8lStreamCheck check;
  if (chunk.empty()) {
    check.result = Vp8lStreamCheck::Result::kBroken;
    check.detail = "ALPH chunk empty";
    return check;
  }
  const auto header = static_cast<uint8_t>(chunk[0]);
  const unsigned method = header & 3;
  const unsigned preprocessing = (header >> 4) & 3;
  if (method > 1 || preprocessing > 1 || (header >> 6) != 0) {
    check.result = Vp8lStreamCheck::Result::kBroken;
    check.detail = "ALPH header byte " + std::to_string(header) + " is not a valid one";
    return check;
  }
  if (method == 0) {
    const bool enough = chunk.size() - 1 >= uint64_t{width} * height;
    check.result = enough ? Vp8lStreamCheck::Result::kConsistent : Vp8lStreamCheck::Result::kBroken;
    check.detail =
        enough ? "ALPH uncompressed" : "ALPH uncompressed plane shorter than the picture";
    return check;
  }
  return ParseStream(chunk.substr(1), 0, width, height, max_symbols);
}

}  // namespace steen::content::media
