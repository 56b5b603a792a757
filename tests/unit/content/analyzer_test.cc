#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <iconv.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

#include "content/block_stats.h"
#include "content/evasion.h"
#include "content/format.h"
#include "content/formats/system_formats.h"
#include "content/reader.h"
#include "content/sampling.h"
#include "steen/content.h"
#include "steen/limits.h"
#include "unit/content/test_bytes.h"

namespace steen {
namespace {

using testing::Base64Encode;
using testing::CpioEnd;
using testing::CpioEntry;
using testing::HexEncode;
using testing::ProseText;
using testing::RandomBytes;
using testing::StoredZip;
using testing::TarEnd;
using testing::TarEntry;
using testing::TarHeader;
using testing::ToneWav;

Analysis AnalyzeBytes(const std::string& bytes, bool deep = false) {
  static const ContentAnalyzer analyzer;
  MemoryByteSource source(bytes);
  AnalyzeOptions options;
  options.deep = deep;
  auto result = analyzer.Analyze(source, options);
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : Analysis{};
}

std::string Joined(const Analysis& a) {
  std::string s;
  for (const auto& r : a.reasons) s += r + "; ";
  return s;
}

std::string BrotliCompress(const std::string& plain) {
  std::size_t size = BrotliEncoderMaxCompressedSize(plain.size());
  std::string out(size, '\0');
  EXPECT_TRUE(BrotliEncoderCompress(BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_TEXT,
                                    plain.size(), reinterpret_cast<const uint8_t*>(plain.data()),
                                    &size, reinterpret_cast<uint8_t*>(out.data())));
  out.resize(size);
  return out;
}

// A raw Brotli file (a web server's precompressed .br: no signature, random-looking bytes) is
// recognised by decoding it to its end; one whose bytes were damaged or cut is not, and random
// bytes never are (4 of the 12 system files `scan` called damaged were .br files).
TEST(Analyzer, RawBrotliFilesAreDecodedToTheirEnd) {
  for (std::size_t plain_size : {20'000u, 600'000u}) {
    const std::string br = BrotliCompress(ProseText(plain_size) + RandomBytes(plain_size / 20, 3));
    ASSERT_GT(br.size(), plain_size / 20);
    const Analysis intact = AnalyzeBytes(br);
    EXPECT_EQ(intact.verdict, Verdict::kIntact) << br.size() << ": " << Joined(intact);
    EXPECT_EQ(intact.format, "brotli");
    std::string tail = br;
    const std::string noise = RandomBytes(std::min<std::size_t>(4096, br.size() / 4), 11);
    tail.replace(tail.size() - noise.size(), noise.size(), noise);
    EXPECT_EQ(AnalyzeBytes(tail).verdict, Verdict::kDamaged) << br.size();
    const Analysis footer = AnalyzeBytes(br + RandomBytes(1064, 12));
    EXPECT_EQ(footer.verdict, Verdict::kDamaged) << Joined(footer);
    EXPECT_EQ(footer.format, "brotli");
    EXPECT_EQ(AnalyzeBytes(br.substr(0, br.size() / 2)).verdict, Verdict::kDamaged)
        << "a stream without its end is not told from random bytes";
  }
  for (uint32_t seed = 0; seed < 3000; ++seed) {
    const Analysis random = AnalyzeBytes(RandomBytes(200 + seed * 7, 5000 + seed));
    ASSERT_NE(random.format, "brotli") << seed << ": " << Joined(random);
  }
}

TEST(BlockStats, RandomBytesAreUniformTextIsNot) {
  const auto random = content::ComputeBlockStats(RandomBytes(65536));
  EXPECT_GT(random.entropy, 7.99);
  EXPECT_TRUE(content::LooksLikeCiphertext(random));
  const auto text = content::ComputeBlockStats(ProseText(65536));
  EXPECT_LT(text.entropy, 5.5);
  EXPECT_FALSE(content::LooksLikeCiphertext(text));
  EXPECT_GT(text.printable, 0.9);
}

TEST(BlockStats, ChiSquarePValueIsCalibrated) {
  EXPECT_NEAR(content::ChiSquarePValue255(255.0), 0.49, 0.03);
  EXPECT_LT(content::ChiSquarePValue255(400.0), 1e-5);
  EXPECT_GT(content::ChiSquarePValue255(200.0), 0.99);
  // Random blocks: p-values spread over (0, 1), most of them far from 0.
  int tiny = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    if (content::ComputeBlockStats(RandomBytes(4096, seed)).chi_p < 1e-4) ++tiny;
  }
  EXPECT_LE(tiny, 1);
}

// The one-pass bound on the high-byte share that LooksRandom checks first never changes its
// answer: whenever it rules a block out, the full histogram test rules it out too.
TEST(BlockStats, TheHighByteBoundOnlyRulesOutWhatTheHistogramWould) {
  EXPECT_LT(content::ChiSquarePValue255(content::kChiSquareNeverUniform), 1e-4);
  EXPECT_FALSE(content::HalvesRuleOutUniform(RandomBytes(4096, 3)));
  EXPECT_TRUE(content::HalvesRuleOutUniform(ProseText(4096)));
  int ruled_out = 0;
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    // Random bytes with a share of them forced below 0x80, from none to all: the bound's edge.
    std::string block = RandomBytes(4096, seed);
    const std::size_t forced = (seed * 37) % 2800;
    for (std::size_t i = 0; i < forced; ++i) block[i] = static_cast<char>(block[i] & 0x7f);
    const bool full =
        content::LooksRandom(block, content::ComputeBlockStats(block));  // no bound used
    if (content::HalvesRuleOutUniform(block)) {
      ++ruled_out;
      EXPECT_FALSE(full) << "seed " << seed;
    }
    EXPECT_EQ(content::LooksRandom(block), full) << "seed " << seed;
  }
  EXPECT_GT(ruled_out, 100) << "the bound was exercised";
  EXPECT_LT(ruled_out, 400) << "and its edge too";
}

TEST(BlockStats, ShortSpanRandomnessByDistinctCount) {
  EXPECT_TRUE(content::ShortSpanLooksRandom(RandomBytes(64, 7)));
  EXPECT_TRUE(content::ShortSpanLooksRandom(RandomBytes(1064, 8)));
  EXPECT_FALSE(content::ShortSpanLooksRandom(ProseText(64)));
  EXPECT_FALSE(content::ShortSpanLooksRandom(std::string(100, '\0')));
  EXPECT_FALSE(content::ShortSpanLooksRandom(RandomBytes(16)));  // too short to judge
}

// `span` random bytes of every `period` from `from` on.
std::string Interleaved(std::string bytes, std::size_t from, std::size_t span, std::size_t period) {
  const std::string noise = RandomBytes(bytes.size(), 23);
  for (std::size_t at = from; at < bytes.size(); at += period) {
    for (std::size_t i = at; i < std::min(bytes.size(), at + span); ++i) bytes[i] = noise[i];
  }
  return bytes;
}

// Structured bytes: little-endian counters and a slow ramp, as tables and pictures hold.
std::string Structured(std::size_t n) {
  std::string out;
  for (uint32_t i = 0; out.size() < n; ++i) {
    out.append(reinterpret_cast<const char*>(&i), 4);
    out.push_back(static_cast<char>(i / 7));
    out.push_back(static_cast<char>(0));
  }
  out.resize(n);
  return out;
}

