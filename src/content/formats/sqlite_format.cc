// SQLite 3 database, rollback journal and write-ahead log validators.
// The database: The file is an array of pages; b-tree pages start with a small
// header (type, freeblock, cell count, cell content start) and cell pointers, which random bytes
// satisfy essentially never. Freelist, overflow and pointer-map pages start with page numbers,
// which are small. So sampling pages and counting the implausible ones tells an intact database
// from one whose body was encrypted, even intermittently.
#include "content/formats/sqlite_format.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/zip_util.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

constexpr std::string_view kSqliteMagic("SQLite format 3\0", 16);
constexpr std::size_t kHeaderSize = 100;
constexpr std::size_t kMaxCellsChecked = 4;

using archive::Hex;
using archive::MarkDamaged;

// SQLite varint (1..9 bytes, big-endian groups of 7 bits, the 9th byte whole).
std::optional<uint64_t> Varint(std::string_view s, std::size_t& pos) {
  uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (pos >= s.size()) return std::nullopt;
    auto b = static_cast<unsigned char>(s[pos++]);
    if (i == 8) return (v << 8) | b;
    v = (v << 7) | (b & 0x7f);
    if (!(b & 0x80)) return v;
  }
  return v;
}

std::optional<uint64_t> SerialTypeSize(uint64_t t) {
  static constexpr uint64_t kSizes[] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0};
  if (t < 10) return kSizes[t];
  if (t == 10 || t == 11) return std::nullopt;  // reserved
  return (t - 12) / 2;
}

// What a page of a database with `usable` bytes per page and `page_count` pages must satisfy.
// The rollback journal and the WAL hold copies of such pages.
struct PageRules {
  uint32_t usable = 0;
  uint64_t page_count = 0;

  // Empty string when the b-tree page at `page` (header at hdr) is plausible, else why not.
  std::string CheckBtreePage(std::string_view page, std::size_t hdr) const;
  std::string CheckRecord(std::string_view page, std::size_t pos, uint64_t payload,
                          uint64_t max_local) const;
};

// Sampled pages of a database, a journal or a WAL: random pages are implausible nearly always;
// intact files have at most an odd stale freelist page.
bool ImplausiblePagesAreDamage(int implausible, int checked) {
  return (implausible >= 2 && implausible * 8 >= checked) || (implausible >= 1 && checked <= 2);
}

class SqliteCheck {
 public:
  SqliteCheck(Reader& reader, FormatReport& report) : reader_(reader), report_(report) {}
  void Run();

 private:
  void Bad(uint64_t offset, std::string reason, bool fatal = false) {
    ++bad_;
    fatal_ = fatal_ || fatal;
    first_bad_ = std::min(first_bad_, offset);
    if (report_.reasons.size() < 12) report_.reasons.push_back(std::move(reason));
  }
  void Note(std::string reason) {
    if (report_.reasons.size() < 12) report_.reasons.push_back(std::move(reason));
  }
  bool CheckHeader();
  std::string CheckBtreePage(std::string_view page, std::size_t hdr) const {
    return PageRules{usable_, page_count_}.CheckBtreePage(page, hdr);
  }
  bool PlausibleOtherPage(std::string_view page, uint64_t pgno) const;
  void SamplePages();
  void Decide();

  Reader& reader_;
  FormatReport& report_;
  std::string_view head_;
  uint64_t size_ = 0;
  uint32_t page_size_ = 0;
  uint32_t usable_ = 0;
  uint64_t page_count_ = 0;
  bool autovacuum_ = false;
  int ok_ = 0, bad_ = 0, checks_ = 0;
  bool fatal_ = false, truncated_ = false;
  uint64_t first_bad_ = UINT64_MAX;
};

void SqliteCheck::Run() {
  size_ = reader_.size();
  auto head = reader_.Read(0, limits::kHeadBytes);
  if (!head.ok()) return;
  head_ = *head;
  if (head_.size() < kHeaderSize) {
    truncated_ = true;
    Note("SQLite file shorter than its 100-byte header");
    Decide();
    return;
  }
  if (CheckHeader()) SamplePages();
  Decide();
}

