#include "content/block_stats.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "content/bytes.h"

namespace steen::content {

namespace {

// Counts one slice into four interleaved tables (breaking the store-to-load dependency when
// neighbouring bytes are equal) of Counter, which must not overflow: each table receives at most
// a quarter of the slice.
template <typename Counter>
void CountSlice(const unsigned char* p, std::size_t len, ByteHistogram& histogram) {
  Counter counts[4][256];
  std::memset(counts, 0, sizeof(counts));
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    ++counts[0][w & 0xff];
    ++counts[1][(w >> 8) & 0xff];
    ++counts[2][(w >> 16) & 0xff];
    ++counts[3][(w >> 24) & 0xff];
    ++counts[0][(w >> 32) & 0xff];
    ++counts[1][(w >> 40) & 0xff];
    ++counts[2][(w >> 48) & 0xff];
    ++counts[3][(w >> 56) & 0xff];
  }
  for (; i < len; ++i) ++counts[0][p[i]];
  for (int b = 0; b < 256; ++b) {
    histogram[b] += uint64_t{counts[0][b]} + counts[1][b] + counts[2][b] + counts[3][b];
  }
}

}  // namespace

void AccumulateHistogram(std::string_view bytes, ByteHistogram& histogram) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  constexpr std::size_t kSmall = 4 * 65535 - 8;  // uint16 counters suffice up to here
  if (n <= kSmall) {
    CountSlice<uint16_t>(p, n, histogram);
    return;
  }
  constexpr std::size_t kSlice = std::size_t{1} << 30;  // uint32 counters per 1 GiB slice
  while (n > 0) {
    const std::size_t len = n < kSlice ? n : kSlice;
    CountSlice<uint32_t>(p, len, histogram);
    p += len;
    n -= len;
  }
}

