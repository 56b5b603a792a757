// The vault: content-addressed protective copies, kept links and the SQLite catalog
// (include/steen/vault.h; design: docs/design/vault.md).
//
// Crash safety: a copy is written to tmp/ (or appended to a pack file, for a small one), renamed
// into objects/, and only then recorded in the catalog. A kill at any moment leaves either no trace
// or a complete object (the page cache survives a crash of steen). Against a power loss, a
// background thread fdatasyncs new objects and their folders within kVaultFlushIntervalMs; the
// catalog (WAL, synchronous=NORMAL) gives the same bound, so a synchronous fsync per copy bought
// nothing but a slower writer; the process that owns the vault (the first to take DIR/lock: the
// daemon, or a CLI when no daemon runs) removes tmp/ leftovers, rows without object and objects
// without row at Open. A second process (steen rollback while steen watch runs) shares the catalog
// through WAL and the busy timeout, and never recovers anything (the owner may be mid-copy).
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/fd_io.h"
#include "steen/limits.h"
#include "steen/vault.h"
#include "sys/clock.h"
#include "sys/file_opener.h"
#include "vault/intent_log.h"
#include "vault/packs.h"

namespace steen::vault {

std::string_view ToString(VersionKind kind) {
  switch (kind) {
    case VersionKind::kBeforeWrite:
      return "before_write";
    case VersionKind::kDeleted:
      return "deleted";
    case VersionKind::kRenamedOver:
      return "renamed_over";
  }
  return "before_write";
}

std::optional<VersionKind> ParseVersionKind(std::string_view text) {
  if (text == "before_write") return VersionKind::kBeforeWrite;
  if (text == "deleted") return VersionKind::kDeleted;
  if (text == "renamed_over") return VersionKind::kRenamedOver;
  return std::nullopt;
}

std::string_view ToString(ChangeOp op) {
  switch (op) {
    case ChangeOp::kCreate:
      return "create";
    case ChangeOp::kWrite:
      return "write";
    case ChangeOp::kRename:
      return "rename";
    case ChangeOp::kDelete:
      return "delete";
  }
  return "write";
}

namespace {

constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::optional<ChangeOp> ParseChangeOp(std::string_view text) {
  if (text == "create") return ChangeOp::kCreate;
  if (text == "write") return ChangeOp::kWrite;
  if (text == "rename") return ChangeOp::kRename;
  if (text == "delete") return ChangeOp::kDelete;
  return std::nullopt;
}

constexpr int kSchemaVersion = 1;

// The sha256 column of a copy stored with HashWhen::kLater until FinishPending hashes it (also
// its object's name: objects/pe/pending-...). Never a hex digest.
constexpr std::string_view kPlaceholderPrefix = "pending-";

bool IsPlaceholder(std::string_view sha256) { return sha256.starts_with(kPlaceholderPrefix); }

int64_t RealNowNs() { return sys::RealClock::Get()->WallNs(); }

uint64_t MonotonicNs() { return sys::RealClock::Get()->MonotonicNs(); }

int64_t StatNs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string Hex(const unsigned char* bytes, std::size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 15]);
  }
  return out;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, std::size_t n) { EVP_DigestUpdate(ctx_, data, n); }
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, md, &len);
    return Hex(md, len);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// Reads the whole content of `fd` through pread (its offset never moves), hashing it into `hash`
// when given and writing it to `out_fd` when that is >= 0.
Status ReadAll(int fd, int out_fd, Sha256* hash, uint64_t* bytes) {
  // Sized to the file (one read more sees its end) and left uninitialised: zeroing 1 MiB for each
  // copy of a small file cost more than copying it (bench/vault_overhead.sh edit-1000, perf).
  struct stat st {};
  const uint64_t expected = ::fstat(fd, &st) == 0 && st.st_size > 0
                                ? static_cast<uint64_t>(st.st_size) + 1
                                : limits::kVaultCopyChunkBytes;
  const std::size_t buf_size =
      static_cast<std::size_t>(std::min<uint64_t>(expected, limits::kVaultCopyChunkBytes));
  std::unique_ptr<char[]> storage(new char[buf_size]);
  const std::span<char> buf(storage.get(), buf_size);
  uint64_t offset = 0;
  while (true) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read", errno);
    }
    if (n == 0) break;
    if (hash != nullptr) hash->Update(buf.data(), static_cast<std::size_t>(n));
    if (out_fd >= 0) {
      ssize_t done = 0;
      while (done < n) {
        ssize_t w = ::write(out_fd, buf.data() + done, static_cast<std::size_t>(n - done));
        if (w < 0) {
          if (errno == EINTR) continue;
          return Status::FromErrno("write", errno);
        }
        done += w;
      }
    }
    offset += static_cast<uint64_t>(n);
  }
  *bytes = offset;
  return Status::Ok();
}

// The whole content of a small file, read into memory for a packed copy. `fits` is false (and
// *out is not to be used) when the file holds more than `cap` bytes by the time it is read.
Status ReadSmall(int fd, uint64_t expected, uint64_t cap, std::string* out, bool* fits) {
  // One byte more than expected: a file that grew since its fstat is seen to, and read again
  // up to one byte past the cap.
  uint64_t asked = std::min(expected, cap) + 1;
  Status read = ReadAllFd(fd, 0, asked, out);
  if (read.ok() && out->size() == asked && asked <= cap) {
    asked = cap + 1;
    read = ReadAllFd(fd, 0, asked, out);
  }
  *fits = read.ok() && out->size() <= cap;
  return read;
}

// Hashes (and optionally copies to `out_fd`) the whole content of `fd`.
Status HashFd(int fd, int out_fd, std::string* sha256, uint64_t* bytes) {
  Sha256 hash;
  if (Status s = ReadAll(fd, out_fd, &hash, bytes); !s.ok()) return s;
  *sha256 = hash.HexDigest();
  return Status::Ok();
}

// Copies the whole content of `fd` to `out_fd` without hashing it: inside the kernel
// (copy_file_range, no trip through user memory; `fd`'s offset never moves) where the two files'
// filesystems allow it, else through pread and write.
Status CopyFd(int fd, int out_fd, uint64_t* bytes) {
  loff_t in_offset = 0;
  uint64_t total = 0;
  while (true) {
    const ssize_t n =
        ::copy_file_range(fd, &in_offset, out_fd, nullptr, limits::kVaultCopyChunkBytes, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      const bool unsupported = errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                               errno == EOPNOTSUPP || errno == EBADF;
      if (total == 0 && unsupported) return ReadAll(fd, out_fd, nullptr, bytes);
      return Status::FromErrno("copy", errno);
    }
    if (n == 0) {
      // Some filesystems report nothing to copy rather than an error: read it ourselves.
      struct stat st {};
      if (total == 0 && ::fstat(fd, &st) == 0 && st.st_size > 0) {
        return ReadAll(fd, out_fd, nullptr, bytes);
      }
      break;
    }
    total += static_cast<uint64_t>(n);
  }
  *bytes = total;
  return Status::Ok();
}

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const unsigned char* text = sqlite3_column_text(stmt, col);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

// Makes stored objects durable in the background: fdatasync of each new object, then fsync of
// the folders they went into, at most kVaultFlushIntervalMs after they were stored, and all that
// is left when the vault closes.
class ObjectFlusher {
 public:
  ObjectFlusher() = default;
  ObjectFlusher(const ObjectFlusher&) = delete;
  ObjectFlusher& operator=(const ObjectFlusher&) = delete;
  ~ObjectFlusher() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    Flush(std::move(pending_));
  }
  void Add(std::string path) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.insert(std::move(path));  // a pack is appended to many times a second
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, std::chrono::milliseconds(limits::kVaultFlushIntervalMs),
                   [this] { return stopping_; });
      std::set<std::string> batch;
      batch.swap(pending_);
      lock.unlock();
      Flush(std::move(batch));
      lock.lock();
    }
  }
  static void Flush(const std::set<std::string>& paths) {
    std::set<std::string> folders;
    for (const std::string& path : paths) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) continue;  // evicted meanwhile
      ::fdatasync(fd);
      ::close(fd);
      folders.insert(path.substr(0, path.rfind('/')));
    }
    for (const std::string& folder : folders) {
      const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) continue;
      ::fsync(fd);
      ::close(fd);
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

// An empty file in spare/, open for writing, made before it is needed.
struct SpareFile {
  std::string path;
  int fd = -1;
};