bool SqliteCheck::CheckHeader() {
  uint32_t ps = *LoadBE<uint16_t>(head_, 16);
  if (ps == 1) ps = 65536;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) {
    Bad(16, "SQLite header: invalid page size " + std::to_string(ps), true);
    return false;
  }
  page_size_ = ps;
  auto write_version = static_cast<uint8_t>(head_[18]);
  auto read_version = static_cast<uint8_t>(head_[19]);
  auto reserved = static_cast<uint8_t>(head_[20]);
  if (write_version < 1 || write_version > 2 || read_version < 1 || read_version > 2) {
    Bad(18,
        "SQLite header: file format versions " + std::to_string(write_version) + "/" +
            std::to_string(read_version) + " (expected 1 or 2)",
        true);
  }
  if (head_.substr(21, 3) != std::string_view("\x40\x20\x20", 3)) {
    Bad(21, "SQLite header: payload fractions are not 64/32/32", true);
  }
  usable_ = ps - reserved;
  if (usable_ < 480) Bad(20, "SQLite header: usable page size below 480", true);
  if (fatal_) return false;

  uint32_t change_counter = *LoadBE<uint32_t>(head_, 24);
  uint32_t header_pages = *LoadBE<uint32_t>(head_, 28);
  uint32_t freelist_trunk = *LoadBE<uint32_t>(head_, 32);
  uint32_t freelist_count = *LoadBE<uint32_t>(head_, 36);
  uint32_t schema_format = *LoadBE<uint32_t>(head_, 44);
  uint32_t largest_root = *LoadBE<uint32_t>(head_, 52);
  uint32_t encoding = *LoadBE<uint32_t>(head_, 56);
  uint32_t valid_for = *LoadBE<uint32_t>(head_, 92);
  uint32_t version = *LoadBE<uint32_t>(head_, 96);
  autovacuum_ = largest_root != 0;

  uint64_t file_pages = size_ / ps;
  if (header_pages != 0 && valid_for == change_counter) {
    page_count_ = header_pages;
    uint64_t expected = page_count_ * ps;
    if (expected > size_) {
      truncated_ = true;
      Note("SQLite header says " + std::to_string(page_count_) + " pages (" +
           std::to_string(expected) + " bytes) but the file has " + std::to_string(size_));
      report_.structure_end = 0;
    } else {
      report_.structure_end = expected;
    }
  } else {
    page_count_ = file_pages;
    report_.structure_end = file_pages * ps;
  }
  if (page_count_ == 0) {
    truncated_ = true;
    Note("SQLite file holds no complete page");
    return false;
  }

  // Fields past byte 62 are lost to "keep the signature, encrypt the rest" attacks.
  int header_faults = 0;
  std::string first_fault;
  auto fault = [&](std::string what) {
    if (header_faults++ == 0) first_fault = std::move(what);
  };
  if (schema_format > 4) fault("schema format " + std::to_string(schema_format));
  if (encoding > 3) fault("text encoding " + std::to_string(encoding));
  if (freelist_trunk > page_count_ * 4 + 64) fault("freelist trunk page " + Hex(freelist_trunk));
  if (freelist_count > page_count_ * 4 + 64) fault("freelist count " + Hex(freelist_count));
  if (largest_root > page_count_ * 4 + 64) fault("largest root page " + Hex(largest_root));
  if (head_.substr(72, 20) != std::string(20, '\0')) fault("reserved bytes 72..91 not zero");
  if (version != 0 && (version < 3000000 || version > 3999999)) {
    fault("SQLite version number " + std::to_string(version));
  }
  if (header_faults >= 2) {
    Bad(44,
        "SQLite header: " + std::to_string(header_faults) +
            " implausible fields (first: " + first_fault + ")",
        true);
  } else if (header_faults == 1) {
    Note("SQLite header: " + first_fault);
  } else {
    ++ok_;
  }

  // Page 1: the schema table's b-tree header follows the database header.
  std::string_view page1 = head_.substr(0, ps);
  auto type = static_cast<uint8_t>(page1[kHeaderSize]);
  if (type != 0x0d && type != 0x05) {
    Bad(kHeaderSize,
        "SQLite page 1: b-tree page type " + Hex(type) + " at offset 100 " +
            "(expected 0x0d or 0x05)",
        true);
    return false;
  }
  if (page1.size() < ps) {
    truncated_ = true;
    return false;
  }
  std::string why = CheckBtreePage(page1, kHeaderSize);
  ++checks_;
  if (!why.empty()) {
    Bad(kHeaderSize, "SQLite page 1 (schema): " + why);
  } else {
    ++ok_;
  }
  return true;
}