double ChiSquarePValue255(double chi_square) {
  // Wilson-Hilferty: (X/k)^(1/3) is close to normal; accurate to ~1e-3 at k = 255.
  constexpr double k = 255.0;
  if (chi_square <= 0) return 1.0;
  const double mean = 1.0 - 2.0 / (9.0 * k);
  const double sd = std::sqrt(2.0 / (9.0 * k));
  const double z = (std::cbrt(chi_square / k) - mean) / sd;
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

namespace {

// n * log2(n) for the counts a block of up to kTableMax bytes can have: the entropy of a 4 KiB
// block then costs table lookups instead of 256 calls to log2 (which would cap the analyzer below
// 1 GB/s).
constexpr std::size_t kTableMax = 1 << 16;
const std::vector<double>& NLogNTable() {
  static const std::vector<double> table = [] {
    std::vector<double> t(kTableMax + 1, 0.0);
    for (std::size_t n = 1; n <= kTableMax; ++n) {
      t[n] = static_cast<double>(n) * std::log2(static_cast<double>(n));
    }
    return t;
  }();
  return table;
}

double NLogN(const double* table, uint64_t n) {
  if (n <= kTableMax) return table[n];
  return static_cast<double>(n) * std::log2(static_cast<double>(n));
}

}  // namespace

bool IsPrintableByte(int b) {
  return (b >= 0x20 && b < 0x7f) || b == '\t' || b == '\n' || b == '\r';
}

BlockStats StatsFromHistogram(const ByteHistogram& histogram) {
  BlockStats s;
  uint64_t n = 0;
  for (int b = 0; b < 256; ++b) n += histogram[b];
  s.length = n;
  if (n == 0) return s;
  const double dn = static_cast<double>(n);
  const double expected = dn / 256.0;
  // One pass: H = log2(N) - (1/N) * sum(c * log2(c)); chi-square = sum((c - E)^2) / E.
  double sum_nlogn = 0;
  double sum_sq = 0;
  uint64_t printable = 0;
  uint64_t high = 0;
  const double* table = NLogNTable().data();
  for (int b = 0; b < 256; ++b) {
    const uint64_t c = histogram[b];
    sum_nlogn += NLogN(table, c);
    const double d = static_cast<double>(c) - expected;
    sum_sq += d * d;
    s.distinct += c != 0 ? 1 : 0;
    if (IsPrintableByte(b)) printable += c;
    if (b >= 0x80) high += c;
  }
  s.entropy = std::max(0.0, std::log2(dn) - sum_nlogn / dn);
  s.chi_square = sum_sq / expected;
  s.chi_p = ChiSquarePValue255(s.chi_square);
  s.printable = static_cast<double>(printable) / dn;
  s.high_bytes = static_cast<double>(high) / dn;
  return s;
}

BlockStats ComputeBlockStats(std::string_view bytes) {
  ByteHistogram histogram{};
  AccumulateHistogram(bytes, histogram);
  return StatsFromHistogram(histogram);
}

bool LooksLikeCiphertext(const BlockStats& stats) {
  if (stats.length < 1024)
    return false;  // too short for a histogram test; see ShortSpanLooksRandom
  // Uniform bytes: the chi-square statistic of a uniform source is spread around 255; ciphertext
  // falls below the 1e-4 tail only 1 time in 10,000.
  return stats.chi_p >= 1e-4;
}

std::size_t CountHighBytes(std::string_view bytes) {
  std::size_t high = 0, i = 0;
  // Each byte's high bit moved to its bit 0, then the eight summed by one multiply (no popcount
  // instruction in baseline x86-64: std::popcount is a libgcc call there).
  for (; i + 8 <= bytes.size(); i += 8) {
    high += ((HighBitsOf8(bytes.data() + i) >> 7) * 0x0101010101010101ULL) >> 56;
  }
  for (; i < bytes.size(); ++i) high += static_cast<unsigned char>(bytes[i]) >= 0x80 ? 1 : 0;
  return high;
}

bool ShortSpanLooksRandom(std::string_view bytes) {
  const std::size_t n = bytes.size();
  if (n < 32) return false;
  // A short line of text has as many distinct bytes as random bytes do ("include(Platform/
  // CYGWIN-GNU-CXX)" is 24 of 33), but random bytes are printable only 38% of the time. Counted
  // first, in byte-wide counters the compiler vectorises: text (the usual case) stops here.
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  std::size_t printable = 0;
  for (std::size_t i = 0; i < n; i += 255) {
    const std::size_t end = std::min(n, i + 255);
    uint8_t count = 0;
    for (std::size_t k = i; k < end; ++k) {
      const uint8_t c = p[k];
      count += static_cast<uint8_t>(static_cast<uint8_t>(c - 0x20) < 0x5f || c == '\t' ||
                                    c == '\n' || c == '\r');
    }
    printable += count;
  }
  if (printable * 10 >= n * 8) return false;
  bool seen[256] = {};
  int distinct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!seen[p[i]]) {
      seen[p[i]] = true;
      ++distinct;
    }
  }
  // Occupancy of m = 256 cells by n uniform draws: exact mean and variance of the distinct count.
  const double m = 256.0;
  const double dn = static_cast<double>(n);
  const double q1 = std::pow(1.0 - 1.0 / m, dn);
  const double q2 = std::pow(1.0 - 2.0 / m, dn);
  const double mean = m * (1.0 - q1);
  const double var = m * (m - 1.0) * q2 + m * q1 - m * m * q1 * q1;
  const double sd = std::sqrt(var > 0 ? var : 0);
  return distinct >= mean - 4.0 * sd - 1.0;
}

bool DeltasLookRandom(std::string_view bytes) {
  const std::size_t n = std::min<std::size_t>(bytes.size(), 1025);
  if (n < 33) return true;  // too short to tell; the caller's other test decides
  std::string deltas(n - 1, '\0');
  for (std::size_t i = 0; i + 1 < n; ++i) {
    deltas[i] =
        static_cast<char>(static_cast<uint8_t>(bytes[i + 1]) - static_cast<uint8_t>(bytes[i]));
  }
  return ShortSpanLooksRandom(deltas);
}

bool LooksRandom(std::string_view bytes, const BlockStats& stats) {
  const bool uniform =
      bytes.size() >= 1024 ? LooksLikeCiphertext(stats) : ShortSpanLooksRandom(bytes);
  return uniform && DeltasLookRandom(bytes);
}

