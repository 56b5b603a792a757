#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("cpio", d, n);
}
