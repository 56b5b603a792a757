// Fuzz target for the VP8 key-frame parse (content/formats/vp8_frame.h): the input is a 'VP8 '
// chunk's payload. The WebP validator around it is fuzzed by riff_fuzzer.
#include <cstdint>
#include <string_view>

#include "content/formats/vp8_frame.h"
#include "steen/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  (void)steen::content::media::CheckVp8KeyFrame(
      frame, steen::limits::kMaxWebpSymbolsBase + steen::limits::kMaxWebpSymbolsPerByte * size);
  return 0;
}
