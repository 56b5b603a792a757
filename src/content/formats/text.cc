// Text files: UTF-8 (with or without BOM), UTF-16 LE/BE, Latin-1 / Windows-1252, and cheap
// subtypes (csv, json, xml, svg, html, rtf, email, pem, base64, hex).
//
// Damage model: ransomware that leaves a text file partly readable puts *random* bytes into it.
// Random bytes differ from any text encoding in two ways: about one byte in ten is a C0 control
// that text never uses, and their other bytes spread over all non-ASCII values uniformly, while
// the accented letters of European text (é, ü, ë) or UTF-8 sequences repeat a few values. So the
// checker groups the forbidden control bytes into clusters (controls close together) and calls a
// cluster random only when its non-ASCII bytes are as diverse as uniform bytes would be. NUL
// padding, delimiter bytes, ANSI escapes and Latin-1 letters never form such clusters.
#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/evasion.h"
#include "content/formats/text_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

enum class Encoding { kAscii, kUtf8, kUtf8Bom, kLatin1, kWindows1252, kUtf16Le, kUtf16Be };

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kAscii:
      return "us-ascii";
    case Encoding::kUtf8:
      return "utf-8";
    case Encoding::kUtf8Bom:
      return "utf-8 (BOM)";
    case Encoding::kLatin1:
      return "latin-1";
    case Encoding::kWindows1252:
      return "windows-1252";
    case Encoding::kUtf16Le:
      return "utf-16le";
    case Encoding::kUtf16Be:
      return "utf-16be";
  }
  return "?";
}

bool IsUtf16(Encoding e) { return e == Encoding::kUtf16Le || e == Encoding::kUtf16Be; }

// Bad bytes join a cluster when at most this many units apart: random spans have one every ~10.
constexpr std::size_t kClusterGap = 32;
// Fewer non-ASCII units than this in a cluster: too little to call it random either way.
constexpr std::size_t kMinRandomUnits = 16;
// Clusters too short to judge alone (a few random bytes per chunk: intermittent layouts on small
// files) are judged together. Each is widened by this many bytes on both sides (a chunk's high
// bytes lie around its control bytes), widened clusters closer than kSpotGap form one spot, and
// the non-ASCII bytes of all spots must pass the occupancy test together.
constexpr std::size_t kSpotReach = 16;
constexpr std::size_t kSpotGap = 64;
// Pooled non-ASCII bytes needed: kMinOneSpotUnits in one spot (a single short random run, up to
// ~64 bytes, stays tolerated as before), fewer over two spots, fewer still over three or more
// (each a place of its own), and fewest beside a run already found random.
constexpr std::size_t kMinOneSpotUnits = 48;
constexpr std::size_t kMinPooledUnits = 24;
constexpr std::size_t kMinUnitsInThreeSpots = 16;
constexpr std::size_t kMinUnitsBesideRandom = 8;
// More distinct loose non-ASCII values than this outside the spots: not text, no pooling.
constexpr std::ptrdiff_t kMaxOwnLooseValues = 96;
// Values a byte takes that are not plain ASCII: 256 - 95 printable - 3 whitespace.
constexpr uint64_t kNonAsciiValues = 158;

// How many bytes of a span were random, from the non-ASCII bytes counted in it: random bytes
// are non-ASCII kNonAsciiValues times in 256.
uint64_t RandomBytesFromNonAscii(uint64_t non_ascii) { return non_ascii * 256 / kNonAsciiValues; }

std::string Hex(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[v & 0xf]);
    v >>= 4;
  } while (v != 0);
  return "0x" + out;
}

// True when `distinct` values among `n` draws (at least `min_n`) are what uniform draws over
// `cells` values give.
bool UniformOccupancy(std::size_t n, int distinct, double cells,
                      std::size_t min_n = kMinRandomUnits) {
  if (n < min_n) return false;
  const double dn = static_cast<double>(n);
  const double q1 = std::pow(1.0 - 1.0 / cells, dn);
  const double q2 = std::pow(1.0 - 2.0 / cells, dn);
  const double mean = cells * (1.0 - q1);
  const double var = cells * (cells - 1.0) * q2 + cells * q1 - cells * cells * q1 * q1;
  return distinct >= mean - 4.0 * std::sqrt(var > 0 ? var : 0) - 1.0;
}

bool BadByte(unsigned char c) {
  if (c == 0x7f) return true;
  if (c >= 0x20) return false;
  return !(c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0x08 || c == 0x1b);
}

bool PlainAscii(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r';
}

struct Cluster {
  uint64_t offset = 0;  // absolute file offset
  uint64_t length = 0;
  bool random = false;
  uint64_t end() const { return offset + length; }
};

