// journald sink: speaks the journal's native protocol directly (what sd_journal_sendv does) so the
// socket path is configurable and tests can receive and parse the datagrams themselves.
//   FIELD=value\n                    for values without a newline
//   FIELD\n<u64 LE length><bytes>\n  the binary-safe form, for values with newlines
// Payloads too large for one datagram go through a sealed memfd passed with SCM_RIGHTS.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "outputs/text.h"
#include "steen/outputs.h"

namespace steen::outputs {
namespace {

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  if (value.find('\n') == std::string_view::npos) {
    out += name;
    out += '=';
    out += value;
    out += '\n';
    return;
  }
  out += name;
  out += '\n';
  uint64_t len = value.size();
  for (int i = 0; i < 8; ++i) out += static_cast<char>((len >> (8 * i)) & 0xFF);
  out += value;
  out += '\n';
}

class JournaldSink : public AlertSink {
 public:
  explicit JournaldSink(JournaldOptions options)
      : options_(std::move(options)), name_("journald:" + options_.socket_path) {}
  ~JournaldSink() override {
    if (fd_ >= 0) close(fd_);
  }

  Status Emit(const Alert& alert) override {
    if (fd_ < 0) {
      fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd_ < 0) return Status::FromErrno(name_ + ": socket", errno);
      // Blocking sends, but bounded: journald drains its socket continuously.
      timeval tv{1, 0};
      setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    std::string payload = FormatJournalNative(alert, options_);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, options_.socket_path.data(), options_.socket_path.size());
    msghdr msg{};
    msg.msg_name = &addr;
    msg.msg_namelen = sizeof(addr);
    iovec iov{payload.data(), payload.size()};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (sendmsg(fd_, &msg, MSG_NOSIGNAL) >= 0) return Status::Ok();
    if (errno != EMSGSIZE && errno != ENOBUFS) return Status::FromErrno(name_ + ": send", errno);
    return SendThroughMemfd(payload, addr);
  }

  std::string_view name() const override { return name_; }

 private:
  Status SendThroughMemfd(const std::string& payload, sockaddr_un& addr) {
    int memfd = memfd_create("steen-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0) return Status::FromErrno(name_ + ": memfd_create", errno);
    std::string_view left = payload;
    while (!left.empty()) {
      ssize_t n = write(memfd, left.data(), left.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Status st = Status::FromErrno(name_ + ": memfd write", errno);
        close(memfd);
        return st;
      }
      left.remove_prefix(static_cast<std::size_t>(n));
    }
    // journald only accepts sealed memfds: the content can no longer change under it.
    if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
      Status st = Status::FromErrno(name_ + ": seal memfd", errno);
      close(memfd);
      return st;
    }
    union {
      cmsghdr header;
      char bytes[CMSG_SPACE(sizeof(int))];
    } control{};
    msghdr msg{};
    msg.msg_name = &addr;
    msg.msg_namelen = sizeof(addr);
    msg.msg_control = control.bytes;
    msg.msg_controllen = sizeof(control.bytes);
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &memfd, sizeof(int));
    ssize_t rc = sendmsg(fd_, &msg, MSG_NOSIGNAL);
    int err = errno;
    close(memfd);
    if (rc < 0) return Status::FromErrno(name_ + ": send memfd", err);
    return Status::Ok();
  }

  JournaldOptions options_;
  std::string name_;
  int fd_ = -1;
};

}  // namespace

std::string FormatJournalNative(const Alert& alert, const JournaldOptions& options) {
  std::string out;
  const Actor& actor = alert.actor;
  AppendField(out, "MESSAGE", alert.message);
  AppendField(out, "PRIORITY", std::to_string(SyslogSeverity(alert.severity)));
  AppendField(out, "SYSLOG_IDENTIFIER", options.syslog_identifier);
  AppendField(out, "MESSAGE_ID", kJournalAlertMessageId);
  const auto put = [&](std::string_view name, std::string_view value) {
    if (!value.empty()) AppendField(out, name, value);
  };
  put("STEEN_ALERT_ID", alert.id);
  put("STEEN_RULE", alert.rule_name);
  put("STEEN_SEVERITY", alert.severity);
  put("STEEN_SCORE", fmt::format("{}", alert.score));
  put("STEEN_SCOPE", ToString(alert.scope));
  put("STEEN_SCOPE_KEY", alert.scope_key);
  if (!text::IsHealthAlert(alert)) put("STEEN_TECHNIQUE", text::kTechniqueId);
  if (actor.pid != 0) {
    put("STEEN_PID", std::to_string(actor.pid));
    if (actor.ppid != 0) put("STEEN_PPID", std::to_string(actor.ppid));
    put("STEEN_COMM", actor.comm);
    put("STEEN_EXE", actor.exe);
    put("STEEN_EXE_SHA256", actor.exe_sha256);
    put("STEEN_UID", std::to_string(actor.uid));
    put("STEEN_USER", actor.user);
    put("STEEN_CGROUP", actor.cgroup);
  }
  put("STEEN_SMB_CLIENT", actor.smb_client_address);
  put("STEEN_SMB_USER", actor.smb_user);
  put("STEEN_SMB_MACHINE", actor.smb_machine);
  put("STEEN_SMB_SHARE", actor.smb_share);
  for (pid_t pid : alert.pids) put("STEEN_ACTED_PID", std::to_string(pid));
  int64_t file_count =
      std::max<int64_t>(alert.file_count, static_cast<int64_t>(alert.files.size()));
  put("STEEN_FILE_COUNT", std::to_string(file_count));
  // Repeated fields are how the journal stores lists (journalctl shows each value).
  for (const std::string& file : alert.files) put("STEEN_FILE", file);
  for (const Indicator& indicator : alert.indicators) {
    put("STEEN_INDICATOR",
        indicator.name + " " + std::to_string(indicator.count) + " " + indicator.detail);
  }
  put("STEEN_ACTION", ToString(alert.action));
  put("STEEN_ACTION_DETAIL", alert.action_detail);
  put("STEEN_INCIDENT_ID", alert.incident_id);
  put("STEEN_HOST", alert.host);
  put("STEEN_TIMESTAMP", text::Rfc3339Utc(text::AlertTimeNs(alert), 6));
  return out;
}

StatusOr<std::unique_ptr<AlertSink>> MakeJournaldSink(const JournaldOptions& options) {
  if (options.socket_path.empty() || options.socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return Status::InvalidArgument("journald output: socket path empty or longer than " +
                                   std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
  }
  if (options.syslog_identifier.empty()) {
    return Status::InvalidArgument("journald output: empty syslog identifier");
  }
  return std::unique_ptr<AlertSink>(std::make_unique<JournaldSink>(options));
}

}  // namespace steen::outputs
