// JPEG validator: walks marker segments from SOI, then checks entropy-coded scan data, where every
// 0xFF must be followed by 0x00 (stuffing), RST0-7 or a marker that legitimately ends the scan.
// Ciphertext breaks that rule within a few hundred bytes, so scan data is checked in the head, in
// sampled middle blocks and in the tail up to the last EOI.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::ByteCursor;
using media::Hex;

enum class Mode { kMarkers, kScan };

struct JpegWalk {
  uint64_t pos = 0;
  Mode mode = Mode::kMarkers;
  bool ended = false;  // EOI reached and no further image follows
  uint64_t end = 0;    // offset just after the last EOI seen
  bool eof = false;    // the file ended inside the structure
  bool error = false;
  uint64_t error_at = 0;
  std::string reason;
  int scans = 0;
  uint64_t first_scan_data = 0;
  int images = 0;
};

bool IsRst(int m) { return m >= 0xD0 && m <= 0xD7; }
// Segments that progressive and multi-scan files carry between scans: Huffman and quantisation
// tables, the next scan header, restart interval, line count, comments.
bool IsBetweenScans(int m) {
  return m == 0xC4 || m == 0xDB || m == 0xDA || m == 0xDD || m == 0xDC || m == 0xFE;
}

std::string MarkerHex(int a, int b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%02X 0x%02X", a & 0xff, b & 0xff);
  return buf;
}

void Fail(JpegWalk& w, uint64_t at, std::string reason) {
  w.error = true;
  w.error_at = at;
  w.reason = std::move(reason);
}

// Walks from w.pos. Stops at the end of the structure, an error, EOF, when scan data reaches
// `scan_stop` or when a marker would start at or after `marker_stop`.
void Walk(ByteCursor& c, JpegWalk& w, uint64_t scan_stop, uint64_t marker_stop) {
  for (int steps = 0; steps < limits::kMaxChunksWalked; ++steps) {
    if (w.mode == Mode::kScan) {
      for (;;) {
        if (w.pos >= scan_stop) return;
        const int b = c.At(w.pos);
        if (b < 0) {
          w.eof = true;
          return;
        }
        if (b != 0xFF) {
          // Entropy-coded data is mostly other bytes: jump to the next 0xFF in one search.
          const std::string_view run = c.Bytes(w.pos, static_cast<std::size_t>(std::min<uint64_t>(
                                                          scan_stop - w.pos, ByteCursor::kWindow)));
          const void* ff = run.empty() ? nullptr : std::memchr(run.data(), 0xFF, run.size());
          w.pos += ff == nullptr
                       ? std::max<std::size_t>(run.size(), 1)
                       : static_cast<std::size_t>(static_cast<const char*>(ff) - run.data());
          continue;
        }
        const int n = c.At(w.pos + 1);
        if (n < 0) {
          w.eof = true;
          return;
        }
        if (n == 0x00 || IsRst(n)) {
          w.pos += 2;
        } else if (n == 0xFF) {
          ++w.pos;  // fill byte before a marker
        } else if (n >= 0xC0 && n != 0xD8) {
          w.mode = Mode::kMarkers;  // a marker ends the scan
          break;
        } else {
          Fail(w, w.pos, "JPEG scan data at " + Hex(w.pos) + ": invalid marker " + MarkerHex(b, n));
          return;
        }
      }
      continue;
    }
    if (w.pos >= marker_stop) return;
    const int b = c.At(w.pos);
    if (b < 0) {
      w.eof = true;
      return;
    }
    if (b != 0xFF) {
      Fail(w, w.pos, "JPEG at " + Hex(w.pos) + ": expected a marker, found byte " + Hex(b));
      return;
    }
    int m = c.At(w.pos + 1);
    for (int fill = 0; m == 0xFF && fill < 64; ++fill) m = c.At(++w.pos + 1);
    if (m < 0) {
      w.eof = true;
      return;
    }
    if (m == 0xD8) {  // SOI: an image that follows another (MPF, concatenated frames)
      ++w.images;
      w.pos += 2;
      continue;
    }
    if (m == 0xD9) {  // EOI
      w.pos += 2;
      w.end = w.pos;
      if (c.At(w.pos) == 0xFF && c.At(w.pos + 1) == 0xD8) continue;
      w.ended = true;
      return;
    }
    if (IsRst(m) || m == 0x01) {
      w.pos += 2;
      continue;
    }
    if (m < 0xC0) {
      Fail(w, w.pos, "JPEG at " + Hex(w.pos) + ": invalid marker " + MarkerHex(0xFF, m));
      return;
    }
    const int hi = c.At(w.pos + 2);
    const int lo = c.At(w.pos + 3);
    if (hi < 0 || lo < 0) {
      w.eof = true;
      return;
    }
    const int length = (hi << 8) | lo;
    // Tables between progressive scans have checkable first bytes: random bytes that happen to
    // read as such a marker fail here.
    const int first = c.At(w.pos + 4);
    if ((m == 0xC4 && first >= 0 && (first & 0xEC) != 0) ||
        (m == 0xDB && first >= 0 && (first & 0xEC) != 0) || (m == 0xDD && length != 4)) {
      Fail(w, w.pos,
           "JPEG segment " + MarkerHex(0xFF, m) + " at " + Hex(w.pos) + ": invalid table header");
      return;
    }
    if (w.scans > 0 && w.pos + 2 + static_cast<uint64_t>(length) > c.size()) {
      // Between progressive scans come tables and the next scan's header, which a download cut
      // short can end inside; any other segment there is random bytes read as a marker.
      if (IsBetweenScans(m)) {
        w.eof = true;
        return;
      }
      Fail(w, w.pos,
           "JPEG segment " + MarkerHex(0xFF, m) + " at " + Hex(w.pos) +
               " after scan data runs past the end of the file");
      return;
    }
    if (length < 2) {
      Fail(w, w.pos,
           "JPEG segment " + MarkerHex(0xFF, m) + " at " + Hex(w.pos) + ": length " +
               std::to_string(length));
      return;
    }
    if (m == 0xDA) {  // SOS: length is fixed by the component count
      const int components = c.At(w.pos + 4);
      if (components < 0) {
        w.eof = true;
        return;
      }
      if (components < 1 || components > 4 || length != 6 + 2 * components) {
        Fail(w, w.pos, "JPEG SOS at " + Hex(w.pos) + ": inconsistent header");
        return;
      }
      w.pos += 2 + static_cast<uint64_t>(length);
      if (w.scans++ == 0) w.first_scan_data = w.pos;
      w.mode = Mode::kScan;
      continue;
    }
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {  // SOFn
      const int components = c.At(w.pos + 9);
      if (components >= 0 && (components < 1 || length != 8 + 3 * components)) {
        Fail(w, w.pos, "JPEG SOF at " + Hex(w.pos) + ": inconsistent header");
        return;
      }
    }
    w.pos += 2 + static_cast<uint64_t>(length);
  }
}

class JpegValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "jpeg"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, std::string_view("\xFF\xD8\xFF", 3));
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "jpeg";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    ByteCursor c(reader);
    if (c.At(0) != 0xFF || c.At(1) != 0xD8) {
      media::MarkDamaged(report, 0, size, "JPEG: no SOI marker");
      return report;
    }
    auto head = reader.Read(0, limits::kHeadBytes);
    const std::string_view head_bytes = head.ok() ? *head : std::string_view();
    // Motion photos and Samsung trailers append video after the image: do not judge that part.
    const bool has_video_trailer = head_bytes.find("MicroVideo") != std::string_view::npos ||
                                   head_bytes.find("MotionPhoto") != std::string_view::npos ||
                                   (size >= 4 && c.Bytes(size - 4, 4) == "SEFT");

    JpegWalk w;
    w.pos = 2;
    w.images = 1;
    const bool small = size <= limits::kHeadBytes + limits::kTailBytes;
    const uint64_t head_stop = small ? size : limits::kHeadBytes;
    Walk(c, w, head_stop, head_stop + limits::MiB);
    if (w.error) {
      media::MarkDamaged(report, w.error_at, size - w.error_at, w.reason);
      return report;
    }
    if (w.ended) return Finish(report, w, size);
    if (w.eof) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("JPEG ends inside its structure (no EOI)");
      return report;
    }
    if (w.scans == 0) {
      report.reasons.push_back("JPEG: no scan within the first " + Hex(w.pos) + " bytes");
      return report;
    }
    if (has_video_trailer) {
      report.reasons.push_back("JPEG with an appended video (motion photo): tail not checked");
      return report;
    }
    // Middle: sampled blocks are scan data (or, in progressive files, segments between scans).
    const uint64_t tail_start = std::max<uint64_t>(w.pos, size - limits::kTailBytes);
    for (const ByteRange& block :
         media::MediaSampleBlocks(size, w.pos, tail_start, 4 * limits::KiB)) {
      JpegWalk s;
      s.pos = block.offset;
      s.mode = Mode::kScan;
      s.scans = 1;  // inside scan data: a segment after it must fit the file
      Walk(c, s, block.end(), block.end());
      if (s.error) {
        media::MarkDamaged(report, s.error_at, block.length, s.reason);
        return report;
      }
      if (s.ended) break;  // past the main image (multi-picture file): nothing more to sample
    }
    // Tail: scan data up to the last EOI.
    JpegWalk t;
    t.pos = tail_start;
    t.mode = Mode::kScan;
    t.scans = 1;
    Walk(c, t, size, size);
    if (t.error) {
      media::MarkDamaged(report, t.error_at, size - t.error_at, t.reason);
      return report;
    }
    if (t.ended) return Finish(report, t, size);
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back("JPEG ends inside scan data (no EOI)");
    return report;
  }

 private:
  static FormatReport& Finish(FormatReport& report, const JpegWalk& w, uint64_t size) {
    report.structure_end = w.end;
    report.reasons.push_back("JPEG markers and scan data consistent up to EOI at " +
                             Hex(w.end - 2));
    if (w.end < size) {
      report.reasons.push_back(std::to_string(size - w.end) + " bytes after EOI");
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeJpegValidator() {
  return std::make_unique<JpegValidator>();
}

}  // namespace steen::content