// The findings over one contiguous span of the file.
struct SpanScan {
  std::vector<Cluster> random_clusters;
  uint64_t random_bytes = 0;
  // Non-ASCII bytes inside the random clusters (8-bit encodings): RandomBytesFromNonAscii
  // estimates from them how many of a cluster's bytes are random when they are only sprinkled
  // between text.
  uint64_t random_non_ascii = 0;
  uint64_t bad_outside = 0;  // bad units not in random clusters, NUL runs excluded
  uint64_t nul_in_runs = 0;  // NULs in runs of 8 or more (padding)
  uint64_t textish = 0;      // printable ASCII, whitespace, high bytes / non-control units
  std::array<uint64_t, 32> control_counts{};  // bad units outside random clusters, by value
  uint64_t units = 0;
};

// --- 8-bit encodings (UTF-8, Latin-1) ----------------------------------------------------------

// Whether any of these bytes is a BadByte: written as compares only so that the compiler turns
// it into vector code (text is mostly clean, and this check was the watch daemon's top cost on a
// tree of new source files).
// Byte-wide arithmetic only (no widening to int), so the compiler checks 16 bytes per vector
// instruction: with `unsigned` it widened every byte to 32 bits and did four times the work.
bool AnyBadByte(const unsigned char* p, std::size_t n) {
  uint8_t bad = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const uint8_t c = p[k];
    const bool allowed_control = static_cast<uint8_t>(c - 0x08) <= 5 || c == 0x1b;
    bad |= static_cast<uint8_t>((c < 0x20 && !allowed_control) || c == 0x7f);
  }
  return bad != 0;
}

// Length of the valid UTF-8 multibyte sequence that starts at s[i] (2 to 4 bytes), 0 when none
// does. A sequence cut short by the end of `s` counts, with the bytes it has, when `cut_ok`.
std::size_t Utf8SequenceLength(std::string_view s, std::size_t i, bool cut_ok = false) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                          : c >= 0xe0 && c <= 0xef ? 3
                          : c >= 0xf0 && c <= 0xf4 ? 4
                                                   : 0;
  for (std::size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) return cut_ok ? k : 0;
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return len;
}

// Adds to `counts` the non-ASCII bytes of s[begin, end) that are not part of a valid UTF-8
// sequence (letters of UTF-8 text repeat a few lead and continuation values; random bytes seldom
// form a valid sequence).
void CountLooseNonAscii(std::string_view s, std::size_t begin, std::size_t end,
                        std::array<uint32_t, 256>& counts) {
  std::size_t i = begin;
  while (i < end) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (PlainAscii(c)) {
      ++i;
      continue;
    }
    const std::size_t len = Utf8SequenceLength(s, i);
    if (len > 1) {
      i += len;
      continue;
    }
    ++counts[c];
    ++i;
  }
}

// The bad bytes of clusters that are not random: stray controls (delimiters, escapes, corruption).
void CountStray(std::string_view s, const std::vector<std::size_t>& bad,
                const std::vector<std::pair<std::size_t, std::size_t>>& clusters, SpanScan& out) {
  for (const auto& [first, last] : clusters) {
    for (std::size_t k = first; k <= last; ++k) {
      const auto c = static_cast<unsigned char>(s[bad[k]]);
      ++out.bad_outside;
      if (c < 32) ++out.control_counts[c];
    }
  }
}