// Empty files made ahead of time in spare/ by a background thread, so that a protective copy, made
// while the writer waits in open(), does not allocate an inode: creating the copy's file was 43%
// of the copy's time when 1,000 small files were edited in place (bench/vault_overhead.sh
// edit-1000, perf: ext4's inode allocator). Only the vault's owner uses them (its Open removes
// spare/ leftovers; another process's could be removed under it).
class SpareFiles {
 public:
  SpareFiles() = default;
  SpareFiles(const SpareFiles&) = delete;
  SpareFiles& operator=(const SpareFiles&) = delete;
  ~SpareFiles() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    for (const SpareFile& spare : ready_) {
      ::close(spare.fd);
      ::unlink(spare.path.c_str());
    }
  }
  // Files are named `prefix` + a number. The first call starts the thread and finds none ready.
  std::optional<SpareFile> Take(const std::string& prefix) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) {
      prefix_ = prefix;
      thread_ = std::thread([this] { Loop(); });
      return std::nullopt;
    }
    if (ready_.empty()) {
      failed_ = false;
      cv_.notify_one();
      return std::nullopt;
    }
    SpareFile spare = std::move(ready_.back());
    ready_.pop_back();
    if (ready_.size() <= limits::kVaultSpareFiles / 2) cv_.notify_one();
    return spare;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait(lock, [this] {
        return stopping_ || (!failed_ && ready_.size() <= limits::kVaultSpareFiles / 2);
      });
      while (!stopping_ && ready_.size() < limits::kVaultSpareFiles) {
        const std::string path = prefix_ + std::to_string(counter_++);
        lock.unlock();
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        lock.lock();
        if (fd < 0) {
          // No space, no inodes, no descriptors: copies make their own files, as without spares,
          // and report the error there; tried again when a copy finds none ready.
          failed_ = true;
          break;
        }
        ready_.push_back(SpareFile{path, fd});
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<SpareFile> ready_;
  std::string prefix_;
  uint64_t counter_ = 0;
  bool failed_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// Prepared statements by SQL text, kept while the catalog is open: preparing them anew on every
// call was 15% of the daemon's CPU on a tree of new files (bench/vault_overhead.sh untar, perf).
// A statement is lent to one Stmt at a time; a second user of the same SQL (another thread, or
// a nested call) prepares its own.
class StmtCache {
 public:
  StmtCache() = default;
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;
  ~StmtCache() { Clear(); }
  // Finalizes every statement (before the connection closes).
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [sql, entry] : entries_) sqlite3_finalize(entry.stmt);
    entries_.clear();
  }
  // A cached statement of `sql`, marked lent (nullptr: prepare one yourself).
  sqlite3_stmt* Borrow(const std::string& sql) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(sql);
    if (it == entries_.end() || it->second.lent) return nullptr;
    it->second.lent = true;
    return it->second.stmt;
  }
  // Takes back a lent statement, or keeps a newly prepared one (true: the cache owns it now).
  bool GiveBack(const std::string& sql, sqlite3_stmt* stmt) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(sql);
    if (it != entries_.end()) {
      if (it->second.stmt != stmt) return false;  // a second copy: the caller finalizes it
      it->second.lent = false;
      return true;
    }
    if (entries_.size() >= kMaxCached) return false;
    entries_.emplace(sql, Entry{stmt, false});
    return true;
  }

 private:
  static constexpr std::size_t kMaxCached = 128;  // the catalog code has ~40 distinct statements
  struct Entry {
    sqlite3_stmt* stmt;
    bool lent;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
};

// One prepared statement (from the cache when there is one), reset when done.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : Stmt(db, nullptr, sql) {}
  Stmt(sqlite3* db, StmtCache* cache, const char* sql) : cache_(cache) {
    if (cache_ != nullptr) {
      sql_ = sql;
      stmt_ = cache_->Borrow(sql_);
      if (stmt_ != nullptr) return;
    }
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      error_ = sqlite3_errmsg(db);
      sqlite3_finalize(stmt_);
      stmt_ = nullptr;
    }
  }
  ~Stmt() {
    if (stmt_ == nullptr) return;
    if (cache_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
      if (cache_->GiveBack(sql_, stmt_)) return;
    }
    sqlite3_finalize(stmt_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  const std::string& error() const { return error_; }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  int Step() { return stmt_ == nullptr ? SQLITE_ERROR : sqlite3_step(stmt_); }
  sqlite3_stmt* get() { return stmt_; }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) { return ColumnText(stmt_, col); }

 private:
  StmtCache* cache_ = nullptr;
  std::string sql_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string error_;
};

constexpr const char* kVersionColumns =
    "id, path, device, inode, size, mode, uid, gid, mtime_ns, taken_ns, kind, sha256, object, "
    "pid, start_time, exe, actor_uid, smb_client, smb_user, incident";

Version ReadVersion(Stmt& q) {
  Version v;
  v.id = q.Int(0);
  v.path = q.Text(1);
  v.device = static_cast<uint64_t>(q.Int(2));
  v.inode = static_cast<uint64_t>(q.Int(3));
  v.size = static_cast<uint64_t>(q.Int(4));
  v.mode = static_cast<uint32_t>(q.Int(5));
  v.uid = static_cast<uid_t>(q.Int(6));
  v.gid = static_cast<gid_t>(q.Int(7));
  v.mtime_ns = q.Int(8);
  v.taken_ns = q.Int(9);
  v.kind = ParseVersionKind(q.Text(10)).value_or(VersionKind::kBeforeWrite);
  v.sha256 = q.Text(11);
  v.object = q.Text(12);
  v.actor.pid = static_cast<pid_t>(q.Int(13));
  v.actor.start_time = static_cast<uint64_t>(q.Int(14));
  v.actor.exe = q.Text(15);
  v.actor.uid = static_cast<uid_t>(q.Int(16));
  v.actor.smb_client_address = q.Text(17);
  v.actor.smb_user = q.Text(18);
  v.incident_id = q.Text(19);
  return v;
}

constexpr const char* kChangeColumns =
    "id, time_ns, op, path, new_path, device, inode, pid, start_time, exe, actor_uid, smb_client, "
    "smb_user, version_id";

Change ReadChange(Stmt& q) {
  Change c;
  c.id = q.Int(0);
  c.time_ns = q.Int(1);
  c.op = ParseChangeOp(q.Text(2)).value_or(ChangeOp::kWrite);
  c.path = q.Text(3);
  c.new_path = q.Text(4);
  c.device = static_cast<uint64_t>(q.Int(5));
  c.inode = static_cast<uint64_t>(q.Int(6));
  c.actor.pid = static_cast<pid_t>(q.Int(7));
  c.actor.start_time = static_cast<uint64_t>(q.Int(8));
  c.actor.exe = q.Text(9);
  c.actor.uid = static_cast<uid_t>(q.Int(10));
  c.actor.smb_client_address = q.Text(11);
  c.actor.smb_user = q.Text(12);
  c.version_id = q.Int(13);
  return c;
}

// SQL that matches rows of one actor (bound at ?N .. ?N+2: pid, start_time, smb client).
std::string ActorMatch(int n) {
  return fmt::format(
      "((pid = ?{0} AND (start_time = ?{1} OR start_time = 0 OR ?{1} = 0)) OR "
      "(?{2} <> '' AND smb_client = ?{2}))",
      n, n + 1, n + 2);
}

}  // namespace

ActorRef ToActorRef(const Actor& actor) {
  ActorRef ref;
  ref.pid = actor.pid;
  ref.start_time = actor.start_time;
  ref.exe = actor.exe;
  ref.uid = actor.uid;
  ref.smb_client_address = actor.smb_client_address;
  ref.smb_user = actor.smb_user;
  return ref;
}

