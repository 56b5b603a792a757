// Tests of the media validators on real files made at test time by ffmpeg (skipped when ffmpeg is
// absent; scripts/install-deps.sh installs it), damaged the ways ransomware damages files.
#include "content/formats/media_formats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "content/reader.h"
#include "content/sampling.h"
#include "steen/content.h"
#include "steen/limits.h"
#include "unit/content/system_test_support.h"
#include "unit/content/test_bytes.h"

namespace steen::content {
namespace {

namespace fs = std::filesystem;
using testing::RandomBytes;

struct MediaCase {
  std::string label;      // test name
  std::string validator;  // validator name()
  std::string format;     // expected FormatReport::format
  std::string ffmpeg;     // ffmpeg arguments before the output file
  std::string extension;
  bool exact_end = true;  // structure_end must be exactly the file size
  // False where the default check does not reach the payload (a VP8 frame larger than
  // limits::kMaxWebpCheckBytes, parsed only under --verify): damage tests skip.
  bool body_checked = true;
};

void PrintTo(const MediaCase& c, std::ostream* os) { *os << c.label; }

const FormatValidator* FindValidator(std::string_view name) {
  static const ValidatorList validators = MakeAllValidators();
  for (const auto& v : validators) {
    if (v->name() == name) return v.get();
  }
  return nullptr;
}

FormatReport Check(std::string_view validator_name, std::string_view bytes) {
  const FormatValidator* validator = FindValidator(validator_name);
  EXPECT_NE(validator, nullptr) << validator_name;
  if (validator == nullptr) return {};
  MemoryByteSource source(bytes);
  Reader reader(source, limits::kAnalysisReadBudget);
  return validator->Validate(reader);
}

bool Matches(std::string_view validator_name, std::string_view bytes) {
  const FormatValidator* validator = FindValidator(validator_name);
  return validator != nullptr &&
         validator->Matches(bytes.substr(0, limits::kHeadBytes), bytes.size());
}

std::string Describe(const FormatReport& r) {
  std::string s = "format=" + r.format +
                  " integrity=" + std::to_string(static_cast<int>(r.integrity)) +
                  " end=" + std::to_string(r.structure_end) + " reasons:";
  for (const auto& reason : r.reasons) s += " [" + reason + "]";
  return s;
}

bool HaveFfmpeg() {
  static const bool have = std::system("ffmpeg -version > /dev/null 2>&1") == 0;
  return have;
}

// ffmpeg's output folder, removed when the test process exits (ctest runs each test in a process
// of its own, so one folder per process would otherwise be left behind).
fs::path ScratchDir() {
  static const testing::TempDir dir;
  return dir.path();
}

// The file ffmpeg makes for `c` (made once per run); empty when it could not be made.
const std::string& Generate(const MediaCase& c) {
  static std::map<std::string, std::string> cache;
  auto it = cache.find(c.label);
  if (it != cache.end()) return it->second;
  const fs::path dir = ScratchDir();
  if (dir.empty()) return cache.emplace(c.label, std::string()).first->second;
  const fs::path out = dir / (c.label + "." + c.extension);
  const std::string command =
      "ffmpeg -nostdin -loglevel error -y " + c.ffmpeg + " '" + out.string() + "' > /dev/null 2>&1";
  std::string bytes;
  if (std::system(command.c_str()) == 0) bytes = testing::ReadWholeFile(out);
  return cache.emplace(c.label, std::move(bytes)).first->second;
}

class MediaFormatTest : public ::testing::TestWithParam<MediaCase> {
 protected:
  void SetUp() override {
    if (!HaveFfmpeg()) GTEST_SKIP() << "ffmpeg not installed";
    original_ = Generate(GetParam());
    if (original_.empty()) GTEST_SKIP() << "ffmpeg could not make " << GetParam().label;
  }
  std::string original_;
};

TEST_P(MediaFormatTest, IntactFileIsValid) {
  const MediaCase& c = GetParam();
  EXPECT_TRUE(Matches(c.validator, original_));
  const FormatReport r = Check(c.validator, original_);
  EXPECT_EQ(r.integrity, Integrity::kValid) << Describe(r);
  EXPECT_EQ(r.format, c.format) << Describe(r);
  if (c.exact_end) EXPECT_EQ(r.structure_end, original_.size()) << Describe(r);
}

TEST_P(MediaFormatTest, HeaderKeptRestRandomIsDamaged) {
  if (!GetParam().body_checked) GTEST_SKIP() << "payload not checked (known gap)";
  std::string bytes = original_;
  const std::string noise = RandomBytes(bytes.size(), 1);
  bytes.replace(62, bytes.size() - 62, noise.substr(0, bytes.size() - 62));
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
  EXPECT_FALSE(r.reasons.empty());
}

TEST_P(MediaFormatTest, IntermittentEncryptionIsDamaged) {
  if (!GetParam().body_checked) GTEST_SKIP() << "payload not checked (known gap)";
  std::string bytes = original_;
  const std::string noise = RandomBytes(bytes.size(), 2);
  for (std::size_t pos = 256; pos < bytes.size(); pos += 192) {
    const std::size_t n = std::min<std::size_t>(64, bytes.size() - pos);
    bytes.replace(pos, n, noise.substr(pos, n));
  }
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
}

TEST_P(MediaFormatTest, MiddleAndTailEncryptionIsDamaged) {
  if (!GetParam().body_checked) GTEST_SKIP() << "payload not checked (known gap)";
  // Everything after the first 64 KiB + 1 (a head-only check would miss it).
  std::string bytes = original_;
  const std::size_t from = std::min<std::size_t>(bytes.size() / 2, limits::kHeadBytes + 1);
  const std::string noise = RandomBytes(bytes.size() - from, 3);
  bytes.replace(from, noise.size(), noise);
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
}

// 64 KiB encrypted in the middle of uncompressed pixels or samples: the validator measures the
// bytes as random (evidence by itself, whatever share of the analyzer's blocks it makes).
TEST_P(MediaFormatTest, RandomMiddleOfAnUncompressedPayloadIsRandomEvidence) {
  const std::string label = GetParam().label;
  if (label != "bmp_large" && label != "tiff_raw" && label.rfind("wav", 0) != 0) {
    GTEST_SKIP() << "compressed payload";
  }
  std::string bytes = original_;
  ASSERT_GT(bytes.size(), 4 * limits::kHeadBytes) << label;
  bytes.replace(bytes.size() / 2, 65536, RandomBytes(65536, 5));
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom) << Describe(r);
}

// Ciphertext where only the analyzer's sample blocks look (between the validator's own evenly
// spaced samples): compressed media is then judged there too, by its own rules (JPEG byte
// stuffing, MPEG audio frame chains, the NAL units of the AVC sample there, the AVI chunk its
// index places there, GIF sub-block chains).
TEST_P(MediaFormatTest, DamageBetweenTheEvenSamplesIsFound) {
  const std::string label = GetParam().label;
  // Formats whose samples are located through tables, not evenly spaced blocks.
  const bool indexed = label == "mp4" || label == "mov" || label == "avi";
  const bool gif = label == "gif_animated";  // no middle samples of its own
  if (label != "jpeg_large" && label != "mp3" && !indexed && !gif) {
    GTEST_SKIP() << "checked for JPEG, MP3, AVC in MP4/MOV, AVI and GIF";
  }
  const std::size_t block = label == "mp3" ? media::kMiddleSampleBytes : 4 * limits::KiB;
  const uint64_t size = original_.size();
  ASSERT_GT(size, limits::kHeadBytes + limits::kTailBytes + 16 * block) << label;
  const uint64_t lo = limits::kHeadBytes;
  const uint64_t hi = size - limits::kTailBytes;
  // (MP4 samples are chosen by index, AVI has no even samples: no blocks to keep clear of.)
  const std::vector<uint64_t> even =
      indexed || gif ? std::vector<uint64_t>{} : media::MiddleSampleOffsets(lo, hi, block);
  uint64_t target = 0;  // an analyzer sample block clear of every even sample block
  for (uint64_t at : SampledBlockOffsets(size, lo, hi, block)) {
    const bool clear = std::none_of(even.begin(), even.end(), [&](uint64_t e) {
      return at < e + block + 1024 && e < at + block + 1024;
    });
    if (clear) {
      target = at;
      break;
    }
  }
  ASSERT_NE(target, 0u) << label;
  // There the whole 64 KiB of a middle-only layout: a sample's payload is not checked, only
  // where its NAL units or chunk start.
  const std::size_t damaged = indexed ? 65536 : block;
  std::string bytes = original_;
  bytes.replace(target, damaged, RandomBytes(damaged, 8));
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << label << " at " << target << ": " << Describe(r);
}

// The last 4 KiB of a JPEG encrypted: random bytes read as a marker whose segment runs past the
// end are no cut (a cut between progressive scans ends inside a table or scan header, not an
// APPn or SOF segment), whatever the key.
TEST_P(MediaFormatTest, JpegTailEncryptedIsNotACut) {
  const std::string label = GetParam().label;
  if (label != "jpeg_large" && label != "jpeg_progressive") GTEST_SKIP() << "checked for JPEG";
  int damaged = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    std::string bytes = original_;
    bytes.replace(bytes.size() - 4096, 4096, RandomBytes(4096, seed));
    damaged += Check(GetParam().validator, bytes).integrity == Integrity::kDamaged ? 1 : 0;
  }
  EXPECT_GE(damaged, 38) << label;
}

