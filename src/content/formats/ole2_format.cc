// OLE2 / Compound File Binary validator (doc, xls, ppt, msg, msi, ...). The header, the FAT and the
// directory are structured data: a random sector where the FAT or directory should be is evidence
// of damage. Embedded images and compressed streams may look random, so stream contents are judged
// only through their well-known first bytes.
#include "content/formats/ole2_format.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

constexpr std::string_view kOle2Magic("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
constexpr uint32_t kMaxRegSect = 0xFFFFFFFA;
constexpr uint32_t kDifSect = 0xFFFFFFFC;
constexpr uint32_t kFatSect = 0xFFFFFFFD;
constexpr uint32_t kEndOfChain = 0xFFFFFFFE;
constexpr uint32_t kFreeSect = 0xFFFFFFFF;
constexpr uint32_t kNoStream = 0xFFFFFFFF;
constexpr std::size_t kHeaderSize = 512;
constexpr std::size_t kDirEntrySize = 128;
// Malformed directory entries side by side whose bytes, tested together, must look random for
// the directory to count as overwritten by ciphertext (512 bytes: one v3 sector).
constexpr std::size_t kRandomRunEntries = 4;
constexpr int kHeaderDifatEntries = 109;
// Bytes of DIFAT or directory chain read (each), well inside limits::kAnalysisReadBudget.
constexpr uint64_t kMaxChainBytes = 512 * limits::KiB;

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct DirEntry {
  std::string name;  // ASCII rendering of the UTF-16 name ('?' for other characters)
  uint8_t type = 0;
  uint32_t left = kNoStream, right = kNoStream, child = kNoStream;
  uint32_t start = 0;
  uint64_t size = 0;
  std::string_view clsid;
};

class Ole2Check {
 public:
  Ole2Check(Reader& reader, FormatReport& report) : reader_(reader), report_(report) {}
  void Run();

 private:
  std::string_view Sector(uint32_t n) {
    auto r = reader_.Read((static_cast<uint64_t>(n) + 1) * sector_size_, sector_size_);
    return r.ok() ? *r : std::string_view();
  }
  uint64_t SectorOffset(uint32_t n) const { return (static_cast<uint64_t>(n) + 1) * sector_size_; }
  void Bad(uint64_t offset, std::string reason, bool fatal = false) {
    ++bad_;
    fatal_ = fatal_ || fatal;
    first_bad_ = std::min(first_bad_, offset);
    if (report_.reasons.size() < 12) report_.reasons.push_back(std::move(reason));
  }
  // What bytes found where structure must be are. Random bytes there are ciphertext: real
  // writers leave stale or zeroed sectors, never random ones.
  std::string Describe(std::string_view s) {
    if (s.size() >= 32 && ShortSpanLooksRandom(s)) {
      random_where_structure_ = true;
      return "random bytes";
    }
    if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c == 0; })) {
      return "zero bytes";
    }
    return "unexpected bytes";
  }
  // The reason's tail for a run of malformed directory entries that are random bytes (and the
  // evidence it is); empty without one.
  std::string RandomRunText(std::optional<uint64_t> run_offset) {
    if (!run_offset) return "";
    random_where_structure_ = true;
    return "; " + std::to_string(kRandomRunEntries) + " side by side are random bytes, at " +
           Hex(*run_offset);
  }
  void Note(std::string reason) {
    if (report_.reasons.size() < 12) report_.reasons.push_back(std::move(reason));
  }
  // A sector number that should address a sector of this file: fine, beyond the end by a
  // plausible amount (truncation), or wild (random bytes).
  enum class SectorRef { kInFile, kBeyondEnd, kWild };
  SectorRef Classify(uint32_t n) const {
    if (n < sector_count_) return SectorRef::kInFile;
    if (n < kMaxRegSect && n <= sector_count_ * 4 + 64) return SectorRef::kBeyondEnd;
    return SectorRef::kWild;
  }
  // Entries of a FAT sector that point nowhere a sector can be (`wild`), or beyond the end of the
  // file by a plausible amount (`beyond`); DIFSECT, FATSECT, ENDOFCHAIN and FREESECT aside.
  struct FatEntryCounts {
    uint32_t wild = 0;
    uint32_t beyond = 0;
  };
  FatEntryCounts CountFatEntries(std::string_view sec, uint32_t per) const {
    FatEntryCounts counts;
    for (uint32_t k = 0; k < per; ++k) {
      const uint32_t v = LoadLE<uint32_t>(sec, 4 * k).value_or(0);
      if (v >= kDifSect) continue;
      const SectorRef ref = Classify(v);
      if (ref == SectorRef::kWild) ++counts.wild;
      if (ref == SectorRef::kBeyondEnd) ++counts.beyond;
    }
    return counts;
  }
  // Reports a sector reference that is not in the file; returns true when it is.
  bool CheckRef(uint32_t n, uint64_t field_offset, const std::string& what) {
    switch (Classify(n)) {
      case SectorRef::kInFile:
        return true;
      case SectorRef::kBeyondEnd:
        truncated_ = true;
        Note("OLE2 " + what + " is sector " + std::to_string(n) + ", beyond the end of the file");
        return false;
      case SectorRef::kWild:
        Bad(field_offset, "OLE2 " + what + " is sector " + Hex(n) + ", out of range (file has " +
                              std::to_string(sector_count_) + " sectors)");
        return false;
    }
    return false;
  }
  bool CheckHeader();
  void CollectFatSectors();
  void SampleFat();
  std::optional<uint32_t> FatEntry(uint32_t sector);
  void ReadDirectory();
  std::optional<DirEntry> ParseEntry(std::string_view e, uint64_t offset, bool* invalid);
  void NameFormat();
  void CheckStreamMagic(const DirEntry& entry, std::string_view what, std::string_view magic);
  void ComputeEnd();
  void Decide();

  Reader& reader_;
  FormatReport& report_;
  std::string_view header_;
  uint64_t size_ = 0;
  uint32_t sector_size_ = 512;
  uint32_t sector_count_ = 0;
  uint32_t num_fat_ = 0;
  uint32_t first_dir_ = 0;
  uint32_t mini_cutoff_ = 4096;
  std::vector<uint32_t> fat_sectors_;  // FAT sector numbers (from the DIFAT), as far as known
  std::vector<DirEntry> dir_;
  bool dir_complete_ = false;
  int ok_ = 0, bad_ = 0;
  bool fatal_ = false, truncated_ = false, encrypted_ = false;
  bool random_where_structure_ = false;  // a Bad() found random bytes where structure must be
  bool inverted_structure_ = false;      // ... or valid structure bit-flipped (255 - b)
  uint64_t first_bad_ = UINT64_MAX;
};

