// journald sink against a unix datagram socket bound in the test's temporary folder; the test
// parses the native protocol itself (both field forms, and the memfd path for large alerts).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <map>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using testing::SampleAlert;
using testing::TempDir;
using Fields = std::multimap<std::string, std::string>;

// Parses a native-protocol payload; fails the test on malformed input.
Fields ParseNative(const std::string& data, bool* used_binary_form = nullptr) {
  Fields fields;
  std::size_t i = 0;
  while (i < data.size()) {
    std::size_t eol = data.find('\n', i);
    std::size_t eq = data.find('=', i);
    if (eol == std::string::npos) {
      ADD_FAILURE() << "field without newline at " << i;
      break;
    }
    if (eq != std::string::npos && eq < eol) {
      fields.emplace(data.substr(i, eq - i), data.substr(eq + 1, eol - eq - 1));
      i = eol + 1;
      continue;
    }
    // Binary-safe form: NAME\n, little-endian 64-bit size, bytes, \n.
    std::string name = data.substr(i, eol - i);
    i = eol + 1;
    if (i + 8 > data.size()) {
      ADD_FAILURE() << "truncated size of " << name;
      break;
    }
    uint64_t len = 0;
    for (int b = 0; b < 8; ++b) len |= uint64_t{static_cast<unsigned char>(data[i + b])} << (8 * b);
    i += 8;
    if (i + len + 1 > data.size() || data[i + len] != '\n') {
      ADD_FAILURE() << "bad binary field " << name;
      break;
    }
    fields.emplace(name, data.substr(i, len));
    i += len + 1;
    if (used_binary_form) *used_binary_form = true;
  }
  for (const auto& [name, value] : fields) {
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name[0], '_') << "trusted fields are journald's";
    EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), std::string::npos)
        << name;
  }
  return fields;
}

class JournalSocket {
 public:
  explicit JournalSocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~JournalSocket() { close(fd_); }
  bool bound() const { return bound_; }

