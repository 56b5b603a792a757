// GIF validator: header, logical screen descriptor and colour table, then the block walk
// (extensions, image descriptors, LZW sub-block chains with length bytes) up to the trailer 0x3B.
// Large files are walked through the head and resynchronised in the tail: ciphertext turns the
// sub-block chain into a random walk that soon lands on an impossible block type.
#include <memory>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::ByteCursor;
using media::Hex;

// Tail start positions tried when resynchronising on the sub-block chain.
constexpr int kResyncStarts = 512;
// Image data decoded past the first irregular sub-block length.
constexpr uint64_t kLzwProbeBytes = 16 * limits::KiB;

struct GifWalk {
  uint64_t pos = 0;
  bool ended = false;  // trailer reached
  bool eof = false;
  bool error = false;
  uint64_t error_at = 0;
  std::string reason;
  int images = 0;
  int blocks = 0;       // extensions and images parsed
  int sub_blocks = 0;   // data sub-blocks skipped
  int full_blocks = 0;  // of which 255 bytes long (what encoders write except at the end)
  // Encoders cut image data into sub-blocks of one length (255) except the last of each chain;
  // a walk through random bytes sees a different length at every step.
  int full_length = 0;  // learnt from the first non-final sub-block
  int violations = 0;
  uint64_t first_violation_at = 0;
  uint64_t image_data_at = 0;       // LZW minimum code size byte of the current image
  uint64_t violation_image_at = 0;  // ... of the image where the first violation was seen
  // An extension label GIF89a does not define (plain text 0x01, graphic control 0xF9, comment
  // 0xFE, application 0xFF): legal to skip, but what a random byte after 0x21 usually is.
  bool unknown_label = false;
  uint64_t unknown_label_at = 0;
  // A walk that started out of phase is a random walk; this one has the shape of real data.
  bool Credible() const { return violations == 0 && (blocks > 0 || sub_blocks >= 8); }
};

void Fail(GifWalk& w, std::string reason) {
  w.error = true;
  w.error_at = w.pos;
  w.reason = std::move(reason);
}

// Skips a chain of sub-blocks at w.pos (through its zero terminator). False on EOF or stop.
bool SkipSubBlocks(ByteCursor& c, GifWalk& w, uint64_t stop, bool image_data) {
  int previous = 0;
  for (int n = 0; n < limits::kMaxChunksWalked; ++n) {
    if (w.pos >= stop) {
      w.eof = w.pos >= c.size();
      return false;
    }
    const int length = c.At(w.pos);
    if (length < 0) {
      w.eof = true;
      return false;
    }
    if (image_data && length != 0 && previous != 0) {
      if (w.full_length == 0) {
        w.full_length = previous;
      } else if (previous != w.full_length && w.violations++ == 0) {
        w.first_violation_at = w.pos;
        w.violation_image_at = w.image_data_at;
      }
    }
    previous = length;
    ++w.pos;
    if (length == 0) return true;
    ++w.sub_blocks;
    if (length == 255) ++w.full_blocks;
    w.pos += static_cast<uint64_t>(length);
  }
  Fail(w, "GIF: too many sub-blocks");
  return false;
}

