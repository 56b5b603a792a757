#include "content/formats/der.h"

#include <algorithm>
#include <memory>
#include <string>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

struct Walker {
  std::string_view bytes;
  int nodes = 0;
  uint64_t bad_at = 0;

  bool Fail(uint64_t at) {
    bad_at = at;
    return false;
  }

  // Walks TLVs from `pos` to `end` (exactly), or to an end-of-contents marker when `until_eoc`.
  // `pos` is left after what was walked.
  bool Sequence(uint64_t& pos, uint64_t end, int depth, bool until_eoc) {
    while (pos < end) {
      if (until_eoc && end - pos >= 2 && bytes[pos] == 0 && bytes[pos + 1] == 0) {
        pos += 2;
        return true;
      }
      if (!Node(pos, end, depth)) return false;
    }
    return !until_eoc || Fail(pos);  // an indefinite length must end with 00 00
  }

  bool Node(uint64_t& pos, uint64_t end, int depth) {
    const uint64_t start = pos;
    if (++nodes > limits::kMaxChunksWalked || depth > limits::kMaxContainerDepth) {
      return Fail(start);
    }
    if (end - pos < 2) return Fail(start);
    const auto tag = static_cast<uint8_t>(bytes[pos++]);
    const bool constructed = (tag & 0x20) != 0;
    if ((tag & 0x1f) == 0x1f) {  // high tag number: base-128, at most 4 bytes
      int continued = 0;
      while (pos < end && (static_cast<uint8_t>(bytes[pos]) & 0x80) != 0 && continued < 4) {
        ++pos;
        ++continued;
      }
      if (pos >= end || continued >= 4) return Fail(start);
      ++pos;
    }
    if (pos >= end) return Fail(start);
    const auto first = static_cast<uint8_t>(bytes[pos++]);
    if (first == 0x80) {  // indefinite (BER): constructed only
      if (!constructed) return Fail(start);
      return Sequence(pos, end, depth + 1, true);
    }
    uint64_t length = first;
    if (first > 0x80) {
      const int octets = first & 0x7f;
      if (octets > 4 || end - pos < static_cast<uint64_t>(octets)) return Fail(start);
      length = 0;
      for (int i = 0; i < octets; ++i) length = length << 8 | static_cast<uint8_t>(bytes[pos++]);
    }
    if (length > end - pos) return Fail(start);
    const uint64_t value_end = pos + length;
    if (constructed) {
      if (!Sequence(pos, value_end, depth + 1, false)) return false;
    }
    pos = value_end;
    return true;
  }
};

}  // namespace

DerWalk WalkDer(std::string_view bytes) {
  Walker walker{bytes};
  DerWalk result;
  uint64_t pos = 0;
  while (pos < bytes.size()) {
    // Zero padding after the last TLV (signature blobs are padded to 8 bytes).
    const std::string_view rest = bytes.substr(pos);
    if (pos > 0 && rest.size() < 8 &&
        std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; })) {
      break;
    }
    if (!walker.Node(pos, bytes.size(), 0)) {
      result.bad_at = walker.bad_at;
      result.nodes = walker.nodes;
      return result;
    }
  }
  result.ok = pos > 0;
  result.nodes = walker.nodes;
  return result;
}

bool EndsInRandomBytes(std::string_view from_break) {
  const std::string_view last =
      from_break.substr(from_break.size() - std::min<std::size_t>(from_break.size(), limits::KiB));
  return last.size() >= 64 && LooksRandom(last);
}

namespace {

using system_detail::Hex;

// The size of the DER SEQUENCE (long-form length) that `head` starts with, or 0.
uint64_t DerSequenceBytes(std::string_view head) {
  if (head.size() < 2 || static_cast<uint8_t>(head[0]) != 0x30) return 0;
  const auto length_byte = static_cast<uint8_t>(head[1]);
  if (length_byte < 0x81 || length_byte > 0x84) return 0;
  const std::size_t octets = length_byte & 0x7f;
  if (head.size() < 2 + octets) return 0;
  uint64_t length = 0;
  for (std::size_t i = 0; i < octets; ++i) length = length << 8 | static_cast<uint8_t>(head[2 + i]);
  return length >= 0x80 ? 2 + octets + length : 0;
}

// Zero bytes after the object that pad it to a multiple of 8 (how the Authenticode table of a PE
// file stores a PKCS#7 blob, and what is left when one is cut out of it).
constexpr uint64_t kMaxDerPadding = 7;

// ASN.1 DER files (certificates, keys, PKCS#12 and PKCS#7): one SEQUENCE whose definite length
// spans the file, up to that padding. A random file starting with 0x30 matches this 1 time in
// ~2^13 or less.
bool DerSequence(std::string_view head, uint64_t file_size) {
  const uint64_t object = DerSequenceBytes(head);
  if (object == 0 || object > file_size || file_size - object > kMaxDerPadding) return false;
  if (object == file_size) return true;
  return file_size <= head.size() &&
         head.substr(object).find_first_not_of('\0') == std::string_view::npos;
}

// Certificates, keys, PKCS#12 and PKCS#7 in DER: the whole nesting is walked (every length must
// add up), so an encrypted tail or middle breaks it; keys, signatures and encrypted bags are
// primitive values, random by nature, and skipped.
class DerValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "der"; }
  bool Matches(std::string_view head, uint64_t file_size) const override {
    return DerSequence(head, file_size);
  }
  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "der";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    if (size > limits::kMaxDerWalkBytes) {
      report.structure_checked = false;
      report.reasons.push_back("DER recognised by its spanning SEQUENCE (too large to walk)");
      return report;
    }
    auto bytes = reader.Read(0, static_cast<std::size_t>(size));
    if (!bytes.ok()) return report;
    const DerWalk walk = WalkDer(*bytes);  // which allows the zero padding DerSequence does
    if (walk.ok) {
      report.structure_end = size;
      report.reasons.push_back("DER: " + std::to_string(walk.nodes) +
                               " TLVs nested consistently to the end");
      return report;
    }
    report.integrity = Integrity::kDamaged;
    report.reasons.push_back("DER structure breaks at " + Hex(walk.bad_at) + " (after " +
                             std::to_string(walk.nodes) + " TLVs)");
    report.damaged_ranges.push_back({walk.bad_at, size - walk.bad_at});
    if (EndsInRandomBytes(bytes->substr(static_cast<std::size_t>(walk.bad_at)))) {
      report.evidence = DamageEvidence::kRandom;
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeDerValidator() {
  return std::make_unique<DerValidator>();
}

}  // namespace steen::content
