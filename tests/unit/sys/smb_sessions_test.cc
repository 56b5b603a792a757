// Samba attribution: /proc/net/tcp parsing, smbstatus JSON, the session table on a fake /proc
// tree, its wiring into ProcessAttributor, and one test against a real private smbd (root only).
#include "sys/smb_sessions.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "sys/proc.h"

namespace steen::sys {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// How the kernel prints an address in /proc/net/tcp: each 32-bit word "%08X" in host order.
std::string KernelHex(const std::string& address) {
  unsigned char bytes[16] = {};
  std::size_t len = 0;
  if (::inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    len = 4;
  } else if (::inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    len = 16;
  }
  std::string out;
  for (std::size_t i = 0; i < len; i += 4) {
    uint32_t word;
    std::memcpy(&word, bytes + i, 4);
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08X", word);
    out += buf;
  }
  return out;
}

std::string Row(int slot, const std::string& local, int local_port, const std::string& remote,
                int remote_port, int state, uint64_t inode) {
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "%4d: %s:%04X %s:%04X %02X 00000000:00000000 00:00000000 00000000     0        0 "
                "%llu 1 0000000048fafcc8 100 0 0 10 0",
                slot, KernelHex(local).c_str(), local_port, KernelHex(remote).c_str(), remote_port,
                state, static_cast<unsigned long long>(inode));
  return buf;
}

std::string UserName(uid_t uid) {
  passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? pw->pw_name : std::to_string(uid);
}

TEST(SmbParse, IsSmbdProcess) {
  EXPECT_TRUE(IsSmbdProcess("smbd", "/usr/sbin/smbd"));
  EXPECT_TRUE(IsSmbdProcess("smbd", ""));  // exe unreadable
  EXPECT_TRUE(IsSmbdProcess("smbd-notifyd", "/usr/sbin/smbd"));
  EXPECT_TRUE(IsSmbdProcess("cleanupd", "/usr/sbin/smbd"));
  EXPECT_TRUE(IsSmbdProcess("x", "/usr/sbin/smbd (deleted)"));  // after a package upgrade
  EXPECT_TRUE(IsSmbdProcess("x", "smbd"));
  EXPECT_FALSE(IsSmbdProcess("nmbd", "/usr/sbin/nmbd"));
  EXPECT_FALSE(IsSmbdProcess("smb", "/opt/smbdx"));
  EXPECT_FALSE(IsSmbdProcess("bash", "/usr/sbin/smbd/bash"));
  EXPECT_FALSE(IsSmbdProcess("", ""));
  EXPECT_FALSE(IsSmbdProcess("", " (deleted)"));
}

TEST(SmbParse, DecodeProcNetAddress) {
  if constexpr (std::endian::native == std::endian::little) {
    EXPECT_EQ(DecodeProcNetAddress("0100007F"), "127.0.0.1");
    EXPECT_EQ(DecodeProcNetAddress("020012C6"), "198.18.0.2");
    EXPECT_EQ(DecodeProcNetAddress("020012c6"), "198.18.0.2");
    EXPECT_EQ(DecodeProcNetAddress("00000000000000000000000001000000"), "::1");
    EXPECT_EQ(DecodeProcNetAddress("0000000000000000FFFF00000100007F"), "127.0.0.1");
  }
  EXPECT_EQ(DecodeProcNetAddress("00000000"), "0.0.0.0");
  EXPECT_EQ(DecodeProcNetAddress("00000000000000000000000000000000"), "::");
  for (const char* a : {"198.18.0.2", "10.255.0.1", "2001:db8::1", "fe80::1:2:3:4",
                        "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"}) {
    EXPECT_EQ(DecodeProcNetAddress(KernelHex(a)), a) << a;
  }
  EXPECT_EQ(DecodeProcNetAddress(KernelHex("::ffff:198.18.4.2")), "198.18.4.2");
  for (const char* bad :
       {"", "0", "0100007", "0100007G", "0100007F0", "0100007F00000000", "-100007F", "+100007F",
        " 100007F", "0x00007F", "000000000000000000000000010000000",
        "0000000000000000000000000100000Z", "\x30\x31\x30\x30\x30\x30\x37\xC6"}) {
    EXPECT_FALSE(DecodeProcNetAddress(bad)) << bad;
  }
}

TEST(SmbParse, ProcNetTcpLines) {
  if constexpr (std::endian::native == std::endian::little) {
    // Captured on this machine: the rig's smbd and a client (tcp), a dual-stack listener (tcp6).
    auto listen = ParseProcNetTcpLine(
        "   1: 010112C6:1162 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        "
        "0 9310 1 00000000619dbd9a 100 0 0 10 0                      ");
    ASSERT_TRUE(listen);
    EXPECT_EQ(listen->local_address, "198.18.1.1");
    EXPECT_EQ(listen->local_port, 4450);
    EXPECT_EQ(listen->remote_address, "0.0.0.0");
    EXPECT_EQ(listen->remote_port, 0);
    EXPECT_EQ(listen->state, kTcpListen);
    EXPECT_EQ(listen->inode, 9310u);
    auto client = ParseProcNetTcpLine(
        "   4: 010012C6:1162 020012C6:BE6E 01 00000000:00000000 02:000AFAFE 00000000     0       "
        " 0 9095 2 00000000e8228ed4 20 4 5 24 -1");
    ASSERT_TRUE(client);
    EXPECT_EQ(client->local_address, "198.18.0.1");
    EXPECT_EQ(client->remote_address, "198.18.0.2");
    EXPECT_EQ(client->remote_port, 0xBE6E);
    EXPECT_EQ(client->state, kTcpEstablished);
    EXPECT_EQ(client->inode, 9095u);
    auto mapped = ParseProcNetTcpLine(
        "   1: 0000000000000000FFFF00000100007F:BEE3 0000000000000000FFFF00000100007F:E5C2 01 "
        "00000000:00000000 00:00000000 00000000     0        0 13759 1 0000000074b94c3a 20 0 0 "
        "10 -1");
    ASSERT_TRUE(mapped);
    EXPECT_EQ(mapped->remote_address, "127.0.0.1");
    EXPECT_EQ(mapped->remote_port, 0xE5C2);
    EXPECT_EQ(mapped->inode, 13759u);
    auto v6 = ParseProcNetTcpLine(
        "   2: 00000000000000000000000001000000:BEE3 00000000000000000000000001000000:B768 01 "
        "00000000:00000000 00:00000000 00000000     0        0 13757 1 00000000e4ea3161 20 0 0 "
        "10 -1");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->remote_address, "::1");
  }
  // A TIME_WAIT row has inode 0 and fewer trailing fields.
  auto time_wait = ParseProcNetTcpLine(
      "   5: 0100007F:8240 0100007F:1162 06 00000000:00000000 03:000015D2 00000000     0        0 "
      "0 3 00000000899d966b");
  ASSERT_TRUE(time_wait);
  EXPECT_EQ(time_wait->state, 6);
  EXPECT_EQ(time_wait->inode, 0u);
  auto tabs = ParseProcNetTcpLine("\t0:\t00000000:0001\t00000000:0000\t0A\ta\tb\tc\t0\t0\t77");
  ASSERT_TRUE(tabs);
  EXPECT_EQ(tabs->inode, 77u);

  const char* bad[] = {
      "",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
      "timeout inode",
      "   4: 010012C6:1162 020012C6:BE6E 01 00000000:00000000 02:000AFAFE 00000000     0",
      "   4 010012C6:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",    // slot without ':'
      "   x: 010012C6:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",   // slot not a number
      "   4: 010012C6:11621 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",  // port of 5 digits
      "   4: 010012C6:1G62 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",   // port not hex
      "   4: 010012C6: 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",       // port missing
      "   4: 010012C6 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",        // no port at all
      "   4: 010012C6:1162 020012C6:BE6E 001 0:0 0:0 0 0 0 9095",  // state of 3 digits
      "   4: 010012C6:1162 020012C6:BE6E 0Z 0:0 0:0 0 0 0 9095",   // state not hex
      "   4: 010012C6:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 -9095",  // negative inode
      "   4: 010012C6:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 99999999999999999999999",
      "   4: 010012C6:1162 0200:12C6:BE6E 01 0:0 0:0 0 0 0 9095",  // bad address
      "   4: 0100:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 9095",       // short address
      "   4: 010012C6:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 9x095",
      "   4: 010012C6:1162 020012C6:BE6E 01 0:0 0:0 0 0 0 ",
  };
  for (const char* line : bad) EXPECT_FALSE(ParseProcNetTcpLine(line)) << line;
}

