// ContentAnalyzer: reads what the verdict needs, asks the format validators, maps the blocks'
// statistics, and weighs the evidence into a verdict with reasons.
//
// Evidence, strongest first:
//  - a known format whose structure is broken (signature kept, body encrypted or wiped), with
//    evidence of what broke it: random blocks, the validator's own measurement there (random or
//    inverted bytes), or the broken bytes being the file's own content inverted;
//  - no known signature while the content is uniform like ciphertext (the header was encrypted:
//    nearly every family encrypts from offset 0);
//  - evasions: base64/hex text that decodes to ciphertext; bytes that become a known format when
//    XORed with a constant (255 - b bit flip);
//  - random blocks inside a format whose body is not random (text, PCM audio, databases...), or
//    inside a part its validator declared never random (an executable's tables);
//  - random bytes appended after the end of a valid structure (ransomware footers).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "content/block_stats.h"
#include "content/evasion.h"
#include "content/format.h"
#include "content/formats/brotli_stream.h"
#include "content/formats/text_formats.h"
#include "content/reader.h"
#include "content/sampling.h"
#include "steen/content.h"
#include "steen/limits.h"

namespace steen {
namespace {

using content::BlockStats;
using content::FormatReport;
using content::Integrity;
using content::Reader;

std::string Percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%.0f%%", fraction * 100.0);
  return buf;
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

std::string Fixed(double value, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, value);
  return buf;
}

// A ByteSource seen through a constant XOR: lets validators check a bit-flipped file as if it had
// been flipped back.
class XorByteSource final : public ByteSource {
 public:
  XorByteSource(ByteSource& inner, uint8_t key) : inner_(inner), key_(key) {}
  uint64_t Size() const override { return inner_.Size(); }
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override {
    Status st = inner_.ReadAt(offset, length, out);
    for (char& c : *out) c = static_cast<char>(static_cast<uint8_t>(c) ^ key_);
    return st;
  }

 private:
  ByteSource& inner_;
  uint8_t key_;
};

// A byte range of another source as a file of its own (a tar member's data, the payload after a
// script).
class SliceByteSource final : public ByteSource {
 public:
  SliceByteSource(ByteSource& inner, ByteRange range) : inner_(inner), range_(range) {}
  uint64_t Size() const override { return range_.length; }
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override {
    if (offset >= range_.length) {
      out->clear();
      return Status::Ok();
    }
    return inner_.ReadAt(
        range_.offset + offset,
        static_cast<std::size_t>(std::min<uint64_t>(length, range_.length - offset)), out);
  }

 private:
  ByteSource& inner_;
  ByteRange range_;
};

// Another source with its first bytes replaced (a signature put back where it was overwritten).
class PatchedHeadByteSource final : public ByteSource {
 public:
  PatchedHeadByteSource(ByteSource& inner, std::string_view patch) : inner_(inner), patch_(patch) {}
  uint64_t Size() const override { return inner_.Size(); }
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override {
    Status st = inner_.ReadAt(offset, length, out);
    for (std::size_t i = 0; offset + i < patch_.size() && i < out->size(); ++i) {
      (*out)[i] = patch_[static_cast<std::size_t>(offset) + i];
    }
    return st;
  }

