// Fonts: TrueType / OpenType (sfnt), TrueType collections, WOFF and WOFF2. The sfnt table
// directory is checked (counts, tags, ranges) and so are table checksums, which catch any
// overwritten block inside a table. WOFF tables are zlib streams: a decoder probe tells real
// compressed data from ciphertext. WOFF2's one Brotli stream is decoded (libbrotlidec) to the
// exact length its directory declares.
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/brotli_stream.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using system_detail::Hex;

bool IsSfntVersion(uint32_t v) {
  return v == 0x00010000 || v == 0x74727565 /*true*/ || v == 0x4f54544f /*OTTO*/ ||
         v == 0x74797031 /*typ1*/;
}

bool TagPrintable(std::string_view tag) {
  if (tag.size() != 4) return false;
  for (char c : tag) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

std::string TagName(std::string_view tag) { return "'" + std::string(tag) + "'"; }

// OpenType table checksum: big-endian uint32 sum over the table padded with zeros; 'head' is
// summed with its checkSumAdjustment field (bytes 8..11) taken as zero.
// The big-endian word at `i`, zero-padded past the end.
uint32_t WordAt(std::string_view data, std::size_t i) {
  uint32_t word = 0;
  for (std::size_t k = 0; k < 4; ++k) {
    word <<= 8;
    if (i + k < data.size()) word |= static_cast<uint8_t>(data[i + k]);
  }
  return word;
}

// The sum of the table's big-endian words (the last one zero-padded); in 'head' the word at 8
// (checksumAdjustment) counts as zero. Whole words in a loop the compiler turns into byte-swapped
// loads: the byte-at-a-time version was most of a font check.
uint32_t TableChecksum(std::string_view data, bool is_head) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const std::size_t whole = data.size() & ~std::size_t{3};
  uint32_t sum = 0;
  for (std::size_t i = 0; i < whole; i += 4) {
    sum += (uint32_t{p[i]} << 24) | (uint32_t{p[i + 1]} << 16) | (uint32_t{p[i + 2]} << 8) |
           uint32_t{p[i + 3]};
  }
  if (whole < data.size()) sum += WordAt(data, whole);
  if (is_head && data.size() > 8) sum -= WordAt(data, 8);
  return sum;
}

void Damage(FormatReport& report, uint64_t at, uint64_t length, std::string reason) {
  report.integrity = Integrity::kDamaged;
  report.reasons.push_back(std::move(reason));
  if (length > 0) report.damaged_ranges.push_back({at, length});
}

void Truncated(FormatReport& report, std::string reason) {
  if (report.integrity == Integrity::kValid) report.integrity = Integrity::kTruncated;
  report.reasons.push_back(std::move(reason));
}

struct ChecksumTally {
  int checked = 0;
  int mismatched = 0;
  uint64_t checked_bytes = 0;
  uint64_t mismatched_bytes = 0;
  uint64_t first_bad_offset = 0;
  std::string first_bad_tag;
  uint64_t budget = limits::kMaxFontChecksumBytes;
  std::set<uint64_t> seen_offsets;            // TTC fonts share tables
  uint64_t first_random_offset = UINT64_MAX;  // random bytes inside a mismatching table
  std::string random_tag;
  uint64_t first_inverted_offset = UINT64_MAX;  // a mismatching table whose inverse matches
  std::string inverted_tag;
};

// Offset in `table` of the first 2 KiB of random bytes (two 1 KiB windows in a row), or npos.
// Font tables are glyph outlines, metrics and lookups, never random, except embedded bitmaps and
// SVG documents (PNG, JPEG, gzip inside), which are skipped.
std::size_t RandomRunInTable(std::string_view tag, std::string_view table) {
  constexpr std::size_t kWindow = limits::KiB;
  if (tag == "CBDT" || tag == "sbix" || tag == "SVG ") return std::string_view::npos;
  bool previous_random = false;
  for (std::size_t at = 0; at + kWindow <= table.size(); at += kWindow) {
    const bool random = LooksRandom(table.substr(at, kWindow));
    if (random && previous_random) return at - kWindow;
    previous_random = random;
  }
  return std::string_view::npos;
}

