// The drill's local file system: every path inside the target is opened component by component
// from the target's descriptor with O_NOFOLLOW (a symlink anywhere in the path is refused), new
// files with O_EXCL and renames with RENAME_NOREPLACE, so the drill never leaves the marked tree
// nor overwrites a file.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "base/fd_io.h"
#include "drill/drill_fs.h"

namespace steen::drill {

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}
Fd::Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
Fd& Fd::operator=(Fd&& o) noexcept {
  if (fd_ >= 0) close(fd_);
  fd_ = std::exchange(o.fd_, -1);
  return *this;
}

namespace {

EntryInfo InfoFromStat(const struct stat& st, dev_t root_device) {
  EntryInfo info;
  if (S_ISREG(st.st_mode)) {
    info.type = EntryType::kRegular;
  } else if (S_ISDIR(st.st_mode)) {
    info.type = EntryType::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    info.type = EntryType::kSymlink;
  }
  info.size = static_cast<uint64_t>(st.st_size);
  info.permissions = st.st_mode & 0777;
  info.foreign_device = st.st_dev != root_device;
  info.created_s = st.st_ctime;
  info.atime_ns = st.st_atim.tv_sec * 1000000000LL + st.st_atim.tv_nsec;
  info.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return info;
}

// Opens `rel_dir` (components separated by '/') under root_fd, refusing symlinks at every step.
Fd OpenDirChain(int root_fd, std::string_view rel_dir) {
  Fd current(dup(root_fd));
  std::size_t pos = 0;
  while (pos < rel_dir.size() && current.ok()) {
    std::size_t slash = rel_dir.find('/', pos);
    if (slash == std::string_view::npos) slash = rel_dir.size();
    std::string part(rel_dir.substr(pos, slash - pos));
    pos = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      errno = EPERM;
      return Fd(-1);
    }
    current =
        Fd(openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  return current;
}

class LocalFile : public DrillFile {
 public:
  LocalFile(Fd fd, dev_t root_device) : fd_(std::move(fd)), root_device_(root_device) {}
  Status Info(EntryInfo* info) override {
    struct stat st {};
    if (fstat(fd_.get(), &st) != 0) return Status::FromErrno("fstat", errno);
    *info = InfoFromStat(st, root_device_);
    return Status::Ok();
  }
  Status ReadAt(uint64_t offset, uint64_t length, std::string* out) override {
    return ReadAllFd(fd_.get(), offset, length, out);
  }
  Status WriteAt(uint64_t offset, std::string_view data) override {
    return WriteAllFd(fd_.get(), offset, data);
  }
  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      return Status::FromErrno("ftruncate", errno);
    }
    return Status::Ok();
  }
  int MappableFd() const override { return fd_.get(); }

 private:
  Fd fd_;
  dev_t root_device_;
};

class LocalDrillFs : public DrillFs {
 public:
  LocalDrillFs(std::string target, Fd root, dev_t device)
      : target_(std::move(target)), root_(std::move(root)), device_(device) {}

  std::string Target() const override { return target_; }
  bool IsRemote() const override { return false; }