  // Receives one datagram; when it carries a memfd, returns the memfd's content instead.
  std::string Receive(bool* via_memfd, int* memfd_seals) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) return "";
    std::string buf(256 * 1024, '\0');
    union {
      cmsghdr header;
      char bytes[CMSG_SPACE(sizeof(int))];
    } control{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    ssize_t n = recvmsg(fd_, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return "";
    buf.resize(static_cast<std::size_t>(n));
    *via_memfd = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int memfd;
      std::memcpy(&memfd, CMSG_DATA(c), sizeof(int));
      *via_memfd = true;
      *memfd_seals = fcntl(memfd, F_GET_SEALS);
      std::string content;
      char chunk[65536];
      for (ssize_t r; (r = pread(memfd, chunk, sizeof(chunk), content.size())) > 0;) {
        content.append(chunk, static_cast<std::size_t>(r));
      }
      close(memfd);
      return content;
    }
    return buf;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(JournaldSink, NativeFieldsOverDatagram) {
  TempDir dir;
  JournalSocket journal(dir.File("journal.sock"));
  ASSERT_TRUE(journal.bound());
  auto sink = MakeJournaldSink({.socket_path = dir.File("journal.sock")});
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE((*sink)->Emit(SampleAlert()).ok());
  bool via_memfd = true;
  int seals = 0;
  std::string payload = journal.Receive(&via_memfd, &seals);
  ASSERT_FALSE(payload.empty());
  EXPECT_FALSE(via_memfd);
  Fields f = ParseNative(payload);
  auto one = [&](const std::string& name) {
    EXPECT_EQ(f.count(name), 1u) << name;
    auto it = f.find(name);
    return it == f.end() ? std::string() : it->second;
  };
  EXPECT_EQ(one("MESSAGE"), SampleAlert().message);
  EXPECT_EQ(one("PRIORITY"), "2");
  EXPECT_EQ(one("SYSLOG_IDENTIFIER"), "steen");
  EXPECT_EQ(one("MESSAGE_ID"), std::string(kJournalAlertMessageId));
  EXPECT_EQ(one("MESSAGE_ID").size(), 32u);  // 128 bits in hex, as sd-id128 prints them
  EXPECT_EQ(one("STEEN_ALERT_ID"), "steen-1795850801123000000-7");
  EXPECT_EQ(one("STEEN_RULE"), "ransomware-encryption");
  EXPECT_EQ(one("STEEN_SCORE"), "92.4");
  EXPECT_EQ(one("STEEN_PID"), "4242");
  EXPECT_EQ(one("STEEN_USER"), "alice");
  EXPECT_EQ(one("STEEN_SMB_CLIENT"), "192.0.2.45");
  EXPECT_EQ(one("STEEN_SMB_MACHINE"), "ws17");
  EXPECT_EQ(f.count("STEEN_SMB_SHARE"), 0u);  // unknown: not sent
  EXPECT_EQ(one("STEEN_TECHNIQUE"), "T1486");
  EXPECT_EQ(one("STEEN_ACTION"), "suspended");
  EXPECT_EQ(one("STEEN_FILE_COUNT"), "57");
  EXPECT_EQ(f.count("STEEN_FILE"), 2u);
  EXPECT_EQ(f.count("STEEN_INDICATOR"), 2u);
}

TEST(JournaldSink, SmbShareNextToTheMachine) {
  TempDir dir;
  JournalSocket journal(dir.File("journal.sock"));
  ASSERT_TRUE(journal.bound());
  auto sink = MakeJournaldSink({.socket_path = dir.File("journal.sock")});
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  Alert a = SampleAlert();
  a.actor.smb_share = "share";
  ASSERT_TRUE((*sink)->Emit(a).ok());
  bool via_memfd = true;
  int seals = 0;
  Fields f = ParseNative(journal.Receive(&via_memfd, &seals));
  ASSERT_EQ(f.count("STEEN_SMB_SHARE"), 1u);
  EXPECT_EQ(f.find("STEEN_SMB_SHARE")->second, "share");
}

TEST(JournaldSink, NewlinesUseBinarySafeForm) {
  TempDir dir;
  JournalSocket journal(dir.File("journal.sock"));
  auto sink = MakeJournaldSink({.socket_path = dir.File("journal.sock")});
  ASSERT_TRUE(sink.ok());
  Alert a = SampleAlert();
  a.message = "two\nlines";
  a.files = {std::string("/srv/evil\nPRIORITY=7\n_PID=1\0x", 28)};
  ASSERT_TRUE((*sink)->Emit(a).ok());
  bool via_memfd = false;
  int seals = 0;
  bool binary = false;
  Fields f = ParseNative(journal.Receive(&via_memfd, &seals), &binary);
  EXPECT_TRUE(binary);
  EXPECT_EQ(f.find("MESSAGE")->second, "two\nlines");
  // The injected lines stay inside the value: no second PRIORITY, no trusted field.
  EXPECT_EQ(f.count("PRIORITY"), 1u);
  EXPECT_EQ(f.find("PRIORITY")->second, "2");
  EXPECT_EQ(f.count("_PID"), 0u);
  EXPECT_EQ(f.find("STEEN_FILE")->second, a.files[0]);
}

TEST(JournaldSink, LargeAlertGoesThroughSealedMemfd) {
  TempDir dir;
  JournalSocket journal(dir.File("journal.sock"));
  auto sink = MakeJournaldSink({.socket_path = dir.File("journal.sock")});
  ASSERT_TRUE(sink.ok());
  Alert a = SampleAlert();
  for (int i = 0; i < 3000; ++i) a.files.push_back("/srv/share/" + std::string(200, 'f'));
  ASSERT_TRUE((*sink)->Emit(a).ok());
  bool via_memfd = false;
  int seals = 0;
  std::string payload = journal.Receive(&via_memfd, &seals);
  EXPECT_TRUE(via_memfd);
  EXPECT_GT(payload.size(), 600000u);
  EXPECT_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL),
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  EXPECT_EQ(ParseNative(payload).count("STEEN_FILE"), 3002u);
}

TEST(JournaldSink, MissingSocketIsAnErrorNotAHang) {
  TempDir dir;
  auto sink = MakeJournaldSink({.socket_path = dir.File("absent.sock")});
  ASSERT_TRUE(sink.ok());
  EXPECT_FALSE((*sink)->Emit(SampleAlert()).ok());
  EXPECT_FALSE(MakeJournaldSink({.socket_path = std::string(200, 'p')}).ok());
}

}  // namespace
}  // namespace steen::outputs
