// Parsers behind WritersOf/LocksOn: /proc/locks, /proc/PID/maps and fdinfo lines as the kernel
// prints them, plus the live probes against a file this test holds.
#include "sys/file_users.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace steen::sys {
namespace {

TEST(FileUsersParse, ProcLocksHoldersAreReadAndWaitersSkipped) {
  auto locks = ParseProcLocks(
      "1: POSIX  ADVISORY  WRITE 1234 08:02:131073 0 EOF\n"
      "1: -> POSIX  ADVISORY  WRITE 999 08:02:131073 0 EOF\n"
      "2: FLOCK  ADVISORY  READ 77 fd:01:42 0 EOF\n"
      "3: OFDLCK ADVISORY  WRITE -1 00:1a:5 0 EOF\n"
      "4: LEASE  BREAKING  READ 55 103:05:9 0 EOF\n"
      "garbage\n5: POSIX ADVISORY WRITE x 08:02:1 0 EOF\n");
  ASSERT_EQ(locks.size(), 4u);
  EXPECT_EQ(locks[0].kind, "POSIX");
  EXPECT_EQ(locks[0].mode, "WRITE");
  EXPECT_EQ(locks[0].pid, 1234);
  EXPECT_EQ(locks[0].major, 8u);
  EXPECT_EQ(locks[0].minor, 2u);
  EXPECT_EQ(locks[0].inode, 131073u);
  EXPECT_EQ(locks[1].major, 0xfdu);
  EXPECT_EQ(locks[2].pid, -1);
  EXPECT_EQ(locks[3].major, 0x103u);
}

TEST(FileUsersParse, OnlySharedWritableMappingsOfTheInodeCount) {
  const char* shared = "7f2c0000-7f2c1000 rw-s 00000000 08:02 131073    /srv/share/a.db";
  EXPECT_TRUE(MapsLineIsSharedWritable(shared, 8, 2, 131073));
  EXPECT_FALSE(MapsLineIsSharedWritable(shared, 8, 2, 131074));
  EXPECT_FALSE(MapsLineIsSharedWritable(shared, 8, 3, 131073));
  EXPECT_FALSE(
      MapsLineIsSharedWritable("7f2c0000-7f2c1000 r--s 00000000 08:02 131073 /a", 8, 2, 131073));
  EXPECT_FALSE(
      MapsLineIsSharedWritable("7f2c0000-7f2c1000 rw-p 00000000 08:02 131073 /a", 8, 2, 131073));
  EXPECT_FALSE(MapsLineIsSharedWritable("short line", 8, 2, 131073));
}

TEST(FileUsersParse, FdinfoFlagsAreOctal) {
  EXPECT_EQ(ParseFdinfoFlags("pos:\t0\nflags:\t0100002\nmnt_id:\t29\n"), 0100002);
  EXPECT_EQ(ParseFdinfoFlags("pos:\t0\n"), -1);
}

TEST(FileUsersLive, OwnDescriptorsAndLocksAreNotCounted) {
  char path[] = "/tmp/steen-file-users.XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  ASSERT_EQ(::fcntl(fd, F_SETLK, &lock), 0);
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_TRUE(WritersOf(st.st_dev, st.st_ino).empty());
  EXPECT_TRUE(LocksOn(st.st_dev, st.st_ino).empty());
  ::close(fd);
  ::unlink(path);
}

}  // namespace
}  // namespace steen::sys
