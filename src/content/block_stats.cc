#include "content/block_stats.h"

#include <cmath>
#include <cstring>

namespace steen::content {

void AccumulateHistogram(std::string_view bytes, ByteHistogram& histogram) {
  // Four counter tables break the store-to-load dependency when neighbouring bytes are equal.
  uint32_t counts[4][256];
  std::memset(counts, 0, sizeof(counts));
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t n = bytes.size();
  // uint32 counters cannot overflow within one 1 GiB slice.
  constexpr std::size_t kSlice = std::size_t{1} << 30;
  while (n > 0) {
    std::size_t len = n < kSlice ? n : kSlice;
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
    std::memset(counts, 0, sizeof(counts));
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

BlockStats StatsFromHistogram(const ByteHistogram& histogram) {
  BlockStats s;
  uint64_t n = 0;
  uint64_t printable = 0;
  uint64_t high = 0;
  for (int b = 0; b < 256; ++b) {
    n += histogram[b];
    if ((b >= 0x20 && b < 0x7f) || b == '\t' || b == '\n' || b == '\r') printable += histogram[b];
    if (b >= 0x80) high += histogram[b];
    if (histogram[b] != 0) ++s.distinct;
  }
  s.length = n;
  if (n == 0) return s;
  const double dn = static_cast<double>(n);
  const double expected = dn / 256.0;
  double entropy = 0;
  double chi = 0;
  for (int b = 0; b < 256; ++b) {
    const double c = static_cast<double>(histogram[b]);
    if (c > 0) {
      const double p = c / dn;
      entropy -= p * std::log2(p);
    }
    const double d = c - expected;
    chi += d * d / expected;
  }
  s.entropy = entropy;
  s.chi_square = chi;
  s.chi_p = ChiSquarePValue255(chi);
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

bool ShortSpanLooksRandom(std::string_view bytes) {
  const std::size_t n = bytes.size();
  if (n < 32) return false;
  bool seen[256] = {};
  int distinct = 0;
  for (unsigned char c : bytes) {
    if (!seen[c]) {
      seen[c] = true;
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

}  // namespace steen::content