void Ole2Check::Run() {
  size_ = reader_.size();
  auto head = reader_.Read(0, limits::kHeadBytes);
  if (!head.ok()) return;
  header_ = *head;
  if (header_.size() < kHeaderSize) {
    report_.integrity = Integrity::kTruncated;
    report_.reasons.push_back("OLE2 file shorter than its 512-byte header");
    return;
  }
  if (!CheckHeader()) {
    Decide();
    return;
  }
  CollectFatSectors();
  SampleFat();
  ReadDirectory();
  NameFormat();
  ComputeEnd();
  Decide();
}

bool Ole2Check::CheckHeader() {
  uint16_t minor = *LoadLE<uint16_t>(header_, 24);
  uint16_t major = *LoadLE<uint16_t>(header_, 26);
  uint16_t byte_order = *LoadLE<uint16_t>(header_, 28);
  uint16_t sector_shift = *LoadLE<uint16_t>(header_, 30);
  uint16_t mini_shift = *LoadLE<uint16_t>(header_, 32);
  (void)minor;
  if (byte_order != 0xFFFE) {
    Bad(28, "OLE2 header: byte order " + Hex(byte_order) + " (expected 0xfffe)", true);
  }
  if (sector_shift != 9 && sector_shift != 12) {
    Bad(30, "OLE2 header: sector shift " + std::to_string(sector_shift) + " (expected 9 or 12)",
        true);
  }
  if (mini_shift != 6) {
    Bad(32, "OLE2 header: mini sector shift " + std::to_string(mini_shift) + " (expected 6)", true);
  }
  if (major != 3 && major != 4) Note("OLE2 header: unusual major version " + std::to_string(major));
  if (fatal_) return false;
  ++ok_;
  sector_size_ = 1u << sector_shift;
  uint64_t sectors =
      size_ > sector_size_ ? (size_ - sector_size_ + sector_size_ - 1) / sector_size_ : 0;
  sector_count_ = static_cast<uint32_t>(std::min<uint64_t>(sectors, kMaxRegSect - 1));
  num_fat_ = *LoadLE<uint32_t>(header_, 44);
  first_dir_ = *LoadLE<uint32_t>(header_, 48);
  mini_cutoff_ = *LoadLE<uint32_t>(header_, 56);
  if (sector_count_ == 0) {
    truncated_ = true;
    Note("OLE2 file ends after its header");
    return false;
  }
  if (num_fat_ == 0) {
    Bad(44, "OLE2 header: no FAT sectors", true);
    return false;
  }
  if (num_fat_ > sector_count_) {
    // More FAT sectors than the file has sectors: wildly so means random bytes.
    if (num_fat_ <= sector_count_ * 4 + 64) {
      truncated_ = true;
      Note("OLE2 header lists " + std::to_string(num_fat_) + " FAT sectors; file too short");
    } else {
      Bad(44,
          "OLE2 header: FAT sector count " + Hex(num_fat_) + " exceeds the file's " +
              std::to_string(sector_count_) + " sectors",
          true);
      return false;
    }
  }
  CheckRef(first_dir_, 48, "first directory sector");
  if (mini_cutoff_ != 4096) Note("OLE2 header: unusual mini stream cutoff");
  return true;
}

