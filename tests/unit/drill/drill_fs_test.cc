// The drill's file-system seam (src/drill/drill_fs.h): the local implementation's guarantees that
// the runner relies on (no symlink followed anywhere in a path, renames never replace, exclusive
// creation, absolute paths for the staging folder), the SMB URL and auth file parsers, and the
// remote refusals that need no server (bad URL, missing or bad auth file, unreachable server).
// The SMB implementation against a real smbd is tested by tests/e2e/drill_smb_test.sh.
#include "drill/drill_fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace steen::drill {
namespace {

namespace fs = std::filesystem;

class LocalDrillFsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-drill-fs-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "t" / "sub");
    fs::create_directories(root_ / "outside");
    Write(root_ / "t" / "a.txt", "hello");
    Write(root_ / "t" / "sub" / "b.txt", "world");
    Write(root_ / "outside" / "secret.txt", "secret");
    fs::create_symlink(root_ / "outside", root_ / "t" / "link-dir");
    fs::create_symlink(root_ / "outside" / "secret.txt", root_ / "t" / "link-file");
    StatusOr<std::unique_ptr<DrillFs>> opened = OpenLocalDrillFs((root_ / "t").string());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    fs_ = std::move(opened).value();
  }
  void TearDown() override { fs::remove_all(root_); }
  static void Write(const fs::path& p, std::string_view data) {
    std::ofstream(p, std::ios::binary) << data;
  }
  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  fs::path root_;
  std::unique_ptr<DrillFs> fs_;
};

TEST_F(LocalDrillFsTest, ListsEntriesWithTypesAndSizes) {
  std::vector<DirEntry> entries;
  ASSERT_TRUE(fs_->List("", false, &entries).ok());
  std::sort(entries.begin(), entries.end(),
            [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].name, "a.txt");
  EXPECT_EQ(entries[0].info.type, EntryType::kRegular);
  EXPECT_EQ(entries[0].info.size, 5u);
  EXPECT_FALSE(entries[0].info.foreign_device);
  EXPECT_EQ(entries[1].info.type, EntryType::kSymlink);  // link-dir: reported, not followed
  EXPECT_EQ(entries[2].info.type, EntryType::kSymlink);
  EXPECT_EQ(entries[3].info.type, EntryType::kDirectory);
  EntryInfo info;
  ASSERT_TRUE(fs_->Stat("", &info).ok());
  EXPECT_EQ(info.type, EntryType::kDirectory);
}

TEST_F(LocalDrillFsTest, NeverFollowsASymlinkInAnyComponent) {
  EXPECT_FALSE(fs_->Open("link-file", OpenMode::kRead).ok());
  EXPECT_FALSE(fs_->Open("link-dir/secret.txt", OpenMode::kRead).ok());
  EXPECT_FALSE(fs_->Open("../outside/secret.txt", OpenMode::kRead).ok());
  std::vector<DirEntry> entries;
  EXPECT_FALSE(fs_->List("link-dir", false, &entries).ok());
  EXPECT_FALSE(fs_->Unlink("link-dir/secret.txt").ok());
  EXPECT_EQ(Read(root_ / "outside" / "secret.txt"), "secret");
}

TEST_F(LocalDrillFsTest, ReadsWritesAtOffsetsAndTruncates) {
  StatusOr<std::unique_ptr<DrillFile>> file = fs_->Open("sub/b.txt", OpenMode::kReadWrite);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*file)->WriteAt(1, "OR").ok());
  ASSERT_TRUE((*file)->WriteAt(7, "!").ok());  // past the end: a hole, as pwrite makes
  std::string data;
  ASSERT_TRUE((*file)->ReadAt(0, 100, &data).ok());
  EXPECT_EQ(data, std::string("wORld\0\0!", 8));
  ASSERT_TRUE((*file)->Truncate(3).ok());
  EntryInfo info;
  ASSERT_TRUE((*file)->Info(&info).ok());
  EXPECT_EQ(info.size, 3u);
  EXPECT_GE((*file)->MappableFd(), 0);
}

TEST_F(LocalDrillFsTest, CreatesExclusivelyAndRenamesWithoutReplacing) {
  EXPECT_FALSE(fs_->Open("a.txt", OpenMode::kCreateExclusive).ok());
  StatusOr<std::unique_ptr<DrillFile>> made =
      fs_->Open("new.txt", OpenMode::kCreateExclusive, 0600);
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE((*made)->WriteAt(0, "x").ok());
  Status replace = fs_->Rename("new.txt", "a.txt");
  EXPECT_FALSE(replace.ok());
  EXPECT_EQ(Read(root_ / "t" / "a.txt"), "hello");
  ASSERT_TRUE(fs_->Rename("new.txt", "sub/new.txt").ok());
  EXPECT_EQ(Read(root_ / "t" / "sub" / "new.txt"), "x");
  ASSERT_TRUE(fs_->Unlink("sub/new.txt").ok());
  EXPECT_FALSE(fs::exists(root_ / "t" / "sub" / "new.txt"));
}