struct Vault::Impl {
  VaultOptions options;
  sqlite3* db = nullptr;
  int lock_fd = -1;
  int links_fd = -1;
  bool owner = false;
  mutable std::mutex mu;
  VaultStats stats;
  uint64_t object_bytes = 0;  // distinct objects
  uint64_t object_count = 0;
  uint64_t version_count = 0;
  std::set<std::pair<uint64_t, uint64_t>> linked;  // inodes with a kept link (cache)
  std::atomic<uint64_t> tmp_counter{0};
  StmtCache statements;
  ObjectFlusher flusher;
  SpareFiles spares;
  std::unique_ptr<PackStore> packs;    // small copies (the owner's appends); made by Open
  std::unique_ptr<IntentLog> intents;  // the owner's: rows of packed copies not committed yet
  // Packed objects whose last row is deleted in the open batch: their ranges are punched once the
  // delete is committed (a crash before would leave committed rows naming zeros).
  std::vector<PackedRef> released_after_commit;
  std::vector<std::string> pending;  // placeholders of copies stored with HashWhen::kLater
  // objects/ subfolders made or found by this process: a mkdir per stored object (EEXIST 98% of
  // the time) was a system call per file renamed over under rsync. Under `mu`.
  std::set<std::string> object_folders;
  std::atomic<uint64_t> batch_begun_ns{0};  // CLOCK_MONOTONIC of the open batch's BEGIN, or 0
  // Fair turns at the catalog's write lock. The daemon holds it for a whole batch, one after the
  // other while events keep coming, and SQLite's own busy wait (sleeps of up to 100 ms) let a
  // second writer (`steen rollback`) wait seconds for a gap. A waiting writer takes an OFD lock
  // on catalog.want; the daemon, seeing it at the end of a poll, commits and waits for it.
  int want_fd = -1;
  bool want_held = false;
  uint64_t busy_since_ns = 0;
  // The first byte of catalog.want, locked (F_WRLCK) or released (F_UNLCK) with OFD locks.
  static struct flock WantByte(short type) {
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    return fl;
  }
  void AnnounceWaiting() {
    if (want_held || want_fd < 0) return;
    struct flock fl = WantByte(F_WRLCK);
    want_held = ::fcntl(want_fd, F_OFD_SETLK, &fl) == 0;
  }
  void StopWaiting() {
    if (!want_held) return;
    struct flock fl = WantByte(F_UNLCK);
    (void)::fcntl(want_fd, F_OFD_SETLK, &fl);
    want_held = false;
  }
  static int CatalogBusy(void* arg, int attempts);
  static int CatalogWriteEnds(void* arg);
  static void CatalogRolledBack(void* arg);
  bool SomeoneWaits() const {
    if (want_fd < 0) return false;
    struct flock fl = WantByte(F_WRLCK);
    return ::fcntl(want_fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  }

  std::string NewPlaceholder() {
    return fmt::format("{}{}-{}-{}", kPlaceholderPrefix, ::getpid(), Now(), tmp_counter++);
  }
  // Hashes the pending copy `placeholder` and gives it its content address. Takes `mu` itself:
  // the hash is read without it.
  void FinishCopy(const std::string& placeholder);

  ~Impl() {
    statements.Clear();
    if (db != nullptr) sqlite3_close(db);
    if (links_fd >= 0) ::close(links_fd);
    if (lock_fd >= 0) ::close(lock_fd);
    if (want_fd >= 0) ::close(want_fd);
  }

  int64_t Now() const { return options.now_ns ? options.now_ns() : RealNowNs(); }
  std::string Path(const std::string& rel) const { return options.dir + "/" + rel; }

  Status Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      return Status::IoError(std::string("vault catalog: ") + msg);
    }
    return Status::Ok();
  }
  Status StepDone(Stmt& q) {
    if (!q.ok()) return Status::Internal("vault catalog: " + q.error());
    int rc = q.Step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      return Status::IoError(std::string("vault catalog: ") + sqlite3_errmsg(db));
    }
    return Status::Ok();
  }

  Status OpenCatalog();
  Status Recover();
  void LoadCounters();

  // Inserts a change; returns its id (0 on failure).
  int64_t AddChange(ChangeOp op, const std::string& path, const std::string& new_path,
                    uint64_t device, uint64_t inode, const ActorRef& actor, int64_t time_ns,
                    int64_t version_id) {
    Stmt q(db, &statements,
           "INSERT INTO changes (time_ns, op, path, new_path, device, inode, pid, start_time, exe, "
           "actor_uid, smb_client, smb_user, version_id) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,"
           "?11,?12,?13)");
    q.Bind(1, time_ns ? time_ns : Now())
        .Bind(2, std::string(ToString(op)))
        .Bind(3, path)
        .Bind(4, new_path)
        .Bind(5, static_cast<int64_t>(device))
        .Bind(6, static_cast<int64_t>(inode))
        .Bind(7, static_cast<int64_t>(actor.pid))
        .Bind(8, static_cast<int64_t>(actor.start_time))
        .Bind(9, actor.exe)
        .Bind(10, static_cast<int64_t>(actor.uid))
        .Bind(11, actor.smb_client_address)
        .Bind(12, actor.smb_user)
        .Bind(13, version_id);
    if (!StepDone(q).ok()) {
      ++stats.errors;
      return 0;
    }
    return sqlite3_last_insert_rowid(db);
  }

  // The incident pinning this actor's versions taken at `when` ("" = none).
  std::string PinFor(const ActorRef& actor, int64_t when) {
    Stmt q(db, &statements,
           ("SELECT incident FROM pins WHERE since_ns <= ?4 AND " + ActorMatch(1) +
            " ORDER BY rowid LIMIT 1")
               .c_str());
    q.Bind(1, actor.pid)
        .Bind(2, static_cast<int64_t>(actor.start_time))
        .Bind(3, actor.smb_client_address)
        .Bind(4, when);
    return q.Step() == SQLITE_ROW ? q.Text(0) : std::string();
  }

  int64_t AddVersion(Version& v) {
    v.incident_id = PinFor(v.actor, v.taken_ns);
    Stmt q(db, &statements,
           "INSERT INTO versions (path, device, inode, size, mode, uid, gid, mtime_ns, ctime_ns, "
           "taken_ns, kind, sha256, object, pid, start_time, exe, actor_uid, smb_client, smb_user, "
           "incident) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,"
           "?20)");
    q.Bind(1, v.path)
        .Bind(2, static_cast<int64_t>(v.device))
        .Bind(3, static_cast<int64_t>(v.inode))
        .Bind(4, static_cast<int64_t>(v.size))
        .Bind(5, static_cast<int64_t>(v.mode))
        .Bind(6, static_cast<int64_t>(v.uid))
        .Bind(7, static_cast<int64_t>(v.gid))
        .Bind(8, v.mtime_ns)
        .Bind(9, ctime_ns_for_insert)
        .Bind(10, v.taken_ns)
        .Bind(11, std::string(ToString(v.kind)))
        .Bind(12, v.sha256)
        .Bind(13, v.object)
        .Bind(14, static_cast<int64_t>(v.actor.pid))
        .Bind(15, static_cast<int64_t>(v.actor.start_time))
        .Bind(16, v.actor.exe)
        .Bind(17, static_cast<int64_t>(v.actor.uid))
        .Bind(18, v.actor.smb_client_address)
        .Bind(19, v.actor.smb_user)
        .Bind(20, v.incident_id);
    if (!StepDone(q).ok()) {
      ++stats.errors;
      return 0;
    }
    v.id = sqlite3_last_insert_rowid(db);
    ++version_count;
    ++stats.versions;
    return v.id;
  }
  int64_t ctime_ns_for_insert = 0;

  bool ObjectReferenced(const std::string& sha256) {
    Stmt q(db, &statements, "SELECT 1 FROM versions WHERE sha256 = ?1 LIMIT 1");
    q.Bind(1, sha256);
    return q.Step() == SQLITE_ROW;
  }

  // Deletes version rows (and their objects when no other row needs them).
  void Evict(const std::vector<Version>& victims) {
    for (const Version& v : victims) {
      Stmt del(db, &statements, "DELETE FROM versions WHERE id = ?1");
      del.Bind(1, v.id);
      if (!StepDone(del).ok()) continue;
      if (version_count > 0) --version_count;
      if (stats.versions > 0) --stats.versions;
      ++stats.evicted;
      if (!ObjectReferenced(v.sha256) && RemoveObject(v.object)) {
        object_bytes -= std::min(object_bytes, v.size);
        if (object_count > 0) --object_count;
      }
    }
  }

  std::vector<Version> OldestUnpinned(std::size_t n, int64_t older_than_ns) {
    std::string sql =
        std::string("SELECT ") + kVersionColumns + " FROM versions WHERE incident = '' " +
        (older_than_ns > 0 ? "AND taken_ns < ?2 " : "") + "ORDER BY taken_ns, id LIMIT ?1";
    Stmt q(db, &statements, sql.c_str());
    q.Bind(1, static_cast<int64_t>(n));
    if (older_than_ns > 0) q.Bind(2, older_than_ns);
    std::vector<Version> out;
    while (q.Step() == SQLITE_ROW) out.push_back(ReadVersion(q));
    return out;
  }

  // Evicts oldest-first until `bytes` more fit; false when the rest is pinned.
  // Free bytes on the vault's filesystem for an unprivileged writer (UINT64_MAX if unknown).
  uint64_t FreeBytes() const {
    struct statvfs vfs {};
    if (::statvfs(options.dir.c_str(), &vfs) != 0) return UINT64_MAX;
    return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  bool DiskHasRoom(uint64_t bytes) const {
    if (options.min_free_bytes == 0) return true;  // no reserve: the copy itself finds out
    const uint64_t free = FreeBytes();
    return free >= bytes && free - bytes >= options.min_free_bytes;
  }

  // Evicts oldest unpinned versions until `bytes` more fit the quotas and (for a copy) the disk's
  // reserve. Returns why it could not ("" = room made).
  std::string MakeRoom(uint64_t bytes) {
    while (object_bytes + bytes > options.max_bytes || version_count + 1 > options.max_files) {
      auto victims = OldestUnpinned(1, 0);
      if (victims.empty()) {
        if (bytes > 0) ++stats.refused_quota;
        return fmt::format("vault full ({} of {} bytes, {} versions) with copies of open incidents",
                           object_bytes, options.max_bytes, version_count);
      }
      Evict(victims);
    }
    // Only for a new copy: the users' own data filling the disk is no reason to drop history.
    while (bytes > 0 && !DiskHasRoom(bytes)) {
      // Evict only when the vault's own bytes could cover the shortfall: otherwise the disk is
      // full of other data and dropping history would not make the copy fit.
      const uint64_t free = FreeBytes();
      const uint64_t needed = bytes + options.min_free_bytes;
      std::vector<Version> victims;
      if (needed - std::min(free, needed) <= object_bytes) victims = OldestUnpinned(1, 0);
      if (victims.empty()) {
        ++stats.refused_disk;
        return fmt::format(
            "the vault's disk has {} bytes free; a {}-byte copy would leave less than "
            "vault.min_free_bytes ({})",
            FreeBytes(), bytes, options.min_free_bytes);
      }
      Evict(victims);
    }
    return "";
  }

  static std::string ObjectPath(const std::string& sha256) {
    return "objects/" + sha256.substr(0, 2) + "/" + sha256;
  }
  bool HasObject(const std::string& sha256) const {
    struct stat st {};
    return ::stat(Path(ObjectPath(sha256)).c_str(), &st) == 0;
  }

  // The object rows with this content already name (every row of one sha256 names one object).
  std::optional<std::string> ExistingObject(const std::string& sha256) {
    Stmt q(db, &statements, "SELECT object FROM versions WHERE sha256 = ?1 LIMIT 1");
    q.Bind(1, sha256);
    if (q.Step() != SQLITE_ROW) return std::nullopt;
    return q.Text(0);
  }
  // Removes an object no row names any more; false when it could not be (kept counted).
  // NOLINTNEXTLINE(readability-make-member-function-const): it removes files and pack ranges.
  bool RemoveObject(const std::string& object) {
    if (auto ref = ParsePackedRef(object)) {
      if (InBatch()) {
        released_after_commit.push_back(std::move(*ref));
      } else {
        packs->Release(*ref);
      }
      return true;
    }
    return ::unlink(Path(object).c_str()) == 0 || errno == ENOENT;
  }
  bool ObjectIntact(const std::string& object) const {
    if (auto ref = ParsePackedRef(object)) return packs->Holds(*ref);
    struct stat st {};
    return ::stat(Path(object).c_str(), &st) == 0;
  }

  // A batch (BEGIN ... COMMIT) is open on this connection.
  bool InBatch() const { return sqlite3_get_autocommit(db) == 0; }
  // True when a copy's rows need no commit before the writer is answered: committed already
  // (no batch open), or a packed copy whose rows went to the intent log. Called under `mu`.
  bool RowsSafe(bool packed, const Version& v, int64_t ctime_ns, int64_t change_time_ns) {
    if (!InBatch()) return true;
    if (!packed || !intents) return false;
    CopyIntent intent{v, ctime_ns, change_time_ns};
    if (Status logged = intents->Append(intent); !logged.ok()) {
      ++stats.errors;  // full or failing: the caller commits instead
      return false;
    }
    return true;
  }
  // True when `object` holds content `sha256`: a pack's range is read and hashed (a punched or
  // reused range does not), an object file is named by its hash.
  bool ObjectHolds(const std::string& object, const std::string& sha256) const {
    if (auto ref = ParsePackedRef(object)) {
      auto fd = packs->Open(*ref);
      if (!fd.ok()) return false;
      std::string sha;
      uint64_t bytes = 0;
      const bool hashed = HashFd(*fd, -1, &sha, &bytes).ok();
      ::close(*fd);
      return hashed && sha == sha256 && bytes == ref->length;
    }
    struct stat st {};
    return object == ObjectPath(sha256) && ::stat(Path(object).c_str(), &st) == 0;
  }
  // The packs the catalog names, each with its number of distinct objects.
  std::map<std::string, uint64_t> LivePacks() {
    std::map<std::string, uint64_t> live;
    Stmt q(db, &statements, "SELECT DISTINCT object FROM versions WHERE object LIKE 'packs/%'");
    while (q.Step() == SQLITE_ROW) {
      if (auto ref = ParsePackedRef(q.Text(0))) ++live[ref->pack];
    }
    return live;
  }
  // The owner's Open, before Recover: rows of packed copies that a crash kept from the catalog
  // are recorded from the intent log; the log is then emptied and opened for this run.
  Status ReplayIntents();

  // Appends a small copy to the active pack, or finds the object of an equal one.
  StatusOr<std::string> StorePacked(std::string_view bytes, const std::string& sha256,
                                    bool* deduplicated) {
    if (auto existing = ExistingObject(sha256)) {
      *deduplicated = true;
      return *existing;
    }
    auto ref = packs->Append(bytes);
    if (!ref.ok()) return ref.status();
    flusher.Add(packs->Path(ref->pack));
    *deduplicated = false;
    object_bytes += bytes.size();
    ++object_count;
    ++stats.objects;
    return FormatPackedRef(*ref);
  }

  // Moves the file at `from` (tmp copy or kept link, on the vault's filesystem; "" when the
  // object is known to exist) to its object.
  StatusOr<std::string> StoreObject(const std::string& from, const std::string& sha256,
                                    uint64_t size, bool* deduplicated) {
    const std::string rel_dir = "objects/" + sha256.substr(0, 2);
    const std::string rel = ObjectPath(sha256);
    const auto make_folder = [&]() -> Status {
      if (::mkdir(Path(rel_dir).c_str(), 0700) != 0 && errno != EEXIST) {
        return Status::FromErrno("vault: mkdir " + Path(rel_dir), errno);
      }
      object_folders.insert(rel_dir);
      return Status::Ok();
    };
    if (size > 0 && size <= limits::kVaultPackMaxObjectBytes) {
      // An equal small copy may be packed: one object per content (the empty object never is:
      // no query for every file a tar creates).
      if (auto existing = ExistingObject(sha256); existing && ParsePackedRef(*existing)) {
        if (!from.empty()) ::unlink(from.c_str());
        *deduplicated = true;
        return *existing;
      }
    }
    if (!object_folders.contains(rel_dir)) {
      if (Status made = make_folder(); !made.ok()) return made;
    }
    struct stat st {};
    if (::stat(Path(rel).c_str(), &st) == 0) {
      if (!from.empty()) ::unlink(from.c_str());
      *deduplicated = true;
      return rel;
    }
    if (from.empty()) return Status::NotFound("vault: object " + rel + " is gone");
    ::chmod(from.c_str(), 0400);
    int renamed = ::rename(from.c_str(), Path(rel).c_str());
    if (renamed != 0 && errno == ENOENT && ::access(from.c_str(), F_OK) == 0) {
      // The folder was removed behind our back (by hand): made again.
      object_folders.erase(rel_dir);
      if (make_folder().ok()) renamed = ::rename(from.c_str(), Path(rel).c_str());
    }
    if (renamed != 0) {
      Status failed = Status::FromErrno("vault: rename into " + Path(rel), errno);
      ::unlink(from.c_str());
      return failed;
    }
    flusher.Add(Path(rel));
    *deduplicated = false;
    object_bytes += size;
    ++object_count;
    ++stats.objects;
    return rel;
  }

  // Turns the kept link `name` into a version (the inode lost its last name elsewhere).
  struct LinkRow {
    uint64_t device = 0, inode = 0;
    std::string name, path;
  };
  struct LinkHash {
    bool ok = false;
    struct stat st {};
    std::string sha;
    uint64_t bytes = 0;
  };
  // Reads a kept link's content; touches no shared state, so it runs without the lock (a deleted
  // file of gigabytes takes seconds to hash, and the permission reader's KeepLink needs the lock).
  LinkHash HashLink(const std::string& name) const {
    LinkHash h;
    int fd = ::open(Path("links/" + name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return h;
    h.ok = ::fstat(fd, &h.st) == 0 && HashFd(fd, -1, &h.sha, &h.bytes).ok();
    ::close(fd);
    return h;
  }

  // The kept link of a file whose last name just went (delete, rename over) becomes a version.
  // Called with `lock` held; releases it while hashing. The link row stays until the version is
  // recorded, so a crash in between loses nothing; nobody else converts it meanwhile (the inode
  // has no name left to be opened, deleted or renamed by).
  int64_t KeepLastName(std::unique_lock<std::mutex>& lock, const LinkRow& link,
                       const std::string& path, VersionKind kind, const ActorRef& actor) {
    const std::string name = link.name;
    const uint64_t device = link.device, inode = link.inode;
    lock.unlock();
    const LinkHash hashed = HashLink(name);
    lock.lock();
    const int64_t id = LinkToVersion(name, path, kind, actor, hashed);
    DropLinkRow(device, inode);
    if (stats.links > 0) --stats.links;
    return id;
  }

  int64_t LinkToVersion(const std::string& name, const std::string& path, VersionKind kind,
                        const ActorRef& actor, const LinkHash& hashed) {
    const std::string link = Path("links/" + name);
    if (!hashed.ok) {
      ++stats.errors;
      return 0;
    }
    const struct stat& st = hashed.st;
    const std::string& sha = hashed.sha;
    const uint64_t bytes = hashed.bytes;
    // Room is made best effort: the data exists already (it is the link), so it is kept anyway.
    (void)MakeRoom(0);
    bool dedup = false;
    auto object = StoreObject(link, sha, bytes, &dedup);
    if (!object.ok()) {
      ++stats.errors;
      return 0;
    }
    if (dedup) ++stats.deduplicated;
    Version v;
    v.path = path;
    v.device = st.st_dev;
    v.inode = st.st_ino;
    v.size = bytes;
    v.mode = st.st_mode & 07777;
    v.uid = st.st_uid;
    v.gid = st.st_gid;
    v.mtime_ns = StatNs(st.st_mtim);
    v.taken_ns = Now();
    v.kind = kind;
    v.sha256 = sha;
    v.object = *object;
    v.actor = actor;
    ctime_ns_for_insert = StatNs(st.st_ctim);
    return AddVersion(v);
  }

  void DropLinkRow(uint64_t device, uint64_t inode) {
    Stmt q(db, &statements, "DELETE FROM links WHERE device = ?1 AND inode = ?2");
    q.Bind(1, static_cast<int64_t>(device)).Bind(2, static_cast<int64_t>(inode));
    (void)StepDone(q);
    linked.erase({device, inode});
  }

  // The kept link of a path: (device, inode, name), or nothing.
  std::optional<LinkRow> FindLink(uint64_t device, uint64_t inode, const std::string& path) {
    std::optional<LinkRow> row;
    if (inode != 0) {
      Stmt q(db, &statements,
             "SELECT device, inode, name, path FROM links WHERE device = ?1 AND inode = ?2");
      q.Bind(1, static_cast<int64_t>(device)).Bind(2, static_cast<int64_t>(inode));
      if (q.Step() == SQLITE_ROW) {
        row = LinkRow{static_cast<uint64_t>(q.Int(0)), static_cast<uint64_t>(q.Int(1)), q.Text(2),
                      q.Text(3)};
      }
    }
    if (!row && !path.empty()) {
      Stmt q(db, &statements,
             "SELECT device, inode, name, path FROM links WHERE path = ?1 LIMIT 1");
      q.Bind(1, path);
      if (q.Step() == SQLITE_ROW) {
        row = LinkRow{static_cast<uint64_t>(q.Int(0)), static_cast<uint64_t>(q.Int(1)), q.Text(2),
                      q.Text(3)};
      }
    }
    return row;
  }

  // Links of the vault's own: st_nlink == 1 means every other name is gone.
  bool OnlyOurName(const std::string& name) {
    struct stat st {};
    return ::fstatat(links_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_nlink == 1;
  }
};

// SQLite's busy handler for every catalog connection: tries again every kCatalogBusyPollUs until
// kVaultDbBusyTimeoutMs (SQLite's default sleeps grow to 100 ms and miss the short gaps between
// the daemon's batches); a process other than the vault's owner says it waits (catalog.want).
int Vault::Impl::CatalogBusy(void* arg, int attempts) {
  auto* m = static_cast<Impl*>(arg);
  const uint64_t now = MonotonicNs();
  if (attempts == 0) {
    m->busy_since_ns = now;
    if (!m->owner) m->AnnounceWaiting();
  }
  if (now - m->busy_since_ns >= static_cast<uint64_t>(limits::kVaultDbBusyTimeoutMs) * 1000000) {
    m->StopWaiting();
    return 0;
  }
  ::usleep(limits::kCatalogBusyPollUs);
  return 1;
}

int Vault::Impl::CatalogWriteEnds(void* arg) {
  static_cast<Impl*>(arg)->StopWaiting();
  return 0;  // the commit goes on
}

void Vault::Impl::CatalogRolledBack(void* arg) { static_cast<Impl*>(arg)->StopWaiting(); }

Status Vault::Impl::OpenCatalog() {
  const std::string path = Path("catalog.db");
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return Status::IoError("vault catalog " + path + ": " +
                           (db ? sqlite3_errmsg(db) : "cannot open"));
  }
  want_fd = ::open(Path("catalog.want").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  sqlite3_busy_handler(db, &CatalogBusy, this);
  sqlite3_commit_hook(db, &CatalogWriteEnds, this);
  sqlite3_rollback_hook(db, &CatalogRolledBack, this);
  int64_t user_version = 0;
  {
    Stmt version(db, &statements, "PRAGMA user_version");
    if (!version.ok()) {
      return Status::Corruption("vault catalog " + path + " is not a steen catalog (" +
                                version.error() + ")");
    }
    if (version.Step() != SQLITE_ROW) {
      return Status::Corruption("vault catalog " + path + " is not a steen catalog (" +
                                sqlite3_errmsg(db) + ")");
    }
    user_version = version.Int(0);
  }
  if (user_version > kSchemaVersion) {
    return Status::Unsupported(fmt::format(
        "vault catalog {} has schema version {}, newer than this steen ({}): upgrade steen", path,
        user_version, kSchemaVersion));
  }
  if (Status s = Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !s.ok()) {
    return Status::Corruption("vault catalog " + path + ": " + s.message());
  }
  if (user_version == 0) {
    Status s = Exec(
        "BEGIN;"
        "CREATE TABLE IF NOT EXISTS versions (id INTEGER PRIMARY KEY, path TEXT NOT NULL, "
        "device INTEGER, inode INTEGER, size INTEGER, mode INTEGER, uid INTEGER, gid INTEGER, "
        "mtime_ns INTEGER, ctime_ns INTEGER, taken_ns INTEGER, kind TEXT, sha256 TEXT, object "
        "TEXT, pid INTEGER, start_time INTEGER, exe TEXT, actor_uid INTEGER, smb_client TEXT, "
        "smb_user TEXT, incident TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX IF NOT EXISTS versions_path ON versions(path);"
        "CREATE INDEX IF NOT EXISTS versions_inode ON versions(device, inode);"
        "CREATE INDEX IF NOT EXISTS versions_taken ON versions(incident, taken_ns);"
        "CREATE INDEX IF NOT EXISTS versions_sha ON versions(sha256);"
        "CREATE TABLE IF NOT EXISTS changes (id INTEGER PRIMARY KEY, time_ns INTEGER, op TEXT, "
        "path TEXT, new_path TEXT, device INTEGER, inode INTEGER, pid INTEGER, start_time "
        "INTEGER, exe TEXT, actor_uid INTEGER, smb_client TEXT, smb_user TEXT, version_id "
        "INTEGER);"
        "CREATE INDEX IF NOT EXISTS changes_pid ON changes(pid);"
        "CREATE INDEX IF NOT EXISTS changes_client ON changes(smb_client);"
        "CREATE INDEX IF NOT EXISTS changes_path ON changes(path);"
        "CREATE INDEX IF NOT EXISTS changes_new_path ON changes(new_path);"
        "CREATE TABLE IF NOT EXISTS links (device INTEGER, inode INTEGER, path TEXT, name TEXT, "
        "linked_ns INTEGER, PRIMARY KEY(device, inode));"
        "CREATE INDEX IF NOT EXISTS links_path ON links(path);"
        "CREATE TABLE IF NOT EXISTS pins (incident TEXT, pid INTEGER, start_time INTEGER, "
        "smb_client TEXT, since_ns INTEGER);"
        "CREATE TABLE IF NOT EXISTS journal (incident TEXT, step TEXT, state TEXT, detail TEXT, "
        "time_ns INTEGER, PRIMARY KEY(incident, step));"
        "PRAGMA user_version = 1;"
        "COMMIT;");
    if (!s.ok()) {
      (void)Exec("ROLLBACK");
      return Status::Corruption("vault catalog " + path + ": " + s.message());
    }
  }
  return Status::Ok();
}

void Vault::Impl::LoadCounters() {
  Stmt objects(db, &statements,
               "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (SELECT sha256, MAX(size) AS size "
               "FROM versions GROUP BY sha256)");
  if (objects.Step() == SQLITE_ROW) {
    object_count = static_cast<uint64_t>(objects.Int(0));
    object_bytes = static_cast<uint64_t>(objects.Int(1));
  }
  Stmt versions(db, &statements, "SELECT COUNT(*) FROM versions");
  if (versions.Step() == SQLITE_ROW) version_count = static_cast<uint64_t>(versions.Int(0));
  packs->SetLive(LivePacks());
  Stmt links(db, &statements, "SELECT COUNT(*) FROM links");
  if (links.Step() == SQLITE_ROW) stats.links = static_cast<uint64_t>(links.Int(0));
  stats.versions = version_count;
  stats.objects = object_count;
}

Status Vault::Impl::Recover() {
  // 1. Copies in progress when the previous owner died, and its spare files.
  for (const char* folder : {"tmp", "spare"}) {
    if (DIR* d = ::opendir(Path(folder).c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        ::unlinkat(dirfd(d), e->d_name, 0);
      }
      ::closedir(d);
    }
  }
  // 2. Rows whose object is gone (removed by hand, or a crash between unlink and delete).
  std::vector<int64_t> orphans;
  {
    Stmt q(db, &statements, "SELECT id, object FROM versions");
    while (q.Step() == SQLITE_ROW) {
      if (!ObjectIntact(q.Text(1))) orphans.push_back(q.Int(0));
    }
  }
  for (int64_t id : orphans) {
    Stmt del(db, &statements, "DELETE FROM versions WHERE id = ?1");
    del.Bind(1, id);
    (void)StepDone(del);
  }
  // 3. Objects no row names (a crash between the rename into objects/ and the insert).
  if (DIR* top = ::opendir(Path("objects").c_str())) {
    while (dirent* sub = ::readdir(top)) {
      if (sub->d_name[0] == '.') continue;
      const std::string sub_dir = Path(std::string("objects/") + sub->d_name);
      DIR* d = ::opendir(sub_dir.c_str());
      if (d == nullptr) continue;
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const auto named = ExistingObject(e->d_name);
        if (!named || *named != std::string("objects/") + sub->d_name + "/" + e->d_name) {
          ::unlinkat(dirfd(d), e->d_name, 0);
        }
      }
      ::closedir(d);
    }
    ::closedir(top);
  }
  // ... and packs no row names (ranges nobody names inside a named pack stay until it goes).
  {
    std::set<std::string> referenced;
    for (const auto& [pack, objects] : LivePacks()) referenced.insert(pack);
    packs->RemoveUnreferenced(referenced);
  }
  // 4. Link rows whose link is gone.
  std::vector<std::pair<int64_t, int64_t>> stale;
  {
    Stmt q(db, &statements, "SELECT device, inode, name FROM links");
    while (q.Step() == SQLITE_ROW) {
      struct stat st {};
      if (::fstatat(links_fd, q.Text(2).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        stale.emplace_back(q.Int(0), q.Int(1));
      }
    }
  }
  for (auto [dev, ino] : stale) DropLinkRow(static_cast<uint64_t>(dev), static_cast<uint64_t>(ino));
  // 5. Copies stored before their hash when the previous owner died: hashed now.
  {
    Stmt q(db, &statements, "SELECT DISTINCT sha256 FROM versions WHERE sha256 LIKE ?1");
    q.Bind(1, std::string(kPlaceholderPrefix) + "%");
    while (q.Step() == SQLITE_ROW) pending.push_back(q.Text(0));
  }
  return Status::Ok();
}

Status Vault::Impl::ReplayIntents() {
  const std::string path = Path("intents.log");
  auto log = IntentLog::Read(path);
  if (!log.ok()) return log.status();
  stats.errors += log->bad_records;  // a torn tail (power loss): what follows it is not read
  if (!log->intents.empty()) {
    if (Status begun = Exec("BEGIN"); !begun.ok()) return begun;
    for (CopyIntent& intent : log->intents) {
      Version& v = intent.version;
      Stmt q(db, &statements,
             "SELECT 1 FROM versions WHERE device = ?1 AND inode = ?2 AND taken_ns = ?3 AND "
             "sha256 = ?4 LIMIT 1");
      q.Bind(1, static_cast<int64_t>(v.device))
          .Bind(2, static_cast<int64_t>(v.inode))
          .Bind(3, v.taken_ns)
          .Bind(4, v.sha256);
      if (q.Step() == SQLITE_ROW) continue;  // committed before the log was emptied
      if (!ObjectHolds(v.object, v.sha256)) {
        ++stats.errors;  // evicted (and its range punched) before the crash: nothing to keep
        continue;
      }
      v.id = 0;
      ctime_ns_for_insert = intent.ctime_ns;
      const int64_t id = AddVersion(v);
      if (id != 0) {
        AddChange(ChangeOp::kWrite, v.path, "", v.device, v.inode, v.actor, intent.change_time_ns,
                  id);
        ++stats.replayed;
      }
    }
    if (Status committed = Exec("COMMIT"); !committed.ok()) return committed;
  }
  auto opened = IntentLog::Open(path);
  if (!opened.ok()) return opened.status();
  intents = std::move(*opened);
  return intents->Clear();
}

void Vault::Impl::FinishCopy(const std::string& placeholder) {
  const std::string from = Path(ObjectPath(placeholder));
  std::string sha;
  uint64_t bytes = 0;
  Status hashed = Status::Ok();
  {
    const int fd = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      hashed = Status::FromErrno("vault: open " + from, errno);
    } else {
      hashed = HashFd(fd, -1, &sha, &bytes);
      ::close(fd);
    }
  }
  std::lock_guard<std::mutex> lock(mu);
  if (!ObjectReferenced(placeholder)) {  // evicted while it was hashed
    ::unlink(from.c_str());
    return;
  }
  if (!hashed.ok()) {  // left pending: still restorable; hashed again at the next Open
    ++stats.errors;
    return;
  }
  bool dedup = false;
  auto object = StoreObject(from, sha, bytes, &dedup);
  if (!object.ok()) {
    ++stats.errors;
    return;
  }
  // The pending object was counted when it was stored; StoreObject counted it again unless an
  // equal object was there.
  object_bytes -= std::min(object_bytes, bytes);
  if (object_count > 0) --object_count;
  if (dedup) ++stats.deduplicated;
  Stmt update(db, &statements, "UPDATE versions SET sha256 = ?1, object = ?2 WHERE sha256 = ?3");
  update.Bind(1, sha).Bind(2, *object).Bind(3, placeholder);
  if (update.Step() != SQLITE_DONE) ++stats.errors;
}

void Vault::FinishPending() {
  Impl& m = *impl_;
  std::vector<std::string> work;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    work.swap(m.pending);
  }
  for (const std::string& placeholder : work) m.FinishCopy(placeholder);
}

StatusOr<std::unique_ptr<Vault>> Vault::Open(VaultOptions options) {
  if (options.dir.empty() || options.dir[0] != '/') {
    return Status::InvalidArgument("vault folder must be an absolute path, got '" + options.dir +
                                   "'");
  }
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  if (options.max_bytes == 0) options.max_bytes = limits::kDefaultVaultMaxBytes;
  if (options.max_files == 0) options.max_files = limits::kDefaultVaultMaxFiles;
  if (options.retention_ns == 0) {
    options.retention_ns = limits::kDefaultVaultRetentionSeconds * 1'000'000'000;
  }
  if (options.max_file_bytes == 0) options.max_file_bytes = limits::kDefaultVaultMaxFileBytes;
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->packs = std::make_unique<PackStore>(options.dir);
  for (const char* sub : {"", "/objects", "/links", "/tmp", "/spare", "/packs"}) {
    const std::string path = options.dir + sub;
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FromErrno("vault: cannot create " + path, errno);
    }
  }
  impl->lock_fd = ::open(impl->Path("lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (impl->lock_fd < 0) return Status::FromErrno("vault: " + impl->Path("lock"), errno);
  impl->owner = ::flock(impl->lock_fd, LOCK_EX | LOCK_NB) == 0;
  impl->links_fd = ::open(impl->Path("links").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (impl->links_fd < 0) return Status::FromErrno("vault: " + impl->Path("links"), errno);
  if (Status s = impl->OpenCatalog(); !s.ok()) return s;
  if (impl->owner) {
    if (Status s = impl->ReplayIntents(); !s.ok()) return s;
    if (Status s = impl->Recover(); !s.ok()) return s;
  }
  impl->LoadCounters();
  std::unique_ptr<Vault> vault(new Vault(std::move(impl)));
  vault->FinishPending();  // copies a crash left unhashed (listed by the owner's Recover)
  return vault;
}

Vault::Vault(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Vault::~Vault() {
  FinishPending();
  (void)CommitBatch();  // an open batch's rows (closing the database would roll them back)
}

const std::string& Vault::dir() const { return impl_->options.dir; }

VaultStats Vault::Stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  VaultStats s = impl_->stats;
  s.versions = impl_->version_count;
  s.objects = impl_->object_count;
  s.object_bytes = impl_->object_bytes;
  return s;
}

StatusOr<PreserveResult> Vault::PreserveBeforeWrite(int fd, const FileIdentity& file,
                                                    const ActorRef& actor,
                                                    const std::function<bool()>& still_valid,
                                                    HashWhen hash_when) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno("vault: fstat " + file.path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(file.path + " is not a regular file");
  return Preserve(fd, st, file, actor, still_valid, hash_when);
}

StatusOr<PreserveResult> Vault::NoteEmptyBeforeWrite(const FileIdentity& file,
                                                     const ActorRef& actor,
                                                     const struct stat& at_open) {
  if (!S_ISREG(at_open.st_mode) || at_open.st_size != 0) {
    return Status::InvalidArgument(file.path + " was not an empty regular file");
  }
  return Preserve(-1, at_open, file, actor, {}, HashWhen::kBeforeReturn);
}

StatusOr<PreserveResult> Vault::Preserve(int fd, const struct stat& st, const FileIdentity& file,
                                         const ActorRef& actor,
                                         const std::function<bool()>& still_valid,
                                         HashWhen hash_when) {
  Impl& m = *impl_;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  const int64_t now = m.Now();
  {
    std::lock_guard<std::mutex> lock(m.mu);
    // Unchanged since the latest copy of this inode: that copy is the content before this write.
    Stmt q(m.db, &m.statements,
           "SELECT id, size, mtime_ns, ctime_ns, taken_ns FROM versions WHERE device = ?1 AND "
           "inode = ?2 AND kind = 'before_write' ORDER BY id DESC LIMIT 1");
    q.Bind(1, static_cast<int64_t>(st.st_dev)).Bind(2, static_cast<int64_t>(st.st_ino));
    if (q.Step() == SQLITE_ROW && static_cast<uint64_t>(q.Int(1)) == size &&
        q.Int(2) == StatNs(st.st_mtim) && q.Int(3) == StatNs(st.st_ctim) &&
        q.Int(4) > StatNs(st.st_mtim)) {
      const int64_t id = q.Int(0);
      m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, id);
      ++m.stats.unchanged;
      return PreserveResult{PreserveOutcome::kUnchanged, id};
    }
    if (size > m.options.max_file_bytes) {
      m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, 0);
      ++m.stats.refused_quota;
      return Status::ResourceExhausted(
          fmt::format("{} is {} bytes, more than vault.max_file_bytes ({}): not copied", file.path,
                      size, m.options.max_file_bytes));
    }
    if (std::string full = m.MakeRoom(size); !full.empty()) {
      m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, 0);
      return Status::ResourceExhausted(full + ": " + file.path + " not copied");
    }
  }
  // An empty file (every file a tar or a copy creates, when it is opened) has the empty object
  // as its copy: nothing is read, and once that object exists, nothing is written.
  std::string tmp;
  bool reflinked = false;
  std::string sha;
  uint64_t copied = 0;
  Status copy = Status::Ok();
  // A small copy (the owner's) is read into memory, hashed at once and appended to a pack: no
  // file of its own (an inode, two renames), nothing to hash afterwards. A file that grew past
  // the limit meanwhile is copied the other way.
  std::string small;
  bool packed = false;
  if (size > 0 && m.owner && size <= limits::kVaultPackMaxObjectBytes) {
    copy = ReadSmall(fd, size, limits::kVaultPackMaxObjectBytes, &small, &packed);
    if (copy.ok() && packed) {
      Sha256 hash;
      hash.Update(small.data(), small.size());
      sha = hash.HexDigest();
      copied = small.size();
    }
  }
  if (!copy.ok() || packed) {
    // read (or failed) above
  } else if (size == 0) {
    sha = kEmptySha256;
    if (!m.HasObject(kEmptySha256)) {
      tmp = m.Path(fmt::format("tmp/{}-{}", ::getpid(), m.tmp_counter++));
      const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (out < 0) {
        copy = Status::FromErrno("vault: create " + tmp, errno);
      } else {
        ::close(out);
      }
    }
  } else {
    // The copy itself runs without the lock: the permission reader's KeepLink must not wait.
    int out = -1;
    std::optional<SpareFile> spare;
    if (m.owner) spare = m.spares.Take(m.Path(fmt::format("spare/{}-", ::getpid())));
    if (spare) {
      tmp = std::move(spare->path);
      out = spare->fd;
    } else {
      tmp = m.Path(fmt::format("tmp/{}-{}", ::getpid(), m.tmp_counter++));
      out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (out < 0) {
      std::lock_guard<std::mutex> lock(m.mu);
      ++m.stats.errors;
      m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, 0);
      return Status::FromErrno("vault: create " + tmp, errno);
    }
    reflinked = ::ioctl(out, FICLONE, fd) == 0;
    // A reflink shares the file's blocks but not its cached pages: hashed later, it is read from
    // the disk. A small one is hashed now, from the pages the writer's file has in memory
    // (append-logs on XFS: 10% slower hashed later).
    const bool hash_now = hash_when == HashWhen::kBeforeReturn ||
                          (reflinked && size < limits::kVaultHashLaterMinBytes);
    if (hash_now) {
      copy = HashFd(fd, reflinked ? -1 : out, &sha, &copied);
    } else if (reflinked) {
      struct stat cloned {};
      copy = ::fstat(out, &cloned) == 0 ? Status::Ok() : Status::FromErrno("fstat", errno);
      copied = static_cast<uint64_t>(cloned.st_size);
    } else {
      copy = CopyFd(fd, out, &copied);
    }
    if (copy.ok() && !hash_now) sha = m.NewPlaceholder();
    ::close(out);
  }
  std::lock_guard<std::mutex> lock(m.mu);
  if (!copy.ok()) {
    if (!tmp.empty()) ::unlink(tmp.c_str());
    ++m.stats.errors;
    m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, 0);
    return Status::IoError("vault: copying " + file.path + ": " + copy.message());
  }
  if (still_valid && !still_valid()) {
    if (!tmp.empty()) ::unlink(tmp.c_str());
    ++m.stats.aborted;
    m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, 0);
    return Status::IoError("vault: copy of " + file.path +
                           " abandoned: the permission deadline passed, the write may have begun");
  }
  bool dedup = false;
  auto object =
      packed ? m.StorePacked(small, sha, &dedup) : m.StoreObject(tmp, sha, copied, &dedup);
  if (!object.ok()) {
    ++m.stats.errors;
    m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, 0);
    return object.status();
  }
  ++m.stats.copies;
  if (reflinked) ++m.stats.reflinks;
  if (dedup) ++m.stats.deduplicated;
  if (IsPlaceholder(sha)) m.pending.push_back(sha);
  Version v;
  v.path = file.path;
  v.device = st.st_dev;
  v.inode = st.st_ino;
  v.size = copied;
  v.mode = st.st_mode & 07777;
  v.uid = st.st_uid;
  v.gid = st.st_gid;
  v.mtime_ns = StatNs(st.st_mtim);
  v.taken_ns = now;
  v.kind = VersionKind::kBeforeWrite;
  v.sha256 = sha;
  v.object = *object;
  v.actor = actor;
  m.ctime_ns_for_insert = StatNs(st.st_ctim);
  const int64_t id = m.AddVersion(v);
  if (id == 0) return Status::IoError("vault: recording the copy of " + file.path + " failed");
  m.AddChange(ChangeOp::kWrite, file.path, "", st.st_dev, st.st_ino, actor, now, id);
  PreserveResult result{copied == 0 ? PreserveOutcome::kEmpty
                        : dedup     ? PreserveOutcome::kDeduplicated
                                    : PreserveOutcome::kCopied,
                        id, ParsePackedRef(*object) ? std::string() : m.Path(*object)};
  result.commit_needed = !m.RowsSafe(packed, v, StatNs(st.st_ctim), now);
  return result;
}

