// read_floor DIR...: reads every regular file under DIR once, in one thread, through one reused
// buffer, and prints the bytes read. The cost of reading a tree and nothing else: a yardstick
// beside `cat`, whose cost per file depends on the machine (coreutils' cat allocates a fresh
// 128 KiB buffer for every file; where page faults are expensive, e.g. some virtual machines,
// that costs more than the reading itself). Symbolic links are not followed, as steen scan.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: read_floor DIR...\n");
    return 2;
  }
  std::vector<char> buffer(128 * 1024);
  unsigned long long bytes = 0, files = 0, errors = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(
        argv[i], std::filesystem::directory_options::skip_permission_denied, ec);
    if (ec) {
      std::fprintf(stderr, "read_floor: %s: %s\n", argv[i], ec.message().c_str());
      return 2;
    }
    for (; it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC | O_NOATIME);
      if (fd < 0) {
        ++errors;
        continue;
      }
      ssize_t n = 0;
      while ((n = ::read(fd, buffer.data(), buffer.size())) > 0) bytes += n;
      if (n < 0) ++errors;
      ::close(fd);
      ++files;
    }
  }
  std::printf("%llu files, %llu bytes, %llu errors\n", files, bytes, errors);
  return errors == 0 ? 0 : 1;
}
