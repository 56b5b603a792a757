#include <fcntl.h>
#include <gtest/gtest.h>

#include "sys/fanotify_parse.h"
#include "sys/proc.h"

namespace steen::sys {
namespace {

std::string StatLine(const std::string& pid_and_comm) {
  // state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime
  // cstime priority nice threads itreal starttime vsize ...
  return pid_and_comm + " S 100 200 300 0 -1 4194560 10 0 0 0 1 2 0 0 20 0 1 0 987654321 1000 5";
}

TEST(ProcStat, PlainComm) {
  auto st = ParseProcStat(StatLine("42 (bash)"));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pid, 42);
  EXPECT_EQ(st->comm, "bash");
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 100);
  EXPECT_EQ(st->pgid, 200);
  EXPECT_EQ(st->sid, 300);
  EXPECT_EQ(st->start_time, 987654321u);
}

TEST(ProcStat, CommWithSpacesAndParentheses) {
  auto st = ParseProcStat(StatLine("7 (evil) S 1 2 3 (x))"));
  ASSERT_TRUE(st);
  EXPECT_EQ(st->comm, "evil) S 1 2 3 (x)");
  EXPECT_EQ(st->ppid, 100);
  EXPECT_EQ(st->start_time, 987654321u);
  auto empty = ParseProcStat(StatLine("8 ()"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->comm, "");
  auto spaces = ParseProcStat(StatLine("9 (  a b  )"));
  ASSERT_TRUE(spaces);
  EXPECT_EQ(spaces->comm, "  a b  ");
}

TEST(ProcStat, RejectsBrokenLines) {
  EXPECT_FALSE(ParseProcStat(""));
  EXPECT_FALSE(ParseProcStat("42 bash S 1"));
  EXPECT_FALSE(ParseProcStat("42 (bash) S 1 2 3"));  // too few fields
  EXPECT_FALSE(ParseProcStat("x (bash) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"));
  EXPECT_FALSE(ParseProcStat(StatLine("42 (a")));  // no closing parenthesis
  EXPECT_FALSE(ParseProcStat("42 (a) S x 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"));
}

TEST(ProcStatus, TgidPpidUids) {
  auto st = ParseProcStatus(
      "Name:\tsmbd\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t500\nNgid:\t0\nPid:\t501\n"
      "PPid:\t400\nTracerPid:\t0\nUid:\t0\t1000\t1000\t1000\nGid:\t0\t0\t0\t0\n");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->tgid, 500);
  EXPECT_EQ(st->ppid, 400);
  EXPECT_TRUE(st->has_uid);
  EXPECT_EQ(st->real_uid, 0u);
  EXPECT_EQ(st->effective_uid, 1000u);
  EXPECT_FALSE(ParseProcStatus("Name:\tx\nPid:\t3\n"));
  EXPECT_FALSE(ParseProcStatus(""));
}

TEST(ProcCgroup, UnifiedAndLegacy) {
  EXPECT_EQ(ParseCgroup("0::/system.slice/smbd.service\n"), "/system.slice/smbd.service");
  EXPECT_EQ(ParseCgroup("12:pids:/user.slice\n1:name=systemd:/user.slice/a\n0::/x:y\n"), "/x:y");
  EXPECT_EQ(ParseCgroup("12:pids:/user.slice\n"), "/user.slice");
  EXPECT_EQ(ParseCgroup("garbage"), "");
}

TEST(SyscallLine, OpenFlags) {
  // openat(AT_FDCWD, p, O_WRONLY|O_CREAT|O_TRUNC, 0666)
  auto w = ParseSyscallOpenRequest("257 0xffffff9c 0x7ffd1234 0x241 0x1b6 0x0 0x0 0x7ffd 0x7f\n");
  EXPECT_EQ(w.intent, OpenIntent::kWrite);
  EXPECT_TRUE(w.truncate);
  auto r = ParseSyscallOpenRequest("257 0xffffff9c 0x7ffd1234 0x80000 0x0 0x0 0x0 0x7ffd 0x7f");
  EXPECT_EQ(r.intent, OpenIntent::kRead);
  EXPECT_FALSE(r.truncate);
  auto rw = ParseSyscallOpenRequest("2 0x7ffd1234 0x2 0x0 0x0 0x0 0x0 0x1 0x2");
  EXPECT_EQ(rw.intent, OpenIntent::kWrite);
  EXPECT_FALSE(rw.truncate);
  EXPECT_EQ(ParseSyscallOpenRequest("85 0x7ffd 0x1a4 0 0 0 0 0 0").intent, OpenIntent::kWrite);
  EXPECT_EQ(ParseSyscallOpenRequest("59 0x1 0x2 0x3 0 0 0 0 0").intent, OpenIntent::kExec);
  EXPECT_EQ(ParseSyscallOpenRequest("437 0x1 0x2 0x3 0x18 0 0 0 0").intent, OpenIntent::kUnknown);
  EXPECT_EQ(ParseSyscallOpenRequest("running").intent, OpenIntent::kUnknown);
  EXPECT_EQ(ParseSyscallOpenRequest("").intent, OpenIntent::kUnknown);
  EXPECT_EQ(ParseSyscallOpenRequest("257 0xffffff9c").intent, OpenIntent::kUnknown);
  EXPECT_EQ(ParseSyscallOpenRequest("257 0xzz 0x1 0x2").intent, OpenIntent::kUnknown);
}

}  // namespace
}  // namespace steen::sys