std::string PageRules::CheckRecord(std::string_view page, std::size_t pos, uint64_t payload,
                                   uint64_t max_local) const {
  std::size_t p = pos;
  auto header_size = Varint(page, p);
  if (!header_size || *header_size == 0 || *header_size > payload || *header_size > usable) {
    return "record header size out of range at " + Hex(pos);
  }
  std::size_t header_end = pos + *header_size;
  uint64_t content = 0;
  int columns = 0;
  while (p < header_end && columns < 4096) {
    auto t = Varint(page, p);
    if (!t) return "record header runs off the page at " + Hex(pos);
    auto n = SerialTypeSize(*t);
    if (!n) return "reserved serial type " + std::to_string(*t) + " at " + Hex(pos);
    content += *n;
    ++columns;
    if (content > (1ull << 32)) return "record content size implausible at " + Hex(pos);
  }
  if (p != header_end) return "record header overruns its size at " + Hex(pos);
  if (payload <= max_local && *header_size + content != payload) {
    return "record sizes disagree with the payload at " + Hex(pos);
  }
  return {};
}

std::string PageRules::CheckBtreePage(std::string_view page, std::size_t hdr) const {
  if (hdr + 8 > page.size()) return "page too short";
  auto type = static_cast<uint8_t>(page[hdr]);
  if (type != 0x02 && type != 0x05 && type != 0x0a && type != 0x0d) {
    return "page type " + Hex(type);
  }
  bool interior = type == 0x02 || type == 0x05;
  std::size_t hdr_end = hdr + (interior ? 12 : 8);
  uint32_t freeblock = *LoadBE<uint16_t>(page, hdr + 1);
  uint32_t cells = *LoadBE<uint16_t>(page, hdr + 3);
  uint32_t content = *LoadBE<uint16_t>(page, hdr + 5);
  if (content == 0) content = 65536;
  auto fragmented = static_cast<uint8_t>(page[hdr + 7]);
  if (freeblock != 0 && (freeblock < hdr_end || freeblock + 4 > usable)) {
    return "first freeblock " + Hex(freeblock) + " out of range";
  }
  if (hdr_end + 2ull * cells > content || content > std::max<uint32_t>(usable, 65536) ||
      (cells > 0 && content > usable)) {
    return std::to_string(cells) + " cells with content at " + Hex(content) + " do not fit";
  }
  if (fragmented > 60) return "fragmented byte count " + std::to_string(fragmented);
  if (interior) {
    uint32_t right = *LoadBE<uint32_t>(page, hdr + 8);
    if (right == 0 || right > page_count * 4 + 64) return "right child page " + Hex(right);
  }
  uint64_t max_local_table = usable - 35;
  uint64_t max_local_index = (static_cast<uint64_t>(usable) - 12) * 64 / 255 - 23;
  for (uint32_t i = 0; i < cells; ++i) {
    uint32_t ptr = *LoadBE<uint16_t>(page, hdr_end + 2 * i);
    if (ptr < content || ptr + 4 > usable) return "cell pointer " + Hex(ptr) + " out of range";
    if (i >= kMaxCellsChecked && i + kMaxCellsChecked < cells) continue;  // check first and last
    std::size_t p = ptr;
    if (interior) {
      uint32_t child = *LoadBE<uint32_t>(page, p);
      if (child == 0 || child > page_count * 4 + 64) return "child page " + Hex(child);
      p += 4;
      if (type == 0x05) {
        if (!Varint(page, p)) return "cell key runs off the page";
        continue;
      }
    }
    auto payload = Varint(page, p);
    if (!payload) return "cell at " + Hex(ptr) + " runs off the page";
    if (type == 0x0d && !Varint(page, p)) return "cell rowid runs off the page";
    std::string why =
        CheckRecord(page, p, *payload, type == 0x0d ? max_local_table : max_local_index);
    if (!why.empty()) return why;
  }
  return {};
}

