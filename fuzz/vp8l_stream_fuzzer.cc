// Fuzz target for the WebP lossless parse (content/formats/vp8l_stream.h): the input is a 'VP8L'
// chunk's payload, and again (after its first byte, the ALPH header) an alpha plane of 64 x 48.
#include <cstdint>
#include <string_view>

#include "content/formats/vp8l_stream.h"
#include "steen/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view stream(reinterpret_cast<const char*>(data), size);
  const uint64_t budget =
      steen::limits::kMaxWebpSymbolsBase + steen::limits::kMaxWebpSymbolsPerByte * size;
  (void)steen::content::media::CheckVp8lImage(stream, budget);
  (void)steen::content::media::CheckAlphaChunk(stream, 64, 48, budget);
  return 0;
}