 private:
  ByteSource& inner_;
  std::string_view patch_;
};

// Signatures at offset 0 that JudgeOverwrittenSignature puts back: formats whose validator
// checks far more than the signature (the validator decides; this only says what to try). Two-
// byte signatures (BMP, gzip) are left out: one byte left of them says nothing.
constexpr std::string_view kRepairableSignatures[] = {
    std::string_view("GIF8", 4),
    std::string_view("\x89PNG\r\n\x1a\n", 8),
    std::string_view("II*\0", 4),
    std::string_view("MM\0*", 4),
    std::string_view("PK\x03\x04", 4),
    std::string_view("PK\x05\x06", 4),
    std::string_view("\xfd"
                     "7zXZ\0",
                     6),
    std::string_view("BZh", 3),
    std::string_view("\x28\xb5\x2f\xfd", 4),
    std::string_view("7z\xbc\xaf\x27\x1c", 6),
    std::string_view("Rar!\x1a\x07", 6),
    std::string_view("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8),
    std::string_view("%PDF-", 5),
    std::string_view("SQLite format 3\0", 16),
    std::string_view("\x7f"
                     "ELF",
                     4),
    std::string_view("RIFF", 4),
    std::string_view("fLaC", 4),
    std::string_view("OggS", 4),
    std::string_view("\x1a\x45\xdf\xa3", 4),
    std::string_view("\xff\xd8\xff", 3),
    std::string_view("\0\x01\0\0", 4),
    std::string_view("OTTO", 4),
    std::string_view("wOFF", 4),
    std::string_view("wOF2", 4),
};

// A block where random cells alternate with real data has at least this entropy (bits per byte:
// half random bytes over a constant background give 5)...
constexpr double kMinMixedEntropy = 4.0;
// ... and nearly every byte value: 1 KiB of random bytes alone shows 251 of 256 on average (text
// and simple pictures show far fewer).
constexpr int kMinMixedDistinct = 240;
constexpr std::size_t kMaxMixedBlocksKept = 4;

// Statistics of every 4 KiB block that was read (sampled, or all of them in deep mode).
struct BlockMap {
  explicit BlockMap(std::size_t block) : block_bytes(block) {}
  std::size_t block_bytes;
  uint64_t blocks = 0;
  uint64_t uniform_blocks = 0;  // histogram consistent with uniform bytes (ciphertext-like)
  uint64_t first_uniform_offset = UINT64_MAX;
  std::vector<ByteRange> uniform_ranges;  // the first limits::kMaxUniformBlocksKept of them
  uint64_t text_blocks = 0;
  double entropy_sum = 0;
  double chi_p_sum_uniform = 0;
  bool head_uniform = false;  // the first block (or the whole small file) looks random
  bool head_measured = false;
  double head_entropy = 0;
  // Blocks after the head that are not random but dense (entropy >= kMinMixedEntropy): where
  // random cells at a fine stride between real bytes would be (the first of them).
  std::vector<ByteRange> mixed_ranges;

  void Add(uint64_t offset, std::string_view bytes) {
    BlockStats stats = content::ComputeBlockStats(bytes);
    const bool uniform = content::LooksRandom(bytes, stats);
    if (offset == 0) {
      head_measured = true;
      head_uniform = uniform;
      head_entropy = stats.entropy;
    }
    ++blocks;
    entropy_sum += stats.entropy;
    if (stats.printable >= 0.95) ++text_blocks;
    if (!uniform && offset >= limits::kHeadBytes && stats.entropy >= kMinMixedEntropy &&
        stats.distinct >= kMinMixedDistinct && mixed_ranges.size() < kMaxMixedBlocksKept) {
      mixed_ranges.push_back({offset, bytes.size()});
    }
    if (uniform) {
      ++uniform_blocks;
      chi_p_sum_uniform += stats.chi_p;
      first_uniform_offset = std::min(first_uniform_offset, offset);
      if (uniform_ranges.size() < limits::kMaxUniformBlocksKept) {
        uniform_ranges.push_back({offset, bytes.size()});
      }
    }
  }
  void AddRegion(uint64_t offset, std::string_view bytes) {
    const std::size_t block = block_bytes;
    for (std::size_t pos = 0; pos < bytes.size(); pos += block) {
      std::string_view piece = bytes.substr(pos, block);
      // A short last piece is folded into the statistics only when it can carry evidence.
      if (piece.size() < 32) break;
      Add(offset + pos, piece);
    }
  }
  double uniform_fraction() const {
    return blocks == 0 ? 0.0 : static_cast<double>(uniform_blocks) / static_cast<double>(blocks);
  }
  double mean_entropy() const {
    return blocks == 0 ? 0.0 : entropy_sum / static_cast<double>(blocks);
  }
  std::string Describe() const {
    std::string s = Percent(uniform_fraction()) + " of " + std::to_string(blocks) + " " +
                    std::to_string(block_bytes / 1024) + " KiB blocks random";
    if (uniform_blocks > 0) {
      s += " (mean chi-square p=" +
           Fixed(chi_p_sum_uniform / static_cast<double>(uniform_blocks), 2) + ")";
    }
    return s;
  }
};

// The first bytes and small cells of the head. Real files start with a structured header (magic,
// zeros, ASCII); ciphertext from offset 0 does not, even when it is intermittent (LockFile's 16 of
// every 32 bytes, Azov's 666 of 1332, Black Basta's 64 of 192).
struct HeadShape {
  bool first_64_random = false;    // the first 64 bytes look like ciphertext
  bool first_cell_random = false;  // the first 16 bytes look like ciphertext
  double random_cells = 0;         // share of the head's 16-byte cells that look like ciphertext
  double text_cells = 0;           // share of the other cells that are text (no control byte)
  bool text_head = false;          // the first 4 KiB (or the whole head) are text cells only

  // Printable ASCII, whitespace or UTF-8/Latin-1 high bytes only.
  static bool CellIsText(std::string_view cell) {
    for (unsigned char c : cell) {
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) return false;
    }
    return true;
  }

  explicit HeadShape(std::string_view head) {
    if (head.size() >= 64) first_64_random = content::LooksRandom(head.substr(0, 64));
    constexpr std::size_t kCell = content::kCellBytes;
    std::size_t cells = 0;
    std::size_t random = 0;
    std::size_t text = 0;
    constexpr std::size_t kTextHeadBytes = 4096;
    text_head = head.size() >= 256;
    for (std::size_t pos = 0; pos + kCell <= head.size(); pos += kCell) {
      const std::string_view cell = head.substr(pos, kCell);
      const bool r = content::CellLooksRandom(cell);
      const bool is_text = CellIsText(cell);
      if (pos == 0) first_cell_random = r;
      if (pos + kCell <= kTextHeadBytes && !is_text) text_head = false;
      ++cells;
      random += r ? 1 : 0;
      text += !r && is_text ? 1 : 0;
    }
    if (cells > 0) {
      random_cells = static_cast<double>(random) / static_cast<double>(cells);
      text_cells = static_cast<double>(text) / static_cast<double>(cells);
    }
  }
};

// Below this share of random-looking 16-byte cells a broken structure is corruption, not
// encryption (intermittent layouts such as Black Basta's 64 of 192 bytes give about a third).
constexpr double kMinRandomCellsForDamage = 0.1;
// Decoded bytes below these say nothing about randomness: a short list of paths (dpkg's
// conffiles) is base64 alphabet only and decodes to 57 bytes that pass for random. Text that is
// hex digits only is rarer, so shorter hex is still judged.
constexpr std::size_t kMinDecodedBase64Bytes = 64;
constexpr std::size_t kMinDecodedHexBytes = 32;
// With no format to check, the share of random-looking 16-byte cells that makes a head
// intermittently encrypted (16 of every 64 bytes is a quarter; a few random cells fail the cell
// test by chance, so a little less).
constexpr double kMinInterleavedCells = 0.2;

struct Decision {
  Verdict verdict = Verdict::kUnknown;
  DamageKind kind = DamageKind::kNone;
  double score = 0;
  bool encrypted_container = false;
  std::vector<std::string> reasons;
  std::size_t damage_reasons = 0;  // the first reasons, in the order the damage was found
};

// The reasons of a damage go before the others: the first reason is the one a summary shows.
void Damaged(Decision& d, DamageKind kind, double score, std::string reason) {
  if (score > d.score || d.verdict != Verdict::kDamaged) {
    d.kind = kind;
    d.score = std::max(d.score, score);
  }
  d.verdict = Verdict::kDamaged;
  const auto at =
      d.reasons.begin() + static_cast<std::ptrdiff_t>(std::min(d.damage_reasons, d.reasons.size()));
  d.reasons.insert(at, std::move(reason));
  ++d.damage_reasons;
}

DamageKind KindFromBlocks(const BlockMap& map) {
  if (map.uniform_fraction() >= 0.9) return DamageKind::kEncrypted;
  if (map.uniform_blocks > 0) return DamageKind::kPartiallyEncrypted;
  return DamageKind::kPartiallyEncrypted;
}

}  // namespace