// Freelist trunk, overflow and pointer-map pages start with a page number (or a ptrmap type);
// freelist leaves that were zeroed start with zeros.
bool SqliteCheck::PlausibleOtherPage(std::string_view page, uint64_t pgno) const {
  uint32_t first = *LoadBE<uint32_t>(page, 0);
  if (first <= page_count_) return true;
  if (autovacuum_) {
    uint64_t per_map = usable_ / 5;
    if (pgno >= 2 && (pgno - 2) % (per_map + 1) == 0) {
      auto t = static_cast<uint8_t>(page[0]);
      return t >= 1 && t <= 5 && *LoadBE<uint32_t>(page, 1) <= page_count_;
    }
  }
  return false;
}

void SqliteCheck::SamplePages() {
  uint64_t in_file = std::min<uint64_t>(page_count_, size_ / page_size_);
  if (in_file < 2) return;
  uint64_t lock_page = (1ull << 30) / page_size_ + 1;
  std::size_t budget_pages = limits::MiB / page_size_;
  std::size_t samples = std::min<uint64_t>(
      {in_file - 1, static_cast<uint64_t>(limits::kMaxSqlitePagesSampled), budget_pages});
  // Evenly spaced pages, and the pages where the analyzer's own sample blocks start (read anyway:
  // ciphertext in the middle of a database shows there first).
  std::vector<uint64_t> pages = EvenlySpaced(in_file - 1, samples);
  for (uint64_t& page : pages) page += 2;  // page 1 is checked with the header
  for (uint64_t at : SampledBlockOffsets(size_, page_size_, in_file * page_size_, page_size_)) {
    if (pages.size() >= budget_pages) break;
    pages.push_back(at / page_size_ + 1);
  }
  std::sort(pages.begin(), pages.end());
  pages.erase(std::unique(pages.begin(), pages.end()), pages.end());
  int implausible = 0, checked = 0;
  uint64_t random_page = 0;    // the first implausible page that is random bytes
  uint64_t inverted_page = 0;  // the first implausible page that inverted is a b-tree page
  std::string first_reason;
  for (uint64_t pgno : pages) {
    if (pgno < 2 || pgno > in_file || pgno == lock_page) continue;
    uint64_t offset = (pgno - 1) * page_size_;
    auto read = reader_.Read(offset, page_size_);
    if (!read.ok() || read->size() < page_size_) break;
    std::string_view page = *read;
    ++checked;
    ++checks_;
    std::string why = CheckBtreePage(page, 0);
    if (why.empty() || PlausibleOtherPage(page, pgno)) {
      ++ok_;
      continue;
    }
    ++implausible;
    if (implausible == 1) first_reason = "page " + std::to_string(pgno) + ": " + why;
    first_bad_ = std::min(first_bad_, offset);
    // Overflow, freelist and pointer-map pages start with a page number, so a page that is
    // neither a b-tree page nor that, and random throughout, is ciphertext (an application's
    // encrypted blobs sit in overflow pages).
    if (random_page == 0 && LooksRandom(page)) random_page = pgno;
    // Bit flipping (255 - b) keeps a page's statistics: inverted back, it is a b-tree page again.
    if (inverted_page == 0 && random_page == 0) {
      if (CheckBtreePage(Inverted(page), 0).empty()) inverted_page = pgno;
    }
  }
  if (random_page == 0 && inverted_page != 0) {
    Bad((inverted_page - 1) * page_size_,
        "SQLite page " + std::to_string(inverted_page) + " at " +
            Hex((inverted_page - 1) * page_size_) + " is a b-tree page inverted (255 - b) (" +
            std::to_string(implausible) + " of " + std::to_string(checked) +
            " sampled pages implausible)");
    ++bad_;  // decisive on its own
    report_.evidence = DamageEvidence::kTransformed;
    return;
  }
  if (random_page != 0) {
    Bad((random_page - 1) * page_size_, "SQLite page " + std::to_string(random_page) + " at " +
                                            Hex((random_page - 1) * page_size_) +
                                            " is random bytes (" + std::to_string(implausible) +
                                            " of " + std::to_string(checked) +
                                            " sampled pages implausible)");
    ++bad_;  // decisive on its own
    report_.evidence = DamageEvidence::kRandom;
    return;
  }
  if (implausible > 0) {
    std::string reason = "SQLite: " + std::to_string(implausible) + " of " +
                         std::to_string(checked) +
                         " sampled pages implausible (first: " + first_reason + ")";
    if (ImplausiblePagesAreDamage(implausible, checked)) {
      Bad(first_bad_, reason);
      if (implausible >= 2) ++bad_;  // decisive on its own
    } else {
      Note(reason);
    }
  } else {
    Note("SQLite: page 1 and " + std::to_string(checked) + " sampled pages plausible");
  }
}