void Vault::BeginBatch() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  if (!m.InBatch() && m.Exec("BEGIN").ok()) {
    m.batch_begun_ns.store(MonotonicNs());
  }
}

Status Vault::CommitBatch() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  if (!m.InBatch()) {
    m.batch_begun_ns.store(0);
    return Status::Ok();
  }
  // A failed COMMIT (the busy timeout passed while `steen rollback` wrote) leaves the transaction
  // open: the rows are committed by the next call.
  Status committed = m.Exec("COMMIT");
  if (committed.ok()) {
    m.batch_begun_ns.store(0);
    // Everything the log describes is in the catalog now, and so are the deletes of the rows
    // that named these ranges.
    if (m.intents && !m.intents->empty()) {
      if (Status cleared = m.intents->Clear(); !cleared.ok()) ++m.stats.errors;
    }
    for (const PackedRef& ref : m.released_after_commit) m.packs->Release(ref);
    m.released_after_commit.clear();
  }
  return committed;
}

bool Vault::OtherWriterWaits() const {
  return impl_->batch_begun_ns.load() != 0 && impl_->SomeoneWaits();
}

void Vault::LetWaitingWriterIn(std::chrono::milliseconds at_most) {
  const uint64_t until = MonotonicNs() + static_cast<uint64_t>(at_most.count()) * 1000000;
  while (impl_->SomeoneWaits() && MonotonicNs() < until) ::usleep(limits::kCatalogBusyPollUs);
}

