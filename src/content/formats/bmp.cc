// BMP validator: BITMAPFILEHEADER (file size, pixel data offset) and DIB header (known header
// sizes, planes, bit depth, compression) must agree with each other and with the file size.
// Uncompressed pixel data is not high-entropy: sampled pixels must not be random bytes.
#include <cstdlib>
#include <memory>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::Hex;

bool KnownDibSize(uint32_t n) {
  return n == 12 || n == 16 || n == 40 || n == 52 || n == 56 || n == 64 || n == 108 || n == 124;
}

class BmpValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "bmp"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (head.size() < 18 || !StartsWith(head, "BM")) return false;
    return KnownDibSize(*LoadLE<uint32_t>(head, 14));
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "bmp";
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    media::ByteCursor c(reader);
    std::string_view h = c.Bytes(0, 138);
    if (h.size() < 26) return Truncated(report, "BMP headers incomplete");
    const uint32_t file_size = *LoadLE<uint32_t>(h, 2);
    const uint32_t pixel_offset = *LoadLE<uint32_t>(h, 10);
    const uint32_t dib = *LoadLE<uint32_t>(h, 14);
    if (!KnownDibSize(dib) || h.size() < 14 + std::min<std::size_t>(dib, 40)) {
      media::MarkDamaged(report, 14, size - 14,
                         "BMP: unknown DIB header size " + std::to_string(dib));
      return report;
    }
    int64_t width, height;
    uint32_t planes, bits, compression = 0, image_size = 0;
    if (dib == 12) {
      width = *LoadLE<uint16_t>(h, 18);
      height = *LoadLE<uint16_t>(h, 20);
      planes = *LoadLE<uint16_t>(h, 22);
      bits = *LoadLE<uint16_t>(h, 24);
    } else {
      width = static_cast<int32_t>(*LoadLE<uint32_t>(h, 18));
      height = static_cast<int32_t>(*LoadLE<uint32_t>(h, 22));
      planes = *LoadLE<uint16_t>(h, 26);
      bits = *LoadLE<uint16_t>(h, 28);
      compression = *LoadLE<uint32_t>(h, 30);
      image_size = *LoadLE<uint32_t>(h, 34);
    }
    const bool bits_ok = bits == 1 || bits == 2 || bits == 4 || bits == 8 || bits == 16 ||
                         bits == 24 || bits == 32 ||
                         (bits == 0 && (compression == 4 || compression == 5));
    if (planes != 1 || !bits_ok || width <= 0 || height == 0 || compression > 13 ||
        pixel_offset < 14 + dib) {
      media::MarkDamaged(report, 14, size - 14, "BMP: DIB header fields are inconsistent");
      return report;
    }
    const uint64_t rows = static_cast<uint64_t>(std::llabs(height));
    const uint64_t row_bytes = (static_cast<uint64_t>(width) * bits + 31) / 32 * 4;
    uint64_t end = pixel_offset;
    const bool uncompressed = compression == 0 || compression == 3 || compression == 6;
    if (uncompressed) {
      end += row_bytes * rows;
    } else {
      end += image_size;
      report.high_entropy_body = compression == 4 || compression == 5;  // embedded JPEG/PNG
    }
    // A V5 header may place an ICC profile after the pixels.
    if (dib == 124 && h.size() >= 14 + 124) {
      const uint32_t profile = *LoadLE<uint32_t>(h, 14 + 112);
      const uint32_t profile_size = *LoadLE<uint32_t>(h, 14 + 116);
      if (profile != 0 && profile_size != 0)
        end = std::max<uint64_t>(end, 14 + uint64_t{profile} + profile_size);
    }
    if (end > size) {
      return Truncated(report, "BMP pixel data needs " + std::to_string(end) + " bytes, file has " +
                                   std::to_string(size));
    }
    // The file size field is authoritative when it covers the pixels (some writers pad).
    report.structure_end = (file_size >= end && file_size <= size) ? file_size : end;
    // Pixels (or palette indices) that ransomware replaced by random bytes.
    if (uncompressed && bits >= 8) {
      media::RandomSampleCheck check(bits / 8);
      if (media::FindRandomSamples(c, pixel_offset, end, bits / 8, check)) {
        media::MarkRandom(report, check.offset(), end - check.offset(),
                          "BMP pixel data: " + check.description());
        return report;
      }
    }
    report.reasons.push_back("BMP headers consistent; pixel data ends at " + Hex(end));
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

std::unique_ptr<const FormatValidator> MakeBmpValidator() {
  return std::make_unique<BmpValidator>();
}

}  // namespace steen::content
