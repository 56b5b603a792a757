#include "content/reader.h"

#include <algorithm>

namespace steen::content {

Reader::Reader(ByteSource& source, uint64_t budget_bytes)
    : source_(source), size_(source.Size()), budget_(budget_bytes) {}

StatusOr<std::string_view> Reader::Read(uint64_t offset, std::size_t length) {
  if (offset >= size_) return std::string_view();
  length = static_cast<std::size_t>(std::min<uint64_t>(length, size_ - offset));
  // Newest first: validators read near what they read last (the next frame header, the next
  // table entry), and a sampled file holds over a hundred chunks.
  for (auto it = chunks_.rbegin(); it != chunks_.rend(); ++it) {
    const Chunk& chunk = *it;
    if (offset >= chunk.offset && offset + length <= chunk.offset + chunk.bytes.size()) {
      return std::string_view(chunk.bytes).substr(offset - chunk.offset, length);
    }
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
  return std::string_view(chunks_.back().bytes);
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

std::vector<ByteRange> Reader::RangesRead() const {
  std::vector<ByteRange> sorted = ranges_;
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
