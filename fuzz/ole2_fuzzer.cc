// Fuzz target for the ole2 validator (see validator_fuzz.h).
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("ole2", d, n);
}
