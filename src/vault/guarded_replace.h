// Guarded replacement: how rollback and `steen vault restore` put a file in place without taking
// it from under somebody who is using it, and without losing a file that changed meanwhile.
//
//   1. The caller looks at the target (StateOf) when it decides to replace it.
//   2. GuardedReplace opens the target read-only and checks it is still what the caller saw
//      (inode, size, mtime); that nobody holds a lock or lease on it; and takes a read
//      lease, which the kernel grants only while nobody has the file open for writing and which
//      it breaks when somebody opens it for writing or truncates it.
//   3. It swaps the staged file in with renameat2(RENAME_EXCHANGE): the displaced file stays
//      under the staged name until it is proven to be the one checked. Had somebody replaced the
//      target meanwhile, the exchange is undone (kChanged); had somebody opened it for writing
//      meanwhile (lease break pending, or times changed), the displaced file is kept next to the
//      target instead of deleted: what they write is not lost.
// Writers listed as tolerated (the incident's own suspended processes) do not make a file busy.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "steen/status.h"
#include "steen/vault.h"

namespace steen::vault {

// What a path named when somebody looked at it.
struct FileState {
  bool exists = false;
  bool regular = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
};
FileState StateOf(const std::string& path);  // lstat(2); exists = false when there is nothing
// Same inode, and neither its content nor its metadata changed since.
bool Unchanged(const FileState& then, const FileState& now);

enum class ReplaceOutcome {
  kReplaced,  // done (the displaced file deleted, or kept at `displaced_kept`)
  kBusy,      // somebody writes or locks the file now: nothing was changed; try again later
  kChanged,   // the target is not what the caller saw: nothing was changed
};

struct ReplaceResult {
  ReplaceOutcome outcome = ReplaceOutcome::kReplaced;
  std::string detail;          // a sentence for a person (empty when simply replaced)
  std::string displaced_kept;  // where the displaced file was kept ("" = deleted)
};

struct ReplaceOptions {
  std::vector<ActorRef> tolerated_writers;
  // Where the displaced file goes when somebody opened it during the swap (default:
  // "<target>.steen-displaced-<pid>").
  std::string keep_displaced_as;
  // Tests only: runs after every check, right before the swap.
  std::function<void()> before_swap;
};

// Puts `staged` (a complete file in the target's folder) at `target`, if `target` is still
// `expected` (expected.exists = false: only if nothing is there; never overwrites). On kBusy and
// kChanged `staged` is left as it was, for the caller to use or remove.
StatusOr<ReplaceResult> GuardedReplace(const std::string& staged, const std::string& target,
                                       const FileState& expected, const ReplaceOptions& options);

// Removes `target` under the same guards (the offender's own files).
StatusOr<ReplaceResult> GuardedRemove(const std::string& target, const FileState& expected,
                                      const ReplaceOptions& options);

}  // namespace steen::vault
