// File-system side of the drill: target checks, init/populate, the attack itself (walk by fds,
// never following symlinks), a manifest written before every change, and undo. Every access to
// the target goes through a DrillFs (drill_fs.h): a local folder or an SMB share; the manifest
// and the sidecars are always local files.
//
// Crash safety: for every file, the original bytes of every range about to change (the whole
// file when the transform is not in place) are saved in a sidecar file next to the manifest and
// fsync'd, then the manifest line is appended and fsync'd, and only then is the file touched.
// Undo therefore works after a kill at any moment: it finds the file under its old, staged or
// new name and puts the saved bytes back.
#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>

#include "base/fd_io.h"
#include "drill/cipher.h"
#include "drill/drill_fs.h"
#include "steen/limits.h"

namespace steen::drill {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Move-out-back's staging folder when it cannot be next to the manifest (another file system,
// or an SMB share).
constexpr std::string_view kStageFolderName = ".steen-drill-stage";

uint64_t RandomU64() {
  uint64_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof(v));
  return v | 1;
}

std::pair<std::string, std::string> SplitRel(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

bool IsHomeFolder(const std::string& real) {
  if (real == "/root" || real == "/home") return true;
  if (const char* home = getenv("HOME"); home != nullptr) {
    std::error_code ec;
    if (fs::weakly_canonical(home, ec).string() == real) return true;
  }
  setpwent();
  bool found = false;
  while (struct passwd* pw = getpwent()) {
    if (pw->pw_dir != nullptr && real == pw->pw_dir && std::string(pw->pw_dir) != "/") found = true;
  }
  endpwent();
  if (fs::path(real).parent_path() == "/home") found = true;
  return found;
}

// Refusals shared by --init and the attack (the marker is checked by the attack only).
Status CheckPlace(const std::string& target, std::string* real_out) {
  std::error_code ec;
  fs::path real = fs::canonical(target, ec);
  if (ec) return Status::NotFound("target " + target + ": " + ec.message());
  std::string r = real.string();
  if (r == "/") return Status::PermissionDenied("refusing to attack /");
  if (IsHomeFolder(r)) return Status::PermissionDenied("refusing a home folder: " + r);
  struct stat self {
  }, parent{};
  if (stat(r.c_str(), &self) != 0 || stat(real.parent_path().c_str(), &parent) != 0) {
    return Status::FromErrno("stat " + r, errno);
  }
  if (!S_ISDIR(self.st_mode)) return Status::InvalidArgument(r + " is not a folder");
  if (self.st_dev != parent.st_dev || self.st_ino == parent.st_ino) {
    return Status::PermissionDenied("refusing a mount point: " + r);
  }
  for (const char* system : {"/etc", "/usr", "/bin", "/sbin", "/lib", "/boot", "/var", "/proc",
                             "/sys", "/dev", "/opt", "/srv"}) {
    if (r == system) return Status::PermissionDenied("refusing a system folder: " + r);
  }
  *real_out = r;
  return Status::Ok();
}

struct FileJob {
  std::string rel;  // relative path in the target
  uint64_t size = 0;
  uint64_t index = 0;  // position in the run (pace schedule, sidecar and seed)
};

struct Walker {
  const Profile& profile;
  const RunOptions& options;
  std::vector<FileJob> files;
  std::vector<std::string> dirs;  // every folder visited (for notes), "" = root
  uint64_t bytes = 0;
  int skipped = 0;

  bool Skip(const std::string& name, const EntryInfo& st) {
    std::string ext;
    if (std::size_t dot = name.rfind('.'); dot != std::string::npos && dot > 0) {
      ext = name.substr(dot);
      for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (name == kTargetMarkerName) return true;
    if (std::find(profile.skip_names.begin(), profile.skip_names.end(), name) !=
        profile.skip_names.end()) {
      return true;
    }
    if (std::find(profile.skip_extensions.begin(), profile.skip_extensions.end(), ext) !=
        profile.skip_extensions.end()) {
      return true;
    }
    if (!profile.only_extensions.empty() &&
        std::find(profile.only_extensions.begin(), profile.only_extensions.end(), ext) ==
            profile.only_extensions.end()) {
      return true;
    }
    if (st.size < profile.min_file_size) return true;
    if ((profile.skip_hidden || options.avoid_decoys) && name[0] == '.') return true;
    if (options.avoid_decoys) {
      // Birth time when the file system records it (ext4, xfs, btrfs; SMB reports the server's),
      // else the inode change time (List fills created_s so).
      const int64_t now = time(nullptr);
      if (now - st.created_s < static_cast<int64_t>(options.decoy_age_s)) return true;  // fresh
      // Never read since written: atime not after mtime (relatime still moves atime past mtime
      // on the first read).
      if (st.size > 0 && st.atime_ns <= st.mtime_ns) return true;
    }
    return false;
  }

  void Walk(DrillFs& fs) {
    std::deque<std::pair<std::string, int>> queue{{"", 0}};  // rel dir, depth
    while (!queue.empty()) {
      auto [rel, depth] =
          profile.traversal == Traversal::kBreadthFirst ? queue.front() : queue.back();
      if (profile.traversal == Traversal::kBreadthFirst) {
        queue.pop_front();
      } else {
        queue.pop_back();
      }
      std::vector<DirEntry> entries;
      if (!fs.List(rel, options.avoid_decoys, &entries).ok()) continue;
      dirs.push_back(rel);
      std::sort(entries.begin(), entries.end(),
                [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
      std::vector<std::string> subdirs;
      for (const auto& [name, st] : entries) {
        if (st.type == EntryType::kSymlink) continue;  // never followed, never touched
        if (st.foreign_device) continue;               // another file system mounted inside
        if (st.type == EntryType::kDirectory) {
          if (profile.recursive && depth + 1 < limits::kMaxDirectoryDepth) {
            subdirs.push_back(JoinRel(rel, name));
          }
          continue;
        }
        if (st.type != EntryType::kRegular || name == kTargetMarkerName) continue;
        if (Skip(name, st)) {
          ++skipped;
          continue;
        }
        if (files.size() >= options.max_files || bytes + st.size > options.max_bytes) {
          ++skipped;
          continue;
        }
        bytes += st.size;
        files.push_back({JoinRel(rel, name), st.size, files.size()});
      }
      // DFS pops from the back: push in reverse so folders are visited in name order.
      if (profile.traversal == Traversal::kDepthFirst) std::reverse(subdirs.begin(), subdirs.end());
      for (auto& d : subdirs) queue.push_back({d, depth + 1});
    }
  }
};

class Manifest {
 public:
  Status Open(const std::string& path) {
    fd_ = Fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600));
    if (!fd_.ok()) return Status::FromErrno("create manifest " + path, errno);
    return Status::Ok();
  }
  Status Append(const json& line) {
    std::string text = line.dump() + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    if (write(fd_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      return Status::FromErrno("write manifest", errno);
    }
    if (fdatasync(fd_.get()) != 0) return Status::FromErrno("fsync manifest", errno);
    return Status::Ok();
  }

 private:
  Fd fd_;
  std::mutex mu_;
};

Status WriteSidecar(const std::string& path, std::string_view data) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.ok()) return Status::FromErrno("create " + path, errno);
  if (Status s = WriteAllFd(fd.get(), 0, data); !s.ok()) return s;
  if (fsync(fd.get()) != 0) return Status::FromErrno("fsync " + path, errno);
  return Status::Ok();
}

// Encrypts the ranges of a whole file's bytes in memory (a mapping or a copy), io_block pieces.
void EncryptRangesInMemory(char* bytes, CipherKind cipher, const KeyMaterial& keys,
                           const std::vector<ByteRange>& ranges, uint64_t block) {
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    RangeCipher rc(cipher, keys, ranges[i].offset, ranges[i].length, static_cast<uint32_t>(i));
    for (uint64_t done = 0; done < ranges[i].length; done += block) {
      rc.Update(bytes + ranges[i].offset + done, std::min(block, ranges[i].length - done));
    }
  }
}