TEST_F(LocalDrillFsTest, AbsolutePathsNameTheStagingFolderOutsideTheTarget) {
  const std::string stage = (root_ / "stage").string();
  ASSERT_TRUE(fs_->MakeDir(stage).ok());
  ASSERT_TRUE(fs_->MakeDir(stage).ok());  // already there: fine
  ASSERT_TRUE(fs_->Rename("a.txt", stage + "/0-a.txt").ok());
  EXPECT_TRUE(fs::exists(root_ / "stage" / "0-a.txt"));
  EntryInfo info;
  EXPECT_TRUE(fs_->Stat(stage + "/0-a.txt", &info).ok());
  ASSERT_TRUE(fs_->Rename(stage + "/0-a.txt", "a.txt.locked").ok());
  EXPECT_EQ(Read(root_ / "t" / "a.txt.locked"), "hello");
  EXPECT_TRUE(fs_->RemoveDir(stage).ok());
}

TEST(SmbUrlTest, ParsesHostPortShareAndPath) {
  StatusOr<SmbUrl> url = ParseSmbUrl("smb://198.18.0.1:4450/share/a//b/./c/");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->host, "198.18.0.1");
  EXPECT_EQ(url->port, 4450);
  EXPECT_EQ(url->share, "share");
  EXPECT_EQ(url->path, "a/b/c");
  EXPECT_EQ(url->ToString(), "smb://198.18.0.1:4450/share/a/b/c");
  StatusOr<SmbUrl> root = ParseSmbUrl("smb://files/data");
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root->port, 445);
  EXPECT_EQ(root->path, "");
}

TEST(SmbUrlTest, RefusesBadUrls) {
  for (const char* bad : {"smb://host", "smb://host/", "smb://:445/share", "smb://host:0/s",
                          "smb://host:99999/s", "smb://host:x/s", "smb://user:pw@host/s",
                          "smb://dom;user@host/s", "smb://host/s/../etc", "/srv/share"}) {
    EXPECT_FALSE(ParseSmbUrl(bad).ok()) << bad;
  }
  EXPECT_NE(ParseSmbUrl("smb://u:p@host/s").status().ToString().find("--auth-file"),
            std::string::npos);
}

TEST(SmbAuthFileTest, ReadsSmbclientFormat) {
  char tmpl[] = "/tmp/steen-auth-test.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(tmpl) << "# comment\nusername = alice\n  password=  s3cr et \ndomain = CORP\n";
  StatusOr<SmbCredentials> c = ReadSmbAuthFile(tmpl);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->password, "s3cr et");
  EXPECT_EQ(c->domain, "CORP");
  std::ofstream(tmpl) << "username = alice\n";
  EXPECT_NE(ReadSmbAuthFile(tmpl).status().ToString().find("no password"), std::string::npos);
  std::ofstream(tmpl) << "user alice\npassword = x\n";
  EXPECT_FALSE(ReadSmbAuthFile(tmpl).ok());
  std::ofstream(tmpl) << "username = alice\npassword = x\ncolour = blue\n";
  EXPECT_NE(ReadSmbAuthFile(tmpl).status().ToString().find("unknown key"), std::string::npos);
  unlink(tmpl);
  EXPECT_EQ(ReadSmbAuthFile(tmpl).status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(ReadSmbAuthFile("").ok());
}

TEST(RemoteTargetTest, RefusedBeforeAnythingIsTouched) {
  EXPECT_TRUE(IsSmbTarget("smb://host/share"));
  EXPECT_FALSE(IsSmbTarget("/srv/share"));
  // No auth file, and a server that cannot exist (port 1 on loopback refuses at once).
  Status no_auth = CheckRemoteTarget("smb://127.0.0.1:1/share", "", true);
  EXPECT_EQ(no_auth.code(), Status::Code::kInvalidArgument);
  char tmpl[] = "/tmp/steen-auth-test.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(tmpl) << "username = nobody\npassword = x\n";
  Status unreachable = CheckRemoteTarget("smb://127.0.0.1:1/share", tmpl, true);
  EXPECT_EQ(unreachable.code(), Status::Code::kIoError) << unreachable.ToString();
  EXPECT_NE(unreachable.ToString().find("cannot reach SMB server 127.0.0.1 port 1"),
            std::string::npos)
      << unreachable.ToString();
  unlink(tmpl);
}

}  // namespace
}  // namespace steen::drill