  Status List(const std::string& dir, bool birth_times, std::vector<DirEntry>* out) override {
    out->clear();
    Fd dir_fd = OpenDirChain(root_.get(), dir);
    if (!dir_fd.ok()) return Status::FromErrno("open folder " + dir, errno);
    DIR* stream = fdopendir(dup(dir_fd.get()));
    if (stream == nullptr) return Status::FromErrno("read folder " + dir, errno);
    std::vector<std::string> names;
    while (struct dirent* e = readdir(stream)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(stream);
    for (auto& name : names) {
      struct stat st {};
      if (fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      EntryInfo info = InfoFromStat(st, device_);
      if (birth_times && info.type == EntryType::kRegular) {
        struct statx sx {};
        if (statx(dir_fd.get(), name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) == 0 &&
            (sx.stx_mask & STATX_BTIME) != 0) {
          info.created_s = sx.stx_btime.tv_sec;
        }
      }
      out->push_back({std::move(name), info});
    }
    return Status::Ok();
  }

  Status Stat(const std::string& path, EntryInfo* info) override {
    struct stat root_st {};
    if (path.empty()) {  // the target itself
      if (fstat(root_.get(), &root_st) != 0) return Status::FromErrno("stat " + target_, errno);
      *info = InfoFromStat(root_st, device_);
      return Status::Ok();
    }
    Place place = Resolve(path);
    if (!place.dir.ok()) return Status::FromErrno("open folder of " + path, errno);
    struct stat st {};
    if (fstatat(place.dir.get(), place.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::FromErrno("stat " + path, errno);
    }
    *info = InfoFromStat(st, device_);
    return Status::Ok();
  }

  StatusOr<std::unique_ptr<DrillFile>> Open(const std::string& path, OpenMode mode,
                                            uint32_t permissions) override {
    Place place = Resolve(path);
    if (!place.dir.ok()) return Status::FromErrno("open folder of " + path, errno);
    int flags = O_NOFOLLOW | O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreateExclusive:
        flags |= O_WRONLY | O_CREAT | O_EXCL;
        break;
    }
    Fd fd(openat(place.dir.get(), place.name.c_str(), flags, permissions));
    if (!fd.ok()) return Status::FromErrno("open " + path, errno);
    return std::unique_ptr<DrillFile>(std::make_unique<LocalFile>(std::move(fd), device_));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    Place a = Resolve(from), b = Resolve(to);
    if (!a.dir.ok() || !b.dir.ok()) return Status::FromErrno("rename " + from, errno);
    if (renameat2(a.dir.get(), a.name.c_str(), b.dir.get(), b.name.c_str(), RENAME_NOREPLACE) !=
        0) {
      return Status::FromErrno("rename " + from + " to " + to, errno);
    }
    return Status::Ok();
  }

  Status RenameOver(const std::string& from, const std::string& to) override {
    Place a = Resolve(from), b = Resolve(to);
    if (!a.dir.ok() || !b.dir.ok()) return Status::FromErrno("rename " + from, errno);
    if (renameat(a.dir.get(), a.name.c_str(), b.dir.get(), b.name.c_str()) != 0) {
      return Status::FromErrno("rename " + from + " over " + to, errno);
    }
    return Status::Ok();
  }

  Status Unlink(const std::string& path) override { return UnlinkAt(path, 0); }
  Status RemoveDir(const std::string& path) override { return UnlinkAt(path, AT_REMOVEDIR); }

  Status MakeDir(const std::string& path) override {
    Place place = Resolve(path);
    if (!place.dir.ok()) return Status::FromErrno("open folder of " + path, errno);
    if (mkdirat(place.dir.get(), place.name.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + path, errno);
    }
    return Status::Ok();
  }

 private:
  struct Place {
    Fd dir;
    std::string name;
  };
  // The folder holding `path` and the last component. Absolute paths (the staging folder next to
  // the manifest) are the operator's own; paths in the target go through OpenDirChain.
  Place Resolve(const std::string& path) const {
    std::size_t slash = path.rfind('/');
    std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (!path.empty() && path[0] == '/') {
      if (parent.empty()) parent = "/";
      return {Fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), name};
    }
    return {OpenDirChain(root_.get(), parent), name};
  }

  Status UnlinkAt(const std::string& path, int flags) {
    Place place = Resolve(path);
    if (!place.dir.ok()) return Status::FromErrno("open folder of " + path, errno);
    if (unlinkat(place.dir.get(), place.name.c_str(), flags) != 0) {
      return Status::FromErrno("remove " + path, errno);
    }
    return Status::Ok();
  }

  std::string target_;
  Fd root_;
  dev_t device_;
};

}  // namespace

StatusOr<std::unique_ptr<DrillFs>> OpenLocalDrillFs(const std::string& real_target) {
  Fd root(open(real_target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root.ok()) return Status::FromErrno("open " + real_target, errno);
  struct stat st {};
  if (fstat(root.get(), &st) != 0) return Status::FromErrno("stat " + real_target, errno);
  return std::unique_ptr<DrillFs>(
      std::make_unique<LocalDrillFs>(real_target, std::move(root), st.st_dev));
}

}  // namespace steen::drill