TEST(SmbParse, SocketLinks) {
  EXPECT_EQ(ParseSocketLink("socket:[9095]"), 9095u);
  EXPECT_EQ(ParseSocketLink("socket:[0]"), 0u);
  for (const char* bad : {"", "socket:[]", "socket:[12", "socket:12]", "socket:[-1]", "socket:[1 ]",
                          "socket:[99999999999999999999999]", "pipe:[12]", "anon_inode:[eventfd]",
                          "/srv/share/socket:[12]", "socket:[12]x", "socket:[0x12]"}) {
    EXPECT_FALSE(ParseSocketLink(bad)) << bad;
  }
}

TEST(SmbParse, CanonicalIpAddress) {
  EXPECT_EQ(CanonicalIpAddress("198.18.0.2"), "198.18.0.2");
  EXPECT_EQ(CanonicalIpAddress("::ffff:198.18.0.2"), "198.18.0.2");
  EXPECT_EQ(CanonicalIpAddress("::FFFF:C612:0002"), "198.18.0.2");
  EXPECT_EQ(CanonicalIpAddress("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(CanonicalIpAddress("[::1]"), "::1");
  for (const char* bad :
       {"", "bob", "1.2.3", "1.2.3.4.5", "256.1.1.1", "[]", "[", "::g", "198.18.0.2:445",
        "ipv4:198.18.0.2:48750", " 1.2.3.4", "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa"}) {
    EXPECT_EQ(CanonicalIpAddress(bad), "") << bad;
  }
}

TEST(SmbParse, ConfigFileFromCmdline) {
  using namespace std::string_literals;
  // The rig's smbd and its children (captured): arguments end with NUL.
  EXPECT_EQ(SmbdConfigFileFromCmdline(
                "smbd\0--foreground\0--no-process-group\0--configfile=/tmp/r/smb.conf\0"s),
            "/tmp/r/smb.conf");
  EXPECT_EQ(SmbdConfigFileFromCmdline("/usr/sbin/smbd\0--foreground\0--no-process-group\0"s), "");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0--configfile\0/a b/smb.conf\0"s), "/a b/smb.conf");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0-s\0/x.conf\0-D\0"s), "/x.conf");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0-s/y.conf"s), "/y.conf");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0-s\0/x.conf\0--configfile=/z.conf\0"s), "/z.conf");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0--configfile"s), "");  // no value
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0-s"s), "");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0--\0--configfile=/n.conf\0"s), "");
  EXPECT_EQ(SmbdConfigFileFromCmdline("--configfile=/argv0-is-not-an-option\0"s), "");
  EXPECT_EQ(SmbdConfigFileFromCmdline("smbd\0--configfilex=/q\0"s), "");
  EXPECT_EQ(SmbdConfigFileFromCmdline(""), "");
  EXPECT_EQ(SmbdConfigFileFromCmdline("\0\0\0"s), "");
}

// `smbstatus -b --json` of Samba 4.17.12 against the test rig, one session (captured here).
constexpr const char* kSmbStatusSample =
    R"({"timestamp": "2026-12-05T05:34:54.451315+0000", "version": "4.17.12-Debian", "smb_conf": )"
    R"("/tmp/ha-probe.mWjr6n/rig/smb.conf", "sessions": {"3228164694": {"session_id": )"
    R"("3228164694", "server_id": {"pid": "6433", "task_id": "0", "vnn": "4294967295", )"
    R"("unique_id": "14035554953227744155"}, "uid": 1001, "gid": 65534, "username": )"
    R"("steentest-h6357", "groupname": "nogroup", "remote_machine": "198.18.0.2", "hostname": )"
    R"("ipv4:198.18.0.2:48750", "session_dialect": "SMB3_11", "encryption": {"cipher": "-", )"
    R"("degree": "none"}, "signing": {"cipher": "AES-128-GMAC", "degree": "partial"}}}})";

TEST(SmbStatusJson, CapturedSample) {
  auto sessions = ParseSmbStatusJson(kSmbStatusSample);
  ASSERT_TRUE(sessions.ok()) << sessions.status().ToString();
  ASSERT_EQ(sessions->size(), 1u);
  const auto& s = (*sessions)[0];
  EXPECT_EQ(s.pid, 6433);
  ASSERT_TRUE(s.uid);
  EXPECT_EQ(*s.uid, 1001u);
  EXPECT_EQ(s.user, "steentest-h6357");
  EXPECT_EQ(s.machine, "");  // remote_machine is only the address: no name known
}

TEST(SmbStatusJson, NamesNumbersAndEmptyTables) {
  auto sessions = ParseSmbStatusJson(
      R"({"sessions": {
        "1": {"server_id": {"pid": 100}, "uid": "1002", "username": "STEEN\\bob",
              "remote_machine": "WS-BOB", "hostname": "ipv4:10.0.0.5:50000"},
        "2": {"server_id": {"pid": "101"}, "username": "carol", "remote_machine": "10.0.0.6",
              "hostname": "carol-laptop.example"},
        "3": {"server_id": {"pid": "102"}, "username": "dave", "remote_machine": "::ffff:10.0.0.7",
              "hostname": "ipv6:[::ffff:10.0.0.7]:445"}}})");
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 3u);
  EXPECT_EQ((*sessions)[0].pid, 100);
  EXPECT_EQ((*sessions)[0].uid, 1002u);
  EXPECT_EQ((*sessions)[0].user, "STEEN\\bob");
  EXPECT_EQ((*sessions)[0].machine, "WS-BOB");
  EXPECT_FALSE((*sessions)[1].uid);
  EXPECT_EQ((*sessions)[1].machine, "carol-laptop.example");
  EXPECT_EQ((*sessions)[2].machine, "");
  for (const char* empty : {R"({})", R"({"sessions": {}})", R"({"sessions": null})",
                            R"({"sessions": 5})", R"({"sessions": "x"})", R"({"sessions": []})"}) {
    auto none = ParseSmbStatusJson(empty);
    ASSERT_TRUE(none.ok()) << empty;
    EXPECT_TRUE(none->empty()) << empty;
  }
}

TEST(SmbStatusJson, WrongTypesAreSkipped) {
  auto sessions = ParseSmbStatusJson(
      R"({"sessions": {
        "a": "not an object", "b": 7, "c": null, "d": [1, 2],
        "e": {"server_id": "6433"},
        "f": {"server_id": {"pid": "abc"}},
        "g": {"server_id": {"pid": -5}},
        "h": {"server_id": {"pid": 0}},
        "i": {"server_id": {"pid": 1e20}},
        "j": {"server_id": {"pid": 99999999999}},
        "k": {"server_id": {"pid": 3.5}},
        "l": {"server_id": {"pid": true}},
        "m": {"server_id": {}},
        "n": {"server_id": {"pid": "77"}, "uid": "x", "username": 42, "remote_machine": ["WS"],
              "hostname": {"x": 1}},
        "o": {"server_id": {"pid": " 78"}},
        "p": {"server_id": {"pid": "79"}, "uid": -1}}})");
  ASSERT_TRUE(sessions.ok());
  ASSERT_EQ(sessions->size(), 2u);
  EXPECT_EQ((*sessions)[0].pid, 77);
  EXPECT_FALSE((*sessions)[0].uid);
  EXPECT_EQ((*sessions)[0].user, "");
  EXPECT_EQ((*sessions)[0].machine, "");
  EXPECT_EQ((*sessions)[1].pid, 79);
  EXPECT_FALSE((*sessions)[1].uid);
}