bool HalvesRuleOutUniform(std::string_view bytes) {
  // Merging cells never raises Pearson's statistic, so the two-cell statistic of (bytes < 0x80,
  // bytes >= 0x80) bounds the 256-cell one from below: past kChiSquareNeverUniform the block
  // fails LooksLikeCiphertext whatever its histogram (text has no high byte: 4,096 for a block).
  const auto n = static_cast<double>(bytes.size());
  const double off = static_cast<double>(CountHighBytes(bytes)) - n / 2;
  return 4 * off * off / n > kChiSquareNeverUniform;
}

bool LooksRandom(std::string_view bytes) {
  if (bytes.size() >= 1024) {
    // Most blocks the watcher measures are text or structure: one pass over the high bits
    // instead of a histogram (12% of the daemon's time on a small-file writer, perf).
    if (HalvesRuleOutUniform(bytes)) return false;
    return LooksRandom(bytes, ComputeBlockStats(bytes));
  }
  return ShortSpanLooksRandom(bytes) && DeltasLookRandom(bytes);
}

#if defined(__SSE2__)
namespace {
// The sum of the 16 byte lanes (SSE2's sum of absolute differences against zero).
int SumLanes(__m128i lanes) {
  const __m128i halves = _mm_sad_epu8(lanes, _mm_setzero_si128());
  return _mm_cvtsi128_si32(halves) + _mm_extract_epi16(halves, 4);
}

// CellLooksRandom on exactly 16 bytes at `p`, in one vector (SSE2, in every x86-64): the cell is
// tested at every 16 bytes of the periodic-stride search, where the byte loop was a visible share
// of a scan. Counts are summed in the vector (a comparison's all-ones lane is -1), not by
// popcount, which baseline x86-64 has no instruction for (a libgcc call per count).
bool CellLooksRandom16(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i shifted = _mm_sub_epi8(v, _mm_set1_epi8(0x20));  // printable: 0x20..0x7e
  const __m128i printable_mask =
      _mm_cmpeq_epi8(_mm_min_epu8(shifted, _mm_set1_epi8(0x5e)), shifted);
  if (SumLanes(_mm_sub_epi8(_mm_setzero_si128(), printable_mask)) > 12) return false;
  // Equal bytes: comparing the cell with its rotations by 1..15 counts every equal pair twice.
  __m128i equal_counts = _mm_setzero_si128();
#define STEEN_ROTATED_EQUAL(k) \
  equal_counts = _mm_sub_epi8( \
      equal_counts,            \
      _mm_cmpeq_epi8(v, _mm_or_si128(_mm_srli_si128(v, k), _mm_slli_si128(v, 16 - (k)))))
  STEEN_ROTATED_EQUAL(1);
  STEEN_ROTATED_EQUAL(2);
  STEEN_ROTATED_EQUAL(3);
  STEEN_ROTATED_EQUAL(4);
  STEEN_ROTATED_EQUAL(5);
  STEEN_ROTATED_EQUAL(6);
  STEEN_ROTATED_EQUAL(7);
  STEEN_ROTATED_EQUAL(8);
  STEEN_ROTATED_EQUAL(9);
  STEEN_ROTATED_EQUAL(10);
  STEEN_ROTATED_EQUAL(11);
  STEEN_ROTATED_EQUAL(12);
  STEEN_ROTATED_EQUAL(13);
  STEEN_ROTATED_EQUAL(14);
  STEEN_ROTATED_EQUAL(15);
#undef STEEN_ROTATED_EQUAL
  const int twice_pairs = SumLanes(equal_counts);
  const int pairs = twice_pairs / 2;
  // At least 14 distinct values: at most two repeats. Two pairs or fewer always are; four or
  // more never; three are one triple (14 distinct) or three doubles (13).
  if (pairs <= 2) return true;
  if (pairs >= 4) return false;
  uint8_t counts[256] = {};
  for (int i = 0; i < 16; ++i) {
    if (++counts[static_cast<uint8_t>(p[i])] == 3) return true;  // the three pairs: one triple
  }
  return false;
}
}  // namespace
#endif

