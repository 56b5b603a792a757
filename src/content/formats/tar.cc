// TAR validator (ustar, GNU, v7): walks headers from the start (bounded), checking each header's
// checksum and size field and stepping over entry data; ends at the two zero blocks. The body of a
// tar is its members' bytes, so it is not high-entropy by nature.
#include <algorithm>
#include <string>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/members.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::size_t kBlock = 512;
constexpr uint64_t kMaxPaxHeaderBytes = 64 * limits::KiB;  // pax records read for a size override

// Parses an octal numeric field (spaces/NULs around the digits) or GNU base-256.
std::optional<uint64_t> ParseNumber(std::string_view field) {
  if (!field.empty() && (static_cast<uint8_t>(field[0]) & 0x80)) {
    uint64_t value = static_cast<uint8_t>(field[0]) & 0x3F;
    if (static_cast<uint8_t>(field[0]) == 0xFF) return std::nullopt;  // negative
    for (std::size_t i = 1; i < field.size(); ++i) {
      if (value >> 56) return std::nullopt;
      value = (value << 8) | static_cast<uint8_t>(field[i]);
    }
    return value;
  }
  std::size_t i = 0;
  while (i < field.size() && field[i] == ' ') ++i;
  uint64_t value = 0;
  bool digits = false;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i) {
    value = value * 8 + (field[i] - '0');
    digits = true;
  }
  for (; i < field.size(); ++i) {
    if (field[i] != ' ' && field[i] != '\0') return std::nullopt;
  }
  if (!digits) return std::nullopt;
  return value;
}

bool ChecksumOk(std::string_view header) {
  auto stored = ParseNumber(header.substr(148, 8));
  if (!stored) return false;
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i) {
    const bool in_field = i >= 148 && i < 156;
    unsigned_sum += in_field ? ' ' : static_cast<uint8_t>(header[i]);
    signed_sum += in_field ? ' ' : static_cast<signed char>(header[i]);
  }
  return *stored == unsigned_sum || static_cast<int64_t>(*stored) == signed_sum;
}

// The "size" record of a pax extended header ("<len> size=<decimal>\n"), which overrides the next
// entry's size field (files over 8 GiB, or writers that always use pax).
std::optional<uint64_t> PaxSize(std::string_view records) {
  for (int guard = 0; guard < 4096 && !records.empty(); ++guard) {
    std::size_t len = 0, i = 0;
    while (i < records.size() && records[i] >= '0' && records[i] <= '9' && len < records.size()) {
      len = len * 10 + (records[i++] - '0');
    }
    if (len == 0 || len > records.size() || i >= len) return std::nullopt;
    std::string_view record = records.substr(i, len - i);
    if (StartsWith(record, " size=")) {
      uint64_t value = 0;
      bool digits = false;
      for (char c : record.substr(6)) {
        if (c < '0' || c > '9' || value > (UINT64_MAX - 9) / 10) break;
        value = value * 10 + (c - '0');
        digits = true;
      }
      if (digits) return value;
    }
    records.remove_prefix(len);
  }
  return std::nullopt;
}

bool AllZero(std::string_view bytes) {
  return bytes.find_first_not_of('\0') == std::string_view::npos;
}

// Offset of the first 32 bytes of `header` that look random, or npos. A tar header is names,
// octal numbers and zeros; its binary (base-256) number fields are 12 bytes at most.
std::size_t RandomRunInHeader(std::string_view header) {
  constexpr std::size_t kWindow = 32;
  for (std::size_t at = 0; at + kWindow <= header.size(); at += kWindow / 2) {
    if (ShortSpanLooksRandom(header.substr(at, kWindow))) return at;
  }
  return std::string_view::npos;
}

// Entry types whose size field describes data that follows the header (tarfile's rule: regular
// files, GNU/pax metadata, and unknown types; links, devices, directories and FIFOs have none).
bool HasData(char type) { return !(type >= '1' && type <= '6'); }

// Regular files stored whole (not GNU sparse 'S', whose data is packed): the members the analyzer
// can judge as files of their own.
bool IsPlainFile(char type) { return type == '0' || type == '\0' || type == '7'; }

std::string HeaderName(std::string_view header) {
  std::string name = PrintableName(header.substr(0, 100));
  if (HasAt(header, 257, "ustar")) {
    std::string prefix = PrintableName(header.substr(345, 155));
    if (!prefix.empty()) name = prefix + "/" + name;
  }
  return name;
}

class TarValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "tar"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (head.size() < kBlock) return false;
    std::string_view header = head.substr(0, kBlock);
    if (HasAt(header, 257, "ustar")) return ChecksumOk(header) || header[0] != '\0';
    return header[0] != '\0' && ChecksumOk(header);  // v7: nothing but the checksum
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "tar";
    report.high_entropy_body = false;
    const uint64_t size = reader.size();
    uint64_t pos = 0;
    int entries = 0;
    std::optional<uint64_t> pax_size;  // from a preceding pax 'x' header
    std::string long_name;             // from a preceding GNU 'L' entry
    MemberPicker picker(size);
    for (int i = 0; i < limits::kMaxChunksWalked; ++i) {
      auto header = reader.Read(pos, kBlock);
      if (!header) break;  // read allowance spent: the rest is not walked
      if (header->empty()) {
        report.structure_end = pos;
        report.reasons.push_back("tar: ends after " + std::to_string(entries) +
                                 " entries without end-of-archive blocks");
        return report;
      }
      if (header->size() < kBlock) {
        Truncated(report, "file ends inside a header at " + Hex(pos));
        return report;
      }
      if (AllZero(*header)) {
        auto second = reader.Read(pos + kBlock, kBlock);
        report.structure_end = pos + kBlock + (second && AllZero(*second) ? second->size() : 0);
        report.reasons.push_back("tar: " + std::to_string(entries) + " entries walked to the end");
        return report;
      }
      if (!ChecksumOk(*header)) {
        if (const std::size_t random = RandomRunInHeader(*header);
            random != std::string_view::npos) {
          MarkDamaged(report,
                      "tar header at " + Hex(pos) + ": checksum mismatch, random bytes at " +
                          Hex(pos + random),
                      pos, size);
          report.evidence = DamageEvidence::kRandom;
          return report;
        }
        if (ChecksumOk(Inverted(*header))) {
          MarkDamaged(report, "tar header at " + Hex(pos) + ": a valid header inverted (255 - b)",
                      pos, size);
          report.evidence = DamageEvidence::kTransformed;
          return report;
        }
        MarkDamaged(report, "tar header at " + Hex(pos) + ": checksum mismatch", pos, size);
        return report;
      }
      auto entry_size = ParseNumber(header->substr(124, 12));
      if (!entry_size) {
        MarkDamaged(report, "tar header at " + Hex(pos) + ": invalid size field", pos, size);
        return report;
      }
      const char type = (*header)[156];
      if (pax_size && type != 'x' && type != 'g') {
        entry_size = pax_size;
        pax_size.reset();
      }
      if (type == 'x' && *entry_size <= kMaxPaxHeaderBytes) {
        if (auto records = reader.Read(pos + kBlock, *entry_size)) pax_size = PaxSize(*records);
      }
      // A GNU long name names this entry; a new one, read here, names the next.
      std::string this_long_name = std::move(long_name);
      long_name.clear();
      if (type == 'L' && *entry_size > 0) {
        auto bytes = reader.Read(pos + kBlock, std::min<uint64_t>(*entry_size, kBlock));
        if (bytes) long_name = PrintableName(*bytes);
      }
      uint64_t next = pos + kBlock;
      if (type == 'S' && (*header)[482] != '\0') {  // old GNU sparse: extension headers follow
        for (int e = 0; e < limits::kMaxChunksWalked; ++e) {
          auto ext = reader.Read(next, kBlock);
          if (!ext) return report;
          next += kBlock;
          if (ext->size() < kBlock || (*ext)[504] == '\0') break;
        }
      }
      if (HasData(type)) {
        if (*entry_size > size) {
          Truncated(report, "entry at " + Hex(pos) + " extends beyond the end of the file");
          return report;
        }
        next += (*entry_size + kBlock - 1) / kBlock * kBlock;
      }
      if (next > size) {
        // Data cut short; the last block's padding may be missing in some truncations too.
        Truncated(report, "entry at " + Hex(pos) + " extends beyond the end of the file");
        return report;
      }
      if (picker.Take(next) && IsPlainFile(type) && *entry_size > 0) {
        std::string name = this_long_name.empty() ? HeaderName(*header) : std::move(this_long_name);
        report.members.push_back({{pos + kBlock, *entry_size}, std::move(name)});
      }
      pos = next;
      ++entries;
    }
    // Not walked to the end (many entries): the end of a tar is zero blocks, never random bytes.
    const uint64_t tail_len = std::min<uint64_t>(size, 2 * kBlock);
    auto tail = reader.Read(size - tail_len, tail_len);
    if (tail && !AllZero(*tail) && ShortSpanLooksRandom(*tail)) {
      MarkDamaged(report, "tar: end-of-archive blocks missing, random bytes at the end",
                  size - tail_len, size);
      report.evidence = DamageEvidence::kRandom;
      return report;
    }
    report.reasons.push_back("tar: first " + std::to_string(entries) + " entries walked");
    return report;
  }

 private:
  static void Truncated(FormatReport& report, const std::string& why) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back("tar: " + why + " (file truncated)");
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeTarValidator() {
  return std::make_unique<TarValidator>();
}

}  // namespace steen::content::archive
