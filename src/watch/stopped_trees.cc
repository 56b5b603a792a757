#include "watch/stopped_trees.h"

#include <algorithm>

#include "steen/limits.h"

namespace steen::watch {

bool StoppedTrees::Below(const Actor& actor, const Root& root) {
  if (actor.pid == root.pid) return false;
  // A process younger than the root with the root among its ancestors: started by it, or by its
  // descendants (an older one names a previous holder of the pid).
  if (actor.start_time != 0 && root.start_time != 0 && actor.start_time < root.start_time) {
    return false;
  }
  return std::find(actor.ancestors.begin(), actor.ancestors.end(), root.pid) !=
         actor.ancestors.end();
}

bool StoppedTrees::Name(Root& root, const Actor& actor) {
  const auto key = std::make_pair(actor.pid, actor.start_time);
  if (!Below(actor, root) || root.named.size() >= limits::kMaxIncidentProcesses ||
      std::find(root.named.begin(), root.named.end(), key) != root.named.end()) {
    return false;
  }
  root.named.push_back(key);
  return true;
}

void StoppedTrees::Expire(uint64_t now_ns) {
  while (!recent_.empty() &&
         recent_.front().first + limits::kStoppedTreeRecentChangersNs < now_ns) {
    recent_.pop_front();
  }
  while (!roots_.empty() && roots_.front().since_ns + limits::kStoppedTreeFollowNs < now_ns) {
    roots_.pop_front();
  }
}

std::vector<std::string> StoppedTrees::Changed(const Actor& actor, uint64_t now_ns) {
  Expire(now_ns);
  std::vector<std::string> incidents;
  if (actor.pid <= 0) return incidents;
  // One entry per process: the latest change counts for the window.
  auto same = [&](const auto& entry) {
    return entry.second.pid == actor.pid && entry.second.start_time == actor.start_time;
  };
  if (!recent_.empty() && same(recent_.back())) {
    recent_.back().first = now_ns;  // a writer's next file: the common case, no copy
  } else {
    recent_.erase(std::remove_if(recent_.begin(), recent_.end(), same), recent_.end());
    recent_.emplace_back(now_ns, actor);
  }
  if (recent_.size() > limits::kMaxStoppedTreeRecentChangers) recent_.pop_front();
  for (Root& root : roots_) {
    if (Name(root, actor)) incidents.push_back(root.incident);
  }
  return incidents;
}

std::vector<Actor> StoppedTrees::Stopped(const std::string& incident, const Actor& root_actor,
                                         const std::vector<Actor>& already, uint64_t now_ns) {
  Expire(now_ns);
  Root root{incident, root_actor.pid, root_actor.start_time, now_ns, {}};
  root.named.emplace_back(root_actor.pid, root_actor.start_time);
  for (const Actor& actor : already) root.named.emplace_back(actor.pid, actor.start_time);
  std::vector<Actor> below;
  for (const auto& [time_ns, actor] : recent_) {
    if (Name(root, actor)) below.push_back(actor);
  }
  roots_.push_back(std::move(root));
  if (roots_.size() > limits::kMaxStoppedTreeRoots) roots_.pop_front();
  return below;
}

void StoppedTrees::Forget(const std::string& incident) {
  roots_.erase(std::remove_if(roots_.begin(), roots_.end(),
                              [&](const Root& root) { return root.incident == incident; }),
               roots_.end());
}

}  // namespace steen::watch
