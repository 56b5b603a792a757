// MP3 (and ADTS AAC) validator: an optional ID3v2 tag (its frames walked), then MPEG audio frames
// whose headers must chain: each header's frame length leads exactly to the next sync word.
// Ciphertext never chains, so chains are followed in the head, in sampled middle blocks
// (resynchronised) and up to the end of the file (ID3v1/APE tags allowed there).
#include <memory>
#include <string>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::ByteCursor;
using media::Hex;

// Frames that must chain before a resynchronisation point is trusted.
constexpr int kResyncFrames = 4;
// How far a resynchronisation searches for the first frame of a chain.
constexpr std::size_t kResyncSearchBytes = 16 * limits::KiB;
// Non-frame bytes after the last frame beyond which random-looking content means damage rather
// than an appended footer or tag.
constexpr std::size_t kTrailingBytesChecked = 4 * limits::KiB;

struct FrameKey {
  int kind = 0;  // 1 = MPEG audio, 2 = ADTS AAC
  int version = 0;
  int layer = 0;
  int rate = 0;
  bool operator==(const FrameKey&) const = default;
};

// Length of the frame whose header is `h` (4 or more bytes), 0 when `h` is not a header.
uint32_t FrameLength(std::string_view h, FrameKey* key) {
  if (h.size() < 6) return 0;
  const auto b = [&](int i) { return static_cast<uint8_t>(h[i]); };
  if (b(0) != 0xFF || (b(1) & 0xE0) != 0xE0) return 0;
  if ((b(1) & 0xF6) == 0xF0) {  // ADTS: MPEG-4/2 AAC, layer bits 00
    const int rate = (b(2) >> 2) & 0xF;
    if (rate > 12) return 0;
    const uint32_t length = ((b(3) & 3u) << 11) | (uint32_t{b(4)} << 3) | (b(5) >> 5);
    if (length < 7) return 0;
    *key = {2, (b(1) >> 3) & 1, 0, rate};
    return length;
  }
  const int version = (b(1) >> 3) & 3;  // 0 = 2.5, 2 = 2, 3 = 1
  const int layer = (b(1) >> 1) & 3;    // 1 = III, 2 = II, 3 = I
  const int bitrate_index = b(2) >> 4;
  const int rate_index = (b(2) >> 2) & 3;
  if (version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 ||
      (b(3) & 3) == 2) {
    return 0;
  }
  static constexpr int kBitrates[5][15] = {
      {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},  // V1 L1
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},     // V1 L2
      {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},      // V1 L3
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},     // V2 L1
      {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},          // V2 L2, L3
  };
  static constexpr int kRates[3] = {44100, 48000, 32000};
  const bool v1 = version == 3;
  const int table = v1 ? 3 - layer : (layer == 3 ? 3 : 4);
  const uint32_t bitrate = static_cast<uint32_t>(kBitrates[table][bitrate_index]) * 1000;
  uint32_t rate = static_cast<uint32_t>(kRates[rate_index]);
  if (version == 2) rate /= 2;
  if (version == 0) rate /= 4;
  const uint32_t padding = (b(2) >> 1) & 1;
  uint32_t length;
  if (layer == 3) {
    length = (12 * bitrate / rate + padding) * 4;
  } else if (layer == 1 && !v1) {
    length = 72 * bitrate / rate + padding;
  } else {
    length = 144 * bitrate / rate + padding;
  }
  *key = {1, version, layer, rate_index};
  return length;
}