// The cell test (vector code for 16 bytes) against its definition: at least 14 distinct values
// and at most 12 printable ones, on random cells, cells with repeats, and text.
TEST(BlockStats, CellTestMatchesItsDefinition) {
  std::mt19937_64 rng(5);
  for (int n = 0; n < 200000; ++n) {
    std::string cell(16, '\0');
    const int alphabet = n % 4 == 0 ? 256 : n % 4 == 1 ? 20 : n % 4 == 2 ? 95 : 12;
    for (char& c : cell) {
      const auto r = static_cast<int>(rng() % static_cast<uint64_t>(alphabet));
      c = static_cast<char>(alphabet == 95 ? 0x20 + r : alphabet == 12 ? 0x7a + r : r * 13);
    }
    if (n % 7 == 0) cell[rng() % 16] = cell[rng() % 16];  // an extra repeat
    bool seen[256] = {};
    int distinct = 0;
    int printable = 0;
    for (unsigned char c : cell) {
      distinct += seen[c] ? 0 : 1;
      seen[c] = true;
      printable += c >= 0x20 && c < 0x7f ? 1 : 0;
    }
    ASSERT_EQ(content::CellLooksRandom(cell), distinct >= 14 && printable <= 12)
        << "distinct " << distinct << " printable " << printable;
  }
}

TEST(BlockStats, RandomCellsAtAFixedPeriodAreFound) {
  const std::string base = Structured(65536);
  for (const auto& [from, span, period] :
       {std::tuple<std::size_t, std::size_t, std::size_t>{0, 16, 32},
        {8, 16, 32},
        {0, 64, 192},
        {4096, 32, 128}}) {
    const auto found = content::FindPeriodicRandomCells(Interleaved(base, from, span, period));
    ASSERT_TRUE(found.has_value()) << from << " " << span << " of " << period;
    EXPECT_EQ(found->period, period);
    EXPECT_GE(found->runs, 16u);
  }
  // Random throughout, structure throughout, text, and records whose random-looking field is a
  // counter (its bytes together are not uniform): no stride of ciphertext.
  EXPECT_FALSE(content::FindPeriodicRandomCells(RandomBytes(65536, 3)).has_value());
  EXPECT_FALSE(content::FindPeriodicRandomCells(base).has_value());
  EXPECT_FALSE(content::FindPeriodicRandomCells(ProseText(65536)).has_value());
  std::string records;
  for (uint32_t i = 0; records.size() < 65536; ++i) {
    for (uint32_t k = 0; k < 4; ++k) {
      const uint32_t field = (i * 2654435761u) ^ (k * 40503u);  // 16 distinct-looking bytes
      records.append(reinterpret_cast<const char*>(&field), 4);
    }
    records += std::string(16, '\0');
  }
  EXPECT_FALSE(content::FindPeriodicRandomCells(records).has_value());
}

// The Reader serves every read it can from what it already holds, whatever the number of small
// chunks (a walk over thousands of element headers), and its bytes are the file's.
TEST(Reader, CachedReadsAreServedWithoutRereading) {
  class CountingSource final : public ByteSource {
   public:
    explicit CountingSource(std::string_view bytes) : inner_(bytes), size_(bytes.size()) {}
    uint64_t Size() const override { return size_; }
    Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override {
      ++reads;
      return inner_.ReadAt(offset, length, out);
    }
    int reads = 0;

   private:
    MemoryByteSource inner_;
    uint64_t size_;
  };
  const std::string bytes = RandomBytes(1 << 20, 8);
  CountingSource source(bytes);
  content::Reader reader(source, limits::kAnalysisReadBudget);
  ASSERT_TRUE(reader.Read(0, 65536).ok());
  for (uint64_t at = 70000; at + 12 < bytes.size(); at += 200)
    ASSERT_TRUE(reader.Read(at, 12).ok());
  const int after_first_pass = source.reads;
  EXPECT_EQ(after_first_pass, 1 + static_cast<int>((bytes.size() - 12 - 70000 + 199) / 200));
  for (uint64_t at = 70000; at + 12 < bytes.size(); at += 200) {
    auto again = reader.Read(at + 2, 8);  // inside a small chunk
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, std::string_view(bytes).substr(at + 2, 8));
  }
  for (uint64_t at = 0; at + 100 < 65536; at += 997) {
    auto in_head = reader.Read(at, 100);  // inside the large chunk
    ASSERT_TRUE(in_head.ok());
    EXPECT_EQ(*in_head, std::string_view(bytes).substr(at, 100));
  }
  EXPECT_EQ(source.reads, after_first_pass);
}

TEST(Sampling, SmallFilesAreReadWholeLargeFilesSampled) {
  auto plan = content::PlanSamples(1000);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (ByteRange{0, 1000}));
  const uint64_t size = 100ull * 1024 * 1024;
  plan = content::PlanSamples(size);
  ASSERT_GE(plan.size(), 3u);
  EXPECT_EQ(plan.front().offset, 0u);
  EXPECT_EQ(plan.back().end(), size);
  uint64_t total = 0;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    total += plan[i].length;
    if (i > 0) EXPECT_GE(plan[i].offset, plan[i - 1].end());
  }
  EXPECT_LT(total, 1024u * 1024u);
}

TEST(Evasion, DetectsBase64AndHexButNotProse) {
  const std::string random = RandomBytes(3000);
  EXPECT_EQ(content::DetectTextEncoding(Base64Encode(random)), content::TextEncoding::kBase64);
  EXPECT_EQ(content::DetectTextEncoding(Base64Encode(random, 0)), content::TextEncoding::kBase64);
  EXPECT_EQ(content::DetectTextEncoding(HexEncode(random)), content::TextEncoding::kHex);
  EXPECT_EQ(content::DetectTextEncoding(ProseText(4000)), content::TextEncoding::kNone);
  EXPECT_EQ(content::DecodeBase64Prefix(Base64Encode(random), 1 << 20), random);
  EXPECT_EQ(content::DecodeHexPrefix(HexEncode(random), 1 << 20), random);
}

TEST(Analyzer, EmptyFileIsIntact) {
  const Analysis a = AnalyzeBytes("");
  EXPECT_EQ(a.verdict, Verdict::kIntact);
  EXPECT_EQ(a.format, "empty");
}

TEST(Analyzer, RandomFileIsEncrypted) {
  for (std::size_t size : {200u, 5000u, 300000u, 3u * 1024u * 1024u}) {
    const Analysis a = AnalyzeBytes(RandomBytes(size, size));
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << size << ": " << Joined(a);
    EXPECT_EQ(a.kind, DamageKind::kEncrypted) << size << ": " << Joined(a);
    EXPECT_GE(a.score, 0.9);
    EXPECT_FALSE(a.reasons.empty());
  }
}

// A gzip file of `data` (level 0 on random data: stored blocks, random bytes in a valid stream).
std::string Gzip(const std::string& data, int level = 6) {
  return testing::Deflated(data, level, 15 + 16, 8);
}

