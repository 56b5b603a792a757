// Builds event streams by hand for the detector tests: content views as the content engine would
// report them, actors, and the file operations of attacks and benign workloads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "steen/alert.h"
#include "steen/detect.h"
#include "steen/event.h"

namespace steen::detect_test {

inline constexpr uint64_t kSecond = 1'000'000'000;

inline ContentView Intact(std::string format, double random_fraction = 0.05) {
  ContentView view;
  view.verdict = Verdict::kIntact;
  view.format = std::move(format);
  view.random_block_fraction = random_fraction;
  view.blocks_measured = true;
  return view;
}

inline ContentView Damaged(DamageKind kind = DamageKind::kEncrypted, double random_fraction = 1.0,
                           std::string format = "unknown") {
  ContentView view;
  view.verdict = Verdict::kDamaged;
  view.kind = kind;
  view.format = std::move(format);
  view.score = 0.95;
  view.random_block_fraction = random_fraction;
  view.blocks_measured = true;
  return view;
}

// A legitimately encrypted container (gpg, age, openssl enc -pass, zip -e): intact, and random.
inline ContentView Container(std::string format) {
  ContentView view = Intact(std::move(format), 1.0);
  view.encrypted_container = true;
  return view;
}

inline ContentView Unknown(std::string format = "unknown", double random_fraction = 0.05) {
  ContentView view;
  view.verdict = Verdict::kUnknown;
  view.format = std::move(format);
  view.random_block_fraction = random_fraction;
  view.blocks_measured = true;
  return view;
}

// What the watcher reports before the first write of a file it just created.
inline ContentView Empty() {
  ContentView view;
  view.verdict = Verdict::kUnknown;
  view.format = "empty";
  return view;
}

inline Actor MakeActor(pid_t pid, pid_t ppid = 4000, pid_t sid = 3000, uid_t uid = 1000,
                       std::string user = "alice", std::string exe = "/usr/bin/locker") {
  Actor actor;
  actor.pid = pid;
  actor.tid = pid;
  actor.start_time = 100000 + static_cast<uint64_t>(pid);
  actor.ppid = ppid;
  actor.pgid = ppid;
  actor.sid = sid;
  actor.uid = uid;
  actor.user = std::move(user);
  actor.exe = std::move(exe);
  const auto slash = actor.exe.rfind('/');
  actor.comm = actor.exe.substr(slash == std::string::npos ? 0 : slash + 1, 15);
  actor.ancestors = {ppid, sid};
  actor.cgroup = "/user.slice/user-" + std::to_string(uid) + ".slice/session-" +
                 std::to_string(sid) + ".scope";
  return actor;
}

inline Actor SmbdActor(pid_t pid, std::string client = "198.18.0.2", std::string smb_user = "bob") {
  Actor actor = MakeActor(pid, /*ppid=*/900, /*sid=*/900, /*uid=*/1001, "bob", "/usr/sbin/smbd");
  actor.cgroup = "/system.slice/smbd.service";
  actor.smb_client_address = std::move(client);
  actor.smb_user = std::move(smb_user);
  actor.smb_machine = "WS17";
  return actor;
}

// Feeds events with a running clock and keeps every alert.
class Stream {
 public:
  explicit Stream(Detector& detector) : detector_(detector) {}

  uint64_t now() const { return now_; }
  void Advance(uint64_t ns) { now_ += ns; }
  const std::vector<Alert>& alerts() const { return alerts_; }

  std::vector<Alert> Feed(FileEvent event) {
    event.time_ns = now_;
    event.wall_time_ns = static_cast<int64_t>(1'700'000'000'000'000'000 + now_);
    std::vector<Alert> out = detector_.Observe(event);
    alerts_.insert(alerts_.end(), out.begin(), out.end());
    return out;
  }

  static FileEvent Event(const Actor& actor, FileOp op, std::string path, uint64_t inode,
                         uint64_t size = 0) {
    FileEvent event;
    event.op = op;
    event.actor = actor;
    event.path = std::move(path);
    event.device = 2049;
    event.inode = inode;
    event.size = size;
    return event;
  }

  void Read(const Actor& actor, const std::string& path, uint64_t inode, uint64_t size) {
    Feed(Event(actor, FileOp::kCloseNoWrite, path, inode, size));
  }
  void Create(const Actor& actor, const std::string& path, uint64_t inode) {
    Feed(Event(actor, FileOp::kCreate, path, inode));
  }
  void Write(const Actor& actor, const std::string& path, uint64_t inode,
             std::optional<ContentView> before, std::optional<ContentView> after,
             uint64_t size = 100000) {
    Feed(Event(actor, FileOp::kOpenForWrite, path, inode, size));
    FileEvent event = Event(actor, FileOp::kCloseWrite, path, inode, size);
    event.before = std::move(before);
    event.after = std::move(after);
    Feed(std::move(event));
  }
  // A new file: create, then the first write (before = empty).
  void WriteNew(const Actor& actor, const std::string& path, uint64_t inode, ContentView after,
                uint64_t size = 100000) {
    Create(actor, path, inode);
    Write(actor, path, inode, Empty(), std::move(after), size);
  }
  void Delete(const Actor& actor, const std::string& path, uint64_t inode, uint64_t size = 0) {
    Feed(Event(actor, FileOp::kDelete, path, inode, size));
  }
  void Rename(const Actor& actor, const std::string& from, const std::string& to, uint64_t inode,
              std::optional<ContentView> before = std::nullopt,
              std::optional<ContentView> after = std::nullopt) {
    FileEvent event = Event(actor, FileOp::kRename, from, inode);
    event.new_path = to;
    event.before = std::move(before);
    event.after = std::move(after);
    Feed(std::move(event));
  }

 private:
  Detector& detector_;
  uint64_t now_ = 1000 * kSecond;
  std::vector<Alert> alerts_;
};

}  // namespace steen::detect_test