std::optional<std::chrono::nanoseconds> Vault::OpenBatchAge() const {
  const uint64_t begun = impl_->batch_begun_ns.load();
  if (begun == 0) return std::nullopt;
  const uint64_t now = MonotonicNs();
  return std::chrono::nanoseconds(now > begun ? now - begun : 0);
}

bool Vault::HasCopyOf(uint64_t device, uint64_t inode) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt q(m.db, &m.statements,
         "SELECT 1 FROM versions WHERE device = ?1 AND inode = ?2 AND kind = 'before_write' "
         "LIMIT 1");
  q.Bind(1, static_cast<int64_t>(device)).Bind(2, static_cast<int64_t>(inode));
  return q.Step() == SQLITE_ROW;
}

Status Vault::KeepLink(int fd, const FileIdentity& file) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  const auto key = std::make_pair(file.device, file.inode);
  if (m.linked.count(key)) {
    Stmt q(m.db, &m.statements,
           "UPDATE links SET path = ?3 WHERE device = ?1 AND inode = ?2 AND path <> ?3");
    q.Bind(1, static_cast<int64_t>(file.device))
        .Bind(2, static_cast<int64_t>(file.inode))
        .Bind(3, file.path);
    return m.StepDone(q);
  }
  const std::string name = fmt::format("{}-{}", file.device, file.inode);
  const std::string source = "/proc/self/fd/" + std::to_string(fd);
  int rc = ::linkat(AT_FDCWD, source.c_str(), m.links_fd, name.c_str(), AT_SYMLINK_FOLLOW);
  if (rc != 0 && errno == EEXIST) {
    // Ours already: the same inode (a restart), or a reused inode number (replace it).
    struct stat mine {
    }, theirs{};
    if (::fstatat(m.links_fd, name.c_str(), &mine, AT_SYMLINK_NOFOLLOW) == 0 &&
        ::fstat(fd, &theirs) == 0 && mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev) {
      rc = 0;
    } else {
      ::unlinkat(m.links_fd, name.c_str(), 0);
      rc = ::linkat(AT_FDCWD, source.c_str(), m.links_fd, name.c_str(), AT_SYMLINK_FOLLOW);
    }
  }
  if (rc != 0) {
    if (errno == EXDEV) {
      return Status::Unsupported("vault " + m.options.dir + " is on another filesystem than " +
                                 file.path);
    }
    if (errno == ENOENT) return Status::NotFound(file.path + " has no name any more");
    ++m.stats.errors;
    return Status::FromErrno("vault: link " + file.path, errno);
  }
  Stmt q(m.db, &m.statements,
         "INSERT OR REPLACE INTO links (device, inode, path, name, linked_ns) VALUES "
         "(?1, ?2, ?3, ?4, ?5)");
  q.Bind(1, static_cast<int64_t>(file.device))
      .Bind(2, static_cast<int64_t>(file.inode))
      .Bind(3, file.path)
      .Bind(4, name)
      .Bind(5, m.Now());
  if (Status s = m.StepDone(q); !s.ok()) return s;
  if (m.linked.size() >= limits::kMaxVaultLinkCache) m.linked.clear();
  m.linked.insert(key);
  ++m.stats.links;
  return Status::Ok();
}

