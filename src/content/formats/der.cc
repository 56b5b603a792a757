#include "content/formats/der.h"

#include <algorithm>

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

}  // namespace steen::content