// An encrypted container says so (the watcher tells "a document became ciphertext" by it); a
// compressed file, random as it is, and a random file are no containers.
TEST(Analyzer, EncryptedContainersAreMarkedAsSuch) {
  const Analysis openssl = AnalyzeBytes("Salted__" + RandomBytes(8 + 50000, 3));
  EXPECT_EQ(openssl.verdict, Verdict::kIntact) << Joined(openssl);
  EXPECT_EQ(openssl.format, "openssl-enc");
  EXPECT_TRUE(openssl.encrypted_container);
  EXPECT_FALSE(AnalyzeBytes(RandomBytes(50000, 4)).encrypted_container);
  EXPECT_FALSE(AnalyzeBytes(Gzip(RandomBytes(50000, 5), 0)).encrypted_container);
  EXPECT_FALSE(AnalyzeBytes("plain words, nothing hidden\n").encrypted_container);
}

// A tar of compressed files is mostly random bytes, and intact: each member is judged as the
// file it is (a backup tar of .gz files, photos or PDFs). It was called damaged while the tar's
// own block map judged it ("62% of blocks random inside a tar file").
TEST(Analyzer, TarOfCompressedFilesIsIntact) {
  std::string tar;
  for (int i = 0; i < 6; ++i) {
    tar +=
        TarEntry("backup/part" + std::to_string(i) + ".gz", Gzip(RandomBytes(100000, 40 + i), 0));
  }
  tar += TarEntry("backup/README", ProseText(3000));
  tar += TarEnd();
  const Analysis a = AnalyzeBytes(tar);
  EXPECT_EQ(a.format, "tar");
  EXPECT_EQ(a.verdict, Verdict::kIntact) << Joined(a);
  EXPECT_EQ(AnalyzeBytes(tar, /*deep=*/true).verdict, Verdict::kIntact);
}

// 64 KiB of ciphertext in the middle of a large gzip member: the default analysis checks the
// member's first 64 KiB and its end, and --deep reads every byte but decodes no more; --verify
// decodes it whole against its CRC-32.
TEST(Analyzer, VerifyFindsCiphertextInTheMiddleOfAGzipMember) {
  std::string gz = Gzip(ProseText(8000000, 13));
  ASSERT_GT(gz.size(), limits::kMaxGzipEndSearch);
  gz.replace(gz.size() / 3, 65536, RandomBytes(65536, 14));
  static const ContentAnalyzer analyzer;
  const auto analyze = [&](bool deep, bool verify) {
    MemoryByteSource source(gz);
    AnalyzeOptions options;
    options.deep = deep;
    options.verify_streams = verify;
    auto result = analyzer.Analyze(source, options);
    EXPECT_TRUE(result.ok());
    return result.ok() ? *result : Analysis{};
  };
  EXPECT_EQ(analyze(false, false).verdict, Verdict::kIntact);  // LIMITS.md
  EXPECT_EQ(analyze(true, false).verdict, Verdict::kIntact);
  for (const bool deep : {false, true}) {
    const Analysis verified = analyze(deep, true);
    EXPECT_EQ(verified.verdict, Verdict::kDamaged) << Joined(verified);
    EXPECT_NE(Joined(verified).find("--verify"), std::string::npos) << Joined(verified);
  }
}

// ...while a member whose body was encrypted is found, and named.
TEST(Analyzer, TarMemberEncryptedAfterItsHeadIsDamaged) {
  std::string letter = ProseText(300000, 5);
  letter.replace(4096, std::string::npos, RandomBytes(letter.size() - 4096, 6));
  const std::string tar = TarEntry("docs/plan.txt", ProseText(200000, 4)) +
                          TarEntry("docs/letter.txt", letter) +
                          TarEntry("docs/data.gz", Gzip(ProseText(50000, 7))) + TarEnd();
  const Analysis a = AnalyzeBytes(tar);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  ASSERT_FALSE(a.reasons.empty());
  EXPECT_NE(a.reasons[0].find("member 'docs/letter.txt'"), std::string::npos) << Joined(a);
  // The members' reads are the tar's reads, in its offsets.
  EXPECT_GT(a.bytes_read, 0u);
  for (const ByteRange& r : a.ranges_read) EXPECT_LE(r.end(), tar.size());
}

// A ZIP's stored entries (pictures in ODF documents, `zip -0`) are judged as files of their own,
// like a tar's members: 64 KiB of ciphertext in the middle of a stored recording was unseen (the
// directory, the local headers and the CRC of small stored entries were all the ZIP checks).
TEST(Analyzer, ZipStoredEntryEncryptedInItsMiddleIsDamaged) {
  const std::string recording = ToneWav(20);  // 320 KB of 16-bit samples
  const std::string notes = ProseText(30000, 11);
  const std::string zip = StoredZip({{"notes.txt", notes}, {"Media/tone.wav", recording}});
  const Analysis intact = AnalyzeBytes(zip);
  EXPECT_EQ(intact.format, "zip");
  EXPECT_EQ(intact.verdict, Verdict::kIntact) << Joined(intact);

  std::string damaged_recording = recording;
  damaged_recording.replace(recording.size() / 2, 65536, RandomBytes(65536, 12));
  const Analysis damaged =
      AnalyzeBytes(StoredZip({{"notes.txt", notes}, {"Media/tone.wav", damaged_recording}}));
  EXPECT_EQ(damaged.verdict, Verdict::kDamaged) << Joined(damaged);
  ASSERT_FALSE(damaged.reasons.empty());
  EXPECT_NE(damaged.reasons[0].find("member 'Media/tone.wav'"), std::string::npos)
      << Joined(damaged);

  // Raw bytes an application stores (zarr's compressed array chunks) name no format: not judged
  // as files (5 corpus ZIPs were called damaged before this rule).
  const Analysis raw = AnalyzeBytes(
      StoredZip({{".zarray", notes.substr(0, 300)}, {"data/0.0", RandomBytes(40000, 13)}}));
  EXPECT_EQ(raw.verdict, Verdict::kIntact) << Joined(raw);
}

// GNU long names ('L' entries) name the member that follows.
TEST(Analyzer, TarMemberNamedByGnuLongName) {
  const std::string name(150, 'n');
  const std::string long_name_entry = TarHeader("././@LongLink", name.size() + 1, 'L') + name +
                                      std::string(512 - name.size() - 1 + 1, '\0');
  const std::string tar = long_name_entry + TarEntry("short", RandomBytes(20000, 8)) + TarEnd();
  const Analysis a = AnalyzeBytes(tar);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  ASSERT_FALSE(a.reasons.empty());
  EXPECT_NE(a.reasons[0].find("member '" + name + "'"), std::string::npos) << Joined(a);
}

// Tars in tars are judged member by member down to kMaxMemberDepth containers; deeper ones by
// their structure alone (a bound on the work a hostile file can ask for).
TEST(Analyzer, NestedTarsAreJudgedToABoundedDepth) {
  const std::string random_member = TarEntry("x.bin", RandomBytes(20000, 9)) + TarEnd();
  std::string nested = random_member;
  for (int depth = 1; depth < limits::kMaxMemberDepth; ++depth) {
    nested = TarEntry("inner.tar", nested) + TarEnd();
  }
  EXPECT_EQ(AnalyzeBytes(nested).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(nested));
  const std::string deeper = TarEntry("outer.tar", nested) + TarEnd();
  EXPECT_EQ(AnalyzeBytes(deeper).verdict, Verdict::kIntact) << Joined(AnalyzeBytes(deeper));
}

