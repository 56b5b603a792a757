#include "scan/file_scan.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "fmt/format.h"
#include "scan/file_source.h"
#include "scan/split_volume.h"

namespace steen::scan {
namespace {

// Below this, the analysis reads (nearly) the whole file anyway; advice would be a wasted syscall.
constexpr uint64_t kAdviseAboveBytes = 1024 * 1024;

bool SameContentState(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
         a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

void ScanFile(const FileTask& task, const AnalyzeFunction& analyze, const AnalyzeOptions& options,
              FileOutcome* outcome) {
  outcome->path = task.FullPath();
  outcome->size = 0;
  outcome->message.clear();
  outcome->analysis = Analysis{};
  const int dir_fd = task.dir ? task.dir->fd : AT_FDCWD;
  const int fd = OpenForScan(dir_fd, task.name.c_str(), task.follow);
  if (fd < 0) {
    outcome->kind = FileOutcome::Kind::kError;
    if (-fd == ENOENT) {
      outcome->message = "vanished before it could be read (No such file or directory)";
    } else if (-fd == ELOOP && !task.follow) {
      outcome->message = "replaced by a symbolic link while scanning; not followed";
    } else {
      outcome->message = fmt::format("cannot open: {}", std::strerror(-fd));
    }
    return;
  }
  struct stat before;
  if (fstat(fd, &before) != 0) {
    outcome->kind = FileOutcome::Kind::kError;
    outcome->message = fmt::format("cannot stat: {}", std::strerror(errno));
    close(fd);
    return;
  }
  if (!S_ISREG(before.st_mode)) {
    outcome->kind = S_ISDIR(before.st_mode) ? FileOutcome::Kind::kSkippedOther
                                            : FileOutcome::Kind::kSkippedSpecial;
    close(fd);
    return;
  }
  const auto size = static_cast<uint64_t>(before.st_size);
  outcome->size = size;
  if (size > kAdviseAboveBytes) {
    // Non-deep analysis jumps between head, samples and tail: kernel read-ahead would waste I/O.
    posix_fadvise(fd, 0, 0, options.deep ? POSIX_FADV_SEQUENTIAL : POSIX_FADV_RANDOM);
  }
  FileByteSource source(fd, size);
  StatusOr<Analysis> result = analyze(source, options);
  struct stat after;
  const bool changed = fstat(fd, &after) == 0 && !SameContentState(before, after);
  close(fd);
  if (!result.ok()) {
    outcome->kind = FileOutcome::Kind::kError;
    outcome->message = result.status().message();
    return;
  }
  outcome->kind = FileOutcome::Kind::kAnalysed;
  outcome->analysis = std::move(result).value();
  JudgeSplitVolume(dir_fd, task.name, size, analyze, options, &outcome->analysis);
  if (source.shrank()) {
    outcome->message = fmt::format("file shrank while being read (was {} bytes when opened)", size);
  } else if (changed) {
    outcome->message = "file changed while being read; the verdict may be stale";
  }
}

}  // namespace steen::scan