// `smbstatus -S --json` of Samba 4.17 (as measured: only "tcons"), the client of the sample above
// with its file share and the IPC$ every client connects.
constexpr const char* kSmbStatusTconsSample =
    R"({"timestamp": "2026-12-05T05:34:54.512330+0000", "version": "4.17.12-Debian", "smb_conf": )"
    R"("/tmp/ha-probe.mWjr6n/rig/smb.conf", "tcons": {"2637580730": {"service": "share", )"
    R"("server_id": {"pid": "6433", "task_id": "0", "vnn": "4294967295", "unique_id": )"
    R"("14035554953227744155"}, "tcon_id": "2637580730", "session_id": "3228164694", "machine": )"
    R"("198.18.0.2", "connected_at": "2026-12-05T05:34:54.401234+00:00", "encryption": )"
    R"({"cipher": "-", "degree": "none"}, "signing": {"cipher": "-", "degree": "none"}}, )"
    R"("3510399121": {"service": "IPC$", "server_id": {"pid": "6433", "task_id": "0", "vnn": )"
    R"("4294967295", "unique_id": "14035554953227744155"}, "tcon_id": "3510399121", )"
    R"("session_id": "3228164694", "machine": "198.18.0.2", "connected_at": )"
    R"("2026-12-05T05:34:54.398765+00:00", "encryption": {"cipher": "-", "degree": "none"}, )"
    R"("signing": {"cipher": "-", "degree": "none"}}}})";

TEST(SmbStatusJson, MergedSamplesGiveTheShare) {
  std::string merged = MergeSmbStatusJson(kSmbStatusSample, kSmbStatusTconsSample);
  auto root = nlohmann::json::parse(merged);
  ASSERT_TRUE(root.is_object());
  EXPECT_TRUE(root.contains("sessions"));
  EXPECT_TRUE(root.contains("tcons"));
  EXPECT_EQ(root.size(), 2u);
  auto sessions = ParseSmbStatusJson(merged);
  ASSERT_TRUE(sessions.ok()) << sessions.status().ToString();
  ASSERT_EQ(sessions->size(), 1u);
  const auto& s = (*sessions)[0];
  EXPECT_EQ(s.pid, 6433);
  EXPECT_EQ(s.user, "steentest-h6357");
  EXPECT_EQ(s.share, "share");  // IPC$ is no file share
  EXPECT_TRUE(s.in_sessions);
  // The sessions alone: no share.
  EXPECT_EQ(ParseSmbStatusJson(kSmbStatusSample)->at(0).share, "");
  // The tree connects alone: the pid is known by its share only.
  auto only_tcons = ParseSmbStatusJson(kSmbStatusTconsSample);
  ASSERT_TRUE(only_tcons.ok());
  ASSERT_EQ(only_tcons->size(), 1u);
  EXPECT_EQ((*only_tcons)[0].pid, 6433);
  EXPECT_EQ((*only_tcons)[0].share, "share");
  EXPECT_FALSE((*only_tcons)[0].in_sessions);
  EXPECT_EQ((*only_tcons)[0].user, "");
  EXPECT_FALSE((*only_tcons)[0].uid);
}

TEST(SmbStatusJson, MergeKeepsTheSessionsWhenTheTconsAreUnusable) {
  const std::string sessions = kSmbStatusSample;
  for (const char* bad : {"", "{", "[]", "null", "smbstatus: command not found",
                          R"({"sessions": {}})", R"({"timestamp": "x"})"}) {
    EXPECT_EQ(MergeSmbStatusJson(sessions, bad), sessions) << bad;
  }
  // Sessions that are no JSON object are handed on as they are: the parser reports them.
  for (const char* bad : {"", "{ truncated", "[]", "42"}) {
    EXPECT_EQ(MergeSmbStatusJson(bad, kSmbStatusTconsSample), bad) << bad;
    EXPECT_FALSE(ParseSmbStatusJson(MergeSmbStatusJson(bad, kSmbStatusTconsSample)).ok());
  }
  // Too large (either input, or the merge): the sessions alone.
  std::string tcons = kSmbStatusTconsSample;
  EXPECT_EQ(MergeSmbStatusJson(sessions, tcons, tcons.size() - 1), sessions);
  EXPECT_EQ(MergeSmbStatusJson(sessions, tcons, sessions.size() + 10), sessions);
  EXPECT_NE(MergeSmbStatusJson(sessions, tcons, sessions.size() + tcons.size()), sessions);
  // Too deep: not parsed.
  std::string deep = R"({"tcons": )" + std::string(1000, '[') + std::string(1000, ']') + "}";
  EXPECT_EQ(MergeSmbStatusJson(sessions, deep), sessions);
  // Sessions without a table (no client yet) and a tcons table: the tcons alone.
  auto merged = nlohmann::json::parse(MergeSmbStatusJson(R"({"version": "4.17"})", tcons));
  EXPECT_FALSE(merged.contains("sessions"));
  EXPECT_TRUE(merged.contains("tcons"));
  // Empty tables merge into empty tables.
  auto empty = ParseSmbStatusJson(MergeSmbStatusJson(R"({"sessions": {}})", R"({"tcons": {}})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(SmbStatusJson, SharesPerPidSortedUniqueBounded) {
  std::string tcons = R"({"sessions": {
        "1": {"server_id": {"pid": "100"}, "uid": 1002, "username": "bob"},
        "2": {"server_id": {"pid": "100"}, "uid": 1003, "username": "carol"},
        "3": {"server_id": {"pid": "101"}, "username": "dave"},
        "4": {"server_id": {"pid": "102"}, "username": "erin"}},
      "tcons": {
        "10": {"service": "projects", "server_id": {"pid": "100"}},
        "11": {"service": "finance", "server_id": {"pid": 100}},
        "12": {"service": "projects", "server_id": {"pid": "100"}},
        "13": {"service": "IPC$", "server_id": {"pid": "100"}},
        "14": {"service": "ipc$", "server_id": {"pid": "101"}},
        "15": {"service": "home", "server_id": {"pid": "103"}},
        "16": {"service": "scans", "server_id": {"pid": "103"}},
        "a": "not an object", "b": 7, "c": null, "d": [1, 2],
        "e": {"service": "x-no-server"},
        "f": {"service": "x-server-text", "server_id": "100"},
        "g": {"service": "x-pid-bad", "server_id": {"pid": "abc"}},
        "h": {"service": "x-pid-zero", "server_id": {"pid": 0}},
        "i": {"service": "x-pid-negative", "server_id": {"pid": -100}},
        "j": {"service": "x-pid-huge", "server_id": {"pid": 99999999999}},
        "k": {"service": 42, "server_id": {"pid": "100"}},
        "l": {"service": ["projects"], "server_id": {"pid": "100"}},
        "m": {"service": "", "server_id": {"pid": "100"}},
        "n": {"server_id": {"pid": "100"}}}})";
  auto sessions = ParseSmbStatusJson(tcons);
  ASSERT_TRUE(sessions.ok()) << sessions.status().ToString();
  ASSERT_EQ(sessions->size(), 5u);
  // Both sessions of one smbd carry its shares (sorted, unique, IPC$ left out).
  EXPECT_EQ((*sessions)[0].share, "finance,projects");
  EXPECT_EQ((*sessions)[1].share, "finance,projects");
  EXPECT_EQ((*sessions)[2].pid, 101);
  EXPECT_EQ((*sessions)[2].share, "");  // only IPC$ (any case)
  EXPECT_EQ((*sessions)[3].pid, 102);
  EXPECT_EQ((*sessions)[3].share, "");  // no tree connect listed
  // A pid only in tcons comes last, by its shares alone.
  EXPECT_EQ((*sessions)[4].pid, 103);
  EXPECT_EQ((*sessions)[4].share, "home,scans");
  EXPECT_FALSE((*sessions)[4].in_sessions);
  EXPECT_EQ((*sessions)[4].user, "");
  for (int i = 0; i < 4; ++i) EXPECT_TRUE((*sessions)[i].in_sessions);
  for (const char* empty :
       {R"({"tcons": {}})", R"({"tcons": null})", R"({"tcons": 5})", R"({"tcons": "x"})",
        R"({"tcons": []})", R"({"tcons": {"1": {"service": "IPC$", "server_id": {"pid": 5}}}})"}) {
    auto none = ParseSmbStatusJson(empty);
    ASSERT_TRUE(none.ok()) << empty;
    EXPECT_TRUE(none->empty()) << empty;
  }
  // Many shares of one smbd: the smallest names, whatever the order; long names are cut.
  std::string many = R"({"tcons": [)";
  for (int i = 40; i >= 1; --i) {
    if (i < 40) many += ",";
    char name[8];
    std::snprintf(name, sizeof(name), "s%02d", i);
    many += R"({"service": ")" + std::string(name) + R"(", "server_id": {"pid": 7}})";
  }
  many += R"(, {"service": ")" + std::string(1000, 'z') + R"(", "server_id": {"pid": 8}}]})";
  auto bounded = ParseSmbStatusJson(many);
  ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
  ASSERT_EQ(bounded->size(), 2u);
  std::string want;
  for (std::size_t i = 1; i <= kMaxSmbSharesPerProcess; ++i) {
    char name[8];
    std::snprintf(name, sizeof(name), "s%02zu", i);
    want += (i > 1 ? "," : "") + std::string(name);
  }
  EXPECT_EQ((*bounded)[0].share, want);
  EXPECT_EQ((*bounded)[1].share, std::string(256, 'z'));
  // Pids with shares but no session count against max_sessions too.
  std::string pids = R"({"tcons": {)";
  for (int i = 1; i <= 50; ++i) {
    if (i > 1) pids += ",";
    pids += "\"" + std::to_string(i) + R"(": {"service": "s", "server_id": {"pid": )" +
            std::to_string(i) + "}}";
  }
  pids += "}}";
  auto capped = ParseSmbStatusJson(pids, 1 << 20, 10);
  ASSERT_TRUE(capped.ok()) << capped.status().ToString();
  EXPECT_EQ(capped->size(), 10u);
}

TEST(SmbStatusJson, MalformedHugeAndDeep) {
  for (const char* bad : {"", "{", "null", "[]", "\"x\"", "42", "{\"sessions\": {\"1\": }}",
                          "smbstatus: command not found", "{} {}", "\xff\xfe{}"}) {
    EXPECT_FALSE(ParseSmbStatusJson(bad).ok()) << bad;
  }
  // Larger than the cap: refused before parsing.
  std::string huge = std::string(kSmbStatusSample);
  huge.insert(1, std::string(2000, ' '));
  EXPECT_EQ(ParseSmbStatusJson(huge, 1000).status().code(), Status::Code::kResourceExhausted);
  EXPECT_TRUE(ParseSmbStatusJson(huge, 4000).ok());
  // Deep nesting is refused before nlohmann builds it (and quickly).
  std::string deep = "{\"sessions\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ParseSmbStatusJson(deep).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  // Brackets inside strings do not count as nesting.
  std::string in_string = R"({"sessions": {"1": {"server_id": {"pid": 5}, "username": ")" +
                          std::string(100, '[') + R"(\"{"}}})";
  auto s = ParseSmbStatusJson(in_string);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].user, std::string(100, '[') + "\"{");
  // Many sessions: capped; long names are cut.
  std::string many = "{\"sessions\": {";
  for (int i = 1; i <= 50; ++i) {
    if (i > 1) many += ",";
    many += "\"" + std::to_string(i) + "\": {\"server_id\": {\"pid\": " + std::to_string(i) +
            "}, \"username\": \"" + std::string(1000, 'u') + "\"}";
  }
  many += "}}";
  auto capped = ParseSmbStatusJson(many, 1 << 20, 10);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 10u);
  EXPECT_EQ((*capped)[0].user.size(), 256u);
}

