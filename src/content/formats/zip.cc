// ZIP validator, and the formats built on ZIP (OOXML, ODF, EPUB, JAR, APK), told apart by entry
// names and the ODF/EPUB `mimetype` entry.
//
// Checks: end-of-central-directory record in the tail (with comment; ZIP64 locator and record),
// central directory entries, local headers at the offsets the directory states (signature, name),
// and a decoder probe (inflate, or CRC of small stored entries) of entries spread over the archive.
// Prefixed archives (self-extractors, APK signing blocks) shift every offset by a constant; that
// shift is measured from where the central directory actually is, not flagged.
#include <zlib.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/members.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kLocalSig("PK\x03\x04", 4);
constexpr std::string_view kCentralSig("PK\x01\x02", 4);
constexpr std::string_view kEocdSig("PK\x05\x06", 4);
constexpr std::string_view kZip64EocdSig("PK\x06\x06", 4);
constexpr std::string_view kZip64LocatorSig("PK\x06\x07", 4);
constexpr std::string_view kSpanSig("PK\x07\x08", 4);
constexpr std::size_t kEocdSize = 22;
constexpr std::size_t kMaxCommentBytes = 0xFFFF;
// Central directories larger than this are walked only as far as this prefix.
constexpr std::size_t kMaxCentralDirectoryRead = 1 * limits::MiB;
// Local headers checked against the central directory (spread over the archive).
constexpr int kMaxLocalHeadersChecked = 64;
// An OpenDocument manifest read to find its encrypted entries, and the names kept from it.
constexpr std::size_t kMaxOdfManifestBytes = 256 * limits::KiB;
constexpr std::size_t kMaxZipEntriesTracked = 4096;
// Stored entries up to this size are CRC-checked as their probe (ODF/EPUB `mimetype`, small files).
constexpr uint64_t kMaxStoredCrcBytes = 16 * limits::KiB;

struct Entry {
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0;
  uint64_t uncompressed = 0;
  uint64_t local_offset = 0;
  std::string_view name;
  bool aes = false;
  bool encrypted() const { return (flags & 1) != 0 || aes; }
};

