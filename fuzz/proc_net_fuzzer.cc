// /proc/PID/net/tcp and tcp6 lines and socket fd links (src/sys/smb_sessions.cc), and the
// listing of steen's nftables sets (src/sys/client_blocker.cc): kernel and nft output, parsed
// line by line with fixed field counts; any bytes must be refused cleanly.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sys/client_blocker.h"
#include "sys/smb_sessions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    const std::string_view line = input.substr(start, end - start);
    (void)steen::sys::ParseProcNetTcpLine(line);
    (void)steen::sys::ParseSocketLink(line);
    (void)steen::sys::CanonicalIpAddress(line);
    start = end + 1;
  }
  (void)steen::sys::ParseNftSetElements(input);
  return 0;
}
