// Content analysis: is this file intact, or damaged by encryption, encoding, bit flipping or
// overwriting? Pure: bytes in (through a ByteSource), verdict out; no global state, no clock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "steen/status.h"

namespace steen {

enum class Verdict { kIntact, kDamaged, kUnknown };
enum class DamageKind {
  kNone,
  kEncrypted,           // (nearly) all content replaced by ciphertext
  kPartiallyEncrypted,  // ciphertext in some ranges, original bytes elsewhere (intermittent)
  kEncodedCiphertext,   // ciphertext written as base64 or hex text
  kBitTransformed,      // every byte mapped by a fixed transform (255 - b, XOR constant)
  kOverwritten,         // structure destroyed by non-random bytes (wipers, zero fill)
};

std::string_view ToString(Verdict verdict);
std::string_view ToString(DamageKind kind);

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};

// Random-access, read-only view of a file's bytes. The analyzer asks only for the ranges it needs.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t Size() const = 0;
  // Reads min(length, Size() - offset) bytes at offset into *out (replacing its contents).
  // Fails only on I/O errors; reading past the end yields fewer (or zero) bytes.
  virtual Status ReadAt(uint64_t offset, std::size_t length, std::string* out) = 0;
};

// A ByteSource over bytes in memory (tests, fuzzers, the watcher's in-memory buffers).
class MemoryByteSource final : public ByteSource {
 public:
  explicit MemoryByteSource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t Size() const override { return bytes_.size(); }
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override;

 private:
  std::string_view bytes_;
};

struct AnalyzeOptions {
  bool deep = false;  // read every byte instead of head, tail and samples
  // Decode compressed files (gzip, xz, zstd, bzip2, ZIP entries, every WebP picture) whole and
  // check them against their own checksums and lengths: damage anywhere inside them is found, at
  // decompression speed (backups).
  bool verify_streams = false;
};

struct Analysis {
  Verdict verdict = Verdict::kUnknown;
  DamageKind kind = DamageKind::kNone;
  double score = 0.0;                  // 0 = certainly intact ... 1 = certainly damaged
  std::string format;                  // detected format, e.g. "pdf", "docx", "text", "unknown"
  bool encrypted_container = false;    // intact, and legitimately encrypted (OpenPGP, age, ZIP -e)
  std::vector<std::string> reasons;    // why, in words a person can read
  std::vector<ByteRange> ranges_read;  // merged, sorted ranges the analysis read
  uint64_t bytes_read = 0;
};

// Compile once, analyze many (libyara style): holds the format validators; Analyze is const and
// safe to call from many threads at once.
class ContentAnalyzer {
 public:
  ContentAnalyzer();
  ~ContentAnalyzer();
  ContentAnalyzer(const ContentAnalyzer&) = delete;
  ContentAnalyzer& operator=(const ContentAnalyzer&) = delete;

  // Returns a non-OK status only when the source could not be read; a damaged or malformed file is
  // a verdict, not an error.
  StatusOr<Analysis> Analyze(ByteSource& source, const AnalyzeOptions& options = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace steen
