// The WebP picture parses, on pictures libwebp's encoder makes with its options varied, damaged
// the ways ransomware damages files, and on hostile headers: the VP8 key frame (vp8_frame.h), the
// VP8L lossless stream and ALPH alpha plane (vp8l_stream.h); then the WebP validator around them
// (default limit, --verify for larger pictures).
#include "content/formats/vp8_frame.h"

#include <gtest/gtest.h>
#include <webp/encode.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "content/format.h"
#include "content/formats/vp8l_stream.h"
#include "content/reader.h"
#include "steen/limits.h"
#include "unit/content/system_test_support.h"

namespace steen::content {
namespace {

using media::CheckVp8KeyFrame;
using media::Vp8FrameCheck;
using Result = Vp8FrameCheck::Result;
using testing::RandomBytes;

constexpr uint64_t kNoLimit = ~uint64_t{0};

struct EncodeOptions {
  int width = 320;
  int height = 200;
  float quality = 75;
  int method = 4;
  int segments = 4;
  int partitions = 0;  // log2 of the token partitions
  int sns = 50;
  int filter_strength = 60;
  int filter_sharpness = 0;
  int filter_type = 1;
  uint64_t seed = 1;
  bool noisy = true;  // texture that needs every coefficient category
  bool lossless = false;
  int near_lossless = 100;  // 100: off
  bool alpha = false;       // a transparency gradient, coded in an ALPH chunk when lossy
  int alpha_filter = 1;
  int alpha_quality = 100;
};

// A picture with gradients, edges and (optionally) noise, so that every mode and token occurs.
// RGBA, 4 bytes per pixel.
std::vector<uint8_t> Picture(const EncodeOptions& o) {
  std::vector<uint8_t> rgba(static_cast<std::size_t>(o.width) * o.height * 4);
  const std::string noise = RandomBytes(rgba.size(), o.seed);
  for (int y = 0; y < o.height; ++y) {
    for (int x = 0; x < o.width; ++x) {
      const std::size_t i = (static_cast<std::size_t>(y) * o.width + x) * 4;
      const int edge = ((x / 24 + y / 16) % 2) * 90;
      const int n = o.noisy ? static_cast<uint8_t>(noise[i]) % 48 : 0;
      rgba[i] = static_cast<uint8_t>((x * 255 / std::max(1, o.width - 1) + n) % 256);
      rgba[i + 1] = static_cast<uint8_t>((y * 255 / std::max(1, o.height - 1) + edge) % 256);
      rgba[i + 2] = static_cast<uint8_t>((edge + n * 2 + (x ^ y)) % 256);
      // Transparency as pictures have it: clear, opaque, a soft edge between (a gradient of
      // every value, or noise, is what random bytes decode to: nothing could be told apart).
      const int edge_x = o.width / 3 + (y % 32 < 16 ? y % 16 : 16 - y % 16);
      const int a = x < edge_x ? 0 : x < edge_x + 6 ? (x - edge_x) * 42 : 255;
      rgba[i + 3] = o.alpha ? static_cast<uint8_t>(a) : 255;
    }
  }
  return rgba;
}

// The whole .webp file libwebp writes.
std::string EncodeWebp(const EncodeOptions& o) {
  WebPConfig config;
  if (!WebPConfigInit(&config)) return "";
  config.quality = o.quality;
  config.method = o.method;
  config.segments = o.segments;
  config.partitions = o.partitions;
  config.sns_strength = o.sns;
  config.filter_strength = o.filter_strength;
  config.filter_sharpness = o.filter_sharpness;
  config.filter_type = o.filter_type;
  config.lossless = o.lossless ? 1 : 0;
  config.near_lossless = o.near_lossless;
  config.alpha_filtering = o.alpha_filter;
  config.alpha_quality = o.alpha_quality;
  if (!WebPValidateConfig(&config)) return "";
  WebPPicture picture;
  if (!WebPPictureInit(&picture)) return "";
  picture.width = o.width;
  picture.height = o.height;
  picture.use_argb = o.lossless ? 1 : 0;
  const std::vector<uint8_t> rgba = Picture(o);
  if (!WebPPictureImportRGBA(&picture, rgba.data(), o.width * 4)) return "";
  WebPMemoryWriter writer;
  WebPMemoryWriterInit(&writer);
  picture.writer = WebPMemoryWrite;
  picture.custom_ptr = &writer;
  const bool ok = WebPEncode(&config, &picture) != 0;
  WebPPictureFree(&picture);
  std::string file(reinterpret_cast<const char*>(writer.mem), writer.size);
  WebPMemoryWriterClear(&writer);
  return ok ? file : "";
}

// The payload of a file's first chunk `id` ("" without one), and where it starts.
std::string Chunk(const std::string& webp, std::string_view id, std::size_t* offset = nullptr) {
  for (std::size_t pos = 12; pos + 8 <= webp.size();) {
    uint32_t length = 0;
    std::memcpy(&length, webp.data() + pos + 4, 4);
    if (webp.compare(pos, 4, id) == 0) {
      if (offset != nullptr) *offset = pos + 8;
      return webp.substr(pos + 8, length);
    }
    pos += 8 + length + (length & 1);
  }
  return "";
}

std::string Frame(const std::string& webp, std::size_t* offset = nullptr) {
  return Chunk(webp, "VP8 ", offset);
}

std::string Frame(const EncodeOptions& o) { return Frame(EncodeWebp(o)); }

uint32_t FirstPartitionSize(const std::string& frame) {
  const auto tag = static_cast<uint32_t>(static_cast<uint8_t>(frame[0])) |
                   static_cast<uint32_t>(static_cast<uint8_t>(frame[1])) << 8 |
                   static_cast<uint32_t>(static_cast<uint8_t>(frame[2])) << 16;
  return tag >> 5;
}

std::string Overwrite(std::string bytes, std::size_t at, std::size_t n, uint64_t seed) {
  n = std::min(n, bytes.size() - at);
  bytes.replace(at, n, RandomBytes(n, seed));
  return bytes;
}

TEST(Vp8FrameTest, EveryEncoderOptionDecodesToThePartitionsEnds) {
  int frames = 0;
  for (int partitions = 0; partitions <= 3; ++partitions) {
    for (int segments : {1, 4}) {
      for (float quality : {0.f, 30.f, 80.f, 100.f}) {
        for (int method : {0, 3, 6}) {
          for (auto [w, h] : {std::pair{1, 1}, std::pair{17, 33}, std::pair{320, 200}}) {
            EncodeOptions o;
            o.width = w;
            o.height = h;
            o.partitions = partitions;
            o.segments = segments;
            o.quality = quality;
            o.method = method;
            o.filter_sharpness = method;   // varied along the way
            o.filter_type = segments % 2;  // simple and normal loop filters
            o.sns = static_cast<int>(quality);
            o.noisy = method != 3;
            const std::string frame = Frame(o);
            ASSERT_FALSE(frame.empty());
            const Vp8FrameCheck check = CheckVp8KeyFrame(frame, kNoLimit);
            SCOPED_TRACE(std::to_string(partitions) + " " + std::to_string(segments) + " " +
                         std::to_string(quality) + " " + std::to_string(method) + " " +
                         std::to_string(w) + "x" + std::to_string(h));
            EXPECT_EQ(check.result, Result::kConsistent) << check.detail;
            // libwebp flushes one to three bytes past the last symbol.
            EXPECT_GE(check.unread_bits_min, 0);
            EXPECT_LE(check.unread_bits_max, 32);
            ++frames;
          }
        }
      }
    }
  }
  EXPECT_EQ(frames, 288);
}

TEST(Vp8FrameTest, CiphertextInsideAnyPartitionIsFound) {
  EncodeOptions o;
  o.width = 640;
  o.height = 480;
  o.partitions = 2;  // four token partitions
  const std::string frame = Frame(o);
  ASSERT_FALSE(frame.empty());
  ASSERT_EQ(CheckVp8KeyFrame(frame, kNoLimit).result, Result::kConsistent);
  const std::size_t first_end = 10 + FirstPartitionSize(frame);
  // The middle of the first partition, then points spread over the token partitions, the last
  // 600 bytes (a tail-only layout), and 16 of every 32 bytes after the first 4 KiB.
  std::vector<std::size_t> offsets = {10 + FirstPartitionSize(frame) / 2};
  for (int i = 1; i <= 6; ++i)
    offsets.push_back(first_end + 9 + (frame.size() - first_end) * i / 7);
  uint64_t seed = 100;
  for (std::size_t at : offsets) {
    SCOPED_TRACE(at);
    const Vp8FrameCheck check = CheckVp8KeyFrame(Overwrite(frame, at, 256, ++seed), kNoLimit);
    EXPECT_EQ(check.result, Result::kMismatch) << check.detail;
    EXPECT_NE(check.detail.find("decoding"), std::string::npos);
  }
  EXPECT_EQ(CheckVp8KeyFrame(Overwrite(frame, frame.size() - 600, 600, 7), kNoLimit).result,
            Result::kMismatch);
  // Even the last 64 bytes: the bits left after the last symbol are no longer the encoder's
  // zero flush (random bytes pass once in 2^8 to 2^48), or decoding ends elsewhere.
  int found = 0;
  for (uint64_t s = 1; s <= 50; ++s) {
    found += CheckVp8KeyFrame(Overwrite(frame, frame.size() - 64, 64, s), kNoLimit).result ==
             Result::kMismatch;
  }
  EXPECT_GE(found, 47);
  std::string strided = frame;
  for (std::size_t at = 4096; at < strided.size(); at += 32)
    strided = Overwrite(strided, at, 16, at);
  EXPECT_EQ(CheckVp8KeyFrame(strided, kNoLimit).result, Result::kMismatch);
  // Bit-flipped after the first 4 KiB (255 - b keeps the entropy).
  std::string flipped = frame;
  for (std::size_t i = 4096; i < flipped.size(); ++i) flipped[i] = static_cast<char>(~flipped[i]);
  EXPECT_EQ(CheckVp8KeyFrame(flipped, kNoLimit).result, Result::kMismatch);
}

TEST(Vp8FrameTest, ACutOrImpossibleHeaderIsReported) {
  const std::string frame = Frame(EncodeOptions{});
  ASSERT_FALSE(frame.empty());
  // Cut inside the last token partition: decoding runs past its end.
  EXPECT_EQ(CheckVp8KeyFrame(frame.substr(0, frame.size() * 3 / 4), kNoLimit).result,
            Result::kMismatch);
  // Cut inside the first partition: it runs past the frame.
  EXPECT_EQ(CheckVp8KeyFrame(frame.substr(0, 12), kNoLimit).result, Result::kBadHeader);
  std::string no_start_code = frame;
  no_start_code[4] = 0;
  EXPECT_EQ(CheckVp8KeyFrame(no_start_code, kNoLimit).result, Result::kBadHeader);
  std::string interframe = frame;
  interframe[0] = static_cast<char>(interframe[0] | 1);
  EXPECT_EQ(CheckVp8KeyFrame(interframe, kNoLimit).result, Result::kNotChecked);
  EXPECT_EQ(CheckVp8KeyFrame("", kNoLimit).result, Result::kBadHeader);
}

// A header claiming the largest picture over a few bytes of data: the parse stops once it has
// read past the data's end instead of decoding a million macroblocks of zeros, and a work limit
// stops it in any case.
TEST(Vp8FrameTest, HostileHeadersStopEarly) {
  // First partition: 2 zero bytes (no option set, one token partition), then 64 random bytes.
  std::string frame("\x50\x00\x00\x9d\x01\x2a\xff\x3f\xff\x3f", 10);
  frame += std::string(2, '\0');
  frame += RandomBytes(64, 5);
  const auto start = std::chrono::steady_clock::now();
  const Vp8FrameCheck check = CheckVp8KeyFrame(frame, kNoLimit);
  EXPECT_EQ(check.result, Result::kMismatch) << check.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  const std::string real = Frame(EncodeOptions{});
  EXPECT_EQ(CheckVp8KeyFrame(real, 1000).result, Result::kNotChecked);
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    std::string random = real.substr(0, 10) + RandomBytes(real.size() - 10, seed);
    (void)CheckVp8KeyFrame(random, limits::kMaxWebpSymbolsBase);  // no crash, no hang (ASan, UBSan)
  }
}

// The WebP validator: frames within the default limit are parsed by Validate, larger ones by
// VerifyWhole (--verify).
FormatReport Validated(const std::string& webp, bool verify) {
  const ValidatorList all = MakeAllValidators();
  const FormatValidator* riff = testing::FindValidator(all, "riff");
  testing::Outcome o = testing::RunValidator(*riff, webp);
  if (verify && o.report.integrity == Integrity::kValid) {
    MemoryByteSource source(webp);
    Reader reader(source, limits::kAnalysisReadBudget);
    riff->VerifyWhole(reader, o.report);
  }
  return o.report;
}

std::string Reasons(const FormatReport& r) {
  std::string s;
  for (const std::string& reason : r.reasons) s += reason + "; ";
  return s;
}

TEST(Vp8FrameTest, WebpValidatorParsesSmallFramesByDefaultAndLargeOnesUnderVerify) {
  const std::string small = EncodeWebp(EncodeOptions{});
  ASSERT_LT(small.size(), limits::kMaxWebpCheckBytes);
  EXPECT_EQ(Validated(small, false).integrity, Integrity::kValid)
      << Reasons(Validated(small, false));
  EXPECT_NE(Reasons(Validated(small, false)).find("decode to their ends"), std::string::npos);
  const std::string small_tail = Overwrite(small, small.size() - 700, 700, 3);
  EXPECT_EQ(Validated(small_tail, false).integrity, Integrity::kDamaged)
      << Reasons(Validated(small_tail, false));

  EncodeOptions big_options;
  big_options.width = 1200;
  big_options.height = 900;
  big_options.quality = 100;
  const std::string big = EncodeWebp(big_options);
  ASSERT_GT(big.size(), limits::kMaxWebpCheckBytes);
  const std::string big_middle = Overwrite(big, big.size() / 2, 64 * 1024, 4);
  const FormatReport by_default = Validated(big_middle, false);
  EXPECT_EQ(by_default.integrity, Integrity::kValid);  // not parsed: the limit
  EXPECT_NE(Reasons(by_default).find("--verify"), std::string::npos) << Reasons(by_default);
  EXPECT_EQ(Validated(big, true).integrity, Integrity::kValid) << Reasons(Validated(big, true));
  EXPECT_EQ(Reasons(Validated(big, true)).find("--verify"), std::string::npos);
  const FormatReport verified = Validated(big_middle, true);
  EXPECT_EQ(verified.integrity, Integrity::kDamaged) << Reasons(verified);
  EXPECT_NE(Reasons(verified).find("token partition"), std::string::npos) << Reasons(verified);
}

TEST(Vp8lStreamTest, EveryLosslessOptionAndAlphaPlaneDecodesToItsEnd) {
  int streams = 0;
  for (int method : {0, 3, 6}) {
    for (float quality : {0.f, 50.f, 100.f}) {
      for (int near_lossless : {100, 60}) {
        for (auto [w, h] : {std::pair{1, 1}, std::pair{33, 17}, std::pair{300, 200}}) {
          EncodeOptions o;
          o.lossless = true;
          o.method = method;
          o.quality = quality;
          o.near_lossless = near_lossless;
          o.width = w;
          o.height = h;
          o.alpha = method != 3;
          o.noisy = quality != 50.f;
          const std::string file = EncodeWebp(o);
          ASSERT_FALSE(file.empty());
          const std::string stream = Chunk(file, "VP8L");
          ASSERT_FALSE(stream.empty());
          const auto check = media::CheckVp8lImage(stream, kNoLimit);
          EXPECT_EQ(check.result, media::Vp8lStreamCheck::Result::kConsistent)
              << method << " " << quality << " " << near_lossless << " " << w << "x" << h << ": "
              << check.detail;
          ++streams;
        }
      }
    }
  }
  for (int filter : {0, 1, 2}) {
    for (int alpha_quality : {20, 100}) {
      for (auto [w, h] : {std::pair{1, 1}, std::pair{33, 17}, std::pair{300, 200}}) {
        EncodeOptions o;
        o.alpha = true;
        o.alpha_filter = filter;
        o.alpha_quality = alpha_quality;
        o.width = w;
        o.height = h;
        const std::string alpha = Chunk(EncodeWebp(o), "ALPH");
        ASSERT_FALSE(alpha.empty());
        const auto check = media::CheckAlphaChunk(alpha, static_cast<uint32_t>(w),
                                                  static_cast<uint32_t>(h), kNoLimit);
        EXPECT_EQ(check.result, media::Vp8lStreamCheck::Result::kConsistent)
            << filter << " " << alpha_quality << " " << w << "x" << h << ": " << check.detail;
        ++streams;
      }
    }
  }
  EXPECT_EQ(streams, 54 + 18);
}

TEST(Vp8lStreamTest, CiphertextInALosslessStreamOrAlphaPlaneIsFound) {
  EncodeOptions o;
  o.lossless = true;
  o.width = 400;
  o.height = 300;
  o.alpha = true;
  const std::string stream = Chunk(EncodeWebp(o), "VP8L");
  ASSERT_GT(stream.size(), 8192u);
  using Result = media::Vp8lStreamCheck::Result;
  // Prefix codes fall back into step after random bits, so the count of pixels the ciphertext
  // decodes to is what betrays it; on this noisy picture's near-uniform codes it sometimes is not
  // (3 of 50 here).
  int middle_found = 0;
  int tail_found = 0;
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE(seed);
    middle_found +=
        media::CheckVp8lImage(Overwrite(stream, stream.size() / 2, 256, seed), kNoLimit).result ==
        Result::kBroken;
    EXPECT_EQ(media::CheckVp8lImage(Overwrite(stream, 4096, stream.size(), seed), kNoLimit).result,
              Result::kBroken);
    tail_found +=
        media::CheckVp8lImage(Overwrite(stream, stream.size() - 64, 64, seed), kNoLimit).result ==
        Result::kBroken;
  }
  EXPECT_GE(middle_found, 45);
  EXPECT_GE(tail_found, 48);
  std::string flipped = stream;
  for (std::size_t i = 4096; i < flipped.size(); ++i) flipped[i] = static_cast<char>(~flipped[i]);
  EXPECT_EQ(media::CheckVp8lImage(flipped, kNoLimit).result, Result::kBroken);
  EXPECT_EQ(media::CheckVp8lImage(stream.substr(0, stream.size() * 3 / 4), kNoLimit).result,
            Result::kBroken);

