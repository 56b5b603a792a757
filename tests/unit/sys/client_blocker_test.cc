// Refusing SMB clients with nftables: address checks and listing parsing (pure), and one real test
// against the kernel (root and the nft command needed, else skipped) in a table of its own, with
// addresses of 198.18.0.0/15 (the benchmarking range: never a real client) only.
#include "sys/client_blocker.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "steen/limits.h"

namespace steen::sys {
namespace {

using std::chrono::seconds;

TEST(CanonicalAddress, AcceptsAndNormalisesAddresses) {
  EXPECT_EQ(*CanonicalAddress("198.18.0.2"), "198.18.0.2");
  EXPECT_EQ(*CanonicalAddress("2001:0db8:0000::0001"), "2001:db8::1");
  EXPECT_EQ(*CanonicalAddress("2001:DB8::A"), "2001:db8::a");
  // How a dual-stack smbd sees an IPv4 client: the packets to refuse are IPv4.
  EXPECT_EQ(*CanonicalAddress("::ffff:198.18.0.2"), "198.18.0.2");
}

TEST(CanonicalAddress, RefusesAnythingElse) {
  for (const char* text :
       {"", " 198.18.0.2", "198.18.0.2 ", "198.18.0.2/32", "198.18.0.2:445",
        "198.18.0.2; flush ruleset", "198.18.0.2 } ; delete table inet filter ; {",
        "fileserver.example", "198.18.0", "256.1.1.1", "fe80::1%eth0", "0.0.0.0", "224.0.0.1",
        "255.255.255.255", "::", "ff02::1"}) {
    auto canonical = CanonicalAddress(text);
    EXPECT_FALSE(canonical.ok()) << text;
    if (!canonical.ok()) {
      EXPECT_EQ(canonical.status().code(), Status::Code::kInvalidArgument) << text;
    }
  }
  EXPECT_FALSE(CanonicalAddress(std::string("198.18.0.2\0x", 12)).ok());
}

TEST(NftListing, ElementsAreMergedPerAddress) {
  const char* listing =
      "table inet steen {\n"
      "\tset blocked_ipv4 {\n"
      "\t\ttype ipv4_addr . inet_service\n"
      "\t\tflags timeout\n"
      "\t\telements = { 198.18.0.2 . 139 timeout 900s expires 898s,\n"
      "\t\t\t     198.18.0.2 . 445 timeout 900s expires 899s,\n"
      "\t\t\t     198.18.0.3 . 445 timeout 1d1h expires 14m59s992ms }\n"
      "\t}\n"
      "}\n";
  auto clients = ParseNftSetElements(listing);
  ASSERT_EQ(clients.size(), 2u);
  EXPECT_EQ(clients[0].address, "198.18.0.2");
  EXPECT_EQ(clients[0].ports, (std::vector<uint16_t>{139, 445}));
  EXPECT_EQ(clients[0].timeout, seconds(900));
  EXPECT_EQ(clients[0].expires_in, seconds(899));
  EXPECT_EQ(clients[1].address, "198.18.0.3");
  EXPECT_EQ(clients[1].timeout, seconds(90000));
  EXPECT_EQ(clients[1].expires_in, seconds(899));

  auto v6 = ParseNftSetElements(
      "set blocked_ipv6 {\n elements = { 2001:db8::1 . 445 timeout 60s expires 59s }\n}\n");
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].address, "2001:db8::1");
  EXPECT_TRUE(
      ParseNftSetElements("set blocked_ipv4 {\n type ipv4_addr . inet_service\n}\n").empty());
  // Nothing that is not ours (no address, service names) is reported.
  EXPECT_TRUE(
      ParseNftSetElements("elements = { 198.18.0.2 . \"microsoft-ds\" timeout 15m }").empty());
}

TEST(NftClientBlocker, RefusesABadTableName) {
  for (const char* name :
       {"", "1steen", "steen table", "steen;flush", "a23456789012345678901234567890123"}) {
    NftClientBlockerOptions options;
    options.table = name;
    auto blocker = NftClientBlocker::Create(options);
    ASSERT_FALSE(blocker.ok()) << name;
    EXPECT_EQ(blocker.status().code(), Status::Code::kInvalidArgument);
  }
}

