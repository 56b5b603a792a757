// Reader: the analyzer's and validators' only way to the file's bytes. Caches what was read, keeps
// a byte budget (so a hostile file cannot make a non-deep scan read everything), and records which
// ranges were read so a report can say so.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "steen/content.h"
#include "steen/status.h"

namespace steen::content {

class Reader {
 public:
  Reader(ByteSource& source, uint64_t budget_bytes);

  uint64_t size() const { return size_; }

  // Bytes [offset, offset + length) clipped at end of file; empty past EOF. The view stays valid
  // for the Reader's lifetime. Fails on an I/O error or when the budget would be exceeded; the
  // first such error is kept in status().
  StatusOr<std::string_view> Read(uint64_t offset, std::size_t length);

  // Reads without caching (deep streaming); still counted in RangesRead(), not in the budget.
  Status ReadUncached(uint64_t offset, std::size_t length, std::string* out);

  const Status& status() const { return status_; }
  std::vector<ByteRange> RangesRead() const;  // merged and sorted
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  struct Chunk {
    uint64_t offset;
    std::string bytes;
  };
  // The cached chunk holding [offset, offset + length), or nullptr.
  const Chunk* Find(uint64_t offset, std::size_t length);

  ByteSource& source_;
  uint64_t size_;
  uint64_t budget_;
  uint64_t bytes_read_ = 0;
  uint64_t budget_used_ = 0;
  std::deque<Chunk> chunks_;  // deque: views into chunks stay valid as chunks are added
  std::size_t last_hit_ = 0;  // the chunk the previous read was served from (tried first)
  // Lookups without scanning every chunk: validators that walk a file's elements (Matroska
  // blocks, MP4 tables) leave thousands of small chunks, and a scan over all of them for every
  // read made such files quadratic. Large chunks (head, tail, samples: a few dozen) are scanned;
  // small ones are found by offset.
  std::vector<std::size_t> large_;         // indices into chunks_
  std::map<uint64_t, std::size_t> small_;  // offset -> index into chunks_ (the longest there)
  std::vector<ByteRange> ranges_;
  Status status_;
};

// Sorted, with overlapping and adjacent ranges joined and empty ones dropped.
std::vector<ByteRange> MergeRanges(std::vector<ByteRange> ranges);

}  // namespace steen::content