Status Vault::NoteDelete(const FileIdentity& file, const ActorRef& actor, int64_t time_ns,
                         bool keep_last_name, std::string* path_recorded) {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  int64_t version_id = 0;
  uint64_t device = file.device, inode = file.inode;
  // A delete read after its folder went too (`rm -rf`) names no path: the link knows where the
  // file was when it was opened, which is where a rollback must put it back.
  std::string path = file.path;
  if (auto link = m.FindLink(file.device, file.inode, file.path)) {
    device = link->device;
    inode = link->inode;
    if (path.empty()) path = link->path;
    if (m.OnlyOurName(link->name)) {
      if (keep_last_name) {
        version_id = m.KeepLastName(lock, *link, path, VersionKind::kDeleted, actor);
      } else {
        ::unlinkat(m.links_fd, link->name.c_str(), 0);
        m.DropLinkRow(link->device, link->inode);
        if (m.stats.links > 0) --m.stats.links;
      }
    }
  }
  m.AddChange(ChangeOp::kDelete, path, "", device, inode, actor, time_ns, version_id);
  if (path_recorded != nullptr) *path_recorded = path;
  return Status::Ok();
}

Status Vault::NoteRename(const std::string& old_path_seen, const std::string& new_path_seen,
                         const ActorRef& actor, int64_t time_ns, int64_t* replaced_version) {
  Impl& m = *impl_;
  // The kernel names only the watched side of a rename; the other side is found through the
  // file's handle, and any name of the inode may come back, the vault's own link among them.
  // That side is outside the trees, somewhere unknown: recorded as "" (never our link's path,
  // which a rollback would otherwise move into the share).
  const auto outside_or = [&](const std::string& path) {
    return sys::PathIsUnder(path, m.options.dir) ? std::string() : path;
  };
  const std::string old_path = outside_or(old_path_seen);
  const std::string new_path = outside_or(new_path_seen);
  std::unique_lock<std::mutex> lock(m.mu);
  int64_t version_id = 0;
  // The file that was at new_path: kept when the rename took its last name.
  if (auto replaced = m.FindLink(0, 0, new_path)) {
    if (m.OnlyOurName(replaced->name)) {
      version_id = m.KeepLastName(lock, *replaced, new_path, VersionKind::kRenamedOver, actor);
    }
  }
  // Kept links follow their files (and everything under a renamed folder). A side that is
  // unknown moves nothing: an empty prefix would match every path.
  // The paths under a folder are the range [old/, old0) ('0' follows '/' in byte order): a range
  // the path index answers, where a substr() test read every link at every rename.
  if (!old_path.empty() && !new_path.empty()) {
    Stmt q(m.db, &m.statements,
           "UPDATE links SET path = ?2 || substr(path, length(?1) + 1) WHERE path = ?1 OR "
           "(path >= ?1 || '/' AND path < ?1 || '0')");
    q.Bind(1, old_path).Bind(2, new_path);
    (void)m.StepDone(q);
  }
  struct stat st {};
  uint64_t device = 0, inode = 0;
  if (::lstat(new_path_seen.c_str(), &st) == 0) {
    device = st.st_dev;
    inode = st.st_ino;
  }
  m.AddChange(ChangeOp::kRename, old_path, new_path, device, inode, actor, time_ns, version_id);
  if (replaced_version != nullptr) *replaced_version = version_id;
  return Status::Ok();
}

