// A temporary directory for scan tests, removed (with rm -rf, which copes with very deep trees)
// at the end of the test.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace steen::scan::testing {

class TempTree {
 public:
  TempTree() {
    char pattern[] = "/tmp/steen_scan_test_XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempTree() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

  // Creates (or replaces) a file with the given bytes; parent folders must exist.
  void Write(std::string_view name, std::string_view bytes) const {
    const std::string full = *this / name;
    const int fd = open(full.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) std::abort();
    if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) std::abort();
    close(fd);
  }
  void Mkdir(std::string_view name) const { mkdir((*this / name).c_str(), 0755); }

 private:
  std::string path_;
};

}  // namespace steen::scan::testing
