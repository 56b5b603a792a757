// Pack files (src/vault/packs.h).
#include "vault/packs.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <memory>

#include "base/fd_io.h"
#include "steen/limits.h"

namespace steen::vault {
namespace {

constexpr std::string_view kPackFolder = "packs/";
constexpr std::string_view kPackSuffix = ".pack";

bool ParseNumber(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

uint64_t AlignUp(uint64_t n) {
  constexpr uint64_t a = limits::kVaultPackAlignBytes;
  return (n + a - 1) / a * a;
}

}  // namespace

std::optional<PackedRef> ParsePackedRef(std::string_view object) {
  if (!object.starts_with(kPackFolder)) return std::nullopt;
  const std::size_t last = object.rfind(':');
  if (last == std::string_view::npos) return std::nullopt;
  const std::size_t middle = object.rfind(':', last - 1);
  if (middle == std::string_view::npos || middle == 0) return std::nullopt;
  PackedRef ref;
  ref.pack = std::string(object.substr(0, middle));
  if (!ref.pack.ends_with(kPackSuffix) ||
      ref.pack.find('/', kPackFolder.size()) != std::string::npos ||
      ref.pack.size() <= kPackFolder.size() + kPackSuffix.size()) {
    return std::nullopt;
  }
  if (!ParseNumber(object.substr(middle + 1, last - middle - 1), &ref.offset) ||
      !ParseNumber(object.substr(last + 1), &ref.length) || ref.offset > UINT64_MAX - ref.length) {
    return std::nullopt;
  }
  return ref;
}

std::string FormatPackedRef(const PackedRef& ref) {
  return fmt::format("{}:{}:{}", ref.pack, ref.offset, ref.length);
}

PackStore::~PackStore() { CloseActive(); }

void PackStore::CloseActive() {
  if (active_fd_ >= 0) ::close(active_fd_);
  active_fd_ = -1;
  // A pack all of whose objects went while it was appended to is of no use.
  if (!active_.empty() && live_[active_] == 0) {
    ::unlink(Path(active_).c_str());
    live_.erase(active_);
  }
  active_.clear();
  active_end_ = 0;
}

Status PackStore::StartPack() {
  CloseActive();
  // Named by the time and pid it was started: unique across restarts, sorted by age.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string name = fmt::format(
        "{}{:016x}-{}-{}{}", kPackFolder,
        static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()),
        ::getpid(), counter_++, kPackSuffix);
    const int fd = ::open(Path(name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      active_fd_ = fd;
      active_ = name;
      active_end_ = 0;
      live_[active_] = 0;
      return Status::Ok();
    }
    if (errno != EEXIST) return Status::FromErrno("vault: create " + Path(name), errno);
  }
  return Status::IoError("vault: no free pack name in " + dir_ + "/packs");
}

StatusOr<PackedRef> PackStore::Append(std::string_view bytes) {
  const uint64_t offset = AlignUp(active_end_);
  if (active_fd_ < 0 || (active_end_ > 0 && offset + bytes.size() > max_pack_bytes_)) {
    if (Status s = StartPack(); !s.ok()) return s;
  }
  const uint64_t at = AlignUp(active_end_);
  if (Status s = WriteAllFd(active_fd_, at, bytes); !s.ok()) {
    // Whatever part was written is a range nobody names; the next append writes over it.
    return Status::IoError("vault: " + Path(active_) + ": " + s.message());
  }
  active_end_ = at + bytes.size();
  ++live_[active_];
  return PackedRef{active_, at, bytes.size()};
}

StatusOr<int> PackStore::Open(const PackedRef& ref) const {
  const std::string path = Path(ref.pack);
  const int pack = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (pack < 0) return Status::FromErrno("vault pack " + path, errno);
  const int mem = ::memfd_create("steen-vault-object", MFD_CLOEXEC);
  if (mem < 0) {
    const int err = errno;
    ::close(pack);
    return Status::FromErrno("vault: memfd_create", err);
  }
  Status s = Status::Ok();
  std::string chunk;
  for (uint64_t done = 0; done < ref.length && s.ok(); done += chunk.size()) {
    const uint64_t want = std::min<uint64_t>(ref.length - done, limits::kVaultCopyChunkBytes);
    s = ReadAllFd(pack, ref.offset + done, want, &chunk);
    if (s.ok() && chunk.size() < want) {
      s = Status::Corruption(
          fmt::format("vault pack {} ends before {} + {}", path, ref.offset, ref.length));
    }
    if (s.ok()) s = WriteAllFd(mem, done, chunk);
  }
  if (!s.ok() && s.code() != Status::Code::kCorruption) {
    s = Status::IoError("vault pack " + path + ": " + s.message());
  }
  ::close(pack);
  if (!s.ok()) {
    ::close(mem);
    return s;
  }
  return mem;
}

bool PackStore::Holds(const PackedRef& ref) const {
  struct stat st {};
  return ::stat(Path(ref.pack).c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
         static_cast<uint64_t>(st.st_size) >= ref.offset + ref.length;
}

void PackStore::Release(const PackedRef& ref) {
  auto it = live_.find(ref.pack);
  if (it != live_.end() && it->second > 0) --it->second;
  if (ref.pack != active_ && (it == live_.end() || it->second == 0)) {
    ::unlink(Path(ref.pack).c_str());
    if (it != live_.end()) live_.erase(it);
    return;
  }
  // Objects start on page boundaries, so the pages up to the next boundary are this object's
  // alone. Where holes cannot be punched the space comes back with the whole pack.
  const int fd =
      ref.pack == active_ ? active_fd_ : ::open(Path(ref.pack).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(ref.offset),
                    static_cast<off_t>(AlignUp(ref.length)));
  if (fd != active_fd_) ::close(fd);
}

void PackStore::RemoveUnreferenced(const std::set<std::string>& referenced) {
  DIR* d = ::opendir(Path("packs").c_str());
  if (d == nullptr) return;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string name = std::string(kPackFolder) + e->d_name;
    if (name == active_ || referenced.contains(name)) continue;
    ::unlinkat(dirfd(d), e->d_name, 0);
  }
  ::closedir(d);
}

}  // namespace steen::vault