struct ContentAnalyzer::Impl {
  content::ValidatorList validators = content::MakeAllValidators();
  // Raw Brotli has no signature: tried only when nothing else claims a file, and kept out of
  // every search by signature (XOR keys, embedded streams, decoded base64, overwritten magic).
  std::unique_ptr<const content::FormatValidator> raw_brotli = content::MakeBrotliValidator();

  const content::FormatValidator* Match(std::string_view head, uint64_t size) const {
    for (const auto& v : validators) {
      if (v->Matches(head, size)) return v.get();
    }
    return nullptr;
  }

  static bool IsTextValidator(const content::FormatValidator* v) {
    return v != nullptr && v->name().substr(0, 4) == "text";
  }

  // Reads the planned samples (or everything, in deep mode) into the block map.
  // With `with_stats` false (deep mode on a valid format whose body is legitimately random,
  // where block statistics carry no evidence) every byte is still read, but not measured.
  Status MapBlocks(Reader& reader, bool deep, bool with_stats, BlockMap& map) const {
    const uint64_t size = reader.size();
    if (deep) {
      std::string chunk;
      for (uint64_t offset = 0; offset < size; offset += limits::kDeepReadChunkBytes) {
        Status st = reader.ReadUncached(offset, limits::kDeepReadChunkBytes, &chunk);
        if (!st.ok()) return st;
        if (chunk.empty()) break;  // the file shrank while being read
        if (with_stats) map.AddRegion(offset, chunk);
      }
      return Status::Ok();
    }
    for (const ByteRange& range : content::PlanSamples(size)) {
      auto bytes = reader.Read(range.offset, range.length);
      if (!bytes.ok()) return bytes.status();
      map.AddRegion(range.offset, *bytes);
    }
    return Status::Ok();
  }

  // The decoded prefix of an encoded file, checked by the validator of the format it claims to be
  // (a prefix, so a truncated structure is fine; a broken one is not).
  static bool DecodedPrefixIsValid(const content::FormatValidator& inner,
                                   const std::string& decoded) {
    MemoryByteSource decoded_source(decoded);
    Reader decoded_reader(decoded_source, limits::kAnalysisReadBudget);
    const Integrity integrity = inner.Validate(decoded_reader).integrity;
    return integrity != Integrity::kDamaged;
  }

  // Base64 or hex text that decodes to ciphertext. Returns true when it decided.
  bool JudgeEncodedText(std::string_view head, uint64_t size, Decision& d,
                        std::string& format) const {
    // PEM (certificates, keys, signatures) is base64 between armor lines: DER inside, not
    // ciphertext, whatever its randomness.
    if (head.substr(0, 64).find("-----BEGIN ") != std::string_view::npos) return false;
    const content::TextEncoding encoding = content::DetectTextEncoding(head);
    if (encoding == content::TextEncoding::kNone) return false;
    const bool base64 = encoding == content::TextEncoding::kBase64;
    const std::string decoded = base64 ? content::DecodeBase64Prefix(head, 48 * 1024)
                                       : content::DecodeHexPrefix(head, 32 * 1024);
    const char* name = base64 ? "base64" : "hex";
    if (decoded.size() < (base64 ? kMinDecodedBase64Bytes : kMinDecodedHexBytes)) return false;
    if (const content::FormatValidator* inner = Match(decoded, decoded.size());
        inner != nullptr && !IsTextValidator(inner) && DecodedPrefixIsValid(*inner, decoded)) {
      format = std::string(name) + "(" + std::string(inner->name()) + ")";
      d.verdict = Verdict::kIntact;
      d.score = 0.1;
      d.reasons.push_back(std::string(name) + " text that decodes to " +
                          std::string(inner->name()));
      return true;
    }
    const BlockStats stats = content::ComputeBlockStats(decoded);
    const bool random = content::LooksRandom(decoded, stats);
    format = std::string("text/") + name;
    if (random) {
      Damaged(d, DamageKind::kEncodedCiphertext, 0.9,
              std::string(name) + " text whose decoded bytes are random (" +
                  std::to_string(decoded.size()) + " bytes decoded, entropy " +
                  Fixed(stats.entropy, 2) + " bits/byte, chi-square p=" + Fixed(stats.chi_p, 2) +
                  ")");
      return true;
    }
    // Encoded bytes that are a known file with every byte inverted or XORed (two evasions
    // composed: bit flipping, then base64 or hex).
    if (auto transform = content::DetectByteTransform(decoded, validators, decoded.size())) {
      std::string restored = decoded;
      for (char& c : restored) c = static_cast<char>(static_cast<uint8_t>(c) ^ transform->xor_key);
      const content::FormatValidator* inner = Match(restored, restored.size());
      // Text only when inverted (255 - b): other keys turn legitimate encoded binaries into
      // printable bytes too often (UTF-16 text XOR 0x20 is ASCII with spaces between letters).
      // A decoded prefix of a large file is often incomplete for its validator (a ZIP's
      // directory is at its end): inverted bytes need only match; other keys, found from the
      // first byte, must also validate.
      const bool text = transform->format == "text" && transform->xor_key == 0xff;
      const bool binary = inner != nullptr && !IsTextValidator(inner) &&
                          (transform->xor_key == 0xff || DecodedPrefixIsValid(*inner, restored));
      if (text || binary) {
        const std::string what = text ? std::string("text") : std::string(inner->name());
        Damaged(d, DamageKind::kBitTransformed, 0.85,
                std::string(name) + " text whose decoded bytes are a " + what +
                    " file with every byte " +
                    (transform->xor_key == 0xff ? std::string("inverted (255 - b)")
                                                : "XORed with " + Hex(transform->xor_key)));
        return true;
      }
    }
    return false;
  }

