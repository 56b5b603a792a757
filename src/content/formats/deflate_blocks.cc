#include "content/formats/deflate_blocks.h"

#include <algorithm>

namespace steen::content::archive {
namespace {

// The order in which a dynamic header lists the code-length code's lengths (RFC 1951 3.2.7).
constexpr uint8_t kCodeLengthOrder[19] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                          11, 4,  12, 3, 13, 2, 14, 1, 15};

struct CodeEntry {
  uint8_t symbol = 0;
  uint8_t length = 0;
};

// Lengths of one canonical code, added up as they are decoded: zlib refuses an over-subscribed
// code, and an incomplete one unless it is a single one-bit code (or, for distances, empty).
struct KraftSum {
  uint32_t sum = 0;  // in units of 2^-15
  unsigned count = 0;
  unsigned longest = 0;

  bool Add(unsigned length) {
    sum += 1u << (15 - length);
    ++count;
    longest = std::max(longest, length);
    return sum <= (1u << 15);
  }
  bool Accepted(bool empty_ok) const {
    return sum == (1u << 15) || (count == 1 && longest == 1) || (empty_ok && count == 0);
  }
};

unsigned Reverse(unsigned code, unsigned length) {
  unsigned out = 0;
  for (unsigned i = 0; i < length; ++i) out |= ((code >> i) & 1u) << (length - 1 - i);
  return out;
}

}  // namespace

bool DeflateHeaderScanner::DynamicCodesValid(uint64_t bit, uint64_t head) const {
  const unsigned literal_codes = ((head >> 3) & 31) + 257;
  const unsigned distance_codes = ((head >> 8) & 31) + 1;
  const unsigned length_codes = ((head >> 13) & 15) + 4;
  uint64_t pos = bit + 17;
  const uint64_t packed = Peek(pos) & ((uint64_t{1} << (3 * length_codes)) - 1);
  uint8_t lengths[19] = {};
  for (unsigned i = 0; i < length_codes; ++i) {
    lengths[kCodeLengthOrder[i]] = static_cast<uint8_t>((packed >> (3 * i)) & 7);
  }
  pos += 3 * uint64_t{length_codes};

  // Its decoding table, indexed by the next 7 stream bits.
  unsigned per_length[8] = {};
  for (uint8_t length : lengths) ++per_length[length];
  per_length[0] = 0;
  unsigned next_code[8] = {};
  for (unsigned length = 1, code = 0; length < 8; ++length) {
    code = (code + per_length[length - 1]) << 1;
    next_code[length] = code;
  }
  CodeEntry table[128];
  for (unsigned symbol = 0; symbol < 19; ++symbol) {
    const unsigned length = lengths[symbol];
    if (length == 0) continue;
    for (unsigned index = Reverse(next_code[length]++, length); index < 128;
         index += 1u << length) {
      table[index] = {static_cast<uint8_t>(symbol), static_cast<uint8_t>(length)};
    }
  }

  // The literal/length and distance code lengths, one sequence (repeats may cross between them).
  const unsigned total_codes = literal_codes + distance_codes;
  KraftSum literals;
  KraftSum distances;
  bool end_of_block = false;
  unsigned previous = 0;
  for (unsigned i = 0; i < total_codes;) {
    uint64_t bits = Peek(pos);
    const CodeEntry entry = table[bits & 127];
    pos += entry.length;
    bits >>= entry.length;
    unsigned length = 0;
    unsigned repeat = 1;
    if (entry.symbol < 16) {
      length = entry.symbol;
    } else if (entry.symbol == 16) {
      if (i == 0) return false;
      length = previous;
      repeat = 3 + (bits & 3);
      pos += 2;
    } else if (entry.symbol == 17) {
      repeat = 3 + (bits & 7);
      pos += 3;
    } else {
      repeat = 11 + (bits & 127);
      pos += 7;
    }
    if (pos > total_bits_ || i + repeat > total_codes) return false;
    if (length != 0) {
      for (unsigned k = i; k < i + repeat; ++k) {
        if (k < literal_codes) {
          if (!literals.Add(length)) return false;
          end_of_block = end_of_block || k == 256;
        } else if (!distances.Add(length)) {
          return false;
        }
      }
    }
    i += repeat;
    previous = length;
  }
  return end_of_block && literals.Accepted(false) && distances.Accepted(true);
}

}  // namespace steen::content::archive