// Layer III side information of the frame at the start of `frame` (whole frame): big_values may
// not exceed 288, a switched window needs a block type, and the Huffman data announced by
// part2_3_length must fit in the bit reservoir plus this frame. Random bytes fail this quickly.
bool LayerThreeSideInfoOk(std::string_view frame, const FrameKey& key) {
  if (key.kind != 1 || key.layer != 1 || frame.size() < 4) return true;
  const bool mpeg1 = key.version == 3;
  const bool mono = (static_cast<uint8_t>(frame[3]) >> 6) == 3;
  const int channels = mono ? 1 : 2;
  const std::size_t crc = (static_cast<uint8_t>(frame[1]) & 1) ? 0 : 2;
  const std::size_t side_bytes = mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17);
  const std::size_t start = 4 + crc;
  if (frame.size() < start + side_bytes) return true;
  std::size_t bit = 0;
  auto read = [&](int n) {
    uint32_t v = 0;
    for (int i = 0; i < n; ++i, ++bit) {
      const uint8_t byte = static_cast<uint8_t>(frame[start + bit / 8]);
      v = v << 1 | ((byte >> (7 - bit % 8)) & 1);
    }
    return v;
  };
  const uint32_t main_data_begin = read(mpeg1 ? 9 : 8);
  read(mpeg1 ? (mono ? 5 : 3) : (mono ? 1 : 2));  // private bits
  if (mpeg1) read(4 * channels);                  // scfsi
  uint64_t huffman_bits = 0;
  const int granules = mpeg1 ? 2 : 1;
  for (int gr = 0; gr < granules; ++gr) {
    for (int ch = 0; ch < channels; ++ch) {
      huffman_bits += read(12);
      if (read(9) > 288) return false;   // big_values
      read(8);                           // global_gain
      read(mpeg1 ? 4 : 9);               // scalefac_compress
      if (read(1)) {                     // window_switching_flag
        if (read(2) == 0) return false;  // block_type 0 is not a switched window
        read(1 + 10 + 9);
      } else {
        read(15 + 4 + 3);
      }
      read(mpeg1 ? 3 : 2);
    }
  }
  const uint64_t available = (uint64_t{main_data_begin} + frame.size() - start - side_bytes) * 8;
  return huffman_bits <= available;
}

struct Chain {
  int frames = 0;
  uint64_t end = 0;       // after the last whole frame
  bool past_eof = false;  // the next frame header announced more bytes than the file has
};

// Follows frame headers from `pos` while they are valid and of one stream, until `stop`.
Chain Follow(ByteCursor& c, uint64_t pos, uint64_t stop, FrameKey* key) {
  Chain chain;
  chain.end = pos;
  while (chain.frames < limits::kMaxChunksWalked && pos < stop) {
    FrameKey k;
    const uint32_t length = FrameLength(c.Bytes(pos, 6), &k);
    if (length == 0 || (key->kind != 0 && !(k == *key))) break;
    if (pos + length > c.size()) {
      chain.past_eof = true;
      break;
    }
    if (!LayerThreeSideInfoOk(c.Bytes(pos, length), k)) break;
    *key = k;
    pos += length;
    ++chain.frames;
    chain.end = pos;
  }
  return chain;
}

// First offset in [from, from + span) where at least `needed` frames chain (or reach EOF/stop).
bool Resync(ByteCursor& c, uint64_t from, std::size_t span, uint64_t stop, int needed,
            FrameKey* key, uint64_t* found) {
  std::string_view window = c.Bytes(from, span + 6);
  for (std::size_t i = 0; i + 1 < window.size() && i < span; ++i) {
    if (static_cast<uint8_t>(window[i]) != 0xFF ||
        (static_cast<uint8_t>(window[i + 1]) & 0xE0) != 0xE0) {
      continue;
    }
    FrameKey k = *key;
    const Chain chain = Follow(c, from + i, stop, &k);
    if (chain.frames >= needed ||
        (chain.frames > 0 && (chain.end >= stop || chain.past_eof || chain.end == c.size()))) {
      *key = k;
      *found = from + i;
      return true;
    }
  }
  return false;
}

// Length of a tag (ID3v1, APEv2, ID3v2, Lyrics3) starting at `pos`, 0 when there is none.
uint64_t TagLengthAt(ByteCursor& c, uint64_t pos) {
  std::string_view h = c.Bytes(pos, 32);
  if (StartsWith(h, "TAG") && pos + 128 <= c.size()) return 128;
  if (StartsWith(h, "APETAGEX") && h.size() >= 16) {
    const uint32_t length = *LoadLE<uint32_t>(h, 12);
    return 32 + uint64_t{length};
  }
  if (StartsWith(h, "LYRICSBEGIN")) return c.size() - pos;
  if (StartsWith(h, "ID3") && h.size() >= 10) {
    return 10 + ((uint64_t{static_cast<uint8_t>(h[6])} & 0x7f) << 21 |
                 (uint64_t{static_cast<uint8_t>(h[7])} & 0x7f) << 14 |
                 (uint64_t{static_cast<uint8_t>(h[8])} & 0x7f) << 7 |
                 (uint64_t{static_cast<uint8_t>(h[9])} & 0x7f));
  }
  return 0;
}

