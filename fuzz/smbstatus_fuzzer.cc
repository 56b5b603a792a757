// smbstatus --json output (src/sys/smb_sessions.cc): user and machine names in it come from SMB
// clients, so the parser and the merge of the two runs' outputs must take anything. The input is
// split at its first NUL: before it the `-b` output, after it the `-S` output.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sys/smb_sessions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  (void)steen::sys::ParseSmbStatusJson(input);
  const std::size_t split = input.find('\0');
  if (split != std::string_view::npos) {
    const std::string merged =
        steen::sys::MergeSmbStatusJson(input.substr(0, split), input.substr(split + 1));
    (void)steen::sys::ParseSmbStatusJson(merged);
  }
  return 0;
}
