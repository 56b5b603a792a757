// ASN.1 DER/BER walking (src/content/formats/der.cc): Authenticode signature blobs of PE files are
// untrusted bytes; any nesting, length or tag must be walked within its bounds or refused.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "content/formats/der.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const steen::content::DerWalk walk =
      steen::content::WalkDer(std::string_view(reinterpret_cast<const char*>(data), size));
  if (walk.ok && walk.bad_at != 0) __builtin_trap();  // a walk that succeeded reports no break
  return 0;
}
