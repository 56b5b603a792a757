// The end of a large gzip file (gzip.cc's GzipEnd, deflate_blocks.h): the input is placed after
// a gzip header and a 64 KiB stored block, so the validator's probe decodes and the search for
// block starts near the end runs over the fuzzer's bytes; every bit is also screened directly.
#include <string>

#include "content/formats/deflate_blocks.h"
#include "validator_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const steen::content::archive::DeflateHeaderScanner scanner(input);
  unsigned found = 0;
  for (uint64_t byte = 0; byte <= size; ++byte) found += scanner.HeadersInByte(byte) != 0;
  (void)found;

  // Member header (no flags), then a non-final stored block of 65,535 zero bytes.
  std::string file("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  file += std::string("\x00\xff\xff\x00\x00", 5);
  file += std::string(65535, '\0');
  file += input;
  return steen::fuzz::RunValidator("gzip", reinterpret_cast<const uint8_t*>(file.data()),
                                   file.size());
}
