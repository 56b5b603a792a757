// FLAC validator: "fLaC", metadata blocks (STREAMINFO first), then audio frames. A frame header
// carries a CRC-8 and every frame ends with a CRC-16 over the whole frame, so frames found between
// two consecutive valid headers are verified in the head, in sampled middle blocks and in the tail.
#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::Hex;

uint8_t Crc8(std::string_view bytes) {
  uint8_t crc = 0;
  for (char ch : bytes) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k)
      crc = (crc & 0x80) ? static_cast<uint8_t>((crc << 1) ^ 0x07) : crc << 1;
  }
  return crc;
}

// CRC-16 (polynomial 0x8005, MSB first) tables for eight bytes at a time: table[k][b] is the CRC
// of byte b followed by k zero bytes. The frame checks cover most of what a FLAC scan reads.
using Crc16Tables = std::array<std::array<uint16_t, 256>, 8>;

const Crc16Tables& Crc16Table() {
  static const Crc16Tables tables = [] {
    Crc16Tables t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint16_t r = static_cast<uint16_t>(i << 8);
      for (int k = 0; k < 8; ++k)
        r = (r & 0x8000) ? static_cast<uint16_t>((r << 1) ^ 0x8005) : r << 1;
      t[0][i] = r;
    }
    for (std::size_t k = 1; k < t.size(); ++k) {
      for (uint32_t i = 0; i < 256; ++i) {
        const uint16_t prev = t[k - 1][i];
        t[k][i] = static_cast<uint16_t>((prev << 8) ^ t[0][prev >> 8]);
      }
    }
    return t;
  }();
  return tables;
}

struct StreamParams {
  int sample_rate_code = -1;  // from the first frame: the stream does not change it
  int channels = -1;
  int bits_code = -1;
};

// Channels of a frame's channel assignment code (8..10 are stereo decorrelation modes).
int ChannelCount(int code) { return code <= 7 ? code + 1 : 2; }

// Continuation bytes of the UTF-8-like coded frame or sample number whose first byte is `lead`;
// -1 when `lead` cannot start one.
int CodedNumberExtraBytes(uint8_t lead) {
  if (lead < 0x80) return 0;
  if ((lead & 0xE0) == 0xC0) return 1;
  if ((lead & 0xF0) == 0xE0) return 2;
  if ((lead & 0xF8) == 0xF0) return 3;
  if ((lead & 0xFC) == 0xF8) return 4;
  if ((lead & 0xFE) == 0xFC) return 5;
  if (lead == 0xFE) return 6;
  return -1;
}

// Length of the frame header at the start of `bytes` when it is a valid header (sync, reserved
// bits, CRC-8) of the stream `params` describes; 0 otherwise.
std::size_t FrameHeaderLength(std::string_view bytes, const StreamParams& params) {
  if (bytes.size() < 6) return 0;
  const auto b = [&](std::size_t i) { return static_cast<uint8_t>(bytes[i]); };
  if (b(0) != 0xFF || (b(1) & 0xFE) != 0xF8) return 0;
  const int block_code = b(2) >> 4;
  const int rate_code = b(2) & 0xF;
  const int channels = b(3) >> 4;
  const int bits = (b(3) >> 1) & 7;
  if (block_code == 0 || rate_code == 15 || channels > 10 || bits == 3 || (b(3) & 1)) return 0;
  // Encoders pick the stereo decorrelation (independent, left/side, right/side, mid/side: codes
  // 1, 8, 9, 10) frame by frame; only the channel count is fixed for the stream.
  if (params.sample_rate_code >= 0 &&
      (rate_code != params.sample_rate_code || ChannelCount(channels) != params.channels ||
       bits != params.bits_code)) {
    return 0;
  }
  std::size_t pos = 4;
  // UTF-8-like coded frame or sample number.
  const int extra = CodedNumberExtraBytes(b(4));
  if (extra < 0) return 0;
  pos += 1 + extra;
  if (bytes.size() < pos + 5) return 0;
  for (int i = 0; i < extra; ++i) {
    if ((b(5 + i) & 0xC0) != 0x80) return 0;
  }
  if (block_code == 6) pos += 1;
  if (block_code == 7) pos += 2;
  if (rate_code == 12) pos += 1;
  if (rate_code == 13 || rate_code == 14) pos += 2;
  if (bytes.size() < pos + 1) return 0;
  if (Crc8(bytes.substr(0, pos)) != b(pos)) return 0;
  return pos + 1;
}