bool CellLooksRandom(std::string_view cell) {
#if defined(__SSE2__)
  if (cell.size() == kCellBytes) return CellLooksRandom16(cell.data());
#endif
  uint64_t seen[4] = {};
  int distinct = 0;
  int printable = 0;
  for (unsigned char c : cell) {
    const uint64_t bit = uint64_t{1} << (c & 63);
    distinct += (seen[c >> 6] & bit) == 0 ? 1 : 0;
    seen[c >> 6] |= bit;
    printable += (c >= 0x20 && c < 0x7f) ? 1 : 0;
  }
  return distinct >= 14 && printable <= 12;
}

namespace {

// Runs needed, and the share of run-to-run distances that must equal the most common one.
constexpr std::size_t kMinPeriodicRuns = 16;
constexpr double kMinSamePeriodShare = 0.5;
// Bytes of periodic runs put to the randomness test (its chi-square part needs 1 KiB).
constexpr std::size_t kMaxGatheredBytes = 4096;

std::optional<PeriodicRandomCells> PeriodicAtPhase(std::string_view region, std::size_t phase) {
  const std::size_t cells = region.size() > phase ? (region.size() - phase) / kCellBytes : 0;
  struct Run {
    std::size_t first;  // cell index
    std::size_t length;
  };
  std::vector<Run> runs;
  for (std::size_t i = 0; i < cells; ++i) {
    if (!CellLooksRandom(region.substr(phase + i * kCellBytes, kCellBytes))) continue;
    if (!runs.empty() && runs.back().first + runs.back().length == i) {
      ++runs.back().length;
    } else {
      runs.push_back({i, 1});
    }
  }
  if (runs.size() < kMinPeriodicRuns) return std::nullopt;
  std::vector<std::size_t> distances;
  for (std::size_t k = 1; k < runs.size(); ++k) {
    distances.push_back(runs[k].first - runs[k - 1].first);
  }
  std::vector<std::size_t> sorted = distances;
  std::sort(sorted.begin(), sorted.end());
  std::size_t mode = 0;
  std::size_t mode_count = 0;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    if (j - i > mode_count) {
      mode = sorted[i];
      mode_count = j - i;
    }
    i = j;
  }
  // A period of one cell is a random stretch with chance non-random cells, not a stride.
  if (mode < 2 || mode_count + 1 < kMinPeriodicRuns ||
      static_cast<double>(mode_count) <
          kMinSamePeriodShare * static_cast<double>(distances.size())) {
    return std::nullopt;
  }
  // The bytes of the runs that keep the period and have the usual run length (a real cell that
  // looks random next to a chunk lengthens its run), together: ciphertext passes the whole test,
  // the random-looking fields of fixed-size records (counters, timestamps) do not.
  std::vector<std::size_t> periodic;  // run indices
  std::vector<std::size_t> lengths;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    if ((k > 0 && distances[k - 1] == mode) || (k + 1 < runs.size() && distances[k] == mode)) {
      periodic.push_back(k);
      lengths.push_back(runs[k].length);
    }
  }
  std::sort(lengths.begin(), lengths.end());
  const std::size_t usual_length = lengths[lengths.size() / 2];
  std::string gathered;
  std::size_t first = cells;
  for (std::size_t k : periodic) {
    if (runs[k].length != usual_length || gathered.size() >= kMaxGatheredBytes) continue;
    first = std::min(first, runs[k].first);
    gathered.append(region.substr(phase + runs[k].first * kCellBytes, runs[k].length * kCellBytes));
  }
  if (gathered.size() < 1024 || !LooksRandom(gathered)) return std::nullopt;
  PeriodicRandomCells found;
  found.offset = phase + first * kCellBytes;
  found.period = mode * kCellBytes;
  found.runs = mode_count + 1;
  return found;
}

}  // namespace

std::optional<PeriodicRandomCells> FindPeriodicRandomCells(std::string_view region) {
  if (auto found = PeriodicAtPhase(region, 0)) return found;
  return PeriodicAtPhase(region, kCellBytes / 2);
}

}  // namespace steen::content