// A memory-mapped file that the drill cannot map (SMB): what reaches the server from a client's
// mapped remote file is the write-back of its dirty pages, so the ranges are encrypted in a copy
// and every 4 KiB page they touch is written back in order, contiguous pages coalesced up to
// `block` bytes per write.
Status WriteBackDirtyPages(DrillFile& file, std::string_view original, CipherKind cipher,
                           const KeyMaterial& keys, const std::vector<ByteRange>& ranges,
                           uint64_t block) {
  constexpr uint64_t kPage = 4096;
  std::string pages(original);
  EncryptRangesInMemory(pages.data(), cipher, keys, ranges, block);
  const uint64_t size = pages.size();
  uint64_t run_start = 0, run_end = 0;  // the pending run of dirty pages [run_start, run_end)
  auto flush = [&]() -> Status {
    for (uint64_t at = run_start; at < run_end; at += block) {
      const uint64_t n = std::min(block, run_end - at);
      if (Status s = file.WriteAt(at, std::string_view(pages).substr(at, n)); !s.ok()) return s;
    }
    return Status::Ok();
  };
  for (const auto& r : ranges) {
    const uint64_t first = r.offset / kPage * kPage;
    const uint64_t last = std::min(size, (r.offset + r.length + kPage - 1) / kPage * kPage);
    if (run_end > run_start && first <= run_end) {
      run_end = std::max(run_end, last);
      continue;
    }
    if (Status s = flush(); !s.ok()) return s;
    run_start = first;
    run_end = last;
  }
  return flush();
}