Status Vault::NoteCreate(const FileIdentity& file, const ActorRef& actor, int64_t time_ns) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  m.AddChange(ChangeOp::kCreate, file.path, "", file.device, file.inode, actor, time_ns, 0);
  return Status::Ok();
}

Status Vault::Pin(const std::string& incident_id, const std::vector<ActorRef>& actors,
                  int64_t since_ns) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  for (const ActorRef& a : actors) {
    Stmt exists(m.db, &m.statements,
                "SELECT 1 FROM pins WHERE incident = ?1 AND pid = ?2 AND start_time = ?3 "
                "AND smb_client = ?4");
    exists.Bind(1, incident_id)
        .Bind(2, a.pid)
        .Bind(3, static_cast<int64_t>(a.start_time))
        .Bind(4, a.smb_client_address);
    if (exists.Step() != SQLITE_ROW) {
      Stmt ins(m.db, &m.statements,
               "INSERT INTO pins (incident, pid, start_time, smb_client, since_ns) VALUES "
               "(?1, ?2, ?3, ?4, ?5)");
      ins.Bind(1, incident_id)
          .Bind(2, a.pid)
          .Bind(3, static_cast<int64_t>(a.start_time))
          .Bind(4, a.smb_client_address)
          .Bind(5, since_ns);
      if (Status s = m.StepDone(ins); !s.ok()) return s;
    }
    Stmt up(m.db, &m.statements,
            ("UPDATE versions SET incident = ?4 WHERE incident = '' AND taken_ns >= ?5 AND " +
             ActorMatch(1))
                .c_str());
    up.Bind(1, a.pid)
        .Bind(2, static_cast<int64_t>(a.start_time))
        .Bind(3, a.smb_client_address)
        .Bind(4, incident_id)
        .Bind(5, since_ns);
    if (Status s = m.StepDone(up); !s.ok()) return s;
  }
  return Status::Ok();
}

