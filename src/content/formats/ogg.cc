// Ogg validator: pages "OggS" with the Ogg CRC-32 (polynomial 0x04c11db7, unreflected) chained
// through the head, resynchronised in sampled middle blocks and chained through the tail; the
// structure ends after the last page.
#include <algorithm>
#include <array>
#include <memory>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::Hex;

// Largest possible page: 27-byte header, 255 lacing values of 255 bytes.
constexpr std::size_t kMaxPageBytes = 27 + 255 + 255 * 255;

const std::array<uint32_t, 256>& CrcTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t r = i << 24;
      for (int k = 0; k < 8; ++k) r = (r & 0x80000000u) ? (r << 1) ^ 0x04c11db7u : r << 1;
      t[i] = r;
    }
    return t;
  }();
  return table;
}

enum class PageCheck { kOk, kBad, kShort };

// Checks the page at the start of `bytes`; sets *length to its size.
PageCheck CheckPage(std::string_view bytes, std::size_t* length) {
  if (bytes.size() < 27)
    return StartsWith("OggS", bytes.substr(0, 4)) ? PageCheck::kShort : PageCheck::kBad;
  if (!StartsWith(bytes, "OggS") || bytes[4] != 0) return PageCheck::kBad;
  const std::size_t segments = static_cast<uint8_t>(bytes[26]);
  if (bytes.size() < 27 + segments) return PageCheck::kShort;
  std::size_t total = 27 + segments;
  for (std::size_t i = 0; i < segments; ++i) total += static_cast<uint8_t>(bytes[27 + i]);
  *length = total;
  if (bytes.size() < total) return PageCheck::kShort;
  const auto& table = CrcTable();
  uint32_t crc = 0;
  for (std::size_t i = 0; i < total; ++i) {
    const uint8_t b = (i >= 22 && i < 26) ? 0 : static_cast<uint8_t>(bytes[i]);
    crc = (crc << 8) ^ table[((crc >> 24) ^ b) & 0xff];
  }
  return crc == *LoadLE<uint32_t>(bytes, 22) ? PageCheck::kOk : PageCheck::kBad;
}

// The bytes of the page at `pos` (header first, so only the page's own length is read).
std::string_view PageBytes(media::ByteCursor& c, uint64_t pos) {
  std::string_view header = c.Bytes(pos, 27);
  if (header.size() < 27) return header;
  const std::size_t segments = static_cast<uint8_t>(header[26]);
  std::string_view lacing = c.Bytes(pos, 27 + segments);
  if (lacing.size() < 27 + segments) return lacing;
  std::size_t total = 27 + segments;
  for (std::size_t i = 0; i < segments; ++i) total += static_cast<uint8_t>(lacing[27 + i]);
  return c.Bytes(pos, total);
}

class OggValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "ogg"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, "OggS") && head.size() > 4 && head[4] == 0;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "ogg";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    media::ByteCursor c(reader);
    std::string_view first = c.Bytes(0, 64);
    if (first.find("OpusHead") != std::string_view::npos) report.format = "opus";
    if (first.find("\x80theora") != std::string_view::npos) report.format = "ogv";
    if (first.find("\x7f"
                   "FLAC") != std::string_view::npos)
      report.format = "oga";

    // Head: pages chain from offset 0.
    const bool small = size <= limits::kHeadBytes + limits::kTailBytes;
    const uint64_t head_stop = small ? size : limits::kHeadBytes;
    uint64_t pos = 0;
    int pages = 0;
    std::size_t largest_page = 0;
    while (pos < head_stop && pages < limits::kMaxChunksWalked) {
      std::size_t length = 0;
      const PageCheck check = CheckPage(PageBytes(c, pos), &length);
      if (check == PageCheck::kShort) {
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("Ogg page at " + Hex(pos) + " runs past the end of the file");
        return report;
      }
      if (check == PageCheck::kBad) {
        if (pages > 0 && pos >= 4 && !StartsWith(c.Bytes(pos, 4), "OggS") && small) break;
        media::MarkDamaged(report, pos, size - pos,
                           StartsWith(c.Bytes(pos, 4), "OggS")
                               ? "Ogg page at " + Hex(pos) + ": CRC mismatch"
                               : "Ogg: no page header at " + Hex(pos));
        return report;
      }
      pos += length;
      ++pages;
      largest_page = std::max(largest_page, length);
    }
    if (!small) {
      // A sample must be able to hold a whole page.
      const std::size_t block =
          std::min(kMaxPageBytes, std::max(16 * limits::KiB, 2 * largest_page));
      const uint64_t tail_start = size - limits::kTailBytes;
      for (uint64_t offset : media::MiddleSampleOffsets(pos, tail_start, block)) {
        if (!ResyncOk(c, offset, block)) {
          media::MarkDamaged(report, offset, block,
                             "Ogg block at " + Hex(offset) + ": no page with a valid CRC");
          return report;
        }
      }
      // Tail: find a page with a valid CRC, then chain to the end.
      std::string_view tail = c.Bytes(tail_start, limits::kTailBytes);
      pos = 0;
      bool found = false;
      for (std::size_t i = tail.find("OggS"); i != std::string_view::npos;
           i = tail.find("OggS", i + 1)) {
        std::size_t length = 0;
        if (CheckPage(tail.substr(i), &length) == PageCheck::kOk) {
          pos = tail_start + i;
          found = true;
          break;
        }
      }
      if (!found) {
        media::MarkDamaged(
            report, tail_start, size - tail_start,
            "Ogg: no page with a valid CRC in the last " + std::to_string(tail.size()) + " bytes");
        return report;
      }
      for (int n = 0; pos < size && n < limits::kMaxChunksWalked; ++n) {
        std::size_t length = 0;
        const PageCheck check = CheckPage(PageBytes(c, pos), &length);
        if (check == PageCheck::kShort) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("Ogg page at " + Hex(pos) + " runs past the end of the file");
          return report;
        }
        if (check == PageCheck::kBad) {
          if (StartsWith(c.Bytes(pos, 4), "OggS")) {
            media::MarkDamaged(report, pos, size - pos,
                               "Ogg page at " + Hex(pos) + ": CRC mismatch");
            return report;
          }
          break;
        }
        pos += length;
        ++pages;
      }
    }
    report.structure_end = pos;
    report.reasons.push_back("Ogg pages chain with valid CRCs; last page ends at " + Hex(pos));
    if (pos < size) report.reasons.push_back(std::to_string(size - pos) + " bytes after it");
    return report;
  }

 private:
  // True when the block holds the start of a page whose CRC matches (or only page starts that
  // run past the block, as with pages larger than the block).
  static bool ResyncOk(media::ByteCursor& c, uint64_t offset, std::size_t length) {
    std::string_view block = c.Bytes(offset, length);
    for (std::size_t i = block.find("OggS"); i != std::string_view::npos;
         i = block.find("OggS", i + 1)) {
      std::size_t page_length = 0;
      if (CheckPage(PageBytes(c, offset + i), &page_length) == PageCheck::kOk) return true;
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeOggValidator() {
  return std::make_unique<OggValidator>();
}

}  // namespace steen::content
