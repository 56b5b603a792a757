// LUKS disk images (v1 and v2): a legitimately encrypted container. The header is checked (cipher
// names, key slots, v2 JSON metadata area and secondary header); the payload is ciphertext by
// design.
#include <algorithm>
#include <string>

#include "content/bytes.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using system_detail::Hex;

constexpr std::string_view kMagic("LUKS\xba\xbe", 6);
constexpr std::string_view kMagic2("SKUL\xba\xbe", 6);

// A NUL-padded text field: printable up to the first NUL, then only NULs.
bool TextField(std::string_view field, bool allow_empty) {
  bool ended = false;
  std::size_t used = 0;
  for (char c : field) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0) {
      ended = true;
    } else if (ended || u < 0x20 || u > 0x7e) {
      return false;
    } else {
      ++used;
    }
  }
  return allow_empty || used > 0;
}

void Damage(FormatReport& report, uint64_t at, uint64_t length, std::string reason) {
  report.integrity = Integrity::kDamaged;
  report.reasons.push_back(std::move(reason));
  if (length > 0) report.damaged_ranges.push_back({at, length});
}

class LuksValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "luks"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (!StartsWith(head, kMagic)) return false;
    const uint16_t version = LoadBE<uint16_t>(head, 6).value_or(0);
    return version == 1 || version == 2;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "luks";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto head_or = reader.Read(0, limits::kHeadBytes);
    if (!head_or.ok()) return report;
    const std::string_view head = *head_or;
    if (!Matches(head, size)) {
      Damage(report, 0, size, "LUKS magic or version invalid");
      return report;
    }
    const uint16_t version = LoadBE<uint16_t>(head, 6).value_or(0);
    if (version == 1) return ValidateV1(head, size, report);
    return ValidateV2(reader, head, size, report);
  }

 private:
  static FormatReport ValidateV1(std::string_view head, uint64_t size, FormatReport& report) {
    if (head.size() < 592) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("LUKS1 header cut short");
      return report;
    }
    if (!TextField(head.substr(8, 32), false) || !TextField(head.substr(40, 32), false) ||
        !TextField(head.substr(72, 32), false) || !TextField(head.substr(168, 40), false)) {
      Damage(report, 8, size - 8, "LUKS1 header text fields (cipher, mode, hash, UUID) invalid");
      return report;
    }
    const uint32_t payload_sectors = LoadBE<uint32_t>(head, 104).value_or(0);
    const uint32_t key_bytes = LoadBE<uint32_t>(head, 108).value_or(0);
    if (key_bytes == 0 || key_bytes > 512 || payload_sectors == 0) {
      Damage(report, 104, size - 104, "LUKS1 payload offset or key size invalid");
      return report;
    }
    int active = 0;
    for (int slot = 0; slot < 8; ++slot) {
      const std::size_t at = 208 + static_cast<std::size_t>(slot) * 48;
      const uint32_t state = LoadBE<uint32_t>(head, at).value_or(0);
      const uint32_t stripes = LoadBE<uint32_t>(head, at + 44).value_or(0);
      if (state != 0x00AC71F3 && state != 0x0000DEAD) {
        Damage(report, at, size - at,
               "LUKS1 key slot " + std::to_string(slot) + " at " + Hex(at) + ": state invalid");
        return report;
      }
      if (state == 0x00AC71F3) ++active;
      if (stripes == 0) {
        Damage(report, at, size - at, "LUKS1 key slot " + std::to_string(slot) + ": no stripes");
        return report;
      }
    }
    const uint64_t payload = uint64_t{payload_sectors} * 512;
    if (payload > size) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("LUKS1 payload offset beyond end of file (header backup?)");
      return report;
    }
    report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back(
        "LUKS1 container, cipher " +
        std::string(head.substr(8, 32).substr(0, head.substr(8, 32).find('\0'))) + ", " +
        std::to_string(active) + " active key slot(s)");
    return report;
  }

  static FormatReport ValidateV2(Reader& reader, std::string_view head, uint64_t size,
                                 FormatReport& report) {
    if (head.size() < 4096) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("LUKS2 header cut short");
      return report;
    }
    const uint64_t hdr_size = LoadBE<uint64_t>(head, 8).value_or(0);
    const uint64_t hdr_offset = LoadBE<uint64_t>(head, 256).value_or(1);
    // Header sizes are 16 KiB .. 4 MiB, powers of two.
    const bool size_ok =
        hdr_size >= 16 * 1024 && hdr_size <= 4 * limits::MiB && (hdr_size & (hdr_size - 1)) == 0;
    if (!size_ok || hdr_offset != 0 || !TextField(head.substr(72, 32), false) ||
        !TextField(head.substr(168, 40), false) || !TextField(head.substr(24, 48), true)) {
      Damage(report, 8, size - 8, "LUKS2 binary header fields invalid");
      return report;
    }
    // JSON metadata follows the 4 KiB binary header, NUL-padded to the header size.
    const std::string_view json = head.substr(4096, 4096);
    if (json.empty() || json[0] != '{' || json.find("\"keyslots\"") == std::string_view::npos) {
      if (size < 4096 + 2) {
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("LUKS2 JSON area missing");
      } else {
        Damage(report, 4096, size - 4096, "LUKS2 JSON metadata at 0x1000 invalid");
      }
      return report;
    }
    if (hdr_size < size) {
      auto second_or = reader.Read(hdr_size, 8);
      if (second_or.ok() && !StartsWith(*second_or, kMagic2)) {
        Damage(report, hdr_size, size - hdr_size,
               "LUKS2 secondary header missing at " + Hex(hdr_size));
        return report;
      }
    }
    report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back(
        "LUKS2 container; binary header, JSON metadata and secondary header "
        "present");
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeLuksValidator() {
  return std::make_unique<LuksValidator>();
}

}  // namespace steen::content