// Fuzz-style: byte mutations of real inputs never crash the parsers (run under ASan in CI).
TEST(SmbParse, MutatedInputsNeverCrash) {
  const std::string tcp_line =
      "   4: 010012C6:1162 020012C6:BE6E 01 00000000:00000000 02:000AFAFE 00000000     0        0 "
      "9095 2 00000000e8228ed4 20 4 5 24 -1";
  constexpr char kArgs[] = "smbd\0--foreground\0--configfile=/tmp/r/smb.conf\0";
  const std::string cmdline(kArgs, sizeof(kArgs) - 1);
  std::mt19937 rng(6);
  const char alphabet[] = "0123456789ABCDEFabcdef:[]{}\",: \t\n\0-+x";
  for (int round = 0; round < 3000; ++round) {
    std::string json = kSmbStatusSample, line = tcp_line, args = cmdline;
    std::string tcons = kSmbStatusTconsSample;
    for (std::string* input : {&json, &line, &args, &tcons}) {
      int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !input->empty(); ++e) {
        std::size_t at = rng() % input->size();
        switch (rng() % 3) {
          case 0:
            (*input)[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
            break;
          case 1:
            input->erase(at, 1 + rng() % 8);
            break;
          default:
            input->insert(at, 1 + rng() % 4, alphabet[rng() % (sizeof(alphabet) - 1)]);
        }
      }
    }
    (void)ParseSmbStatusJson(json);
    (void)ParseSmbStatusJson(tcons);
    (void)ParseSmbStatusJson(MergeSmbStatusJson(json, tcons));
    (void)ParseProcNetTcpLine(line);
    (void)SmbdConfigFileFromCmdline(args);
    (void)DecodeProcNetAddress(line.substr(6, 8));
    (void)ParseSocketLink(line.substr(0, 14));
    (void)CanonicalIpAddress(line.substr(0, 20));
  }
}

