// ELF executables and shared objects: the header, program header table, section header table and
// section-name string table must all parse and point inside the file. Code and data are not
// random, so random-looking blocks are damage evidence (high_entropy_body = false); sections that
// are legitimately compressed (.gnu_debugdata, .zdebug_*) are covered by relying on structure only.
#include <algorithm>
#include <string>

#include "content/bytes.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using system_detail::Hex;

constexpr uint32_t kShtNobits = 8;

struct ElfHeader {
  bool is64 = false;
  bool little = true;
  uint16_t type = 0;
  uint64_t phoff = 0, shoff = 0;
  uint16_t ehsize = 0, phentsize = 0, phnum = 0, shentsize = 0, shnum = 0, shstrndx = 0;
};

class ElfValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "elf"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (!StartsWith(head,
                    "\x7f"
                    "ELF") ||
        head.size() < 16)
      return false;
    const uint8_t cls = static_cast<uint8_t>(head[4]);
    const uint8_t data = static_cast<uint8_t>(head[5]);
    return (cls == 1 || cls == 2) && (data == 1 || data == 2) && head[6] == 1;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "elf";
    const uint64_t size = reader.size();
    auto head_or = reader.Read(0, limits::kHeadBytes);
    if (!head_or.ok()) return report;
    const std::string_view head = *head_or;
    if (!Matches(head, size)) {
      Damage(report, 0, size, "ELF identification bytes invalid");
      return report;
    }
    ElfHeader h;
    h.is64 = head[4] == 2;
    h.little = head[5] == 1;
    const std::size_t ehdr_size = h.is64 ? 64 : 52;
    if (head.size() < ehdr_size) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("ELF header cut short");
      return report;
    }
    h.type = U16(head, 16, h.little);
    if (h.is64) {
      h.phoff = U64(head, 32, h.little);
      h.shoff = U64(head, 40, h.little);
    } else {
      h.phoff = U32(head, 28, h.little);
      h.shoff = U32(head, 32, h.little);
    }
    const std::size_t o = h.is64 ? 52 : 40;
    h.ehsize = U16(head, o, h.little);
    h.phentsize = U16(head, o + 2, h.little);
    h.phnum = U16(head, o + 4, h.little);
    h.shentsize = U16(head, o + 6, h.little);
    h.shnum = U16(head, o + 8, h.little);
    h.shstrndx = U16(head, o + 10, h.little);

    if (U32(head, 20, h.little) != 1) {
      Damage(report, 20, size - 20, "ELF e_version is not 1");
      return report;
    }
    if (h.type > 4 && h.type < 0xfe00) {
      Damage(report, 16, size - 16, "ELF e_type " + std::to_string(h.type) + " unknown");
      return report;
    }
    if (h.ehsize != ehdr_size) {
      Damage(report, o, size - o, "ELF e_ehsize " + std::to_string(h.ehsize) + " invalid");
      return report;
    }
    uint64_t structure_end = ehdr_size;
    if (!CheckProgramHeaders(reader, h, size, report, structure_end)) return report;
    if (!CheckSectionHeaders(reader, h, size, report, structure_end)) return report;
    report.structure_end = std::min(structure_end, size);
    report.reasons.push_back("ELF headers, " + std::to_string(h.phnum) + " program headers and " +
                             std::to_string(h.shnum) + " section headers parse");
    return report;
  }

 private:
  static uint16_t U16(std::string_view b, std::size_t at, bool le) {
    return (le ? LoadLE<uint16_t>(b, at) : LoadBE<uint16_t>(b, at)).value_or(0);
  }
  static uint32_t U32(std::string_view b, std::size_t at, bool le) {
    return (le ? LoadLE<uint32_t>(b, at) : LoadBE<uint32_t>(b, at)).value_or(0);
  }
  static uint64_t U64(std::string_view b, std::size_t at, bool le) {
    return (le ? LoadLE<uint64_t>(b, at) : LoadBE<uint64_t>(b, at)).value_or(0);
  }
  static uint64_t Word(std::string_view b, std::size_t at, const ElfHeader& h) {
    return h.is64 ? U64(b, at, h.little) : U32(b, at, h.little);
  }

  static void Damage(FormatReport& report, uint64_t at, uint64_t length, std::string reason) {
    report.integrity = Integrity::kDamaged;
    report.reasons.push_back(std::move(reason));
    if (length > 0) report.damaged_ranges.push_back({at, length});
  }

  // A table [offset, offset + count * entsize) that starts inside the file but runs past its end is
  // a truncation; one whose offset is beyond the file is a damaged header field.
  static bool TableFits(uint64_t offset, uint64_t count, uint64_t entsize, uint64_t size,
                        const char* what, FormatReport& report) {
    const uint64_t bytes = count * entsize;
    if (offset >= size) {
      // The header's offsets survive a cut file: far beyond (> 16x size) they are garbage.
      if (offset / 16 > size) {
        Damage(report, 0, size,
               std::string("ELF ") + what + " offset " + Hex(offset) + " far beyond end of file (" +
                   Hex(size) + ")");
      } else {
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back(std::string("ELF ") + what + " at " + Hex(offset) +
                                 " beyond end of file (" + Hex(size) + ")");
      }
      return false;
    }
    if (bytes > size - offset) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back(std::string("ELF ") + what + " runs past end of file");
      return false;
    }
    return true;
  }

  bool CheckProgramHeaders(Reader& reader, const ElfHeader& h, uint64_t size, FormatReport& report,
                           uint64_t& structure_end) const {
    if (h.phnum == 0) return true;
    const uint16_t want = h.is64 ? 56 : 32;
    if (h.phentsize != want) {
      Damage(report, 0, size, "ELF e_phentsize " + std::to_string(h.phentsize) + " invalid");
      return false;
    }
    if (!TableFits(h.phoff, h.phnum, want, size, "program header table", report)) return false;
    auto table_or = reader.Read(h.phoff, std::size_t{h.phnum} * want);
    if (!table_or.ok()) return false;
    const std::string_view table = *table_or;
    structure_end = std::max<uint64_t>(structure_end, h.phoff + table.size());
    for (uint32_t i = 0; i < h.phnum; ++i) {
      const std::size_t e = std::size_t{i} * want;
      const uint32_t type = U32(table, e, h.little);
      const uint64_t offset = h.is64 ? U64(table, e + 8, h.little) : U32(table, e + 4, h.little);
      const uint64_t filesz = h.is64 ? U64(table, e + 32, h.little) : U32(table, e + 16, h.little);
      const uint64_t memsz = h.is64 ? U64(table, e + 40, h.little) : U32(table, e + 20, h.little);
      // Known types, or the OS / processor-specific ranges (GNU_STACK, ARM_EXIDX...).
      const bool known_type = type <= 8 || (type >= 0x60000000 && type <= 0x7fffffff);
      if (!known_type) {
        Damage(report, h.phoff + e, size - (h.phoff + e),
               "ELF program header " + std::to_string(i) + " at " + Hex(h.phoff + e) + ": type " +
                   Hex(type) + " unknown");
        return false;
      }
      if (type == 0) continue;  // PT_NULL: fields are meaningless
      if (type == 1 && filesz > memsz) {
        Damage(report, h.phoff + e, size - (h.phoff + e),
               "ELF program header " + std::to_string(i) + ": file size exceeds memory size");
        return false;
      }
      if (filesz > 0 && (offset > size || filesz > size - offset)) {
        if (offset > size) {
          Damage(report, h.phoff + e, size - (h.phoff + e),
                 "ELF segment " + std::to_string(i) + " offset " + Hex(offset) +
                     " beyond end of file");
        } else {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("ELF segment " + std::to_string(i) + " runs past end of file");
        }
        return false;
      }
      structure_end = std::max(structure_end, offset + filesz);
    }
    return true;
  }

  // What a section is when its content is never random: symbol, string, relocation and dynamic
  // tables, and uncompressed DWARF. Null for anything else: data and read-only data may hold
  // compressed or random bytes, hash tables (.gnu.hash's Bloom filter and hash values) are random
  // by design, and code sections of crypto libraries embed precomputed tables (elliptic-curve
  // points are uniform bytes) next to the instructions that use them.
  static const char* NeverRandomKind(uint32_t type, uint64_t flags, std::string_view name) {
    constexpr uint64_t kCompressed = 0x800;
    switch (type) {
      case 2:   // SHT_SYMTAB
      case 3:   // SHT_STRTAB
      case 4:   // SHT_RELA
      case 6:   // SHT_DYNAMIC
      case 9:   // SHT_REL
      case 11:  // SHT_DYNSYM
        return "ELF table section";
      default:
        break;
    }
    if (StartsWith(name, ".debug_") && (flags & kCompressed) == 0) return "ELF debug section";
    return nullptr;
  }

  bool CheckSectionHeaders(Reader& reader, const ElfHeader& h, uint64_t size, FormatReport& report,
                           uint64_t& structure_end) const {
    if (h.shoff == 0 && h.shnum == 0) {
      report.reasons.push_back("ELF has no section header table (stripped)");
      return true;
    }
    const uint16_t want = h.is64 ? 64 : 40;
    if (h.shentsize != want) {
      Damage(report, 0, size, "ELF e_shentsize " + std::to_string(h.shentsize) + " invalid");
      return false;
    }
    // shnum == 0 with shoff != 0: the real count is in section 0's sh_size (> 0xff00 sections).
    uint64_t count = h.shnum;
    if (!TableFits(h.shoff, std::max<uint64_t>(count, 1), want, size, "section header table",
                   report)) {
      return false;
    }
    auto first_or = reader.Read(h.shoff, want);
    if (!first_or.ok()) return false;
    const std::string_view first = *first_or;
    if (count == 0) count = Word(first, h.is64 ? 32 : 20, h);
    if (count > static_cast<uint64_t>(limits::kMaxSectionsChecked)) {
      report.reasons.push_back("ELF has " + std::to_string(count) + " sections; checked " +
                               std::to_string(limits::kMaxSectionsChecked));
      count = limits::kMaxSectionsChecked;
    }
    if (!TableFits(h.shoff, count, want, size, "section header table", report)) return false;
    auto table_or = reader.Read(h.shoff, count * want);
    if (!table_or.ok()) return false;
    const std::string_view table = *table_or;
    structure_end = std::max<uint64_t>(structure_end, h.shoff + table.size());

    // Section 0 (SHN_UNDEF) is all zeros apart from the extended-count fields.
    for (std::size_t i = 0; i < want; ++i) {
      const bool extended_field = (h.is64 ? (i >= 32 && i < 48) : (i >= 20 && i < 28));
      if (table[i] != 0 && !extended_field) {
        Damage(report, h.shoff, size - h.shoff,
               "ELF section header table at " + Hex(h.shoff) + ": null section is not null");
        return false;
      }
    }

    struct Section {
      uint32_t name;
      uint32_t type;
      uint64_t flags;
      uint64_t offset;
      uint64_t size;
    };
    std::vector<Section> sections;
    sections.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      const std::size_t e = i * want;
      Section s;
      s.name = U32(table, e, h.little);
      s.type = U32(table, e + 4, h.little);
      s.flags = h.is64 ? U64(table, e + 8, h.little) : U32(table, e + 8, h.little);
      s.offset = Word(table, e + (h.is64 ? 24 : 16), h);
      s.size = Word(table, e + (h.is64 ? 32 : 20), h);
      sections.push_back(s);
      if (i == 0) continue;
      const uint64_t at = h.shoff + e;
      const bool known_type = s.type <= 19 || s.type >= 0x60000000;
      if (!known_type) {
        Damage(report, at, size - at,
               "ELF section header " + std::to_string(i) + " at " + Hex(at) + ": type " +
                   Hex(s.type) + " unknown");
        return false;
      }
      if (s.type != kShtNobits && s.type != 0 && s.size > 0) {
        if (s.offset > size) {
          Damage(report, at, size - at,
                 "ELF section " + std::to_string(i) + " offset " + Hex(s.offset) +
                     " beyond end of file");
          return false;
        }
        if (s.size > size - s.offset) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("ELF section " + std::to_string(i) + " runs past end of file");
          return false;
        }
        structure_end = std::max(structure_end, s.offset + s.size);
      }
    }

    // Section names: the string table must be readable and every name printable.
    uint32_t strndx = h.shstrndx;
    if (strndx == 0xffff) strndx = U32(first, h.is64 ? 40 : 24, h.little);  // SHN_XINDEX
    if (strndx == 0) return true;                                           // no names
    if (strndx >= sections.size()) {
      Damage(report, 0, size, "ELF e_shstrndx " + std::to_string(strndx) + " out of range");
      return false;
    }
    const Section& strtab = sections[strndx];
    if (strtab.type != 3) {  // SHT_STRTAB
      Damage(report, h.shoff, size - h.shoff, "ELF section-name table is not a string table");
      return false;
    }
    auto names_or = reader.Read(strtab.offset, std::min<uint64_t>(strtab.size, 1 * limits::MiB));
    if (!names_or.ok()) return false;
    const std::string_view names = *names_or;
    if (!names.empty() && names[0] != '\0') {
      Damage(report, strtab.offset, strtab.size,
             "ELF section-name table at " + Hex(strtab.offset) + " does not start with NUL");
      return false;
    }
    int dotted = 0;
    int named = 0;
    for (std::size_t i = 1; i < sections.size(); ++i) {
      const uint32_t n = sections[i].name;
      if (n == 0) continue;
      if (n >= names.size()) {
        if (names.size() < strtab.size) continue;  // beyond what we read of a huge table
        Damage(report, h.shoff + i * want, size - (h.shoff + i * want),
               "ELF section " + std::to_string(i) + " name offset out of range");
        return false;
      }
      ++named;
      std::size_t end = names.find('\0', n);
      if (end == std::string_view::npos) end = names.size();
      const std::string_view section_name = names.substr(n, end - n);
      for (char c : section_name) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) {
          Damage(
              report, strtab.offset, strtab.size,
              "ELF section-name table at " + Hex(strtab.offset) + ": non-printable section name");
          return false;
        }
      }
      if (StartsWith(section_name, ".")) ++dotted;
      const Section& section = sections[i];
      if (const char* what = NeverRandomKind(section.type, section.flags, section_name);
          what != nullptr && section.type != kShtNobits && section.size > 0 &&
          report.never_random.size() < limits::kMaxNeverRandomRanges) {
        report.never_random.push_back(
            {{section.offset, section.size}, std::string(what) + " " + std::string(section_name)});
      }
    }
    // Toolchains name sections ".text", ".data"...; a table of names without dots is not ELF's.
    if (named >= 4 && dotted * 2 < named) {
      Damage(report, strtab.offset, strtab.size,
             "ELF section names implausible (" + std::to_string(dotted) + " of " +
                 std::to_string(named) + " start with '.')");
      return false;
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeElfValidator() {
  return std::make_unique<ElfValidator>();
}

}  // namespace steen::content