uint16_t Crc16(uint16_t crc, std::string_view bytes) {
  const Crc16Tables& t = Crc16Table();
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  std::size_t n = bytes.size();
  for (; n >= 8; p += 8, n -= 8) {
    crc = static_cast<uint16_t>(t[7][p[0] ^ (crc >> 8)] ^ t[6][p[1] ^ (crc & 0xff)] ^ t[5][p[2]] ^
                                t[4][p[3]] ^ t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]]);
  }
  for (; n > 0; ++p, --n) crc = static_cast<uint16_t>((crc << 8) ^ t[0][(crc >> 8) ^ *p]);
  return crc;
}

// Samples in the block of the frame whose header starts `h` (0 when unknown).
uint32_t BlockSamples(std::string_view h, std::size_t header_length) {
  if (h.size() < header_length || header_length < 6) return 0;
  const int code = static_cast<uint8_t>(h[2]) >> 4;
  if (code == 1) return 192;
  if (code >= 2 && code <= 5) return 576u << (code - 2);
  if (code >= 8) return 256u << (code - 8);
  // 6 and 7: the value follows the coded number, just before the optional rate and the CRC-8.
  const int rate_code = static_cast<uint8_t>(h[2]) & 0xF;
  const std::size_t rate_bytes = rate_code == 12 ? 1 : (rate_code == 13 || rate_code == 14) ? 2 : 0;
  const std::size_t end = header_length - 1 - rate_bytes;
  if (code == 6) return static_cast<uint8_t>(h[end - 1]) + 1u;
  if (code == 7)
    return (uint32_t{static_cast<uint8_t>(h[end - 2])} << 8 | static_cast<uint8_t>(h[end - 1])) +
           1u;
  return 0;
}

// The sample just after the frame whose header (of `header_length` bytes) starts `h`: its coded
// number is a sample number (variable block size) or a frame number of `fixed_block` samples
// each; 0 when unknown.
uint64_t FrameEndSample(std::string_view h, std::size_t header_length, uint32_t fixed_block) {
  if (h.size() < header_length || header_length < 6) return 0;
  const auto lead = static_cast<uint8_t>(h[4]);
  const int extra = CodedNumberExtraBytes(lead);
  if (extra < 0) return 0;
  uint64_t number = extra == 0 ? lead : lead & (0x3F >> extra);
  for (int i = 1; i <= extra; ++i) number = number << 6 | (static_cast<uint8_t>(h[4 + i]) & 0x3F);
  const bool variable = (static_cast<uint8_t>(h[1]) & 1) != 0;
  if (!variable && fixed_block == 0) return 0;
  const uint64_t start = variable ? number : number * fixed_block;
  return start + BlockSamples(h, header_length);
}

struct FrameScan {
  uint64_t verified_bytes = 0;
  uint64_t verified_samples = 0;
  int frames_verified = 0;
  int headers = 0;
  bool bad = false;
  uint64_t bad_at = 0;
  uint64_t last_header = 0;  // offset in the window of the last header found
};

// In `window`, finds frame headers and verifies the CRC-16 of every frame that lies between a
// header and a later header (skipping false syncs inside frame data).
FrameScan ScanFrames(std::string_view window, const StreamParams& params) {
  FrameScan scan;
  std::vector<std::size_t> headers;
  for (std::size_t i = 0; i + 16 <= window.size() && headers.size() < 4096; ++i) {
    if (static_cast<uint8_t>(window[i]) != 0xFF) continue;
    if (FrameHeaderLength(window.substr(i, 32), params) != 0) headers.push_back(i);
  }
  scan.headers = static_cast<int>(headers.size());
  if (!headers.empty()) scan.last_header = headers.back();
  std::size_t i = 0;
  while (i + 1 < headers.size()) {
    bool matched = false;
    uint16_t crc = 0;
    std::size_t covered = headers[i];
    for (std::size_t j = i + 1; j < headers.size() && j <= i + 4; ++j) {
      crc = Crc16(crc, window.substr(covered, headers[j] - covered));
      covered = headers[j];
      if (crc == 0) {
        ++scan.frames_verified;
        scan.verified_bytes += headers[j] - headers[i];
        std::string_view h = window.substr(headers[i], 32);
        scan.verified_samples += BlockSamples(h, FrameHeaderLength(h, params));
        i = j;
        matched = true;
        break;
      }
    }
    if (!matched) {
      scan.bad = true;
      scan.bad_at = headers[i];
      return scan;
    }
  }
  return scan;
}

// A window without any frame header is damage only when it is random bytes where frames must
// start: frames can be longer than the window (verbatim high-resolution audio; then STREAMINFO's
// maximum frame size says so) and tags, pictures or padding may follow the audio.
bool MustHoldHeader(std::string_view window, uint32_t max_frame) {
  if (max_frame != 0 && max_frame + 32 >= window.size()) return false;
  return window.size() >= limits::KiB && LooksRandom(window);
}

class FlacValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "flac"; }

  bool Matches(std::string_view head, uint64_t) const override { return StartsWith(head, "fLaC"); }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "flac";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    media::ByteCursor c(reader);
    // Metadata blocks.
    uint64_t pos = 4;
    uint32_t max_frame = 0;      // STREAMINFO's largest frame size; 0 when the encoder did not know
    uint32_t fixed_block = 0;    // STREAMINFO's block size when every frame has it, else 0
    uint64_t total_samples = 0;  // STREAMINFO's sample count; 0 when the encoder did not know
    for (int blocks = 0;; ++blocks) {
      std::string_view header = c.Bytes(pos, 4);
      if (header.size() < 4) return Truncated(report, "FLAC ends inside its metadata");
      const int type = static_cast<uint8_t>(header[0]) & 0x7f;
      const bool last = static_cast<uint8_t>(header[0]) & 0x80;
      const uint32_t length = (uint32_t{static_cast<uint8_t>(header[1])} << 16) |
                              (uint32_t{static_cast<uint8_t>(header[2])} << 8) |
                              static_cast<uint8_t>(header[3]);
      if ((blocks == 0 && (type != 0 || length != 34)) || type > 6 ||
          blocks >= limits::kMaxChunksWalked) {
        media::MarkDamaged(report, pos, size - pos,
                           "FLAC metadata block at " + Hex(pos) + ": invalid type or length");
        return report;
      }
      if (blocks == 0) {
        std::string_view info = c.Bytes(pos + 4, 34);
        if (info.size() == 34) {
          max_frame = (uint32_t{static_cast<uint8_t>(info[7])} << 16) |
                      (uint32_t{static_cast<uint8_t>(info[8])} << 8) |
                      static_cast<uint8_t>(info[9]);
          const uint32_t min_block = LoadBE<uint16_t>(info, 0).value_or(0);
          const uint32_t max_block = LoadBE<uint16_t>(info, 2).value_or(0);
          if (min_block == max_block) fixed_block = max_block;
          total_samples = uint64_t{static_cast<uint8_t>(info[13]) & 0x0Fu} << 32 |
                          LoadBE<uint32_t>(info, 14).value_or(0);
        }
      }
      if (pos + 4 + uint64_t{length} > size) {
        // Metadata other than a picture (seek points, tags, padding, cue sheets) is never
        // random; a block that runs past the end over random bytes is encryption, not a cut.
        std::string_view body = c.Bytes(pos + 4, 4096);
        // A picture's data is compressed, but its header is not: type <= 20, a short MIME type.
        const bool picture_header_ok = type == 6 && body.size() >= 8 &&
                                       LoadBE<uint32_t>(body, 0).value_or(~0u) <= 20 &&
                                       LoadBE<uint32_t>(body, 4).value_or(~0u) <= 64;
        if (!picture_header_ok && body.size() >= 64 && ShortSpanLooksRandom(body)) {
          media::MarkRandom(report, pos, size - pos,
                            "FLAC metadata block at " + Hex(pos) +
                                " runs past the end of the file over random bytes");
          return report;
        }
      }
      pos += 4 + uint64_t{length};
      if (pos > size) return Truncated(report, "FLAC ends inside its metadata");
      if (last) break;
    }
    // First frame directly after the metadata fixes the stream parameters.
    const uint64_t audio = pos;
    StreamParams params;
    std::string_view first = c.Bytes(audio, 32);
    if (first.empty()) return Truncated(report, "FLAC has no audio frames");
    if (FrameHeaderLength(first, params) == 0) {
      media::MarkDamaged(report, audio, size - audio,
                         "FLAC: no valid frame header after the metadata at " + Hex(audio));
      return report;
    }
    params.sample_rate_code = static_cast<uint8_t>(first[2]) & 0xF;
    params.channels = ChannelCount(static_cast<uint8_t>(first[3]) >> 4);
    params.bits_code = (static_cast<uint8_t>(first[3]) >> 1) & 7;

    const bool small = size <= limits::kHeadBytes + limits::kTailBytes;
    std::string_view head = c.Bytes(
        audio, small ? size - audio
                     : limits::kHeadBytes - std::min<uint64_t>(audio, limits::kHeadBytes / 2));
    FrameScan scan = ScanFrames(head, params);
    if (scan.bad) {
      media::MarkDamaged(report, audio + scan.bad_at, size - audio - scan.bad_at,
                         "FLAC frame at " + Hex(audio + scan.bad_at) + ": CRC-16 mismatch");
      return report;
    }
    if (!small) {
      const uint64_t tail_start = size - limits::kTailBytes;
      for (uint64_t offset :
           media::MiddleSampleOffsets(audio + head.size(), tail_start, 32 * limits::KiB)) {
        const std::string_view block = c.Bytes(offset, 32 * limits::KiB);
        FrameScan s = ScanFrames(block, params);
        if (s.bad || (s.headers == 0 && MustHoldHeader(block, max_frame))) {
          const uint64_t at = offset + (s.bad ? s.bad_at : 0);
          media::MarkDamaged(report, at, 32 * limits::KiB,
                             "FLAC block at " + Hex(at) +
                                 (s.bad ? ": frame CRC-16 mismatch"
                                        : ": no frame header where frames must start"));
          return report;
        }
      }
      const std::string_view tail = c.Bytes(tail_start, limits::kTailBytes);
      scan = ScanFrames(tail, params);
      if (scan.bad || (scan.headers == 0 && MustHoldHeader(tail, max_frame))) {
        const uint64_t at = tail_start + scan.bad_at;
        media::MarkDamaged(
            report, at, size - at,
            "FLAC tail at " + Hex(at) +
                (scan.bad ? ": frame CRC-16 mismatch" : ": no frame header where frames must end"));
        return report;
      }
      if (scan.headers == 0) {
        // Frames longer than the tail window, or a long tag or padding after the audio.
        report.reasons.push_back("FLAC: no frame header in the last " +
                                 std::to_string(tail.size()) + " bytes; end not verified");
        return report;
      }
      head = tail;
      pos = tail_start;
    } else {
      pos = audio;
    }
    // The last frame ends where the running CRC-16 of it reaches 0: at EOF or before an ID3v1
    // tag when nothing was appended; otherwise at the zero closest to the expected frame length
    // (a residue of 0 also occurs by chance once per 64 KiB).
    const uint64_t last = pos + scan.last_header;
    std::string_view rest = c.Bytes(last, static_cast<std::size_t>(size - last));
    std::string_view last_header = rest.substr(0, 32);
    const double bytes_per_sample =
        scan.verified_samples > 0
            ? static_cast<double>(scan.verified_bytes) / static_cast<double>(scan.verified_samples)
            : 0.0;
    const std::size_t last_header_length = FrameHeaderLength(last_header, params);
    const double expected = bytes_per_sample * BlockSamples(last_header, last_header_length);
    // An end before EOF is the stream's end only if this is its last frame (by STREAMINFO's
    // count); otherwise a residue of 0 there is chance inside a frame cut short.
    const uint64_t end_sample = FrameEndSample(last_header, last_header_length, fixed_block);
    const bool may_end_before_eof =
        total_samples == 0 || end_sample == 0 || end_sample == total_samples;
    uint16_t crc = 0;
    uint64_t end = 0;
    double best = 0;
    for (std::size_t i = 0; i < rest.size(); ++i) {
      crc = Crc16(crc, rest.substr(i, 1));
      if (crc != 0 || i < 8) continue;
      const std::size_t length = i + 1;
      if (length == rest.size() ||
          (length + 128 == rest.size() && rest.substr(length, 3) == "TAG")) {
        end = last + length;
        break;
      }
      if (!may_end_before_eof) continue;
      const double distance = std::abs(static_cast<double>(length) - expected);
      if (end == 0 || distance < best) {
        end = last + length;
        best = distance;
      }
    }
    if (end == 0) {
      // A file cut inside its last frame holds less than a frame after that header. More than
      // the largest frame STREAMINFO declares, with no frame end in it, is no cut: the bytes
      // after that frame were overwritten. (The frames' average says nothing here: a loud frame
      // after quiet ones is several times longer.)
      if (max_frame > 0 && rest.size() > uint64_t{max_frame} + 64) {
        media::MarkDamaged(report, last, size - last,
                           "FLAC: no frame ends in the " + std::to_string(rest.size()) +
                               " bytes after the frame header at " + Hex(last) +
                               " (STREAMINFO's largest frame is " + std::to_string(max_frame) +
                               " bytes)");
        return report;
      }
      return Truncated(report, "FLAC: last frame at " + Hex(last) + " is incomplete");
    }
    report.structure_end = end;
    if (end + 128 == size && c.Bytes(end, 3) == "TAG") report.structure_end = size;
    report.reasons.push_back("FLAC metadata and frame CRCs consistent; last frame ends at " +
                             Hex(end));
    return report;
  }

 private:
  static FormatReport Truncated(FormatReport& report, std::string reason) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back(std::move(reason));
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeFlacValidator() {
  return std::make_unique<FlacValidator>();
}

}  // namespace steen::content
