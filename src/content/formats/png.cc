// PNG validator: signature, chunk walk (lengths, type letters, CRC-32 of every chunk that lies in
// the head or tail window), IHDR first and IEND last, and a probe inflate of the first IDAT bytes.
// Chunk headers of the middle are reached by seeking, so body encryption breaks the walk.
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::Hex;

constexpr std::string_view kSignature("\x89PNG\r\n\x1a\n", 8);
// Chunks whose data lie inside these windows are CRC-checked (they were read anyway).
constexpr std::size_t kCrcWindow = limits::kHeadBytes;
// Chunk headers read by seeking through the middle of a large file before resynchronising at the
// tail (each costs one small read).
constexpr int kMaxMiddleSeeks = 256;

bool IsChunkType(std::string_view type) {
  if (type.size() != 4) return false;
  for (char ch : type) {
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) return false;
  }
  return true;
}

uint32_t Crc32(std::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

// Inflates the start of the zlib stream; false only when the data cannot be deflate.
bool ProbeInflate(std::string_view compressed, std::string* error) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return true;
  std::string out(limits::kMaxPartDecoded, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(std::min(compressed.size(), limits::kMaxPartProbe));
  bool ok = true;
  for (int rounds = 0; rounds < 64 && zs.avail_in > 0; ++rounds) {
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR) {
      ok = false;
      *error = zs.msg != nullptr ? zs.msg : "inflate error";
      break;
    }
    if (rc == Z_BUF_ERROR) break;
  }
  inflateEnd(&zs);
  return ok;
}

class PngValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "png"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, kSignature);
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "png";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    media::ByteCursor c(reader);
    if (c.Bytes(0, 8) != kSignature) {
      media::MarkDamaged(report, 0, size, "PNG signature missing");
      return report;
    }
    const uint64_t tail_start = size > kCrcWindow ? size - kCrcWindow : 0;
    std::string idat_probe;
    uint64_t pos = 8;
    int chunks = 0;
    bool seen_idat = false;
    bool idat_contiguous = true;
    int seeks = 0;  // chunk headers read outside the head and tail windows
    for (; chunks < limits::kMaxChunksWalked; ++chunks) {
      if (pos == size) break;
      if (pos > kCrcWindow && pos < tail_start && ++seeks > kMaxMiddleSeeks) {
        // Too many small chunks to hop through: resynchronise in the tail instead.
        if (!ResyncTail(c, tail_start, report)) return report;
        break;
      }
      std::string_view header = c.Bytes(pos, 8);
      if (header.size() < 8) {
        if (!reader.status().ok()) return report;
        return Truncated(report, "PNG ends inside a chunk header at " + Hex(pos));
      }
      const uint32_t length = *LoadBE<uint32_t>(header, 0);
      const std::string_view type = header.substr(4, 4);
      if (!IsChunkType(type) || length > 0x7fffffffu) {
        media::MarkDamaged(report, pos, size - pos,
                           "PNG chunk header at " + Hex(pos) + ": invalid type or length");
        return report;
      }
      if (chunks == 0 && type != "IHDR") {
        media::MarkDamaged(report, pos, size - pos, "PNG: first chunk is not IHDR");
        return report;
      }
      const uint64_t end = pos + 12 + length;
      if (end > size) {
        return Truncated(report, "PNG chunk '" + std::string(type) + "' at " + Hex(pos) +
                                     " runs past the end of the file");
      }
      // CRC-32 of chunks read anyway (head and tail windows).
      if ((end <= kCrcWindow || pos >= tail_start) && length <= kCrcWindow) {
        std::string_view chunk = c.Bytes(pos + 4, length + 8);
        if (chunk.size() == length + 8u) {
          const uint32_t stored = *LoadBE<uint32_t>(chunk, length + 4);
          if (Crc32(chunk.substr(0, length + 4)) != stored) {
            media::MarkDamaged(
                report, pos, size - pos,
                "PNG chunk '" + std::string(type) + "' at " + Hex(pos) + ": CRC mismatch");
            return report;
          }
          if (type == "IDAT" && idat_contiguous && idat_probe.size() < limits::kMaxPartProbe) {
            idat_probe.append(chunk.substr(
                4, std::min<std::size_t>(length, limits::kMaxPartProbe - idat_probe.size())));
          }
        }
      }
      if (type == "IDAT") {
        seen_idat = true;
        // The probe needs the start of the stream without gaps: stop at the first IDAT not read.
        if (!(end <= kCrcWindow || pos >= tail_start) || length > kCrcWindow)
          idat_contiguous = false;
      }
      if (seen_idat && !idat_probe.empty() && type != "IDAT") idat_contiguous = false;
      pos = end;
      if (type == "IEND") {
        report.structure_end = pos;
        break;
      }
    }
    if (report.structure_end == 0) {
      if (pos == size) return Truncated(report, "PNG ends without an IEND chunk");
      report.reasons.push_back("PNG chunk walk stopped after " + std::to_string(chunks) +
                               " chunks");
      return report;
    }
    if (!idat_probe.empty()) {
      std::string error;
      if (!ProbeInflate(idat_probe, &error)) {
        media::MarkDamaged(report, 8, size - 8, "PNG image data does not inflate: " + error);
        return report;
      }
    }
    report.reasons.push_back("PNG: " + std::to_string(chunks + 1) +
                             " chunks walked, CRCs in head and tail match, IEND at " +
                             Hex(report.structure_end - 12));
    if (report.structure_end < size) {
      report.reasons.push_back(std::to_string(size - report.structure_end) + " bytes after IEND");
    }
    return report;
  }

 private:
  // Finds a chunk boundary in the tail window (an "IDAT"/"IEND" header whose chunk CRC matches or
  // whose length leads to another chunk header) and walks from there to IEND.
  // Finds a chunk boundary in the tail window (an "IDAT"/"IEND" header whose chunk CRC matches)
  // and walks CRC-checked chunks from there to IEND. False when it reported damage or truncation.
  static bool ResyncTail(media::ByteCursor& c, uint64_t tail_start, FormatReport& report) {
    const uint64_t size = c.size();
    std::string_view tail = c.Bytes(tail_start, static_cast<std::size_t>(size - tail_start));
    bool saw_idat_header = false;
    bool runs_past_eof = false;
    for (std::size_t i = 0; i + 12 <= tail.size(); ++i) {
      const std::string_view type = tail.substr(i + 4, 4);
      if (type != "IDAT" && type != "IEND") continue;
      if (type == "IDAT") saw_idat_header = true;
      uint64_t pos = i;
      bool chained = false;
      int chain_length = 0;
      for (int n = 0; n < limits::kMaxChunksWalked && pos + 12 <= tail.size(); ++n) {
        const uint32_t length = *LoadBE<uint32_t>(tail, pos);
        const std::string_view t = tail.substr(pos + 4, 4);
        if (!IsChunkType(t)) break;
        if (pos + 12 + length > tail.size()) {
          runs_past_eof = runs_past_eof || (chain_length > 0 && length < 0x7fffffffu);
          break;
        }
        const uint32_t stored = *LoadBE<uint32_t>(tail, pos + 8 + length);
        if (Crc32(tail.substr(pos + 4, length + 4)) != stored) break;
        pos += 12 + length;
        ++chain_length;
        if (t == "IEND") {
          chained = true;
          break;
        }
      }
      // IEND alone proves nothing when an IDAT header was seen whose CRC failed.
      if (chained && (chain_length > 1 || !saw_idat_header)) {
        report.structure_end = tail_start + pos;
        return true;
      }
      if (runs_past_eof) break;
    }
    if (runs_past_eof) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("PNG: chunks in the tail run past the end of the file");
      return false;
    }
    media::MarkDamaged(report, tail_start, size - tail_start,
                       "PNG: no valid chunk sequence ending in IEND in the last " +
                           std::to_string(tail.size()) + " bytes");
    return false;
  }

  static FormatReport Truncated(FormatReport& report, std::string reason) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back(std::move(reason));
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakePngValidator() {
  return std::make_unique<PngValidator>();
}

}  // namespace steen::content
