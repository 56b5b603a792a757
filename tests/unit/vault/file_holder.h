// FileHolder: another process that opens a file (and optionally locks or maps it) and keeps it
// until told to go, as an editor or an SMB session would. Rollback tests use it to prove steen
// never swaps a file out from under its user.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace steen::vault {

class FileHolder {
 public:
  enum class Hold { kOpenForWriting, kReadLock, kFlock, kSharedWritableMapping };

  FileHolder(const std::string& path, Hold hold) {
    int ready[2], go[2];
    EXPECT_EQ(::pipe2(ready, O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(go, O_CLOEXEC), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      const bool writes = hold == Hold::kOpenForWriting || hold == Hold::kSharedWritableMapping;
      int fd = ::open(path.c_str(), writes ? O_RDWR : O_RDONLY);
      bool ok = fd >= 0;
      if (ok && hold == Hold::kReadLock) {
        struct flock lock {};
        lock.l_type = F_RDLCK;
        lock.l_whence = SEEK_SET;
        ok = ::fcntl(fd, F_SETLK, &lock) == 0;
      }
      if (ok && hold == Hold::kFlock) ok = ::flock(fd, LOCK_SH) == 0;
      if (ok && hold == Hold::kSharedWritableMapping) {
        ok = ::mmap(nullptr, 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED;
        ::close(fd);  // the mapping alone keeps the file writable
      }
      char c = ok ? 'y' : 'n';
      (void)!::write(ready[1], &c, 1);
      (void)!::read(go[0], &c, 1);  // until the parent closes it
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(go[0]);
    go_ = go[1];
    char c = 0;
    struct pollfd p = {ready[0], POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10000), 1);
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    EXPECT_EQ(c, 'y') << "the holder could not take " << path;
    ::close(ready[0]);
  }
  ~FileHolder() { Release(); }
  FileHolder(const FileHolder&) = delete;
  FileHolder& operator=(const FileHolder&) = delete;

  void Release() {
    if (pid_ <= 0) return;
    ::close(go_);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int go_ = -1;
};

}  // namespace steen::vault