// Checks one sfnt table directory at `dir`. Returns false when the report is final.
bool CheckSfntDirectory(Reader& reader, uint64_t dir, uint64_t size, FormatReport& report,
                        ChecksumTally& tally, uint64_t& structure_end) {
  auto header_or = reader.Read(dir, 12);
  if (!header_or.ok()) return false;
  const std::string_view header = *header_or;
  if (header.size() < 12) {
    Truncated(report, "sfnt header cut short");
    return false;
  }
  const uint32_t version = LoadBE<uint32_t>(header, 0).value_or(0);
  const uint16_t num_tables = LoadBE<uint16_t>(header, 4).value_or(0);
  if (!IsSfntVersion(version)) {
    Damage(report, dir, size - dir,
           "sfnt version " + Hex(version) + " at " + Hex(dir) + " invalid");
    return false;
  }
  if (num_tables == 0 || num_tables > 1024) {
    Damage(report, dir, size - dir, "sfnt numTables " + std::to_string(num_tables) + " invalid");
    return false;
  }
  auto records_or = reader.Read(dir + 12, std::size_t{num_tables} * 16);
  if (!records_or.ok()) return false;
  const std::string_view records = *records_or;
  if (records.size() < std::size_t{num_tables} * 16) {
    Truncated(report, "sfnt table directory runs past end of file");
    return false;
  }
  structure_end = std::max<uint64_t>(structure_end, dir + 12 + records.size());
  std::string previous_tag;
  bool sorted = true;
  for (uint16_t i = 0; i < num_tables; ++i) {
    const std::string_view rec = records.substr(std::size_t{i} * 16, 16);
    const uint64_t rec_at = dir + 12 + uint64_t{i} * 16;
    const std::string_view tag = rec.substr(0, 4);
    const uint32_t checksum = LoadBE<uint32_t>(rec, 4).value_or(0);
    const uint32_t offset = LoadBE<uint32_t>(rec, 8).value_or(0);
    const uint32_t length = LoadBE<uint32_t>(rec, 12).value_or(0);
    if (!TagPrintable(tag)) {
      Damage(report, rec_at, size - rec_at,
             "sfnt table record " + std::to_string(i) + " at " + Hex(rec_at) + ": tag not text");
      return false;
    }
    if (!previous_tag.empty() && std::string(tag) <= previous_tag) sorted = false;
    previous_tag = std::string(tag);
    if (offset > size) {
      Damage(report, rec_at, size - rec_at,
             "sfnt table " + TagName(tag) + " offset " + Hex(offset) + " beyond end of file");
      return false;
    }
    if (length > size - offset) {
      Truncated(report, "sfnt table " + TagName(tag) + " runs past end of file");
      return false;
    }
    structure_end = std::max<uint64_t>(structure_end, uint64_t{offset} + length);
    if (length == 0 || length > tally.budget || tally.seen_offsets.count(offset) != 0) continue;
    if (tag == "DSIG") continue;  // signatures are often appended without a checksum update
    tally.seen_offsets.insert(offset);
    auto data_or = reader.Read(offset, length);
    if (!data_or.ok()) return false;
    tally.budget -= length;
    ++tally.checked;
    tally.checked_bytes += length;
    if (TableChecksum(*data_or, tag == "head") != checksum) {
      if (tally.mismatched == 0) {
        tally.first_bad_offset = offset;
        tally.first_bad_tag = std::string(tag);
      }
      ++tally.mismatched;
      tally.mismatched_bytes += length;
      report.damaged_ranges.push_back({offset, length});
      if (const std::size_t at = RandomRunInTable(tag, *data_or);
          at != std::string_view::npos && tally.first_random_offset == UINT64_MAX) {
        tally.first_random_offset = offset + at;
        tally.random_tag = std::string(tag);
      }
      // Bit-flipped (255 - b): inverted back, the table has its recorded checksum again.
      if (tally.first_inverted_offset == UINT64_MAX && tag != "head" &&
          TableChecksum(Inverted(*data_or), false) == checksum) {
        tally.first_inverted_offset = offset;
        tally.inverted_tag = std::string(tag);
      }
    }
  }
  if (!sorted) report.reasons.push_back("sfnt table records not sorted by tag");
  return true;
}