  EncodeOptions lossy;
  lossy.alpha = true;
  lossy.width = 600;
  lossy.height = 400;
  const std::string alpha = Chunk(EncodeWebp(lossy), "ALPH");
  ASSERT_GT(alpha.size(), 100u);
  EXPECT_EQ(
      media::CheckAlphaChunk(Overwrite(alpha, alpha.size() / 2, 64, 9), 600, 400, kNoLimit).result,
      Result::kBroken);
  // An alpha plane of another picture's size is not this one's.
  EXPECT_EQ(media::CheckAlphaChunk(alpha, 600, 401, kNoLimit).result, Result::kBroken);
}

// A header claiming the largest picture whose codes have one symbol each (no bits per pixel):
// the work limit stops the parse.
TEST(Vp8lStreamTest, HostileStreamsStopAtTheWorkLimit) {
  // Made by hand: signature, 16384 x 16384, no transform, no cache, no meta codes, five simple
  // codes of one symbol each (1 bit: simple, 1 bit: one symbol, 1 bit: 1-bit symbol, symbol 0).
  std::string stream("\x2f\xff\xff\xff\x0f", 5);
  stream += std::string("\x88\x88\x08\x00", 4);
  const auto start = std::chrono::steady_clock::now();
  const auto check = media::CheckVp8lImage(stream, 1000000);
  EXPECT_EQ(check.result, media::Vp8lStreamCheck::Result::kNotChecked) << check.detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  for (uint64_t seed = 1; seed <= 300; ++seed) {  // no crash, no hang (ASan, UBSan)
    (void)media::CheckVp8lImage("\x2f" + RandomBytes(600, seed), limits::kMaxWebpSymbolsBase);
    (void)media::CheckAlphaChunk("\x01" + RandomBytes(600, seed), 300, 200,
                                 limits::kMaxWebpSymbolsBase);
  }
}
}  // namespace
}  // namespace steen::content