// cpio (initramfs images, RPM payloads) is judged like tar: its members as files of their own.
TEST(Analyzer, CpioMembersAreJudgedAsFiles) {
  std::string cpio = CpioEntry("lib", "", 040755) +
                     CpioEntry("lib/modules/a.ko.gz", Gzip(RandomBytes(150000, 21), 0)) +
                     CpioEntry("etc/motd", ProseText(40000, 22));
  cpio += CpioEnd(cpio.size());
  Analysis a = AnalyzeBytes(cpio);
  EXPECT_EQ(a.format, "cpio");
  EXPECT_EQ(a.verdict, Verdict::kIntact) << Joined(a);
  // An initramfs: this cpio, then a compressed one after the trailer's padding.
  EXPECT_EQ(AnalyzeBytes(cpio + Gzip(ProseText(100000, 23))).verdict, Verdict::kIntact);
  // A member encrypted after its first 4 KiB is found and named.
  std::string motd = ProseText(200000, 24);
  motd.replace(4096, std::string::npos, RandomBytes(motd.size() - 4096, 25));
  std::string damaged = CpioEntry("etc/motd", motd);
  damaged += CpioEnd(damaged.size());
  a = AnalyzeBytes(damaged);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_NE(Joined(a).find("member 'etc/motd'"), std::string::npos) << Joined(a);
  // Random bytes where the second header must be: ciphertext.
  std::string broken = cpio;
  const std::size_t second = CpioEntry("lib", "", 040755).size();
  broken.replace(second, 4096, RandomBytes(4096, 26));
  a = AnalyzeBytes(broken);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  // Cut short: unknown, as a truncated file is.
  EXPECT_EQ(AnalyzeBytes(cpio.substr(0, 100000)).verdict, Verdict::kUnknown);
}

TEST(Analyzer, ProseIsIntact) {
  const Analysis a = AnalyzeBytes(ProseText(200000));
  EXPECT_EQ(a.verdict, Verdict::kIntact) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kNone);
}

TEST(Analyzer, Base64CiphertextIsEncodedCiphertext) {
  const Analysis a = AnalyzeBytes(Base64Encode(RandomBytes(100000)));
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kEncodedCiphertext);
  const Analysis h = AnalyzeBytes(HexEncode(RandomBytes(50000)));
  EXPECT_EQ(h.verdict, Verdict::kDamaged) << Joined(h);
  EXPECT_EQ(h.kind, DamageKind::kEncodedCiphertext);
}

// UTF-16BE text mixing ASCII markup and Hangul (a Korean man page, no byte-order mark) is mostly
// high bytes, like inverted text, and every 94th character ASCII puts a zero every 188 bytes:
// XORed with 0x47 that read as MPEG-TS sync bytes ("bit_transformed"). It is text.
TEST(Analyzer, HangulUtf16TextIsNotTransformedMpegTs) {
  std::mt19937 rng(3);
  const std::string_view ascii = "abcdefghij klmnop.";
  std::string text;
  for (int unit = 0; unit < 60; ++unit) {
    for (int i = 0; i < 50; ++i) {  // a line of ASCII: a zero high byte
      text.push_back('\0');
      text.push_back(i == 49 ? '\n' : ascii[rng() % ascii.size()]);
    }
    for (int i = 0; i < 44; ++i) {  // Hangul syllables, U+AC00 to U+D7A3
      const unsigned syllable = 0xAC00 + rng() % 11172;
      text.push_back(static_cast<char>(syllable >> 8));
      text.push_back(static_cast<char>(syllable & 0xff));
    }
  }
  const Analysis a = AnalyzeBytes(text);
  EXPECT_EQ(a.verdict, Verdict::kIntact) << Joined(a);
  EXPECT_EQ(a.format, "text") << Joined(a);
}

TEST(Analyzer, Base64OfTextIsNotDamaged) {
  const Analysis a = AnalyzeBytes(Base64Encode(ProseText(30000)));
  EXPECT_NE(a.verdict, Verdict::kDamaged) << Joined(a);
}

// Text XORed with a key other than 0xFF that moves it into the high half is transformed too.
TEST(Analyzer, TextXoredWithAHighKeyIsBitTransformed) {
  std::string text;
  for (int i = 0; text.size() < 30000; ++i) {
    text += "Line " + std::to_string(i) + ": the minutes of the meeting and the budget.\n";
  }
  for (uint8_t key : {0x9c, 0xc3}) {
    std::string x = text;
    for (char& c : x) c = static_cast<char>(static_cast<uint8_t>(c) ^ key);
    const Analysis a = AnalyzeBytes(x);
    EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << int{key} << ": " << Joined(a);
  }
}

TEST(Analyzer, BitFlippedTextIsBitTransformed) {
  std::string text = ProseText(50000);
  for (char& c : text) c = static_cast<char>(255 - static_cast<unsigned char>(c));
  const Analysis a = AnalyzeBytes(text);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);
}

TEST(Analyzer, FirstBytesEncryptedOfUnknownFormatIsDamaged) {
  // Structured binary with no known signature whose first 4 KiB were encrypted.
  std::string bytes;
  for (int i = 0; i < 20000; ++i) bytes += std::string("\x01\x00\x00\x00rec", 7) + char(i & 0x7f);
  const std::string head = RandomBytes(8192, 9);
  std::copy(head.begin(), head.end(), bytes.begin());
  const Analysis a = AnalyzeBytes(bytes);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kPartiallyEncrypted) << Joined(a);
}

TEST(Analyzer, DefaultReadsLittleOfLargeFilesDeepReadsAll) {
  const std::string bytes = RandomBytes(8u * 1024u * 1024u, 3);
  const Analysis quick = AnalyzeBytes(bytes);
  EXPECT_LT(quick.bytes_read, bytes.size() / 8);
  ASSERT_FALSE(quick.ranges_read.empty());
  EXPECT_EQ(quick.ranges_read.front().offset, 0u);
  EXPECT_EQ(quick.ranges_read.back().end(), bytes.size());
  const Analysis deep = AnalyzeBytes(bytes, /*deep=*/true);
  ASSERT_EQ(deep.ranges_read.size(), 1u);
  EXPECT_EQ(deep.ranges_read[0], (ByteRange{0, bytes.size()}));
  EXPECT_EQ(deep.verdict, Verdict::kDamaged);
}

TEST(Analyzer, ToStringNamesMatchTheReportVocabulary) {
  EXPECT_EQ(ToString(Verdict::kDamaged), "damaged");
  EXPECT_EQ(ToString(DamageKind::kPartiallyEncrypted), "partially_encrypted");
  EXPECT_EQ(ToString(DamageKind::kEncodedCiphertext), "encoded_ciphertext");
  EXPECT_EQ(ToString(DamageKind::kBitTransformed), "bit_transformed");
}

}  // namespace
}  // namespace steen

namespace steen {
namespace {

TEST(Analyzer, Utf32TextIsNotMistakenForBitTransformedText) {
  std::string utf32;
  for (char c : testing::ProseText(20000)) {
    utf32 += c;
    utf32 += std::string(3, '\0');
  }
  const Analysis a = AnalyzeBytes(utf32);
  EXPECT_NE(a.verdict, Verdict::kDamaged) << Joined(a);
}

}  // namespace
}  // namespace steen