// Judges the checksum tally: a single wrong checksum happens in real fonts (tools that forget to
// update one table); several, covering a good share of the data, is damage.
void JudgeChecksums(const ChecksumTally& tally, FormatReport& report) {
  if (tally.mismatched == 0) {
    report.damaged_ranges.clear();
    report.reasons.push_back(std::to_string(tally.checked) + " table checksums match");
    return;
  }
  const std::string what = std::to_string(tally.mismatched) + " of " +
                           std::to_string(tally.checked) + " table checksums mismatch (first " +
                           TagName(tally.first_bad_tag) + " at " + Hex(tally.first_bad_offset) +
                           ")";
  if (tally.first_inverted_offset != UINT64_MAX) {
    report.integrity = Integrity::kDamaged;
    report.evidence = DamageEvidence::kTransformed;
    report.reasons.insert(report.reasons.begin(),
                          "font: table " + TagName(tally.inverted_tag) + " at " +
                              Hex(tally.first_inverted_offset) +
                              " has its checksum when inverted (255 - b); " + what);
  } else if (tally.first_random_offset != UINT64_MAX) {
    // A table whose checksum mismatches because part of it is now random bytes: ciphertext.
    report.integrity = Integrity::kDamaged;
    report.evidence = DamageEvidence::kRandom;
    report.reasons.insert(report.reasons.begin(), "font: table " + TagName(tally.random_tag) +
                                                      " holds random bytes at " +
                                                      Hex(tally.first_random_offset) + "; " + what);
  } else if (tally.mismatched >= 2 && tally.mismatched_bytes * 10 >= tally.checked_bytes) {
    report.integrity = Integrity::kDamaged;
    report.reasons.push_back("font: " + what);
  } else {
    report.damaged_ranges.clear();
    report.reasons.push_back("font: " + what + "; tolerated");
  }
}

uint64_t RoundUp4(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

FormatReport ValidateSfnt(Reader& reader, std::string_view head) {
  FormatReport report;
  const uint64_t size = reader.size();
  const uint32_t version = LoadBE<uint32_t>(head, 0).value_or(0);
  report.format = version == 0x4f54544f ? "otf" : "ttf";
  ChecksumTally tally;
  uint64_t end = 0;
  if (!CheckSfntDirectory(reader, 0, size, report, tally, end)) return report;
  JudgeChecksums(tally, report);
  report.structure_end = std::min(RoundUp4(end), size);
  return report;
}

FormatReport ValidateCollection(Reader& reader, std::string_view head) {
  FormatReport report;
  report.format = "ttc";
  const uint64_t size = reader.size();
  const uint16_t major = LoadBE<uint16_t>(head, 4).value_or(0);
  const uint32_t num_fonts = LoadBE<uint32_t>(head, 8).value_or(0);
  if (major < 1 || major > 2 || num_fonts == 0 ||
      num_fonts > static_cast<uint32_t>(limits::kMaxFontsInCollection)) {
    Damage(report, 4, size - 4,
           "TTC header: version " + std::to_string(major) + ", " + std::to_string(num_fonts) +
               " fonts: invalid");
    return report;
  }
  ChecksumTally tally;
  uint64_t end = 12 + uint64_t{num_fonts} * 4;
  for (uint32_t i = 0; i < num_fonts; ++i) {
    auto offset = LoadBE<uint32_t>(head, 12 + std::size_t{i} * 4);
    if (!offset) {
      Truncated(report, "TTC offset table cut short");
      return report;
    }
    if (*offset >= size) {
      Damage(report, 12 + i * 4, size - 12 - i * 4,
             "TTC font " + std::to_string(i) + " offset " + Hex(*offset) + " beyond end of file");
      return report;
    }
    if (!CheckSfntDirectory(reader, *offset, size, report, tally, end)) return report;
  }
  JudgeChecksums(tally, report);
  report.structure_end = std::min(RoundUp4(end), size);
  return report;
}

// Inflates the start of a zlib stream; false when the data is not zlib (ciphertext fails within a
// few bytes). `full` is set when the stream ended and `out` holds all of it.
bool ZlibProbe(std::string_view compressed, std::string& out, bool& full) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return true;  // cannot judge
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  zs.avail_in = static_cast<uInt>(std::min(compressed.size(), limits::kMaxPartProbe));
  out.resize(limits::kMaxPartDecoded);
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  full = rc == Z_STREAM_END;
  return rc == Z_STREAM_END || rc == Z_OK || rc == Z_BUF_ERROR;
}

