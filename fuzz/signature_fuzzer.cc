#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return steen::fuzz::RunValidator("signature", data, size);
}
