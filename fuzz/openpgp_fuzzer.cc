// libFuzzer target for the "openpgp" validator (Matches and Validate on arbitrary bytes).
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("openpgp", d, n);
}