void Ole2Check::CollectFatSectors() {
  uint32_t listed = std::min<uint32_t>(num_fat_, kHeaderDifatEntries);
  int wild = 0;
  for (uint32_t i = 0; i < listed; ++i) {
    uint32_t s = *LoadLE<uint32_t>(header_, 76 + 4 * i);
    fat_sectors_.push_back(s);
    if (Classify(s) == SectorRef::kWild) ++wild;
  }
  // Unused header DIFAT slots are FREESECT in every writer we know; random bytes are not.
  int dirty = 0;
  for (uint32_t i = listed; i < kHeaderDifatEntries; ++i) {
    uint32_t s = *LoadLE<uint32_t>(header_, 76 + 4 * i);
    if (s != kFreeSect && Classify(s) == SectorRef::kWild) ++dirty;
  }
  if (wild > 0) {
    Bad(76,
        "OLE2 header DIFAT: " + std::to_string(wild) + " of " + std::to_string(listed) +
            " FAT sector numbers out of range",
        wild * 4 >= static_cast<int>(listed));
  } else if (listed > 0) {
    ++ok_;
  }
  if (dirty > 2) Bad(76 + 4 * listed, "OLE2 header DIFAT: unused slots hold random values");

  // Further FAT sector numbers come from the DIFAT sector chain.
  uint32_t difat = *LoadLE<uint32_t>(header_, 68);
  uint32_t num_difat = *LoadLE<uint32_t>(header_, 72);
  if (num_fat_ <= kHeaderDifatEntries) return;
  std::set<uint32_t> seen;
  uint32_t per = sector_size_ / 4 - 1;
  // Bounded by count and bytes (4 KiB sectors would otherwise eat the read budget).
  for (int i = 0; i < limits::kMaxOle2DifatSectors && fat_sectors_.size() < num_fat_ &&
                  static_cast<uint64_t>(i) * sector_size_ < kMaxChainBytes;
       ++i) {
    if (difat == kEndOfChain || difat == kFreeSect) break;
    if (!CheckRef(difat, 68, "DIFAT sector") || !seen.insert(difat).second) break;
    std::string_view sec = Sector(difat);
    if (sec.size() < sector_size_) break;
    for (uint32_t k = 0; k < per && fat_sectors_.size() < num_fat_; ++k) {
      fat_sectors_.push_back(*LoadLE<uint32_t>(sec, 4 * k));
    }
    difat = *LoadLE<uint32_t>(sec, 4 * per);
  }
  if (num_difat == 0) Note("OLE2 header: DIFAT sector count is 0 but more than 109 FAT sectors");
}

std::optional<uint32_t> Ole2Check::FatEntry(uint32_t sector) {
  uint32_t per = sector_size_ / 4;
  uint32_t index = sector / per;
  if (index >= fat_sectors_.size()) return std::nullopt;
  uint32_t fat_sector = fat_sectors_[index];
  if (fat_sector >= sector_count_) return std::nullopt;
  std::string_view sec = Sector(fat_sector);
  return LoadLE<uint32_t>(sec, 4 * (sector % per));
}