// Encrypts the ranges of an open file in place (pwrite or mmap), io_block pieces. `original` is
// the file's content (the mmap pattern on a file system without mappings writes pages from it).
Status EncryptInPlace(DrillFile& file, const Profile& p, WritePattern pattern, CipherKind cipher,
                      const KeyMaterial& keys, const std::vector<ByteRange>& ranges, uint64_t size,
                      std::string_view original,
                      const std::function<Status(std::size_t, uint64_t)>& after_piece) {
  uint64_t block = std::max<uint64_t>(64, p.io_block - p.io_block % 64);
  if (pattern == WritePattern::kMmap && size > 0 && file.MappableFd() < 0) {
    return WriteBackDirtyPages(file, original, cipher, keys, ranges, block);
  }
  if (pattern == WritePattern::kMmap && size > 0) {
    void* map = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, file.MappableFd(), 0);
    if (map == MAP_FAILED) return Status::FromErrno("mmap", errno);
    EncryptRangesInMemory(static_cast<char*>(map), cipher, keys, ranges, block);
    int rc = msync(map, size, MS_SYNC);
    munmap(map, size);
    if (rc != 0) return Status::FromErrno("msync", errno);
    return Status::Ok();
  }
  std::string buffer;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    RangeCipher rc(cipher, keys, ranges[i].offset, ranges[i].length, static_cast<uint32_t>(i));
    for (uint64_t done = 0; done < ranges[i].length; done += block) {
      uint64_t n = std::min(block, ranges[i].length - done);
      if (Status s = file.ReadAt(ranges[i].offset + done, n, &buffer); !s.ok()) return s;
      if (buffer.size() != n) return Status::IoError("file shrank while attacked");
      rc.Update(buffer.data(), buffer.size());
      if (Status s = file.WriteAt(ranges[i].offset + done, buffer); !s.ok()) return s;
      if (Status s = after_piece(i, done + n); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

struct RunContext {
  const Profile& profile;
  WritePattern pattern;
  DrillFs* fs;
  std::string sidecar_dir;
  std::string stage_dir;  // move-out-back staging folder (outside the tree when possible)
  uint64_t run_seed;
  Manifest* manifest;
  std::atomic<uint64_t> bytes_changed{0};
  std::atomic<uint64_t> attacked{0};
  std::atomic<uint64_t> skipped{0};
  std::atomic<uint64_t> failed{0};
};

// Play checks the last 0x428 bytes for its marker and leaves such files alone.
bool HasPlayFooter(const Profile& p, std::string_view content) {
  return p.footer_format != FooterFormat::kOpaque && content.size() >= 1064 &&
         content.substr(content.size() - 1064, 16) == p.footer_marker;
}

Status AttackFile(RunContext& ctx, const FileJob& job, bool* skipped) {
  const uint64_t index = job.index;
  const Profile& p = ctx.profile;
  DrillFs& fs = *ctx.fs;
  auto [rel_dir, name] = SplitRel(job.rel);
  const bool rename_over = ctx.pattern == WritePattern::kNewFileRenameOver;
  const bool new_file = ctx.pattern == WritePattern::kNewFileUnlink ||
                        ctx.pattern == WritePattern::kNewFileKeep || rename_over;
  // Class C tools only read the original (ccrypt, gpg, 7z): opening it for writing would hand a
  // defender an open-for-write event that the real tools never cause.
  StatusOr<std::unique_ptr<DrillFile>> opened =
      fs.Open(job.rel, new_file ? OpenMode::kRead : OpenMode::kReadWrite);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<DrillFile> file = std::move(opened).value();
  EntryInfo st;
  if (Status s = file->Info(&st); !s.ok()) return s;
  if (st.type != EntryType::kRegular) {
    return Status::InvalidArgument(job.rel + " is not a regular file");
  }
  uint64_t size = st.size;
  std::string original;
  if (Status s = file->ReadAt(0, size, &original); !s.ok()) return s;
  if (original.size() != size) return Status::IoError("short read " + job.rel);
  if (HasPlayFooter(p, original)) {
    *skipped = true;
    return Status::Ok();
  }

  const uint64_t seed = ctx.run_seed ^ (0x9E3779B97F4A7C15ULL * (index + 1));
  KeyMaterial keys = DeriveKeys(seed);
  std::vector<ByteRange> ranges = LayoutRanges(p, size, name);
  CipherKind cipher = RuleCipher(p, size, name);
  uint64_t footer = FooterSize(p, size, name);
  std::string new_name = TransformName(p, name, ctx.run_seed);
  // rename: none keeps the name when the file itself is changed (a new-file pattern still writes
  // the ciphertext under the template's name: ART's <name>.gpg).
  if (p.rename == RenameWhen::kNone && (!new_file || rename_over)) new_name = name;
  bool whole = p.encoding != Encoding::kNone || p.container != Container::kNone || new_file;
  if (new_name == name && new_file && !rename_over) new_name += ".drill";
  const std::string new_path = JoinRel(rel_dir, new_name);
  // rename-over: the ciphertext is written to this temporary name first (recorded as the
  // manifest's "stage", so that undo removes it when the drill was stopped before the rename).
  const std::string temp_path = JoinRel(rel_dir, "." + name + ".drill-tmp");
  // 1. Save the bytes about to change, 2. log, 3. change.
  std::string saved;
  if (whole) {
    saved = original;
  } else {
    for (const auto& r : ranges) saved.append(original, r.offset, r.length);
  }
  std::string sidecar = ctx.sidecar_dir + "/" + std::to_string(index) + ".bin";
  if (Status s = WriteSidecar(sidecar, saved); !s.ok()) return s;
  json ranges_json = json::array();
  for (const auto& r : ranges) ranges_json.push_back({r.offset, r.length});
  std::string stage_name = std::to_string(index) + "-" + name;
  const std::string stage_path = rename_over             ? temp_path
                                 : ctx.stage_dir.empty() ? ""
                                                         : ctx.stage_dir + "/" + stage_name;
  json entry = {{"op", "file"},
                {"id", index},
                {"path", job.rel},
                {"new_path", new_path},
                {"size", size},
                {"sha256", Hex(Sha256(original))},
                {"seed", std::to_string(seed)},
                {"key", Hex(keys.key)},
                {"nonce", Hex(keys.nonce)},
                {"cipher", std::string(ToString(cipher))},
                {"ranges", ranges_json},
                {"footer", footer},
                {"pattern", std::string(ToString(ctx.pattern))},
                {"whole", whole},
                {"sidecar", sidecar},
                {"stage", stage_path},
                {"pid", static_cast<int64_t>(getpid())}};
  if (Status s = ctx.manifest->Append(entry); !s.ok()) return s;

  if (new_file) {
    StatusOr<std::string> content = TransformContent(p, original, seed, name);
    if (!content.ok()) return content.status();
    StatusOr<std::unique_ptr<DrillFile>> out =
        fs.Open(rename_over ? temp_path : new_path, OpenMode::kCreateExclusive, st.permissions);
    if (!out.ok()) return out.status();
    if (Status s = (*out)->WriteAt(0, *content); !s.ok()) return s;
    if (rename_over) {
      out->reset();
      if (!fs.OpenFilesCanBeMoved()) file.reset();
      if (Status s = fs.RenameOver(temp_path, job.rel); !s.ok()) return s;
      if (new_path != job.rel) {
        if (Status s = fs.Rename(job.rel, new_path); !s.ok()) return s;
      }
      ctx.bytes_changed += content->size();
      return Status::Ok();
    }
    if (ctx.pattern == WritePattern::kNewFileUnlink) {
      if (!fs.OpenFilesCanBeMoved()) {
        out->reset();
        file.reset();
      }
      if (Status s = fs.Unlink(job.rel); !s.ok()) return s;
    }
    ctx.bytes_changed += content->size();
    return Status::Ok();
  }

  // In place (pwrite / mmap), optionally moved out and back.
  std::string current = job.rel;
  // Renames the file the drill holds open, keeping `file` usable under the new name.
  auto rename_open = [&](const std::string& to) -> Status {
    if (!fs.OpenFilesCanBeMoved()) file.reset();
    if (Status s = fs.Rename(current, to); !s.ok()) return s;
    current = to;
    if (file) return Status::Ok();
    StatusOr<std::unique_ptr<DrillFile>> reopened = fs.Open(current, OpenMode::kReadWrite);
    if (!reopened.ok()) return reopened.status();
    file = std::move(reopened).value();
    return Status::Ok();
  };
  if (ctx.pattern == WritePattern::kMoveOutBack) {
    if (Status s = rename_open(stage_path); !s.ok()) {
      return Status::IoError("move out " + job.rel + ": " + s.ToString());
    }
  } else if (p.rename == RenameWhen::kFirst && new_name != name) {
    if (Status s = rename_open(new_path); !s.ok()) return s;
  }
  // Play appends its footer with the encrypted-chunk counter at 0 and rewrites the counter after
  // every 1 MiB chunk; other families write a finished footer.
  const bool play_counter =
      p.footer_format != FooterFormat::kOpaque && p.footer_when == FooterWhen::kFirst;
  std::string footer_bytes = FileFooter(p, size, name, seed, play_counter ? 0 : UINT64_MAX);
  std::vector<uint64_t> chunks_before;  // Play: 1 MiB chunks in the ranges before range i
  for (uint64_t sum = 0; const auto& r : ranges) {
    chunks_before.push_back(sum);
    sum += (r.length + (1 << 20) - 1) >> 20;
  }
  const uint64_t counter_at = size + PlayCounterOffset(p, size, name);
  auto after_piece = [&](std::size_t range, uint64_t done) -> Status {
    if (!play_counter || footer == 0) return Status::Ok();
    uint64_t chunks = chunks_before[range] + ((done + (1 << 20) - 1) >> 20);
    char le[8];
    for (int b = 0; b < 8; ++b) le[b] = static_cast<char>((chunks >> (8 * b)) & 0xFF);
    return file->WriteAt(counter_at, std::string_view(le, 8));
  };
  if (p.encoding != Encoding::kNone) {
    StatusOr<std::string> content = TransformContent(p, original, seed, name);
    if (!content.ok()) return content.status();
    if (Status s = file->WriteAt(0, *content); !s.ok()) return s;
    ctx.bytes_changed += content->size();
  } else {
    if (footer > 0 && p.footer_when == FooterWhen::kFirst) {
      if (Status s = file->WriteAt(size, footer_bytes); !s.ok()) return s;
    } else if (footer > 0 && p.footer_when == FooterWhen::kExtendFirst) {
      if (Status s = file->Truncate(size + footer); !s.ok()) return s;
    }
    if (Status s = EncryptInPlace(*file, p, ctx.pattern, cipher, keys, ranges, size, original,
                                  after_piece);
        !s.ok()) {
      return s;
    }
    if (play_counter && footer > 0 && ctx.pattern == WritePattern::kMmap) {
      // No per-piece callback through a mapping: set the final counter.
      footer_bytes = FileFooter(p, size, name, seed);
      if (Status s = file->WriteAt(size, footer_bytes); !s.ok()) return s;
    }
    if (footer > 0 && p.footer_when != FooterWhen::kFirst) {
      if (Status s = file->WriteAt(size, footer_bytes); !s.ok()) return s;
    }
    uint64_t changed = 0;
    for (const auto& r : ranges) changed += r.length;
    ctx.bytes_changed += changed + footer;
  }
  file.reset();
  if (ctx.pattern == WritePattern::kMoveOutBack) {
    if (Status s = fs.Rename(current, new_path); !s.ok()) {
      return Status::IoError("move back " + job.rel + ": " + s.ToString());
    }
  } else if (current != new_path) {
    if (Status s = fs.Rename(current, new_path); !s.ok()) return s;
  }
  return Status::Ok();
}

void DropNotes(RunContext& ctx, const std::vector<std::string>& dirs, RunStats* stats) {
  const Profile& p = ctx.profile;
  if (p.note.placement == NotePlacement::kNone) return;
  std::string note_name = NoteName(p, ctx.run_seed);
  for (const auto& rel : dirs) {
    if (p.note.placement == NotePlacement::kRoot && !rel.empty()) continue;
    json entry = {
        {"op", "note"}, {"path", JoinRel(rel, note_name)}, {"sha256", Hex(Sha256(p.note.content))}};
    if (!ctx.manifest->Append(entry).ok()) return;
    // Exclusive: an existing file of that name is never overwritten (Infection Monkey: "if
    // absent").
    StatusOr<std::unique_ptr<DrillFile>> note =
        ctx.fs->Open(JoinRel(rel, note_name), OpenMode::kCreateExclusive, 0644);
    if (!note.ok()) continue;
    if ((*note)->WriteAt(0, p.note.content).ok()) ++stats->notes;
  }
}

}  // namespace

Status CheckTarget(std::string_view target) {
  std::string real;
  if (Status s = CheckPlace(std::string(target), &real); !s.ok()) return s;
  struct stat st {};
  std::string marker = real + "/" + std::string(kTargetMarkerName);
  if (lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::PermissionDenied("refusing " + real + ": no " + std::string(kTargetMarkerName) +
                                    " marker (create one with `steen drill --init " + real + "`)");
  }
  return Status::Ok();
}

bool IsSmbTarget(std::string_view target) { return target.starts_with("smb://"); }

namespace {

// Logs in to a remote target and, with `need_marker`, refuses a folder without the marker (as
// CheckTarget does locally; the server's own paths are unknown, so the home, system and mount
// point refusals are the server administrator's share definition).
StatusOr<std::unique_ptr<DrillFs>> OpenRemoteTarget(std::string_view target,
                                                    std::string_view auth_file, bool need_marker) {
  StatusOr<SmbUrl> url = ParseSmbUrl(target);
  if (!url.ok()) return url.status();
  StatusOr<SmbCredentials> credentials = ReadSmbAuthFile(auth_file);
  if (!credentials.ok()) return credentials.status();
  StatusOr<std::unique_ptr<DrillFs>> fs = OpenSmbDrillFs(*url, *credentials);
  if (!fs.ok() || !need_marker) return fs;
  EntryInfo marker;
  if (!(*fs)->Stat(std::string(kTargetMarkerName), &marker).ok() ||
      marker.type != EntryType::kRegular) {
    const std::string shown = url->ToString();
    return Status::PermissionDenied("refusing " + shown + ": no " + std::string(kTargetMarkerName) +
                                    " marker (create one on the server with `steen drill --init "
                                    "DIR` in the shared folder)");
  }
  return fs;
}

}  // namespace

Status CheckRemoteTarget(std::string_view url, std::string_view auth_file, bool need_marker) {
  StatusOr<std::unique_ptr<DrillFs>> fs = OpenRemoteTarget(url, auth_file, need_marker);
  return fs.ok() ? Status::Ok() : fs.status();
}

StatusOr<std::string> ManifestTarget(std::string_view manifest_path) {
  std::ifstream in{std::string(manifest_path)};
  if (!in) return Status::NotFound("cannot open manifest " + std::string(manifest_path));
  std::string line;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.value("op", "") == "run") {
      return j.value("target", "");
    }
  }
  return Status::Corruption("manifest has no run header");
}