TEST(NftClientBlocker, WithoutCapNetAdminItSaysSoAndRunsNothing) {
  // In a child that dropped CAP_NET_ADMIN from its effective set (root or not).
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
    if (::syscall(SYS_capget, &header, data) != 0) ::_exit(10);
    data[CAP_NET_ADMIN / 32].effective &= ~(1u << (CAP_NET_ADMIN % 32));
    if (::syscall(SYS_capset, &header, data) != 0) ::_exit(11);
    auto blocker = NftClientBlocker::Create();
    if (blocker.ok()) ::_exit(12);
    if (blocker.status().code() != Status::Code::kPermissionDenied) ::_exit(13);
    if (blocker.status().message().find("CAP_NET_ADMIN") == std::string::npos) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(RecordingClientBlocker, KeepsBlocksAndFailsOnDemand) {
  RecordingClientBlocker blocker;
  EXPECT_TRUE(blocker.Block("198.18.0.2", {445}, seconds(60)).ok());
  EXPECT_TRUE(blocker.IsBlocked("198.18.0.2"));
  EXPECT_TRUE(blocker.Unblock("198.18.0.2").ok());
  EXPECT_FALSE(blocker.IsBlocked("198.18.0.2"));
  blocker.FailWith(Status::PermissionDenied("no CAP_NET_ADMIN"));
  EXPECT_FALSE(blocker.Block("198.18.0.2", {445}, seconds(60)).ok());
  EXPECT_EQ(blocker.calls().size(), 3u);
}

// ---- Against the kernel ----

std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  ::pclose(pipe);
  return out;
}

bool NftUsable(std::string* why) {
  if (::geteuid() != 0) {
    *why = "needs root (nftables changes need CAP_NET_ADMIN)";
    return false;
  }
  if (Shell("command -v nft").empty()) {
    *why = "the nft command is not installed (apt-get install nftables)";
    return false;
  }
  if (std::system("nft list tables > /dev/null 2>&1") != 0) {
    *why = "nftables is not usable here: " + Shell("nft list tables");
    return false;
  }
  return true;
}

class NftTable : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!NftUsable(&why)) GTEST_SKIP() << why;
    table_ = "steen_test_" + std::to_string(::getpid());
  }
  void TearDown() override {
    if (!table_.empty()) Shell("nft delete table inet " + table_);
  }
  std::string Listing(const char* set) { return Shell("nft list set inet " + table_ + " " + set); }
  std::string table_;
};

double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

TEST_F(NftTable, BlockAppearsWithATimeoutAndUnblockRemovesIt) {
  NftClientBlockerOptions options;
  options.table = table_;
  auto made = NftClientBlocker::Create(options);
  ASSERT_TRUE(made.ok()) << made.status().message();
  NftClientBlocker& blocker = **made;
  EXPECT_EQ(blocker.Where(), "nftables table inet " + table_);

  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(blocker.Prepare().ok());
  const double prepare_ms = MillisSince(t0);
  t0 = std::chrono::steady_clock::now();
  Status blocked = blocker.Block("198.18.0.2", {445, 139}, seconds(900));
  const double block_ms = MillisSince(t0);
  ASSERT_TRUE(blocked.ok()) << blocked.message();

  // What the kernel holds, seen by nft itself.
  std::string set = Listing("blocked_ipv4");
  EXPECT_NE(set.find("198.18.0.2 . 445 timeout"), std::string::npos) << set;
  EXPECT_NE(set.find("198.18.0.2 . 139 timeout"), std::string::npos) << set;
  std::string chain = Shell("nft list chain inet " + table_ + " input");
  EXPECT_NE(chain.find("ip saddr . tcp dport @blocked_ipv4"), std::string::npos) << chain;
  EXPECT_NE(chain.find("reject with tcp reset"), std::string::npos) << chain;
  EXPECT_NE(chain.find("hook input"), std::string::npos) << chain;

  auto listed = blocker.List();
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].address, "198.18.0.2");
  EXPECT_EQ((*listed)[0].timeout, seconds(900));
  EXPECT_GE((*listed)[0].expires_in, seconds(890));
  EXPECT_LE((*listed)[0].expires_in, seconds(900));

  // Blocking again renews the time; preparing again keeps the blocks in force.
  ASSERT_TRUE(blocker.Block("198.18.0.2", {445, 139}, seconds(60)).ok());
  ASSERT_TRUE(blocker.Prepare().ok());
  listed = blocker.List();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].timeout, seconds(60));

  // IPv6 and a mapped IPv4 address (which lands in the IPv4 set).
  ASSERT_TRUE(blocker.Block("2001:db8::5", {445}, seconds(30)).ok());
  ASSERT_TRUE(blocker.Block("::ffff:198.19.0.7", {445}, seconds(30)).ok());
  EXPECT_NE(Listing("blocked_ipv6").find("2001:db8::5 . 445"), std::string::npos);
  EXPECT_NE(Listing("blocked_ipv4").find("198.19.0.7 . 445"), std::string::npos);

  // Nothing is run for a bad address.
  EXPECT_EQ(blocker.Block("198.18.0.3 } ; flush ruleset ; {", {445}, seconds(30)).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(blocker.Block("198.18.0.3", {}, seconds(30)).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(blocker.Block("198.18.0.3", {445}, seconds(0)).code(), Status::Code::kInvalidArgument);

  t0 = std::chrono::steady_clock::now();
  Status released = blocker.Unblock("198.18.0.2");
  const double unblock_ms = MillisSince(t0);
  ASSERT_TRUE(released.ok()) << released.message();
  EXPECT_EQ(Listing("blocked_ipv4").find("198.18.0.2 "), std::string::npos);
  EXPECT_TRUE(blocker.Unblock("198.18.0.2").ok()) << "releasing twice is fine";
  EXPECT_TRUE(blocker.Unblock("2001:db8::5").ok());
  EXPECT_TRUE(blocker.Unblock("198.19.0.7").ok());
  listed = blocker.List();
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());

  // Timing (libnftables, one transaction each), averaged over more blocks.
  t0 = std::chrono::steady_clock::now();
  constexpr int kRounds = 20;
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_TRUE(blocker.Block("198.18.1." + std::to_string(i + 1), {445, 139}, seconds(30)).ok());
  }
  const double per_block_ms = MillisSince(t0) / kRounds;
  std::printf(
      "nftables: prepare %.2f ms, first block %.2f ms, unblock %.2f ms, %.2f ms per block "
      "(%d blocks)\n",
      prepare_ms, block_ms, unblock_ms, per_block_ms, kRounds);
  RecordProperty("block_ms", std::to_string(per_block_ms));
}