FormatReport ValidateWoff(Reader& reader, std::string_view head) {
  FormatReport report;
  report.format = "woff";
  report.high_entropy_body = true;
  const uint64_t size = reader.size();
  if (head.size() < 44) {
    Truncated(report, "WOFF header cut short");
    return report;
  }
  const uint32_t length = LoadBE<uint32_t>(head, 8).value_or(0);
  const uint16_t num_tables = LoadBE<uint16_t>(head, 12).value_or(0);
  const uint16_t reserved = LoadBE<uint16_t>(head, 14).value_or(1);
  if (reserved != 0 || num_tables == 0 || length < 44 + 20u * num_tables) {
    Damage(report, 8, size - 8, "WOFF header fields invalid");
    return report;
  }
  if (length > size) {
    Truncated(report, "WOFF length " + std::to_string(length) + " exceeds file size " +
                          std::to_string(size));
    return report;
  }
  auto dir_or = reader.Read(44, std::size_t{num_tables} * 20);
  if (!dir_or.ok()) return report;
  const std::string_view dir = *dir_or;
  uint64_t end = 44 + dir.size();
  uint64_t probe_budget = limits::kMaxFontChecksumBytes;
  int probed = 0;
  for (uint16_t i = 0; i < num_tables; ++i) {
    const std::string_view rec = dir.substr(std::size_t{i} * 20, 20);
    const uint64_t rec_at = 44 + uint64_t{i} * 20;
    const std::string_view tag = rec.substr(0, 4);
    const uint32_t offset = LoadBE<uint32_t>(rec, 4).value_or(0);
    const uint32_t comp = LoadBE<uint32_t>(rec, 8).value_or(0);
    const uint32_t orig = LoadBE<uint32_t>(rec, 12).value_or(0);
    const uint32_t checksum = LoadBE<uint32_t>(rec, 16).value_or(0);
    if (!TagPrintable(tag) || comp > orig || offset < 44 + dir.size() || offset > length ||
        comp > length - offset) {
      Damage(report, rec_at, size - rec_at,
             "WOFF table record " + std::to_string(i) + " at " + Hex(rec_at) + " invalid");
      return report;
    }
    end = std::max<uint64_t>(end, uint64_t{offset} + comp);
    if (comp == 0 || comp > probe_budget) continue;
    auto data_or = reader.Read(offset, comp);
    if (!data_or.ok()) return report;
    probe_budget -= comp;
    ++probed;
    if (comp == orig) {
      if (TableChecksum(*data_or, tag == "head") != checksum && tag != "head") {
        Damage(report, offset, comp,
               "WOFF table " + TagName(tag) + " at " + Hex(offset) + ": checksum mismatch");
        return report;
      }
      continue;
    }
    std::string decoded;
    bool full = false;
    if (!ZlibProbe(*data_or, decoded, full)) {
      Damage(report, offset, size - offset,
             "WOFF table " + TagName(tag) + " at " + Hex(offset) + ": zlib data invalid");
      return report;
    }
    if (full &&
        (decoded.size() != orig || (tag != "head" && TableChecksum(decoded, false) != checksum))) {
      Damage(report, offset, comp,
             "WOFF table " + TagName(tag) + " at " + Hex(offset) +
                 ": decoded size or checksum mismatch");
      return report;
    }
  }
  const uint32_t meta_offset = LoadBE<uint32_t>(head, 24).value_or(0);
  const uint32_t meta_length = LoadBE<uint32_t>(head, 28).value_or(0);
  const uint32_t priv_offset = LoadBE<uint32_t>(head, 36).value_or(0);
  const uint32_t priv_length = LoadBE<uint32_t>(head, 40).value_or(0);
  if (meta_length > 0) end = std::max<uint64_t>(end, uint64_t{meta_offset} + meta_length);
  if (priv_length > 0) end = std::max<uint64_t>(end, uint64_t{priv_offset} + priv_length);
  if (end > length) {
    Damage(report, 24, size - 24, "WOFF metadata/private block beyond WOFF length");
    return report;
  }
  report.structure_end = length;
  report.reasons.push_back("WOFF directory of " + std::to_string(num_tables) + " tables, " +
                           std::to_string(probed) + " tables decoded or checksummed");
  return report;
}

