// Syslog sink: RFC 5424 messages over UDP (RFC 5426, one message per datagram) or TCP with
// octet-counting framing (RFC 6587 §3.4.1: "MSG-LEN SP SYSLOG-MSG"). Every wait is bounded: a dead
// or stalled collector costs at most connect_timeout_ms + send_timeout_ms per alert, and while a
// reconnect backoff runs an alert fails at once.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include "steen/outputs.h"

namespace steen::outputs {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

class SyslogSink : public AlertSink {
 public:
  SyslogSink(SyslogOptions options, sockaddr_storage addr, socklen_t addr_len)
      : options_(std::move(options)), addr_(addr), addr_len_(addr_len) {
    name_ = std::string("syslog:") +
            (options_.transport == SyslogTransport::kTcp ? "tcp:" : "udp:") + options_.host + ":" +
            std::to_string(options_.port);
  }
  ~SyslogSink() override { CloseSocket(); }

  Status Emit(const Alert& alert) override {
    std::string message = FormatRfc5424(alert, options_);
    if (options_.transport == SyslogTransport::kUdp) return SendDatagram(message);
    std::string frame = std::to_string(message.size()) + " " + message;
    return SendFramed(frame);
  }

  Status Reopen() override {
    CloseSocket();
    next_attempt_ = Clock::time_point{};
    backoff_ms_ = 0;
    return Status::Ok();
  }

  std::string_view name() const override { return name_; }

 private:
  Status SendDatagram(const std::string& message) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ < 0) {
        fd_ = socket(addr_.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd_ < 0) return Status::FromErrno(name_ + ": socket", errno);
        if (connect(fd_, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) {
          Status st = Status::FromErrno(name_ + ": connect", errno);
          CloseSocket();
          return st;
        }
      }
      ssize_t n = send(fd_, message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n == static_cast<ssize_t>(message.size())) return Status::Ok();
      int err = n < 0 ? errno : EMSGSIZE;
      // ECONNREFUSED reports an ICMP error for an *earlier* datagram: the collector was down.
      // Retry this one once; it may be up again.
      if (err == ECONNREFUSED && attempt == 0) continue;
      return Status::FromErrno(name_ + ": send", err);
    }
    return Status::IoError(name_ + ": send failed");
  }

  Status SendFramed(const std::string& frame) {
    bool fresh = false;
    if (fd_ >= 0 && PeerClosed()) CloseSocket();
    if (fd_ < 0) {
      Status st = ConnectWithBackoff();
      if (!st.ok()) return st;
      fresh = true;
    }
    bool connection_lost = false;
    Status st = SendAll(frame, &connection_lost);
    if (st.ok()) return st;
    CloseSocket();  // a partial frame would corrupt the octet-counted stream
    // A stalled collector (timeout) gets the backoff; one that closed the connection since the
    // last alert (restart) gets one immediate reconnect for this alert.
    if (fresh || !connection_lost) return Backoff(st);
    Status connected = ConnectWithBackoff();
    if (!connected.ok()) return connected;
    st = SendAll(frame, &connection_lost);
    if (!st.ok()) {
      CloseSocket();
      return Backoff(st);
    }
    return st;
  }

  // A collector never sends us data, so readability means EOF (it closed) or an error.
  bool PeerClosed() {
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)) return true;
    if (p.revents & POLLIN) {
      char buf[512];
      ssize_t n = recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    }
    return false;
  }

  Status ConnectWithBackoff() {
    if (Clock::now() < next_attempt_) {
      return Status::IoError(name_ + ": not connected; next attempt in " +
                             std::to_string(RemainingMs(next_attempt_)) + " ms");
    }
    Status st = Connect();
    if (!st.ok()) return Backoff(st);
    backoff_ms_ = 0;
    return st;
  }

  Status Backoff(Status cause) {
    backoff_ms_ = backoff_ms_ == 0
                      ? std::max(1, options_.backoff_min_ms)
                      : std::min(backoff_ms_ * 2, std::max(1, options_.backoff_max_ms));
    next_attempt_ = Clock::now() + std::chrono::milliseconds(backoff_ms_);
    return cause;
  }

  Status Connect() {
    int fd = socket(addr_.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return Status::FromErrno(name_ + ": socket", errno);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr_), addr_len_) != 0) {
      if (errno != EINPROGRESS) {
        Status st = Status::FromErrno(name_ + ": connect", errno);
        close(fd);
        return st;
      }
      pollfd p{fd, POLLOUT, 0};
      int ready;
      do {
        ready = poll(&p, 1, std::max(0, options_.connect_timeout_ms));
      } while (ready < 0 && errno == EINTR);
      if (ready <= 0) {
        close(fd);
        return Status::IoError(name_ + ": connect timed out after " +
                               std::to_string(options_.connect_timeout_ms) + " ms");
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        close(fd);
        return Status::FromErrno(name_ + ": connect", err);
      }
    }
    fd_ = fd;
    return Status::Ok();
  }

  Status SendAll(std::string_view data, bool* connection_lost) {
    const Clock::time_point deadline =
        Clock::now() + std::chrono::milliseconds(std::max(0, options_.send_timeout_ms));
    while (!data.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        data.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        *connection_lost = errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN;
        return Status::FromErrno(name_ + ": send", errno);
      }
      int left = RemainingMs(deadline);
      if (left == 0) {
        return Status::IoError(name_ + ": send timed out after " +
                               std::to_string(options_.send_timeout_ms) + " ms");
      }
      pollfd p{fd_, POLLOUT, 0};
      if (poll(&p, 1, left) < 0 && errno != EINTR)
        return Status::FromErrno(name_ + ": poll", errno);
    }
    return Status::Ok();
  }

  void CloseSocket() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  SyslogOptions options_;
  sockaddr_storage addr_;
  socklen_t addr_len_;
  std::string name_;
  int fd_ = -1;
  int backoff_ms_ = 0;
  Clock::time_point next_attempt_{};
};

}  // namespace

StatusOr<std::unique_ptr<AlertSink>> MakeSyslogSink(const SyslogOptions& options) {
  if (options.facility < 0 || options.facility > 23) {
    return Status::InvalidArgument("syslog output: facility must be 0..23, got " +
                                   std::to_string(options.facility));
  }
  if (options.port == 0) return Status::InvalidArgument("syslog output: port must not be 0");
  if (options.max_message_bytes > kMaxSyslogMessageBytes) {
    return Status::InvalidArgument("syslog output: max_message_bytes above " +
                                   std::to_string(kMaxSyslogMessageBytes));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = options.transport == SyslogTransport::kTcp ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  std::string port = std::to_string(options.port);
  int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return Status::InvalidArgument("syslog output: cannot resolve '" + options.host +
                                   "': " + gai_strerror(rc));
  }
  sockaddr_storage addr{};
  socklen_t addr_len =
      static_cast<socklen_t>(std::min<std::size_t>(result->ai_addrlen, sizeof(addr)));
  std::memcpy(&addr, result->ai_addr, addr_len);
  freeaddrinfo(result);
  return std::unique_ptr<AlertSink>(std::make_unique<SyslogSink>(options, addr, addr_len));
}

}  // namespace steen::outputs
