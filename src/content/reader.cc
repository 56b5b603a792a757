#include "content/reader.h"

#include <algorithm>

namespace steen::content {

namespace {
// Chunks at least this long are few (head, tail, samples, whole small files) and scanned.
constexpr std::size_t kLargeChunkBytes = 4096;
}  // namespace

Reader::Reader(ByteSource& source, uint64_t budget_bytes)
    : source_(source), size_(source.Size()), budget_(budget_bytes) {}

StatusOr<std::string_view> Reader::Read(uint64_t offset, std::size_t length) {
  if (offset >= size_) return std::string_view();
  length = static_cast<std::size_t>(std::min<uint64_t>(length, size_ - offset));
  if (const Chunk* chunk = Find(offset, length)) {
    return std::string_view(chunk->bytes).substr(offset - chunk->offset, length);
  }
  if (budget_used_ + length > budget_) {
    Status st =
        Status::ResourceExhausted("read budget of " + std::to_string(budget_) + " bytes spent");
    if (status_.ok()) status_ = st;
    return st;
  }
  Chunk chunk{offset, {}};
  Status st = source_.ReadAt(offset, length, &chunk.bytes);
  if (!st.ok()) {
    if (status_.ok()) status_ = st;
    return st;
  }
  budget_used_ += chunk.bytes.size();
  bytes_read_ += chunk.bytes.size();
  ranges_.push_back({offset, chunk.bytes.size()});
  chunks_.push_back(std::move(chunk));
  last_hit_ = chunks_.size() - 1;
  const Chunk& added = chunks_.back();
  if (added.bytes.size() >= kLargeChunkBytes) {
    large_.push_back(last_hit_);
  } else {
    auto [it, inserted] = small_.emplace(added.offset, last_hit_);
    if (!inserted && chunks_[it->second].bytes.size() < added.bytes.size()) it->second = last_hit_;
  }
  return std::string_view(added.bytes);
}

const Reader::Chunk* Reader::Find(uint64_t offset, std::size_t length) {
  const auto holds = [&](std::size_t i) {
    const Chunk& chunk = chunks_[i];
    return offset >= chunk.offset && offset + length <= chunk.offset + chunk.bytes.size();
  };
  // The chunk of the previous read first: validators read near what they read last.
  if (last_hit_ < chunks_.size() && holds(last_hit_)) return &chunks_[last_hit_];
  // Small chunks (< kLargeChunkBytes) that can hold the range start within kLargeChunkBytes
  // before it: the nearest few by offset.
  auto it = small_.upper_bound(offset);
  for (int k = 0; k < 4 && it != small_.begin(); ++k) {
    --it;
    if (offset - it->first >= kLargeChunkBytes) break;
    if (holds(it->second)) {
      last_hit_ = it->second;
      return &chunks_[last_hit_];
    }
  }
  for (auto large = large_.rbegin(); large != large_.rend(); ++large) {
    if (holds(*large)) {
      last_hit_ = *large;
      return &chunks_[last_hit_];
    }
  }
  return nullptr;
}

Status Reader::ReadUncached(uint64_t offset, std::size_t length, std::string* out) {
  Status st = source_.ReadAt(offset, length, out);
  if (!st.ok()) {
    if (status_.ok()) status_ = st;
    return st;
  }
  bytes_read_ += out->size();
  ranges_.push_back({offset, out->size()});
  return st;
}

std::vector<ByteRange> Reader::RangesRead() const { return MergeRanges(ranges_); }

std::vector<ByteRange> MergeRanges(std::vector<ByteRange> sorted) {
  std::sort(sorted.begin(), sorted.end(),
            [](const ByteRange& a, const ByteRange& b) { return a.offset < b.offset; });
  std::vector<ByteRange> merged;
  for (const ByteRange& r : sorted) {
    if (r.length == 0) continue;
    if (!merged.empty() && r.offset <= merged.back().end()) {
      merged.back().length = std::max(merged.back().end(), r.end()) - merged.back().offset;
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

}  // namespace steen::content
