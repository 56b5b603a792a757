// End to end against Debian's rsyslog: a private rsyslogd (own config, own work folder, loopback
// UDP and TCP inputs on free ports, no imuxsock, no /dev/log) receives alerts from the syslog sinks
// and writes what its RFC 5424 parser understood (header fields, structured data decoded by
// mmpstrucdata, message) as JSON lines. Skips only when rsyslogd is not installed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using testing::SampleAlert;
using testing::TempDir;

std::string FindRsyslogd() {
  for (const char* path : {"/usr/sbin/rsyslogd", "/sbin/rsyslogd"}) {
    if (access(path, X_OK) == 0) return path;
  }
  return "";
}

uint16_t FreePort(int type) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool TcpPortOpen(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RsyslogE2e : public ::testing::Test {
 protected:
  void SetUp() override {
    rsyslogd_ = FindRsyslogd();
    if (rsyslogd_.empty()) {
      GTEST_SKIP() << "rsyslogd is not installed (Debian package rsyslog; scripts/install-deps.sh "
                      "installs it): skipping the real-rsyslog syslog test";
    }
    udp_port_ = FreePort(SOCK_DGRAM);
    tcp_port_ = FreePort(SOCK_STREAM);
    ASSERT_TRUE(std::filesystem::create_directory(dir_.File("work")));
    std::ofstream conf(dir_.File("rsyslog.conf"));
    conf << "global(workDirectory=\"" << dir_.File("work") << "\" maxMessageSize=\"16k\")\n"
         << "module(load=\"imudp\")\nmodule(load=\"imtcp\")\nmodule(load=\"mmpstrucdata\")\n"
         << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << udp_port_ << "\")\n"
         << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << tcp_port_ << "\")\n"
         << R"(template(name="parsed" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="facility" name="syslogfacility" format="jsonf")
  property(outname="severity" name="syslogseverity" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app_name" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="sd" name="$!rfc5424-sd" format="jsonf")
}
action(type="mmpstrucdata")
)"
         << "action(type=\"omfile\" file=\"" << dir_.File("parsed.json")
         << "\" template=\"parsed\")\n";
    conf.close();

    // Built before the fork: the child only makes async-signal-safe calls (no allocation).
    const std::string log = dir_.File("rsyslogd.log"), conf_path = dir_.File("rsyslog.conf"),
                      pid_path = dir_.File("rsyslogd.pid");
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out >= 0) {
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
      }
      // -n: foreground, -C: do not chdir to / (the testbed flag), -f/-i: our config and pid file.
      execl(rsyslogd_.c_str(), "rsyslogd", "-n", "-C", "-f", conf_path.c_str(), "-i",
            pid_path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    auto start = Clock::now();
    while (!TcpPortOpen(tcp_port_)) {
      int status = 0;
      ASSERT_EQ(waitpid(pid_, &status, WNOHANG), 0)
          << "rsyslogd exited: " << ReadFile(dir_.File("rsyslogd.log"));
      ASSERT_LT(Clock::now() - start, std::chrono::seconds(10)) << "rsyslogd did not listen";
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  void TearDown() override {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    auto start = Clock::now();
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() - start > std::chrono::seconds(5)) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Parsed records rsyslog wrote, keyed by the alert id it decoded from our structured data.
  std::map<std::string, json> Parsed() {
    std::map<std::string, json> records;
    std::istringstream lines(ReadFile(dir_.File("parsed.json")));
    for (std::string line; std::getline(lines, line);) {
      json record = json::parse(line, nullptr, false);
      if (record.is_discarded() || !record.contains("sd")) continue;
      json sd = json::parse(record["sd"].get<std::string>(), nullptr, false);
      if (sd.is_discarded() || !sd.contains("steen@32473")) continue;
      record["sd"] = sd["steen@32473"];
      records[record["sd"].value("id", "")] = record;
    }
    return records;
  }

  bool WaitFor(const std::string& id, int timeout_ms) {
    auto start = Clock::now();
    while (Clock::now() - start < std::chrono::milliseconds(timeout_ms)) {
      if (Parsed().count(id)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  SyslogOptions Options(SyslogTransport transport) {
    SyslogOptions o;
    o.host = "127.0.0.1";
    o.port = transport == SyslogTransport::kTcp ? tcp_port_ : udp_port_;
    o.transport = transport;
    o.facility = 23;  // local7, as Samba full_audit setups use
    o.procid = "4100";
    o.max_message_bytes = 8192;
    return o;
  }

  void ExpectParsedAs(const json& r, const Alert& a, const char* input) {
    EXPECT_EQ(r["input"], input);
    EXPECT_EQ(r["facility"], "23");
    EXPECT_EQ(r["severity"], "2");
    EXPECT_EQ(r["version"], "1");
    EXPECT_EQ(r["timestamp"], "2026-11-28T07:26:41.123456Z");
    EXPECT_EQ(r["hostname"], "fs01");
    EXPECT_EQ(r["app_name"], "steen");
    EXPECT_EQ(r["procid"], "4100");
    EXPECT_EQ(r["msgid"], "ransomware-encryption");
    EXPECT_EQ(r["msg"], "\xEF\xBB\xBF" + a.message);  // rsyslog keeps the BOM in %msg%
    EXPECT_EQ(r["sd"]["rule"], "ransomware-encryption");
    EXPECT_EQ(r["sd"]["technique"], "T1486");
    EXPECT_EQ(r["sd"]["pid"], "4242");
    EXPECT_EQ(r["sd"]["client"], "192.0.2.45");
    EXPECT_EQ(r["sd"]["smb_user"], "EXAMPLE\\alice");
    EXPECT_EQ(r["sd"]["file"], a.files.front());
  }

  TempDir dir_;
  std::string rsyslogd_;
  uint16_t udp_port_ = 0, tcp_port_ = 0;
  pid_t pid_ = -1;
};

Alert Tricky(const std::string& id) {
  Alert a = SampleAlert();
  a.id = id;
  a.files = {"/srv/share/\"quoted\" [x] back\\slash \xc3\xa9t\xc3\xa9.docx"};
  a.message = "Mass encryption of share files: \xc3\xa9t\xc3\xa9.docx and 56 more";
  return a;
}

TEST_F(RsyslogE2e, TcpOctetCountedAlertsParsedAsRfc5424) {
  auto sink = MakeSyslogSink(Options(SyslogTransport::kTcp));
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE((*sink)->Emit(Tricky("tcp-" + std::to_string(i))).ok());
  }
  ASSERT_TRUE(WaitFor("tcp-2", 5000))
      << ReadFile(dir_.File("parsed.json")) << ReadFile(dir_.File("rsyslogd.log"));
  auto records = Parsed();
  for (int i = 0; i < 3; ++i) {
    std::string id = "tcp-" + std::to_string(i);
    ASSERT_TRUE(records.count(id)) << id;
    ExpectParsedAs(records[id], Tricky(id), "imtcp");
  }
}

TEST_F(RsyslogE2e, UdpAlertsParsedAsRfc5424) {
  auto sink = MakeSyslogSink(Options(SyslogTransport::kUdp));
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  // imudp may bind a moment after imtcp: resend (new ids) until one arrives.
  std::string arrived;
  auto start = Clock::now();
  for (int i = 0; arrived.empty() && Clock::now() - start < std::chrono::seconds(5); ++i) {
    std::string id = "udp-" + std::to_string(i);
    (*sink)->Emit(Tricky(id));
    if (WaitFor(id, 200)) arrived = id;
  }
  ASSERT_FALSE(arrived.empty()) << ReadFile(dir_.File("rsyslogd.log"));
  ExpectParsedAs(Parsed()[arrived], Tricky(arrived), "imudp");
}

}  // namespace
}  // namespace steen::outputs