bool IsFrameIdChar(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'); }

// Walks the frames of an ID3v2 tag that lies in `tag` (header included). Returns the offset of a
// structure break followed by random-looking bytes, or 0 when the tag is plausible.
uint64_t Id3DamageAt(std::string_view tag) {
  const int major = static_cast<uint8_t>(tag[3]);
  if (major < 2 || major > 4) return 0;
  const std::size_t id_length = major == 2 ? 3 : 4;
  const std::size_t header_length = major == 2 ? 6 : 10;
  std::size_t pos = 10;
  if (major >= 3 && (static_cast<uint8_t>(tag[5]) & 0x40)) {  // extended header
    auto ext = LoadBE<uint32_t>(tag, 10);
    if (!ext) return 0;
    pos += major == 4 ? (*ext & 0x7f) | ((*ext >> 8) & 0x7f) << 7 | ((*ext >> 16) & 0x7f) << 14
                      : *ext + 4;
  }
  for (int frames = 0; frames < limits::kMaxChunksWalked && pos + header_length <= tag.size();
       ++frames) {
    if (tag[pos] == '\0') return 0;  // padding
    bool id_ok = true;
    for (std::size_t i = 0; i < id_length; ++i) id_ok = id_ok && IsFrameIdChar(tag[pos + i]);
    if (!id_ok) {
      std::string_view rest = tag.substr(pos, 256);
      return rest.size() >= 64 && ShortSpanLooksRandom(rest) ? pos : 0;
    }
    uint64_t length;
    if (major == 2) {
      length = (uint64_t{static_cast<uint8_t>(tag[pos + 3])} << 16) |
               (uint64_t{static_cast<uint8_t>(tag[pos + 4])} << 8) |
               static_cast<uint8_t>(tag[pos + 5]);
    } else {
      length = *LoadBE<uint32_t>(tag, pos + 4);
      if (major == 4 && (length & 0x80808080u) == 0) {
        // Syncsafe, except that some writers stored plain sizes in v2.4: keep the one that lands
        // on another frame or padding.
        const uint64_t syncsafe = (length & 0x7f) | ((length >> 8) & 0x7f) << 7 |
                                  ((length >> 16) & 0x7f) << 14 | ((length >> 24) & 0x7f) << 21;
        const std::size_t next = pos + header_length + syncsafe;
        if (next >= tag.size() || tag[next] == '\0' || IsFrameIdChar(tag[next])) length = syncsafe;
      }
    }
    pos += header_length + length;
  }
  return 0;
}

class Mp3Validator final : public FormatValidator {
 public:
  std::string_view name() const override { return "mp3"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (head.size() >= 10 && StartsWith(head, "ID3") && static_cast<uint8_t>(head[3]) >= 2 &&
        static_cast<uint8_t>(head[3]) <= 4) {
      return true;
    }
    FrameKey key;
    const uint32_t first = FrameLength(head, &key);
    if (first == 0) return false;
    FrameKey second;
    return first < head.size() && FrameLength(head.substr(first), &second) != 0 && second == key;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "mp3";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    ByteCursor c(reader);
    uint64_t audio = 0;
    std::string_view id3 = c.Bytes(0, 10);
    if (StartsWith(id3, "ID3") && id3.size() == 10) {
      audio = TagLengthAt(c, 0);
      if (static_cast<uint8_t>(id3[5]) & 0x10) audio += 10;  // footer present
      auto tag =
          reader.Read(0, static_cast<std::size_t>(std::min<uint64_t>(audio, limits::kHeadBytes)));
      if (tag.ok()) {
        const uint64_t bad = Id3DamageAt(*tag);
        if (bad != 0) {
          media::MarkRandom(report, bad, size - bad,
                            "ID3v2 tag at " + Hex(bad) + ": frame header is random bytes");
          return report;
        }
      }
      if (audio >= size) {
        report.reasons.push_back("ID3v2 tag only, no audio frames");
        return report;
      }
    }
    // Some writers pad past the declared tag size.
    for (int i = 0; i < 65536 && c.At(audio) == 0; ++i) ++audio;

    FrameKey key;
    uint64_t first = 0;
    const uint64_t head_stop = std::min<uint64_t>(size, audio + limits::kHeadBytes);
    if (!Resync(c, audio, kResyncSearchBytes, head_stop, kResyncFrames, &key, &first)) {
      std::string_view probe = c.Bytes(audio, 1024);
      FrameKey start_key;
      if (probe.size() >= 64 && ShortSpanLooksRandom(probe)) {
        media::MarkRandom(
            report, audio, size - audio,
            "MPEG audio at " + Hex(audio) + ": no chain of frame headers, random bytes");
      } else if (const Chain started = Follow(c, audio, head_stop, &start_key);
                 started.frames > 0) {
        // A stream that starts where the tag ends always resumes after a bad frame; intermittent
        // encryption leaves the first header whole and breaks every later chain.
        media::MarkDamaged(report, started.end, size - started.end,
                           "MPEG audio frames start at " + Hex(audio) + " and break at " +
                               Hex(started.end) + "; no stream resumes in the next " +
                               std::to_string(kResyncSearchBytes / limits::KiB) + " KiB");
      } else {
        report.reasons.push_back("no chain of MPEG audio frames after " + Hex(audio));
      }
      return report;
    }
    if (key.kind == 2) report.format = "aac";
    // Head: frames must chain through the head window (tags in between are allowed).
    uint64_t pos = first;
    int breaks = 0;
    uint64_t first_break = 0;
    while (pos < head_stop) {
      const Chain chain = Follow(c, pos, head_stop, &key);
      pos = chain.end;
      if (pos >= head_stop || chain.past_eof || pos == size) break;
      if (const uint64_t tag = TagLengthAt(c, pos); tag != 0) {
        pos += tag;
        continue;
      }
      if (breaks++ == 0) first_break = pos;
      uint64_t next = 0;
      if (!Resync(c, pos + 1, kResyncSearchBytes, head_stop, kResyncFrames, &key, &next)) {
        // No stream resumes: trailing bytes when the file ends soon, damage otherwise.
        if (pos + kResyncSearchBytes < size) breaks = 2;
        break;
      }
      pos = next;
    }
    if (breaks >= 2) {
      media::MarkDamaged(report, first_break, size - first_break,
                         "MPEG audio frame chain broken " + std::to_string(breaks) +
                             " times in the head, first at " + Hex(first_break));
      return report;
    }
    const uint64_t tail_start = size > limits::kTailBytes ? size - limits::kTailBytes : 0;
    if (size > limits::kHeadBytes + limits::kTailBytes) {
      // Middle samples: resynchronise, then the chain must run through the block.
      for (const ByteRange& block :
           media::MediaSampleBlocks(size, head_stop, tail_start, media::kMiddleSampleBytes)) {
        const uint64_t offset = block.offset;
        const uint64_t stop = block.end();
        // One read of the whole block: the frame headers read next are then views into it, not
        // small reads of their own.
        (void)c.Bytes(offset, block.length + 4);
        FrameKey k = key;
        uint64_t start = 0;
        if (!Resync(c, offset, block.length / 2, stop, 3, &k, &start)) {
          media::MarkDamaged(report, offset, block.length,
                             "MPEG audio block at " + Hex(offset) + ": no chain of frames");
          return report;
        }
        const Chain chain = Follow(c, start, stop, &k);
        if (chain.end < stop && TagLengthAt(c, chain.end) == 0) {
          media::MarkDamaged(report, chain.end, stop - chain.end,
                             "MPEG audio frame chain broken at " + Hex(chain.end));
          return report;
        }
      }
      pos = 0;
      FrameKey k = key;
      if (!Resync(c, tail_start, kResyncSearchBytes, size, kResyncFrames, &k, &pos)) {
        media::MarkDamaged(report, tail_start, size - tail_start,
                           "MPEG audio: no chain of frames in the last " +
                               std::to_string(size - tail_start) + " bytes");
        return report;
      }
      key = k;
    }
    // Tail: follow the chain to its end; tags may follow.
    for (int guard = 0; guard < 64; ++guard) {
      const Chain chain = Follow(c, pos, size, &key);
      pos = chain.end;
      if (chain.past_eof) {
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("MPEG audio: last frame at " + Hex(pos) +
                                 " runs past the end of the file");
        return report;
      }
      const uint64_t tag = TagLengthAt(c, pos);
      if (tag == 0 || pos + tag > size) break;
      pos += tag;
    }
    report.structure_end = pos;
    if (pos < size && size - pos > kTrailingBytesChecked) {
      std::string_view rest = c.Bytes(pos, 4096);
      if (LooksLikeCiphertext(ComputeBlockStats(rest))) {
        media::MarkRandom(report, pos, size - pos,
                          "MPEG audio frames stop at " + Hex(pos) + ", random bytes follow");
        return report;
      }
    }
    report.reasons.push_back("MPEG audio frames chain in head, samples and tail; end at " +
                             Hex(pos));
    if (breaks == 1) report.reasons.push_back("one frame-chain break at " + Hex(first_break));
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeMp3Validator() {
  return std::make_unique<Mp3Validator>();
}

}  // namespace steen::content
