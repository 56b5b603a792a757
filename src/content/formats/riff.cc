// RIFF validator: WAV, WebP and AVI. Chunks (four-character id, little-endian size, even padding)
// must chain up to the size the RIFF header declares. PCM WAV data is not high-entropy: sampled
// blocks must not be random bytes. WebP's first chunk (VP8/VP8L/VP8X) is checked, and its
// pictures are parsed to their ends (lossy frames: vp8_frame.h; lossless streams and alpha
// planes: vp8l_stream.h); AVI's movi list is walked within the head.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "content/formats/vp8_frame.h"
#include "content/formats/vp8l_stream.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::ByteCursor;
using media::Hex;

bool IsFourCc(std::string_view id) {
  if (id.size() != 4) return false;
  for (char ch : id) {
    if (ch < 0x20 || ch > 0x7e) return false;
  }
  return true;
}

// Chunks a truncated file may legitimately end inside.
bool IsKnownChunk(std::string_view id) {
  static constexpr std::string_view kIds[] = {"data", "LIST", "fmt ", "fact", "JUNK", "bext",
                                              "id3 ", "ID3 ", "VP8 ", "VP8L", "VP8X", "ALPH",
                                              "ANMF", "ICCP", "EXIF", "XMP ", "idx1", "smpl"};
  for (std::string_view k : kIds) {
    if (id == k) return true;
  }
  return false;
}

struct PcmFormat {
  int channels = 0;
  int bytes_per_sample = 0;
  int block_align = 0;
  bool is_unsigned = false;  // 8-bit PCM
};

class RiffValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "riff"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (head.size() < 12) return false;
    const std::string_view magic = head.substr(0, 4);
    const std::string_view form = head.substr(8, 4);
    if (magic == "RIFF") return form == "WAVE" || form == "WEBP" || form == "AVI ";
    return (magic == "RF64" || magic == "BW64") && form == "WAVE";
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    ByteCursor c(reader);
    std::string_view header = c.Bytes(0, 12);
    if (header.size() < 12) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("RIFF header incomplete");
      return report;
    }
    const std::string_view form = header.substr(8, 4);
    report.format = form == "WAVE" ? "wav" : form == "WEBP" ? "webp" : "avi";
    report.high_entropy_body = form != "WAVE";
    const bool rf64 = header.substr(0, 4) != "RIFF";
    const uint64_t riff_end = DeclaredEnd(header, size);
    PcmFormat pcm;
    bool is_pcm = false;
    uint64_t data_start = 0, data_end = 0;
    uint64_t movi_start = 0, movi_end = 0;
    uint64_t index_start = 0;  // AVI idx1
    uint64_t index_end = 0;
    uint64_t pos = 12;
    uint64_t last_chunk_end = 0;
    int chunks = 0;
    while (pos + 8 <= std::min(riff_end, size) && chunks < limits::kMaxChunksWalked) {
      std::string_view ch = c.Bytes(pos, 8);
      if (ch.size() < 8) break;
      std::string_view id = ch.substr(0, 4);
      if (!IsFourCc(id)) {
        // Writers that forget the pad byte after an odd-sized chunk.
        if (pos > 12 && IsFourCc(c.Bytes(pos - 1, 4))) {
          --pos;
          continue;
        }
        // Writers that declare a data chunk a few frames short leave samples where the next
        // chunk header would be: not a chunk, but no damage either unless the bytes are random.
        const uint64_t rest_end = std::min(riff_end, size);
        std::string_view rest = c.Bytes(
            pos, static_cast<std::size_t>(std::min<uint64_t>(rest_end - pos, 4 * limits::KiB)));
        if (data_start == 0 || LooksRandom(rest)) {
          media::MarkDamaged(report, pos, size - pos,
                             "RIFF chunk at " + Hex(pos) + ": invalid chunk id");
          return report;
        }
        report.reasons.push_back("RIFF: " + std::to_string(rest_end - pos) + " bytes at " +
                                 Hex(pos) + " are not a chunk (not random either)");
        pos = rest_end;
        break;
      }
      uint64_t length = *LoadLE<uint32_t>(ch, 4);
      if (id == "data" && (length == 0 || length == 0xffffffffu || rf64)) {
        length = std::min(riff_end, size) - pos - 8;
      }
      const uint64_t body = pos + 8;
      if (chunks == 0 && form == "WEBP" && !CheckWebpFirstChunk(c, id, body, report)) {
        return report;
      }
      if (id == "fmt " && form == "WAVE") is_pcm = ParseFmt(c.Bytes(body, 40), &pcm);
      if (id == "data") {
        data_start = body;
        data_end = body + length;
      }
      if (id == "LIST" && c.Bytes(body, 4) == "movi") {
        movi_start = body + 4;
        movi_end = body + length;
      }
      if (id == "idx1" && form == "AVI ") {
        index_start = body;
        index_end = std::min(body + length, size);
      }
      if (body + length > size && !IsKnownChunk(id)) {
        media::MarkDamaged(report, pos, size - pos,
                           "RIFF chunk '" + std::string(id) + "' at " + Hex(pos) +
                               " runs past the end of the file");
        return report;
      }
      ++chunks;
      last_chunk_end = body + length;
      pos = body + length + (length & 1);
    }
    if (last_chunk_end == size && riff_end > size) {
      // Every chunk complete up to EOF: writers that count the RIFF header in its size or
      // forget the final pad byte, not a truncated file.
      report.reasons.push_back("RIFF declares " + std::to_string(riff_end) +
                               " bytes; its chunks end exactly at EOF (" + std::to_string(size) +
                               ")");
    } else if (pos > size || riff_end > size) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("RIFF declares " + std::to_string(riff_end) + " bytes, file has " +
                               std::to_string(size));
    }
    if (chunks == 0) {
      if (report.integrity != Integrity::kTruncated) {
        media::MarkDamaged(report, 12, size - 12, "RIFF: no chunks");
      }
      return report;
    }
    // OpenDML AVI continues in further RIFF 'AVIX' lists.
    uint64_t end = std::min(riff_end, size);
    for (int n = 0; n < 1024 && end + 12 <= size; ++n) {
      std::string_view next = c.Bytes(end, 12);
      if (next.substr(0, 4) != "RIFF" || next.substr(8, 4) != "AVIX") break;
      end += 8 + uint64_t{*LoadLE<uint32_t>(next, 4)};
    }
    report.structure_end = std::min(end, size);
    if (form == "WEBP" && !CheckPictures(reader, WebpPictures(c, std::min(riff_end, size)),
                                         PictureParse::kByDefault, report)) {
      return report;
    }
    if (movi_start != 0 && !CheckMovi(c, movi_start, std::min(movi_end, size), report)) {
      return report;
    }
    if (movi_start != 0 && index_start != 0 &&
        !CheckIndexedChunks(c, movi_start, std::min(movi_end, size), index_start, index_end,
                            report)) {
      return report;
    }
    if (form == "WAVE" && is_pcm && data_start != 0) {
      report.high_entropy_body = false;
      if (!CheckPcm(c, pcm, data_start, std::min(data_end, size), report)) return report;
    }
    report.reasons.push_back("RIFF " + std::string(form) + ": " + std::to_string(chunks) +
                             " chunks chain to " + Hex(report.structure_end));
    return report;
  }

  // --verify: the pictures the default parse left (an animation's earlier frames, pictures
  // larger than limits::kMaxWebpCheckBytes).
  void VerifyWhole(Reader& reader, FormatReport& report) const override {
    ByteCursor c(reader);
    std::string_view header = c.Bytes(0, 12);
    if (header.size() < 12 || header.substr(8, 4) != "WEBP") return;
    const uint64_t riff_end = std::min(DeclaredEnd(header, reader.size()), reader.size());
    std::erase_if(report.reasons, [](const std::string& r) { return r.starts_with(kNotParsed); });
    (void)CheckPictures(reader, WebpPictures(c, riff_end), PictureParse::kTheRest, report);
  }

 private:
  // Where the RIFF (its 12-byte header given) says it ends. Streaming writers leave 0 or
  // 0xffffffff, and RF64/BW64 keep the size elsewhere: the RIFF then runs to EOF.
  static uint64_t DeclaredEnd(std::string_view header, uint64_t size) {
    const uint32_t declared = *LoadLE<uint32_t>(header, 4);
    const bool rf64 = header.substr(0, 4) != "RIFF";
    return (declared == 0 || declared == 0xffffffffu || rf64)
               ? size
               : 8 + uint64_t{declared} + (declared & 1);
  }

  // A WebP picture: its image (a lossy 'VP8 ' frame or a lossless 'VP8L' stream) and, before it,
  // its alpha plane ('ALPH'), with the picture's size (the canvas's, or the ANMF frame's).
  struct WebpPicture {
    ByteRange image;
    bool lossless = false;
    std::optional<ByteRange> alpha;
    uint32_t width = 0;
    uint32_t height = 0;
    uint64_t bytes() const { return image.length + (alpha ? alpha->length : 0); }
    // What parsing it costs, in bytes of a lossy frame: lossless data parses 4x faster.
    uint64_t cost() const {
      return (lossless ? image.length / 4 : image.length) + (alpha ? alpha->length / 4 : 0);
    }
    uint64_t end() const { return image.offset + image.length; }
  };

  // A still picture's, or each ANMF frame's; at most limits::kMaxWebpPicturesChecked, the last
  // among them.
  static std::vector<WebpPicture> WebpPictures(ByteCursor& c, uint64_t riff_end) {
    std::vector<WebpPicture> pictures;
    auto size24 = [&](uint64_t at) {
      const std::string_view b = c.Bytes(at, 3);
      if (b.size() < 3) return uint32_t{0};
      return (static_cast<uint32_t>(static_cast<uint8_t>(b[0])) |
              static_cast<uint32_t>(static_cast<uint8_t>(b[1])) << 8 |
              static_cast<uint32_t>(static_cast<uint8_t>(b[2])) << 16) +
             1;
    };
    auto walk = [&](uint64_t pos, uint64_t end, uint32_t width, uint32_t height, auto& self,
                    int depth) -> void {
      std::optional<ByteRange> alpha;
      for (int chunks = 0; pos + 8 <= end && chunks < limits::kMaxChunksWalked; ++chunks) {
        std::string_view ch = c.Bytes(pos, 8);
        if (ch.size() < 8) return;
        const std::string_view id = ch.substr(0, 4);
        const uint64_t length = *LoadLE<uint32_t>(ch, 4);
        if (id == "VP8X" && depth == 0 && length >= 10) {
          width = size24(pos + 8 + 4);
          height = size24(pos + 8 + 7);
        } else if (id == "ALPH") {
          alpha = ByteRange{pos + 8, length};
        } else if (id == "VP8 " || id == "VP8L") {
          WebpPicture picture{{pos + 8, length}, id == "VP8L", alpha, width, height};
          alpha.reset();
          // The first pictures and always the last (the one the default parse checks).
          if (pictures.size() < static_cast<std::size_t>(limits::kMaxWebpPicturesChecked)) {
            pictures.push_back(picture);
          } else {
            pictures.back() = picture;
          }
        } else if (id == "ANMF" && depth == 0 && length >= 16) {
          self(pos + 8 + 16, std::min(end, pos + 8 + length), size24(pos + 8 + 6),
               size24(pos + 8 + 9), self, depth + 1);
        }
        pos += 8 + length + (length & 1);
      }
    };
    walk(12, riff_end, 0, 0, walk, 0);
    return pictures;
  }

  static constexpr std::string_view kNotParsed = "WebP pictures not parsed to their ends";

  enum class PictureParse {
    kByDefault,  // Validate: the last picture, when its cost is within kMaxWebpCheckBytes
    kTheRest,    // VerifyWhole: every picture Validate left, each up to kMaxWebpVerifyBytes
  };

  // Parses pictures that lie whole in the file to their ends: a lossy frame's partitions
  // (vp8_frame.h), a lossless stream or alpha plane (vp8l_stream.h); false (and `report`
  // damaged) when one disagrees with its length or breaks a rule. By default only the last
  // picture: it is where ciphertext over a file's tail, or after its intact head, shows (a lossy
  // frame's parse costs ~50 ms per MB: an animated icon's every frame made most of a corpus
  // scan's WebP time).
  static bool CheckPictures(Reader& reader, std::vector<WebpPicture> pictures, PictureParse parse,
                            FormatReport& report) {
    std::erase_if(pictures, [&](const WebpPicture& p) { return p.end() > reader.size(); });
    if (pictures.empty()) return true;  // none, or cut short: the truncation is reported
    const bool last_by_default = pictures.back().cost() <= limits::kMaxWebpCheckBytes;
    std::vector<WebpPicture> parsed;
    if (parse == PictureParse::kByDefault) {
      if (last_by_default) parsed.push_back(pictures.back());
      const std::size_t left = pictures.size() - parsed.size();
      if (left > 0) {
        report.reasons.push_back(std::string(kNotParsed) + " (" + std::to_string(left) + " of " +
                                 std::to_string(pictures.size()) +
                                 " pictures; --verify parses them)");
      }
    } else {
      parsed = pictures;
      if (last_by_default) parsed.pop_back();
    }
    std::string consistent;
    int checked = 0;
    for (const WebpPicture& p : parsed) {
      if (p.bytes() > limits::kMaxWebpVerifyBytes) continue;
      std::string problem;
      ByteRange where = p.image;
      bool parsed_whole = true;
      auto read = [&](const ByteRange& r, std::string* copy, std::string_view* view) {
        if (parse == PictureParse::kByDefault) {
          auto bytes = reader.Read(r.offset, static_cast<std::size_t>(r.length));
          if (!bytes.ok()) return false;
          *view = *bytes;
        } else {
          if (!reader.ReadUncached(r.offset, static_cast<std::size_t>(r.length), copy).ok()) {
            return false;
          }
          *view = *copy;
        }
        return true;
      };
      const uint64_t budget =
          limits::kMaxWebpSymbolsBase + limits::kMaxWebpSymbolsPerByte * p.bytes();
      std::string copy;
      std::string_view bytes;
      using media::Vp8lStreamCheck;
      if (p.alpha && p.width > 0 && p.height > 0) {
        if (!read(*p.alpha, &copy, &bytes)) return true;
        const Vp8lStreamCheck alpha = media::CheckAlphaChunk(bytes, p.width, p.height, budget);
        if (alpha.result == Vp8lStreamCheck::Result::kBroken) {
          problem = "alpha plane: " + alpha.detail;
          where = {p.alpha->offset + alpha.offset, p.alpha->length - alpha.offset};
        }
        parsed_whole = alpha.result == Vp8lStreamCheck::Result::kConsistent;
      }
      if (problem.empty()) {
        if (!read(p.image, &copy, &bytes)) return true;
        if (p.lossless) {
          const Vp8lStreamCheck image = media::CheckVp8lImage(bytes, budget);
          if (image.result == Vp8lStreamCheck::Result::kBroken) {
            problem = image.detail;
            where = {p.image.offset + image.offset, p.image.length - image.offset};
          }
          parsed_whole = parsed_whole && image.result == Vp8lStreamCheck::Result::kConsistent;
          if (parsed_whole && consistent.empty()) consistent = image.detail;
        } else {
          const media::Vp8FrameCheck frame = media::CheckVp8KeyFrame(bytes, budget);
          using Result = media::Vp8FrameCheck::Result;
          if (frame.result == Result::kMismatch || frame.result == Result::kBadHeader) {
            problem = frame.detail;
            where = {p.image.offset + frame.offset, frame.length};
          }
          parsed_whole = parsed_whole && frame.result == Result::kConsistent;
          if (parsed_whole && consistent.empty()) consistent = frame.detail;
        }
      }
      if (!problem.empty()) {
        media::MarkDamaged(report, where.offset, where.length,
                           "WebP picture at " + Hex(p.image.offset) + ": " + problem);
        return false;
      }
      if (parsed_whole) ++checked;
    }
    if (checked > 1) consistent += " (and " + std::to_string(checked - 1) + " more pictures)";
    if (!consistent.empty()) report.reasons.push_back(consistent);
    return true;
  }

  static bool ParseFmt(std::string_view fmt, PcmFormat* f) {
    auto tag = LoadLE<uint16_t>(fmt, 0);
    auto channels = LoadLE<uint16_t>(fmt, 2);
    auto align = LoadLE<uint16_t>(fmt, 12);
    auto bits = LoadLE<uint16_t>(fmt, 14);
    if (!tag || !channels || !align || !bits || *channels == 0) return false;
    uint16_t format = *tag;
    if (format == 0xFFFE) {
      auto sub = LoadLE<uint16_t>(fmt, 24);
      if (!sub) return false;
      format = *sub;
    }
    if (format != 1 && format != 3) return false;
    f->channels = *channels;
    f->bytes_per_sample = (*bits + 7) / 8;
    f->block_align = *align;
    f->is_unsigned = *bits <= 8;
    return f->bytes_per_sample > 0 && f->block_align >= f->bytes_per_sample * f->channels;
  }

  // PCM samples that ransomware replaced by random bytes. (Real audio can be as noisy as it
  // likes: even white noise in 16-bit samples keeps a skewed high byte; only evidence that passes
  // the randomness test counts.)
  static bool CheckPcm(ByteCursor& c, const PcmFormat& f, uint64_t start, uint64_t end,
                       FormatReport& report) {
    media::RandomSampleCheck check(static_cast<std::size_t>(f.block_align));
    if (media::FindRandomSamples(c, start, end, static_cast<std::size_t>(f.block_align), check)) {
      media::MarkRandom(report, check.offset(), end - check.offset(),
                        "WAV PCM data: " + check.description());
      return false;
    }
    return true;
  }

  static bool CheckWebpFirstChunk(ByteCursor& c, std::string_view id, uint64_t body,
                                  FormatReport& report) {
    std::string_view b = c.Bytes(body, 10);
    bool ok = true;
    if (id == "VP8 ") {
      ok = b.size() >= 6 && b.substr(3, 3) == "\x9d\x01\x2a" &&
           (static_cast<uint8_t>(b[0]) & 1) == 0;
    } else if (id == "VP8L") {
      ok = b.size() >= 5 && static_cast<uint8_t>(b[0]) == 0x2f &&
           (static_cast<uint8_t>(b[4]) >> 5) == 0;  // version 0
    } else if (id == "VP8X") {
      ok = b.size() >= 4 && (static_cast<uint8_t>(b[0]) & 0xc1) == 0;
    } else {
      ok = false;
    }
    if (!ok) {
      media::MarkDamaged(report, body - 8, c.size() - body + 8,
                         "WebP: first chunk '" + std::string(id) + "' is not a valid image header");
    }
    return ok;
  }

  // AVI's idx1 lists every chunk of the movi list (id, flags, offset, size; 16 bytes each), with
  // offsets from the 'movi' tag or, in some writers, from the file's start. At each of the
  // analyzer's sample offsets, the indexed chunk ending first after it must be there, with its id
  // and size: ciphertext between head and tail shows where the default scan reads.
  static bool CheckIndexedChunks(ByteCursor& c, uint64_t movi_start, uint64_t movi_end,
                                 uint64_t index_start, uint64_t index_end, FormatReport& report) {
    constexpr uint64_t kEntry = 16;
    const uint64_t entries = (index_end - index_start) / kEntry;
    if (entries == 0) return true;
    struct Entry {
      std::string_view id;
      uint64_t offset;  // relative, as stored
      uint32_t size;
    };
    const auto entry = [&](uint64_t i) -> std::optional<Entry> {
      const std::string_view e = c.Bytes(index_start + i * kEntry, kEntry);
      if (e.size() < kEntry) return std::nullopt;
      return Entry{e.substr(0, 4), *LoadLE<uint32_t>(e, 8), *LoadLE<uint32_t>(e, 12)};
    };
    // The entries in the file's last 4 KiB (read anyway): chunk ids, not random bytes.
    const uint64_t tail = std::max(index_start, c.size() > 4096 ? c.size() - 4096 : 0);
    const uint64_t tail_first = (tail - index_start + kEntry - 1) / kEntry;
    uint64_t bad_ids = 0;
    uint64_t first_bad = entries;
    for (uint64_t i = tail_first; i < entries; ++i) {
      const auto e = entry(i);
      if (e && !IsFourCc(e->id)) {
        ++bad_ids;
        first_bad = std::min(first_bad, i);
      }
    }
    if (bad_ids >= 2) {
      const uint64_t from = index_start + first_bad * kEntry;
      const std::string_view bytes = c.Bytes(from, static_cast<std::size_t>(index_end - from));
      if (bytes.size() >= 256 && LooksRandom(bytes)) {
        media::MarkRandom(report, from, index_end - from,
                          "AVI index: " + std::to_string(bad_ids) + " entries from " + Hex(from) +
                              " have no chunk id; the bytes there are random");
        return false;
      }
    }
    // Which base the offsets use: the one where the first entry's chunk id is found.
    const auto first = entry(0);
    if (!first) return true;
    uint64_t base = 0;
    if (c.Bytes(movi_start - 4 + first->offset, 4) == first->id) {
      base = movi_start - 4;
    } else if (c.Bytes(first->offset, 4) != first->id) {
      return true;  // an index this validator does not understand: no evidence either way
    }
    for (uint64_t at : SampledBlockOffsets(c.size(), movi_start, movi_end, kEntry)) {
      // The first entry whose chunk ends after `at`, in [lo, hi].
      uint64_t lo = 0;
      uint64_t hi = entries;
      while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        const auto e = entry(mid);
        if (!e) return true;
        if (base + e->offset + 8 + e->size > at) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      if (lo == entries) continue;
      const auto e = entry(lo);
      if (!e || e->size == 0) continue;
      const uint64_t chunk = base + e->offset;
      if (chunk + 8 > movi_end) continue;
      const std::string_view header = c.Bytes(chunk, 8);
      if (header.size() < 8) continue;
      // Entries of 'rec ' groups point at their LIST header.
      const bool list = e->id == "rec " && header.substr(0, 4) == "LIST";
      if ((header.substr(0, 4) != e->id && !list) || *LoadLE<uint32_t>(header, 4) != e->size) {
        media::MarkDamaged(report, chunk, 8,
                           "AVI chunk at " + Hex(chunk) + " does not match its index entry " +
                               std::to_string(lo) + " ('" + std::string(e->id) + "', " +
                               std::to_string(e->size) + " bytes)");
        return false;
      }
    }
    return true;
  }

  // Walks the chunks of AVI's movi list that lie in the head window.
  static bool CheckMovi(ByteCursor& c, uint64_t pos, uint64_t end, FormatReport& report) {
    const uint64_t stop = std::min<uint64_t>(end, limits::kHeadBytes);
    for (int n = 0; pos + 8 <= stop && n < limits::kMaxChunksWalked; ++n) {
      std::string_view ch = c.Bytes(pos, 8);
      if (ch.size() < 8) return true;
      if (!IsFourCc(ch.substr(0, 4))) {
        media::MarkDamaged(report, pos, c.size() - pos,
                           "AVI movi chunk at " + Hex(pos) + ": invalid chunk id");
        return false;
      }
      const uint32_t length = *LoadLE<uint32_t>(ch, 4);
      // LIST 'rec ' groups: step inside.
      pos += ch.substr(0, 4) == "LIST" ? 12 : 8 + uint64_t{length} + (length & 1);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeRiffValidator() {
  return std::make_unique<RiffValidator>();
}

}  // namespace steen::content