void SqliteCheck::Decide() {
  if (fatal_ || bad_ >= 2 || (bad_ >= 1 && ok_ <= 1)) {
    report_.integrity = Integrity::kDamaged;
    if (first_bad_ < size_) report_.damaged_ranges.push_back({first_bad_, size_ - first_bad_});
    return;
  }
  report_.integrity = truncated_ ? Integrity::kTruncated : Integrity::kValid;
}

class SqliteValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "sqlite"; }
  bool Matches(std::string_view head, uint64_t /*file_size*/) const override {
    return StartsWith(head, kSqliteMagic);
  }
  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "sqlite";
    // Applications keep compressed or encrypted blobs in a database (favicons, thumbnails, secrets
    // in overflow pages): its blocks may be mostly random. The evidence is the pages' own headers,
    // which SamplePages checks where the analyzer samples.
    report.high_entropy_body = true;
    SqliteCheck(reader, report).Run();
    return report;
  }
};

bool ValidPageSize(uint64_t size) {
  return size >= 512 && size <= 65536 && (size & (size - 1)) == 0;
}

// Page copies sampled from a journal or WAL, and what they say together.
class PageSampleTally {
 public:
  // Strict: every implausible copy is damage (journal records carry checksums, which no stale or
  // legitimate record fails).
  explicit PageSampleTally(bool strict) : strict_(strict) {}
  void Ok() { ++checked_; }
  void Implausible(uint64_t offset, std::string why, std::string_view page) {
    ++checked_;
    if (implausible_++ == 0) {
      first_offset_ = offset;
      first_reason_ = std::move(why);
    }
    if (!random_seen_ && LooksRandom(page)) random_seen_ = true;
  }
  int checked() const { return checked_; }
  // Marks `report` damaged from the first implausible page on when the tally says so.
  void Conclude(FormatReport& report, std::string_view what, uint64_t file_size) const {
    const std::string summary = std::string(what) + ": " + std::to_string(checked_ - implausible_) +
                                " of " + std::to_string(checked_) + " sampled page copies valid";
    if (implausible_ == 0) {
      report.reasons.push_back(summary);
      return;
    }
    const std::string reason = summary + " (first bad: " + first_reason_ + ")";
    // A random page copy is ciphertext: stale copies and freelist pages are still pages.
    if (!strict_ && !random_seen_ && !ImplausiblePagesAreDamage(implausible_, checked_)) {
      report.reasons.push_back(reason);
      return;
    }
    MarkDamaged(report, reason, first_offset_, file_size);
    report.evidence = random_seen_ ? DamageEvidence::kRandom : DamageEvidence::kNone;
  }