TEST(RunAndCapture, OutputExitTimeoutAndCaps) {
  auto echo = RunAndCapture({"echo", "hello"}, milliseconds(5000), 1000);
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  EXPECT_EQ(*echo, "hello\n");
  EXPECT_FALSE(RunAndCapture({"sh", "-c", "echo partial; exit 3"}, milliseconds(5000), 1000).ok());
  EXPECT_FALSE(RunAndCapture({"sh", "-c", "kill -9 $$"}, milliseconds(5000), 1000).ok());
  EXPECT_FALSE(RunAndCapture({"steen-no-such-program-xyz"}, milliseconds(5000), 1000).ok());
  EXPECT_FALSE(RunAndCapture({}, milliseconds(5000), 1000).ok());
  // stderr is discarded, stdin is empty.
  auto quiet = RunAndCapture({"sh", "-c", "echo err >&2; cat; echo out"}, milliseconds(5000), 100);
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(*quiet, "out\n");

  auto start = std::chrono::steady_clock::now();
  auto slow = RunAndCapture({"sleep", "20"}, milliseconds(300), 1000);
  EXPECT_FALSE(slow.ok());
  // Output closed but still running: the deadline still holds.
  auto lingering = RunAndCapture({"sh", "-c", "exec >&-; sleep 20"}, milliseconds(300), 1000);
  EXPECT_FALSE(lingering.ok());
  auto chatty = RunAndCapture({"yes"}, milliseconds(5000), 10000);
  EXPECT_EQ(chatty.status().code(), Status::Code::kResourceExhausted);
  std::atomic<bool> cancel{true};
  EXPECT_FALSE(RunAndCapture({"sleep", "20"}, milliseconds(20000), 1000, &cancel).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A fake /proc: the rig's layout (a main smbd listening, children serving clients, helpers).
class FakeProc {
 public:
  FakeProc() {
    char tmpl[] = "/tmp/steen-smb-proc-XXXXXX";
    root_ = ::mkdtemp(tmpl) != nullptr ? tmpl : "";
  }
  ~FakeProc() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }

  void Process(pid_t pid, const std::string& comm, const std::string& exe, uid_t euid,
               uint64_t start_time, const std::string& cmdline) {
    std::string dir = root_ + "/" + std::to_string(pid);
    fs::create_directories(dir + "/fd");
    fs::create_directories(dir + "/net");
    std::ofstream(dir + "/stat") << pid << " (" << comm << ") S 1 " << pid << " " << pid
                                 << " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start_time << " 0 0\n";
    SetEuid(pid, euid);
    std::ofstream(dir + "/cmdline", std::ios::binary) << cmdline;
    if (!exe.empty()) fs::create_symlink(exe, dir + "/exe");
    std::ofstream(dir + "/cgroup") << "0::/system.slice/smbd.service\n";
  }
  void SetEuid(pid_t pid, uid_t euid) {
    std::ofstream(root_ + "/" + std::to_string(pid) + "/status")
        << "Name:\tsmbd\nTgid:\t" << pid << "\nPPid:\t1\nUid:\t0\t" << euid << "\t0\t" << euid
        << "\n";
  }
  void SetStartTime(pid_t pid, const std::string& comm, uint64_t start_time) {
    std::ofstream(root_ + "/" + std::to_string(pid) + "/stat")
        << pid << " (" << comm << ") S 1 " << pid << " " << pid
        << " 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start_time << " 0 0\n";
  }
  void Fd(pid_t pid, int fd, const std::string& target) {
    fs::create_symlink(target, root_ + "/" + std::to_string(pid) + "/fd/" + std::to_string(fd));
  }
  void Net(pid_t pid, const std::vector<std::string>& tcp, const std::vector<std::string>& tcp6) {
    const char* header =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n";
    std::ofstream t(root_ + "/" + std::to_string(pid) + "/net/tcp");
    t << header;
    for (const auto& r : tcp) t << r << "\n";
    std::ofstream t6(root_ + "/" + std::to_string(pid) + "/net/tcp6");
    t6 << header;
    for (const auto& r : tcp6) t6 << r << "\n";
  }
  void Remove(pid_t pid) { fs::remove_all(root_ + "/" + std::to_string(pid)); }

 private:
  std::string root_;
};

// The rig's sockets: smbd listens on 198.18.0.1:4450 (and tcp6 [::]:4450).
std::vector<std::string> Tcp() {
  return {
      Row(0, "198.18.0.1", 4450, "0.0.0.0", 0, kTcpListen, 9310),
      Row(1, "198.18.0.1", 4450, "198.18.0.2", 48750, kTcpEstablished, 9095),  // 101's client
      Row(2, "198.18.0.1", 4450, "198.18.1.2", 40000, kTcpEstablished, 9096),  // 102's client
      Row(3, "198.18.0.1", 51000, "198.18.9.9", 389, kTcpEstablished, 9097),   // outgoing (LDAP)
      Row(4, "198.18.0.1", 4450, "198.18.0.2", 48751, 6 /* TIME_WAIT */, 9098),
      Row(5, "198.18.0.1", 4450, "198.18.7.7", 48752, kTcpEstablished, 9099),  // someone else's
  };
}
std::vector<std::string> Tcp6() {
  return {
      Row(0, "::", 4450, "::", 0, kTcpListen, 9311),
      Row(1, "::ffff:198.18.0.1", 4450, "::ffff:198.18.0.3", 5000, kTcpEstablished, 9200),
      Row(2, "2001:db8::1", 4450, "2001:db8::77", 5001, kTcpEstablished, 9201),
  };
}
constexpr char kRigArgs[] = "smbd\0--foreground\0--configfile=/rig/smb.conf\0";
constexpr char kSystemArgs[] = "/usr/sbin/smbd\0--foreground\0--no-process-group\0";
const std::string kRigCmdline(kRigArgs, sizeof(kRigArgs) - 1);
const std::string kSystemCmdline(kSystemArgs, sizeof(kSystemArgs) - 1);

// Records smbstatus requests and answers from a script.
struct FakeSmbStatus {
  std::mutex mu;
  std::vector<std::string> configs;
  std::map<std::string, StatusOr<std::string>> answers;
  StatusOr<std::string> Run(const std::string& config) {
    std::lock_guard lock(mu);
    configs.push_back(config);
    auto it = answers.find(config);
    if (it == answers.end()) return Status::NotFound("smbstatus: not installed");
    return it->second;
  }
  std::vector<std::string> Configs() {
    std::lock_guard lock(mu);
    return configs;
  }
};

class SmbTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(proc_.root().empty());
    nobody_ = UserName(65534);
    // Main smbd: listener sockets only, plus a unix socket.
    proc_.Process(100, "smbd", "/usr/sbin/smbd", 0, 500, kRigCmdline);
    proc_.Fd(100, 6, "socket:[9300]");
    proc_.Fd(100, 29, "socket:[9310]");
    proc_.Fd(100, 30, "socket:[9311]");
    proc_.Net(100, Tcp(), Tcp6());
    // Helper: notifyd (comm smbd-notifyd), no TCP.
    proc_.Process(99, "smbd-notifyd", "/usr/sbin/smbd", 0, 501, kRigCmdline);
    proc_.Fd(99, 6, "socket:[9303]");
    proc_.Net(99, Tcp(), Tcp6());
    // Child serving 198.18.0.2 as nobody; also holds a file, a unix socket and an outgoing
    // connection on a lower fd than its client.
    proc_.Process(101, "smbd", "/usr/sbin/smbd", 65534, 600, kRigCmdline);
    proc_.Fd(101, 3, "/rig/lock/locking.tdb");
    proc_.Fd(101, 5, "socket:[9097]");
    proc_.Fd(101, 6, "socket:[9337]");
    proc_.Fd(101, 35, "socket:[9095]");
    proc_.Fd(101, 36, "/srv/share/a.docx");
    proc_.Net(101, Tcp(), Tcp6());
    // Child serving 198.18.1.2, root between requests at first sight.
    proc_.Process(102, "smbd", "/usr/sbin/smbd", 0, 601, kRigCmdline);
    proc_.Fd(102, 35, "socket:[9096]");
    proc_.Net(102, Tcp(), Tcp6());
    // Child of the system smbd (default smb.conf) with an IPv4-mapped client on tcp6.
    proc_.Process(103, "smbd", "/usr/sbin/smbd", 65534, 602, kSystemCmdline);
    proc_.Fd(103, 40, "socket:[9200]");
    proc_.Net(103, Tcp(), Tcp6());
    // Child with a real IPv6 client.
    proc_.Process(104, "smbd", "/usr/sbin/smbd", 65534, 603, kSystemCmdline);
    proc_.Fd(104, 40, "socket:[9201]");
    proc_.Net(104, Tcp(), Tcp6());
    // Not an smbd, though it holds a client connection.
    proc_.Process(105, "nc", "/usr/bin/nc", 0, 604, std::string("nc\0", 3));
    proc_.Fd(105, 3, "socket:[9099]");
    proc_.Net(105, Tcp(), Tcp6());
    // smbd with only an outgoing connection (no accepted one): that peer is all it has.
    proc_.Process(106, "smbd", "/usr/sbin/smbd", 65534, 605, kSystemCmdline);
    proc_.Fd(106, 7, "socket:[9097]");
    proc_.Net(106, Tcp(), Tcp6());
  }

  ProcSmbSessionTableOptions Options(bool smbstatus = true) {
    ProcSmbSessionTableOptions o;
    o.proc_root = proc_.root();
    o.use_smbstatus = smbstatus;
    o.smbstatus_interval = milliseconds(0);
    o.run_smbstatus = [this](const std::string& c) { return smbstatus_.Run(c); };
    return o;
  }

  FakeProc proc_;
  FakeSmbStatus smbstatus_;
  std::string nobody_;
};