// AVI's index (idx1) ends the file: its last KiB encrypted leaves entries without chunk ids.
TEST_P(MediaFormatTest, AviIndexEncryptedIsDamaged) {
  if (GetParam().label != "avi") GTEST_SKIP() << "checked for AVI";
  std::string bytes = original_;
  ASSERT_NE(bytes.find("idx1"), std::string::npos);
  ASSERT_LT(bytes.rfind("idx1"), bytes.size() - 1300) << "index too short for this test";
  bytes.replace(bytes.size() - 1024, 1024, RandomBytes(1024, 3));
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom) << Describe(r);
}

// A raw TIFF whose IFD follows its pixels, everything after the pixels bit-flipped: the IFD's
// entry count is absurd, and inverted back it is a valid IFD.
TEST(TiffInverted, BitFlippedIfdIsTransformed) {
  const auto put = [](std::string& out, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  std::string tiff = "II*";
  tiff.push_back('\0');
  put(tiff, 8 + 4096, 4);  // IFD after 64x64 8-bit pixels
  for (int i = 0; i < 4096; ++i) tiff.push_back(static_cast<char>((i % 64) * 3 + i / 64));
  const uint32_t entries[][3] = {{256, 3, 64}, {257, 3, 64}, {258, 3, 8},
                                 {259, 3, 1},  {262, 3, 1},  {273, 4, 8},
                                 {277, 3, 1},  {278, 3, 64}, {279, 4, 4096}};
  put(tiff, 9, 2);
  for (const auto& e : entries) {
    put(tiff, e[0], 2);
    put(tiff, e[1], 2);
    put(tiff, 1, 4);
    put(tiff, e[2], 4);
  }
  put(tiff, 0, 4);  // no next IFD
  ASSERT_EQ(Check("tiff", tiff).integrity, Integrity::kValid) << Describe(Check("tiff", tiff));
  tiff.replace(8 + 4096, std::string::npos, Inverted(tiff.substr(8 + 4096)));
  const FormatReport r = Check("tiff", tiff);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
  EXPECT_EQ(r.evidence, DamageEvidence::kTransformed) << Describe(r);
}

// A tar's second header bit-flipped: its checksum holds inverted back.
TEST(TarInverted, BitFlippedHeaderIsTransformed) {
  std::string tar = steen::testing::TarHeader("a.txt", 600) + std::string(1024, 'a') +
                    steen::testing::TarHeader("b.txt", 10) + std::string(512, 'b') +
                    steen::testing::TarEnd();
  ASSERT_EQ(Check("tar", tar).integrity, Integrity::kValid) << Describe(Check("tar", tar));
  tar.replace(1536, std::string::npos, Inverted(tar.substr(1536)));
  const FormatReport r = Check("tar", tar);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
  EXPECT_EQ(r.evidence, DamageEvidence::kTransformed) << Describe(r);
}

// The first frame kept and everything after it encrypted (a keep-head layout with a footer):
// far more bytes follow the last frame header than a frame holds, which a cut never leaves.
TEST_P(MediaFormatTest, FramesOverwrittenAfterTheFirstAreNotACut) {
  if (GetParam().label != "flac") GTEST_SKIP() << "checked for FLAC";
  // A small file: its metadata and the first frame's header kept, then more random bytes than
  // the largest frame STREAMINFO declares, then a 4 KiB footer.
  const std::size_t first_frame = original_.find(std::string_view("\xff\xf8", 2), 42);
  ASSERT_NE(first_frame, std::string::npos);
  const std::size_t max_frame = static_cast<uint8_t>(original_[15]) << 16 |
                                static_cast<uint8_t>(original_[16]) << 8 |
                                static_cast<uint8_t>(original_[17]);
  const std::string bytes = original_.substr(0, first_frame + 64) +
                            RandomBytes(max_frame + 8192, 6) + RandomBytes(4096, 7);
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kDamaged) << Describe(r);
}

