// RAR validator (v4 and v5): walks the block/header chain with each header's CRC (CRC16 for v4,
// CRC32 for v5), bounded; encrypted archives (encrypted headers, or encrypted file entries) are
// reported as encrypted containers. structure_end follows the end-of-archive header.
#include <algorithm>
#include <string>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kRar4("Rar!\x1A\x07\x00", 7);
constexpr std::string_view kRar5("Rar!\x1A\x07\x01\x00", 8);

bool ReadVint(std::string_view bytes, std::size_t& pos, uint64_t& value) {
  value = 0;
  for (int i = 0; i < 10; ++i) {
    auto b = ByteAt(bytes, pos++);
    if (!b) return false;
    value |= static_cast<uint64_t>(*b & 0x7F) << (7 * i);
    if ((*b & 0x80) == 0) return true;
  }
  return false;
}

class RarValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "rar"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, kRar4) || StartsWith(head, kRar5);
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "rar";
    report.high_entropy_body = true;
    auto head = reader.Read(0, 8);
    if (!head) return report;
    if (StartsWith(*head, kRar5)) {
      WalkV5(reader, report);
    } else {
      WalkV4(reader, report);
    }
    return report;
  }

 private:
  static void Truncated(FormatReport& report, const std::string& why) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back("RAR: " + why + " (file truncated)");
  }

  static void WalkV4(BoundedReader& reader, FormatReport& report) {
    const uint64_t size = reader.size();
    uint64_t pos = kRar4.size();
    bool encrypted_files = false;
    for (int i = 0; i < limits::kMaxChunksWalked; ++i) {
      if (pos == size) {  // archives from old versions end without an end block
        report.structure_end = pos;
        break;
      }
      auto fixed = reader.Read(pos, 7);
      if (!fixed) return;
      if (fixed->size() < 7) return Truncated(report, "file ends inside a block header");
      const uint16_t crc = *LoadLE<uint16_t>(*fixed, 0);
      const uint8_t type = static_cast<uint8_t>((*fixed)[2]);
      const uint16_t flags = *LoadLE<uint16_t>(*fixed, 3);
      const uint16_t head_size = *LoadLE<uint16_t>(*fixed, 5);
      if (head_size < 7 || type < 0x72 || type > 0x7B) {
        MarkDamaged(report, "RAR block at " + Hex(pos) + ": invalid header", pos, size);
        return;
      }
      auto block = reader.Read(pos, head_size);
      if (!block) return;
      if (block->size() < head_size) return Truncated(report, "file ends inside a block header");
      if ((Crc32(block->substr(2)) & 0xFFFF) != crc) {
        MarkDamaged(report, "RAR block at " + Hex(pos) + ": header CRC mismatch", pos, size);
        return;
      }
      if (type == 0x73 && (flags & 0x0080)) {
        report.integrity = Integrity::kEncryptedContainer;
        report.reasons.push_back("RAR: headers encrypted (password-protected archive)");
        return;
      }
      if (type == 0x74 && (flags & 0x0004)) encrypted_files = true;
      uint64_t data = 0;
      if ((flags & 0x8000) || type == 0x74 || type == 0x7A) {
        data = LoadLE<uint32_t>(*block, 7).value_or(0);
        if ((type == 0x74 || type == 0x7A) && (flags & 0x0100)) {
          data |= uint64_t{LoadLE<uint32_t>(*block, 32).value_or(0)} << 32;
        }
      }
      if (type == 0x7B) {  // end of archive
        report.structure_end = pos + head_size;
        break;
      }
      pos += head_size + data;
      if (pos > size) return Truncated(report, "entry data extends beyond the end of the file");
    }
    Finish(report, encrypted_files);
  }

  static void WalkV5(BoundedReader& reader, FormatReport& report) {
    const uint64_t size = reader.size();
    uint64_t pos = kRar5.size();
    bool encrypted_files = false;
    for (int i = 0; i < limits::kMaxChunksWalked; ++i) {
      if (pos == size) {
        return Truncated(report, "no end-of-archive header");
      }
      auto fixed = reader.Read(pos, 7);
      if (!fixed) return;
      std::size_t at = 4;
      uint64_t header_size = 0;
      if (!ReadVint(*fixed, at, header_size)) {
        if (fixed->size() < 7) return Truncated(report, "file ends inside a header");
        MarkDamaged(report, "RAR5 header at " + Hex(pos) + ": invalid size", pos, size);
        return;
      }
      if (header_size == 0 || header_size > 2 * limits::MiB) {
        MarkDamaged(report, "RAR5 header at " + Hex(pos) + ": invalid size", pos, size);
        return;
      }
      auto block = reader.Read(pos, at + header_size);
      if (!block) return;
      if (block->size() < at + header_size) return Truncated(report, "file ends inside a header");
      if (Crc32(block->substr(4)) != *LoadLE<uint32_t>(*block, 0)) {
        MarkDamaged(report, "RAR5 header at " + Hex(pos) + ": CRC32 mismatch", pos, size);
        return;
      }
      uint64_t type = 0, flags = 0, extra_size = 0, data_size = 0;
      if (!ReadVint(*block, at, type) || !ReadVint(*block, at, flags) ||
          ((flags & 1) && !ReadVint(*block, at, extra_size)) ||
          ((flags & 2) && !ReadVint(*block, at, data_size))) {
        MarkDamaged(report, "RAR5 header at " + Hex(pos) + ": malformed", pos, size);
        return;
      }
      if (type == 4) {
        report.integrity = Integrity::kEncryptedContainer;
        report.reasons.push_back("RAR5: headers encrypted (password-protected archive)");
        return;
      }
      if (type == 2 && extra_size > 0 && extra_size <= block->size()) {
        // Extra area records: size, type, body. Type 1 = file encryption.
        std::size_t x = block->size() - extra_size;
        for (int r = 0; r < 64 && x < block->size(); ++r) {
          uint64_t record_size = 0, record_type = 0;
          std::size_t body = x;
          if (!ReadVint(*block, body, record_size)) break;
          std::size_t next = body + record_size;
          if (!ReadVint(*block, body, record_type)) break;
          if (record_type == 1) encrypted_files = true;
          x = next;
        }
      }
      std::size_t after_size = 4;  // the header-size vint's own length
      uint64_t ignored = 0;
      ReadVint(*block, after_size, ignored);
      const uint64_t vint_len = after_size - 4;
      const uint64_t next = pos + 4 + vint_len + header_size + data_size;
      if (type == 5) {
        report.structure_end = pos + 4 + vint_len + header_size;
        break;
      }
      if (next > size || next < pos) {
        return Truncated(report, "entry data extends beyond the end of the file");
      }
      pos = next;
    }
    Finish(report, encrypted_files);
  }

  static void Finish(FormatReport& report, bool encrypted_files) {
    if (encrypted_files) {
      report.integrity = Integrity::kEncryptedContainer;
      report.reasons.push_back("RAR: file entries encrypted");
    }
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeRarValidator() {
  return std::make_unique<RarValidator>();
}

}  // namespace steen::content::archive