namespace steen {
namespace {

// A structured binary record file with no signature steen knows.
std::string RecordFile(std::size_t records) {
  std::string bytes;
  for (std::size_t i = 0; i < records; ++i) {
    bytes +=
        std::string("\x02\x00\x00\x00item", 8) + static_cast<char>(i & 0x3f) + std::string(7, '\0');
  }
  return bytes;
}

std::string Interleave(std::string bytes, std::size_t encrypt, std::size_t keep) {
  const std::string noise = testing::RandomBytes(bytes.size(), 77);
  for (std::size_t pos = 0; pos < bytes.size(); pos += encrypt + keep) {
    for (std::size_t i = pos; i < std::min(bytes.size(), pos + encrypt); ++i) bytes[i] = noise[i];
  }
  return bytes;
}

TEST(Analyzer, IntermittentEncryptionOfUnknownBinaryIsDamaged) {
  for (auto [encrypt, keep] :
       {std::pair<std::size_t, std::size_t>{16, 16}, {16, 48}, {64, 128}, {666, 666}, {100, 900}}) {
    const Analysis a = AnalyzeBytes(Interleave(RecordFile(20000), encrypt, keep));
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << encrypt << "/" << keep << ": " << Joined(a);
  }
  EXPECT_EQ(AnalyzeBytes(RecordFile(20000)).verdict, Verdict::kIntact);
}

// Text (Latin prose, Greek UTF-8, CSV) with every other 16 bytes encrypted, starting at 0 or at
// 16: whichever cell comes first, and whether or not the first cell passes as random, the mix of
// text cells and random cells is damage. The same texts whole are intact.
TEST(Analyzer, TextWithInterleavedCiphertextIsDamagedWhereverItStarts) {
  std::string greek;
  while (greek.size() < 30000) greek += "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.\n";
  std::string csv = "code,meaning,unit\n";
  for (int i = 0; csv.size() < 30000; ++i)
    csv += std::to_string(i) + ",Reserved " + std::to_string(i * 7) + ",K\n";
  for (const std::string& text : {ProseText(30000), greek, csv}) {
    EXPECT_EQ(AnalyzeBytes(text).verdict, Verdict::kIntact);
    for (std::size_t start : {std::size_t{0}, std::size_t{16}}) {
      for (std::size_t keep : {std::size_t{16}, std::size_t{48}}) {  // 1 of 2, 1 of 4 cells
        std::string damaged = text.substr(0, start) + Interleave(text.substr(start), 16, keep);
        const Analysis a = AnalyzeBytes(damaged);
        EXPECT_EQ(a.verdict, Verdict::kDamaged)
            << "16 of " << 16 + keep << " from " << start << ": " << Joined(a);
      }
    }
  }
}

// A real file of a validated format: this test's own executable (ELF).
std::string OwnExecutable() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Inverted(std::string bytes, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < std::min(to, bytes.size()); ++i) {
    bytes[i] = static_cast<char>(255 - static_cast<unsigned char>(bytes[i]));
  }
  return bytes;
}

// Variants of the evasions whose parameters differ from the families' (found by a sweep of
// layouts): each was intact or unknown before.
TEST(Analyzer, OnlyTheHeaderBitFlippedIsDamaged) {
  const std::string elf = OwnExecutable();
  ASSERT_GT(elf.size(), 100000u);
  ASSERT_EQ(AnalyzeBytes(elf).verdict, Verdict::kIntact) << Joined(AnalyzeBytes(elf));
  const Analysis a = AnalyzeBytes(Inverted(elf, 0, 4096));
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);
}

// The first bytes of a small file overwritten (a chunk of 1% at offset 0: one byte of its
// signature): no signature matches, the content is not random, yet with the signature put back
// the rest is a valid file of that format. An unknown file whose bytes happen to end like a
// signature is left alone: the rest is not that format.
TEST(Analyzer, AnOverwrittenSignatureIsDamagedWhenTheRestIsValid) {
  const std::string elf = OwnExecutable();
  ASSERT_EQ(AnalyzeBytes(elf).verdict, Verdict::kIntact) << Joined(AnalyzeBytes(elf));
  std::string first_byte_gone = elf;
  first_byte_gone[0] = '\x3c';
  const Analysis a = AnalyzeBytes(first_byte_gone);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kOverwritten) << Joined(a);
  EXPECT_EQ(a.format, "elf") << Joined(a);
  EXPECT_NE(Joined(a).find("signature overwritten (its first 1 of 4 bytes)"), std::string::npos)
      << Joined(a);

  std::string look_alike = std::string("?ELF") + std::string(3000, '\x01');
  for (std::size_t i = 4; i < look_alike.size(); i += 7) look_alike[i] = static_cast<char>(i);
  const Analysis b = AnalyzeBytes(look_alike);
  EXPECT_NE(b.verdict, Verdict::kDamaged) << Joined(b);
  EXPECT_EQ(Joined(b).find("signature overwritten"), std::string::npos) << Joined(b);
}

// Everything after the header bit-flipped: the header parses, the structure further on does not,
// and what is there is the executable's own zero-rich content turned into 0xFF-rich bytes.
TEST(Analyzer, BodyBitFlippedAfterAnIntactHeaderIsBitTransformed) {
  const std::string elf = OwnExecutable();
  const Analysis a = AnalyzeBytes(Inverted(elf, 4096, elf.size()));
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);
  // The same structure broken by text written over its end is corruption, not a transform.
  std::string overwritten = elf;
  const std::string text = ProseText(20000);
  overwritten.replace(elf.size() - text.size(), text.size(), text);
  EXPECT_NE(AnalyzeBytes(overwritten).kind, DamageKind::kBitTransformed)
      << Joined(AnalyzeBytes(overwritten));
}

// Random bytes inside a part of an executable that is never random (its symbol or string
// table), in a format whose other parts may be: damage, where a minority of random blocks alone
// is not.
TEST(Analyzer, RandomBytesInsideAnExecutablesTablesAreDamage) {
  const std::string elf = OwnExecutable();
  MemoryByteSource source(elf);
  content::Reader reader(source, limits::kAnalysisReadBudget);
  const content::FormatReport report = content::MakeElfValidator()->Validate(reader);
  ASSERT_FALSE(report.never_random.empty());
  // The declared part nearest the end (the tail is always read), 16 KiB or longer.
  const content::NeverRandomRange* last = nullptr;
  for (const auto& part : report.never_random) {
    if (part.range.length >= 16384 && (last == nullptr || part.range.end() > last->range.end())) {
      last = &part;
    }
  }
  ASSERT_NE(last, nullptr);
  ASSERT_GT(last->range.end() + limits::kTailBytes, elf.size()) << last->what;
  std::string damaged = elf;
  damaged.replace(last->range.end() - 12288, 12288, RandomBytes(12288, 17));
  const Analysis a = AnalyzeBytes(damaged);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_NE(Joined(a).find("which is never random"), std::string::npos) << Joined(a);
}

