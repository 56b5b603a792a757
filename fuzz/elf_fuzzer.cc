// libFuzzer target for the "elf" validator (Matches and Validate on arbitrary bytes).
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("elf", d, n);
}