void Ole2Check::SampleFat() {
  uint32_t per = sector_size_ / 4;
  for (uint64_t idx : EvenlySpaced(fat_sectors_.size(), limits::kMaxOle2FatSectorsSampled)) {
    uint32_t fs = fat_sectors_[idx];
    if (Classify(fs) != SectorRef::kInFile) continue;  // already reported
    std::string_view sec = Sector(fs);
    if (sec.size() < sector_size_) {
      truncated_ = true;
      continue;
    }
    const auto [wild, beyond] = CountFatEntries(sec, per);
    if (wild * 8 > per) {
      const bool inverted = CountFatEntries(Inverted(sec), per).wild == 0;
      inverted_structure_ = inverted_structure_ || inverted;
      Bad(SectorOffset(fs), "OLE2 FAT sector " + std::to_string(fs) + " at " +
                                Hex(SectorOffset(fs)) + ": " + std::to_string(wild) + " of " +
                                std::to_string(per) + " entries out of range (" +
                                (inverted ? std::string("a valid FAT sector inverted (255 - b)")
                                          : Describe(sec.substr(0, 256))) +
                                ")");
    } else {
      ++ok_;
      if (beyond > 0) {
        truncated_ = true;
        Note("OLE2 FAT sector " + std::to_string(fs) + " chains into sectors beyond the end");
      }
    }
    // A FAT sector marks itself FATSECT (when its own entry is in a FAT sector we can read).
    auto self = FatEntry(fs);
    if (self && *self != kFatSect && wild * 8 <= per) {
      Note("OLE2 FAT sector " + std::to_string(fs) + " is not marked FATSECT");
    }
  }
}

std::optional<DirEntry> Ole2Check::ParseEntry(std::string_view e, uint64_t offset, bool* invalid) {
  *invalid = false;
  DirEntry d;
  d.type = static_cast<uint8_t>(e[66]);
  uint8_t colour = static_cast<uint8_t>(e[67]);
  if (d.type == 0) return std::nullopt;  // unused slot
  uint16_t name_len = *LoadLE<uint16_t>(e, 64);
  bool ok = d.type <= 5 && colour <= 1 && name_len <= 64 && name_len % 2 == 0 && name_len >= 2;
  if (ok) {
    // UTF-16 name: NUL-terminated at name_len, no NUL before.
    for (uint16_t i = 0; i + 2 < name_len; i += 2) {
      uint16_t ch = *LoadLE<uint16_t>(e, i);
      if (ch == 0) ok = false;
      d.name.push_back(ch < 0x80 ? static_cast<char>(ch) : '?');
    }
    if (*LoadLE<uint16_t>(e, name_len - 2) != 0) ok = false;
  }
  d.left = *LoadLE<uint32_t>(e, 68);
  d.right = *LoadLE<uint32_t>(e, 72);
  d.child = *LoadLE<uint32_t>(e, 76);
  d.clsid = e.substr(80, 16);
  d.start = *LoadLE<uint32_t>(e, 116);
  d.size = *LoadLE<uint32_t>(e, 120);
  if (sector_size_ == 4096) d.size |= static_cast<uint64_t>(*LoadLE<uint32_t>(e, 124)) << 32;
  (void)offset;
  if (!ok) {
    *invalid = true;
    return std::nullopt;
  }
  return d;
}