// 16 of every 32 bytes after an intact first 64 KiB (LockFile-like): the WAV's chunks still
// chain and no 4 KiB block is random, but its samples hold random cells every 32 bytes. (A quiet
// recording: a loud tone's 16-byte cells look random themselves, and then nothing shows.)
TEST(Analyzer, FineStrideAfterAnIntactHeadIsDamaged) {
  const std::string wav = ToneWav(4, 44100, 300);
  ASSERT_EQ(AnalyzeBytes(wav).verdict, Verdict::kIntact) << Joined(AnalyzeBytes(wav));
  const Analysis a = AnalyzeBytes(Interleaved(wav, 65536, 16, 32));
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kPartiallyEncrypted) << Joined(a);
  EXPECT_NE(Joined(a).find("every 32 bytes"), std::string::npos) << Joined(a);
}

// The same stride over a PDF of text objects: its end (xref table, %%EOF) is gone, which alone
// reads as a cut; the random cells every 32 bytes say encryption.
TEST(Analyzer, FineStrideThatCutsAStructureShortIsDamaged) {
  std::string pdf = "%PDF-1.4\n";
  std::vector<std::size_t> offsets;
  for (int i = 1; pdf.size() < 200000; ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i) + " 0 obj\n<< /Type /Annot /Subtype /Text /Rect [" +
           std::to_string(i % 600) + " " + std::to_string(i % 800) + " 20 20] /Contents (note " +
           std::to_string(i) + ") >>\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(offsets.size() + 1) + "\n0000000000 65535 f \n";
  for (std::size_t at : offsets) {
    std::string field = std::to_string(at);
    pdf += std::string(10 - field.size(), '0') + field + " 00000 n \n";
  }
  pdf += "trailer\n<< /Size " + std::to_string(offsets.size() + 1) + " >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  ASSERT_EQ(AnalyzeBytes(pdf).verdict, Verdict::kIntact) << Joined(AnalyzeBytes(pdf));
  const Analysis a = AnalyzeBytes(Interleaved(pdf, 65536, 16, 32));
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_NE(Joined(a).find("every 32 bytes"), std::string::npos) << Joined(a);
  // Cut short without encryption: unknown, as before.
  EXPECT_EQ(AnalyzeBytes(pdf.substr(0, pdf.size() - 5000)).verdict, Verdict::kUnknown);
}

TEST(Analyzer, Base64OfABitFlippedFileIsDamaged) {
  const std::string elf = OwnExecutable().substr(0, 200000);
  EXPECT_NE(AnalyzeBytes(Base64Encode(elf)).verdict, Verdict::kDamaged);
  for (const std::string& encoded : {Base64Encode(Inverted(elf, 0, elf.size())),
                                     Base64Encode(Inverted(elf, 0, elf.size()), 0)}) {
    const Analysis a = AnalyzeBytes(encoded);
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
    EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);
  }
}

TEST(Analyzer, TextWhoseFirstBytesAreEncryptedIsDamaged) {
  for (std::size_t encrypted : {256, 1024}) {
    std::string text = ProseText(400000);
    const std::string noise = RandomBytes(encrypted, encrypted);
    std::copy(noise.begin(), noise.end(), text.begin());
    const Analysis a = AnalyzeBytes(text);
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << encrypted << ": " << Joined(a);
  }
}

// The first pages kept, the rest encrypted: text is damaged; an unknown binary format with a
// random body may be a compressed payload, so it is unknown, never intact.
TEST(Analyzer, HeadKeptBodyEncryptedOfUnknownFormat) {
  for (std::size_t kept : {4096, 16384}) {
    std::string text = ProseText(400000);
    std::string binary = RecordFile(25000);
    text.replace(kept, text.size() - kept, RandomBytes(text.size() - kept, 5));
    binary.replace(kept, binary.size() - kept, RandomBytes(binary.size() - kept, 6));
    const Analysis t = AnalyzeBytes(text);
    EXPECT_EQ(t.verdict, Verdict::kDamaged) << kept << ": " << Joined(t);
    const Analysis b = AnalyzeBytes(binary);
    EXPECT_NE(b.verdict, Verdict::kIntact) << kept << ": " << Joined(b);
  }
}

// ASCII text whose first 4 KiB are kept and whose rest is inverted (255 - b) is damaged, small
// (read whole) or large (sampled); single-byte Greek text (ISO 8859-7: mostly high bytes) is not.
TEST(Analyzer, AsciiTextInvertedAfterItsHeadIsDamaged) {
  std::string ascii;
  for (int i = 0; ascii.size() < 400000; ++i) {
    ascii += "record " + std::to_string(i) + ": the quick brown fox jumps over the lazy dog\n";
  }
  for (std::size_t size : {std::size_t{60000}, std::size_t{400000}}) {
    const std::string text = ascii.substr(0, size);
    ASSERT_EQ(AnalyzeBytes(text).verdict, Verdict::kIntact);
    const Analysis a = AnalyzeBytes(Inverted(text, 4096, text.size()));
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << size << ": " << Joined(a);
  }
  // Numbers without blanks (a CSV export) inverted after its head: no prose, still text.
  std::string csv = "id,amount,balance\n";
  for (int i = 0; csv.size() < 60000; ++i) {
    csv += std::to_string(i) + "," + std::to_string(i * 37 % 1000) + "." + std::to_string(i % 100) +
           "," + std::to_string(i * 7919 % 100000) + "\n";
  }
  ASSERT_EQ(AnalyzeBytes(csv).verdict, Verdict::kIntact);
  for (const std::string& text : {ascii.substr(0, 60000), csv}) {
    const Analysis a = AnalyzeBytes(Inverted(text, 4096, text.size()));
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
    EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);
  }
  std::string greek = "Greek text in ISO 8859-7, a legacy single-byte encoding.\n";
  std::mt19937_64 rng(5);
  while (greek.size() < 60000) {
    for (int letters = 3 + static_cast<int>(rng() % 6); letters > 0; --letters) {
      greek += static_cast<char>(0xE1 + rng() % 25);
    }
    greek += rng() % 9 == 0 ? ".\n" : " ";
  }
  EXPECT_NE(AnalyzeBytes(greek).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(greek));
}

// Code or English text whose head holds a few non-ASCII characters (an author's name, a
// copyright sign in UTF-8), inverted after its first 4 KiB: damaged too. A head like that
// followed by real non-Latin text (a bilingual file: UTF-8 Greek, mostly high bytes) is not.
TEST(Analyzer, NearlyAsciiTextInvertedAfterItsHeadIsDamaged) {
  std::string code = "# Copyright \xc2\xa9 2024 Zo\xc3\xab Lef\xc3\xa8vre\n";
  for (int i = 0; code.size() < 60000; ++i) {
    code += "def handler_" + std::to_string(i) + "(event):\n    return event.get('key', None)\n";
  }
  ASSERT_EQ(AnalyzeBytes(code).verdict, Verdict::kIntact) << Joined(AnalyzeBytes(code));
  const Analysis a = AnalyzeBytes(Inverted(code, 4096, code.size()));
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);

  std::string bilingual = code.substr(0, 4096);
  std::mt19937_64 rng(6);
  while (bilingual.size() < 60000) {
    for (int letters = 3 + static_cast<int>(rng() % 6); letters > 0; --letters) {
      bilingual += "\xce";
      bilingual += static_cast<char>(0xb1 + rng() % 15);  // UTF-8 Greek small letters
    }
    bilingual += rng() % 9 == 0 ? ".\n" : " ";
  }
  EXPECT_NE(AnalyzeBytes(bilingual).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(bilingual));
}

