// cpio validator ("new" ASCII 070701/070702 and "old" portable ASCII 070707: what initramfs
// images, RPM payloads and `cpio -o -H newc|odc` write). Walks the entry headers from the start
// (bounded) to the TRAILER!!! entry: every header must carry the magic and numeric fields; a
// header of random bytes where one must be is ciphertext. Like tar, its regular files are listed
// for the analyzer to judge as files of their own (an initramfs holds compressed modules and
// encrypted microcode), so the archive's own blocks are no evidence.
#include <algorithm>
#include <optional>
#include <string>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/members.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kTrailer = "TRAILER!!!";
constexpr uint64_t kMaxNameBytes = 4096;  // PATH_MAX: longer names are not what cpio writes

struct Layout {
  std::size_t header_bytes;  // 110 (newc) or 76 (odc)
  uint64_t align;            // header+name and data are padded to this (4 newc, 1 odc)
};

std::optional<Layout> LayoutOf(std::string_view magic) {
  if (magic == "070701" || magic == "070702") return Layout{110, 4};
  if (magic == "070707") return Layout{76, 1};
  return std::nullopt;
}

// A fixed-width ASCII number in `base` (16 for newc, 8 for odc).
std::optional<uint64_t> ParseField(std::string_view field, int base) {
  uint64_t value = 0;
  for (char c : field) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (base == 16 && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (base == 16 && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (digit < 0 || digit >= base) return std::nullopt;
    value = value * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
  }
  return value;
}

struct Entry {
  uint64_t mode = 0;
  uint64_t name_bytes = 0;  // with its NUL
  uint64_t data_bytes = 0;
};

std::optional<Entry> ParseHeader(std::string_view header, const Layout& layout) {
  Entry e;
  std::optional<uint64_t> mode, name, data;
  if (layout.header_bytes == 110) {  // newc: 13 fields of 8 hex digits after the magic
    for (std::size_t f = 0; f < 13; ++f) {
      if (!ParseField(header.substr(6 + 8 * f, 8), 16)) return std::nullopt;
    }
    mode = ParseField(header.substr(14, 8), 16);
    data = ParseField(header.substr(54, 8), 16);
    name = ParseField(header.substr(94, 8), 16);
  } else {  // odc: octal fields of 6 digits, mtime and filesize of 11
    for (std::size_t at = 6; at < 76; at += (at == 48 || at == 65) ? 11 : 6) {
      const std::size_t width = (at == 48 || at == 65) ? 11 : 6;
      if (!ParseField(header.substr(at, width), 8)) return std::nullopt;
    }
    mode = ParseField(header.substr(18, 6), 8);
    name = ParseField(header.substr(59, 6), 8);
    data = ParseField(header.substr(65, 11), 8);
  }
  if (!mode || !name || !data || *name == 0 || *name > kMaxNameBytes) return std::nullopt;
  e.mode = *mode;
  e.name_bytes = *name;
  e.data_bytes = *data;
  return e;
}

uint64_t Aligned(uint64_t value, uint64_t align) { return (value + align - 1) / align * align; }

class CpioValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "cpio"; }

  bool Matches(std::string_view head, uint64_t /*file_size*/) const override {
    if (head.size() < 6) return false;
    const auto layout = LayoutOf(head.substr(0, 6));
    return layout && head.size() >= layout->header_bytes &&
           ParseHeader(head.substr(0, layout->header_bytes), *layout).has_value();
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "cpio";
    report.high_entropy_body = false;  // its members are judged instead (report.members)
    const uint64_t size = reader.size();
    MemberPicker picker(size);
    uint64_t pos = 0;
    int entries = 0;
    for (int i = 0; i < limits::kMaxChunksWalked; ++i) {
      auto magic = reader.Read(pos, 6);
      if (!magic) break;  // read allowance spent: the rest is not walked
      if (magic->size() < 6) {
        Truncated(report, "file ends inside a header at " + Hex(pos));
        return report;
      }
      const auto layout = LayoutOf(*magic);
      auto header = layout ? reader.Read(pos, layout->header_bytes) : std::nullopt;
      std::optional<Entry> entry;
      if (layout && header && header->size() == layout->header_bytes) {
        entry = ParseHeader(*header, *layout);
      } else if (layout && header) {
        Truncated(report, "file ends inside a header at " + Hex(pos));
        return report;
      }
      if (!entry) {
        BrokenHeader(reader, report, pos, size);
        return report;
      }
      const uint64_t name_at = pos + layout->header_bytes;
      const uint64_t data_at = Aligned(name_at + entry->name_bytes, layout->align);
      const uint64_t end = Aligned(data_at + entry->data_bytes, layout->align);
      auto name = reader.Read(name_at, static_cast<std::size_t>(entry->name_bytes));
      if (!name) break;
      if (name->size() < entry->name_bytes || data_at + entry->data_bytes > size) {
        Truncated(report, "entry at " + Hex(pos) + " extends beyond the end of the file");
        return report;
      }
      if (name->substr(0, kTrailer.size()) == kTrailer && entry->data_bytes == 0) {
        // Writers pad the archive to a block (512 bytes or more); a kernel image may follow.
        report.structure_end = std::min(end, size);
        report.reasons.push_back("cpio: " + std::to_string(entries) +
                                 " entries walked to the trailer");
        return report;
      }
      const bool regular = (entry->mode & 0170000) == 0100000;
      if (picker.Take(end) && regular && entry->data_bytes > 0) {
        report.members.push_back({{data_at, entry->data_bytes}, PrintableName(*name)});
      }
      pos = end;
      ++entries;
    }
    report.reasons.push_back("cpio: first " + std::to_string(entries) + " entries walked");
    return report;
  }

 private:
  static void Truncated(FormatReport& report, const std::string& why) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back("cpio: " + why + " (file truncated)");
  }

  // Where a header must be and none parses: random bytes there are ciphertext, inverted bytes a
  // bit flip.
  static void BrokenHeader(BoundedReader& reader, FormatReport& report, uint64_t pos,
                           uint64_t size) {
    auto bytes = reader.Read(pos, 76);
    const std::string_view at = bytes ? *bytes : std::string_view();
    if (at.size() >= 6 && LayoutOf(Inverted(at.substr(0, 6)))) {
      MarkDamaged(report, "cpio header at " + Hex(pos) + ": a valid magic inverted (255 - b)", pos,
                  size);
      report.evidence = DamageEvidence::kTransformed;
      return;
    }
    if (at.size() >= 32 && ShortSpanLooksRandom(at.substr(0, 32))) {
      MarkDamaged(report, "cpio header at " + Hex(pos) + ": random bytes", pos, size);
      report.evidence = DamageEvidence::kRandom;
      return;
    }
    MarkDamaged(report, "cpio header at " + Hex(pos) + ": no valid header", pos, size);
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeCpioValidator() {
  return std::make_unique<CpioValidator>();
}

}  // namespace steen::content::archive