 private:
  bool strict_;
  int checked_ = 0;
  int implausible_ = 0;
  bool random_seen_ = false;
  uint64_t first_offset_ = 0;
  std::string first_reason_;
};

// SQLite rollback journal (<db>-journal,
// https://www.sqlite.org/fileformat.html#the_rollback_journal): a header sector (magic, record
// count, checksum nonce, database size, sector and page size), then records of page number, the
// page before the transaction and a checksum: the nonce plus every 200th byte of the page. Written,
// synced and deleted by every write transaction in SQLite's default journal mode; its pages hold
// binary b-tree cells, which read like intermittent ciphertext to statistics alone, but ciphertext
// never matches the checksums.
constexpr std::string_view kJournalMagic("\xd9\xd5\x05\xf9\x20\xa1\x63\xd7", 8);
constexpr std::size_t kJournalHeaderBytes = 28;

uint32_t JournalChecksum(uint32_t nonce, std::string_view page) {
  uint32_t sum = nonce;
  for (std::size_t i = page.size() - 200; i > 0 && i < page.size(); i -= 200) {
    sum += static_cast<uint8_t>(page[i]);
  }
  return sum;
}

class SqliteJournalValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "sqlite-journal"; }
  bool Matches(std::string_view head, uint64_t /*file_size*/) const override {
    return StartsWith(head, kJournalMagic);
  }
  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "sqlite-journal";
    report.high_entropy_body = true;  // pages of a database: its blobs may be random
    const uint64_t size = reader.size();
    struct Segment {
      uint64_t records_at, records;
      uint32_t nonce;
    };
    std::vector<Segment> segments;
    uint32_t page_size = 0;
    uint64_t at = 0, end = 0, total = 0;
    while (segments.size() < static_cast<std::size_t>(limits::kMaxChunksWalked)) {
      auto header = reader.Read(at, kJournalHeaderBytes);
      if (!header.ok()) return report;
      if (header->size() < kJournalHeaderBytes || !StartsWith(*header, kJournalMagic)) {
        if (!segments.empty()) break;  // bytes of an earlier, longer journal
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("SQLite journal: file ends inside its header");
        return report;
      }
      const uint32_t records = *LoadBE<uint32_t>(*header, 8);
      const uint32_t nonce = *LoadBE<uint32_t>(*header, 12);
      const uint32_t sector = *LoadBE<uint32_t>(*header, 20);
      const uint32_t this_page_size = *LoadBE<uint32_t>(*header, 24);
      if (!ValidPageSize(sector) || !ValidPageSize(this_page_size) ||
          (page_size != 0 && this_page_size != page_size)) {
        MarkDamaged(report,
                    "SQLite journal header at " + Hex(at) + ": sector size " +
                        std::to_string(sector) + ", page size " + std::to_string(this_page_size),
                    at + 8, size);
        return report;
      }
      page_size = this_page_size;
      const uint64_t record_bytes = page_size + 8ull;
      const uint64_t records_at = at + sector;
      const uint64_t fit = size > records_at ? (size - records_at) / record_bytes : 0;
      // 0 (not yet synced) and 0xffffffff (no-sync journals) mean: records to the end of file.
      uint64_t count = records == 0 || records == 0xffffffffu ? fit : records;
      if (count > fit) {
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("SQLite journal: " + std::to_string(count) +
                                 " records announced, " + std::to_string(fit) + " in the file");
        count = fit;
      }
      segments.push_back({records_at, count, nonce});
      total += count;
      end = records_at + count * record_bytes;
      if (count == fit) break;
      at = (end + sector - 1) / sector * sector;  // a later header starts on a sector boundary
    }
    if (end == size) report.structure_end = end;
    const uint64_t record_bytes = page_size + 8ull;
    const std::size_t budget = std::max<std::size_t>(1, limits::MiB / record_bytes);
    PageSampleTally tally(/*strict=*/true);
    for (uint64_t index :
         EvenlySpaced(total, std::min<std::size_t>(budget, limits::kMaxSqlitePagesSampled))) {
      const Segment* segment = segments.data();
      while (index >= segment->records) index -= (segment++)->records;
      const uint64_t offset = segment->records_at + index * record_bytes;
      auto record = reader.Read(offset, record_bytes);
      if (!record.ok() || record->size() < record_bytes) break;
      const uint32_t pgno = *LoadBE<uint32_t>(*record, 0);
      const std::string_view page = record->substr(4, page_size);
      const uint32_t stored = *LoadBE<uint32_t>(*record, 4 + page_size);
      if (pgno == 0) {
        tally.Implausible(offset, "record at " + Hex(offset) + ": page number 0", page);
      } else if (JournalChecksum(segment->nonce, page) != stored) {
        tally.Implausible(offset, "record at " + Hex(offset) + ": checksum mismatch", page);
      } else {
        tally.Ok();
      }
    }
    if (tally.checked() == 0 && report.integrity != Integrity::kTruncated) {
      report.reasons.push_back("SQLite journal: header only (no page records)");
      return report;
    }
    tally.Conclude(report, "SQLite journal", size);
    return report;
  }
};