// Judges together the clusters of bad bytes that were too short to judge alone (`clusters`: first
// and last index into `bad`): random when their widened spots' non-ASCII bytes, pooled and counted
// only where the text around them never uses the value (a Greek or Cyrillic 8-bit text is diverse
// too, but in its own alphabet), are as diverse as uniform bytes and no value among them is far
// more frequent than the others. Otherwise their bad bytes count as stray, as before.
void JudgeShortClusters(std::string_view s, uint64_t base, const std::vector<std::size_t>& bad,
                        const std::vector<std::pair<std::size_t, std::size_t>>& clusters,
                        SpanScan& out) {
  std::vector<ByteRange> spots;  // offsets within s
  for (const auto& [first, last] : clusters) {
    const std::size_t begin = bad[first] >= kSpotReach ? bad[first] - kSpotReach : 0;
    const std::size_t end = std::min(s.size(), bad[last] + 1 + kSpotReach);
    if (!spots.empty() && begin <= spots.back().end() + kSpotGap) {
      spots.back().length = std::max<uint64_t>(spots.back().end(), end) - spots.back().offset;
    } else {
      spots.push_back({begin, end - begin});
    }
  }
  std::array<uint32_t, 256> counts{};
  std::array<uint32_t, 256> outside{};  // the text's own loose non-ASCII values
  std::size_t at = 0;
  for (const ByteRange& spot : spots) {
    CountLooseNonAscii(s, at, spot.offset, outside);
    CountLooseNonAscii(s, spot.offset, spot.end(), counts);
    at = spot.end();
  }
  CountLooseNonAscii(s, at, s.size(), outside);
  const auto own_values =
      std::count_if(outside.begin(), outside.end(), [](uint32_t n) { return n > 0; });
  // Text in any 8-bit encoding uses a few dozen letters loose (Russian in Windows-1251: 66); a
  // span using most values loose is no text, and what it lacks is no evidence.
  if (own_values > kMaxOwnLooseValues) {
    CountStray(s, bad, clusters, out);
    return;
  }
  // Only values the text never uses loose are evidence: its own letters inside a spot are not.
  std::size_t foreign = 0;
  int foreign_distinct = 0;
  uint32_t most = 0;
  for (int c = 0; c < 256; ++c) {
    if (outside[c] != 0 || counts[c] == 0) continue;
    foreign += counts[c];
    ++foreign_distinct;
    most = std::max(most, counts[c]);
  }
  const double cells = static_cast<double>(kNonAsciiValues) - static_cast<double>(own_values);
  // Occupancy alone passes any varied binary once there are thousands of bytes (pixels of an
  // icon reach every value): random bytes also have no value far more frequent than the others,
  // while binary data repeats 0x00 and 0xff.
  const double expected = static_cast<double>(foreign) / cells;
  const bool flat = most <= expected + 5.0 * std::sqrt(expected) + 3.0;
  // Beside a run already found random, less is needed: two runs are the damage rule's threshold.
  const std::size_t needed = !out.random_clusters.empty() ? kMinUnitsBesideRandom
                             : spots.size() >= 3          ? kMinUnitsInThreeSpots
                             : spots.size() == 2          ? kMinPooledUnits
                                                          : kMinOneSpotUnits;
  if (flat && UniformOccupancy(foreign, foreign_distinct, cells, needed)) {
    for (const ByteRange& spot : spots) {
      out.random_clusters.push_back({base + spot.offset, spot.length, true});
      out.random_bytes += spot.length;
    }
    // All the spots' non-ASCII random bytes, of which the foreign ones are a share.
    out.random_non_ascii += static_cast<uint64_t>(static_cast<double>(foreign) *
                                                  static_cast<double>(kNonAsciiValues) / cells);
    std::sort(out.random_clusters.begin(), out.random_clusters.end(),
              [](const Cluster& a, const Cluster& b) { return a.offset < b.offset; });
    return;
  }
  CountStray(s, bad, clusters, out);
}

void ScanBytes(std::string_view s, uint64_t base, SpanScan& out) {
  out.units += s.size();
  std::vector<std::size_t> bad;
  constexpr std::size_t kChunk = 64;
  std::size_t slow_until = 0;  // bytes before this index are checked one by one
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i >= slow_until) {
      const std::size_t n = std::min(kChunk, s.size() - i);
      if (!AnyBadByte(reinterpret_cast<const unsigned char*>(s.data()) + i, n)) {
        out.textish += n;  // every byte that is not bad is a text character
        i += n - 1;
        continue;
      }
      slow_until = i + n;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      std::size_t j = i;
      while (j < s.size() && s[j] == 0) ++j;
      if (j - i >= 8) {
        out.nul_in_runs += j - i;
        i = j - 1;
        continue;
      }
    }
    if (BadByte(c)) {
      bad.push_back(i);
    } else if (PlainAscii(c) || c >= 0x80 || c == '\f' || c == '\v' || c == 0x08 || c == 0x1b) {
      ++out.textish;
    }
  }
  std::vector<std::pair<std::size_t, std::size_t>> short_clusters;
  auto finish = [&](std::size_t first_idx, std::size_t last_idx) {
    const std::size_t begin = bad[first_idx];
    const std::size_t end = bad[last_idx] + 1;
    bool seen[256] = {};
    int distinct = 0;
    std::size_t non_ascii = 0;
    for (std::size_t i = begin; i < end; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (PlainAscii(c)) continue;
      ++non_ascii;
      if (!seen[c]) {
        seen[c] = true;
        ++distinct;
      }
    }
    if (UniformOccupancy(non_ascii, distinct, static_cast<double>(kNonAsciiValues))) {
      out.random_clusters.push_back({base + begin, end - begin, true});
      out.random_bytes += end - begin;
      out.random_non_ascii += non_ascii;
    } else {
      short_clusters.emplace_back(first_idx, last_idx);
    }
  };
  std::size_t start = 0;
  for (std::size_t k = 1; k <= bad.size(); ++k) {
    if (k == bad.size() || bad[k] - bad[k - 1] > kClusterGap) {
      if (start < bad.size()) finish(start, k - 1);
      start = k;
    }
  }
  if (!short_clusters.empty()) JudgeShortClusters(s, base, bad, short_clusters, out);
}