  // Bytes that become a known, valid format under a constant XOR (the 255 - b bit flip).
  bool JudgeTransformed(ByteSource& source, std::string_view head, uint64_t size, Decision& d,
                        std::string& format) const {
    auto transform = content::DetectByteTransform(head, validators, size);
    if (!transform) return false;
    XorByteSource flipped(source, transform->xor_key);
    Reader reader(flipped, limits::kAnalysisReadBudget);
    auto flipped_head = reader.Read(0, limits::kHeadBytes);
    if (!flipped_head.ok()) return false;
    const content::FormatValidator* v = Match(*flipped_head, size);
    const std::string how = transform->xor_key == 0xff
                                ? std::string("every byte inverted (255 - b)")
                                : "every byte XORed with " + Hex(transform->xor_key);
    if (v != nullptr) {
      FormatReport report = v->Validate(reader);
      format = report.format.empty() ? std::string(v->name()) : report.format;
      if (report.integrity == Integrity::kDamaged) {
        // The head inverts back to a real header and the rest does not: only part of the file
        // was transformed (the header, or a head-sized region). Either way the bytes are gone.
        Damaged(d, DamageKind::kBitTransformed, 0.8,
                "first bytes: " + how + " (inverted back they start a " + format +
                    " file); the rest does not invert back to a valid " + format + " file");
        return true;
      }
      if (report.integrity != Integrity::kValid && report.integrity != Integrity::kTruncated) {
        return false;
      }
    } else if (transform->format == "text") {
      format = "text";  // plain ASCII text once transformed back; no validator needed to say so
    } else {
      return false;
    }
    Damaged(d, DamageKind::kBitTransformed, 0.9,
            how + "; inverted back it is a valid " + format + " file");
    return true;
  }

  // A broken structure over bytes that are the file's own kind of content inverted: the body
  // was bit-flipped after an intact header (a flipped head is JudgeTransformed's case). Judged
  // right after the file's first 4 KiB, where the validator found the break, and at the end, but
  // never before the break: bytes the validator found intact are not evidence (OLE2 writers pad
  // with 0xFF). Returns what was found, empty when nothing.
  static std::string TransformedBody(Reader& reader, const FormatReport& report) {
    constexpr uint64_t kReferenceBytes = 4096;
    constexpr uint64_t kBodyBytes = 16 * limits::KiB;
    const uint64_t size = reader.size();
    const uint64_t broken_at =
        report.damaged_ranges.empty() ? size : report.damaged_ranges.front().offset;
    const uint64_t reference_length = std::min({kReferenceBytes, size / 2, broken_at});
    auto reference_or = reader.Read(0, reference_length);
    if (!reference_or.ok()) return {};
    const std::string_view reference = *reference_or;
    const uint64_t tail = std::max(reference_length, size - std::min(size, kBodyBytes));
    for (uint64_t at : {reference_length, broken_at, tail}) {
      if (at >= size || at < reference_length || (broken_at < size && at < broken_at)) continue;
      auto body = reader.Read(at, kBodyBytes);
      if (body.ok() && content::BodyLooksInverted(reference, *body)) {
        return "the bytes at " + Hex(at) + " are the file's own kind of content inverted (255 - b)";
      }
    }
    return {};
  }

  // Random 16-byte cells at a fixed period where the validator found the structure broken or cut
  // short, or in the file's last bytes: intermittent encryption at a fine stride (16 of every 32
  // bytes after an intact first 64 KiB), which leaves no random block. Returns what was found,
  // empty when nothing.
  static std::string PeriodicRandomWhereBroken(Reader& reader, const FormatReport& report) {
    const uint64_t size = reader.size();
    const uint64_t region = limits::kTailBytes;
    // Regions start on 16-byte file offsets: strides are laid from offset 0 or a round offset.
    constexpr uint64_t kAlign = content::kCellBytes;
    std::vector<uint64_t> places;
    if (!report.damaged_ranges.empty() && report.damaged_ranges.front().offset < size) {
      places.push_back(report.damaged_ranges.front().offset / kAlign * kAlign);
    }
    places.push_back(size > region ? (size - region) / kAlign * kAlign : 0);
    for (uint64_t at : places) {
      auto bytes = reader.Read(at, region);
      if (!bytes.ok()) continue;
      if (auto found = content::FindPeriodicRandomCells(*bytes)) {
        return DescribePeriodic(*found, at);
      }
    }
    return {};
  }

  // The same in the dense sample blocks of a file whose structure is intact: in a format whose
  // content is not random, random cells at a fixed period are a stride of ciphertext. Not in an
  // executable's code and data, only in the parts it declares never random: cryptography
  // libraries keep tables of random constants in fixed-size records (libhogweed's curve points
  // every 32 bytes were found so).
  static std::string PeriodicRandomInBlocks(Reader& reader, const BlockMap& map,
                                            const FormatReport& report) {
    for (const ByteRange& block : map.mixed_ranges) {
      if (IsExecutable(report.format) && MostlyInside(block, report.never_random) == nullptr) {
        continue;
      }
      // A stride shows within 4 KiB (256 cells); --deep's blocks are larger.
      auto bytes =
          reader.Read(block.offset, std::min<uint64_t>(block.length, limits::kSampleBlockBytes));
      if (!bytes.ok()) continue;
      if (auto found = content::FindPeriodicRandomCells(*bytes)) {
        return DescribePeriodic(*found, block.offset);
      }
    }
    return {};
  }

