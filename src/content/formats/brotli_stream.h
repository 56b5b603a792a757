// Brotli streams (RFC 7932), decoded with libbrotlidec, output discarded: WOFF2's table data and
// raw .br / .brotli files (web servers' precompressed assets). Brotli has no signature and little
// slack for random bits: a stream that decodes to its exact end is one; ciphertext anywhere in it
// fails the decoder or the end.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "content/format.h"
#include "content/reader.h"

namespace steen::content {

struct BrotliRun {
  enum class End {
    kFinished,     // the stream ended (after `consumed` bytes)
    kError,        // the decoder refused the bytes around `consumed`
    kInputEnded,   // the input ended inside the stream
    kOutputLimit,  // more than the allowed output: stopped, no error so far
    kReadError,    // the reader failed (the analyzer reports it)
  };
  End end = End::kInputEnded;
  uint64_t consumed = 0;  // input bytes the decoder took
  uint64_t produced = 0;  // bytes decoded
  std::string error;      // the decoder's words for kError
};

// Decodes the stream in the `length` bytes at `at` (through `reader`, 64 KiB at a time) until it
// ends, fails, the input ends or more than `max_output` bytes come out.
BrotliRun RunBrotli(Reader& reader, uint64_t at, uint64_t length, uint64_t max_output);
// The same over bytes in memory.
BrotliRun RunBrotli(std::string_view bytes, uint64_t max_output);

// A raw Brotli file (.br, .brotli): at most limits::kMaxBrotliFileBytes, its first meta-block
// compressed (what encoders write for anything worth compressing; an uncompressed or metadata
// first block would let random bytes pass), decoded whole to its end. Not in MakeAllValidators:
// the analyzer tries it only for files nothing else claimed, outside every search by signature.
std::unique_ptr<const FormatValidator> MakeBrotliValidator();

}  // namespace steen::content