// Adds [offset, offset + length) to `ranges`, merged with the last range when they touch; at most
// 256 ranges are kept.
void AppendRange(std::vector<ByteRange>& ranges, uint64_t offset, std::size_t length) {
  if (!ranges.empty() && ranges.back().end() == offset) {
    ranges.back().length += length;
  } else if (ranges.size() < 256) {
    ranges.push_back({offset, length});
  }
}

// Mostly high bytes that, inverted (255 - b), are plain ASCII text.
bool InvertedText(std::string_view bytes) {
  if (bytes.size() < 256) return false;
  if (CountHighBytes(bytes) * 2 < bytes.size()) return false;
  const std::string back = Inverted(bytes);
  return LooksLikeAsciiProse(back) || LooksLikeAsciiData(back);
}

// --- UTF-16 -------------------------------------------------------------------------------------

uint16_t Unit(std::string_view s, std::size_t i, bool be) {
  const auto a = static_cast<unsigned char>(s[i]);
  const auto b = static_cast<unsigned char>(s[i + 1]);
  return be ? static_cast<uint16_t>(a << 8 | b) : static_cast<uint16_t>(b << 8 | a);
}

void ScanUtf16(std::string_view s, uint64_t base, bool be, SpanScan& out) {
  const std::size_t n = s.size() / 2;
  out.units += n;
  std::vector<std::size_t> bad;
  for (std::size_t i = 0; i < n; ++i) {
    const uint16_t u = Unit(s, 2 * i, be);
    if (u == 0) {
      std::size_t j = i;
      while (j < n && Unit(s, 2 * j, be) == 0) ++j;
      if (j - i >= 8) {
        out.nul_in_runs += j - i;
        i = j - 1;
        continue;
      }
    }
    bool is_bad = false;
    if (u < 0x80) {
      is_bad = BadByte(static_cast<unsigned char>(u));
    } else if (u >= 0xd800 && u <= 0xdbff) {  // high surrogate: needs a low one next
      const uint16_t next = i + 1 < n ? Unit(s, 2 * (i + 1), be) : 0xdc00;
      if (next >= 0xdc00 && next <= 0xdfff) {
        ++i;
        out.textish += 2;
        continue;
      }
      is_bad = true;
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      is_bad = true;
    } else if ((u >= 0xe000 && u <= 0xf8ff) || u >= 0xfffe) {
      is_bad = true;  // private use and non-characters: rare in text, 10 % of random units
    }
    if (is_bad) {
      bad.push_back(i);
    } else {
      ++out.textish;
    }
  }
  auto finish = [&](std::size_t first_idx, std::size_t last_idx) {
    const std::size_t begin = bad[first_idx];
    const std::size_t end = bad[last_idx] + 1;
    bool seen[256] = {};
    int distinct = 0;
    for (std::size_t i = begin; i < end; ++i) {
      const int hi = Unit(s, 2 * i, be) >> 8;
      if (!seen[hi]) {
        seen[hi] = true;
        ++distinct;
      }
    }
    // Text keeps to a few script blocks: the high bytes of its code units repeat. Random units
    // spread over all 256.
    if (UniformOccupancy(end - begin, distinct, 256.0)) {
      out.random_clusters.push_back({base + 2 * begin, 2 * (end - begin), true});
      out.random_bytes += 2 * (end - begin);
    } else {
      out.bad_outside += last_idx - first_idx + 1;
    }
  };
  std::size_t start = 0;
  for (std::size_t k = 1; k <= bad.size(); ++k) {
    if (k == bad.size() || bad[k] - bad[k - 1] > kClusterGap) {
      if (start < bad.size()) finish(start, k - 1);
      start = k;
    }
  }
}

// --- Encoding detection
// ---------------------------------------------------------------------------

std::optional<Encoding> Utf16ByZeros(std::string_view head) {
  const std::size_t n = std::min<std::size_t>(head.size(), 4096) & ~std::size_t{1};
  if (n < 8) return std::nullopt;
  std::size_t zero_even = 0, zero_odd = 0;
  // Byte-wide counters over 255 pairs at a time: the compiler's vector code then counts 16 bytes
  // per instruction (with size_t counters it widened every byte).
  for (std::size_t start = 0; start < n; start += 510) {
    const std::size_t end = std::min(n, start + 510);
    uint8_t even = 0, odd = 0;
    for (std::size_t i = start; i < end; i += 2) {
      even += static_cast<uint8_t>(head[i] == 0);
      odd += static_cast<uint8_t>(head[i + 1] == 0);
    }
    zero_even += even;
    zero_odd += odd;
  }
  const std::size_t pairs = n / 2;
  if (zero_odd * 10 >= pairs * 4 && zero_even * 20 <= pairs) return Encoding::kUtf16Le;
  if (zero_even * 10 >= pairs * 4 && zero_odd * 20 <= pairs) return Encoding::kUtf16Be;
  return std::nullopt;
}