TEST_F(NftTable, TableRemovedUnderneathIsMadeAgain) {
  NftClientBlockerOptions options;
  options.table = table_;
  auto made = NftClientBlocker::Create(options);
  ASSERT_TRUE(made.ok()) << made.status().message();
  // Nothing there yet: releasing and listing are fine and create nothing.
  EXPECT_TRUE((*made)->Unblock("198.18.0.9").ok());
  EXPECT_TRUE((*made)->List().ok());
  EXPECT_EQ(Shell("nft list table inet " + table_).find("table inet " + table_ + " {"),
            std::string::npos);
  ASSERT_TRUE((*made)->Block("198.18.0.9", {445}, seconds(30)).ok());
  // A reloaded firewall (`nft flush ruleset` in /etc/nftables.conf) drops our table.
  Shell("nft delete table inet " + table_);
  Status again = (*made)->Block("198.18.0.10", {445}, seconds(30));
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_NE(Listing("blocked_ipv4").find("198.18.0.10 . 445"), std::string::npos);
}

// A clean stop leaves nothing in the ruleset unless a block is in force (it must outlive steen).
TEST_F(NftTable, RemoveIfUnusedDeletesOnlyAnEmptyTable) {
  NftClientBlockerOptions options;
  options.table = table_;
  auto made = NftClientBlocker::Create(options);
  ASSERT_TRUE(made.ok()) << made.status().message();
  const std::string present = "table inet " + table_ + " {";
  ASSERT_TRUE((*made)->Prepare().ok());
  ASSERT_NE(Shell("nft list table inet " + table_).find(present), std::string::npos);
  ASSERT_TRUE((*made)->Block("198.18.0.11", {445}, seconds(30)).ok());
  EXPECT_TRUE((*made)->RemoveIfUnused().ok());
  EXPECT_NE(Listing("blocked_ipv4").find("198.18.0.11 . 445"), std::string::npos);
  ASSERT_TRUE((*made)->Unblock("198.18.0.11").ok());
  EXPECT_TRUE((*made)->RemoveIfUnused().ok());
  EXPECT_EQ(Shell("nft list table inet " + table_).find(present), std::string::npos);
  EXPECT_TRUE((*made)->RemoveIfUnused().ok());  // already gone: nothing to do
}

}  // namespace
}  // namespace steen::sys