void Ole2Check::ReadDirectory() {
  if (Classify(first_dir_) != SectorRef::kInFile) return;
  std::set<uint32_t> seen;
  uint32_t sector = first_dir_;
  int invalid = 0, valid = 0;
  uint64_t first_invalid = UINT64_MAX;
  std::string first_invalid_bytes;
  uint32_t slots = 0;
  // Malformed entries side by side: a few are stale slots some writers leave; a run of them whose
  // bytes are random is ciphertext over the directory (a file's encrypted tail often holds it),
  // however many valid entries the rest of the directory keeps.
  std::string malformed_run;
  uint64_t malformed_run_offset = 0;
  std::optional<uint64_t> random_run_offset;
  for (int i = 0; i < limits::kMaxOle2DirectorySectors &&
                  static_cast<uint64_t>(i) * sector_size_ < kMaxChainBytes;
       ++i) {
    if (!seen.insert(sector).second) {
      Bad(SectorOffset(sector), "OLE2 directory chain loops at sector " + std::to_string(sector));
      break;
    }
    std::string_view sec = Sector(sector);
    if (sec.size() < sector_size_) {
      truncated_ = true;
      break;
    }
    for (uint32_t k = 0; k < sector_size_ / kDirEntrySize; ++k, ++slots) {
      uint64_t offset = SectorOffset(sector) + k * kDirEntrySize;
      bool bad_entry = false;
      auto d = ParseEntry(sec.substr(k * kDirEntrySize, kDirEntrySize), offset, &bad_entry);
      if (bad_entry) {
        ++invalid;
        if (offset < first_invalid) {
          first_invalid = offset;
          first_invalid_bytes = std::string(sec.substr(k * kDirEntrySize, kDirEntrySize));
        }
        if (malformed_run.empty()) malformed_run_offset = offset;
        malformed_run.append(sec.substr(k * kDirEntrySize, kDirEntrySize));
        if (malformed_run.size() == kRandomRunEntries * kDirEntrySize && !random_run_offset &&
            ShortSpanLooksRandom(malformed_run)) {
          random_run_offset = malformed_run_offset;
        }
      } else {
        malformed_run.clear();
      }
      if (d) ++valid;
      dir_.push_back(d.value_or(DirEntry{}));
    }
    auto next = FatEntry(sector);
    if (!next) break;  // FAT sector unknown: stop quietly
    if (*next == kEndOfChain) {
      dir_complete_ = true;
      break;
    }
    if (!CheckRef(*next, SectorOffset(sector), "directory chain link")) break;
    sector = *next;
  }
  if (dir_.empty()) return;
  if (dir_[0].type != 5) {
    std::string_view root = Sector(first_dir_).substr(0, kDirEntrySize);
    bool unused = false;
    const auto back = ParseEntry(Inverted(root), SectorOffset(first_dir_), &unused);
    const bool inverted = back && back->type == 5;
    inverted_structure_ = inverted_structure_ || inverted;
    Bad(SectorOffset(first_dir_),
        "OLE2 root directory entry at " + Hex(SectorOffset(first_dir_)) + " is not a root entry (" +
            (inverted ? std::string("a root entry inverted (255 - b)") : Describe(root)) + ")");
  } else {
    ++ok_;
  }
  if (invalid > 0 && invalid * 4 >= invalid + valid) {
    bool unused = false;
    const bool inverted =
        ParseEntry(Inverted(first_invalid_bytes), first_invalid, &unused).has_value() && !unused;
    inverted_structure_ = inverted_structure_ || inverted;
    Bad(first_invalid, "OLE2 directory: " + std::to_string(invalid) + " of " +
                           std::to_string(invalid + valid) + " entries malformed, first at " +
                           Hex(first_invalid) + " (" +
                           (inverted ? std::string("a valid entry inverted (255 - b)")
                                     : Describe(first_invalid_bytes)) +
                           ")" + RandomRunText(random_run_offset));
  } else if (random_run_offset) {
    Bad(*random_run_offset, "OLE2 directory: " + std::to_string(invalid) + " of " +
                                std::to_string(invalid + valid) + " entries malformed" +
                                RandomRunText(random_run_offset));
  } else if (invalid > 0) {
    Note("OLE2 directory: " + std::to_string(invalid) + " malformed entries");
  } else {
    ++ok_;
  }
  // Sibling / child links must stay inside the directory.
  if (dir_complete_) {
    int wild_links = 0;
    for (const DirEntry& d : dir_) {
      if (d.type == 0) continue;
      for (uint32_t link : {d.left, d.right, d.child}) {
        if (link != kNoStream && link >= dir_.size()) ++wild_links;
      }
    }
    if (wild_links > 0 && wild_links * 4 >= valid) {
      Bad(SectorOffset(first_dir_),
          "OLE2 directory: " + std::to_string(wild_links) + " tree links point outside it");
    }
  }
}

void Ole2Check::CheckStreamMagic(const DirEntry& entry, std::string_view what,
                                 std::string_view magic) {
  if (entry.size < mini_cutoff_ || entry.size < magic.size()) return;  // in the mini stream
  if (Classify(entry.start) != SectorRef::kInFile) {
    CheckRef(entry.start, SectorOffset(first_dir_), std::string(what) + " stream start");
    return;
  }
  std::string_view first = Sector(entry.start);
  if (HasAt(first, 0, magic)) {
    ++ok_;
    return;
  }
  Bad(SectorOffset(entry.start), "OLE2 " + std::string(what) + " stream at " +
                                     Hex(SectorOffset(entry.start)) + " lacks its signature (" +
                                     Describe(first.substr(0, 64)) + ")");
}

