// Fuzz target for the SQLite rollback-journal validator (see validator_fuzz.h).
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
  return steen::fuzz::RunValidator("sqlite-journal", d, n);
}
