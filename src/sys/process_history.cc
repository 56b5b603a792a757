#include "sys/process_history.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "steen/limits.h"

namespace steen::sys {

void ProcessHistory::SetClock(uint64_t boot_offset_ns, uint64_t ticks_per_second) {
  std::lock_guard lock(mu_);
  boot_offset_ns_ = boot_offset_ns;
  ticks_per_second_ = ticks_per_second > 0 ? ticks_per_second : 100;
}

void ProcessHistory::DropOldestExited() {
  auto it = records_.find(exited_.front().second);
  // Only if the record is still the one that exited (a reused pid's fork replaced it).
  if (it != records_.end() && it->second.exit_ns == exited_.front().first) records_.erase(it);
  exited_.pop_front();
}

void ProcessHistory::Prune(uint64_t now_ns) {
  while (!exited_.empty() && exited_.front().first + limits::kProcessHistoryKeepNs < now_ns) {
    DropOldestExited();
  }
}

void ProcessHistory::OnFork(pid_t parent_tgid, pid_t child_pid, pid_t child_tgid,
                            uint64_t time_ns) {
  if (child_pid != child_tgid) return;  // a new thread, not a process
  std::lock_guard lock(mu_);
  ++stats_.forks;
  Prune(time_ns);
  if (records_.size() >= limits::kMaxProcessHistory && !records_.contains(child_tgid)) {
    // Make room from the oldest exited first; a table full of running processes drops forks.
    while (records_.size() >= limits::kMaxProcessHistory && !exited_.empty()) DropOldestExited();
    if (records_.size() >= limits::kMaxProcessHistory) {
      ++stats_.dropped;
      return;
    }
  }
  ProcessRecord record;
  record.ppid = parent_tgid;
  // /proc's starttime is CLOCK_BOOTTIME at the fork in ticks; the event's time is CLOCK_MONOTONIC.
  const unsigned __int128 boot_ns = static_cast<unsigned __int128>(time_ns) + boot_offset_ns_;
  record.start_time = static_cast<uint64_t>(boot_ns * ticks_per_second_ / 1'000'000'000u);
  records_[child_tgid] = record;
}

void ProcessHistory::OnUid(pid_t pid, pid_t tgid, uid_t euid) {
  if (pid != tgid) return;  // a thread's own credentials: fanotify reports its process's
  std::lock_guard lock(mu_);
  auto it = records_.find(tgid);
  if (it == records_.end()) return;
  it->second.own_uid = true;
  it->second.euid = euid;
}

void ProcessHistory::OnSid(pid_t pid, pid_t tgid) {
  if (pid != tgid) return;
  std::lock_guard lock(mu_);
  auto it = records_.find(tgid);
  if (it != records_.end()) it->second.own_session = true;
}

void ProcessHistory::OnExec(pid_t tgid, uint64_t time_ns) {
  std::lock_guard lock(mu_);
  auto it = records_.find(tgid);
  if (it != records_.end()) it->second.exec_ns = time_ns == 0 ? 1 : time_ns;
}

void ProcessHistory::OnExit(pid_t pid, pid_t tgid, uint64_t time_ns) {
  if (pid != tgid) return;  // a thread ended; the process goes on
  std::lock_guard lock(mu_);
  ++stats_.exits;
  auto it = records_.find(tgid);
  if (it == records_.end()) return;
  it->second.exit_ns = time_ns == 0 ? 1 : time_ns;
  exited_.emplace_back(it->second.exit_ns, tgid);
  Prune(time_ns);
}

void ProcessHistory::OnLost() {
  std::lock_guard lock(mu_);
  ++stats_.lost;
}

std::optional<ProcessRecord> ProcessHistory::Find(pid_t pid) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(pid);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

void ProcessHistory::CatchUp() const {
  std::shared_lock lock(catch_up_mu_);
  if (catch_up_) catch_up_();
}

std::optional<ProcessRecord> ProcessHistory::FindOrCatchUp(pid_t pid) const {
  if (auto found = Find(pid)) return found;
  CatchUp();
  return Find(pid);
}

bool ProcessHistory::ExecSince(pid_t pid, uint64_t since_ns) const {
  CatchUp();
  const std::optional<ProcessRecord> record = Find(pid);
  return record && record->exec_ns > since_ns;
}

void ProcessHistory::SetCatchUp(std::function<void()> catch_up) {
  std::unique_lock lock(catch_up_mu_);
  catch_up_ = std::move(catch_up);
}

ProcessHistoryStats ProcessHistory::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::size_t ProcessHistory::size() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

namespace {

uint64_t ClockNs(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Asks the kernel to start (or stop) sending this socket the process events.
Status SendListen(int fd, bool listen) {
  alignas(nlmsghdr) char buffer[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))] = {};
  auto* header = reinterpret_cast<nlmsghdr*>(buffer);
  header->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op));
  header->nlmsg_type = NLMSG_DONE;
  header->nlmsg_pid = 0;
  auto* message = reinterpret_cast<cn_msg*>(NLMSG_DATA(header));
  message->id.idx = CN_IDX_PROC;
  message->id.val = CN_VAL_PROC;
  message->len = sizeof(proc_cn_mcast_op);
  const proc_cn_mcast_op op = listen ? PROC_CN_MCAST_LISTEN : PROC_CN_MCAST_IGNORE;
  std::memcpy(message->data, &op, sizeof(op));
  if (::send(fd, buffer, header->nlmsg_len, 0) < 0) {
    return Status::FromErrno("proc connector: send", errno);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<ProcEventListener>> ProcEventListener::Start(
    std::shared_ptr<ProcessHistory> history) {
  int fd = ::socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_CONNECTOR);
  if (fd < 0) return Status::FromErrno("proc connector: socket", errno);
  // Fork storms (a parallel build) must not overflow the socket: a large buffer, as root.
  const int buffer_bytes = limits::kProcEventSocketBytes;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer_bytes, sizeof(buffer_bytes)) != 0) {
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof(buffer_bytes));
  }
  sockaddr_nl address{};
  address.nl_family = AF_NETLINK;
  address.nl_groups = CN_IDX_PROC;
  address.nl_pid = 0;  // the kernel picks a port id
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("proc connector: bind (needs CAP_NET_ADMIN)", err);
  }
  if (Status st = SendListen(fd, true); !st.ok()) {
    ::close(fd);
    return st;
  }
  // Monotonic first: boottime, read after it, is never behind (without a suspend the two are
  // equal and the offset 0, never a wrapped negative).
  const uint64_t monotonic = ClockNs(CLOCK_MONOTONIC);
  const uint64_t boottime = ClockNs(CLOCK_BOOTTIME);
  history->SetClock(boottime > monotonic ? boottime - monotonic : 0,
                    static_cast<uint64_t>(::sysconf(_SC_CLK_TCK)));
  return std::unique_ptr<ProcEventListener>(new ProcEventListener(fd, std::move(history)));
}