TEST_F(SmbTableTest, ClientAddressFromTheChildsSocket) {
  ProcSmbSessionTable table(Options(false));
  auto s = table.ForPid(101);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->pid, 101);
  EXPECT_EQ(s->start_time, 600u);
  EXPECT_EQ(s->client_address, "198.18.0.2");  // the accepted one, not the lower outgoing fd
  EXPECT_EQ(s->user, nobody_);
  EXPECT_EQ(s->machine, "");
  EXPECT_EQ(table.ForPid(103)->client_address, "198.18.0.3");  // ::ffff:198.18.0.3
  EXPECT_EQ(table.ForPid(104)->client_address, "2001:db8::77");
  EXPECT_EQ(table.ForPid(106)->client_address, "198.18.9.9");
  // Not clients: main smbd, helper, a non-smbd, a missing pid, nonsense pids.
  EXPECT_FALSE(table.ForPid(100));
  EXPECT_FALSE(table.ForPid(99));
  EXPECT_FALSE(table.ForPid(105));
  EXPECT_FALSE(table.ForPid(4242));
  EXPECT_FALSE(table.ForPid(0));
  EXPECT_FALSE(table.ForPid(-1));
  // Root at first sight and no smbstatus: the address alone.
  auto root_child = table.ForPid(102);
  ASSERT_TRUE(root_child);
  EXPECT_EQ(root_child->client_address, "198.18.1.2");
  EXPECT_EQ(root_child->user, "");
  auto stats = table.Stats();
  EXPECT_EQ(stats.sessions, 5u);
  EXPECT_EQ(stats.no_peer, 2u);
  EXPECT_EQ(stats.smbstatus_runs, 0u);
}

TEST_F(SmbTableTest, CachedByPidAndStartTime) {
  ProcSmbSessionTable table(Options(false));
  ASSERT_EQ(table.ForPid(101)->user, nobody_);
  // Cached: a changed euid (root between requests) or lost fds change nothing.
  proc_.SetEuid(101, 0);
  proc_.Remove(101);
  EXPECT_FALSE(table.ForPid(101));  // gone: nothing (the attributor remembers its events)
  proc_.Process(101, "smbd", "/usr/sbin/smbd", 0, 600, kRigCmdline);
  proc_.Net(101, Tcp(), Tcp6());
  auto same = table.ForPid(101);
  ASSERT_TRUE(same);
  EXPECT_EQ(same->user, nobody_);
  EXPECT_EQ(same->client_address, "198.18.0.2");
  // A new process under the same pid is looked at afresh.
  proc_.SetStartTime(101, "smbd", 700);
  EXPECT_FALSE(table.ForPid(101));  // no socket now
  proc_.Fd(101, 35, "socket:[9201]");
  EXPECT_FALSE(table.ForPid(101));  // a client-less smbd is looked at again only after 1 s
  std::this_thread::sleep_for(milliseconds(1100));
  auto reused = table.ForPid(101);
  ASSERT_TRUE(reused);
  EXPECT_EQ(reused->start_time, 700u);
  EXPECT_EQ(reused->client_address, "2001:db8::77");
  EXPECT_EQ(reused->user, "");
}

TEST_F(SmbTableTest, SmbstatusFillsMachineAndAnEmptyUserOnly) {
  smbstatus_.answers.emplace("/rig/smb.conf", std::string(R"({"sessions": {
        "1": {"server_id": {"pid": "101"}, "uid": 65534, "username": "someone-else",
              "remote_machine": "WS-ALICE", "hostname": "ipv4:198.18.0.2:48750"},
        "2": {"server_id": {"pid": "102"}, "uid": 1002, "username": "STEEN\\bob",
              "remote_machine": "198.18.1.2", "hostname": "ipv4:198.18.1.2:40000"},
        "3": {"server_id": {"pid": "102"}, "uid": 1003, "username": "STEEN\\mallory",
              "remote_machine": "M", "hostname": "ipv4:198.18.1.2:40000"}}})"));
  ProcSmbSessionTable table(Options());
  EXPECT_EQ(table.ForPid(101)->user, nobody_);  // at once, from the euid
  EXPECT_EQ(table.ForPid(102)->user, "");       // root: unknown until smbstatus answers
  ASSERT_TRUE(table.WaitIdle(milliseconds(10000)));
  auto alice = table.ForPid(101);
  EXPECT_EQ(alice->user, nobody_);  // stable: smbstatus does not replace a known user
  EXPECT_EQ(alice->machine, "WS-ALICE");
  auto bob = table.ForPid(102);
  EXPECT_EQ(bob->user, "STEEN\\bob");  // first session of the pid (no euid to match)
  EXPECT_EQ(bob->machine, "");
  // Once known, it stays, whatever the euid becomes.
  proc_.SetEuid(102, 65534);
  EXPECT_EQ(table.ForPid(102)->user, "STEEN\\bob");
  auto configs = smbstatus_.Configs();
  ASSERT_GE(configs.size(), 1u);
  EXPECT_EQ(configs[0], "/rig/smb.conf");
  EXPECT_EQ(table.Stats().smbstatus_filled, 2u);
  EXPECT_EQ(table.Stats().smbstatus_failures, 0u);
}

TEST_F(SmbTableTest, SmbstatusFillsAndUpdatesTheShare) {
  auto answer = [this](const std::string& json) {
    std::lock_guard lock(smbstatus_.mu);
    smbstatus_.answers.insert_or_assign("/rig/smb.conf", StatusOr<std::string>(json));
  };
  // 101 has a session and a share (plus IPC$); 102 only a tree connect (its session appeared
  // after the -b run).
  answer(R"({"sessions": {
        "1": {"server_id": {"pid": "101"}, "uid": 65534, "username": "nobody",
              "remote_machine": "WS-ALICE", "hostname": "ipv4:198.18.0.2:48750"}},
      "tcons": {
        "7": {"service": "projects", "server_id": {"pid": "101"}, "machine": "198.18.0.2"},
        "8": {"service": "IPC$", "server_id": {"pid": "101"}, "machine": "198.18.0.2"},
        "9": {"service": "finance", "server_id": {"pid": "102"}, "machine": "198.18.1.2"}}})");
  ProcSmbSessionTable table(Options());
  EXPECT_EQ(table.ForPid(101)->share, "");  // unknown until smbstatus answers
  EXPECT_EQ(table.ForPid(102)->share, "");
  ASSERT_TRUE(table.WaitIdle(milliseconds(10000)));
  auto alice = table.ForPid(101);
  EXPECT_EQ(alice->share, "projects");
  EXPECT_EQ(alice->machine, "WS-ALICE");
  auto bob = table.ForPid(102);
  EXPECT_EQ(bob->share, "finance");
  EXPECT_EQ(bob->user, "");  // no session listed: asked again, a few times
  EXPECT_EQ(table.Stats().smbstatus_filled, 1u);
  // Asked kSmbStatusAttempts times for 102's session; one run more when the worker ran between
  // the first and the second ForPid (each new pid asks for a run).
  auto configs = smbstatus_.Configs();
  const auto runs = std::count(configs.begin(), configs.end(), "/rig/smb.conf");
  EXPECT_GE(runs, limits::kSmbStatusAttempts);
  EXPECT_LE(runs, limits::kSmbStatusAttempts + 1);

  // The client of 101 connects another share; a new child of the family makes smbstatus run.
  answer(R"({"sessions": {}, "tcons": {
        "7": {"service": "projects", "server_id": {"pid": "101"}},
        "10": {"service": "scans", "server_id": {"pid": 101}},
        "9": {"service": "finance", "server_id": {"pid": "102"}}}})");
  auto tcp = Tcp();
  tcp.push_back(Row(6, "198.18.0.1", 4450, "198.18.0.2", 48999, kTcpEstablished, 9400));
  // A new smbd child of the rig on that connection, seen by the table (which asks smbstatus).
  auto new_child = [&](pid_t pid, uint64_t start_time) {
    proc_.Process(pid, "smbd", "/usr/sbin/smbd", 65534, start_time, kRigCmdline);
    proc_.Fd(pid, 35, "socket:[9400]");
    proc_.Net(pid, tcp, Tcp6());
    return table.ForPid(pid).has_value() && table.WaitIdle(milliseconds(10000));
  };
  ASSERT_TRUE(new_child(107, 606));
  EXPECT_EQ(table.ForPid(101)->share, "projects,scans");
  EXPECT_EQ(table.ForPid(101)->user, nobody_);  // the user is a scope key: it stays
  EXPECT_EQ(table.ForPid(101)->machine, "WS-ALICE");
  EXPECT_EQ(table.ForPid(102)->share, "finance");
  EXPECT_EQ(table.ForPid(107)->share, "");

  // An answer without tree connects (smbstatus -S failed) leaves the shares known.
  answer(R"({"sessions": {"1": {"server_id": {"pid": "101"}, "username": "nobody"}}})");
  ASSERT_TRUE(new_child(108, 607));
  EXPECT_EQ(table.ForPid(101)->share, "projects,scans");
  EXPECT_EQ(table.ForPid(102)->share, "finance");
  // Every answer was for the rig's family.
  for (const auto& config : smbstatus_.Configs()) EXPECT_EQ(config, "/rig/smb.conf");
}