std::vector<std::string> PickMixedFiles(std::vector<std::string> candidates, std::size_t count) {
  std::sort(candidates.begin(), candidates.end());
  std::map<std::string, std::vector<std::string>> by_type;
  for (auto& path : candidates) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    by_type[ext].push_back(std::move(path));
  }
  // Common types first (a "type" seen once or twice is usually a version number or an odd name,
  // not a kind of document), each type in turn.
  std::vector<std::vector<std::string>*> groups;
  for (auto& [ext, paths] : by_type) groups.push_back(&paths);
  std::stable_sort(groups.begin(), groups.end(),
                   [](const auto* a, const auto* b) { return a->size() > b->size(); });
  std::vector<std::string> picked;
  for (std::size_t round = 0; picked.size() < count; ++round) {
    bool any = false;
    for (std::vector<std::string>* paths : groups) {
      const std::size_t n = paths->size();
      if (round >= n) continue;
      any = true;
      // Spread each type's picks over its whole list (not the first folder of it): step through
      // the sorted list with a stride that visits every index once.
      std::size_t stride = n / 2 + 1;
      while (std::gcd(stride, n) != 1) ++stride;
      picked.push_back((*paths)[(round * stride) % n]);
      if (picked.size() == count) break;
    }
    if (!any) break;
  }
  return picked;
}