  static std::string DescribePeriodic(const content::PeriodicRandomCells& found, uint64_t base) {
    return std::to_string(found.runs) + " runs of random bytes every " +
           std::to_string(found.period) + " bytes from " + Hex(base + found.offset) +
           " (intermittent encryption)";
  }

  static bool IsExecutable(const std::string& format) { return format == "pe" || format == "elf"; }

  // Whether three quarters of `block` or more lie inside one of `parts`; the part, or nullptr.
  static const content::NeverRandomRange* MostlyInside(
      const ByteRange& block, const std::vector<content::NeverRandomRange>& parts) {
    for (const content::NeverRandomRange& part : parts) {
      const uint64_t begin = std::max(block.offset, part.range.offset);
      const uint64_t end = std::min(block.end(), part.range.end());
      if (end > begin && 4 * (end - begin) >= 3 * block.length) return &part;
    }
    return nullptr;
  }

  // A random block of the map lying (three quarters of it or more) inside a part the validator
  // declared never random: ciphertext, in a format whose other parts may well be random.
  // Returns where, empty when none.
  static std::string RandomWhereNeverRandom(const BlockMap& map, const FormatReport& report) {
    for (const ByteRange& block : map.uniform_ranges) {
      if (const content::NeverRandomRange* part = MostlyInside(block, report.never_random)) {
        return "random bytes at " + Hex(block.offset) + " inside the " + part->what + " at " +
               Hex(part->range.offset) + ", which is never random";
      }
    }
    return {};
  }

  void JudgeKnownFormat(Reader& reader, std::string_view head, const FormatReport& report,
                        const BlockMap& map, Decision& d) const {
    const uint64_t size = reader.size();
    const std::string& format = report.format;
    bool first_reason_used = false;  // folded into the damage reason
    switch (report.integrity) {
      case Integrity::kEncryptedContainer:
        d.verdict = Verdict::kIntact;
        d.encrypted_container = true;
        d.score = 0.1;
        d.reasons.push_back("legitimately encrypted " + format + " container");
        break;
      case Integrity::kDamaged: {
        DamageKind kind = KindFromBlocks(map);
        uint64_t damaged = 0;
        for (const ByteRange& r : report.damaged_ranges) damaged += r.length;
        if (report.damaged_bytes > 0) damaged = std::min(damaged, report.damaged_bytes);
        if (size > 0 && static_cast<double>(damaged) >= 0.9 * static_cast<double>(size)) {
          kind = DamageKind::kEncrypted;
        }
        // "zip structure broken: central directory missing; 97% of 26 4 KiB blocks random".
        std::string broken = format + " structure broken";
        if (!report.reasons.empty()) broken += ": " + report.reasons.front();
        if (report.evidence == content::DamageEvidence::kTransformed) {
          Damaged(d, DamageKind::kBitTransformed, 0.85, broken);
          first_reason_used = true;
          break;
        }
        if (map.uniform_blocks == 0 && map.mean_entropy() < 6.0 &&
            report.evidence == content::DamageEvidence::kNone) {
          if (const std::string how = TransformedBody(reader, report); !how.empty()) {
            Damaged(d, DamageKind::kBitTransformed, 0.8, broken + "; " + how);
            first_reason_used = true;
            break;
          }
          // No random block: either short runs of ciphertext between plain bytes (intermittent
          // layouts on small files), or a corrupt file that nobody encrypted. Damage needs
          // evidence of ciphertext, not only a broken structure.
          const HeadShape shape(head);
          if (shape.first_64_random) {
            // A header encrypted in place (the first few hundred bytes): no real file starts
            // with 64 random bytes, and the structure it should have there is broken.
            kind = DamageKind::kPartiallyEncrypted;
            Damaged(d, kind, 0.85, "the first 64 bytes look like ciphertext");
            Damaged(d, kind, 0.85, broken);
            first_reason_used = true;
            break;
          }
          if (shape.random_cells < kMinRandomCellsForDamage) {
            if (const std::string how = PeriodicRandomWhereBroken(reader, report); !how.empty()) {
              Damaged(d, DamageKind::kPartiallyEncrypted, 0.85, broken + "; " + how);
              first_reason_used = true;
              break;
            }
            d.verdict = Verdict::kUnknown;
            d.score = 0.4;
            d.reasons.push_back(format + " structure broken, but no byte range looks encrypted " +
                                "(corrupt or malformed, not encrypted)");
            break;
          }
          kind = DamageKind::kPartiallyEncrypted;
          Damaged(d, kind, 0.9,
                  Percent(shape.random_cells) +
                      " of the 16-byte cells of the head look like ciphertext");
        }
        if (map.uniform_blocks > 0) broken += "; " + map.Describe();
        Damaged(d, kind, 0.9, broken);
        first_reason_used = true;
        break;
      }
      case Integrity::kTruncated:
        if (const std::string how = PeriodicRandomWhereBroken(reader, report); !how.empty()) {
          Damaged(d, DamageKind::kPartiallyEncrypted, 0.85,
                  format + " structure cut short where " + how);
          break;
        }
        d.verdict = Verdict::kUnknown;
        d.score = 0.3;
        d.reasons.push_back(format + " file ends early (truncated), no sign of encryption");
        break;
      case Integrity::kValid:
        d.verdict = Verdict::kIntact;
        d.score = 0.05;
        if (report.structure_checked) d.reasons.push_back(format + " structure valid");
        // Executables, office files and databases embed compressed data (packed sections,
        // pictures, blobs), so a minority of random blocks is normal; a majority is not.
        // A container's members are judged as files of their own (JudgeMembers).
        if (!report.members.empty()) break;
        if (!report.high_entropy_body && map.blocks >= 3 && map.uniform_blocks >= 2 &&
            map.uniform_fraction() >= 0.6) {
          Damaged(d, KindFromBlocks(map), 0.75,
                  map.Describe() + " inside a " + format + " file, whose content is not random" +
                      " (first at " + Hex(map.first_uniform_offset) + ")");
        } else if (std::string where = RandomWhereNeverRandom(map, report); !where.empty()) {
          Damaged(d, KindFromBlocks(map), 0.8, where + "; " + map.Describe());
        } else if (!report.high_entropy_body) {
          if (const std::string how = PeriodicRandomInBlocks(reader, map, report); !how.empty()) {
            Damaged(d, DamageKind::kPartiallyEncrypted, 0.8,
                    how + " inside a " + format + " file, whose content is not random");
          }
        }
        break;
    }
    for (std::size_t i = first_reason_used ? 1 : 0; i < report.reasons.size(); ++i) {
      d.reasons.push_back(report.reasons[i]);
    }
    JudgeTrailer(reader, report, d);
  }

