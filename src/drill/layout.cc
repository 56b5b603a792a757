// LayoutRanges: which bytes a family changes in a file of size S (behaviours.md §3).
#include <algorithm>
#include <cctype>

#include "steen/drill.h"

namespace steen::drill {
namespace {

// Caps the number of ranges one file can produce (Black Basta 64/192 on a 1 GiB file would give
// 5.6 M ranges; the merge keeps memory bounded and the walk finite).
constexpr uint64_t kMaxRangesPerFile = 1ULL << 24;

std::string LowerExtension(std::string_view file_name) {
  std::size_t slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  std::string ext(file_name.substr(dot));
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

const LayoutRule* MatchRule(const Profile& profile, uint64_t size, std::string_view file_name) {
  std::string ext = LowerExtension(file_name);
  for (const auto& rule : profile.layout) {
    if (size < rule.min_size || size > rule.max_size) continue;
    if (!rule.extensions.empty() &&
        std::find(rule.extensions.begin(), rule.extensions.end(), ext) == rule.extensions.end()) {
      continue;
    }
    return &rule;
  }
  return nullptr;
}

void Add(std::vector<ByteRange>* out, uint64_t offset, uint64_t length, uint64_t size,
         uint64_t align) {
  if (offset >= size) return;
  length = std::min(length, size - offset);
  length -= length % align;
  if (length > 0) out->push_back({offset, length});
}

uint64_t MulDiv(uint64_t a, uint64_t b, uint64_t c) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b / c);
}

std::vector<ByteRange> RuleRanges(const LayoutRule& r, uint64_t size) {
  std::vector<ByteRange> out;
  switch (r.kind) {
    case LayoutKind::kNone:
      break;
    case LayoutKind::kFull:
      Add(&out, r.offset, size, size, r.align);
      break;
    case LayoutKind::kHead:
      Add(&out, r.offset, r.length, size, r.align);
      break;
    case LayoutKind::kStride: {
      uint64_t end = r.stop ? std::min(r.stop, size) : size;
      Add(&out, r.offset, std::min(r.first, end > r.offset ? end - r.offset : 0), end, r.align);
      uint64_t pos = r.offset + r.first;
      uint64_t runs = 0;
      while (r.chunk > 0 && out.size() < kMaxRangesPerFile) {
        if (r.max_chunks && runs >= r.max_chunks) break;
        if (pos > UINT64_MAX - r.skip) break;
        pos += r.skip;
        if (pos >= end) break;
        Add(&out, pos, r.chunk, end, r.align);
        pos += r.chunk;
        ++runs;
      }
      break;
    }
    case LayoutKind::kSpread: {
      uint64_t area = size > r.offset ? size - r.offset : 0;
      uint64_t chunk = r.chunk ? r.chunk : MulDiv(area, r.chunk_permille, 1000);
      if (chunk == 0) break;
      uint64_t n = r.count;
      if (n == 0) n = MulDiv(area, r.count_permille, 1000) / chunk;
      n = std::clamp<uint64_t>(n, r.count_min, r.count_max);
      n = std::max<uint64_t>(n, 1);
      if (n * chunk >= area || n == 1) {  // chunks cover the file (or one chunk from 0)
        Add(&out, r.offset, n == 1 ? chunk : area, size, r.align);
        break;
      }
      uint64_t divisor = r.gaps_after ? n : n - 1;
      uint64_t gap = (area - n * chunk) / divisor;
      for (uint64_t i = 0; i < n; ++i)
        Add(&out, r.offset + i * (chunk + gap), chunk, size, r.align);
      break;
    }
    case LayoutKind::kRegions: {
      uint64_t area = size > r.offset ? size - r.offset : 0;
      uint64_t region = area / r.count;
      if (region == 0) {
        Add(&out, r.offset, area, size, r.align);
        break;
      }
      for (uint64_t i = 0; i < r.count; ++i) {
        Add(&out, r.offset + i * region, std::min(r.chunk, region), size, r.align);
      }
      break;
    }
  }
  return out;
}

}  // namespace

std::vector<ByteRange> LayoutRanges(const Profile& profile, uint64_t size,
                                    std::string_view file_name) {
  const LayoutRule* rule = MatchRule(profile, size, file_name);
  if (rule == nullptr || size == 0) return {};
  std::vector<ByteRange> ranges = RuleRanges(*rule, size);
  std::sort(ranges.begin(), ranges.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<ByteRange> merged;
  for (const auto& range : ranges) {
    if (!merged.empty() && range.offset <= merged.back().end()) {
      merged.back().length = std::max(merged.back().end(), range.end()) - merged.back().offset;
    } else {
      merged.push_back(range);
    }
  }
  return merged;
}

uint64_t FooterSize(const Profile& profile, uint64_t size, std::string_view file_name) {
  const LayoutRule* rule = MatchRule(profile, size, file_name);
  if (rule != nullptr && rule->has_footer) return rule->footer_size;
  return profile.footer_size;
}

// Exposed to transform.cc.
CipherKind RuleCipher(const Profile& profile, uint64_t size, std::string_view file_name) {
  const LayoutRule* rule = MatchRule(profile, size, file_name);
  if (rule != nullptr && rule->has_cipher) return rule->cipher;
  return profile.cipher;
}

}  // namespace steen::drill
