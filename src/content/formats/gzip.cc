// gzip validator: member headers (FEXTRA/FNAME/FCOMMENT/FHCRC), an inflate probe of the first
// limits::kMaxInflateProbe bytes, and each fully decoded member's trailer (CRC-32, ISIZE); members
// are followed while they lie within the probe window, which gives an exact structure_end for small
// files.
#include <algorithm>
#include <string>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

// Parses a member header at `pos` of `window`; returns the data offset or 0 with `why` set.
std::size_t ParseMemberHeader(std::string_view window, std::size_t pos, bool window_is_file,
                              std::string* why) {
  auto flags = ByteAt(window, pos + 3);
  if (!HasAt(window, pos, std::string_view("\x1f\x8b\x08", 3)) || !flags) {
    *why = "bad member signature";
    return 0;
  }
  if ((*flags & 0xE0) != 0) {
    *why = "reserved header flag bits set";
    return 0;
  }
  std::size_t at = pos + 10;
  if (*flags & 0x04) {  // FEXTRA
    auto xlen = LoadLE<uint16_t>(window, at);
    if (!xlen) {
      *why = window_is_file ? "truncated header" : "";
      return 0;
    }
    at += 2 + std::size_t{*xlen};
  }
  for (uint8_t field : {0x08, 0x10}) {  // FNAME, FCOMMENT: zero-terminated
    if ((*flags & field) == 0) continue;
    std::size_t end = at < window.size() ? window.find('\0', at) : std::string_view::npos;
    if (end == std::string_view::npos) {
      *why = window_is_file ? "header name/comment runs to the end of the file" : "";
      return 0;
    }
    at = end + 1;
  }
  if (*flags & 0x02) {  // FHCRC: low 16 bits of the CRC-32 of the header so far
    auto stored = LoadLE<uint16_t>(window, at);
    if (!stored) {
      *why = window_is_file ? "truncated header" : "";
      return 0;
    }
    if ((Crc32(window.substr(pos, at - pos)) & 0xFFFF) != *stored) {
      *why = "header CRC16 mismatch";
      return 0;
    }
    at += 2;
  }
  if (at > window.size()) {
    *why = window_is_file ? "truncated header" : "";
    return 0;
  }
  return at;
}

class GzipValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "gzip"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return HasAt(head, 0, std::string_view("\x1f\x8b\x08", 3));
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "gzip";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto window_or = reader.Read(0, std::min<uint64_t>(size, limits::kMaxInflateProbe));
    if (!window_or) return report;
    const std::string_view window = *window_or;
    const bool window_is_file = window.size() == size;

    std::size_t pos = 0;
    for (int member = 0; member < limits::kMaxChunksWalked; ++member) {
      std::string why;
      std::size_t data = ParseMemberHeader(window, pos, window_is_file, &why);
      if (data == 0) {
        if (!why.empty()) {
          MarkDamaged(report, "gzip member at " + Hex(pos) + ": " + why, pos, size);
        }
        return report;
      }
      ProbeResult probe = InflateProbe(window.substr(data), -15);
      if (probe.outcome == ProbeOutcome::kError) {
        MarkDamaged(report,
                    "gzip member at " + Hex(pos) + ": deflate data invalid near " +
                        Hex(data + probe.consumed) + " (" + probe.error + ")",
                    data, size);
        return report;
      }
      if (probe.outcome == ProbeOutcome::kOutputCapped) {
        report.reasons.push_back("gzip: first " + std::to_string(probe.produced) +
                                 " bytes of member at " + Hex(pos) + " decode");
        return report;
      }
      if (probe.outcome == ProbeOutcome::kInputEnded) {
        if (window_is_file) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("gzip member at " + Hex(pos) +
                                   ": deflate stream ends early (file truncated)");
        } else {
          report.reasons.push_back("gzip: probe of member at " + Hex(pos) + " decodes");
        }
        return report;
      }
      // Stream end: the 8-byte trailer follows.
      const std::size_t trailer = data + probe.consumed;
      auto crc = LoadLE<uint32_t>(window, trailer);
      auto isize = LoadLE<uint32_t>(window, trailer + 4);
      if (!crc || !isize) {
        if (window_is_file) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("gzip member at " + Hex(pos) + ": trailer cut off (truncated)");
        }
        return report;
      }
      if (*crc != probe.crc || *isize != static_cast<uint32_t>(probe.produced)) {
        MarkDamaged(report, "gzip member at " + Hex(pos) + ": trailer CRC-32/ISIZE mismatch",
                    trailer, size);
        return report;
      }
      pos = trailer + 8;
      if (pos == size) {
        report.structure_end = pos;
        report.reasons.push_back("gzip: " + std::to_string(member + 1) +
                                 " member(s) decoded completely");
        return report;
      }
      if (pos >= window.size()) return report;  // next member beyond the probe window
      if (!HasAt(window, pos, std::string_view("\x1f\x8b", 2))) {
        report.structure_end = pos;
        std::string_view rest = window.substr(pos);
        bool zeros = window_is_file && rest.find_first_not_of('\0') == std::string_view::npos;
        report.reasons.push_back(zeros
                                     ? "gzip: zero padding after the last member"
                                     : "gzip: trailing bytes after the last member at " + Hex(pos));
        return report;
      }
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeGzipValidator() {
  return std::make_unique<GzipValidator>();
}

}  // namespace steen::content::archive