TEST_F(SmbTableTest, OneSmbstatusPerFamilyWithItsOwnConfig) {
  smbstatus_.answers.emplace("/rig/smb.conf", std::string(R"({"sessions": {}})"));
  smbstatus_.answers.emplace(
      "", std::string(R"({"sessions": {"9": {"server_id": {"pid": 103}, "uid": 65534,
                      "username": "nobody", "remote_machine": "PC103"}}})"));
  ProcSmbSessionTable table(Options());
  ASSERT_TRUE(table.ForPid(101));
  ASSERT_TRUE(table.ForPid(103));
  ASSERT_TRUE(table.WaitIdle(milliseconds(10000)));
  EXPECT_EQ(table.ForPid(103)->machine, "PC103");
  EXPECT_EQ(table.ForPid(101)->machine, "");
  auto configs = smbstatus_.Configs();
  // The rig's family is asked again (101 not listed) up to kSmbStatusAttempts times in all.
  EXPECT_EQ(std::count(configs.begin(), configs.end(), ""), 1);
  EXPECT_EQ(std::count(configs.begin(), configs.end(), "/rig/smb.conf"),
            limits::kSmbStatusAttempts);
  // Known pids do not cause further runs.
  std::size_t runs = configs.size();
  table.ForPid(101);
  table.ForPid(103);
  ASSERT_TRUE(table.WaitIdle(milliseconds(10000)));
  EXPECT_EQ(smbstatus_.Configs().size(), runs);
}

TEST_F(SmbTableTest, SmbstatusFailingLeavesAddressAndEuidUser) {
  smbstatus_.answers.emplace("/rig/smb.conf", std::string("{ truncated"));
  ProcSmbSessionTable table(Options());
  auto s = table.ForPid(101);
  ASSERT_TRUE(s);
  ASSERT_TRUE(table.WaitIdle(milliseconds(20000)));
  s = table.ForPid(101);
  EXPECT_EQ(s->client_address, "198.18.0.2");
  EXPECT_EQ(s->user, nobody_);
  auto stats = table.Stats();
  EXPECT_GE(stats.smbstatus_failures, 1u);
  EXPECT_EQ(stats.smbstatus_failures, stats.smbstatus_runs);
  EXPECT_NE(stats.last_smbstatus_error, "");
  // Missing smbstatus (the fake knows no answer for the default family): counted the same way.
  ASSERT_TRUE(table.ForPid(103));
  ASSERT_TRUE(table.WaitIdle(milliseconds(20000)));
  EXPECT_EQ(table.ForPid(103)->client_address, "198.18.0.3");
  EXPECT_GT(table.Stats().smbstatus_failures, stats.smbstatus_failures);
}

TEST_F(SmbTableTest, ExitedChildKeepsItsSessionButServesNobody) {
  ProcSmbSessionTable table(Options(false));
  ASSERT_TRUE(table.ForPid(101));
  // Zombies: same start time, no fds left. 101 was seen alive, 102 never.
  proc_.Remove(101);
  proc_.Process(101, "smbd", "", 0, 600, "");
  std::ofstream(proc_.root() + "/101/stat")
      << "101 (smbd) Z 1 101 101 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 600 0 0\n";
  std::ofstream(proc_.root() + "/102/stat")
      << "102 (smbd) Z 1 102 102 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 601 0 0\n";
  auto late = table.ForPid(101);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->client_address, "198.18.0.2");
  EXPECT_EQ(late->user, nobody_);
  EXPECT_FALSE(table.ForPid(102));
  EXPECT_TRUE(table.ServingClient("198.18.0.2").empty());
  EXPECT_TRUE(table.ServingClient("198.18.1.2").empty());
}

TEST_F(SmbTableTest, ServingClient) {
  ProcSmbSessionTable table(Options(false));
  auto att = table.ServingClient("198.18.0.2");
  ASSERT_EQ(att.size(), 1u);
  EXPECT_EQ(att[0].pid, 101);
  EXPECT_EQ(att[0].user, nobody_);
  // A second connection of the same client (a reconnect under a new pid).
  proc_.Process(107, "smbd", "/usr/sbin/smbd", 65534, 606, kRigCmdline);
  proc_.Fd(107, 35, "socket:[9300]");
  auto tcp = Tcp();
  tcp.push_back(Row(6, "198.18.0.1", 4450, "198.18.0.2", 48999, kTcpEstablished, 9300));
  proc_.Net(107, tcp, Tcp6());
  att = table.ServingClient("::ffff:198.18.0.2");
  ASSERT_EQ(att.size(), 2u);
  EXPECT_EQ(att[1].pid, 107);
  EXPECT_EQ(table.ServingClient("2001:DB8::77").at(0).pid, 104);
  EXPECT_TRUE(table.ServingClient("198.18.7.7").empty());  // nc is not an smbd
  EXPECT_TRUE(table.ServingClient("198.18.100.100").empty());
  EXPECT_TRUE(table.ServingClient("not an address").empty());
  EXPECT_TRUE(table.ServingClient("").empty());
}

TEST_F(SmbTableTest, AttributorFillsActorsOfSmbdChildren) {
  auto table = std::make_shared<ProcSmbSessionTable>(Options(false));
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, proc_.root());
  attributor.SetSmbSessions(table);
  EXPECT_EQ(attributor.smb_sessions().get(), table.get());
  Actor child = attributor.Attribute(101);
  EXPECT_EQ(child.comm, "smbd");
  EXPECT_EQ(child.smb_client_address, "198.18.0.2");
  EXPECT_EQ(child.smb_user, nobody_);
  EXPECT_EQ(child.smb_machine, "");
  Actor again = attributor.Attribute(101);  // attributor cache hit
  EXPECT_EQ(again.smb_client_address, "198.18.0.2");
  Actor main = attributor.Attribute(100);
  EXPECT_EQ(main.comm, "smbd");
  EXPECT_EQ(main.smb_client_address, "");
  EXPECT_EQ(main.smb_user, "");
  Actor nc = attributor.Attribute(105);
  EXPECT_EQ(nc.smb_client_address, "");
  // Gone since: its events keep what an earlier one showed.
  proc_.Remove(101);
  Actor gone = attributor.Attribute(101);
  EXPECT_EQ(gone.smb_client_address, "198.18.0.2");
  EXPECT_EQ(gone.smb_user, nobody_);
  // Without a table nothing is filled.
  ProcessAttributor plain(DefaultFileOpener(), RealClock::Get(), nullptr, proc_.root());
  EXPECT_EQ(plain.Attribute(102).smb_client_address, "");
}

