// SQLite 3 database validator. The file is an array of pages; b-tree pages start with a small
// header (type, freeblock, cell count, cell content start) and cell pointers, which random bytes
// satisfy essentially never. Freelist, overflow and pointer-map pages start with page numbers,
// which are small. So sampling pages and counting the implausible ones tells an intact database
// from one whose body was encrypted, even intermittently.
#include "content/formats/sqlite_format.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

constexpr std::string_view kSqliteMagic("SQLite format 3\0", 16);
constexpr std::size_t kHeaderSize = 100;
constexpr std::size_t kMaxCellsChecked = 4;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

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
  // Empty string when the b-tree page at `page` (header at hdr) is plausible, else why not.
  std::string CheckBtreePage(std::string_view page, std::size_t hdr) const;
  std::string CheckRecord(std::string_view page, std::size_t pos, uint64_t payload,
                          uint64_t max_local) const;
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

std::string SqliteCheck::CheckRecord(std::string_view page, std::size_t pos, uint64_t payload,
                                     uint64_t max_local) const {
  std::size_t p = pos;
  auto header_size = Varint(page, p);
  if (!header_size || *header_size == 0 || *header_size > payload || *header_size > usable_) {
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

std::string SqliteCheck::CheckBtreePage(std::string_view page, std::size_t hdr) const {
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
  if (freeblock != 0 && (freeblock < hdr_end || freeblock + 4 > usable_)) {
    return "first freeblock " + Hex(freeblock) + " out of range";
  }
  if (hdr_end + 2ull * cells > content || content > std::max<uint32_t>(usable_, 65536) ||
      (cells > 0 && content > usable_)) {
    return std::to_string(cells) + " cells with content at " + Hex(content) + " do not fit";
  }
  if (fragmented > 60) return "fragmented byte count " + std::to_string(fragmented);
  if (interior) {
    uint32_t right = *LoadBE<uint32_t>(page, hdr + 8);
    if (right == 0 || right > page_count_ * 4 + 64) return "right child page " + Hex(right);
  }
  uint64_t max_local_table = usable_ - 35;
  uint64_t max_local_index = (static_cast<uint64_t>(usable_) - 12) * 64 / 255 - 23;
  for (uint32_t i = 0; i < cells; ++i) {
    uint32_t ptr = *LoadBE<uint16_t>(page, hdr_end + 2 * i);
    if (ptr < content || ptr + 4 > usable_) return "cell pointer " + Hex(ptr) + " out of range";
    if (i >= kMaxCellsChecked && i + kMaxCellsChecked < cells) continue;  // check first and last
    std::size_t p = ptr;
    if (interior) {
      uint32_t child = *LoadBE<uint32_t>(page, p);
      if (child == 0 || child > page_count_ * 4 + 64) return "child page " + Hex(child);
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
  std::vector<uint64_t> pages;
  for (std::size_t s = 0; s < samples; ++s) {
    pages.push_back(samples == 1 ? 2 : 2 + s * (in_file - 2) / (samples - 1));
  }
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
    // Random pages are implausible nearly always; intact databases have at most an odd stale
    // freelist page.
    if (implausible >= 2 && implausible * 8 >= checked) {
      Bad(first_bad_, reason);
      ++bad_;  // decisive on its own
    } else if (implausible >= 1 && checked <= 2) {
      Bad(first_bad_, reason);
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

}  // namespace

std::unique_ptr<const FormatValidator> MakeSqliteValidator() {
  return std::make_unique<SqliteValidator>();
}

}  // namespace steen::content