// A cut inside a frame is a cut, even where the CRC-16 of the partial frame passes through 0 by
// chance (once in 64 KiB): that is no frame end unless the frame is the stream's last by
// STREAMINFO's sample count. (Read as an end, the rest was reported as a ransomware footer.)
TEST_P(MediaFormatTest, ManyCutsAreCutsNotEndsWithAFooter) {
  if (GetParam().label != "flac") GTEST_SKIP() << "checked for FLAC";
  int cuts = 0;
  for (std::size_t cut = original_.size() / 2; cut < original_.size() - 64; cut += 331) {
    const std::string bytes = original_.substr(0, cut);
    const FormatReport r = Check(GetParam().validator, bytes);
    EXPECT_TRUE(r.integrity == Integrity::kTruncated ||
                (r.integrity == Integrity::kValid && r.structure_end == bytes.size()))
        << "cut at " << cut << ": " << Describe(r);
    ++cuts;
  }
  EXPECT_GT(cuts, 100);
}

TEST_P(MediaFormatTest, AppendedFooterKeepsStructureEnd) {
  if (!GetParam().exact_end) GTEST_SKIP() << "structure end not exact for this format";
  const std::string bytes = original_ + RandomBytes(1064, 4);
  const FormatReport r = Check(GetParam().validator, bytes);
  EXPECT_EQ(r.integrity, Integrity::kValid) << Describe(r);
  EXPECT_EQ(r.structure_end, original_.size()) << Describe(r);
}

