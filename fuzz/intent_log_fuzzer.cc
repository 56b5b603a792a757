// The vault's intent log (src/vault/intent_log.cc): read back at the owner's Open after a crash,
// possibly torn or damaged on disk; any bytes must be refused cleanly, and what decodes must
// encode to the same payload.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vault/intent_log.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)steen::vault::ParseLog(input);
  if (auto intent = steen::vault::DecodeIntent(input)) {
    if (steen::vault::EncodeIntent(*intent) != input) std::abort();
  }
  return 0;
}
