// Pack files (src/vault/packs.h): names in the catalog, appends on page boundaries, reads of a
// range, holes punched for released objects, packs removed when nothing in them is live.
#include "vault/packs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace steen::vault {
namespace {

namespace fs = std::filesystem;

TEST(PackedRefTest, RoundTripsAndRefusesAnythingElse) {
  const PackedRef ref{"packs/0001-2-3.pack", 8192, 517};
  EXPECT_EQ(FormatPackedRef(ref), "packs/0001-2-3.pack:8192:517");
  auto back = ParsePackedRef(FormatPackedRef(ref));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->pack, ref.pack);
  EXPECT_EQ(back->offset, ref.offset);
  EXPECT_EQ(back->length, ref.length);
  for (const char* other :
       {"objects/ab/abcdef", "pending-1-2-3", "packs/a.pack", "packs/a.pack:1", "packs/a.pack:x:1",
        "packs/a.pack:1:", "packs/a.pack:-1:2", "packs/../a.pack:0:1", "packs/sub/a.pack:0:1",
        "packs/.pack:0:1", "packs/a.txt:0:1", "packs/a.pack:18446744073709551615:1", ""}) {
    EXPECT_FALSE(ParsePackedRef(other).has_value()) << other;
  }
}

class PackStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steen-packs-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/packs");
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string ReadFd(int fd) {
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) {
      out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
  }
  std::string ReadRange(const PackStore& packs, const PackedRef& ref) {
    auto fd = packs.Open(ref);
    return fd.ok() ? ReadFd(*fd) : "<" + fd.status().ToString() + ">";
  }
  std::size_t PackCount() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ + "/packs")) ++n;
    return n;
  }
  std::string dir_;
};

TEST_F(PackStoreTest, AppendsOnPageBoundariesAndReadsBackExactly) {
  PackStore packs(dir_);
  const std::string a(5000, 'a'), b = "b", c(4096, 'c');
  auto ra = packs.Append(a);
  auto rb = packs.Append(b);
  auto rc = packs.Append(c);
  ASSERT_TRUE(ra.ok() && rb.ok() && rc.ok());
  EXPECT_EQ(ra->offset, 0u);
  EXPECT_EQ(rb->offset, 8192u);
  EXPECT_EQ(rc->offset, 12288u);
  EXPECT_EQ(ra->pack, rc->pack);
  EXPECT_EQ(ReadRange(packs, *ra), a);
  EXPECT_EQ(ReadRange(packs, *rb), b);
  EXPECT_EQ(ReadRange(packs, *rc), c);
  EXPECT_TRUE(packs.Holds(*rc));
  PackedRef past = *rc;
  past.length += 1;
  EXPECT_FALSE(packs.Holds(past));
  EXPECT_FALSE(ReadRange(packs, past).starts_with("c")) << "a range past the end is an error";
  auto empty = packs.Append("");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ReadRange(packs, *empty), "");
}

TEST_F(PackStoreTest, StartsANewPackWhenFullAndRemovesPacksNothingLiveIsIn) {
  PackStore packs(dir_, 3 * 4096);
  auto first = packs.Append(std::string(4096, '1'));
  auto second = packs.Append(std::string(4096, '2'));
  auto third = packs.Append(std::string(4096, '3'));  // fills the third page exactly
  auto fourth = packs.Append(std::string(10, '4'));   // a new pack
  ASSERT_TRUE(first.ok() && second.ok() && third.ok() && fourth.ok());
  EXPECT_EQ(first->pack, third->pack);
  EXPECT_NE(third->pack, fourth->pack);
  EXPECT_EQ(fourth->offset, 0u);
  EXPECT_EQ(PackCount(), 2u);
  // Releasing one object of the old pack punches its pages: the others still read back.
  packs.Release(*second);
  EXPECT_EQ(ReadRange(packs, *first), std::string(4096, '1'));
  EXPECT_EQ(ReadRange(packs, *third), std::string(4096, '3'));
  EXPECT_EQ(ReadRange(packs, *second), std::string(4096, '\0')) << "hole punched";
  packs.Release(*first);
  packs.Release(*third);
  EXPECT_FALSE(fs::exists(packs.Path(first->pack))) << "nothing live in it";
  // The pack appended to stays while it is, even when empty.
  packs.Release(*fourth);
  EXPECT_TRUE(fs::exists(packs.Path(fourth->pack)));
  EXPECT_EQ(PackCount(), 1u);
}

TEST_F(PackStoreTest, AnEmptyActivePackGoesWithTheStoreAndStraysAreRemoved) {
  std::string kept_pack;
  {
    PackStore packs(dir_);
    auto kept = packs.Append("kept");
    ASSERT_TRUE(kept.ok());
    kept_pack = kept->pack;
  }
  EXPECT_TRUE(fs::exists(dir_ + "/" + kept_pack)) << "live objects keep their pack";
  {
    PackStore packs(dir_);
    packs.SetLive({{kept_pack, 1}});
    auto gone = packs.Append("gone");
    ASSERT_TRUE(gone.ok());
    packs.Release(*gone);
    ASSERT_EQ(PackCount(), 2u);
  }
  EXPECT_EQ(PackCount(), 1u) << "the closed store's pack held nothing live";
  ::close(::open((dir_ + "/packs/stray.pack").c_str(), O_CREAT | O_WRONLY, 0600));
  PackStore packs(dir_);
  packs.RemoveUnreferenced({kept_pack});
  EXPECT_FALSE(fs::exists(dir_ + "/packs/stray.pack"));
  EXPECT_TRUE(fs::exists(dir_ + "/" + kept_pack));
}

}  // namespace
}  // namespace steen::vault
