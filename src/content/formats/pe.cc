// PE/COFF executables (and plain DOS MZ programs): DOS header, "PE\0\0", COFF header, optional
// header magic, section table and the raw-data ranges it points to. Data appended after the last
// section (installer archives, Authenticode certificates) is legal overlay, not damage.
#include <algorithm>
#include <array>
#include <iterator>
#include <optional>
#include <string>

#include "content/bytes.h"
#include "content/formats/der.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using system_detail::Hex;

// The DOS header fields that every MZ program has sane values in, PE or not.
bool DosHeaderSane(std::string_view head, uint64_t file_size) {
  if (!StartsWith(head, "MZ") || head.size() < 0x40) return false;
  const uint16_t last_page_bytes = LoadLE<uint16_t>(head, 2).value_or(0xffff);
  const uint16_t pages = LoadLE<uint16_t>(head, 4).value_or(0);
  const uint16_t header_paragraphs = LoadLE<uint16_t>(head, 8).value_or(0xffff);
  if (last_page_bytes >= 512 || pages == 0) return false;
  if (uint64_t{header_paragraphs} * 16 > file_size) return false;
  // The DOS image may be shorter than the file (PE, overlays), never much longer.
  const uint64_t dos_image = uint64_t{pages} * 512 - (last_page_bytes ? 512 - last_page_bytes : 0);
  return dos_image <= file_size + 512;
}

constexpr uint32_t kCode = 0x20;           // IMAGE_SCN_CNT_CODE
constexpr uint32_t kExecute = 0x20000000;  // IMAGE_SCN_MEM_EXECUTE
// A section header's name: up to 8 bytes, NUL-padded (an 8-byte name has no NUL).
std::string_view SectionName(std::string_view entry) {
  const std::string_view field = entry.substr(0, 8);
  return field.substr(0, field.find('\0'));
}
// A section holding code: its name and its bytes in the file.
struct CodeSection {
  std::string_view name;
  uint64_t offset = 0;
  uint64_t length = 0;
};

class PeValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "pe"; }

  bool Matches(std::string_view head, uint64_t file_size) const override {
    if (!StartsWith(head, "MZ")) return false;
    if (DosHeaderSane(head, file_size)) return true;
    // Some linkers leave the DOS fields zero; a PE signature where e_lfanew points still counts.
    const uint32_t lfanew = LoadLE<uint32_t>(head, 0x3c).value_or(0);
    return lfanew >= 0x40 && HasAt(head, lfanew, std::string_view("PE\0\0", 4));
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "pe";
    const uint64_t size = reader.size();
    auto head_or = reader.Read(0, limits::kHeadBytes);
    if (!head_or.ok()) return report;
    const std::string_view head = *head_or;
    if (head.size() < 0x40 || !StartsWith(head, "MZ")) {
      Damage(report, 0, size, "MZ header missing or cut short");
      return report;
    }
    const uint16_t reloc_offset = LoadLE<uint16_t>(head, 0x18).value_or(0);
    const uint32_t lfanew = LoadLE<uint32_t>(head, 0x3c).value_or(0);
    // e_lfarlc >= 0x40 marks a "new executable" whose e_lfanew is meaningful.
    const bool new_exe = reloc_offset >= 0x40 || (lfanew >= 0x40 && lfanew < size);
    if (lfanew < 0x40 || lfanew >= size || lfanew + 24 > size) {
      if (reloc_offset >= 0x40) {
        // A new-executable header whose e_lfanew points nowhere: cut short just before the PE
        // header, or (far out, as when bytes 0x3e.. were overwritten) a broken header.
        if (lfanew >= 0x40 && lfanew < size + 4096) {
          Truncated(report, "PE header offset " + Hex(lfanew) + " beyond end of file");
        } else {
          Damage(report, 0x3c, size - 0x3c,
                 "MZ e_lfanew " + Hex(lfanew) + " points outside the file (" + Hex(size) + ")");
        }
        return report;
      }
      report.format = "mz";
      report.reasons.push_back("DOS MZ program without a new-executable header");
      return report;
    }
    auto sig_or = reader.Read(lfanew, 24);
    if (!sig_or.ok()) return report;
    const std::string_view coff = *sig_or;
    if (!StartsWith(coff, std::string_view("PE\0\0", 4))) {
      if (StartsWith(coff, "NE") || StartsWith(coff, "LE") || StartsWith(coff, "LX")) {
        report.format = "ne";
        report.reasons.push_back("16-bit/VxD new executable (" + std::string(coff.substr(0, 2)) +
                                 "); not checked further");
        return report;
      }
      if (!new_exe) {
        report.format = "mz";
        report.reasons.push_back("DOS MZ program");
        return report;
      }
      Damage(report, lfanew, size - lfanew, "PE signature missing at e_lfanew " + Hex(lfanew));
      return report;
    }
    const uint16_t sections = LoadLE<uint16_t>(coff, 6).value_or(0);
    const uint16_t optional_size = LoadLE<uint16_t>(coff, 20).value_or(0);
    if (sections == 0 || sections > 96) {
      Damage(report, lfanew, size - lfanew,
             "PE COFF header: " + std::to_string(sections) + " sections (1..96 allowed)");
      return report;
    }
    const uint64_t optional_at = uint64_t{lfanew} + 24;
    uint64_t section_table = optional_at + optional_size;
    if (optional_size < 2) {
      // Object files have no optional header; images always do.
      Damage(report, lfanew, size - lfanew, "PE optional header missing");
      return report;
    }
    auto opt_or = reader.Read(optional_at, optional_size);
    if (!opt_or.ok()) return report;
    const std::string_view opt = *opt_or;
    if (opt.size() < optional_size) {
      Truncated(report, "PE optional header runs past end of file");
      return report;
    }
    const uint16_t magic = LoadLE<uint16_t>(opt, 0).value_or(0);
    if (magic != 0x10b && magic != 0x20b && magic != 0x107) {
      Damage(report, optional_at, size - optional_at,
             "PE optional header magic " + Hex(magic) + " invalid");
      return report;
    }
    const bool pe32plus = magic == 0x20b;
    uint64_t structure_end = section_table;
    const uint32_t size_of_headers = LoadLE<uint32_t>(opt, 60).value_or(0);
    if (size_of_headers > 0 && size_of_headers <= size) {
      structure_end = std::max<uint64_t>(structure_end, size_of_headers);
    }
    // Authenticode certificate table (data directory 4): a file offset, usually after the sections.
    const std::size_t dir_base = pe32plus ? 112 : 96;
    const uint32_t dir_count = LoadLE<uint32_t>(opt, dir_base - 4).value_or(0);
    uint64_t cert_end = 0;
    uint32_t cert_offset = 0;
    uint32_t cert_size = 0;
    if (dir_count > 4) {
      cert_offset = LoadLE<uint32_t>(opt, dir_base + 4 * 8).value_or(0);
      cert_size = LoadLE<uint32_t>(opt, dir_base + 4 * 8 + 4).value_or(0);
      if (cert_offset != 0 && cert_size != 0) {
        if (uint64_t{cert_offset} + cert_size <= size) {
          cert_end = uint64_t{cert_offset} + cert_size;
        } else if (cert_offset < size) {
          Truncated(report, "PE certificate table runs past end of file");
        }
      }
    }

    auto table_or = reader.Read(section_table, std::size_t{sections} * 40);
    if (!table_or.ok()) return report;
    const std::string_view table = *table_or;
    if (table.size() < std::size_t{sections} * 40) {
      Truncated(report, "PE section table runs past end of file");
      return report;
    }
    structure_end = std::max<uint64_t>(structure_end, section_table + table.size());
    std::optional<CodeSection> first_code;  // the first executable section with data in the file
    for (uint16_t i = 0; i < sections; ++i) {
      const std::string_view entry = table.substr(std::size_t{i} * 40, 40);
      const uint64_t at = section_table + uint64_t{i} * 40;
      // Names are printable ASCII padded with NULs ("/4" for long names in object files);
      // packers (Petite, some protectors) leave them all NUL, which is legal.
      bool name_ok = true;
      bool padding = false;
      for (int c = 0; c < 8; ++c) {
        const auto u = static_cast<unsigned char>(entry[c]);
        if (u == 0) {
          padding = true;
        } else if (padding || u < 0x20 || u >= 0x7f) {
          name_ok = false;
        }
      }
      if (!name_ok) {
        Damage(report, at, size - at,
               "PE section header " + std::to_string(i) + " at " + Hex(at) + ": name invalid");
        return report;
      }
      const uint32_t raw_size = LoadLE<uint32_t>(entry, 16).value_or(0);
      const uint32_t raw_offset = LoadLE<uint32_t>(entry, 20).value_or(0);
      const uint32_t flags = LoadLE<uint32_t>(entry, 36).value_or(0);
      if (!first_code && (flags & (kCode | kExecute)) != 0 && raw_offset < size) {
        first_code = CodeSection{SectionName(entry), raw_offset,
                                 std::min<uint64_t>(raw_size, size - raw_offset)};
      }
      if (raw_size == 0) continue;
      DeclareNeverRandom(entry, raw_offset, raw_size, size, report);
      if (raw_offset >= size) {
        // Beyond EOF by a little: cut short. Far beyond: the table itself is garbage.
        if (raw_offset > size + size / 2 + limits::MiB) {
          Damage(report, at, size - at,
                 "PE section " + std::to_string(i) + " raw data offset " + Hex(raw_offset) +
                     " far beyond end of file");
        } else {
          Truncated(report, "PE section " + std::to_string(i) + " starts past end of file");
        }
        return report;
      }
      if (uint64_t{raw_offset} + raw_size > size) {
        // Linkers round the last section up to FileAlignment; tolerate a partial last page.
        if (uint64_t{raw_offset} + raw_size - size >= 4096) {
          Truncated(report, "PE section " + std::to_string(i) + " runs past end of file");
          return report;
        }
      }
      structure_end = std::max<uint64_t>(structure_end,
                                         std::min<uint64_t>(uint64_t{raw_offset} + raw_size, size));
    }
    if (first_code &&
        MarkInvertedCode(reader, LoadLE<uint16_t>(coff, 4).value_or(0), *first_code, report)) {
      return report;
    }
    DeclareCoffSymbols(reader, LoadLE<uint32_t>(coff, 12).value_or(0),
                       LoadLE<uint32_t>(coff, 16).value_or(0), report);
    if (cert_end != 0 && !CheckCertificates(reader, cert_offset, cert_size, report)) {
      return report;
    }
    if (cert_end > structure_end && cert_end <= size) structure_end = cert_end;
    report.structure_end = structure_end;
    report.reasons.push_back(std::string(pe32plus ? "PE32+" : "PE32") + " headers and " +
                             std::to_string(sections) + " section headers parse");
    if (structure_end < size) {
      report.reasons.push_back("overlay of " + std::to_string(size - structure_end) +
                               " bytes after the last section");
    }
    return report;
  }

 private:
  // The Authenticode certificate table: WIN_CERTIFICATE entries (length, revision, type), each a
  // DER blob (PKCS#7 SignedData) whose every TLV length must add up, padded to 8 bytes. It sits
  // at the end of signed files, where a tail-only encryption lands and the sections do not reach.
  // Returns false when it marked the report damaged.
  static bool CheckCertificates(Reader& reader, uint32_t offset, uint32_t size,
                                FormatReport& report) {
    auto table_or = reader.Read(offset, std::min<std::size_t>(size, limits::kMaxDerWalkBytes));
    if (!table_or.ok()) return true;
    const std::string_view table = *table_or;
    uint64_t pos = 0;
    int entries = 0;
    while (pos + 8 <= table.size() && entries < 16) {
      const uint32_t length = LoadLE<uint32_t>(table, pos).value_or(0);
      const uint16_t revision = LoadLE<uint16_t>(table, pos + 4).value_or(0);
      const uint16_t type = LoadLE<uint16_t>(table, pos + 6).value_or(0);
      const uint64_t at = uint64_t{offset} + pos;
      if (length < 8 || length > table.size() - pos || (revision != 0x100 && revision != 0x200) ||
          type == 0 || type > 4) {
        if (std::all_of(table.begin() + static_cast<std::ptrdiff_t>(pos), table.end(),
                        [](char c) { return c == 0; })) {
          break;  // zero padding after the last entry
        }
        Damage(report, at, reader.size() - at,
               "PE certificate table entry at " + Hex(at) + ": header invalid");
        MarkRandomIfSo(table.substr(pos), report);
        return false;
      }
      if (type == 2) {  // WIN_CERT_TYPE_PKCS_SIGNED_DATA
        const std::string_view blob = table.substr(pos + 8, length - 8);
        if (const DerWalk walk = WalkDer(blob); !walk.ok) {
          const uint64_t bad = at + 8 + walk.bad_at;
          Damage(report, bad, reader.size() - bad,
                 "PE Authenticode signature at " + Hex(at) + ": its DER structure breaks at " +
                     Hex(bad));
          MarkRandomIfSo(blob.substr(walk.bad_at), report);
          return false;
        }
      }
      pos += (uint64_t{length} + 7) & ~uint64_t{7};
      ++entries;
    }
    if (entries > 0) {
      report.reasons.push_back("Authenticode certificate table: " + std::to_string(entries) +
                               (entries == 1 ? " entry" : " entries") +
                               ", DER structure consistent");
    }
    return true;
  }
  // x86 machine code bit-flipped (255 - b) behind intact headers: the section table parses, and
  // an inverted picture or waveform is a valid one, but inverted code is no code. The bytes x86
  // and x64 code is made of most (zero displacements and immediates, REX.W, mov, call, lea, the
  // 0F escape, test, the ModRM/SIB bytes of stack accesses) make a quarter to a half of a real
  // code section and their inverses a tenth at most (0.27-0.46 against 0.05-0.13 in the first
  // code section of 237 PE files of the corpus and this system); packed or encrypted sections
  // have a few per cent of both. Inverted, the shares swap. Sampled in the middle of the first
  // executable section (a header kept intact may cover its start). Returns true when it marked
  // the report damaged.
  static bool MarkInvertedCode(Reader& reader, uint16_t machine, const CodeSection& code,
                               FormatReport& report) {
    constexpr uint16_t kI386 = 0x14c;
    constexpr uint16_t kAmd64 = 0x8664;
    constexpr uint64_t kSample = 16 * limits::KiB;
    constexpr uint64_t kMinSample = 1024;
    static constexpr unsigned char kCodeBytes[] = {0x00, 0x48, 0x8B, 0x89, 0xE8, 0x0F,
                                                   0x24, 0x4C, 0x44, 0x85, 0x83, 0x8D};
    if ((machine != kI386 && machine != kAmd64) || code.length < kMinSample) return false;
    const uint64_t sample = std::min(code.length, kSample);
    auto bytes_or = reader.Read(code.offset + (code.length - sample) / 2, sample);
    if (!bytes_or.ok() || bytes_or->size() < kMinSample) return false;
    std::array<uint64_t, 256> counts{};
    for (const char c : *bytes_or) ++counts[static_cast<unsigned char>(c)];
    uint64_t as_is = 0;
    uint64_t inverted = 0;
    for (const unsigned char b : kCodeBytes) {
      as_is += counts[b];
      inverted += counts[255 - b];
    }
    const uint64_t n = bytes_or->size();
    if (5 * inverted < n || inverted < 2 * as_is) return false;
    Damage(report, code.offset, reader.size() - code.offset,
           "PE code section " + std::string(code.name) + " at " + Hex(code.offset) +
               ": x86 machine code with every byte inverted (255 - b) (" +
               std::to_string(100 * inverted / n) +
               "% of its sampled bytes are the inverses of the bytes code is made of most, " +
               std::to_string(100 * as_is / n) + "% are those bytes)");
    report.evidence = DamageEvidence::kTransformed;
    return true;
  }
  // Random bytes where the broken structure is: ciphertext, evidence enough.
  static void MarkRandomIfSo(std::string_view from_break, FormatReport& report) {
    if (EndsInRandomBytes(from_break)) report.evidence = DamageEvidence::kRandom;
  }
  // Tables of addresses, names and ordinals are never random: base relocations, imports,
  // exports, x64 exception data (sorted function ranges), and the ELF-style tables gnu-efi
  // binaries carry. Code is not declared: crypto libraries keep precomputed tables (uniform
  // bytes) in their code sections, and packers (UPX, ASPack, MPRESS) compressed data in
  // executable ones. Only the toolchains' conventional section names count.
  static void DeclareNeverRandom(std::string_view entry, uint32_t raw_offset, uint32_t raw_size,
                                 uint64_t size, FormatReport& report) {
    static constexpr std::string_view kTables[] = {".reloc", ".idata",  ".edata",  ".pdata",
                                                   ".rela",  ".dynsym", ".dynamic"};
    const std::string_view name = SectionName(entry);
    if (std::find(std::begin(kTables), std::end(kTables), name) == std::end(kTables) ||
        raw_offset >= size || report.never_random.size() >= limits::kMaxNeverRandomRanges) {
      return;
    }
    report.never_random.push_back({{raw_offset, std::min<uint64_t>(raw_size, size - raw_offset)},
                                   "PE table section " + std::string(name)});
  }
  // The COFF symbol table (18-byte records) and the string table after it, which MinGW's
  // linker leaves after the last section of unstripped images: names and numbers, never random.
  static void DeclareCoffSymbols(Reader& reader, uint32_t symbols_at, uint32_t symbols,
                                 FormatReport& report) {
    constexpr uint64_t kSymbolBytes = 18;
    const uint64_t size = reader.size();
    const uint64_t table_end = uint64_t{symbols_at} + kSymbolBytes * symbols;
    if (symbols_at == 0 || symbols == 0 || table_end > size ||
        report.never_random.size() + 2 > limits::kMaxNeverRandomRanges) {
      return;
    }
    report.never_random.push_back({{symbols_at, table_end - symbols_at}, "COFF symbol table"});
    auto length_or = reader.Read(table_end, 4);
    if (!length_or.ok()) return;
    const uint32_t strings = LoadLE<uint32_t>(*length_or, 0).value_or(0);
    if (strings > 4 && table_end + strings <= size) {
      report.never_random.push_back({{table_end, strings}, "COFF string table"});
    }
  }
  static void Damage(FormatReport& report, uint64_t at, uint64_t length, std::string reason) {
    report.integrity = Integrity::kDamaged;
    report.reasons.push_back(std::move(reason));
    if (length > 0) report.damaged_ranges.push_back({at, length});
  }
  static void Truncated(FormatReport& report, std::string reason) {
    if (report.integrity == Integrity::kValid) report.integrity = Integrity::kTruncated;
    report.reasons.push_back(std::move(reason));
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakePeValidator() { return std::make_unique<PeValidator>(); }

}  // namespace steen::content
