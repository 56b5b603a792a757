// Deflate (RFC 1951) block headers at arbitrary bit offsets. A deflate stream cannot be decoded
// from its middle, but it can from the start of any of its blocks: finding one near the end of a
// large gzip file lets its end be checked without inflating everything before it (gzip.cc).
// Written here rather than taken from zlib, which decodes a header only as part of a stream and
// would cost an inflate set-up per bit position; zlib still confirms every start found (gzip.cc).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace steen::content::archive {

// Finds where deflate blocks may start in a span of bytes. HeaderAt(bit) is true when a block
// header that zlib would accept starts at bit `bit` (bits counted from the least significant bit
// of byte 0, as deflate packs them):
// - a dynamic-Huffman header whose code-length code is complete and whose literal/length and
//   distance code lengths decode with it into codes zlib accepts (complete, or a single code of
//   one bit; the end-of-block symbol present): about one random bit position in 10^5;
// - a stored block whose LEN and NLEN (at the next byte boundary) are one's complements.
// Fixed-Huffman blocks have no header to check: never reported (they are reached by decoding
// through the block before them). Called for every bit of up to limits::kMaxGzipEndSearch bytes,
// so the common rejections are inline and cost a few instructions.
class DeflateHeaderScanner {
 public:
  explicit DeflateHeaderScanner(std::string_view bytes)
      : bytes_(bytes), total_bits_(uint64_t{bytes.size()} * 8) {}

  bool HeaderAt(uint64_t bit) const { return ((HeadersInByte(bit / 8) >> (bit % 8)) & 1) != 0; }

  // Bit k set when a header starts at bit k of byte `byte`: the eight positions are screened
  // together, without a branch per position (a branch on random bits mispredicts half the time).
  uint8_t HeadersInByte(uint64_t byte) const {
    const uint64_t w = Peek(byte * 8);
    // Bit k: BTYPE (bits k+1, k+2) is 10 (dynamic) or 00 (stored).
    uint64_t dynamic = ~(w >> 1) & (w >> 2);
    // HLIT and HDIST of 30 or 31 (their top four bits set) are refused by zlib.
    dynamic &= ~((w >> 4) & (w >> 5) & (w >> 6) & (w >> 7));
    dynamic &= ~((w >> 9) & (w >> 10) & (w >> 11) & (w >> 12));
    uint64_t stored = ~(w >> 1) & ~(w >> 2);
    // A stored header at bit k aligns LEN at byte+1 (k <= 5) or byte+2 (k = 6, 7).
    stored &= (LengthsAgree(byte + 1) ? 0x3Fu : 0u) | (LengthsAgree(byte + 2) ? 0xC0u : 0u);
    auto found = static_cast<uint8_t>(stored);
    for (uint64_t bits = dynamic & 0xFF; bits != 0; bits &= bits - 1) {
      const auto k = static_cast<unsigned>(std::countr_zero(bits));
      const uint64_t bit = byte * 8 + k;
      if (CodeLengthCodeComplete(bit, w >> k) && DynamicCodesValid(bit, w >> k)) {
        found |= static_cast<uint8_t>(1u << k);
      }
    }
    return found;
  }

  // At least 57 bits from `bit`, least significant first; bits past the end read as zero.
  uint64_t Peek(uint64_t bit) const {
    const uint64_t byte = bit >> 3;
    uint64_t word = 0;
    if (byte + 8 <= bytes_.size()) {
      std::memcpy(&word, bytes_.data() + byte, 8);
      if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    } else {
      for (uint64_t i = 0; byte + i < bytes_.size(); ++i) {
        word |= uint64_t{static_cast<unsigned char>(bytes_[byte + i])} << (8 * i);
      }
    }
    return word >> (bit & 7);
  }

 private:
  // A stored block's LEN and NLEN at `byte` are one's complements.
  bool LengthsAgree(uint64_t byte) const {
    if (byte + 4 > bytes_.size()) return false;
    const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + byte);
    return (p[0] ^ p[2]) == 0xFF && (p[1] ^ p[3]) == 0xFF;
  }
  // Kraft sums (in units of 2^-7) of four packed 3-bit code lengths: the code-length code's
  // completeness takes five lookups instead of a loop over up to 19 lengths.
  static constexpr std::array<uint16_t, 4096> kKraftOfFour = [] {
    std::array<uint16_t, 4096> table{};
    for (unsigned packed = 0; packed < 4096; ++packed) {
      unsigned sum = 0;
      for (unsigned i = 0; i < 4; ++i) {
        const unsigned length = (packed >> (3 * i)) & 7;
        if (length != 0) sum += 128u >> length;
      }
      table[packed] = static_cast<uint16_t>(sum);
    }
    return table;
  }();

  // The dynamic header at `bit` (its first 17 bits in `head`): its code-length code is complete,
  // as zlib requires (about one random position in 40 passes).
  bool CodeLengthCodeComplete(uint64_t bit, uint64_t head) const {
    const unsigned length_codes = ((head >> 13) & 15) + 4;
    if (bit + 17 + 3 * uint64_t{length_codes} > total_bits_) return false;
    const uint64_t packed = Peek(bit + 17) & ((uint64_t{1} << (3 * length_codes)) - 1);
    return kKraftOfFour[packed & 4095] + kKraftOfFour[(packed >> 12) & 4095] +
               kKraftOfFour[(packed >> 24) & 4095] + kKraftOfFour[(packed >> 36) & 4095] +
               kKraftOfFour[(packed >> 48) & 4095] ==
           128;
  }
  // The rest of a dynamic header whose code-length code is complete: the literal/length and
  // distance code lengths it encodes.
  bool DynamicCodesValid(uint64_t bit, uint64_t head) const;

  std::string_view bytes_;
  uint64_t total_bits_;
};

}  // namespace steen::content::archive