TEST_P(MediaFormatTest, TruncatedIsNotDamaged) {
  for (double keep : {0.3, 0.7, 0.97}) {
    const std::string bytes =
        original_.substr(0, static_cast<std::size_t>(original_.size() * keep));
    const FormatReport r = Check(GetParam().validator, bytes);
    EXPECT_NE(r.integrity, Integrity::kDamaged) << keep << " " << Describe(r);
  }
}

TEST_P(MediaFormatTest, HostileInputsDoNotCrash) {
  for (std::size_t n : {0, 1, 4, 8, 12, 16, 30, 62, 200, 1000}) {
    (void)Check(GetParam().validator, original_.substr(0, std::min(n, original_.size())));
  }
  for (uint64_t seed = 10; seed < 20; ++seed) {
    std::string bytes = original_.substr(0, 64) + RandomBytes(5000, seed);
    (void)Check(GetParam().validator, bytes);
    // Flip a few bytes anywhere.
    bytes = original_;
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 16; ++i) bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    (void)Check(GetParam().validator, bytes);
  }
}

const std::string kNoisyVideo =
    "-f lavfi -i testsrc2=size=1280x720:rate=25,noise=alls=30:allf=t:all_seed=5 -frames:v 1";
const std::string kSmallPicture = "-f lavfi -i testsrc=size=160x120 -frames:v 1";
const std::string kMusic =
    "-f lavfi -i sine=frequency=440:duration=20 -f lavfi -i "
    "anoisesrc=duration=20:amplitude=0.05:seed=7 -filter_complex amix -ac 2";
