// The processes below a stopped process-tree root that changed files: they belong to the root's
// incident even when no judged file names them. `xargs -P4 sh -c 'openssl enc ... && rm ...'`
// starts a shell, an encryptor and an rm per file, each gone in milliseconds; the alert stops
// xargs and what still runs below it, but the encryptor that wrote the last copy and the rm that
// deleted the last original exited without ever being a contributor, and the rollback (which
// undoes the incident's processes' changes) would leave their work in place.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "steen/event.h"

namespace steen::watch {

class StoppedTrees {
 public:
  // A process that changed a file in a tree (created, wrote, renamed, deleted). Returns the
  // incidents whose stopped root it descends from and that had not named it yet.
  std::vector<std::string> Changed(const Actor& actor, uint64_t now_ns);
  // `root` of `incident` was stopped: returns the processes below it that changed files lately
  // (limits::kStoppedTreeRecentChangersNs) and that `already` does not name; later changers below
  // it come out of Changed.
  std::vector<Actor> Stopped(const std::string& incident, const Actor& root,
                             const std::vector<Actor>& already, uint64_t now_ns);
  // The operator resumed or closed the incident: its tree is no longer followed.
  void Forget(const std::string& incident);

  std::size_t roots() const { return roots_.size(); }

 private:
  struct Root {
    std::string incident;
    pid_t pid = 0;
    uint64_t start_time = 0;
    uint64_t since_ns = 0;
    std::vector<std::pair<pid_t, uint64_t>> named;  // pid, start time
  };
  void Expire(uint64_t now_ns);
  static bool Below(const Actor& actor, const Root& root);
  // Adds `actor` to what `root` named when it is below it, not named yet, and there is room.
  static bool Name(Root& root, const Actor& actor);

  std::deque<std::pair<uint64_t, Actor>> recent_;  // changers, oldest first
  std::deque<Root> roots_;
};

}  // namespace steen::watch