  // Random bytes after the end of the format's own structure look like an appended ransomware
  // footer, but alone they are no damage: the data before them is intact (and real files carry
  // installer payloads, signatures and junk after their end). Reported, and raises the score.
  void JudgeTrailer(Reader& reader, const FormatReport& report, Decision& d) const {
    const uint64_t size = reader.size();
    if (report.structure_end == 0 || report.structure_end >= size) return;
    const uint64_t trailer = size - report.structure_end;
    if (trailer < 32) return;
    auto bytes = reader.Read(report.structure_end, std::min<uint64_t>(trailer, 4096));
    if (!bytes.ok()) return;
    if (Match(*bytes, trailer) != nullptr) return;  // an appended file of a known format
    const bool random = content::LooksRandom(*bytes);
    if (!random) return;
    const std::string what = std::to_string(trailer) +
                             " random bytes appended after the end of the " + report.format +
                             " data at " + Hex(report.structure_end);
    // Executables carry installer payloads and signatures after their sections, and a short run
    // of junk happens; a long random trailer on a document or media file is a ransomware footer
    // (the bytes before it may be encrypted too, undetectably when they were compressed).
    const bool executable = IsExecutable(report.format);
    if (d.verdict == Verdict::kIntact && !executable && trailer >= limits::kMinRandomFooterBytes) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.6, what + ": a ransomware footer");
      return;
    }
    d.score = std::max(d.score, 0.35);
    d.reasons.push_back(what + " (a ransomware footer?)");
  }

  // Where text ends and a stream of a known format begins (a python zipapp or makeself
  // installer: a shell script, then a ZIP, xz, bzip2, gzip or zstd payload), that format's
  // validator and the stream's offset; nullptr otherwise.
  const content::FormatValidator* EmbeddedStreamAfterText(std::string_view head, uint64_t size,
                                                          std::size_t* offset) const {
    std::size_t first_binary = 0;
    while (first_binary < head.size()) {
      const auto c = static_cast<unsigned char>(head[first_binary]);
      if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) break;
      ++first_binary;
    }
    if (first_binary < 2 || first_binary == head.size()) return nullptr;
    // Magic numbers may start with printable bytes ("BZh", "7z", "PK"): look a little before.
    for (std::size_t at = first_binary > 32 ? first_binary - 32 : 0; at <= first_binary; ++at) {
      for (const auto& v : validators) {
        if (IsTextValidator(v.get())) continue;
        if (v->Matches(head.substr(at), size - at)) {
          *offset = at;
          return v.get();
        }
      }
    }
    return nullptr;
  }

  // A script followed by its payload: the payload is judged as a file of its own. Returns true
  // when it decided.
  bool JudgeScriptPayload(ByteSource& source, std::string_view head, uint64_t size, Decision& d,
                          std::string& format) const {
    if (head.size() < 2 || head[0] != '#' || head[1] != '!') return false;
    std::size_t at = 0;
    const content::FormatValidator* v = EmbeddedStreamAfterText(head, size, &at);
    if (v == nullptr) return false;
    SliceByteSource payload(source, {at, size - at});
    Reader reader(payload, limits::kAnalysisReadBudget);
    const FormatReport report = v->Validate(reader);
    const std::string name = report.format.empty() ? std::string(v->name()) : report.format;
    format = "script+" + name;
    if (report.integrity == Integrity::kValid ||
        report.integrity == Integrity::kEncryptedContainer) {
      d.verdict = Verdict::kIntact;
      d.score = 0.05;
      d.reasons.push_back("a script followed by a valid " + name + " payload at " + Hex(at));
      return true;
    }
    if (report.integrity == Integrity::kDamaged) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.85,
              "a script followed by a " + name + " payload at " + Hex(at) +
                  " whose structure is broken");
      return true;
    }
    return false;
  }

  // What the analyses of a container's members read, in the container's offsets.
  struct MemberReads {
    std::vector<ByteRange> ranges;
    uint64_t bytes = 0;
  };

  // The whole analysis of `source`; `depth` counts the containers it is inside.
  StatusOr<Analysis> AnalyzeAt(ByteSource& source, const AnalyzeOptions& options, int depth) const;

  // The members of a valid container, each judged as a file of its own (its format's validator,
  // its own block map): a damaged member makes the container damaged. Containers nested deeper
  // than kMaxMemberDepth are judged by their structure alone.
  Status JudgeMembers(ByteSource& source, const AnalyzeOptions& options, int depth,
                      const FormatReport& report, Decision& d, MemberReads& reads) const {
    if (depth >= limits::kMaxMemberDepth) return Status::Ok();
    int damaged = 0;
    std::optional<Analysis> first;  // of the first damaged member
    const content::ContainedFile* first_member = nullptr;
    for (const content::ContainedFile& member : report.members) {
      SliceByteSource slice(source, member.range);
      StatusOr<Analysis> inner = AnalyzeAt(slice, options, depth + 1);
      if (!inner.ok()) return inner.status();
      for (const ByteRange& r : inner->ranges_read) {
        reads.ranges.push_back({member.range.offset + r.offset, r.length});
      }
      reads.bytes += inner->bytes_read;
      if (inner->verdict != Verdict::kDamaged) continue;
      if (!member.judged_without_format && inner->format == "unknown") continue;
      if (++damaged == 1) {
        first = std::move(inner).value();
        first_member = &member;
      }
    }
    if (damaged == 0) return Status::Ok();
    Damaged(d, first->kind, first->score,
            std::to_string(damaged) + " of " + std::to_string(report.members.size()) +
                " members judged are damaged inside a valid " + report.format + "; first member '" +
                first_member->name + "' at " + Hex(first_member->range.offset) + " (" +
                first->format + ", " + std::to_string(first_member->range.length) +
                " bytes): " + (first->reasons.empty() ? "damaged" : first->reasons.front()));
    return Status::Ok();
  }

  // A file that matches no signature because its first bytes were overwritten (a chunk at
  // offset 0 of a percentage of a small file: 2 bytes of 191), while the end of a signature is
  // still there and, with the signature put back, the whole file is a valid file of that format.
  bool JudgeOverwrittenSignature(ByteSource& source, std::string_view head, uint64_t size,
                                 Decision& d, std::string& format, MemberReads& reads) const {
    for (std::string_view magic : kRepairableSignatures) {
      if (head.size() <= magic.size()) continue;
      // The overwritten bytes are a prefix; what is left of the signature must be at least two
      // bytes and half of it.
      std::size_t kept = 0;
      while (kept < magic.size() &&
             head[magic.size() - 1 - kept] == magic[magic.size() - 1 - kept]) {
        ++kept;
      }
      if (kept == magic.size() || kept < 2 || 2 * kept < magic.size()) continue;
      const std::size_t overwritten = magic.size() - kept;
      std::string patched_head(head);
      patched_head.replace(0, overwritten, magic.substr(0, overwritten));
      const content::FormatValidator* v = Match(patched_head, size);
      if (v == nullptr || IsTextValidator(v)) continue;
      PatchedHeadByteSource patched(source, magic.substr(0, overwritten));
      Reader reader(patched, limits::kAnalysisReadBudget);
      const FormatReport report = v->Validate(reader);
      const std::vector<ByteRange> validated = reader.RangesRead();
      reads.ranges.insert(reads.ranges.end(), validated.begin(), validated.end());
      reads.bytes += reader.bytes_read();
      // A valid rest proves the format. A rest broken too (the same attack's other chunks: cut
      // short or damaged) needs a longer signature left: three bytes match by chance once in 16
      // million files.
      const bool valid = report.integrity == Integrity::kValid;
      const bool broken =
          report.integrity == Integrity::kDamaged || report.integrity == Integrity::kTruncated;
      if (!valid && (!broken || kept < 3)) continue;
      format = report.format.empty() ? std::string(v->name()) : report.format;
      d = Decision{};
      Damaged(d, DamageKind::kOverwritten, valid ? 0.8 : 0.85,
              format + " signature overwritten (its first " + std::to_string(overwritten) + " of " +
                  std::to_string(magic.size()) + " bytes); with them put back, " +
                  (valid ? "the rest is a valid " + format + " file"
                         : "its structure is broken further on too"));
      return true;
    }
    return false;
  }

  void JudgeUnknownFormat(const BlockMap& map, const HeadShape& shape, std::string_view head,
                          uint64_t size, Decision& d) const {
    const double uniform = map.uniform_fraction();
    if (map.head_uniform && uniform >= 0.8) {
      Damaged(d, DamageKind::kEncrypted, 0.95, "no known format signature; " + map.Describe());
      return;
    }
    if (map.head_uniform) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.85,
              "no known format signature and the first bytes are random; " + map.Describe());
      return;
    }
    if (shape.first_64_random) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.85,
              "no known format signature and the first 64 bytes are random (header encrypted); " +
                  map.Describe());
      return;
    }
    if (shape.first_cell_random && shape.random_cells >= kMinInterleavedCells) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.8,
              "no known format signature; the first 16 bytes and " + Percent(shape.random_cells) +
                  " of the 16-byte cells of the head look like ciphertext (intermittent "
                  "encryption); " +
                  map.Describe());
      return;
    }
    // Text whose 16-byte cells alternate with ciphertext (LockFile's every other 16 bytes, and
    // any interleave that does not start at offset 0): too broken to be recognised as text, yet
    // nothing but text and random cells. No real format is made of those two alone.
    if (shape.random_cells >= kMinInterleavedCells && shape.text_cells >= 0.25 &&
        shape.random_cells + shape.text_cells >= 0.9) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.75,
              "no known format; " + Percent(shape.random_cells) +
                  " of the head's 16-byte cells look like ciphertext and " +
                  Percent(shape.text_cells) + " are text (text encrypted intermittently); " +
                  map.Describe());
      return;
    }
    // A text head (a header or the first pages kept in place) over a body whose sampled blocks
    // are mostly uniform bytes: the text was encrypted after its first bytes. Real files that
    // are text then binary (self-extracting scripts) carry compressed data, which the block
    // test tells from ciphertext.
    if (map.blocks >= 2 && uniform >= 0.5 && shape.text_head) {
      std::size_t at = 0;
      if (const content::FormatValidator* embedded = EmbeddedStreamAfterText(head, size, &at)) {
        d.verdict = Verdict::kUnknown;
        d.score = 0.3;
        d.reasons.push_back("text followed by an embedded " + std::string(embedded->name()) +
                            " stream at " + Hex(at) + " (a self-extracting archive?); " +
                            map.Describe());
        return;
      }
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.8,
              "no known format; the file starts as text and " + Percent(uniform) +
                  " of the sampled blocks look like ciphertext (body encrypted, head kept); " +
                  map.Describe());
      return;
    }
    if (map.head_measured && map.head_entropy >= 7.2) {
      Damaged(d, DamageKind::kPartiallyEncrypted, 0.7,
              "no known format signature and high-entropy content (" + Fixed(map.head_entropy, 2) +
                  " bits/byte at the start); " + map.Describe());
      return;
    }
    if (map.blocks >= 2 && uniform >= 0.5) {
      // Most of it looks like ciphertext behind a structured head: an unknown format with a
      // compressed or encrypted payload, or a file whose body was encrypted. Not intact.
      d.verdict = Verdict::kUnknown;
      d.score = 0.5;
      d.reasons.push_back("no known format; " + map.Describe() +
                          " behind a first block that is not random");
      return;
    }
    d.verdict = Verdict::kIntact;
    d.score = 0.15;
    d.reasons.push_back("no known format; content not random (" + map.Describe() + ")");
  }
};

