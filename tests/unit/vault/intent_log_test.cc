// The intent log (src/vault/intent_log.h): records round-trip, a torn or corrupt tail stops the
// reading without losing what came before, malformed payloads are refused, Clear empties it.
#include "vault/intent_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace steen::vault {
namespace {

namespace fs = std::filesystem;

CopyIntent Sample(int n) {
  CopyIntent intent;
  Version& v = intent.version;
  v.path = "/srv/share/dir/file " + std::to_string(n) + ".docx";
  v.device = 2049;
  v.inode = 1000 + static_cast<uint64_t>(n);
  v.size = 40000 + static_cast<uint64_t>(n);
  v.mode = 0640;
  v.uid = 1001;
  v.gid = 100;
  v.mtime_ns = 1'700'000'000'000'000'000 + n;
  v.taken_ns = 1'800'000'000'000'000'000 + n;
  v.kind = VersionKind::kBeforeWrite;
  v.sha256 = std::string(64, 'a');
  v.object = "packs/0001-2-3.pack:" + std::to_string(4096 * n) + ":" + std::to_string(v.size);
  v.actor.pid = 4242;
  v.actor.start_time = 987654321;
  v.actor.exe = "/usr/sbin/smbd";
  v.actor.uid = 1001;
  v.actor.smb_client_address = "198.18.0.2";
  v.actor.smb_user = "alice";
  intent.ctime_ns = v.mtime_ns + 5;
  intent.change_time_ns = v.taken_ns;
  return intent;
}

void ExpectSame(const CopyIntent& a, const CopyIntent& b) {
  const Version &x = a.version, &y = b.version;
  EXPECT_EQ(x.path, y.path);
  EXPECT_EQ(x.device, y.device);
  EXPECT_EQ(x.inode, y.inode);
  EXPECT_EQ(x.size, y.size);
  EXPECT_EQ(x.mode, y.mode);
  EXPECT_EQ(x.uid, y.uid);
  EXPECT_EQ(x.gid, y.gid);
  EXPECT_EQ(x.mtime_ns, y.mtime_ns);
  EXPECT_EQ(x.taken_ns, y.taken_ns);
  EXPECT_EQ(x.kind, y.kind);
  EXPECT_EQ(x.sha256, y.sha256);
  EXPECT_EQ(x.object, y.object);
  EXPECT_EQ(x.actor.pid, y.actor.pid);
  EXPECT_EQ(x.actor.start_time, y.actor.start_time);
  EXPECT_EQ(x.actor.exe, y.actor.exe);
  EXPECT_EQ(x.actor.uid, y.actor.uid);
  EXPECT_EQ(x.actor.smb_client_address, y.actor.smb_client_address);
  EXPECT_EQ(x.actor.smb_user, y.actor.smb_user);
  EXPECT_EQ(a.ctime_ns, b.ctime_ns);
  EXPECT_EQ(a.change_time_ns, b.change_time_ns);
}

TEST(IntentCodecTest, RoundTripsEveryField) {
  const CopyIntent intent = Sample(7);
  auto back = DecodeIntent(EncodeIntent(intent));
  ASSERT_TRUE(back.has_value());
  ExpectSame(*back, intent);
}

TEST(IntentCodecTest, RefusesWhatIsNotARecordOfACopy) {
  const std::string good = EncodeIntent(Sample(1));
  EXPECT_FALSE(DecodeIntent("").has_value());
  EXPECT_FALSE(DecodeIntent(good.substr(0, good.size() - 1)).has_value()) << "cut short";
  EXPECT_FALSE(DecodeIntent(good + "x").has_value()) << "trailing bytes";
  std::string other_format = good;
  other_format[0] = 9;
  EXPECT_FALSE(DecodeIntent(other_format).has_value());
  CopyIntent relative = Sample(1);
  relative.version.path = "share/file";
  EXPECT_FALSE(DecodeIntent(EncodeIntent(relative)).has_value());
  CopyIntent no_object = Sample(1);
  no_object.version.object.clear();
  EXPECT_FALSE(DecodeIntent(EncodeIntent(no_object)).has_value());
  std::string huge_field = good;
  huge_field[1] = huge_field[2] = huge_field[3] = huge_field[4] = '\xff';  // path length 4 GiB
  EXPECT_FALSE(DecodeIntent(huge_field).has_value());
}

TEST(IntentCodecTest, ATornOrCorruptTailKeepsTheRecordsBeforeIt) {
  std::string log;
  for (int i = 0; i < 3; ++i) log += FrameRecord(EncodeIntent(Sample(i)));
  LogContents whole = ParseLog(log);
  ASSERT_EQ(whole.intents.size(), 3u);
  EXPECT_EQ(whole.bad_records, 0u);
  ExpectSame(whole.intents[2], Sample(2));

  LogContents torn = ParseLog(log.substr(0, log.size() - 10));
  EXPECT_EQ(torn.intents.size(), 2u);
  EXPECT_EQ(torn.bad_records, 1u);
  LogContents stub = ParseLog(log + "abc");
  EXPECT_EQ(stub.intents.size(), 3u);
  EXPECT_EQ(stub.bad_records, 1u);

  std::string flipped = log;
  const std::size_t second = FrameRecord(EncodeIntent(Sample(0))).size();
  flipped[second + 20] ^= 0x01;
  LogContents corrupt = ParseLog(flipped);
  EXPECT_EQ(corrupt.intents.size(), 1u) << "reading stops at the bad record";
  EXPECT_EQ(corrupt.bad_records, 1u);

  std::string absurd(8, '\xff');  // a length of 4 GiB
  EXPECT_EQ(ParseLog(absurd + log).intents.size(), 0u);
}

TEST(IntentLogTest, AppendsReadsBackAndClears) {
  char tmpl[] = "/tmp/steen-intents-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/intents.log";
  auto missing = IntentLog::Read(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->intents.empty());
  {
    auto log = IntentLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_TRUE((*log)->empty());
    ASSERT_TRUE((*log)->Append(Sample(1)).ok());
    ASSERT_TRUE((*log)->Append(Sample(2)).ok());
    EXPECT_FALSE((*log)->empty());
    auto read = IntentLog::Read(path);
    ASSERT_TRUE(read.ok());
    ASSERT_EQ(read->intents.size(), 2u);
    ExpectSame(read->intents[1], Sample(2));
    ASSERT_TRUE((*log)->Clear().ok());
    EXPECT_EQ(fs::file_size(path), 0u);
    ASSERT_TRUE((*log)->Append(Sample(3)).ok());
  }
  auto reopened = IntentLog::Open(path);
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE((*reopened)->empty()) << "what a previous run left is seen";
  auto read = IntentLog::Read(path);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->intents.size(), 1u);
  ExpectSame(read->intents[0], Sample(3));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace steen::vault
