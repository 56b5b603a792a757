// A lossless WebP image stream (VP8L: a 'VP8L' chunk, or the alpha plane of a lossy picture in
// an 'ALPH' chunk) parsed to its end: transforms, color cache, prefix codes and every symbol of
// the picture, without applying a transform. Prefix codes must be complete and backward
// references must stay inside the picture; the picture's last symbol must end in the stream's
// last byte (the encoder pads at most 7 zero bits), which random bytes anywhere before it break.
// Written here rather than taken from libwebp, whose decoder builds the picture (several times
// this parse's cost and memory) and accepts bytes left over after it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace steen::content::media {

struct Vp8lStreamCheck {
  enum class Result {
    kConsistent,  // every symbol decodes and the last one ends the stream
    kBroken,      // an impossible code, a reference outside the picture, or the wrong end
    kNotChecked,  // past the work limit
  };
  Result result = Result::kNotChecked;
  uint64_t offset = 0;  // byte of the stream where the parse found the break
  std::string detail;
};

// A 'VP8L' chunk's payload (signature, dimensions, then the image stream).
Vp8lStreamCheck CheckVp8lImage(std::string_view chunk, uint64_t max_symbols);
// An 'ALPH' chunk's payload: its one-byte header, then (compression 1) an image stream of the
// picture's dimensions without the VP8L header. Uncompressed alpha is consistent when its size
// is width x height.
Vp8lStreamCheck CheckAlphaChunk(std::string_view chunk, uint32_t width, uint32_t height,
                                uint64_t max_symbols);

}  // namespace steen::content::media
