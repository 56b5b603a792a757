// The intent log (src/vault/intent_log.h).
#include "vault/intent_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "steen/limits.h"
#include "sys/file_opener.h"

namespace steen::vault {
namespace {

constexpr uint8_t kFormat = 1;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U8(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  bool U32(uint32_t* v) {
    uint64_t wide = 0;
    if (!Fixed(4, &wide)) return false;
    *v = static_cast<uint32_t>(wide);
    return true;
  }
  bool U64(uint64_t* v) { return Fixed(8, v); }
  bool I64(int64_t* v) {
    uint64_t u = 0;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>(u);
    return true;
  }
  bool Str(std::string* s) {
    uint32_t n = 0;
    if (!U32(&n) || n > limits::kMaxIntentFieldBytes || n > in_.size()) return false;
    s->assign(in_.substr(0, n));
    in_.remove_prefix(n);
    return true;
  }
  bool done() const { return in_.empty(); }

 private:
  bool Fixed(int bytes, uint64_t* v) {
    if (in_.size() < static_cast<std::size_t>(bytes)) return false;
    *v = 0;
    for (int i = 0; i < bytes; ++i) {
      *v |= uint64_t{static_cast<uint8_t>(in_[static_cast<std::size_t>(i)])} << (8 * i);
    }
    in_.remove_prefix(static_cast<std::size_t>(bytes));
    return true;
  }
  std::string_view in_;
};

uint32_t Crc(std::string_view bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths; payloads are bounded far below that (kMaxIntentRecordBytes).
  crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size()));
  return static_cast<uint32_t>(crc);
}

uint32_t LoadU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

}  // namespace

std::string EncodeIntent(const CopyIntent& intent) {
  const Version& v = intent.version;
  Writer w;
  w.U8(kFormat);
  w.Str(v.path);
  w.U64(v.device);
  w.U64(v.inode);
  w.U64(v.size);
  w.U32(v.mode);
  w.U32(v.uid);
  w.U32(v.gid);
  w.I64(v.mtime_ns);
  w.I64(intent.ctime_ns);
  w.I64(v.taken_ns);
  w.Str(ToString(v.kind));
  w.Str(v.sha256);
  w.Str(v.object);
  w.I64(v.actor.pid);
  w.U64(v.actor.start_time);
  w.Str(v.actor.exe);
  w.U32(v.actor.uid);
  w.Str(v.actor.smb_client_address);
  w.Str(v.actor.smb_user);
  w.I64(intent.change_time_ns);
  return w.Take();
}

std::optional<CopyIntent> DecodeIntent(std::string_view payload) {
  Reader r(payload);
  CopyIntent intent;
  Version& v = intent.version;
  uint8_t format = 0;
  std::string kind;
  int64_t pid = 0;
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t actor_uid = 0;
  const bool ok = r.U8(&format) && format == kFormat && r.Str(&v.path) && r.U64(&v.device) &&
                  r.U64(&v.inode) && r.U64(&v.size) && r.U32(&mode) && r.U32(&uid) && r.U32(&gid) &&
                  r.I64(&v.mtime_ns) && r.I64(&intent.ctime_ns) && r.I64(&v.taken_ns) &&
                  r.Str(&kind) && r.Str(&v.sha256) && r.Str(&v.object) && r.I64(&pid) &&
                  r.U64(&v.actor.start_time) && r.Str(&v.actor.exe) && r.U32(&actor_uid) &&
                  r.Str(&v.actor.smb_client_address) && r.Str(&v.actor.smb_user) &&
                  r.I64(&intent.change_time_ns) && r.done();
  if (!ok) return std::nullopt;
  const auto parsed_kind = ParseVersionKind(kind);
  if (!parsed_kind || pid < 0 || pid > INT32_MAX || v.path.empty() || v.path[0] != '/' ||
      v.object.empty()) {
    return std::nullopt;
  }
  v.kind = *parsed_kind;
  v.mode = mode;
  v.uid = uid;
  v.gid = gid;
  v.actor.pid = static_cast<pid_t>(pid);
  v.actor.uid = actor_uid;
  return intent;
}

std::string FrameRecord(std::string_view payload) {
  std::string out;
  out.reserve(8 + payload.size());
  for (uint32_t v : {static_cast<uint32_t>(payload.size()), Crc(payload)}) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  }
  out.append(payload);
  return out;
}

LogContents ParseLog(std::string_view bytes) {
  LogContents contents;
  while (bytes.size() >= 8) {
    const uint32_t length = LoadU32(bytes.data());
    const uint32_t crc = LoadU32(bytes.data() + 4);
    if (length > limits::kMaxIntentRecordBytes || bytes.size() - 8 < length) {
      ++contents.bad_records;
      break;
    }
    const std::string_view payload = bytes.substr(8, length);
    std::optional<CopyIntent> intent;
    if (Crc(payload) != crc || !(intent = DecodeIntent(payload))) {
      ++contents.bad_records;
      break;
    }
    contents.intents.push_back(std::move(*intent));
    bytes.remove_prefix(8 + length);
  }
  if (!bytes.empty() && bytes.size() < 8) ++contents.bad_records;
  return contents;
}

StatusOr<std::unique_ptr<IntentLog>> IntentLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return Status::FromErrno("vault: open " + path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::FromErrno("vault: fstat " + path, err);
  }
  return std::unique_ptr<IntentLog>(new IntentLog(fd, static_cast<uint64_t>(st.st_size)));
}

IntentLog::~IntentLog() { ::close(fd_); }

Status IntentLog::Append(const CopyIntent& intent) {
  const std::string record = FrameRecord(EncodeIntent(intent));
  if (record.size() - 8 > limits::kMaxIntentRecordBytes ||
      size_ + record.size() > limits::kMaxIntentLogBytes) {
    return Status::ResourceExhausted("vault: intent log full");
  }
  const ssize_t n = ::write(fd_, record.data(), record.size());
  if (n != static_cast<ssize_t>(record.size())) {
    const int err = n < 0 ? errno : ENOSPC;
    // A partial record fails its checksum when read; nothing after it is appended meanwhile,
    // since the caller commits the catalog instead (and then clears the log).
    if (n > 0) size_ += static_cast<uint64_t>(n);
    return Status::FromErrno("vault: intent log", err);
  }
  size_ += record.size();
  return Status::Ok();
}

Status IntentLog::Clear() {
  if (size_ == 0) return Status::Ok();
  if (::ftruncate(fd_, 0) != 0) return Status::FromErrno("vault: intent log", errno);
  size_ = 0;
  return Status::Ok();
}

StatusOr<LogContents> IntentLog::Read(const std::string& path) {
  auto bytes = sys::ReadSmallFile(sys::DefaultFileOpener(), path, limits::kMaxIntentLogBytes);
  if (!bytes.ok()) {
    if (bytes.status().code() == Status::Code::kNotFound) return LogContents{};
    return Status::IoError("vault: " + bytes.status().message());
  }
  return ParseLog(*bytes);
}

}  // namespace steen::vault
