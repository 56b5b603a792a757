#include "sys/fanotify_parse.h"

#include <gtest/gtest.h>
#include <linux/fanotify.h>

#include <cstring>

#include "sys/fanotify_source.h"

namespace steen::sys {
namespace {

DirEntryId Entry(std::string handle, std::string name) {
  return {FileId{0x1122334455667788ull, 1, std::move(handle)}, std::move(name)};
}

ParsedBuffer Parse(const std::string& bytes) {
  return ParseFanotifyBuffer(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

TEST(FanotifyParse, CreateWithDirNameAndTarget) {
  std::string bytes = EncodeFanotifyEventForTest(
      FAN_CREATE, FAN_NOFD, 77,
      {{FAN_EVENT_INFO_TYPE_DFID_NAME, Entry(std::string("\x0c\0\0\0\x01\0\0\0", 8), "a b.txt")},
       {FAN_EVENT_INFO_TYPE_FID, Entry(std::string("\x2a\0\0\0\x05\0\0\0", 8), "")}});
  auto parsed = Parse(bytes);
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_EQ(parsed.trailing_bytes, 0u);
  const auto& ev = parsed.events[0];
  EXPECT_FALSE(ev.malformed);
  EXPECT_EQ(ev.mask, FAN_CREATE);
  EXPECT_EQ(ev.pid, 77);
  EXPECT_EQ(ev.fd, FAN_NOFD);
  ASSERT_TRUE(ev.entry);
  EXPECT_EQ(ev.entry->name, "a b.txt");
  EXPECT_EQ(ev.entry->dir.fsid, 0x1122334455667788ull);
  EXPECT_EQ(ev.entry->dir.handle_type, 1);
  EXPECT_EQ(ev.entry->dir.handle.size(), 8u);
  ASSERT_TRUE(ev.fid);
  EXPECT_EQ(InodeFromHandle(*ev.fid), 42u);
  // XFS (64-bit inode numbers: u64 inode, u32 generation) and btrfs (u64 objectid, root, gen).
  const uint64_t big = 0x123456789ull;
  std::string xfs(reinterpret_cast<const char*>(&big), 8);
  xfs += std::string("\x07\0\0\0", 4);
  EXPECT_EQ(InodeFromHandle(FileId{0, 0x81, xfs}), big);
  EXPECT_EQ(InodeFromHandle(FileId{0, 0x82, xfs + std::string(12, '\0')}), big);
  EXPECT_EQ(InodeFromHandle(FileId{0, 0x4e, xfs + std::string(8, '\0')}), big);
  EXPECT_EQ(InodeFromHandle(FileId{0, 0x81, "12345678"}), 0u);  // too short for its type
  EXPECT_EQ(InodeFromHandle(FileId{0, 0x99, xfs}), 0u);         // type not understood
}

TEST(FanotifyParse, RenameAndSeveralEvents) {
  std::string bytes = EncodeFanotifyEventForTest(
                          FAN_RENAME, FAN_NOFD, 5,
                          {{FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, Entry("AAAAAAAA", "old")},
                           {FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, Entry("BBBBBBBBBBBB", "n")}}) +
                      EncodeFanotifyEventForTest(FAN_CLOSE_WRITE, 9, 6, {}) +
                      EncodeFanotifyEventForTest(FAN_Q_OVERFLOW, FAN_NOFD, 0, {});
  auto parsed = Parse(bytes);
  ASSERT_EQ(parsed.events.size(), 3u);
  ASSERT_TRUE(parsed.events[0].old_entry && parsed.events[0].new_entry);
  EXPECT_EQ(parsed.events[0].old_entry->name, "old");
  EXPECT_EQ(parsed.events[0].new_entry->name, "n");
  EXPECT_EQ(parsed.events[0].new_entry->dir.handle, "BBBBBBBBBBBB");
  EXPECT_EQ(parsed.events[1].fd, 9);
  EXPECT_EQ(parsed.events[2].mask, FAN_Q_OVERFLOW);
}

TEST(FanotifyParse, TruncatedBuffersNeverReadPastTheEnd) {
  std::string bytes = EncodeFanotifyEventForTest(
      FAN_DELETE, FAN_NOFD, 5, {{FAN_EVENT_INFO_TYPE_DFID_NAME, Entry("AAAAAAAA", "gone")}});
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    // Copy to an exactly-sized heap buffer so ASan would catch any overread.
    std::vector<uint8_t> exact(bytes.begin(), bytes.begin() + cut);
    auto parsed = ParseFanotifyBuffer(exact.data(), exact.size());
    EXPECT_TRUE(parsed.events.empty()) << cut;
    EXPECT_EQ(parsed.trailing_bytes, cut);
  }
}

TEST(FanotifyParse, MalformedRecordsAreFlaggedAndTheFdKept) {
  std::string bytes = EncodeFanotifyEventForTest(
      FAN_CREATE, 12, 5, {{FAN_EVENT_INFO_TYPE_DFID_NAME, Entry("AAAAAAAA", "x")}});
  // handle_bytes lies (bigger than the record): offset = metadata + hdr + fsid.
  std::string lying = bytes;
  uint32_t huge = 4000;
  std::memcpy(lying.data() + sizeof(fanotify_event_metadata) + 4 + 8, &huge, 4);
  auto parsed = Parse(lying);
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_TRUE(parsed.events[0].malformed);
  EXPECT_FALSE(parsed.events[0].entry);
  EXPECT_EQ(parsed.events[0].fd, 12);
  // Name without its terminating NUL: overwrite the name and padding.
  std::string no_nul = bytes;
  for (std::size_t i = no_nul.size() - 4; i < no_nul.size(); ++i) no_nul[i] = 'z';
  parsed = Parse(no_nul);
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_TRUE(parsed.events[0].malformed);
  // Info header length of 0 would loop forever if not refused.
  std::string zero_len = bytes;
  zero_len[sizeof(fanotify_event_metadata) + 2] = 0;
  zero_len[sizeof(fanotify_event_metadata) + 3] = 0;
  parsed = Parse(zero_len);
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_TRUE(parsed.events[0].malformed);
  // event_len smaller than the metadata: stop, report trailing bytes.
  std::string tiny = bytes;
  uint32_t small = 8;
  std::memcpy(tiny.data(), &small, 4);
  parsed = Parse(tiny);
  EXPECT_TRUE(parsed.events.empty());
  EXPECT_EQ(parsed.trailing_bytes, tiny.size());
}

TEST(FanotifyParse, VersionMismatchKeepsFds) {
  std::string bytes = EncodeFanotifyEventForTest(FAN_OPEN_PERM, 33, 5, {});
  bytes[4] = 99;  // vers
  auto parsed = Parse(bytes);
  ASSERT_EQ(parsed.events.size(), 1u);
  EXPECT_TRUE(parsed.version_mismatch);
  EXPECT_EQ(parsed.events[0].fd, 33);
}

TEST(WatchRoot, RefusesSystemAndRelativeRoots) {
  EXPECT_FALSE(ValidateWatchRoot("/").ok());
  EXPECT_FALSE(ValidateWatchRoot("/etc").ok());
  EXPECT_FALSE(ValidateWatchRoot("/usr/share").ok());
  EXPECT_FALSE(ValidateWatchRoot("/proc/self").ok());
  EXPECT_FALSE(ValidateWatchRoot("tmp").ok());
  EXPECT_FALSE(ValidateWatchRoot("/tmp/").ok());
  EXPECT_FALSE(ValidateWatchRoot("/definitely/not/here").ok());
  EXPECT_TRUE(ValidateWatchRoot("/tmp").ok());
}

}  // namespace
}  // namespace steen::sys