std::string Quote(std::string_view name) {
  std::string out = "'";
  for (char c : name.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out + "'";
}

std::string DetectFlavor(const std::vector<std::string_view>& names, std::string_view mimetype) {
  while (!mimetype.empty() &&
         (mimetype.back() == '\n' || mimetype.back() == '\r' || mimetype.back() == ' ')) {
    mimetype.remove_suffix(1);
  }
  if (mimetype == "application/epub+zip") return "epub";
  if (mimetype == "application/vnd.oasis.opendocument.text") return "odt";
  if (mimetype == "application/vnd.oasis.opendocument.spreadsheet") return "ods";
  if (mimetype == "application/vnd.oasis.opendocument.presentation") return "odp";
  if (mimetype == "application/vnd.oasis.opendocument.graphics") return "odg";
  bool content_types = false, word = false, xl = false, ppt = false, manifest = false;
  bool android = false, dex = false;
  for (std::string_view n : names) {
    if (n == "[Content_Types].xml") content_types = true;
    if (StartsWith(n, "word/")) word = true;
    if (StartsWith(n, "xl/")) xl = true;
    if (StartsWith(n, "ppt/")) ppt = true;
    if (n == "META-INF/MANIFEST.MF") manifest = true;
    if (n == "AndroidManifest.xml") android = true;
    if (StartsWith(n, "classes") && n.ends_with(".dex")) dex = true;
  }
  if (content_types && word) return "docx";
  if (content_types && xl) return "xlsx";
  if (content_types && ppt) return "pptx";
  if (android && dex) return "apk";
  if (manifest) return "jar";
  if (StartsWith(mimetype, "application/vnd.oasis.opendocument.")) return "odf";
  return "zip";
}

// Parses one central directory entry at `pos` of `cd`; returns its size or 0 when malformed.
std::size_t ParseCentralEntry(std::string_view cd, std::size_t pos, Entry& e) {
  if (!HasAt(cd, pos, kCentralSig)) return 0;
  auto name_len = LoadLE<uint16_t>(cd, pos + 28);
  auto extra_len = LoadLE<uint16_t>(cd, pos + 30);
  auto comment_len = LoadLE<uint16_t>(cd, pos + 32);
  if (!name_len || !extra_len || !comment_len) return 0;
  std::size_t total = 46 + std::size_t{*name_len} + *extra_len + *comment_len;
  if (cd.size() - pos < total) return 0;
  e.flags = *LoadLE<uint16_t>(cd, pos + 8);
  e.method = *LoadLE<uint16_t>(cd, pos + 10);
  e.crc = *LoadLE<uint32_t>(cd, pos + 16);
  e.compressed = *LoadLE<uint32_t>(cd, pos + 20);
  e.uncompressed = *LoadLE<uint32_t>(cd, pos + 24);
  e.local_offset = *LoadLE<uint32_t>(cd, pos + 42);
  e.name = cd.substr(pos + 46, *name_len);
  std::string_view extra = cd.substr(pos + 46 + *name_len, *extra_len);
  for (std::size_t x = 0; x + 4 <= extra.size();) {
    uint16_t id = *LoadLE<uint16_t>(extra, x);
    uint16_t len = *LoadLE<uint16_t>(extra, x + 2);
    std::string_view body = extra.substr(x + 4, std::min<std::size_t>(len, extra.size() - x - 4));
    if (id == 0x0001) {  // ZIP64: 8-byte fields present only for the saturated 32-bit ones
      std::size_t at = 0;
      auto take = [&](uint64_t& field) {
        if (field != 0xFFFFFFFFu) return;
        if (auto v = LoadLE<uint64_t>(body, at)) field = *v;
        at += 8;
      };
      take(e.uncompressed);
      take(e.compressed);
      take(e.local_offset);
    } else if (id == 0x9901) {
      e.aes = true;
    }
    x += 4 + std::size_t{len};
  }
  return total;
}

class ZipValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "zip"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, kLocalSig) || StartsWith(head, kSpanSig) ||
           (StartsWith(head, kEocdSig) && head.size() >= kEocdSize);
  }

  // A central directory read (ReadDirectory).
  struct Directory {
    std::vector<Entry> entries;
    uint64_t shift = 0;
    uint64_t start = 0;  // file offset of the directory
  };

  // --verify: every entry the directory lists (up to limits::kMaxZipEntriesChecked; stored or
  // deflated, not encrypted) decoded whole and compared with its CRC-32 and size. The default
  // check probes 8 entries' first 16 KiB; this sees ciphertext anywhere in any of them.
  void VerifyWhole(Reader& raw, FormatReport& report) const override {
    BoundedReader reader(raw);
    FormatReport scratch;  // Validate reported the directory's problems already
    const std::optional<Directory> directory = ReadDirectory(reader, scratch);
    if (!directory) return;
    ApplyWholeDecode(DecodeEntries(raw, reader, *directory), raw.size(), report);
  }

  static WholeDecode DecodeEntries(Reader& raw, BoundedReader& reader, const Directory& d) {
    using Outcome = WholeDecode::Outcome;
    using End = WholeInflater::Result::End;
    WholeInflater inflater(raw);
    DeepChunks stored(raw, 0);  // a stored entry's bytes, read as they are
    int checked = 0;
    for (const Entry& e : d.entries) {
      if (e.encrypted() || (e.method != 0 && e.method != 8)) continue;
      const auto start = LocalDataStart(reader, e, d.shift, nullptr);
      if (!start) {
        if (!raw.status().ok()) return {};
        continue;  // a bad local header: Validate judged it
      }
      const std::string entry = "ZIP entry " + Quote(e.name) + " at " + Hex(*start);
      uint32_t crc = 0;
      uint64_t produced = 0;
      bool ended = true;
      if (e.method == 0) {  // stored: the bytes themselves
        stored.Restart(*start, *start + e.compressed);
        std::string_view chunk;
        while (stored.Next(&chunk)) {
          crc = Crc32(chunk, crc);
          produced += chunk.size();
          inflater.CountDecoded(chunk.size());
          if (inflater.decoded() > limits::kMaxDeepDecodedBytes) return DecodedPastLimit("ZIP");
        }
        if (!raw.status().ok()) return {};
        if (!stored.done()) {
          return {Outcome::kTruncated, stored.next(),
                  entry + ": data extends beyond the end of the file"};
        }
      } else {
        const WholeInflater::Result r = inflater.Inflate(*start, *start + e.compressed);
        switch (r.end) {
          case End::kStreamEnd:
          case End::kInputEnded:  // the entry's bytes ran out first: the comparison below fails
            ended = r.end == End::kStreamEnd;
            crc = r.crc;
            produced = r.produced;
            break;
          case End::kInvalid:
            return {Outcome::kDamaged, r.at, entry + ": deflate data invalid near " + Hex(r.at)};
          case End::kFileEnded:
            return {Outcome::kTruncated, r.at, entry + ": data extends beyond the end of the file"};
          case End::kOverBudget:
            return DecodedPastLimit("ZIP");
          case End::kReadError:
            return {};
        }
      }
      if (!ended || crc != e.crc || produced != e.uncompressed) {
        return {Outcome::kDamaged, *start,
                entry + " decoded whole: its CRC-32 or size differs from the directory's"};
      }
      ++checked;
    }
    if (checked == 0) return {};
    return {Outcome::kMatches, 0,
            "ZIP: " + std::to_string(checked) + " entries decoded whole, CRC-32 and sizes match"};
  }

  // The central directory: its entries (up to limits::kMaxZipEntriesChecked) and the shift of
  // a prefixed archive; nullopt when there is none to read, with `report` saying why (damage, a
  // walk of local entries instead, an empty or multi-part archive) or nothing (a read error).
  static std::optional<Directory> ReadDirectory(BoundedReader& reader, FormatReport& report) {
    const uint64_t size = reader.size();

    // ---- End of central directory --------------------------------------------------------------
    const uint64_t tail_len = std::min<uint64_t>(size, kEocdSize + kMaxCommentBytes);
    auto tail = reader.Read(size - tail_len, tail_len);
    if (!tail) return std::nullopt;
    const uint64_t tail_start = size - tail_len;
    std::optional<std::size_t> eocd_in_tail;
    for (std::size_t i = tail->size() >= kEocdSize ? tail->size() - kEocdSize + 1 : 0; i-- > 0;) {
      if (!HasAt(*tail, i, kEocdSig)) continue;
      uint16_t comment = *LoadLE<uint16_t>(*tail, i + 20);
      if (i + kEocdSize + comment == tail->size()) {  // exact: preferred
        eocd_in_tail = i;
        break;
      }
      if (!eocd_in_tail && i + kEocdSize + comment <= tail->size()) eocd_in_tail = i;
    }
    if (!eocd_in_tail) {
      WalkWithoutDirectory(reader, report);
      auto head = reader.Read(0, 4);
      if (head && StartsWith(*head, kSpanSig) && report.integrity == Integrity::kTruncated) {
        // First part of a split archive: it ends mid-archive by design.
        report.integrity = Integrity::kValid;
        report.reasons.push_back("ZIP: first part of a split archive");
      }
      return std::nullopt;
    }

    const std::string_view eocd = tail->substr(*eocd_in_tail);
    const uint64_t eocd_pos = tail_start + *eocd_in_tail;
    report.structure_end = eocd_pos + kEocdSize + *LoadLE<uint16_t>(eocd, 20);
    const uint16_t disk = *LoadLE<uint16_t>(eocd, 4);
    const uint16_t cd_disk = *LoadLE<uint16_t>(eocd, 6);
    uint64_t total_entries = *LoadLE<uint16_t>(eocd, 10);
    uint64_t cd_size = *LoadLE<uint32_t>(eocd, 12);
    uint64_t cd_offset = *LoadLE<uint32_t>(eocd, 16);
    uint64_t cd_end = eocd_pos;  // where the central directory actually ends
    bool zip64 = false;

    if (eocd_pos >= 20) {
      auto locator = reader.Read(eocd_pos - 20, 20);
      if (locator && HasAt(*locator, 0, kZip64LocatorSig)) {
        uint64_t stated = *LoadLE<uint64_t>(*locator, 8);
        // The ZIP64 record is normally right before the locator; prefer the stated offset.
        for (uint64_t at : {stated, eocd_pos >= 76 ? eocd_pos - 76 : stated}) {
          auto rec = reader.Read(at, 56);
          if (rec && HasAt(*rec, 0, kZip64EocdSig) && rec->size() == 56) {
            zip64 = true;
            total_entries = *LoadLE<uint64_t>(*rec, 32);
            cd_size = *LoadLE<uint64_t>(*rec, 40);
            cd_offset = *LoadLE<uint64_t>(*rec, 48);
            cd_end = at;
            break;
          }
        }
        if (!zip64) {
          MarkDamaged(report, "ZIP64 end of central directory record missing", eocd_pos - 20, size);
          return std::nullopt;
        }
      }
    }
    if (disk != 0 || cd_disk != 0) {
      report.reasons.push_back(
          "multi-part (spanned/split) ZIP: only the last part's record checked");
      return std::nullopt;
    }
    if (total_entries == 0 && cd_size == 0) {
      report.reasons.push_back("empty ZIP archive");
      return std::nullopt;
    }
    if (cd_size > cd_end) {
      MarkDamaged(report,
                  "ZIP end of central directory: directory size " + std::to_string(cd_size) +
                      " exceeds its position " + Hex(cd_end),
                  eocd_pos, size);
      return std::nullopt;
    }

    // ---- Central directory ----------------------------------------------------------------------
    // Offsets are relative to the archive start; a prefix (SFX stub) shifts them all.
    uint64_t cd_start = cd_end - cd_size;
    uint64_t shift = 0;
    if (cd_offset <= cd_start) shift = cd_start - cd_offset;
    std::size_t cd_read =
        static_cast<std::size_t>(std::min<uint64_t>(cd_size, kMaxCentralDirectoryRead));
    auto cd = reader.Read(cd_start, cd_read);
    if (!cd || !HasAt(*cd, 0, kCentralSig)) {
      // Maybe the offsets were adjusted but data sits between directory and EOCD record.
      auto alt = cd_offset < size ? reader.Read(cd_offset, cd_read) : std::nullopt;
      if (alt && HasAt(*alt, 0, kCentralSig)) {
        cd = alt;
        cd_start = cd_offset;
        shift = 0;
      } else {
        if (!cd) return std::nullopt;
        MarkDamaged(report, "ZIP central directory at " + Hex(cd_start) + ": bad signature",
                    cd_start, size);
        return std::nullopt;
      }
    }
    std::vector<Entry> entries;
    std::size_t pos = 0;
    while (pos < cd->size() &&
           entries.size() < static_cast<std::size_t>(limits::kMaxZipEntriesChecked)) {
      Entry e;
      std::size_t n = ParseCentralEntry(*cd, pos, e);
      if (n == 0) {
        if (cd->size() < cd_size && cd->size() - pos < 46 + 3 * 65535) break;  // read prefix only
        MarkDamaged(report,
                    "ZIP central directory entry " + std::to_string(entries.size()) + " at " +
                        Hex(cd_start + pos) + ": malformed",
                    cd_start + pos, size);
        return std::nullopt;
      }
      entries.push_back(e);
      pos += n;
    }
    if (pos == cd_size &&
        (zip64 ? entries.size() != total_entries : (entries.size() & 0xFFFF) != total_entries)) {
      report.reasons.push_back("ZIP entry count " + std::to_string(total_entries) +
                               " differs from the " + std::to_string(entries.size()) +
                               " directory entries");
    }
    return Directory{std::move(entries), shift, cd_start};
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "zip";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    std::optional<Directory> directory = ReadDirectory(reader, report);
    if (!directory) return report;
    const std::vector<Entry>& entries = directory->entries;
    const uint64_t shift = directory->shift;
    const uint64_t cd_start = directory->start;

    // ---- Flavor ---------------------------------------------------------------------------------
    std::vector<std::string_view> names;
    names.reserve(entries.size());
    for (const Entry& e : entries) names.push_back(e.name);
    std::string mimetype;
    for (const Entry& e : entries) {
      if (e.name == "mimetype" && e.method == 0 && e.compressed <= 256 && !e.encrypted()) {
        if (auto data = EntryData(reader, e, shift, e.compressed)) mimetype = std::string(*data);
        break;
      }
    }
    report.format = DetectFlavor(names, mimetype);
    const std::set<std::string, std::less<>> odf_encrypted =
        OdfEncryptedEntries(reader, entries, shift);

    // ---- Local headers --------------------------------------------------------------------------
    uint64_t first_bad = UINT64_MAX;
    std::string first_bad_reason;
    auto note_bad = [&](uint64_t at, std::string why) {
      if (at < first_bad) {
        first_bad = at;
        first_bad_reason = std::move(why);
      }
    };
    const std::size_t n = entries.size();
    const std::size_t local_checks = std::min<std::size_t>(n, kMaxLocalHeadersChecked);
    for (std::size_t k = 0; k < local_checks; ++k) {
      const Entry& e = entries[local_checks == n ? k : k * (n - 1) / (local_checks - 1)];
      std::string why;
      if (!CheckLocal(reader, e, shift, &why)) {
        if (reader.exhausted()) break;
        note_bad(e.local_offset + shift, std::move(why));
      }
    }

    // ---- Decoder probes -------------------------------------------------------------------------
    std::vector<const Entry*> probe_pool;
    std::size_t encrypted = 0;
    for (const Entry& e : entries) {
      if (e.encrypted() || odf_encrypted.count(e.name) > 0) {
        ++encrypted;
        continue;
      }
      if (e.compressed == 0) continue;
      if (e.method == 8 || (e.method == 0 && e.compressed <= kMaxStoredCrcBytes)) {
        probe_pool.push_back(&e);
      }
    }
    const std::size_t probes =
        std::min<std::size_t>(probe_pool.size(), limits::kMaxZipEntriesInflated);
    for (std::size_t k = 0; k < probes; ++k) {
      const Entry& e =
          *probe_pool[probes == probe_pool.size()
                          ? k
                          : (probes == 1 ? 0 : k * (probe_pool.size() - 1) / (probes - 1))];
      ProbeEntry(reader, e, shift, note_bad);
      if (reader.exhausted()) break;
    }

    if (first_bad != UINT64_MAX) {
      MarkDamaged(report, first_bad_reason, first_bad, size);
      return report;
    }
    report.reasons.push_back("ZIP: " + std::to_string(entries.size()) + " directory entries, " +
                             std::to_string(local_checks) + " local headers and " +
                             std::to_string(probes) + " entries probed");
    if (encrypted == 0) StoredMembers(reader, entries, shift, cd_start, report);
    if (encrypted > 0) {
      report.integrity = Integrity::kEncryptedContainer;
      report.reasons.push_back(std::string(odf_encrypted.empty()
                                               ? "ZIP entries encrypted (ZipCrypto/AES): "
                                               : "document entries encrypted (a password, its "
                                                 "manifest's encryption-data): ") +
                               std::to_string(encrypted) + " of " + std::to_string(n));
    }
    return report;
  }

 private:
  // Entries stored whole (method 0: pictures in ODF documents and EPUBs, files of `zip -0`) are
  // files the analyzer judges as files of their own, like a tar's members: ciphertext inside a
  // stored PNG or JPEG breaks that picture, where the archive's own checks (directory, local
  // headers, a CRC of small stored entries) see nothing. Those holding kMaxMembersJudged offsets
  // spread over the archive, in file order; deflated entries take their turn and are skipped.
  // Only entries of a known format count: applications store raw bytes of their own in ZIPs
  // (zarr array chunks, compressors' test inputs), random by nature and named by nothing.
  static void StoredMembers(BoundedReader& reader, const std::vector<Entry>& entries,
                            uint64_t shift, uint64_t cd_start, FormatReport& report) {
    std::vector<const Entry*> in_order;
    in_order.reserve(entries.size());
    for (const Entry& e : entries) in_order.push_back(&e);
    std::sort(in_order.begin(), in_order.end(),
              [](const Entry* a, const Entry* b) { return a->local_offset < b->local_offset; });
    MemberPicker picker(cd_start);
    for (std::size_t i = 0; i < in_order.size(); ++i) {
      const Entry& e = *in_order[i];
      const uint64_t span_end =
          i + 1 < in_order.size() ? in_order[i + 1]->local_offset + shift : cd_start;
      if (!picker.Take(span_end)) continue;
      if (e.method != 0 || e.compressed == 0 || e.compressed != e.uncompressed) continue;
      auto start = LocalDataStart(reader, e, shift, nullptr);
      if (!start || *start + e.compressed > cd_start) continue;
      report.members.push_back(
          {{*start, e.compressed}, PrintableName(e.name), /*judged_without_format=*/false});
    }
  }

  // Reads the local header of `e`; returns the offset of its data, or nullopt with `why` set.
  static std::optional<uint64_t> LocalDataStart(BoundedReader& reader, const Entry& e,
                                                uint64_t shift, std::string* why) {
    const uint64_t at = e.local_offset + shift;
    auto header = reader.Read(at, 30 + e.name.size());
    if (!header) return std::nullopt;
    if (header->size() < 30 || !HasAt(*header, 0, kLocalSig)) {
      if (why)
        *why = "ZIP local header of " + Quote(e.name) + " at " + Hex(at) +
               (header->size() < 30 ? ": beyond end of file" : ": bad signature");
      return std::nullopt;
    }
    uint16_t name_len = *LoadLE<uint16_t>(*header, 26);
    uint16_t extra_len = *LoadLE<uint16_t>(*header, 28);
    if (header->substr(30) != e.name || name_len != e.name.size()) {
      if (why)
        *why = "ZIP local header at " + Hex(at) + ": name differs from directory entry " +
               Quote(e.name);
      return std::nullopt;
    }
    return at + 30 + name_len + extra_len;
  }

  // OpenDocument files saved with a password deflate, then encrypt, their entries, without
  // ZIP's encryption flag; META-INF/manifest.xml names them (a manifest:encryption-data element
  // in their file-entry). Their data then fails to inflate by design.
  static std::set<std::string, std::less<>> OdfEncryptedEntries(BoundedReader& reader,
                                                                const std::vector<Entry>& entries,
                                                                uint64_t shift) {
    std::set<std::string, std::less<>> out;
    const Entry* manifest = nullptr;
    for (const Entry& e : entries) {
      if (e.name == "META-INF/manifest.xml") manifest = &e;
    }
    if (manifest == nullptr || manifest->encrypted() ||
        manifest->compressed > kMaxOdfManifestBytes ||
        (manifest->method != 0 && manifest->method != 8)) {
      return out;
    }
    auto data = EntryData(reader, *manifest, shift, manifest->compressed);
    if (!data) return out;
    std::string xml;
    if (manifest->method == 0) {
      xml = std::string(*data);
    } else if (!InflateAll(*data, kMaxOdfManifestBytes, &xml)) {
      return out;
    }
    constexpr std::string_view kEntry = "<manifest:file-entry";
    constexpr std::string_view kPath = "manifest:full-path=\"";
    for (std::size_t at = xml.find(kEntry); at != std::string::npos;) {
      const std::size_t next = xml.find(kEntry, at + kEntry.size());
      const std::string_view entry = std::string_view(xml).substr(
          at, next == std::string::npos ? std::string::npos : next - at);
      const std::size_t path = entry.find(kPath);
      if (path != std::string_view::npos &&
          entry.find("encryption-data") != std::string_view::npos) {
        const std::size_t start = path + kPath.size();
        const std::size_t end = entry.find('"', start);
        if (end != std::string_view::npos && out.size() < kMaxZipEntriesTracked) {
          out.emplace(entry.substr(start, end - start));
        }
      }
      at = next;
    }
    return out;
  }

  // Raw deflate `input` into `out`, at most `max_output` bytes; false on a decoder error.
  static bool InflateAll(std::string_view input, std::size_t max_output, std::string* out) {
    z_stream zs{};
    if (inflateInit2(&zs, -15) != Z_OK) return false;
    out->resize(max_output);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    zs.avail_in = static_cast<uInt>(input.size());
    zs.next_out = reinterpret_cast<Bytef*>(out->data());
    zs.avail_out = static_cast<uInt>(out->size());
    const int rc = inflate(&zs, Z_FINISH);
    out->resize(zs.total_out);
    inflateEnd(&zs);
    return rc == Z_STREAM_END || rc == Z_BUF_ERROR || rc == Z_OK;
  }

  static bool CheckLocal(BoundedReader& reader, const Entry& e, uint64_t shift, std::string* why) {
    return LocalDataStart(reader, e, shift, why).has_value();
  }

  static std::optional<std::string_view> EntryData(BoundedReader& reader, const Entry& e,
                                                   uint64_t shift, uint64_t length) {
    auto start = LocalDataStart(reader, e, shift, nullptr);
    if (!start) return std::nullopt;
    return reader.Read(*start, static_cast<std::size_t>(length));
  }

  template <typename NoteBad>
  static void ProbeEntry(BoundedReader& reader, const Entry& e, uint64_t shift, NoteBad& note_bad) {
    std::string why;
    auto start = LocalDataStart(reader, e, shift, &why);
    if (!start) {
      if (!why.empty()) note_bad(e.local_offset + shift, why);
      return;
    }
    const uint64_t want = std::min<uint64_t>(e.compressed, limits::kMaxPartProbe);
    auto data = reader.Read(*start, static_cast<std::size_t>(want));
    if (!data) return;
    const bool whole = data->size() == e.compressed;
    if (data->size() < want) {
      note_bad(*start, "ZIP entry " + Quote(e.name) + " at " + Hex(*start) +
                           ": data extends beyond end of file");
      return;
    }
    if (e.method == 0) {
      if (whole && Crc32(*data) != e.crc) {
        note_bad(*start,
                 "ZIP stored entry " + Quote(e.name) + " at " + Hex(*start) + ": CRC-32 mismatch");
      }
      return;
    }
    ProbeResult probe = InflateProbe(*data, -15, limits::kMaxPartDecoded);
    if (probe.outcome == ProbeOutcome::kError) {
      note_bad(*start, "ZIP entry " + Quote(e.name) + " at " + Hex(*start) +
                           ": deflate data invalid (" + probe.error + ")");
    } else if (whole && probe.outcome == ProbeOutcome::kInputEnded) {
      note_bad(*start, "ZIP entry " + Quote(e.name) + " at " + Hex(*start) +
                           ": deflate stream does not end within the entry");
    } else if (whole && probe.outcome == ProbeOutcome::kStreamEnd &&
               (probe.crc != e.crc || probe.produced != e.uncompressed)) {
      note_bad(*start, "ZIP entry " + Quote(e.name) + " at " + Hex(*start) +
                           ": CRC-32 or size mismatch after inflating");
    }
  }

  // No end-of-central-directory record: walk local entries from the start to find where the
  // archive stops making sense (tail encrypted or overwritten) or whether it is simply cut short.
  static FormatReport WalkWithoutDirectory(BoundedReader& reader, FormatReport& report) {
    const uint64_t size = reader.size();
    std::vector<std::string> names;
    std::string mimetype;
    uint64_t pos = 0;
    if (auto head = reader.Read(0, 4); head && StartsWith(*head, kSpanSig)) pos = 4;
    auto finish_flavor = [&] {
      std::vector<std::string_view> views(names.begin(), names.end());
      report.format = DetectFlavor(views, mimetype);
    };
    for (int i = 0; i < limits::kMaxZipEntriesChecked; ++i) {
      auto header = reader.Read(pos, 46);
      if (!header) break;
      if (header->size() < 4) {
        finish_flavor();
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("ZIP ends after its local entries at " + Hex(pos) +
                                 ": central directory missing (file truncated)");
        return report;
      }
      if (HasAt(*header, 0, kCentralSig)) {
        // Directory present but its end record is not: walk the directory to its end.
        uint64_t last_entry = pos;
        for (int j = 0; j < limits::kMaxZipEntriesChecked; ++j) {
          auto entry = reader.Read(pos, 46);
          if (!entry || !HasAt(*entry, 0, kCentralSig)) break;
          last_entry = pos;
          if (entry->size() < 46) break;
          pos += 46 + std::size_t{*LoadLE<uint16_t>(*entry, 28)} + *LoadLE<uint16_t>(*entry, 30) +
                 *LoadLE<uint16_t>(*entry, 32);
        }
        finish_flavor();
        // The entry's variable part (name, extra, comment) is never random in a real directory;
        // its fixed 46 bytes may have been kept while the rest was encrypted (header kept).
        const uint64_t variable_part = last_entry + 46;
        if (pos > size && variable_part < size && size - variable_part >= 32) {
          auto rest = reader.Read(variable_part, size - variable_part);
          if (rest && ShortSpanLooksRandom(*rest)) {
            MarkDamaged(report,
                        "ZIP end of central directory record missing; random data in the "
                        "directory at " +
                            Hex(last_entry),
                        last_entry, size);
            return report;
          }
        }
        if (pos >= size) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("ZIP ends inside its central directory (file truncated)");
          return report;
        }
        MarkDamaged(report,
                    "ZIP end of central directory record missing; invalid data at " + Hex(pos), pos,
                    size);
        return report;
      }
      if (!HasAt(*header, 0, kLocalSig) || header->size() < 30) {
        finish_flavor();
        MarkDamaged(
            report,
            "ZIP central directory missing; local entry walk finds invalid data at " + Hex(pos),
            pos, size);
        return report;
      }
      const uint16_t flags = *LoadLE<uint16_t>(*header, 6);
      const uint16_t method = *LoadLE<uint16_t>(*header, 8);
      uint64_t compressed = *LoadLE<uint32_t>(*header, 18);
      const uint16_t name_len = *LoadLE<uint16_t>(*header, 26);
      const uint16_t extra_len = *LoadLE<uint16_t>(*header, 28);
      auto name_extra = reader.Read(pos + 30, std::size_t{name_len} + extra_len);
      if (!name_extra) break;
      std::string_view name = name_extra->substr(0, name_len);
      // Archivers write names as text (UTF-8 or a DOS code page): control bytes mean the header
      // survived but what follows it did not.
      if (std::count_if(name.begin(), name.end(),
                        [](char c) { return static_cast<unsigned char>(c) < 0x20; }) >= 2) {
        finish_flavor();
        MarkDamaged(
            report,
            "ZIP central directory missing; entry name at " + Hex(pos + 30) + " is binary garbage",
            pos + 30, size);
        return report;
      }
      if (names.size() < 64) names.emplace_back(name);
      std::string_view extra =
          name_extra->substr(std::min<std::size_t>(name_len, name_extra->size()));
      if (compressed == 0xFFFFFFFFu && HasAt(extra, 0, std::string_view("\x01\x00", 2))) {
        if (auto v = LoadLE<uint64_t>(extra, 12)) compressed = *v;
      }
      const uint64_t data = pos + 30 + name_len + extra_len;
      if (name == "mimetype" && method == 0 && compressed <= 256) {
        if (auto m = reader.Read(data, compressed)) mimetype = std::string(*m);
      }
      if ((flags & 8) != 0 && compressed == 0) {
        break;  // streamed entry: its size is only in the (missing) directory
      }
      // Hunters-style damage keeps the first bytes (this local header) and encrypts the rest: the
      // entry's data then fails to inflate, which tells it from an archive that was cut short.
      if (method == 8 && (flags & 1) == 0) {
        auto entry_data =
            reader.Read(data, std::min<uint64_t>(compressed == 0 ? 16384 : compressed, 16384));
        if (entry_data && !entry_data->empty() &&
            InflateProbe(*entry_data, -15, limits::kMaxPartDecoded).outcome ==
                ProbeOutcome::kError) {
          finish_flavor();
          MarkDamaged(report,
                      "ZIP central directory missing; entry '" + std::string(name.substr(0, 80)) +
                          "' at " + Hex(pos) + " does not inflate",
                      data, size);
          return report;
        }
      }
      pos = data + compressed;
      if (pos > size) {
        finish_flavor();
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("ZIP entry '" + std::string(name.substr(0, 80)) +
                                 "' extends beyond the end of the file (truncated)");
        return report;
      }
      if ((flags & 8) != 0) {  // data descriptor, with or without its signature
        auto dd = reader.Read(pos, 4);
        pos += (dd && HasAt(*dd, 0, kSpanSig)) ? 16 : 12;
      }
    }
    finish_flavor();
    MarkDamaged(report, "ZIP central directory missing", size, size);
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeZipValidator() {
  return std::make_unique<ZipValidator>();
}

}  // namespace steen::content::archive
