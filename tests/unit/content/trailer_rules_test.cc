// Rules about what follows or breaks a valid structure: a long random trailer after a document's
// end is a ransomware footer (Play appends 1,064 bytes), a short one is not; a broken structure
// without ciphertext is corruption (unknown), not encryption.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "steen/content.h"
#include "steen/limits.h"
#include "unit/content/test_bytes.h"

namespace steen {
namespace {

using testing::ProseText;
using testing::RandomBytes;
using testing::ToneWav;

Analysis AnalyzeBytes(const std::string& bytes) {
  static const ContentAnalyzer analyzer;
  MemoryByteSource source(bytes);
  auto result = analyzer.Analyze(source, AnalyzeOptions{});
  EXPECT_TRUE(result.ok()) << result.status().ToString();
  return result.ok() ? *result : Analysis{};
}

std::string Reasons(const Analysis& a) {
  std::string s;
  for (const auto& r : a.reasons) s += r + "; ";
  return s;
}

void PutBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void PutLe(std::string& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t Crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

uint32_t Adler32(const std::string& bytes) {
  uint32_t a = 1, b = 0;
  for (unsigned char c : bytes) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

void PngChunk(std::string& png, const std::string& type, const std::string& data) {
  PutBe32(png, static_cast<uint32_t>(data.size()));
  const std::string body = type + data;
  png += body;
  PutBe32(png, Crc32(body));
}

// A 64x64 greyscale banded gradient (32 grey levels in 4-pixel steps, so its bytes are visibly
// not random), its pixels in one stored (uncompressed) deflate block.
std::string GradientPng() {
  constexpr int kSide = 64;
  std::string raw;
  for (int y = 0; y < kSide; ++y) {
    raw.push_back('\0');  // filter: none
    for (int x = 0; x < kSide; ++x) raw.push_back(static_cast<char>((x / 4 + y / 4) * 8));
  }
  std::string zlib = "\x78\x01";
  zlib.push_back('\x01');  // final stored block
  PutLe(zlib, static_cast<uint32_t>(raw.size()), 2);
  PutLe(zlib, static_cast<uint32_t>(~raw.size() & 0xffff), 2);
  zlib += raw;
  PutBe32(zlib, Adler32(raw));

  std::string png = "\x89PNG\r\n\x1a\n";
  std::string header;
  PutBe32(header, kSide);
  PutBe32(header, kSide);
  header += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit greyscale, no interlace
  PngChunk(png, "IHDR", header);
  PngChunk(png, "IDAT", zlib);
  PngChunk(png, "IEND", "");
  return png;
}

TEST(TrailerRules, ValidFilesAreIntact) {
  for (const auto& bytes : {GradientPng(), ToneWav()}) {
    const auto a = AnalyzeBytes(bytes);
    EXPECT_EQ(a.verdict, Verdict::kIntact) << a.format << ": " << Reasons(a);
  }
}

TEST(TrailerRules, PlaySizedRandomFooterIsDamage) {
  for (const auto& bytes : {GradientPng(), ToneWav()}) {
    const auto a = AnalyzeBytes(bytes + RandomBytes(1064, 7));
    EXPECT_EQ(a.verdict, Verdict::kDamaged) << Reasons(a);
    EXPECT_EQ(a.kind, DamageKind::kPartiallyEncrypted) << Reasons(a);
    EXPECT_NE(Reasons(a).find("random bytes appended"), std::string::npos) << Reasons(a);
  }
}

TEST(TrailerRules, FooterAtTheThresholdIsDamageBelowItIsNot) {
  const std::string png = GradientPng();
  const auto at = AnalyzeBytes(png + RandomBytes(limits::kMinRandomFooterBytes, 8));
  EXPECT_EQ(at.verdict, Verdict::kDamaged) << Reasons(at);
  // A short random run after the end happens in real files (signatures, junk): noted, not damage.
  const auto below = AnalyzeBytes(png + RandomBytes(100, 9));
  EXPECT_EQ(below.verdict, Verdict::kIntact) << Reasons(below);
  EXPECT_NE(Reasons(below).find("ransomware footer?"), std::string::npos) << Reasons(below);
}

TEST(TrailerRules, NonRandomTrailerIsNotAFooter) {
  const auto a = AnalyzeBytes(GradientPng() + ProseText(4096));
  EXPECT_NE(a.verdict, Verdict::kDamaged) << Reasons(a);
}

TEST(TrailerRules, BrokenStructureWithoutCiphertextIsUnknownNotDamage) {
  // The middle of the image data overwritten with text (a copy error, not encryption): the
  // checksums fail, yet nothing looks like ciphertext.
  std::string png = GradientPng();
  png.replace(png.size() / 2, 600, ProseText(600, 11));  // IDAT body overwritten by text
  const auto a = AnalyzeBytes(png);
  EXPECT_NE(a.verdict, Verdict::kDamaged) << Reasons(a);
  EXPECT_NE(a.verdict, Verdict::kIntact) << Reasons(a);
}

TEST(TrailerRules, BrokenStructureWithCiphertextIsDamage) {
  std::string png = GradientPng();
  png.replace(png.size() / 2, 600, RandomBytes(600, 12));
  const auto a = AnalyzeBytes(png);
  EXPECT_EQ(a.verdict, Verdict::kDamaged) << Reasons(a);
}

}  // namespace
}  // namespace steen
