// Raw Brotli streams: the validator the analyzer tries for files nothing else claimed (it is not
// in MakeAllValidators, so validator_fuzz.h's lookup by name does not reach it).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "content/format.h"
#include "content/formats/brotli_stream.h"
#include "steen/limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto validator = steen::content::MakeBrotliValidator();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  steen::MemoryByteSource source(bytes);
  steen::content::Reader reader(source, steen::limits::kAnalysisReadBudget);
  (void)validator->Matches(bytes.substr(0, steen::limits::kHeadBytes), size);
  (void)validator->Validate(reader);  // must cope with inputs that do not match
  return 0;
}
