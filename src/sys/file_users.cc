#include "sys/file_users.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <charconv>
#include <memory>

#include "steen/limits.h"
#include "sys/file_opener.h"
#include "sys/proc.h"

namespace steen::sys {
namespace {

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    if (pos >= line.size()) break;
    std::size_t end = line.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = line.size();
    out.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

template <typename T>
bool Number(std::string_view text, T* out, int base = 10) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, base);
  return ec == std::errc() && p == text.data() + text.size();
}

// "08:02" (hex, as /proc/locks and maps print a device).
bool ParseDevice(std::string_view text, unsigned* major, unsigned* minor) {
  std::size_t colon = text.find(':');
  return colon != std::string_view::npos && Number(text.substr(0, colon), major, 16) &&
         Number(text.substr(colon + 1), minor, 16);
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    fn(text.substr(pos, end - pos));
    pos = end + 1;
  }
}

// Fills start time and executable of a user (best effort: the process may be gone).
FileUser Describe(pid_t pid, std::string how, const std::string& proc_root) {
  FileUser user;
  user.pid = pid;
  user.how = std::move(how);
  if (pid <= 0) return user;
  const std::string base = proc_root + "/" + std::to_string(pid);
  auto stat = ReadSmallFile(DefaultFileOpener(), base + "/stat", limits::kMaxProcFileBytes);
  if (stat.ok()) {
    if (auto parsed = ParseProcStat(*stat)) user.start_time = parsed->start_time;
  }
  user.exe = ReadLink(base + "/exe");
  return user;
}

}  // namespace

std::vector<LockEntry> ParseProcLocks(std::string_view text) {
  std::vector<LockEntry> out;
  ForEachLine(text, [&](std::string_view line) {
    // "1: POSIX  ADVISORY  WRITE 1234 08:02:131073 0 EOF"; waiters: "1: -> POSIX ...".
    auto f = Fields(line);
    if (f.size() < 6 || f[1] == "->") return;
    LockEntry entry;
    entry.kind = std::string(f[1]);
    entry.mode = std::string(f[3]);
    if (!Number(f[4], &entry.pid)) return;
    std::string_view id = f[5];
    std::size_t last = id.rfind(':');
    if (last == std::string_view::npos) return;
    if (!ParseDevice(id.substr(0, last), &entry.major, &entry.minor) ||
        !Number(id.substr(last + 1), &entry.inode)) {
      return;
    }
    out.push_back(std::move(entry));
  });
  return out;
}

bool MapsLineIsSharedWritable(std::string_view line, unsigned major, unsigned minor,
                              uint64_t inode) {
  // "7f2c-7f2d rw-s 00000000 08:02 131073   /path"
  auto f = Fields(line);
  if (f.size() < 5 || f[1].size() < 4) return false;
  if (f[1][1] != 'w' || f[1][3] != 's') return false;
  unsigned maj = 0, min = 0;
  uint64_t ino = 0;
  return ParseDevice(f[3], &maj, &min) && Number(f[4], &ino) && maj == major && min == minor &&
         ino == inode;
}

int ParseFdinfoFlags(std::string_view text) {
  int flags = -1;
  ForEachLine(text, [&](std::string_view line) {
    if (line.substr(0, 6) != "flags:") return;
    auto f = Fields(line.substr(6));
    int value = 0;
    if (!f.empty() && Number(f[0], &value, 8)) flags = value;
  });
  return flags;
}

std::vector<FileUser> WritersOf(dev_t dev, ino_t ino, const std::string& proc_root) {
  std::vector<FileUser> users;
  const pid_t self = ::getpid();
  for (pid_t pid : ListPids(DefaultFileOpener(), proc_root)) {
    if (pid == self) continue;
    const std::string base = proc_root + "/" + std::to_string(pid);
    bool found = false;
    std::unique_ptr<DIR, int (*)(DIR*)> fds(::opendir((base + "/fd").c_str()), ::closedir);
    while (fds && !found) {
      dirent* entry = ::readdir(fds.get());
      if (entry == nullptr) break;
      if (entry->d_name[0] == '.') continue;
      struct stat st {};
      // stat() follows the fd's magic link without opening the file.
      if (::stat((base + "/fd/" + entry->d_name).c_str(), &st) != 0) continue;
      if (st.st_dev != dev || st.st_ino != ino) continue;
      auto info = ReadSmallFile(DefaultFileOpener(), base + "/fdinfo/" + entry->d_name,
                                limits::kMaxProcFileBytes);
      const int flags = info.ok() ? ParseFdinfoFlags(*info) : -1;
      // Unknown flags count as writing: the conservative answer.
      if (flags < 0 || (flags & O_ACCMODE) != O_RDONLY) {
        users.push_back(Describe(pid, "open for writing", proc_root));
        found = true;
      }
    }
    if (found) continue;
    auto maps = ReadSmallFile(DefaultFileOpener(), base + "/maps", limits::kMaxProcListingBytes);
    if (!maps.ok()) continue;
    bool mapped = false;
    ForEachLine(*maps, [&](std::string_view line) {
      if (!mapped && MapsLineIsSharedWritable(line, ::major(dev), ::minor(dev), ino)) {
        mapped = true;
      }
    });
    if (mapped) users.push_back(Describe(pid, "shared writable mapping", proc_root));
  }
  return users;
}

std::vector<FileUser> LocksOn(dev_t dev, ino_t ino, const std::string& proc_root) {
  std::vector<FileUser> users;
  auto text =
      ReadSmallFile(DefaultFileOpener(), proc_root + "/locks", limits::kMaxProcListingBytes);
  if (!text.ok()) return users;
  const pid_t self = ::getpid();
  for (const LockEntry& lock : ParseProcLocks(*text)) {
    if (lock.major != ::major(dev) || lock.minor != ::minor(dev) || lock.inode != ino) continue;
    if (lock.pid == self) continue;
    users.push_back(Describe(lock.pid, lock.kind + " " + lock.mode + " lock", proc_root));
  }
  return users;
}

}  // namespace steen::sys