// SQLite write-ahead log (<db>-wal, https://www.sqlite.org/fileformat.html#the_write_ahead_log):
// a 32-byte header (magic, version, page size, salts, checksum), then frames of a 24-byte header
// (page number, commit size, salts, cumulative checksum) and a page. The header checksum, the
// checksum chain of the frames in the head, and the sampled frames' pages are checked; frames
// whose salts differ are stale ones of an earlier generation, legitimately left behind.
constexpr std::size_t kWalHeaderBytes = 32;
constexpr std::size_t kWalFrameHeaderBytes = 24;

struct WalChecksum {
  uint32_t s0 = 0, s1 = 0;
  // SQLite's checksum over 32-bit words, big-endian when the magic's low bit says so.
  void Add(std::string_view bytes, bool big_endian) {
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      const uint32_t x0 = big_endian ? *LoadBE<uint32_t>(bytes, i) : *LoadLE<uint32_t>(bytes, i);
      const uint32_t x1 =
          big_endian ? *LoadBE<uint32_t>(bytes, i + 4) : *LoadLE<uint32_t>(bytes, i + 4);
      s0 += x0 + s1;
      s1 += x1 + s0;
    }
  }
};

class SqliteWalValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "sqlite-wal"; }
  bool Matches(std::string_view head, uint64_t /*file_size*/) const override {
    auto magic = LoadBE<uint32_t>(head, 0);
    return magic && (*magic == 0x377f0682u || *magic == 0x377f0683u);
  }
  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "sqlite-wal";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto header_or = reader.Read(0, kWalHeaderBytes);
    if (!header_or.ok()) return report;
    const std::string_view header = *header_or;
    if (header.size() < kWalHeaderBytes) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("SQLite WAL: file ends inside its header");
      return report;
    }
    const bool big_endian = (*LoadBE<uint32_t>(header, 0) & 1) != 0;
    const uint32_t page_size = *LoadBE<uint32_t>(header, 8);
    WalChecksum sum;
    sum.Add(header.substr(0, 24), big_endian);
    if (*LoadBE<uint32_t>(header, 4) != 3007000 || !ValidPageSize(page_size) ||
        sum.s0 != *LoadBE<uint32_t>(header, 24) || sum.s1 != *LoadBE<uint32_t>(header, 28)) {
      MarkDamaged(report, "SQLite WAL header: version, page size or checksum wrong", 4, size);
      return report;
    }
    const std::string_view salts = header.substr(16, 8);
    const uint64_t frame_bytes = kWalFrameHeaderBytes + page_size;
    const uint64_t frames = (size - kWalHeaderBytes) / frame_bytes;
    if (kWalHeaderBytes + frames * frame_bytes == size) report.structure_end = size;
    if (frames == 0) {
      report.reasons.push_back("SQLite WAL: header only (no frames)");
      return report;
    }
    // The checksum chain over the frames of the head: current frames must continue it.
    uint64_t chained = 0, random_chained = 0;
    const uint64_t head_frames =
        std::max<uint64_t>(1, std::min<uint64_t>(frames, limits::kHeadBytes / frame_bytes));
    for (; chained < head_frames; ++chained) {
      auto frame = reader.Read(kWalHeaderBytes + chained * frame_bytes, frame_bytes);
      if (!frame.ok() || frame->size() < frame_bytes) break;
      if (frame->substr(8, 8) != salts) break;  // stale: an earlier generation's frames
      sum.Add(frame->substr(0, 8), big_endian);
      sum.Add(frame->substr(kWalFrameHeaderBytes), big_endian);
      if (sum.s0 != *LoadBE<uint32_t>(*frame, 16) || sum.s1 != *LoadBE<uint32_t>(*frame, 20)) {
        break;
      }
      if (LooksRandom(frame->substr(kWalFrameHeaderBytes))) ++random_chained;
    }
    // Pages that are random under valid checksums: an encrypted database's log (SQLCipher writes
    // its pages encrypted, the log's own headers in the clear). Its other pages say nothing.
    const bool encrypted_pages = random_chained * 2 > chained;
    PageSampleTally tally(/*strict=*/false);
    const std::size_t budget = std::max<std::size_t>(1, limits::MiB / frame_bytes);
    for (uint64_t index :
         EvenlySpaced(frames, std::min<std::size_t>(budget, limits::kMaxSqlitePagesSampled))) {
      if (index < chained) {
        tally.Ok();  // its checksum matched
        continue;
      }
      const uint64_t offset = kWalHeaderBytes + index * frame_bytes;
      auto frame = reader.Read(offset, frame_bytes);
      if (!frame.ok() || frame->size() < frame_bytes) break;
      CheckFramePage(*frame, offset, encrypted_pages, tally);
    }
    if (chained > 0) {
      report.reasons.push_back("SQLite WAL: checksums of the first " + std::to_string(chained) +
                               " frames chain" +
                               (encrypted_pages ? " over encrypted pages (SQLCipher-like)" : ""));
    }
    tally.Conclude(report, "SQLite WAL", size);
    return report;
  }

 private:
  // A frame outside the checked chain: a page number, and (unless the pages are encrypted) a page
  // that is a b-tree page or starts with a page number (overflow, freelist trunk).
  static void CheckFramePage(std::string_view frame, uint64_t offset, bool encrypted_pages,
                             PageSampleTally& tally) {
    const uint32_t pgno = *LoadBE<uint32_t>(frame, 0);
    const std::string_view page = frame.substr(kWalFrameHeaderBytes);
    constexpr uint32_t kMaxPlausiblePage = 1u << 28;
    if (pgno == 0 || pgno > kMaxPlausiblePage) {
      tally.Implausible(offset, "frame at " + Hex(offset) + ": page number " + Hex(pgno), page);
      return;
    }
    if (encrypted_pages) {
      tally.Ok();
      return;
    }
    const PageRules rules{static_cast<uint32_t>(page.size()), kMaxPlausiblePage};
    const std::string why = rules.CheckBtreePage(page, pgno == 1 ? kHeaderSize : 0);
    if (why.empty() || *LoadBE<uint32_t>(page, 0) <= kMaxPlausiblePage) {
      tally.Ok();
      return;
    }
    tally.Implausible(offset, "frame at " + Hex(offset) + ": " + why, page);
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeSqliteValidator() {
  return std::make_unique<SqliteValidator>();
}

std::unique_ptr<const FormatValidator> MakeSqliteJournalValidator() {
  return std::make_unique<SqliteJournalValidator>();
}

std::unique_ptr<const FormatValidator> MakeSqliteWalValidator() {
  return std::make_unique<SqliteWalValidator>();
}

}  // namespace steen::content
