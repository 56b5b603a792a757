// Block statistics: the numbers that tell ciphertext from compressed data, media and text.
//
// Entropy alone cannot: JPEG, xz and ZIP payloads are as high-entropy as ciphertext. Ciphertext is
// *uniform*: its byte histogram passes a chi-square test against the uniform distribution (p spread
// over (0, 1)), while compressed streams are measurably skewed (Huffman tables, stuffing bytes,
// headers), so at 4 KiB or more their chi-square statistic is far above 255 degrees of freedom.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steen::content {

struct BlockStats {
  uint64_t length = 0;
  double entropy = 0;     // Shannon entropy, bits per byte (0..8)
  double chi_square = 0;  // against uniform bytes, 255 degrees of freedom
  double chi_p = 0;       // upper-tail p-value of chi_square
  double printable = 0;   // share of bytes that are printable ASCII, tab, CR or LF
  double high_bytes = 0;  // share of bytes >= 0x80
  int distinct = 0;       // number of distinct byte values
};

using ByteHistogram = std::array<uint64_t, 256>;

// Fast histogram (several interleaved counters; runs at memory speed).
void AccumulateHistogram(std::string_view bytes, ByteHistogram& histogram);
BlockStats StatsFromHistogram(const ByteHistogram& histogram);
BlockStats ComputeBlockStats(std::string_view bytes);
// Bytes >= 0x80 in `bytes`, eight at a time (no histogram).
std::size_t CountHighBytes(std::string_view bytes);

// Upper-tail p-value of a chi-square statistic with 255 degrees of freedom.
double ChiSquarePValue255(double chi_square);
// A chi-square statistic (255 degrees of freedom) above this has a p-value below
// LooksLikeCiphertext's 1e-4 (checked by a unit test).
inline constexpr double kChiSquareNeverUniform = 400.0;
// True when the share of bytes >= 0x80 alone proves that `bytes` (1 KiB or more) fails
// LooksLikeCiphertext: a lower bound of the chi-square statistic from one pass, no histogram.
bool HalvesRuleOutUniform(std::string_view bytes);

// True when a block of at least limits::kStatsBlockBytes looks like ciphertext: near-maximal
// entropy and a byte histogram consistent with uniform (chi-square p not vanishingly small).
bool LooksLikeCiphertext(const BlockStats& stats);

// For short spans (32 bytes .. a few KiB) where a histogram test has no power: true when the
// number of distinct byte values is what uniform random bytes would give.
bool ShortSpanLooksRandom(std::string_view bytes);

// True when consecutive bytes look unrelated: the differences b[i+1] - b[i] over the first 1 KiB
// take as many distinct values as random bytes would. A smooth gradient has a uniform byte
// histogram (it passes chi-square) but only a few distinct differences.
bool DeltasLookRandom(std::string_view bytes);

// The complete test for a span of any length (>= 32 bytes): a uniform histogram (chi-square for
// 1 KiB or more, distinct count below) and unrelated neighbouring bytes.
bool LooksRandom(std::string_view bytes);
bool LooksRandom(std::string_view bytes, const BlockStats& stats);

// Intermittent encryption at a fine stride (LockFile's 16 of every 32 bytes, Black Basta's 64 of
// 192) leaves no random 4 KiB block, and only a share of random cells, which the compressed parts
// of real files give too. What real files do not give is random cells at a fixed period.
inline constexpr std::size_t kCellBytes = 16;
// A 16-byte cell of ciphertext has (almost) no repeated byte and is not mostly printable.
bool CellLooksRandom(std::string_view cell);

struct PeriodicRandomCells {
  uint64_t offset = 0;     // of the first random run, within the region
  std::size_t period = 0;  // bytes from one random run to the next
  std::size_t runs = 0;    // random runs that repeat at that period
};
// Runs of random cells in `region` that start at one fixed period (at least 32 bytes, the same
// for most runs, at least 16 of them, with non-random cells between), whose bytes together pass
// LooksRandom. Tried at two cell phases, for chunks that do not start on a 16-byte boundary.
std::optional<PeriodicRandomCells> FindPeriodicRandomCells(std::string_view region);

}  // namespace steen::content