ProcEventListener::ProcEventListener(int fd, std::shared_ptr<ProcessHistory> history)
    : fd_(fd), history_(std::move(history)) {
  history_->SetCatchUp([this] { Drain(); });
  thread_ = std::thread([this] { Run(); });
}

ProcEventListener::~ProcEventListener() {
  history_->SetCatchUp(nullptr);  // waits for attribution threads catching up
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  (void)SendListen(fd_, false);
  ::close(fd_);
}

void ProcEventListener::Run() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) Drain();
  }
}

void ProcEventListener::Drain() {
  std::lock_guard lock(read_mu_);
  alignas(nlmsghdr) static thread_local char buffer[limits::kProcEventReadBytes];
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == ENOBUFS) {
        history_->OnLost();
        continue;
      }
      return;  // EAGAIN: nothing more queued
    }
    int left = static_cast<int>(n);
    for (auto* header = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_type == NLMSG_ERROR || header->nlmsg_type == NLMSG_NOOP) continue;
      const std::size_t payload = NLMSG_PAYLOAD(header, 0);
      if (payload < sizeof(cn_msg) + sizeof(proc_event)) continue;
      cn_msg message;
      std::memcpy(&message, NLMSG_DATA(header), sizeof(message));
      if (message.id.idx != CN_IDX_PROC || message.id.val != CN_VAL_PROC) continue;
      proc_event event;
      std::memcpy(&event, static_cast<const char*>(NLMSG_DATA(header)) + sizeof(cn_msg),
                  sizeof(event));
      switch (event.what) {
        case proc_event::PROC_EVENT_FORK:
          history_->OnFork(event.event_data.fork.parent_tgid, event.event_data.fork.child_pid,
                           event.event_data.fork.child_tgid, event.timestamp_ns);
          break;
        case proc_event::PROC_EVENT_UID:
          history_->OnUid(event.event_data.id.process_pid, event.event_data.id.process_tgid,
                          event.event_data.id.e.euid);
          break;
        case proc_event::PROC_EVENT_SID:
          history_->OnSid(event.event_data.sid.process_pid, event.event_data.sid.process_tgid);
          break;
        case proc_event::PROC_EVENT_EXEC:
          history_->OnExec(event.event_data.exec.process_tgid, event.timestamp_ns);
          break;
        case proc_event::PROC_EVENT_EXIT:
          history_->OnExit(event.event_data.exit.process_pid, event.event_data.exit.process_tgid,
                           event.timestamp_ns);
          break;
        default:
          break;
      }
    }
  }
}

}  // namespace steen::sys