// WOFF2 variable-length integers.
std::optional<uint32_t> ReadBase128(std::string_view b, std::size_t& pos) {
  uint32_t value = 0;
  for (int i = 0; i < 5; ++i) {
    auto byte = ByteAt(b, pos++);
    if (!byte) return std::nullopt;
    if (i == 0 && *byte == 0x80) return std::nullopt;  // leading zeros
    if (value & 0xfe000000) return std::nullopt;       // overflow
    value = (value << 7) | (*byte & 0x7f);
    if ((*byte & 0x80) == 0) return value;
  }
  return std::nullopt;
}

std::optional<uint16_t> Read255UShort(std::string_view b, std::size_t& pos) {
  auto code = ByteAt(b, pos++);
  if (!code) return std::nullopt;
  if (*code == 253) {
    auto v = LoadBE<uint16_t>(b, pos);
    pos += 2;
    return v;
  }
  auto next = [&]() { return ByteAt(b, pos++); };
  if (*code == 255) {
    auto v = next();
    return v ? std::optional<uint16_t>(*v + 253) : std::nullopt;
  }
  if (*code == 254) {
    auto v = next();
    return v ? std::optional<uint16_t>(*v + 506) : std::nullopt;
  }
  return *code;
}

// Decodes the WOFF2 Brotli stream of `compressed` bytes at `at`, which must produce exactly
// `expected` bytes: ciphertext anywhere in it fails the decoder or the length (Brotli has little
// slack for random bits). Whole when the stream is small enough, else its first bytes. Marks
// `report` damaged or truncated; returns what was checked when it is fine.
std::string CheckWoff2Stream(Reader& reader, uint64_t at, uint64_t compressed, uint64_t expected,
                             FormatReport& report) {
  const bool whole = compressed <= limits::kMaxInflateProbe;
  const uint64_t input =
      whole ? compressed : std::min<uint64_t>(compressed, limits::kMaxInflateProbe);
  const BrotliRun run =
      RunBrotli(reader, at, input, std::min<uint64_t>(expected, limits::kMaxBrotliDecoded));
  if (run.end == BrotliRun::End::kReadError) return {};  // the analyzer reports it, not damage
  const uint64_t produced = run.produced;
  const uint64_t consumed = run.consumed;
  const uint64_t stop = at + consumed;
  if (run.end == BrotliRun::End::kError) {
    Damage(report, stop, reader.size() > stop ? reader.size() - stop : 0,
           "WOFF2 Brotli data fails to decode at about " + Hex(stop) + " (" + run.error + ")");
    return {};
  }
  if (produced > expected) {
    Damage(
        report, stop, reader.size() > stop ? reader.size() - stop : 0,
        "WOFF2 Brotli data decodes past the " + std::to_string(expected) + " bytes of its tables");
    return {};
  }
  if (!whole || produced >= limits::kMaxBrotliDecoded) {
    return "Brotli data decodes over its first " + std::to_string(consumed) + " bytes";
  }
  if (run.end == BrotliRun::End::kFinished && produced == expected && consumed == compressed) {
    return "Brotli data decodes to the " + std::to_string(expected) + " bytes of its tables";
  }
  if (at + compressed > reader.size()) {
    Truncated(report, "WOFF2 Brotli data cut short by the end of the file");
    return {};
  }
  Damage(report, stop, reader.size() > stop ? reader.size() - stop : 0,
         "WOFF2 Brotli data ends at " + Hex(stop) + " after " + std::to_string(produced) + " of " +
             std::to_string(expected) + " bytes (the stream must end with its " +
             std::to_string(compressed) + " bytes)");
  return {};
}