// Counts valid UTF-8 multibyte sequences and invalid high bytes, skipping random clusters.
Encoding EightBitEncoding(std::string_view s, uint64_t base, const std::vector<Cluster>& skip,
                          bool truncated_at_end) {
  uint64_t valid = 0, invalid = 0, c1 = 0;
  std::size_t next_skip = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (next_skip < skip.size() && skip[next_skip].end() <= base + i) ++next_skip;
    if (next_skip < skip.size() && base + i >= skip[next_skip].offset) {
      i = static_cast<std::size_t>(skip[next_skip].end() - base);  // past the cluster
      continue;
    }
    // ASCII runs eight bytes at a time, up to the next skipped cluster.
    const std::size_t stop =
        next_skip < skip.size()
            ? static_cast<std::size_t>(std::min<uint64_t>(s.size(), skip[next_skip].offset - base))
            : s.size();
    while (i + 8 <= stop && HighBitsOf8(s.data() + i) == 0) i += 8;
    if (i >= stop) continue;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (const std::size_t len = Utf8SequenceLength(s, i, truncated_at_end); len > 0) {
      ++valid;
      i += len;
    } else {
      ++invalid;
      if (c < 0xa0) ++c1;
      ++i;
    }
  }
  if (invalid == 0) return valid == 0 ? Encoding::kAscii : Encoding::kUtf8;
  if (valid >= 4 * invalid) return Encoding::kUtf8;  // a few stray bytes in a UTF-8 file
  return c1 > 0 ? Encoding::kWindows1252 : Encoding::kLatin1;
}

Encoding DetectEncoding(std::string_view head) {
  if (StartsWith(head, "\xef\xbb\xbf")) return Encoding::kUtf8Bom;
  if (StartsWith(head, "\xff\xfe")) return Encoding::kUtf16Le;
  if (StartsWith(head, "\xfe\xff")) return Encoding::kUtf16Be;
  if (auto e = Utf16ByZeros(head)) return *e;
  return Encoding::kAscii;  // refined by EightBitEncoding
}

}  // namespace

bool LooksLikeUtf16(std::string_view head) { return IsUtf16(DetectEncoding(head)); }