ContentAnalyzer::ContentAnalyzer() : impl_(std::make_unique<Impl>()) {}
ContentAnalyzer::~ContentAnalyzer() = default;

StatusOr<Analysis> ContentAnalyzer::Analyze(ByteSource& source,
                                            const AnalyzeOptions& options) const {
  return impl_->AnalyzeAt(source, options, 0);
}

StatusOr<Analysis> ContentAnalyzer::Impl::AnalyzeAt(ByteSource& source,
                                                    const AnalyzeOptions& options,
                                                    int depth) const {
  const uint64_t budget =
      options.deep ? 16 * limits::kAnalysisReadBudget : limits::kAnalysisReadBudget;
  Reader reader(source, budget);
  Analysis result;
  const uint64_t size = reader.size();
  if (size == 0) {
    result.verdict = Verdict::kIntact;
    result.format = "empty";
    result.reasons.push_back("empty file");
    return result;
  }
  auto head_or = reader.Read(0, limits::kHeadBytes);
  if (!head_or.ok()) return head_or.status();
  const std::string_view head = *head_or;

  BlockMap map(options.deep ? limits::kDeepStatsBlockBytes : limits::kStatsBlockBytes);
  MemberReads member_reads;
  Decision decision;
  std::string format = "unknown";
  const content::FormatValidator* validator = Match(head, size);
  if (validator == nullptr && raw_brotli->Matches(head, size)) validator = raw_brotli.get();
  bool decided = false;
  // Encoded ciphertext is printable text: judge it before the text validator calls it intact.
  if (validator == nullptr || IsTextValidator(validator)) {
    decided = JudgeEncodedText(head, size, decision, format);
  }
  // A transformed file either matches nothing or, for inverted text, looks like high-byte text.
  // (An eighth of high bytes: inverted UTF-8 Greek or Cyrillic is mostly ASCII, only the
  // inverted ASCII between its words high; Western text has a few percent. UTF-16 Hangul or CJK
  // is mostly high bytes as it is: Korean UTF-16BE read XORed with 0x47 as MPEG-TS.)
  const bool maybe_transformed =
      validator == nullptr || (IsTextValidator(validator) &&
                               8 * content::CountHighBytes(head.substr(0, 4096)) >
                                   std::min<std::size_t>(head.size(), 4096) &&
                               !content::LooksLikeUtf16(head));
  if (!decided && maybe_transformed) {
    decided = JudgeTransformed(source, head, size, decision, format);
  }
  if (!decided && validator == nullptr) {
    decided = JudgeScriptPayload(source, head, size, decision, format);
  }
  if (!decided && validator != nullptr) {
    FormatReport report = validator->Validate(reader);
    if (options.verify_streams && report.integrity == Integrity::kValid) {
      validator->VerifyWhole(reader, report);
    }
    if (report.format.empty()) report.format = std::string(validator->name());
    format = report.format;
    // The block map costs most of the time of a scan: measure only where it carries evidence
    // (the kind of a damaged file; random blocks in a format whose body is not random). The
    // text validator samples its blocks itself.
    const bool map_is_evidence =
        report.integrity == Integrity::kDamaged ||
        (report.integrity == Integrity::kValid && !report.high_entropy_body &&
         report.members.empty() && !IsTextValidator(validator));
    if (map_is_evidence || options.deep) {
      if (Status st = MapBlocks(reader, options.deep, map_is_evidence, map); !st.ok()) {
        return st;
      }
    }
    JudgeKnownFormat(reader, head, report, map, decision);
    if (decision.verdict == Verdict::kIntact && !report.members.empty()) {
      if (Status st = JudgeMembers(source, options, depth, report, decision, member_reads);
          !st.ok()) {
        return st;
      }
    }
    decided = true;
  }
  if (!decided) {
    if (Status st = MapBlocks(reader, options.deep, true, map); !st.ok()) return st;
    JudgeUnknownFormat(map, HeadShape(head), head, size, decision);
    if (decision.verdict != Verdict::kDamaged) {
      (void)JudgeOverwrittenSignature(source, head, size, decision, format, member_reads);
    }
  }
  if (!reader.status().ok() && reader.status().code() != Status::Code::kResourceExhausted) {
    return reader.status();
  }

  result.verdict = decision.verdict;
  result.kind = decision.verdict == Verdict::kDamaged ? decision.kind : DamageKind::kNone;
  result.score = decision.score;
  result.encrypted_container = decision.verdict == Verdict::kIntact && decision.encrypted_container;
  result.format = format;
  result.reasons = std::move(decision.reasons);
  result.ranges_read = reader.RangesRead();
  result.bytes_read = reader.bytes_read() + member_reads.bytes;
  if (!member_reads.ranges.empty()) {
    member_reads.ranges.insert(member_reads.ranges.end(), result.ranges_read.begin(),
                               result.ranges_read.end());
    result.ranges_read = content::MergeRanges(std::move(member_reads.ranges));
  }
  return result;
}

}  // namespace steen
