// libFuzzer target for the "pe" validator (Matches and Validate on arbitrary bytes).
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("pe", d, n);
}