Status InitTarget(const InitOptions& options, std::string* report) {
  std::error_code ec;
  fs::create_directories(options.target, ec);
  if (ec) return Status::IoError("create " + options.target + ": " + ec.message());
  std::string real;
  if (Status s = CheckPlace(options.target, &real); !s.ok()) return s;
  std::string marker = real + "/" + std::string(kTargetMarkerName);
  if (access(marker.c_str(), F_OK) != 0) {
    std::string id = Hex(PseudoRandomBytes("steen-drill/target", RandomU64(), 16));
    std::ofstream out(marker);
    out << "steen drill target " << id << "\n";
    if (!out) return Status::IoError("write " + marker);
  }
  int copied = 0;
  std::string corpus_shown;
  if (options.populate > 0) {
    const std::string corpus_arg =
        options.corpus.empty() ? std::string(kDefaultPopulateCorpus) : options.corpus;
    fs::path corpus = fs::canonical(corpus_arg, ec);
    if (ec) return Status::NotFound("corpus " + corpus_arg + ": " + ec.message());
    if (!fs::is_directory(corpus, ec)) {
      return Status::InvalidArgument("corpus " + corpus_arg + " is not a folder");
    }
    corpus_shown = corpus.string();
    if (real.starts_with(corpus.string() + "/") || real == corpus.string()) {
      return Status::InvalidArgument("the corpus must not contain the target");
    }
    std::vector<std::string> sources;
    std::size_t walked = 0;
    for (auto it = fs::recursive_directory_iterator(
             corpus, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (++walked > limits::kMaxPopulateWalk) break;
      const std::string name = it->path().filename().string();
      if (name.starts_with(".")) {  // hidden files look planted; hidden folders are skipped whole
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
      const std::uintmax_t size = it->file_size(ec);
      if (ec || size == 0 || size > limits::kMaxPopulateFileBytes) continue;
      sources.push_back(it->path().string());
    }
    ec.clear();
    for (const auto& src : PickMixedFiles(std::move(sources), SIZE_MAX)) {
      if (copied >= options.populate) break;
      fs::path rel = fs::relative(src, corpus, ec);
      if (ec) continue;
      fs::path dst = fs::path(real) / rel;
      fs::create_directories(dst.parent_path(), ec);
      // Unreadable files (permissions) are skipped: the next pick takes their place.
      if (fs::copy_file(src, dst, fs::copy_options::skip_existing, ec) && !ec) ++copied;
    }
    if (copied < options.populate && copied == 0) {
      return Status::NotFound("corpus " + corpus_shown + " has no readable regular file to copy");
    }
  }
  if (report != nullptr) {
    *report = "target " + real + " ready (marker " + std::string(kTargetMarkerName) + ")";
    if (options.populate > 0) {
      *report += ", " + std::to_string(copied) + " files copied from " + corpus_shown;
    }
  }
  return Status::Ok();
}

namespace {

// Attacks `jobs` with `threads` threads; job i starts no earlier than start + job.index / pace
// (an absolute schedule: a late file does not delay the next ones, and the rate is global across
// threads and processes because every process shares the same start and numbering).
Status RunFiles(RunContext& ctx, const std::vector<FileJob>& jobs, double pace,
                std::chrono::steady_clock::time_point start, int threads) {
  std::atomic<std::size_t> next{0};
  std::mutex error_mu;
  Status first_error;
  auto worker = [&] {
    for (;;) {
      std::size_t i = next++;
      if (i >= jobs.size()) return;
      if (pace > 0) {
        std::this_thread::sleep_until(
            start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                        std::chrono::duration<double>(jobs[i].index / pace)));
      }
      bool skipped = false;
      Status s = AttackFile(ctx, jobs[i], &skipped);
      if (s.ok()) {
        ++(skipped ? ctx.skipped : ctx.attacked);
      } else {
        ++ctx.failed;
        std::lock_guard<std::mutex> lock(error_mu);
        if (first_error.ok()) first_error = s;
      }
    }
  };
  threads = std::clamp<int>(threads, 1, 256);
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  return first_error;
}

int64_t SteadyNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Starts `exe drill --worker work_file` as a fresh process that dies with its parent (a killed
// drill stops at once). The worker's stdin is one end of a socket pair, the start gate: the
// worker sends one byte when it is ready and waits for the schedule's start time (see
// RunProcesses). Returns the pid, or -1; *gate_fd is the parent's end.
pid_t SpawnWorker(const std::string& exe, const std::string& work_file, int* gate_fd) {
  std::vector<std::string> args = {exe, "drill", "--worker", work_file};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return -1;
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    // Async-signal-safe calls only between fork and exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (dup2(pair[1], STDIN_FILENO) < 0) _exit(127);  // dup2 clears close-on-exec
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pair[1]);
  if (pid < 0) {
    close(pair[0]);
    return -1;
  }
  *gate_fd = pair[0];
  return pid;
}

// Waits (bounded) until every worker has sent its ready byte or exited, so that the schedule
// starts when the first wave can actually write: an exec that takes longer than the first
// files' slots (a sanitizer build, a loaded machine) would otherwise burst to catch up.
void WaitUntilReady(const std::vector<int>& gates, const std::vector<int>& pidfds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<bool> done(gates.size(), false);
  for (;;) {
    std::vector<struct pollfd> fds;
    std::vector<std::size_t> owner;
    for (std::size_t i = 0; i < gates.size(); ++i) {
      if (done[i]) continue;
      fds.push_back({gates[i], POLLIN, 0});
      owner.push_back(i);
      if (pidfds[i] >= 0) {
        fds.push_back({pidfds[i], POLLIN, 0});
        owner.push_back(i);
      }
    }
    if (fds.empty()) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    int n = poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return;
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      const std::size_t i = owner[k];
      if (fds[k].fd == gates[i]) {
        char byte;
        (void)recv(gates[i], &byte, 1, MSG_DONTWAIT);
      }
      done[i] = true;  // ready, or gone (a pidfd is readable once the process exits)
    }
  }
}

void OpenGate(int gate_fd, std::chrono::steady_clock::time_point start) {
  const int64_t ns = SteadyNs(start);
  (void)send(gate_fd, &ns, sizeof(ns), MSG_NOSIGNAL);
}

// Reads a worker's manifest part: its end line's counters, or (killed) the files it logged.
void SumPart(const std::string& part, RunStats* stats, uint64_t* failed) {
  std::ifstream in(part);
  std::string line;
  uint64_t logged = 0;
  bool ended = false;
  while (std::getline(in, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    std::string op = j.value("op", "");
    if (op == "file") ++logged;
    if (op == "end") {
      ended = true;
      stats->files_attacked += j.value("attacked", 0ULL);
      stats->files_skipped += j.value("skipped", 0ULL);
      stats->bytes_changed += j.value("bytes", 0ULL);
      *failed += j.value("failed", 0ULL);
    }
  }
  if (!ended) *failed += 1;
  (void)logged;
}

// Runs the batches as worker processes, at most `processes` at a time. The main manifest names
// each part before its worker starts, so --undo finds it even if the worker is killed at once.
Status RunProcesses(RunContext& ctx, const std::vector<FileJob>& files, const RunOptions& options,
                    const std::string& manifest_file, double pace, int threads,
                    std::chrono::steady_clock::time_point* start, RunStats* stats) {
  const uint64_t n = files.size();
  const uint64_t processes = static_cast<uint64_t>(std::clamp(options.processes, 1, 1024));
  uint64_t per = options.files_per_process;
  if (per == 0) per = std::max<uint64_t>(1, (n + processes - 1) / processes);
  const uint64_t batches = (n + per - 1) / per;
  struct Running {
    pid_t pid;
    int pidfd;
    int gate;
    std::string part;
    uint64_t batch;
  };
  bool started = false;  // the schedule's start is set once the first wave is ready
  std::vector<Running> running;
  uint64_t next = 0, failed = 0;
  Status spawn_error;
  while (next < batches || !running.empty()) {
    while (running.size() < processes && next < batches && spawn_error.ok()) {
      const uint64_t b = next++;
      std::string part = ctx.sidecar_dir + "/part-" + std::to_string(b) + ".jsonl";
      std::string work = ctx.sidecar_dir + "/work-" + std::to_string(b) + ".json";
      json items = json::array();
      for (uint64_t i = b * per; i < std::min(n, (b + 1) * per); ++i) {
        items.push_back({files[i].index, files[i].rel, files[i].size});
      }
      json spec = {{"profile", ctx.profile.text},
                   {"profile_name", ctx.profile.name},
                   {"pattern", std::string(ToString(ctx.pattern))},
                   {"rename", std::string(ToString(ctx.profile.rename))},
                   {"target", options.target},
                   {"auth_file", options.auth_file},
                   {"run_seed", std::to_string(ctx.run_seed)},
                   {"sidecar_dir", ctx.sidecar_dir},
                   {"stage_dir", ctx.stage_dir},
                   {"part", part},
                   {"pace", pace},
                   {"threads", threads},
                   {"start_ns", SteadyNs(*start)},
                   {"items", items}};
      {
        std::ofstream out(work);
        out << spec.dump();
        if (!out) {
          spawn_error = Status::IoError("write " + work);
          break;
        }
      }
      if (Status s = ctx.manifest->Append({{"op", "part"}, {"path", part}, {"batch", b}});
          !s.ok()) {
        spawn_error = s;
        break;
      }
      int gate = -1;
      pid_t pid = SpawnWorker(options.worker_exe, work, &gate);
      if (pid < 0) {
        spawn_error = Status::FromErrno("fork", errno);
        break;
      }
      int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
      running.push_back({pid, pidfd, gate, part, b});
      if (started) OpenGate(gate, *start);
    }
    if (!started) {
      std::vector<int> gates, pidfds;
      for (const auto& r : running) {
        gates.push_back(r.gate);
        pidfds.push_back(r.pidfd);
      }
      WaitUntilReady(gates, pidfds);
      *start = std::chrono::steady_clock::now();
      for (const auto& r : running) OpenGate(r.gate, *start);
      started = true;
    }
    if (running.empty()) break;
    std::vector<struct pollfd> fds;
    for (const auto& r : running) fds.push_back({r.pidfd, POLLIN, 0});
    // Without pidfds (old kernels) fall back to polling every 10 ms.
    bool have_pidfds =
        std::all_of(running.begin(), running.end(), [](const Running& r) { return r.pidfd >= 0; });
    if (have_pidfds) {
      if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
        return Status::FromErrno("poll", errno);
      }
    }
    for (auto it = running.begin(); it != running.end();) {
      int status = 0;
      pid_t done = waitpid(it->pid, &status, have_pidfds ? WNOHANG : WNOHANG);
      if (done == 0) {
        ++it;
        continue;
      }
      if (done < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
      SumPart(it->part, stats, &failed);
      ctx.manifest->Append({{"op", "worker-exit"},
                            {"batch", it->batch},
                            {"pid", static_cast<int64_t>(it->pid)},
                            {"status", done < 0 ? -1 : status}});
      if (it->pidfd >= 0) close(it->pidfd);
      close(it->gate);
      it = running.erase(it);
    }
    if (!have_pidfds) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!spawn_error.ok()) return spawn_error;
  if (failed > 0) {
    return Status::IoError(std::to_string(failed) + " worker or file failure(s); see " +
                           manifest_file + " (undo restores what was done)");
  }
  return Status::Ok();
}

}  // namespace

Status RunDrill(const Profile& profile, const RunOptions& options, RunStats* stats) {
  *stats = RunStats{};
  const bool remote = IsSmbTarget(options.target);
  std::unique_ptr<DrillFs> target_fs;
  std::string real;
  if (remote) {
    StatusOr<std::unique_ptr<DrillFs>> opened =
        OpenRemoteTarget(options.target, options.auth_file, /*need_marker=*/true);
    if (!opened.ok()) return opened.status();
    target_fs = std::move(opened).value();
    real = target_fs->Target();
  } else {
    if (Status s = CheckTarget(options.target); !s.ok()) return s;
    real = fs::canonical(options.target).string();
  }
  if (options.manifest.empty()) return Status::InvalidArgument("--manifest FILE is required");
  std::error_code ec;
  fs::path manifest_path = fs::absolute(options.manifest);
  fs::path manifest_dir = fs::canonical(manifest_path.parent_path(), ec);
  if (ec) return Status::NotFound("manifest folder: " + ec.message());
  std::string md = manifest_dir.string();
  if (!remote && (md == real || md.starts_with(real + "/"))) {
    return Status::PermissionDenied("the manifest must be kept outside the target");
  }
  WritePattern pattern = profile.pattern;
  if (profile.container != Container::kNone && pattern != WritePattern::kNewFileUnlink &&
      pattern != WritePattern::kNewFileKeep && pattern != WritePattern::kNewFileRenameOver) {
    return Status::InvalidArgument("container profiles write new files (pattern new-file-*)");
  }
  if (profile.encoding != Encoding::kNone && pattern == WritePattern::kMmap) {
    pattern = WritePattern::kPwrite;  // an encoding grows the file; mmap cannot
  }
  std::string notice;
  if (remote && pattern == WritePattern::kMmap) {
    // The drill cannot map a remote file; the server sees what a client's mapped file sends.
    notice =
        "pattern mmap is impossible over SMB (a remote file cannot be mapped here): the dirty 4 "
        "KiB "
        "pages are written back instead, as a client's mapped remote file would send them";
    stats->notices.push_back(notice);
  }
  if (options.processes > 0 && profile.text.empty()) {
    return Status::InvalidArgument("--processes needs a profile parsed from text");
  }
  std::string manifest_file = (manifest_dir / manifest_path.filename()).string();
  Manifest manifest;
  if (Status s = manifest.Open(manifest_file); !s.ok()) return s;
  std::string sidecar_dir = manifest_file + ".d";
  fs::create_directory(sidecar_dir, ec);
  if (ec) return Status::IoError("create " + sidecar_dir + ": " + ec.message());

  if (!remote) {
    StatusOr<std::unique_ptr<DrillFs>> opened = OpenLocalDrillFs(real);
    if (!opened.ok()) return opened.status();
    target_fs = std::move(opened).value();
  }

  RunContext ctx{profile, pattern, target_fs.get(), sidecar_dir, "", 0, &manifest};
  ctx.run_seed = options.seed ? options.seed : RandomU64();
  if (pattern == WritePattern::kMoveOutBack) {
    if (remote) {
      // The share's root: outside the attacked folder when it is a subfolder of the share; at
      // the target's root (outside its subfolders) when the target is the share itself.
      ctx.stage_dir = "/" + std::string(kStageFolderName);
    } else {
      // Out of the tree when on the same file system (rename cannot cross devices); else a
      // staging folder at the target's root, outside the attacked subfolders.
      struct stat sd {
      }, root_st{};
      stat(sidecar_dir.c_str(), &sd);
      stat(real.c_str(), &root_st);
      ctx.stage_dir = sd.st_dev == root_st.st_dev ? sidecar_dir + "/stage"
                                                  : real + "/" + std::string(kStageFolderName);
    }
    (void)target_fs->MakeDir(ctx.stage_dir);
  }
  if (Status s = manifest.Append({{"op", "run"},
                                  {"target", real},
                                  {"profile", profile.name},
                                  {"pattern", std::string(ToString(pattern))},
                                  {"rename", std::string(ToString(profile.rename))},
                                  {"seed", std::to_string(ctx.run_seed)},
                                  {"stage", ctx.stage_dir},
                                  {"pid", static_cast<int64_t>(getpid())},
                                  {"processes", options.processes}});
      !s.ok()) {
    return s;
  }
  if (!notice.empty()) {
    if (Status s = manifest.Append({{"op", "notice"},
                                    {"requested_pattern", std::string(ToString(profile.pattern))},
                                    {"pattern", "mmap-page-write-back"},
                                    {"text", notice}});
        !s.ok()) {
      return s;
    }
  }

  Walker walker{profile, options};
  walker.Walk(*target_fs);
  if (profile.note.before) DropNotes(ctx, walker.dirs, stats);

  const double pace =
      options.pace_files_per_s >= 0 ? options.pace_files_per_s : profile.pace_files_per_s;
  const int threads = options.threads > 0 ? options.threads : profile.threads;
  auto start = std::chrono::steady_clock::now();
  Status result;
  if (options.processes > 0 && !walker.files.empty()) {
    RunOptions worker_options = options;
    worker_options.target = real;
    result = RunProcesses(ctx, walker.files, worker_options, manifest_file, pace, threads, &start,
                          stats);
  } else {
    result = RunFiles(ctx, walker.files, pace, start, threads);
    stats->files_attacked = ctx.attacked;
    stats->files_skipped = ctx.skipped;
    stats->bytes_changed = ctx.bytes_changed;
    if (ctx.failed > 0) {
      result = Status::IoError(std::to_string(ctx.failed.load()) +
                               " file(s) failed, first: " + result.ToString());
    }
  }
  stats->files_skipped += walker.skipped;
  if (!profile.note.before) DropNotes(ctx, walker.dirs, stats);
  manifest.Append({{"op", "end"}, {"attacked", stats->files_attacked}});
  // The remote staging folder lies outside the target: leave nothing behind once it is empty.
  if (remote && !ctx.stage_dir.empty()) (void)target_fs->RemoveDir(ctx.stage_dir);
  stats->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

// The worker's side of the start gate on stdin: says it is ready, then takes the schedule's
// start from the parent. Without a gate (stdin is not the parent's socket, or the parent sends
// nothing within a minute) the work file's provisional start is used.
int64_t WaitForStart(int64_t provisional_ns) {
  const char ready = 'r';
  if (send(STDIN_FILENO, &ready, 1, MSG_NOSIGNAL) != 1) return provisional_ns;
  struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
  if (poll(&pfd, 1, 60000) != 1) return provisional_ns;
  int64_t ns = 0;
  if (recv(STDIN_FILENO, &ns, sizeof(ns), MSG_WAITALL) != sizeof(ns)) return provisional_ns;
  return ns;
}

}  // namespace

Status RunWorker(std::string_view work_file) {
  std::ifstream in{std::string(work_file)};
  if (!in) return Status::NotFound("cannot open work file " + std::string(work_file));
  json spec = json::parse(in, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) return Status::Corruption("bad work file");
  StatusOr<Profile> profile =
      ParseProfile(spec.value("profile", ""), "worker:" + spec.value("profile_name", ""));
  if (!profile.ok()) return profile.status();
  // The parent's overrides (--pattern, --rename) are not in the profile's text.
  StatusOr<Profile> patched = ParseProfile(
      "name: x\npattern: " + spec.value("pattern", "pwrite") +
          "\nrename: " + spec.value("rename", std::string(ToString(profile->rename))) + "\n",
      "worker");
  if (!patched.ok()) return patched.status();
  profile->rename = patched->rename;
  const std::string target = spec.value("target", "");
  // The worker re-checks the target: a work file alone never opens an unmarked folder. A remote
  // worker logs in with its own session, as a fresh process of a real attacker would.
  StatusOr<std::unique_ptr<DrillFs>> target_fs = Status::Internal("unset");
  if (IsSmbTarget(target)) {
    target_fs = OpenRemoteTarget(target, spec.value("auth_file", ""), /*need_marker=*/true);
  } else {
    if (Status s = CheckTarget(target); !s.ok()) return s;
    target_fs = OpenLocalDrillFs(target);
  }
  if (!target_fs.ok()) return target_fs.status();
  Manifest part;
  if (Status s = part.Open(spec.value("part", "")); !s.ok()) return s;
  char exe[4096] = {};
  ssize_t exe_len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (Status s = part.Append({{"op", "worker"},
                              {"pid", static_cast<int64_t>(getpid())},
                              {"ppid", static_cast<int64_t>(getppid())},
                              {"exe", exe_len > 0 ? std::string(exe, exe_len) : ""}});
      !s.ok()) {
    return s;
  }
  RunContext ctx{*profile,
                 patched->pattern,
                 target_fs->get(),
                 spec.value("sidecar_dir", ""),
                 spec.value("stage_dir", ""),
                 0,
                 &part};
  ctx.run_seed = std::stoull(spec.value("run_seed", "1"));
  std::vector<FileJob> jobs;
  for (const auto& item : spec["items"]) {
    if (!item.is_array() || item.size() != 3) return Status::Corruption("bad work item");
    jobs.push_back({item[1].get<std::string>(), item[2].get<uint64_t>(), item[0].get<uint64_t>()});
  }
  const auto start = std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::nanoseconds(WaitForStart(spec.value("start_ns", int64_t{0})))));
  Status s = RunFiles(ctx, jobs, spec.value("pace", 0.0), start, spec.value("threads", 1));
  part.Append({{"op", "end"},
               {"attacked", ctx.attacked.load()},
               {"skipped", ctx.skipped.load()},
               {"failed", ctx.failed.load()},
               {"bytes", ctx.bytes_changed.load()}});
  return s;
}