namespace {

SpanScan Scan(std::string_view s, uint64_t base, Encoding e) {
  SpanScan out;
  if (IsUtf16(e)) {
    ScanUtf16(s, base, e == Encoding::kUtf16Be, out);
  } else {
    ScanBytes(s, base, out);
  }
  return out;
}

// The head is text: no more random than half, few stray controls (one dominant control value is
// a delimiter, e.g. Hive's ^A), mostly text characters, and not uniform bytes as a whole.
bool HeadIsText(std::string_view head, Encoding e) {
  if (head.empty()) return false;
  if (!IsUtf16(e) && ShortSpanLooksRandom(head.substr(0, 4096))) return false;
  const SpanScan scan = Scan(head, 0, e);
  const uint64_t content = scan.units - scan.nul_in_runs;
  if (content < 1) return false;
  // Random bytes sprinkled between text make wide clusters of mostly text: estimated from the
  // clusters' non-ASCII bytes, not their width.
  const uint64_t random_estimate =
      IsUtf16(e) ? scan.random_bytes
                 : std::min(scan.random_bytes, RandomBytesFromNonAscii(scan.random_non_ascii));
  if (random_estimate * 2 > head.size()) return false;
  uint64_t stray = scan.bad_outside;
  if (!IsUtf16(e) && stray > 0) {
    const auto top = std::max_element(scan.control_counts.begin() + 1, scan.control_counts.end());
    if (*top * 10 >= stray * 9) stray -= *top;  // a delimiter
  }
  const uint64_t random_units = IsUtf16(e) ? scan.random_bytes / 2 : random_estimate;
  const uint64_t clean = content > random_units ? content - random_units : 0;
  if (stray > std::max<uint64_t>(1, clean / 100)) return false;
  return scan.textish * 2 >= clean;
}

// --- Subtypes
// -------------------------------------------------------------------------------------

std::string AsciiView(std::string_view head, Encoding e) {
  std::string out;
  std::size_t start = 0;
  if (e == Encoding::kUtf8Bom) start = 3;
  if (IsUtf16(e)) {
    const bool be = e == Encoding::kUtf16Be;
    start = (StartsWith(head, "\xff\xfe") || StartsWith(head, "\xfe\xff")) ? 2 : 0;
    for (std::size_t i = start; i + 1 < head.size() && out.size() < 8192; i += 2) {
      const uint16_t u = Unit(head, i, be);
      out.push_back(u < 0x80 ? static_cast<char>(u) : '?');
    }
    return out;
  }
  return std::string(head.substr(start, 8192));
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

bool IContains(std::string_view s, std::string_view needle) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find(needle) != std::string::npos;
}

bool LooksLikeEmail(std::string_view t) {
  if (StartsWith(t, "From ") && t.size() > 5 && t[5] != ' ') return true;
  static constexpr std::string_view kHeaders[] = {
      "received:", "return-path:", "mime-version:", "delivered-to:", "message-id:",
      "from:",     "to:",          "subject:",      "date:",         "x-"};
  int known = 0;
  std::size_t pos = 0;
  for (int line = 0; line < 20 && pos < t.size(); ++line) {
    const std::size_t eol = std::min(t.find('\n', pos), t.size());
    const std::string_view l = t.substr(pos, eol - pos);
    pos = eol + 1;
    if (l.empty() || l == "\r") break;
    if (l[0] == ' ' || l[0] == '\t') continue;  // folded header
    const std::size_t colon = l.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    for (std::size_t i = 0; i < colon; ++i) {
      const auto c = static_cast<unsigned char>(l[i]);
      if (!std::isalnum(c) && c != '-') return false;
    }
    for (std::string_view h : kHeaders) known += IStartsWith(l, h) ? 1 : 0;
  }
  return known >= 2;
}

std::string_view CsvKind(std::string_view t) {
  std::vector<std::string_view> lines;
  std::size_t pos = 0;
  while (lines.size() < 10) {
    const std::size_t eol = t.find('\n', pos);
    if (eol == std::string_view::npos) break;  // only complete lines
    lines.push_back(t.substr(pos, eol - pos));
    pos = eol + 1;
  }
  if (lines.size() < 2) return {};
  for (char delim : {',', ';', '\t', '|'}) {
    int expected = -1;
    bool same = true;
    for (std::string_view l : lines) {
      int count = 0;
      bool quoted = false;
      for (char c : l) {
        if (c == '"') quoted = !quoted;
        if (c == delim && !quoted) ++count;
      }
      if (expected < 0) expected = count;
      if (count != expected) same = false;
    }
    if (same && expected >= 1) return delim == '\t' ? "tsv" : "csv";
  }
  return {};
}

std::string Subtype(std::string_view head, Encoding e) {
  const std::string view = AsciiView(head, e);
  std::string_view t = view;
  while (!t.empty() && (t[0] == ' ' || t[0] == '\n' || t[0] == '\r' || t[0] == '\t')) {
    t.remove_prefix(1);
  }
  if (StartsWith(t, "{\\rtf")) return "rtf";
  if (StartsWith(t, "-----BEGIN ")) return "pem";
  if (StartsWith(t, "<")) {
    if (IStartsWith(t, "<!doctype html") || IStartsWith(t, "<html")) return "html";
    if (IContains(t.substr(0, 4096), "<svg")) return "svg";
    if (IContains(t.substr(0, 4096), "<html")) return "html";
    if (StartsWith(t, "<?xml") || t.find("</") != std::string_view::npos) return "xml";
  }
  if (!t.empty() && (t[0] == '{' || t[0] == '[')) {
    std::string_view rest = t.substr(1);
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest[0])))
      rest.remove_prefix(1);
    if (rest.empty()) return "json";
    const char c = rest[0];
    if (t[0] == '{' && (c == '"' || c == '}')) return "json";
    if (t[0] == '[' && (c == '{' || c == '[' || c == '"' || c == ']' || c == '-' || c == 't' ||
                        c == 'f' || c == 'n' || std::isdigit(static_cast<unsigned char>(c)))) {
      return "json";
    }
  }
  if (LooksLikeEmail(t)) return "email";
  std::string_view csv = CsvKind(t);
  if (!csv.empty()) return std::string(csv);
  return "text";
}