// Walks blocks from w.pos (optionally starting inside a sub-block chain) until the trailer, an
// error, EOF or `stop`.
void Walk(ByteCursor& c, GifWalk& w, uint64_t stop, bool in_sub_blocks) {
  if (in_sub_blocks && !SkipSubBlocks(c, w, stop, true)) return;
  for (int n = 0; n < limits::kMaxChunksWalked; ++n) {
    if (w.pos >= stop) {
      w.eof = w.pos >= c.size();
      return;
    }
    const int type = c.At(w.pos);
    if (type < 0) {
      w.eof = true;
      return;
    }
    if (type == 0x3B) {
      ++w.pos;
      w.ended = true;
      return;
    }
    if (type == 0x21) {
      const int label = c.At(w.pos + 1);
      if (label < 0) {
        w.eof = true;
        return;
      }
      const int first = c.At(w.pos + 2);
      if ((label == 0xF9 && first >= 0 && first != 4) ||
          (label == 0x01 && first >= 0 && first != 12) ||
          (label == 0xFF && first >= 0 && first != 11)) {
        Fail(w, "GIF extension at " + Hex(w.pos) + ": wrong block size");
        return;
      }
      if (label != 0x01 && label != 0xF9 && label != 0xFE && label != 0xFF && !w.unknown_label) {
        w.unknown_label = true;
        w.unknown_label_at = w.pos;
      }
      w.pos += 2;
      ++w.blocks;
      if (!SkipSubBlocks(c, w, stop, false)) return;
      continue;
    }
    if (type == 0x2C) {
      std::string_view d = c.Bytes(w.pos, 11);
      if (d.size() < 11) {
        w.eof = true;
        return;
      }
      const uint8_t flags = static_cast<uint8_t>(d[9]);
      const uint64_t table = (flags & 0x80) ? 3u << ((flags & 7) + 1) : 0;
      const int min_code = c.At(w.pos + 10 + table);
      if (min_code < 0) {
        w.eof = true;
        return;
      }
      if (min_code < 1 || min_code > 11) {
        Fail(w,
             "GIF image at " + Hex(w.pos) + ": invalid LZW code size " + std::to_string(min_code));
        return;
      }
      ++w.images;
      ++w.blocks;
      w.image_data_at = w.pos + 10 + table;
      w.pos += 11 + table;
      if (!SkipSubBlocks(c, w, stop, true)) return;
      continue;
    }
    Fail(w, "GIF at " + Hex(w.pos) + ": invalid block type " + Hex(type));
    return;
  }
}

// GIF LZW: codes LSB-first, from min_code_size + 1 bits up to 12; clear = 1 << min_code_size,
// end = clear + 1. Every code must refer to the table built so far; ciphertext breaks that within a
// few dozen codes. Returns the file offset of the first impossible code in the image data whose
// minimum code size byte is at `at`, decoding through the sub-blocks up to `stop`; 0 when none.
uint64_t FirstBadGifCode(ByteCursor& c, uint64_t at, uint64_t stop) {
  const int min_code = c.At(at);
  if (min_code < 1 || min_code > 11) return 0;
  const uint32_t clear = 1u << min_code;
  uint32_t next = clear + 2;
  int width = min_code + 1;
  bool have_previous = false;
  uint32_t buffer = 0;
  int bits = 0;
  uint64_t pos = at + 1;
  uint64_t code_at = pos;
  for (int n = 0; n < limits::kMaxChunksWalked && pos < stop; ++n) {
    const int length = c.At(pos);
    if (length <= 0) return 0;  // end of the image data (or EOF)
    std::string_view block = c.Bytes(pos + 1, static_cast<std::size_t>(length));
    for (std::size_t i = 0; i < block.size(); ++i) {
      if (bits == 0) code_at = pos + 1 + i;
      buffer |= uint32_t{static_cast<uint8_t>(block[i])} << bits;
      bits += 8;
      while (bits >= width) {
        const uint32_t code = buffer & ((1u << width) - 1);
        buffer >>= width;
        bits -= width;
        if (code == clear) {
          next = clear + 2;
          width = min_code + 1;
          have_previous = false;
        } else if (code == clear + 1) {
          return 0;
        } else if (!have_previous) {
          if (code > clear) return code_at;  // after a clear code only a literal can follow
          have_previous = true;
        } else {
          if (code > next) return code_at;
          if (next < 4096) ++next;  // a full table stays full until the next clear code
          if (next == (1u << width) && width < 12) ++width;
        }
        code_at = pos + 1 + i;
      }
    }
    pos += 1 + static_cast<uint64_t>(length);
  }
  return 0;
}

class GifValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "gif"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, "GIF87a") || StartsWith(head, "GIF89a");
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "gif";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    ByteCursor c(reader);
    std::string_view h = c.Bytes(0, 13);
    if (h.size() < 13) return Truncated(report, "GIF header incomplete");
    const uint8_t flags = static_cast<uint8_t>(h[10]);
    GifWalk w;
    w.pos = 13 + ((flags & 0x80) ? 3u << ((flags & 7) + 1) : 0);
    const bool small = size <= limits::kHeadBytes + limits::kTailBytes;
    const uint64_t head_stop = small ? size : limits::kHeadBytes;
    Walk(c, w, head_stop, false);
    if (w.violations >= 2) {
      // Encoders do flush short sub-blocks mid-image; only codes that cannot decode are damage.
      const uint64_t bad =
          FirstBadGifCode(c, w.violation_image_at, w.first_violation_at + kLzwProbeBytes);
      if (bad != 0) {
        media::MarkDamaged(report, bad, size - bad,
                           "GIF image data at " + Hex(bad) +
                               ": LZW code refers to no table entry (sub-block lengths also " +
                               "leave the encoder's pattern at " + Hex(w.first_violation_at) + ")");
        return report;
      }
      report.reasons.push_back("GIF: sub-block lengths vary from " + Hex(w.first_violation_at) +
                               ", the image data still decodes");
    }
    if (w.error) {
      media::MarkDamaged(report, w.error_at, size - w.error_at, w.reason);
      return report;
    }
    if (w.eof && w.unknown_label) {
      // Truncation cuts a known chain; an undefined label whose sub-blocks run past the end of
      // the file is random bytes read as blocks (e.g. everything after the header encrypted).
      media::MarkDamaged(report, w.unknown_label_at, size - w.unknown_label_at,
                         "GIF extension at " + Hex(w.unknown_label_at) +
                             " has an undefined label and its sub-blocks run past the end");
      return report;
    }
    if (w.eof) return Truncated(report, "GIF ends before its trailer");
    if (!w.ended) {
      // Resynchronise in the tail: some start offset must be in phase with the sub-blocks.
      const uint64_t tail_start = std::max(w.pos, size - limits::kTailBytes);
      // ... and in the analyzer's sample blocks between: a block where no start offset gives a
      // chain with the encoder's pattern is random bytes.
      for (uint64_t at : SampledBlockOffsets(size, w.pos, tail_start, limits::kSampleBlockBytes)) {
        const uint64_t stop = at + limits::kSampleBlockBytes;
        bool in_phase = false;
        for (int s = 0; s < kResyncStarts && !in_phase; ++s) {
          GifWalk t;
          t.pos = at + static_cast<uint64_t>(s);
          Walk(c, t, stop, true);
          in_phase = !t.error && t.Credible();
        }
        if (!in_phase) {
          media::MarkDamaged(report, at, limits::kSampleBlockBytes,
                             "GIF: no consistent block chain in the " +
                                 std::to_string(limits::kSampleBlockBytes) + " bytes at " +
                                 Hex(at));
          return report;
        }
      }
      bool truncated = false;
      GifWalk best;
      for (int s = 0; s < kResyncStarts && !best.ended; ++s) {
        GifWalk t;
        t.pos = tail_start + s;
        Walk(c, t, size, true);
        if (t.ended && t.Credible()) best = t;
        if (t.eof && t.Credible()) truncated = true;
      }
      if (!best.ended) {
        if (truncated) return Truncated(report, "GIF ends before its trailer");
        media::MarkDamaged(report, tail_start, size - tail_start,
                           "GIF: no consistent block chain to the trailer in the last " +
                               std::to_string(size - tail_start) + " bytes");
        return report;
      }
      w = best;
    }
    report.structure_end = w.pos;
    report.reasons.push_back("GIF blocks chain to the trailer at " + Hex(w.pos - 1));
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

std::unique_ptr<const FormatValidator> MakeGifValidator() {
  return std::make_unique<GifValidator>();
}

}  // namespace steen::content