StatusOr<double> ParsePace(std::string_view text) {
  std::string t;
  for (char c : text) {
    if (c != ' ') t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  auto number = [](const std::string& s, double* out) {
    if (s.empty()) return false;
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(*out);
  };
  double files = 0, seconds = 1;
  std::size_t slash = t.find('/');
  if (!number(t.substr(0, slash), &files)) {
    return Status::InvalidArgument("bad pace '" + std::string(text) + "'");
  }
  if (slash != std::string::npos) {
    std::string unit = t.substr(slash + 1);
    if (unit == "s" || unit == "sec") {
      seconds = 1;
    } else if (unit == "min" || unit == "m") {
      seconds = 60;
    } else if (unit == "h") {
      seconds = 3600;
    } else if (!number(unit, &seconds) || seconds <= 0) {
      return Status::InvalidArgument("bad pace '" + std::string(text) + "'");
    }
  }
  if (files < 0) return Status::InvalidArgument("pace must not be negative");
  return files / seconds;
}

Status Undo(std::string_view manifest_path, std::string* report, std::string_view auth_file) {
  std::ifstream in{std::string(manifest_path)};
  if (!in) return Status::NotFound("cannot open manifest " + std::string(manifest_path));
  std::vector<json> entries;
  std::string line;
  std::string target, run_stage;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;  // a torn last line after a kill
    const std::string op = j.value("op", "");
    if (op == "run") {
      target = j.value("target", "");
      run_stage = j.value("stage", "");
    }
    if (op == "part") {
      // A worker process's own log, spliced in where the worker was started (one level only;
      // a missing part means the worker never ran).
      std::ifstream part(j.value("path", ""));
      std::string part_line;
      while (std::getline(part, part_line)) {
        json e = json::parse(part_line, nullptr, false);
        if (e.is_discarded() || e.value("op", "") != "file") continue;
        entries.push_back(std::move(e));
      }
      continue;
    }
    entries.push_back(std::move(j));
  }
  if (target.empty()) return Status::Corruption("manifest has no run header");
  StatusOr<std::unique_ptr<DrillFs>> opened = Status::Internal("unset");
  if (IsSmbTarget(target)) {
    if (auth_file.empty()) {
      return Status::InvalidArgument("the manifest's target is " + target +
                                     ": undo needs --auth-file FILE");
    }
    opened = OpenRemoteTarget(target, auth_file, /*need_marker=*/false);
  } else {
    opened = OpenLocalDrillFs(target);
  }
  if (!opened.ok()) return opened.status();
  DrillFs& tfs = **opened;
  int restored = 0, notes = 0, problems = 0;
  std::string problem_text;
  auto problem = [&](const std::string& what) {
    ++problems;
    if (problem_text.size() < 2000) problem_text += "\n  " + what;
  };
  auto is_file = [&](const std::string& path) {
    EntryInfo info;
    return tfs.Stat(path, &info).ok() && info.type == EntryType::kRegular;
  };
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const json& e = *it;
    const std::string op = e.value("op", "");
    if (op == "note") {
      const std::string path = e.value("path", "");
      std::string content;
      StatusOr<std::unique_ptr<DrillFile>> note = tfs.Open(path, OpenMode::kRead);
      EntryInfo st;
      if (note.ok() && (*note)->Info(&st).ok() && st.size < (1 << 20) &&
          (*note)->ReadAt(0, st.size, &content).ok() &&
          Hex(Sha256(content)) == e.value("sha256", "")) {
        note->reset();
        if (tfs.Unlink(path).ok()) ++notes;
      }
      continue;
    }
    if (op != "file") continue;
    const std::string path = e.value("path", ""), new_path = e.value("new_path", "");
    const std::string pattern = e.value("pattern", ""), stage = e.value("stage", "");
    const uint64_t size = e.value("size", 0ULL);
    std::string saved;
    {
      std::ifstream side(e.value("sidecar", ""), std::ios::binary);
      if (!side) {
        problem("missing sidecar for " + path);
        continue;
      }
      saved.assign(std::istreambuf_iterator<char>(side), std::istreambuf_iterator<char>());
    }
    auto [rel_dir, name] = SplitRel(path);
    EntryInfo dir_info;
    if (!tfs.Stat(rel_dir, &dir_info).ok() || dir_info.type != EntryType::kDirectory) {
      problem("folder of " + path + " is gone");
      continue;
    }
    if (pattern == "new-file-rename-over") {
      // The ciphertext is at the original's name or, renamed, at the new one; a temporary file
      // left by a stop before the rename still holds it; the original may be untouched.
      if (!stage.empty() && is_file(stage)) (void)tfs.Unlink(stage);
      if (new_path != path && is_file(new_path)) (void)tfs.Unlink(new_path);
      bool untouched = false;
      if (is_file(path)) {
        StatusOr<std::unique_ptr<DrillFile>> in = tfs.Open(path, OpenMode::kRead);
        EntryInfo info;
        std::string current;
        untouched = in.ok() && (*in)->Info(&info).ok() && info.size == saved.size() &&
                    (*in)->ReadAt(0, info.size, &current).ok() && current == saved;
      }
      if (!untouched) {
        if (is_file(path)) (void)tfs.Unlink(path);
        StatusOr<std::unique_ptr<DrillFile>> out = tfs.Open(path, OpenMode::kCreateExclusive, 0644);
        if (!out.ok() || !(*out)->WriteAt(0, saved).ok()) {
          problem("cannot recreate " + path);
          continue;
        }
      }
    } else if (pattern == "new-file-unlink" || pattern == "new-file-keep") {
      if (!is_file(path)) {  // unlinked: recreate from the saved copy
        StatusOr<std::unique_ptr<DrillFile>> out = tfs.Open(path, OpenMode::kCreateExclusive, 0644);
        if (!out.ok() || !(*out)->WriteAt(0, saved).ok()) {
          problem("cannot recreate " + path);
          continue;
        }
      }
      if (new_path != path && is_file(new_path)) (void)tfs.Unlink(new_path);
    } else {
      // Where is the file now? Under its new name, in the staging folder, or its old name.
      std::string current;
      EntryInfo stage_info;
      if (is_file(new_path)) {
        current = new_path;
      } else if (!stage.empty() && tfs.Stat(stage, &stage_info).ok()) {
        current = stage;
      } else if (is_file(path)) {
        current = path;
      } else {
        problem("cannot find " + path + " (nor " + new_path + ")");
        continue;
      }
      StatusOr<std::unique_ptr<DrillFile>> file = tfs.Open(current, OpenMode::kReadWrite);
      if (!file.ok()) {
        problem("cannot open " + path);
        continue;
      }
      bool ok = true;
      if (e.value("whole", false)) {
        ok = (*file)->WriteAt(0, saved).ok();
      } else if (tfs.IsRemote() && !e["ranges"].empty()) {
        // One request per range would cost a round trip per 16 bytes for LockFile: patch the
        // span the ranges cover in memory and write it back in 1 MiB pieces.
        const uint64_t first = e["ranges"].front()[0].get<uint64_t>();
        const auto& back = e["ranges"].back();
        const uint64_t end = back[0].get<uint64_t>() + back[1].get<uint64_t>();
        std::string span;
        ok = end >= first && (*file)->ReadAt(first, end - first, &span).ok() &&
             span.size() == end - first;
        uint64_t pos = 0;
        for (const auto& r : e["ranges"]) {
          uint64_t off = r[0].get<uint64_t>(), len = r[1].get<uint64_t>();
          if (!ok || off < first || off + len > end || pos + len > saved.size()) {
            ok = false;
            break;
          }
          span.replace(off - first, len, saved, pos, len);
          pos += len;
        }
        for (uint64_t at = 0; ok && at < span.size(); at += 1 << 20) {
          ok = (*file)->WriteAt(first + at, std::string_view(span).substr(at, 1 << 20)).ok();
        }
      } else {
        uint64_t pos = 0;
        for (const auto& r : e["ranges"]) {
          uint64_t off = r[0].get<uint64_t>(), len = r[1].get<uint64_t>();
          if (pos + len > saved.size()) {
            ok = false;
            break;
          }
          ok = ok && (*file)->WriteAt(off, std::string_view(saved).substr(pos, len)).ok();
          pos += len;
        }
      }
      ok = ok && (*file)->Truncate(size).ok();
      file->reset();
      if (!ok) {
        problem("cannot restore the bytes of " + path);
        continue;
      }
      if (current != path && !tfs.Rename(current, path).ok()) {
        problem("cannot rename " + current + " back to " + path);
        continue;
      }
    }
    // Verify byte-exact.
    StatusOr<std::unique_ptr<DrillFile>> check = tfs.Open(path, OpenMode::kRead);
    std::string content;
    if (!check.ok() || !(*check)->ReadAt(0, size + 1, &content).ok() ||
        Hex(Sha256(content)) != e.value("sha256", "")) {
      problem("sha256 mismatch after restore: " + path);
      continue;
    }
    ++restored;
  }
  // A remote staging folder (outside the target) is removed once empty; local ones stay with
  // the manifest.
  if (tfs.IsRemote() && !run_stage.empty()) (void)tfs.RemoveDir(run_stage);
  if (report != nullptr) {
    *report = "restored " + std::to_string(restored) + " file(s), removed " +
              std::to_string(notes) + " note(s)";
    if (problems > 0) *report += ", " + std::to_string(problems) + " problem(s):" + problem_text;
  }
  return problems == 0 ? Status::Ok()
                       : Status::IoError(std::to_string(problems) + " file(s) not restored");
}

}  // namespace steen::drill