// Alphabet of the sampled content: hex or base64 only (whitespace aside)? One table lookup per
// byte: the libc classifiers were a fifth of a scan of small text files.
struct Alphabet {
  static constexpr uint8_t kSpace = 1, kHex = 2, kBase64 = 4;
  static constexpr std::array<uint8_t, 256> kClasses = [] {
    std::array<uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
      const bool digit = c >= '0' && c <= '9';
      const bool lower = c >= 'a' && c <= 'z';
      const bool upper = c >= 'A' && c <= 'Z';
      if (c == '\n' || c == '\r' || c == ' ' || c == '\t') t[c] |= kSpace;
      if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) t[c] |= kHex;
      if (digit || lower || upper || c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
        t[c] |= kBase64;
      }
    }
    return t;
  }();

  bool hex = true;
  bool base64 = true;
  uint64_t symbols = 0;
  void Add(std::string_view s) {
    for (char ch : s) {
      if (!hex && !base64) return;  // decided: the common case for prose, stop early
      const uint8_t cls = kClasses[static_cast<unsigned char>(ch)];
      if (cls & kSpace) continue;
      ++symbols;
      hex = hex && (cls & kHex) != 0;
      base64 = base64 && (cls & kBase64) != 0;
    }
  }
};

class TextValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "text"; }

  bool Matches(std::string_view head, uint64_t file_size) const override {
    if (file_size == 0 || head.empty()) return false;
    return HeadIsText(head, DetectEncoding(head));
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "text";
    const uint64_t size = reader.size();
    auto head_or = reader.Read(0, limits::kHeadBytes);
    if (!head_or.ok()) return report;
    const std::string_view head = *head_or;
    Encoding encoding = DetectEncoding(head);
    const bool utf16 = IsUtf16(encoding);

    // Regions to check: the whole file when small, else head, evenly spread samples and tail.
    struct Region {
      uint64_t offset;
      std::size_t length;
    };
    std::vector<Region> regions;
    const uint64_t whole_limit = limits::kHeadBytes + limits::kTailBytes +
                                 uint64_t{limits::kMaxSampleBlocks} * limits::kSampleBlockBytes;
    int sampled_blocks = 0;
    if (size <= whole_limit) {
      regions.push_back({0, static_cast<std::size_t>(size)});
      sampled_blocks =
          static_cast<int>((size + limits::kSampleBlockBytes - 1) / limits::kSampleBlockBytes);
    } else {
      regions.push_back({0, limits::kHeadBytes});
      const uint64_t tail_at = (size - limits::kTailBytes) & ~uint64_t{1};
      const uint64_t middle = tail_at - limits::kHeadBytes;
      const int samples = limits::kMaxSampleBlocks;
      for (int i = 0; i < samples; ++i) {
        uint64_t at =
            limits::kHeadBytes +
            middle * static_cast<uint64_t>(2 * i + 1) / static_cast<uint64_t>(2 * samples) -
            limits::kSampleBlockBytes / 2;
        at &= ~uint64_t{1};  // keep UTF-16 units aligned
        regions.push_back({at, limits::kSampleBlockBytes});
      }
      regions.push_back({tail_at, static_cast<std::size_t>(size - tail_at)});
      sampled_blocks = samples + 2;
    }

    std::vector<Cluster> random_clusters;
    std::vector<ByteRange> inverted;       // regions of ASCII text turned into 255 - b
    std::vector<ByteRange> inverted_high;  // those of them made (almost) only of high bytes
    Alphabet alphabet;
    int hit_blocks = 0;
    uint64_t random_bytes = 0;
    uint64_t random_non_ascii = 0;
    for (const Region& r : regions) {
      auto bytes_or = reader.Read(r.offset, r.length);
      if (!bytes_or.ok()) return report;
      std::string_view bytes = *bytes_or;
      SpanScan scan = Scan(bytes, r.offset, encoding);
      alphabet.Add(bytes.substr(0, 1 * limits::MiB));
      random_bytes += scan.random_bytes;
      random_non_ascii += scan.random_non_ascii;
      // Count the sampled blocks (kSampleBlockBytes each in a whole-file read) with random data.
      if (size <= whole_limit) {
        std::vector<bool> hit(static_cast<std::size_t>(sampled_blocks), false);
        for (const Cluster& c : scan.random_clusters) {
          for (uint64_t b = c.offset / limits::kSampleBlockBytes;
               b <= (c.end() - 1) / limits::kSampleBlockBytes && b < hit.size(); ++b) {
            hit[b] = true;
          }
        }
        hit_blocks += static_cast<int>(std::count(hit.begin(), hit.end(), true));
      } else if (!scan.random_clusters.empty()) {
        ++hit_blocks;
      }
      random_clusters.insert(random_clusters.end(), scan.random_clusters.begin(),
                             scan.random_clusters.end());
      // 4 KiB slices past the first 4 KiB (small files are one region).
      for (std::size_t at = r.offset == 0 ? 4096 : 0; !utf16 && at + 256 <= bytes.size();
           at += 4096) {
        const std::string_view slice = bytes.substr(at, 4096);
        if (InvertedText(slice)) {
          AppendRange(inverted, r.offset + at, slice.size());
          if (CountHighBytes(slice) * 1000 >= slice.size() * limits::kInvertedTextHighPerMille) {
            AppendRange(inverted_high, r.offset + at, slice.size());
          }
        }
      }
      if (!utf16 && r.offset == 0) {
        encoding = EightBitEncoding(bytes, 0, scan.random_clusters, bytes.size() < size);
        if (StartsWith(head, "\xef\xbb\xbf")) encoding = Encoding::kUtf8Bom;
      }
    }

    const std::string subtype = Subtype(head, encoding);
    report.format = subtype;
    if (subtype == "text" && random_clusters.empty() && alphabet.symbols >= 32) {
      if (alphabet.hex) {
        report.format = "text/hex";
      } else if (alphabet.base64) {
        report.format = "text/base64";
      }
    }
    report.reasons.push_back("text encoding: " + std::string(EncodingName(encoding)));
    report.structure_end = size;

    // A footer: random runs only in the last few KiB, the last one reaching the end of file.
    const bool footer_only =
        !random_clusters.empty() && random_clusters.back().end() + 32 >= size &&
        random_clusters.front().offset + 4096 + 64 >= size && random_bytes >= 24;
    const std::string_view first = head.substr(0, 4096);
    const std::size_t head_high = utf16 ? first.size() : CountHighBytes(first);
    // ASCII at the start, or nearly: a few non-ASCII characters (a name, a symbol) in English
    // text or code. Then only slices made (almost) only of high bytes count: inverted ASCII has
    // no byte below 0x80, where real non-ASCII text keeps its ASCII spaces, digits and newlines.
    if (head_high > 0) {
      inverted = head_high * 1000 <= first.size() * limits::kInvertedTextHeadHighPerMille
                     ? inverted_high
                     : std::vector<ByteRange>{};
    }
    if (!inverted.empty()) {
      // ASCII at the start, and further on bytes that are ASCII text inverted (255 - b):
      // the rest of the file was bit-flipped in place. Real text in a legacy 8-bit encoding
      // inverts to control bytes, not to prose.
      report.integrity = Integrity::kDamaged;
      report.reasons.insert(report.reasons.begin(), "ASCII text whose bytes from " +
                                                        Hex(inverted[0].offset) +
                                                        " are inverted (255 - b) text");
      report.damaged_ranges = inverted;
      report.evidence = DamageEvidence::kTransformed;
      return report;
    }
    // A random run where the file starts: its first bytes encrypted (a head-only layout). Text
    // may hold one short random-looking run somewhere, not as its first bytes.
    const bool head_encrypted = !random_clusters.empty() && random_clusters.front().offset < 32 &&
                                random_clusters.front().length >= 32;
    const bool damaged =
        random_clusters.size() >= 2 || random_bytes >= 96 || footer_only || head_encrypted;
    if (!damaged) {
      if (!random_clusters.empty()) {
        report.reasons.push_back("one short random-looking run at " +
                                 Hex(random_clusters[0].offset) + " tolerated");
      }
      return report;
    }
    report.integrity = Integrity::kDamaged;
    report.evidence = DamageEvidence::kRandom;  // clusters that passed the occupancy test
    if (footer_only) report.structure_end = random_clusters[0].offset;
    // The finding first (the analyzer folds the first reason into its damage line).
    report.reasons.insert(report.reasons.begin(),
                          "text file: " + std::to_string(hit_blocks) + " of " +
                              std::to_string(sampled_blocks) +
                              " sampled blocks contain binary random data (first at " +
                              Hex(random_clusters[0].offset) + ")");
    // Clusters of intermittent damage hold text between their chunks: how much is random is
    // estimated from their non-ASCII bytes, so that the analyzer tells partial from whole-file
    // encryption.
    if (!utf16) {
      report.damaged_bytes = std::max<uint64_t>(1, RandomBytesFromNonAscii(random_non_ascii));
    }
    // Merge nearby clusters (intermittent patterns give thousands) into a bounded range list.
    for (const Cluster& c : random_clusters) {
      if (!report.damaged_ranges.empty() &&
          c.offset <= report.damaged_ranges.back().end() + limits::kFineBlockBytes) {
        ByteRange& last = report.damaged_ranges.back();
        last.length = std::max(last.end(), c.end()) - last.offset;
      } else if (report.damaged_ranges.size() < 256) {
        report.damaged_ranges.push_back({c.offset, c.length});
      }
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeTextValidator() {
  return std::make_unique<TextValidator>();
}

}  // namespace steen::content
