// Pack files: small protective copies appended to a few large files instead of one file each
// (docs/design/vault.md, "Pack files"). A copy's object is then a range of a pack, named in the
// catalog as "packs/<name>.pack:<offset>:<length>".
//
// Why: on ext4, a file per copy meant an inode per copy, and the inode allocator (with the
// deletions a file server makes, `recently_deleted` scans) was half of the daemon's CPU while
// 1,000 small files were edited in place; the renames into objects/ were another seventh.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "steen/limits.h"
#include "steen/status.h"

namespace steen::vault {

// Where a packed object lives: `pack` is relative to the vault folder ("packs/<name>.pack").
struct PackedRef {
  std::string pack;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// "packs/<name>.pack:<offset>:<length>" <-> PackedRef; nullopt for anything else (object files,
// placeholders, malformed names).
std::optional<PackedRef> ParsePackedRef(std::string_view object);
std::string FormatPackedRef(const PackedRef& ref);

// The packs of one vault folder. Not thread-safe: the vault calls it under its lock. Only the
// vault's owner appends (another process's active pack could be removed by the owner's Open).
class PackStore {
 public:
  explicit PackStore(std::string vault_dir, uint64_t max_pack_bytes = limits::kVaultPackBytes)
      : dir_(std::move(vault_dir)), max_pack_bytes_(max_pack_bytes) {}
  ~PackStore();
  PackStore(const PackStore&) = delete;
  PackStore& operator=(const PackStore&) = delete;

  // Appends `bytes` at the next page boundary of the active pack (a new pack when there is none
  // or it would pass max_pack_bytes) and counts the object as live. The bytes are in
  // the page cache when this returns, like a copy written to its own file.
  StatusOr<PackedRef> Append(std::string_view bytes);

  // A new descriptor (a memfd, offset 0) holding exactly the object's bytes; the caller closes
  // it. Fails when the pack is missing or shorter than the range.
  StatusOr<int> Open(const PackedRef& ref) const;

  // True when the pack exists and holds the whole range.
  bool Holds(const PackedRef& ref) const;

  // The object is no longer referenced: its pages are given back (a hole punched), and its pack
  // is removed once nothing in it is live and it is not the one being appended to.
  void Release(const PackedRef& ref);

  // The live objects per pack, from the catalog (at Open).
  void SetLive(std::map<std::string, uint64_t> live) { live_ = std::move(live); }

  // Removes every pack in packs/ that `referenced` does not name (a crash between an append and
  // its row leaves at most a range nobody names, inside a pack that is named). Owner's Open only.
  void RemoveUnreferenced(const std::set<std::string>& referenced);

  // The absolute path of a pack (relative name as in PackedRef::pack).
  std::string Path(const std::string& pack) const { return dir_ + "/" + pack; }

 private:
  Status StartPack();
  void CloseActive();

  std::string dir_;
  uint64_t max_pack_bytes_;
  int active_fd_ = -1;
  std::string active_;  // relative name of the pack appended to, "" before the first append
  uint64_t active_end_ = 0;
  uint64_t counter_ = 0;
  std::map<std::string, uint64_t> live_;
};

}  // namespace steen::vault