TEST_F(SmbTableTest, AttributorFillsTheShare) {
  smbstatus_.answers.emplace("/rig/smb.conf", std::string(R"({"sessions": {
        "1": {"server_id": {"pid": "101"}, "uid": 65534, "username": "nobody",
              "remote_machine": "WS-ALICE"}},
      "tcons": {"2637580730": {"service": "share", "server_id": {"pid": "101"}},
                "2637580731": {"service": "IPC$", "server_id": {"pid": "101"}}}})"));
  auto table = std::make_shared<ProcSmbSessionTable>(Options());
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get(), nullptr, proc_.root());
  attributor.SetSmbSessions(table);
  Actor first = attributor.Attribute(101);
  EXPECT_EQ(first.smb_client_address, "198.18.0.2");
  EXPECT_EQ(first.smb_share, "");  // smbstatus has not answered yet
  ASSERT_TRUE(table->WaitIdle(milliseconds(10000)));
  Actor later = attributor.Attribute(101);  // attributor cache hit: the table is asked again
  EXPECT_EQ(later.smb_machine, "WS-ALICE");
  EXPECT_EQ(later.smb_share, "share");
  // Gone since: its events keep what an earlier one showed.
  proc_.Remove(101);
  EXPECT_EQ(attributor.Attribute(101).smb_share, "share");
  EXPECT_EQ(attributor.Attribute(100).smb_share, "");  // the main smbd serves no share
}

// ---- A real smbd
// ---------------------------------------------------------------------------------

// The source tree, from this file's path (tests/unit/sys/smb_sessions_test.cc).
std::string SourceRoot() {
  std::string file = __FILE__;
  std::size_t at = file.rfind("/tests/unit/sys/");
  return at == std::string::npos ? std::string() : file.substr(0, at);
}

bool HaveProgram(const char* name) {
  std::string cmd = std::string("command -v ") + name + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// A bash running the rig; stdin is its lifeline: closing it ends the client and cleans up
// (rig_stop: smbd, namespaces, veths, the user; the work folder).
class RigScript {
 public:
  bool Start(const std::string& script) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return false;
    if (::pipe2(out, O_CLOEXEC) != 0) return false;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execl("/bin/bash", "bash", "-c", script.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    return pid_ > 0;
  }
  // The next line of output, waiting at most `timeout`.
  std::optional<std::string> ReadLine(milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      std::size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      auto left =
          std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = ::read(stdout_, chunk, sizeof(chunk));
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  ~RigScript() { Stop(); }
  void Stop() {
    if (stdin_ >= 0) ::close(stdin_);
    stdin_ = -1;
    if (pid_ <= 0) return;
    // Normal end: the script's EXIT trap cleans up. Then TERM (trapped: same cleanup), then KILL.
    for (int sig : {0, SIGTERM, SIGKILL}) {
      if (sig != 0) ::kill(pid_, sig);
      for (int i = 0; i < 600; ++i) {  // 60 s each
        int status;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
      if (pid_ < 0) break;
    }
    if (stdout_ >= 0) ::close(stdout_);
    stdout_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
  std::string buf_;
};

TEST(SmbRealRig, ClientInAttackerNamespaceIsAttributedToItsAddressAndUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (the Samba rig: useradd, netns, smbd)";
  std::string root = SourceRoot();
  std::string rig = root + "/tests/e2e/lib/samba_rig.sh";
  if (root.empty() || !fs::exists(rig)) GTEST_SKIP() << "source tree not found at " << root;
  for (const char* program : {"smbd", "smbclient", "smbstatus", "smbpasswd", "ip"}) {
    if (!HaveProgram(program)) GTEST_SKIP() << program << " is not installed";
  }
  std::string script = "set -u\nsource '" + rig + R"SH('
rig_available || { echo "SKIP $RIG_SKIP_REASON"; exit 0; }
WORK=$(mktemp -d /tmp/steen-smb-attribution.XXXXXX)
CLIENT=""
cleanup() {
  if [[ -n $CLIENT ]]; then kill "$CLIENT" 2> /dev/null; fi
  rig_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' TERM INT HUP
chmod 0711 "$WORK"
rig_start "$WORK/rig" > /dev/null 2>&1 || { echo "FAIL rig_start"; exit 1; }
U=steentest-attr$$
rig_add_user "$U" "pw-$$" || { echo "FAIL rig_add_user"; exit 1; }
echo hello > "$WORK/hello.txt"
# The client keeps its connection while our stdin (the test) stays open.
{ echo "put $WORK/hello.txt hello.txt"; cat; } |
  rig_client att smbclient -A "$(rig_auth_file "$U")" "//$RIG_ATT_SERVER/$RIG_SHARE" \
    -p "$RIG_PORT" -m SMB3 > "$WORK/smbclient.out" 2>&1 &
CLIENT=$!
for i in $(seq 1 100); do
  [[ -e $RIG_SHARE_DIR/hello.txt ]] && break
  sleep 0.1
done
[[ -e $RIG_SHARE_DIR/hello.txt ]] || { echo "FAIL no upload: $(cat "$WORK/smbclient.out")"; exit 1; }
echo "RIG $RIG_ATT_ADDR $U $RIG_SMBD_PID $RIG_CONF"
wait "$CLIENT"
CLIENT=""
echo DONE
)SH";
  RigScript rig_script;
  ASSERT_TRUE(rig_script.Start(script));
  auto line = rig_script.ReadLine(milliseconds(90000));
  ASSERT_TRUE(line) << "the rig script said nothing";
  if (line->rfind("SKIP ", 0) == 0) GTEST_SKIP() << line->substr(5);
  ASSERT_EQ(line->rfind("RIG ", 0), 0u) << *line;
  std::istringstream fields(line->substr(4));
  std::string att_addr, user, conf;
  pid_t main_pid = 0;
  fields >> att_addr >> user >> main_pid >> conf;
  ASSERT_FALSE(conf.empty()) << *line;

  ProcSmbSessionTableOptions options;
  options.smbstatus_interval = milliseconds(0);
  ProcSmbSessionTable table(options);
  EXPECT_FALSE(table.ForPid(main_pid));  // the listener serves nobody
  auto serving = table.ServingClient(att_addr);
  ASSERT_EQ(serving.size(), 1u) << "no smbd child serving " << att_addr;
  const SmbSession& s = serving[0];
  EXPECT_NE(s.pid, main_pid);
  EXPECT_EQ(s.client_address, att_addr);
  // The euid's user, unless the child was root at that instant (then smbstatus fills it).
  EXPECT_TRUE(s.user == user || s.user.empty()) << s.user;
  // smbstatus of the rig's own config (found on the child's command line) answered for it.
  ASSERT_TRUE(table.WaitIdle(milliseconds(30000)));
  auto stats = table.Stats();
  EXPECT_GE(stats.smbstatus_runs, 1u);
  EXPECT_EQ(stats.smbstatus_failures, 0u) << stats.last_smbstatus_error;
  EXPECT_GE(stats.smbstatus_filled, 1u);
  auto again = table.ForPid(s.pid);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->user, user);
  EXPECT_EQ(again->machine, "");     // smbclient on a non-NetBIOS port sends no machine name
  EXPECT_EQ(again->share, "share");  // the rig's share (`smbstatus -S`), not IPC$

  // Through the attributor, as the daemon does.
  auto shared = std::make_shared<ProcSmbSessionTable>(options);
  ProcessAttributor attributor(DefaultFileOpener(), RealClock::Get());
  attributor.SetSmbSessions(shared);
  Actor actor = attributor.Attribute(s.pid);
  EXPECT_EQ(actor.smb_client_address, att_addr);
  EXPECT_EQ(actor.smb_user, user);
  ASSERT_TRUE(shared->WaitIdle(milliseconds(30000)));
  EXPECT_EQ(attributor.Attribute(s.pid).smb_share, "share");
  EXPECT_EQ(attributor.Attribute(main_pid).smb_client_address, "");

  rig_script.Stop();
  // Its smbd is gone (another rig may reuse the slot, hence the address, at once: check the pid).
  for (const auto& left : table.ServingClient(att_addr)) EXPECT_NE(left.pid, s.pid);
}

}  // namespace
}  // namespace steen::sys