void Ole2Check::NameFormat() {
  report_.format = "ole2";
  if (dir_.empty() || dir_[0].type != 5) return;
  static constexpr std::string_view kMsiClsid(
      "\x84\x10\x0C\x00\x00\x00\x00\x00\xC0\x00\x00\x00"
      "\x00\x00\x00\x46",
      16);
  if (dir_[0].clsid == kMsiClsid) {
    report_.format = "msi";
    report_.high_entropy_body = true;  // mostly compressed cabinets
  }
  // Walk the root's children (a red-black tree of siblings), bounded and loop-safe.
  std::vector<uint32_t> stack{dir_[0].child};
  std::vector<bool> visited(dir_.size(), false);
  const DirEntry* word = nullptr;
  const DirEntry* workbook = nullptr;
  bool ppt = false, msg = false, enc_info = false, enc_package = false;
  for (int guard = 0; !stack.empty() && guard < limits::kMaxChunksWalked; ++guard) {
    uint32_t id = stack.back();
    stack.pop_back();
    if (id == kNoStream || id >= dir_.size() || visited[id]) continue;
    visited[id] = true;
    const DirEntry& d = dir_[id];
    if (d.type == 0) continue;
    if (d.name == "WordDocument") word = &d;
    if (d.name == "Workbook" || d.name == "Book") workbook = &d;
    if (d.name == "PowerPoint Document") ppt = true;
    if (d.name.rfind("__substg1.0_", 0) == 0) msg = true;
    if (d.name == "EncryptionInfo") enc_info = true;
    if (d.name == "EncryptedPackage") enc_package = true;
    stack.push_back(d.left);
    stack.push_back(d.right);
  }
  if (word) {
    report_.format = "doc";
    CheckStreamMagic(*word, "WordDocument", std::string_view("\xEC\xA5", 2));
  } else if (workbook) {
    report_.format = "xls";
    CheckStreamMagic(*workbook, "Workbook", std::string_view("\x09\x08", 2));
  } else if (ppt) {
    report_.format = "ppt";
  } else if (msg) {
    report_.format = "msg";
  }
  encrypted_ = enc_info && enc_package;
}

// The last sector the FAT marks as used ends the structure (writers do not leave free sectors at
// the end, so bytes after it are appended data).
void Ole2Check::ComputeEnd() {
  if (fat_sectors_.size() != num_fat_ || bad_ > 0) return;
  uint32_t per = sector_size_ / 4;
  for (int tries = 0, i = static_cast<int>(fat_sectors_.size()) - 1; i >= 0 && tries < 8;
       --i, ++tries) {
    uint32_t fs = fat_sectors_[i];
    if (fs >= sector_count_) return;
    std::string_view sec = Sector(fs);
    if (sec.size() < sector_size_) return;
    for (int k = static_cast<int>(per) - 1; k >= 0; --k) {
      if (*LoadLE<uint32_t>(sec, 4 * k) == kFreeSect) continue;
      uint64_t last_used = static_cast<uint64_t>(i) * per + k;
      uint64_t end = (last_used + 2) * sector_size_;
      if (end > size_ + sector_size_) {
        truncated_ = true;
        Note("OLE2 FAT uses sector " + std::to_string(last_used) + " beyond the end of the file");
        report_.structure_end = 0;
      } else {
        report_.structure_end = std::min<uint64_t>(end, size_);
      }
      return;
    }
  }
}

void Ole2Check::Decide() {
  if (report_.format.empty()) report_.format = "ole2";
  if (fatal_ || bad_ >= 2 ||
      (bad_ >= 1 && (ok_ <= 1 || random_where_structure_ || inverted_structure_))) {
    report_.integrity = Integrity::kDamaged;
    if (random_where_structure_) report_.evidence = DamageEvidence::kRandom;
    if (inverted_structure_) report_.evidence = DamageEvidence::kTransformed;
    if (first_bad_ < size_) report_.damaged_ranges.push_back({first_bad_, size_ - first_bad_});
    return;
  }
  if (truncated_) {
    report_.integrity = Integrity::kTruncated;
    return;
  }
  if (encrypted_) {
    report_.integrity = Integrity::kEncryptedContainer;
    report_.reasons.push_back(
        "OLE2 holds an encrypted Office package (EncryptionInfo + EncryptedPackage)");
    return;
  }
  report_.integrity = Integrity::kValid;
  Note("OLE2: header, " + std::to_string(fat_sectors_.size()) + " FAT sectors listed, " +
       std::to_string(dir_.size()) + " directory entries checked");
}

class Ole2Validator final : public FormatValidator {
 public:
  std::string_view name() const override { return "ole2"; }
  bool Matches(std::string_view head, uint64_t /*file_size*/) const override {
    return StartsWith(head, kOle2Magic);
  }
  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "ole2";
    report.high_entropy_body = false;
    Ole2Check(reader, report).Run();
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeOle2Validator() {
  return std::make_unique<Ole2Validator>();
}

}  // namespace steen::content