Status Vault::Release(const std::string& incident_id) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt up(m.db, &m.statements, "UPDATE versions SET incident = '' WHERE incident = ?1");
  up.Bind(1, incident_id);
  if (Status s = m.StepDone(up); !s.ok()) return s;
  Stmt del(m.db, &m.statements, "DELETE FROM pins WHERE incident = ?1");
  del.Bind(1, incident_id);
  return m.StepDone(del);
}

StatusOr<std::vector<Version>> Vault::Versions(const std::string& path_or_prefix,
                                               bool prefix) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  std::string sql = std::string("SELECT ") + kVersionColumns + " FROM versions WHERE " +
                    (prefix ? "substr(path, 1, length(?1)) = ?1" : "path = ?1") +
                    " ORDER BY path, taken_ns, id LIMIT ?2";
  Stmt q(m.db, &m.statements, sql.c_str());
  if (!q.ok()) return Status::Internal("vault catalog: " + q.error());
  q.Bind(1, path_or_prefix).Bind(2, static_cast<int64_t>(limits::kMaxVaultQueryRows));
  std::vector<Version> out;
  while (q.Step() == SQLITE_ROW) out.push_back(ReadVersion(q));
  return out;
}

StatusOr<Version> Vault::GetVersion(int64_t id) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt q(m.db, &m.statements,
         (std::string("SELECT ") + kVersionColumns + " FROM versions WHERE id = ?1").c_str());
  q.Bind(1, id);
  if (q.Step() != SQLITE_ROW) {
    return Status::NotFound("no version " + std::to_string(id) + " in the vault (evicted?)");
  }
  return ReadVersion(q);
}

StatusOr<Version> Vault::VersionAt(const std::string& path, int64_t at_ns) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt q(m.db, &m.statements,
         (std::string("SELECT ") + kVersionColumns +
          " FROM versions WHERE path = ?1 AND (?2 = 0 OR taken_ns <= ?2) ORDER BY taken_ns "
          "DESC, id DESC LIMIT 1")
             .c_str());
  q.Bind(1, path).Bind(2, at_ns);
  if (q.Step() != SQLITE_ROW) {
    return Status::NotFound("the vault has no version of " + path +
                            (at_ns ? " taken at or before that time" : ""));
  }
  return ReadVersion(q);
}

StatusOr<std::vector<Change>> Vault::ChangesBy(const std::vector<ActorRef>& actors,
                                               int64_t since_ns) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  std::set<int64_t> seen;
  std::vector<Change> out;
  for (const ActorRef& a : actors) {
    Stmt q(m.db, &m.statements,
           (std::string("SELECT ") + kChangeColumns + " FROM changes WHERE time_ns >= ?4 AND " +
            ActorMatch(1) + " ORDER BY id LIMIT ?5")
               .c_str());
    q.Bind(1, a.pid)
        .Bind(2, static_cast<int64_t>(a.start_time))
        .Bind(3, a.smb_client_address)
        .Bind(4, since_ns)
        .Bind(5, static_cast<int64_t>(limits::kMaxVaultQueryRows));
    while (q.Step() == SQLITE_ROW) {
      Change c = ReadChange(q);
      if (seen.insert(c.id).second) out.push_back(std::move(c));
    }
  }
  std::sort(out.begin(), out.end(), [](const Change& a, const Change& b) { return a.id < b.id; });
  return out;
}

StatusOr<std::vector<Change>> Vault::ChangesTo(const std::string& path, int64_t after_id) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt q(m.db, &m.statements,
         (std::string("SELECT ") + kChangeColumns +
          " FROM changes WHERE id > ?1 AND (path = ?2 OR new_path = ?2) ORDER BY id LIMIT ?3")
             .c_str());
  q.Bind(1, after_id).Bind(2, path).Bind(3, static_cast<int64_t>(limits::kMaxVaultQueryRows));
  std::vector<Change> out;
  while (q.Step() == SQLITE_ROW) out.push_back(ReadChange(q));
  return out;
}

std::string Vault::ObjectPath(const Version& version) const { return impl_->Path(version.object); }

StatusOr<int> Vault::OpenObject(const Version& version) const {
  if (auto ref = ParsePackedRef(version.object)) {
    // Under the lock: an eviction in this process punches its range (readers would see zeros).
    std::lock_guard<std::mutex> lock(impl_->mu);
    return impl_->packs->Open(*ref);
  }
  std::string object = ObjectPath(version);
  int fd = ::open(object.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT && IsPlaceholder(version.sha256)) {
    // Hashed and moved to its content address since `version` was read (by the daemon).
    std::lock_guard<std::mutex> lock(impl_->mu);
    Stmt q(impl_->db, &impl_->statements, "SELECT object FROM versions WHERE id = ?1");
    q.Bind(1, version.id);
    if (q.Step() == SQLITE_ROW) {
      object = impl_->Path(q.Text(0));
      fd = ::open(object.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
  }
  if (fd < 0) return Status::FromErrno("vault object " + object, errno);
  return fd;
}

Status Vault::Materialize(const Version& version, const std::string& dest) const {
  StatusOr<int> opened = OpenObject(version);
  if (!opened.ok()) return opened.status();
  const int in = *opened;
  int out = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) {
    Status failed = Status::FromErrno("create " + dest, errno);
    ::close(in);
    return failed;
  }
  std::string written_sha;
  uint64_t bytes = 0;
  Status s = HashFd(in, out, &written_sha, &bytes);
  ::close(in);
  if (s.ok() && ::fchmod(out, version.mode & 07777) != 0)
    s = Status::FromErrno("chmod " + dest, errno);
  if (s.ok() && ::fchown(out, version.uid, version.gid) != 0 && errno != EPERM) {
    s = Status::FromErrno("chown " + dest, errno);
  }
  if (s.ok()) {
    struct timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = version.mtime_ns / 1'000'000'000;
    times[1].tv_nsec = version.mtime_ns % 1'000'000'000;
    if (::futimens(out, times) != 0) s = Status::FromErrno("set mtime of " + dest, errno);
  }
  if (s.ok() && ::fsync(out) != 0) s = Status::FromErrno("fsync " + dest, errno);
  // Verify what is on disk now, not what was sent.
  if (s.ok()) {
    int check = ::open(dest.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    std::string on_disk;
    uint64_t n = 0;
    // A copy still pending has no recorded hash: what was read from it is the reference.
    const std::string& expected = IsPlaceholder(version.sha256) ? written_sha : version.sha256;
    if (check < 0 || !HashFd(check, -1, &on_disk, &n).ok() || on_disk != expected) {
      s = Status::Corruption("restored " + dest + " does not match sha256 " + expected);
    }
    if (check >= 0) ::close(check);
  }
  ::close(out);
  if (!s.ok()) ::unlink(dest.c_str());
  return s;
}

StatusOr<uint64_t> Vault::Maintain() {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  const uint64_t before = m.stats.evicted;
  const int64_t cutoff = m.Now() - m.options.retention_ns;
  while (true) {
    auto old = m.OldestUnpinned(64, cutoff);
    if (old.empty()) break;
    m.Evict(old);
  }
  (void)m.MakeRoom(0);
  // Links older than retention whose file still has its name: nothing to keep any more.
  std::vector<std::tuple<int64_t, int64_t, std::string>> stale;
  {
    Stmt q(m.db, &m.statements, "SELECT device, inode, name FROM links WHERE linked_ns < ?1");
    q.Bind(1, cutoff);
    while (q.Step() == SQLITE_ROW) {
      struct stat st {};
      std::string name = q.Text(2);
      if (::fstatat(m.links_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_nlink > 1) {
        stale.emplace_back(q.Int(0), q.Int(1), name);
      }
    }
  }
  for (const auto& [dev, ino, name] : stale) {
    ::unlinkat(m.links_fd, name.c_str(), 0);
    m.DropLinkRow(static_cast<uint64_t>(dev), static_cast<uint64_t>(ino));
    if (m.stats.links > 0) --m.stats.links;
  }
  return m.stats.evicted - before;
}

Status Vault::JournalPut(const std::string& incident_id, const std::string& step_key,
                         const std::string& state, const std::string& detail) {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt q(m.db, &m.statements,
         "INSERT OR REPLACE INTO journal (incident, step, state, detail, time_ns) VALUES "
         "(?1, ?2, ?3, ?4, ?5)");
  q.Bind(1, incident_id).Bind(2, step_key).Bind(3, state).Bind(4, detail).Bind(5, m.Now());
  return m.StepDone(q);
}

StatusOr<std::optional<std::string>> Vault::JournalGet(const std::string& incident_id,
                                                       const std::string& step_key) const {
  Impl& m = *impl_;
  std::lock_guard<std::mutex> lock(m.mu);
  Stmt q(m.db, &m.statements, "SELECT state FROM journal WHERE incident = ?1 AND step = ?2");
  q.Bind(1, incident_id).Bind(2, step_key);
  if (q.Step() == SQLITE_ROW) return std::optional<std::string>(q.Text(0));
  return std::optional<std::string>();
}

}  // namespace steen::vault
