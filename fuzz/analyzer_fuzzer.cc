// Fuzzes the whole content analysis (every validator reachable from a file's bytes).
#include <cstdint>
#include <string_view>

#include "steen/content.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const steen::ContentAnalyzer analyzer;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  steen::MemoryByteSource source(bytes);
  (void)analyzer.Analyze(source);
  steen::AnalyzeOptions deep;
  deep.deep = true;
  (void)analyzer.Analyze(source, deep);
  return 0;
}