// `utf8` converted to `encoding` with iconv ("" when the conversion is not available).
std::string Encode(const std::string& utf8, const char* encoding) {
  iconv_t cd = iconv_open(encoding, "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) return "";
  std::string out(utf8.size() * 4, '\0');
  char* in = const_cast<char*>(utf8.data());
  std::size_t in_left = utf8.size();
  char* dst = out.data();
  std::size_t out_left = out.size();
  const std::size_t rc = iconv(cd, &in, &in_left, &dst, &out_left);
  iconv_close(cd);
  if (rc == static_cast<std::size_t>(-1)) return "";
  out.resize(out.size() - out_left);
  return out;
}

std::string Sentences(const std::vector<std::string>& words, const std::string& between,
                      std::size_t size) {
  std::mt19937_64 rng(11);
  std::string text;
  while (text.size() < size) {
    for (int n = 3 + static_cast<int>(rng() % 9); n > 0; --n) {
      text += words[rng() % words.size()] + between;
    }
    text += "\n";
  }
  return text;
}

// Real text in other scripts and legacy encodings is not "a transformed file": under a key
// guessed from its statistics (its commonest lead byte XORed into a space) EUC-JP and GBK text
// read as printable, and inverted Cyrillic UTF-8 is 90% printable. All were reported damaged.
TEST(Analyzer, TextInOtherScriptsAndLegacyEncodingsIsIntact) {
  const std::string japanese =
      Sentences({"これは", "日本語の", "文章です。", "市役所の", "ファイルサーバーには", "多くの",
                 "文書が", "あります。", "会議録", "予算", "報告書", "契約書"},
                "", 30000);
  const std::string korean =
      Sentences({"안녕하세요", "우리는", "오늘", "학교에", "갑니다", "이것은", "한국어",
                 "문장입니다", "시청의", "파일", "서버에는", "많은", "문서가", "있습니다"},
                " ", 30000);
  const std::string chinese = Sentences({"这是", "中文", "句子。", "市政府的", "文件", "服务器上",
                                         "有很多", "文档，", "会议记录", "预算", "报告和合同。"},
                                        "", 30000);
  const std::string russian =
      Sentences({"это", "русский", "текст", "на", "файловом", "сервере", "города", "много",
                 "документов", "протоколы", "бюджет", "отчёты", "договоры"},
                " ", 30000);
  const std::vector<std::pair<std::string, const char*>> texts = {
      {japanese, "EUC-JP"}, {japanese, "SHIFT_JIS"}, {japanese, "UTF-8"},  {korean, "EUC-KR"},
      {korean, "UTF-8"},    {chinese, "GBK"},        {chinese, "GB18030"}, {chinese, "UTF-8"},
      {russian, "UTF-8"},   {russian, "KOI8-R"},     {russian, "CP1251"}};
  for (const auto& [utf8, encoding] : texts) {
    const std::string bytes = Encode(utf8, encoding);
    if (bytes.empty()) continue;  // no iconv module for it here
    const Analysis a = AnalyzeBytes(bytes);
    EXPECT_NE(a.verdict, Verdict::kDamaged) << encoding << ": " << Joined(a);
  }
}

// `input` through a command's stdin and stdout ("" when it fails).
std::string Filter(const std::string& command, const std::string& input) {
  char tmpl[] = "/tmp/steen-analyzer-test.XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) return "";
  (void)!::write(fd, input.data(), input.size());
  ::close(fd);
  std::string out;
  if (FILE* p = ::popen((command + " < " + tmpl + " 2>/dev/null").c_str(), "r")) {
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    if (::pclose(p) != 0) out.clear();
  }
  ::unlink(tmpl);
  return out;
}

// A shell script followed by its compressed payload (makeself and other self-extracting
// installers): xz and bzip2 streams look like ciphertext block by block, but they start right
// where the text ends, with their signature. The same text head over random bytes is damage.
// A python zipapp (a shell/python shebang line, then a ZIP): the payload is validated as a file
// of its own; the same script over a damaged ZIP is damaged.
TEST(Analyzer, ScriptWithAZipPayloadIsJudgedByItsPayload) {
  const std::string zip = Filter(
      "sh -c 'cd /tmp && rm -f steen-zipapp-test.zip && "
      "zip -q steen-zipapp-test.zip - && cat steen-zipapp-test.zip && "
      "rm -f steen-zipapp-test.zip'",
      ProseText(40000));
  if (zip.empty()) GTEST_SKIP() << "zip is not available";
  const std::string script = "#!/bin/sh\nexec python3 -I \"$0\" \"$@\"\n";
  const Analysis a = AnalyzeBytes(script + zip);
  EXPECT_EQ(a.verdict, Verdict::kIntact) << Joined(a);
  EXPECT_EQ(a.format, "script+zip");
  std::string broken = script + zip;
  const std::string noise = RandomBytes(broken.size() - script.size() - 200, 8);
  std::copy(noise.begin(), noise.end(), broken.begin() + static_cast<long>(script.size()) + 100);
  EXPECT_EQ(AnalyzeBytes(broken).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(broken));
}

TEST(Analyzer, SelfExtractingArchiveIsNotAnEncryptedBody) {
  std::string script = "#!/bin/sh\n# installer\n";
  while (script.size() < 6000)
    script += "echo \"unpacking the payload below\"; tail -n +42 \"$0\"\n";
  script += "exit 0\n__ARCHIVE_BELOW__\n";
  const std::string payload = RandomBytes(60000, 3) + ProseText(60000);
  for (const char* compressor : {"xz -c", "bzip2 -c"}) {
    const std::string compressed = Filter(compressor, payload);
    if (compressed.empty()) GTEST_SKIP() << compressor << " is not available";
    const Analysis a = AnalyzeBytes(script + compressed);
    EXPECT_NE(a.verdict, Verdict::kDamaged) << compressor << ": " << Joined(a);
  }
  EXPECT_EQ(AnalyzeBytes(script + RandomBytes(60000, 4)).verdict, Verdict::kDamaged);
}

// False positives found by scanning a Debian system's own files (/usr, /etc, /var/lib/dpkg: 534
// of 139,032 files were reported damaged; 13 after these fixes, all random data): each case here
// was reported damaged before.
TEST(Analyzer, SystemFilesThatLookRandomOrTransformedAreNotDamaged) {
  // A one-line CMake include: as many distinct bytes as random bytes, but all printable.
  EXPECT_NE(AnalyzeBytes("include(Platform/CYGWIN-GNU-CXX)\n").verdict, Verdict::kDamaged);
  // NUL-separated words (a spell dictionary, terminfo): XOR 0x20 makes them "text".
  std::string words;
  std::mt19937_64 rng(4);
  while (words.size() < 20000) {
    for (int n = 3 + static_cast<int>(rng() % 8); n > 0; --n)
      words += static_cast<char>('a' + rng() % 26);
    words += '\0';
  }
  EXPECT_NE(AnalyzeBytes(words).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(words));
  // dpkg lists: hashes and paths, or paths alone, are base64 alphabet only.
  std::string md5sums;
  for (int i = 0; md5sums.size() < 8000; ++i) {
    md5sums += HexEncode(RandomBytes(16, i)) + "  usr/share/zoneinfo/Area_" + std::to_string(i) +
               "/City\n";
  }
  EXPECT_NE(AnalyzeBytes(md5sums).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(md5sums));
  EXPECT_NE(AnalyzeBytes(
                "/etc/postgresql-common/supported_versions\n/etc/postgresql-common/user_clusters\n")
                .verdict,
            Verdict::kDamaged);
  // A PEM certificate: base64 of DER, whose key and signature are random.
  const std::string pem = "-----BEGIN CERTIFICATE-----\n" + Base64Encode(RandomBytes(1200, 5), 64) +
                          "-----END CERTIFICATE-----\n";
  EXPECT_NE(AnalyzeBytes(pem).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(pem));
  // DER (PKCS#12, certificates): one SEQUENCE spanning the file, an encrypted bag inside (an
  // OCTET STRING of random bytes).
  const std::string bag = std::string("\x04\x82\x0f\xf0", 4) + RandomBytes(0x0ff0, 6);
  std::string der = std::string("\x30\x82\x10\x02", 4) + std::string("\x02\x01\x03", 3) +
                    std::string("\x30\x82\x0f\xfb", 4) + std::string("\x06\x01\x01", 3) +
                    std::string("\xa0\x82\x0f\xf4", 4) + bag;
  ASSERT_EQ(der.size(), 0x1006u);
  const Analysis d = AnalyzeBytes(der);
  EXPECT_EQ(d.verdict, Verdict::kIntact) << Joined(d);
  EXPECT_EQ(d.format, "der");
  der[3] = '\x03';  // the length no longer spans the file: random bytes starting with 0x30
  EXPECT_EQ(AnalyzeBytes(der).verdict, Verdict::kDamaged);
  // LLVM bitcode (PostgreSQL's JIT): a dense bit stream behind its magic.
  EXPECT_EQ(AnalyzeBytes(std::string("BC\xc0\xde", 4) + RandomBytes(8000, 7)).verdict,
            Verdict::kIntact);
  // UTF-32 text and NUL-padded files XORed with 0x47 carry MPEG-TS sync bytes every 188 bytes.
  std::string utf32;
  for (char c : ProseText(20000)) utf32 += std::string(3, '\0') + c;
  EXPECT_NE(AnalyzeBytes(utf32).verdict, Verdict::kDamaged) << Joined(AnalyzeBytes(utf32));
}

TEST(Analyzer, BitFlippedNonLatinUtf8TextIsBitTransformed) {
  std::string greek;
  while (greek.size() < 20000) greek += "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν.\n";
  // Only the first 4 KiB inverted, of Greek with ASCII between the words (a third of the bytes
  // high once inverted: the codes of a morphology table).
  std::string tagged;
  while (tagged.size() < 200000) tagged += "020101 N- ----NSF- Ἀρχὴ Ἀρχὴ ἀρχή ἀρχή\n";
  ASSERT_EQ(AnalyzeBytes(tagged).verdict, Verdict::kIntact);
  const Analysis head = AnalyzeBytes(Inverted(tagged, 0, 4096));
  EXPECT_EQ(head.kind, DamageKind::kBitTransformed) << Joined(head);
  std::string dense;  // Greek for four fifths: a fifth of the bytes high once inverted
  while (dense.size() < 200000) dense += "020101 N- Ἀρχὴ Ἀρχὴ ἀρχή ἀρχή εὐαγγελίου\n";
  const Analysis dense_head = AnalyzeBytes(Inverted(dense, 0, 4096));
  EXPECT_EQ(dense_head.kind, DamageKind::kBitTransformed) << Joined(dense_head);
  // XML markup around a few Hebrew words: inverted, it passed for EUC text.
  std::string lexicon = "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<lexicon>\n";
  for (int i = 0; lexicon.size() < 200000; ++i) {
    lexicon += "  <entry id=\"a" + std::to_string(i) +
               "\" cite=\"full\"><w>אָבִיב הָאָבִיב</w> <pos>n.m</pos>. <ref r=\"Lev.2.14\">Lv 2:14" +
               "</ref> <def>fresh</def></entry>\n";
  }
  ASSERT_EQ(AnalyzeBytes(lexicon).verdict, Verdict::kIntact);
  const Analysis lexicon_head = AnalyzeBytes(Inverted(lexicon, 0, 4096));
  EXPECT_EQ(lexicon_head.kind, DamageKind::kBitTransformed) << Joined(lexicon_head);
  for (char& c : greek) c = static_cast<char>(~c);
  const Analysis a = AnalyzeBytes(greek);
  EXPECT_EQ(a.kind, DamageKind::kBitTransformed) << Joined(a);
}

// The first reason is what a summary line shows: for a damaged file it names the damage, with
// the validator's finding and the random blocks ("zip structure broken: ...; 97% of ...").
TEST(Analyzer, DamageLeadsTheReasons) {
  const Analysis a = AnalyzeBytes(std::string("PK\x03\x04", 4) + RandomBytes(64 * 1024, 11));
  ASSERT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  ASSERT_FALSE(a.reasons.empty());
  EXPECT_EQ(a.reasons[0].rfind("zip structure broken: ", 0), 0u) << Joined(a);
  EXPECT_NE(a.reasons[0].find("blocks random"), std::string::npos) << Joined(a);
}

// Runs of ciphertext inside text, too short to make a 4 KiB block random: the text validator
// measured them random, which is the evidence (no "corrupt, not encrypted" downgrade).
TEST(Analyzer, ShortCiphertextRunsInsideTextAreDamage) {
  std::string text = ProseText(64000);
  const std::string noise = RandomBytes(400, 21);
  text.replace(20000, 200, noise.substr(0, 200));
  text.replace(40000, 200, noise.substr(200));
  const Analysis a = AnalyzeBytes(text);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Joined(a);
  ASSERT_FALSE(a.reasons.empty());
  EXPECT_NE(a.reasons[0].find("random data"), std::string::npos) << Joined(a);
}

// A format known only by its signature is not called structurally valid.
TEST(Analyzer, SignatureOnlyFormatIsNotCalledValid) {
  std::string mo("\xDE\x12\x04\x95", 4);
  mo += std::string(24, '\0') + ProseText(20000);
  const Analysis a = AnalyzeBytes(mo);
  EXPECT_EQ(a.format, "gettext-mo") << Joined(a);
  EXPECT_EQ(a.verdict, Verdict::kIntact) << Joined(a);
  EXPECT_EQ(Joined(a).find("structure valid"), std::string::npos) << Joined(a);
  EXPECT_NE(Joined(a).find("structure not checked"), std::string::npos) << Joined(a);
}

TEST(Analyzer, LegacyEncodedTextIsNotMistakenForATransform) {
  // GBK-like double-byte text (lead 0xB0-0xF7, trail 0xA1-0xFE) mixed with ASCII.
  std::string gbk;
  std::mt19937_64 rng(3);
  while (gbk.size() < 20000) {
    for (int i = 0; i < 12; ++i) {
      gbk += static_cast<char>(0xB0 + rng() % 0x48);
      gbk += static_cast<char>(0xA1 + rng() % 0x5E);
    }
    gbk += ", Debian 2.2\n";
  }
  const Analysis a = AnalyzeBytes(gbk);
  EXPECT_NE(a.kind, DamageKind::kBitTransformed) << Joined(a);
}

}  // namespace
}  // namespace steen