const std::string kShortClip =
    "-f lavfi -i testsrc2=size=320x240:rate=25,noise=alls=20:allf=t:all_seed=6 -t 4 -pix_fmt "
    "yuv420p";

INSTANTIATE_TEST_SUITE_P(
    Media, MediaFormatTest,
    ::testing::Values(
        MediaCase{"jpeg_small", "jpeg", "jpeg", kSmallPicture, "jpg"},
        MediaCase{"jpeg_large", "jpeg", "jpeg", kNoisyVideo + " -q:v 2", "jpg"},
        MediaCase{"jpeg_progressive", "jpeg", "jpeg", kNoisyVideo + " -c:v mjpeg -q:v 3 -f mjpeg",
                  "jpg"},
        MediaCase{"png_small", "png", "png", kSmallPicture, "png"},
        MediaCase{"png_large", "png", "png", kNoisyVideo, "png"},
        MediaCase{"mp3", "mp3", "mp3", kMusic + " -c:a libmp3lame -b:a 128k", "mp3"},
        MediaCase{"mp3_vbr", "mp3", "mp3", kMusic + " -c:a libmp3lame -q:a 4", "mp3"},
        MediaCase{"mp4", "isobmff", "mp4", kShortClip + " -c:v libx264", "mp4"},
        MediaCase{"mp4_faststart", "isobmff", "mp4",
                  kShortClip + " -c:v libx264 -movflags +faststart", "mp4"},
        MediaCase{"mov", "isobmff", "mov", kShortClip + " -c:v libx264", "mov"},
        MediaCase{"m4a", "isobmff", "m4a", kMusic + " -c:a aac", "m4a"},
        MediaCase{"ogg_vorbis", "ogg", "ogg", kMusic + " -c:a libvorbis", "ogg"},
        MediaCase{"opus", "ogg", "opus", kMusic + " -c:a libopus", "opus"},
        MediaCase{"flac", "flac", "flac", kMusic + " -c:a flac", "flac"},
        MediaCase{"gif_small", "gif", "gif", kSmallPicture, "gif"},
        MediaCase{"gif_animated", "gif", "gif", kShortClip, "gif"},
        MediaCase{"bmp_small", "bmp", "bmp", kSmallPicture, "bmp"},
        MediaCase{"bmp_large", "bmp", "bmp", kNoisyVideo, "bmp"},
        MediaCase{"tiff_raw", "tiff", "tiff", kNoisyVideo + " -compression_algo raw", "tif"},
        MediaCase{"tiff_deflate", "tiff", "tiff", kNoisyVideo + " -compression_algo deflate",
                  "tif"},
        MediaCase{"tiff_lzw", "tiff", "tiff", kNoisyVideo + " -compression_algo lzw", "tif"},
        MediaCase{"tiff_packbits", "tiff", "tiff", kSmallPicture + " -compression_algo packbits",
                  "tif"},
        MediaCase{"wav", "riff", "wav", kMusic + " -c:a pcm_s16le", "wav"},
        MediaCase{"wav_u8_mono", "riff", "wav", kMusic + " -ac 1 -c:a pcm_u8", "wav"},
        MediaCase{"webp", "riff", "webp", kNoisyVideo + " -c:v libwebp", "webp", true, false},
        MediaCase{"webp_small", "riff", "webp", kSmallPicture + " -c:v libwebp", "webp"},
        MediaCase{"webp_animated", "riff", "webp",
                  "-f lavfi -i testsrc=size=160x120:rate=10 -frames:v 5 -c:v libwebp_anim", "webp"},
        MediaCase{"avi", "riff", "avi", kShortClip + " -c:v mjpeg", "avi"},
        MediaCase{"mkv", "matroska", "mkv", kShortClip + " -c:v libx264", "mkv"},
        MediaCase{"webm", "matroska", "webm", kShortClip + " -c:v libvpx", "webm"},
        MediaCase{"mka", "matroska", "mkv", kMusic + " -c:a flac", "mka"}),
    [](const ::testing::TestParamInfo<MediaCase>& info) { return info.param.label; });

}  // namespace
}  // namespace steen::content