FormatReport ValidateWoff2(Reader& reader, std::string_view head) {
  FormatReport report;
  report.format = "woff2";
  report.high_entropy_body = true;
  const uint64_t size = reader.size();
  if (head.size() < 48) {
    Truncated(report, "WOFF2 header cut short");
    return report;
  }
  const uint32_t flavor = LoadBE<uint32_t>(head, 4).value_or(0);
  const uint32_t length = LoadBE<uint32_t>(head, 8).value_or(0);
  const uint16_t num_tables = LoadBE<uint16_t>(head, 12).value_or(0);
  const uint16_t reserved = LoadBE<uint16_t>(head, 14).value_or(1);
  const uint32_t compressed = LoadBE<uint32_t>(head, 20).value_or(0);
  if (reserved != 0 || num_tables == 0 || (!IsSfntVersion(flavor) && flavor != 0x74746366)) {
    Damage(report, 4, size - 4, "WOFF2 header fields invalid");
    return report;
  }
  if (length > size) {
    Truncated(report, "WOFF2 length " + std::to_string(length) + " exceeds file size " +
                          std::to_string(size));
    return report;
  }
  std::size_t pos = 48;
  uint64_t decoded_size = 0;  // what the Brotli stream must decode to
  for (uint16_t i = 0; i < num_tables; ++i) {
    const uint64_t rec_at = pos;
    auto flags = ByteAt(head, pos++);
    if (!flags) {
      Truncated(report, "WOFF2 table directory beyond the head");
      return report;
    }
    const int tag_index = *flags & 63;
    const int transform = *flags >> 6;
    std::string tag;
    if (tag_index == 63) {
      if (!HasAt(head, pos, "") || pos + 4 > head.size()) {
        Truncated(report, "WOFF2 table directory beyond the head");
        return report;
      }
      tag = std::string(head.substr(pos, 4));
      pos += 4;
      if (!TagPrintable(tag)) {
        Damage(report, rec_at, size - rec_at, "WOFF2 table " + std::to_string(i) + " tag not text");
        return report;
      }
    }
    auto orig = ReadBase128(head, pos);
    bool ok = orig.has_value();
    // glyf (10) and loca (11) carry a transform length unless transform 3 (null); others only
    // when transformed. The Brotli stream holds each table at that length.
    const bool glyf_or_loca = tag_index == 10 || tag_index == 11;
    uint64_t stored = orig.value_or(0);
    if (ok && (glyf_or_loca ? transform != 3 : transform != 0)) {
      auto transformed = ReadBase128(head, pos);
      ok = transformed.has_value();
      stored = transformed.value_or(0);
    }
    decoded_size += stored;
    if (!ok) {
      Damage(
          report, rec_at, size - rec_at,
          "WOFF2 table directory entry " + std::to_string(i) + " at " + Hex(rec_at) + " invalid");
      return report;
    }
  }
  if (flavor == 0x74746366) {  // collection directory
    auto version = LoadBE<uint32_t>(head, pos);
    pos += 4;
    auto fonts = Read255UShort(head, pos);
    if (!version || (*version != 0x00010000 && *version != 0x00020000) || !fonts || *fonts == 0) {
      Damage(report, pos, size - pos, "WOFF2 collection directory invalid");
      return report;
    }
    for (uint16_t f = 0; f < *fonts && f < limits::kMaxFontsInCollection; ++f) {
      auto count = Read255UShort(head, pos);
      pos += 4;  // flavor
      for (uint16_t t = 0; count && t < *count; ++t) {
        auto index = Read255UShort(head, pos);
        if (!index || *index >= num_tables) count.reset();
      }
      if (!count || pos > head.size()) {
        Damage(report, pos, size > pos ? size - pos : 0, "WOFF2 collection directory invalid");
        return report;
      }
    }
  }
  uint64_t end = pos + uint64_t{compressed};
  const uint32_t meta_offset = LoadBE<uint32_t>(head, 28).value_or(0);
  const uint32_t meta_length = LoadBE<uint32_t>(head, 32).value_or(0);
  const uint32_t priv_offset = LoadBE<uint32_t>(head, 40).value_or(0);
  const uint32_t priv_length = LoadBE<uint32_t>(head, 44).value_or(0);
  if (meta_length > 0) end = std::max<uint64_t>(end, uint64_t{meta_offset} + meta_length);
  if (priv_length > 0) end = std::max<uint64_t>(end, uint64_t{priv_offset} + priv_length);
  if (compressed == 0 || end > length) {
    Damage(report, 20, size - 20,
           "WOFF2 compressed data size " + std::to_string(compressed) +
               " inconsistent with WOFF2 length " + std::to_string(length));
    return report;
  }
  report.structure_end = length;
  const std::string decoded = CheckWoff2Stream(reader, pos, compressed, decoded_size, report);
  if (report.integrity != Integrity::kValid) return report;
  report.reasons.push_back("WOFF2 directory of " + std::to_string(num_tables) + " tables parses; " +
                           decoded);
  return report;
}

class FontValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "font"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (head.size() < 12) return false;
    const uint32_t tag = LoadBE<uint32_t>(head, 0).value_or(0);
    if (tag == 0x774f4646 /*wOFF*/ || tag == 0x774f4632 /*wOF2*/) return true;
    if (tag == 0x74746366 /*ttcf*/) return true;
    if (!IsSfntVersion(tag)) return false;
    // 00 01 00 00 alone is weak: require a plausible numTables and a printable first tag.
    const uint16_t num_tables = LoadBE<uint16_t>(head, 4).value_or(0);
    return num_tables > 0 && num_tables <= 1024 &&
           (head.size() < 16 || TagPrintable(head.substr(12, 4)));
  }

  FormatReport Validate(Reader& reader) const override {
    auto head_or = reader.Read(0, limits::kHeadBytes);
    FormatReport report;
    report.format = "font";
    if (!head_or.ok()) return report;
    const std::string_view head = *head_or;
    const uint32_t tag = LoadBE<uint32_t>(head, 0).value_or(0);
    if (tag == 0x774f4646) return ValidateWoff(reader, head);
    if (tag == 0x774f4632) return ValidateWoff2(reader, head);
    if (tag == 0x74746366) return ValidateCollection(reader, head);
    if (IsSfntVersion(tag)) return ValidateSfnt(reader, head);
    Damage(report, 0, reader.size(), "font signature missing");
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeFontValidator() {
  return std::make_unique<FontValidator>();
}

}  // namespace steen::content
