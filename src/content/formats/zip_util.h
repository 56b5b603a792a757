// Helpers shared by the archive family of validators (zip, gzip, bzip2, xz, zstd, 7z, rar, tar):
// CRC-32, a capped reading allowance on top of the analyzer's head/tail reads, report shortcuts and
// the raw-deflate / zlib decoder probe.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "content/format.h"
#include "content/reader.h"
#include "steen/limits.h"

namespace steen::content::archive {

// Share of the analysis read budget one archive validator may spend: the analyzer itself needs
// head, tail and sample blocks, and a validator must never exhaust the Reader's budget.
inline constexpr uint64_t kValidatorReadAllowance = limits::kAnalysisReadBudget / 2;

uint32_t Crc32(std::string_view bytes, uint32_t crc = 0);

// Counts what a validator asks the Reader for and refuses reads beyond the allowance, so a hostile
// archive (a million tiny entries) cannot exhaust the analyzer's budget.
class BoundedReader {
 public:
  explicit BoundedReader(Reader& reader, uint64_t allowance = kValidatorReadAllowance)
      : reader_(reader), left_(allowance) {}
  uint64_t size() const { return reader_.size(); }
  // Bytes [offset, offset+length) clipped at EOF; nullopt when the allowance is spent or on error.
  std::optional<std::string_view> Read(uint64_t offset, std::size_t length);
  bool exhausted() const { return exhausted_; }

 private:
  Reader& reader_;
  uint64_t left_;
  bool exhausted_ = false;
};

// Marks the report damaged from `offset` to the end of the file.
void MarkDamaged(FormatReport& report, std::string reason, uint64_t offset, uint64_t file_size);

std::string Hex(uint64_t value);  // "0x1a3"

enum class ProbeOutcome {
  kStreamEnd,     // the stream ended cleanly inside the input
  kInputEnded,    // all input consumed without error, stream not finished
  kOutputCapped,  // decoded limits::kMaxDecodedProbe bytes without error
  kError,         // the decoder rejected the data
};

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::kError;
  std::size_t consumed = 0;  // input bytes consumed (exact at kStreamEnd)
  uint64_t produced = 0;     // output bytes
  uint32_t crc = 0;          // CRC-32 of the output (valid unless kOutputCapped)
  std::string error;         // decoder message for kError
};

// Inflates `input` (window_bits: -15 raw deflate, 15 zlib) producing at most max_output bytes.
ProbeResult InflateProbe(std::string_view input, int window_bits,
                         uint64_t max_output = limits::kMaxDecodedProbe);

// --verify (FormatValidator::VerifyWhole): bytes [begin, end) of the file in kDeepReadChunkBytes
// pieces, for a decoder that checks a whole stream against its own checksums. Next() is false at
// `end`, at the end of the file, or on a read error (then reader.status() says which).
class DeepChunks {
 public:
  DeepChunks(Reader& reader, uint64_t end) : DeepChunks(reader, 0, end) {}
  DeepChunks(Reader& reader, uint64_t begin, uint64_t end)
      : reader_(reader), end_(end), next_(begin) {}
  // Another range, the buffer kept (one per stream of a file would be allocated anew).
  void Restart(uint64_t begin, uint64_t end) {
    next_ = begin;
    end_ = end;
  }
  bool Next(std::string_view* chunk);
  uint64_t offset() const { return offset_; }  // of the last chunk
  uint64_t next() const { return next_; }      // where the next chunk starts
  bool done() const { return next_ >= end_; }  // `end` reached (not the file's end before it)

 private:
  Reader& reader_;
  uint64_t end_;
  uint64_t next_;
  uint64_t offset_ = 0;
  std::string buffer_;
};

// --verify: raw deflate streams inflated whole from the file, streamed through the Reader in
// kDeepReadChunkBytes pieces, with their output's CRC-32 and length (gzip members, ZIP entries).
// One z_stream and output buffer serve every stream of a file.
class WholeInflater {
 public:
  struct Result {
    enum class End {
      kStreamEnd,   // the stream's final block ended
      kInvalid,     // zlib refused the data (or stalled on it)
      kInputEnded,  // `limit` reached before the stream ended
      kFileEnded,   // the file ended before `limit` and the stream
      kReadError,   // the Reader's status says which
      kOverBudget,  // more than limits::kMaxDeepDecodedBytes decoded from this file
    };
    End end = End::kReadError;
    uint64_t at = 0;  // kStreamEnd: the first byte after the stream; otherwise where it stopped
    uint32_t crc = 0;
    uint64_t produced = 0;
    std::string error;  // zlib's message, for kInvalid
  };

  explicit WholeInflater(Reader& reader);
  ~WholeInflater();
  WholeInflater(const WholeInflater&) = delete;
  WholeInflater& operator=(const WholeInflater&) = delete;

  // Inflates the stream whose first byte is at `start`, reading no further than `limit`.
  Result Inflate(uint64_t start, uint64_t limit);
  // Bytes produced by every stream so far, and bytes the caller decoded otherwise (a ZIP's stored
  // entries), which count against the same limit.
  uint64_t decoded() const { return decoded_; }
  void CountDecoded(uint64_t bytes) { decoded_ += bytes; }

 private:
  Reader& reader_;
  z_stream z_{};
  bool ready_ = false;
  DeepChunks chunks_;
  std::vector<unsigned char> out_;
  uint64_t decoded_ = 0;  // by every stream of the file
};

// What decoding a whole stream found, applied to a report Validate found valid: damage where the
// decoder or a checksum refused the bytes, a stream cut short, or a reason saying what matched.
struct WholeDecode {
  enum class Outcome { kMatches, kDamaged, kTruncated, kUnchecked };
  Outcome outcome = Outcome::kUnchecked;
  uint64_t offset = 0;  // kDamaged: where
  std::string reason;
};
void ApplyWholeDecode(const WholeDecode& decode, uint64_t file_size, FormatReport& report);
// A decode stopped at limits::kMaxDeepDecodedBytes: what is left is unchecked, not damaged.
WholeDecode DecodedPastLimit(std::string_view format);

// VerifyWhole's body for every stream format: `decode(reader, end)` over the file up to the
// structure's end (bytes after it are the analyzer's to judge), applied to `report`.
template <typename Decode>
void VerifyWholeWith(Reader& reader, FormatReport& report, Decode decode) {
  const uint64_t size = reader.size();
  const uint64_t end = report.structure_end != 0 ? std::min(report.structure_end, size) : size;
  ApplyWholeDecode(decode(reader, end), size, report);
}

// Factories of the family's validators (registered in archive_formats.cc).
std::unique_ptr<const FormatValidator> MakeZipValidator();
std::unique_ptr<const FormatValidator> MakeGzipValidator();
std::unique_ptr<const FormatValidator> MakeBzip2Validator();
std::unique_ptr<const FormatValidator> MakeXzValidator();
std::unique_ptr<const FormatValidator> MakeZstdValidator();
std::unique_ptr<const FormatValidator> MakeSevenZipValidator();
std::unique_ptr<const FormatValidator> MakeRarValidator();
std::unique_ptr<const FormatValidator> MakeTarValidator();
std::unique_ptr<const FormatValidator> MakeCpioValidator();

}  // namespace steen::content::archive
