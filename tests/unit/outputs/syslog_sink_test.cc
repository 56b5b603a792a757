// Syslog sinks against small collectors on 127.0.0.1 ephemeral ports.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ParseRfc5424;
using testing::SampleAlert;

int64_t MsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

uint16_t BoundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

SyslogOptions OptionsFor(uint16_t port, SyslogTransport transport) {
  SyslogOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.transport = transport;
  o.procid = "4100";
  o.connect_timeout_ms = 300;
  o.send_timeout_ms = 300;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 200;
  return o;
}

std::unique_ptr<AlertSink> MustMake(const SyslogOptions& o) {
  auto sink = MakeSyslogSink(o);
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  return sink.ok() ? std::move(sink).value() : nullptr;
}

void ExpectValid5424(const std::string& message) {
  std::string error;
  EXPECT_TRUE(ParseRfc5424(message, &error).has_value()) << error << "\n" << message;
}

TEST(SyslogUdp, OneMessagePerDatagram) {
  int server = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  ASSERT_EQ(bind(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  auto sink = MustMake(OptionsFor(BoundPort(server), SyslogTransport::kUdp));
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->name(), "syslog:udp:127.0.0.1:" + std::to_string(BoundPort(server)));
  for (int i = 0; i < 3; ++i) {
    Alert a = SampleAlert();
    a.id = "udp-" + std::to_string(i);
    ASSERT_TRUE(sink->Emit(a).ok());
  }
  for (int i = 0; i < 3; ++i) {
    pollfd p{server, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 2000), 1);
    char buf[65536];
    ssize_t n = recv(server, buf, sizeof(buf), 0);
    ASSERT_GT(n, 0);
    std::string message(buf, static_cast<std::size_t>(n));
    std::string error;
    auto parsed = ParseRfc5424(message, &error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(parsed->Param("steen@32473", "id"), "udp-" + std::to_string(i));
    EXPECT_LE(message.size(), kDefaultSyslogMaxMessageBytes);
  }
  close(server);
}

TEST(SyslogUdp, NoCollectorDoesNotBlock) {
  // Reserve a port, then close it: nothing listens there.
  int probe = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr = Loopback(0);
  ASSERT_EQ(bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  uint16_t port = BoundPort(probe);
  close(probe);
  auto sink = MustMake(OptionsFor(port, SyslogTransport::kUdp));
  auto start = Clock::now();
  for (int i = 0; i < 20; ++i) sink->Emit(SampleAlert());  // ECONNREFUSED may surface; no wait
  EXPECT_LT(MsSince(start), 500);
}

// A TCP collector that accepts connections and splits RFC 6587 octet-counted frames, strictly:
// any byte that breaks the framing is recorded as an error.
class TcpCollector {
 public:
  explicit TcpCollector(uint16_t port = 0, bool read_data = true) : read_data_(read_data) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!read_data_) {
      int small = 4096;  // fills quickly: simulates a stalled collector
      setsockopt(listener_, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    }
    sockaddr_in addr = Loopback(port);
    bound_ = bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
             listen(listener_, 8) == 0;
    port_ = BoundPort(listener_);
    thread_ = std::thread([this] { Run(); });
  }
  ~TcpCollector() { Stop(); }

  void Stop() {
    if (stopping_.exchange(true)) return;
    thread_.join();
    for (int fd : conns_) close(fd);
    close(listener_);
  }
  bool bound() const { return bound_; }
  std::size_t connections() const { return connections_.load(); }
  uint16_t port() const { return port_; }
  std::vector<std::string> Frames() {
    std::lock_guard<std::mutex> lock(mu_);
    return frames_;
  }
  std::string error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  bool WaitForFrames(std::size_t n, int timeout_ms) {
    auto start = Clock::now();
    while (MsSince(start) < timeout_ms) {
      if (Frames().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

 private:
  void Run() {
    std::vector<std::string> buffers;
    while (!stopping_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      if (read_data_) {
        for (int fd : conns_) fds.push_back({fd, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          conns_.push_back(fd);
          connections_.fetch_add(1);
          buffers.emplace_back();
        }
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        char buf[8192];
        ssize_t n = recv(fds[i].fd, buf, sizeof(buf), 0);
        if (n <= 0) continue;
        buffers[i - 1].append(buf, static_cast<std::size_t>(n));
        Split(buffers[i - 1]);
      }
    }
  }

  void Split(std::string& buffer) {
    for (;;) {
      std::size_t space = buffer.find(' ');
      if (space == std::string::npos) return;
      std::string len_text = buffer.substr(0, space);
      std::lock_guard<std::mutex> lock(mu_);
      if (len_text.empty() || len_text.size() > 6 || len_text[0] == '0' ||
          len_text.find_first_not_of("0123456789") != std::string::npos) {
        error_ = "bad MSG-LEN '" + len_text + "'";
        buffer.clear();
        return;
      }
      std::size_t len = std::stoul(len_text);
      if (buffer.size() < space + 1 + len) return;
      frames_.push_back(buffer.substr(space + 1, len));
      buffer.erase(0, space + 1 + len);
    }
  }

  bool read_data_;
  int listener_ = -1;
  bool bound_ = false;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::vector<int> conns_;
  std::atomic<std::size_t> connections_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> frames_;
  std::string error_;
};

TEST(SyslogTcp, OctetCountingFrames) {
  TcpCollector collector;
  ASSERT_TRUE(collector.bound());
  auto sink = MustMake(OptionsFor(collector.port(), SyslogTransport::kTcp));
  ASSERT_TRUE(sink);
  Alert a = SampleAlert();
  a.message = "multi\nline message with ] and \" and a BOM-less tail";
  for (int i = 0; i < 5; ++i) {
    a.id = "tcp-" + std::to_string(i);
    ASSERT_TRUE(sink->Emit(a).ok());
  }
  ASSERT_TRUE(collector.WaitForFrames(5, 3000));
  EXPECT_EQ(collector.error(), "");
  auto frames = collector.Frames();
  for (int i = 0; i < 5; ++i) {
    ExpectValid5424(frames[i]);
    std::string error;
    auto p = ParseRfc5424(frames[i], &error);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->Param("steen@32473", "id"), "tcp-" + std::to_string(i));
  }
}

TEST(SyslogTcp, ReconnectsAfterCollectorRestart) {
  auto collector = std::make_unique<TcpCollector>();
  ASSERT_TRUE(collector->bound());
  uint16_t port = collector->port();
  auto sink = MustMake(OptionsFor(port, SyslogTransport::kTcp));
  ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
  ASSERT_TRUE(collector->WaitForFrames(1, 3000));
  collector->Stop();
  collector.reset();

  // Down: alerts fail, quickly (refused, then backoff).
  auto start = Clock::now();
  EXPECT_FALSE(sink->Emit(SampleAlert()).ok());
  EXPECT_FALSE(sink->Emit(SampleAlert()).ok());
  EXPECT_LT(MsSince(start), 1000);

  collector = std::make_unique<TcpCollector>(port);
  ASSERT_TRUE(collector->bound());
  // Up again: delivered once the backoff (at most backoff_max_ms) has passed.
  Alert a = SampleAlert();
  a.id = "after-restart";
  bool delivered = false;
  start = Clock::now();
  while (!delivered && MsSince(start) < 3000) {
    delivered = sink->Emit(a).ok();
    if (!delivered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(delivered);
  ASSERT_TRUE(collector->WaitForFrames(1, 3000));
  std::string error;
  auto p = ParseRfc5424(collector->Frames().front(), &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->Param("steen@32473", "id"), "after-restart");
  EXPECT_EQ(collector->error(), "");
}

TEST(SyslogTcp, RestartBetweenAlertsLosesNothing) {
  auto collector = std::make_unique<TcpCollector>();
  uint16_t port = collector->port();
  auto sink = MustMake(OptionsFor(port, SyslogTransport::kTcp));
  ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
  ASSERT_TRUE(collector->WaitForFrames(1, 3000));
  collector.reset();  // closes the connection
  collector = std::make_unique<TcpCollector>(port);
  ASSERT_TRUE(collector->bound());
  // The sink notices the closed connection before writing and reconnects: the very next alert
  // arrives, no backoff involved.
  ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
  EXPECT_TRUE(collector->WaitForFrames(1, 3000));
}

TEST(SyslogTcp, StalledCollectorBoundsEmit) {
  TcpCollector collector(0, /*read_data=*/false);
  ASSERT_TRUE(collector.bound());
  SyslogOptions o = OptionsFor(collector.port(), SyslogTransport::kTcp);
  o.max_message_bytes = 8192;
  o.backoff_min_ms = 10000;  // after the first failure every alert must fail at once
  auto sink = MustMake(o);
  Alert a = SampleAlert();
  a.message = std::string(8000, 'x');
  int failures = 0;
  int64_t slowest = 0;
  auto start = Clock::now();
  for (int i = 0; i < 2000 && failures < 3 && MsSince(start) < 10000; ++i) {
    auto t = Clock::now();
    if (!sink->Emit(a).ok()) ++failures;
    slowest = std::max(slowest, MsSince(t));
  }
  EXPECT_EQ(failures, 3) << "the socket buffers never filled; connections: "
                         << collector.connections();
  EXPECT_LE(slowest, o.send_timeout_ms + 250);
}

TEST(SyslogTcp, UnreachableCollectorBoundsConnect) {
  // 192.0.2.1 (TEST-NET-1) never answers: connect either fails at once or times out.
  SyslogOptions o = OptionsFor(514, SyslogTransport::kTcp);
  o.host = "192.0.2.1";
  auto sink = MustMake(o);
  auto start = Clock::now();
  EXPECT_FALSE(sink->Emit(SampleAlert()).ok());
  EXPECT_LE(MsSince(start), o.connect_timeout_ms + 250);
  start = Clock::now();
  EXPECT_FALSE(sink->Emit(SampleAlert()).ok());  // in backoff: no second wait
  EXPECT_LE(MsSince(start), 50);
}

TEST(SyslogSink, RejectsBadOptions) {
  SyslogOptions o = OptionsFor(514, SyslogTransport::kUdp);
  o.facility = 24;
  EXPECT_FALSE(MakeSyslogSink(o).ok());
  o = OptionsFor(0, SyslogTransport::kUdp);
  EXPECT_FALSE(MakeSyslogSink(o).ok());
  o = OptionsFor(514, SyslogTransport::kUdp);
  o.host = "no such host.invalid";
  EXPECT_FALSE(MakeSyslogSink(o).ok());
  o = OptionsFor(514, SyslogTransport::kUdp);
  o.max_message_bytes = kMaxSyslogMessageBytes + 1;
  EXPECT_FALSE(MakeSyslogSink(o).ok());
}

}  // namespace
}  // namespace steen::outputs
