// libFuzzer target for the "text" validator (Matches and Validate on arbitrary bytes).
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("text", d, n);
}
