// The drill over SMB: the same operations as the local file system, sent to a Samba (or Windows)
// server through libsmbclient's context API, so that on the server every read, write, rename and
// delete is done by smbd on behalf of the drill's session, as in a remote encryption.
//
// What differs from the local side (docs/design/drill.md, "Remote drill"):
//  * a libsmbclient context is not thread-safe: one mutex serialises the calls (threads still
//    pace and encrypt concurrently, their I/O is one request at a time);
//  * SMB has no pwrite: a seek and a write under that mutex;
//  * SMB rename replaces an existing name (libsmbclient deletes it and retries): Rename checks
//    that the new name is free first (a race with another client remains possible);
//  * the server resolves symlinks ("follow symlinks", "wide links"): a symlink is reported only
//    when the server says so (SMB3 POSIX extensions), otherwise it is the file it points to,
//    within the share.
//
// libsmbclient is not linked but loaded on the first connection: it brings in ~110 shared
// libraries (most of Samba), whose loading and relocation made up most of every steen start.
#include <dlfcn.h>
#include <fcntl.h>
#include <libsmbclient.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <mutex>

#include "drill/drill_fs.h"

namespace steen::drill {

std::string SmbUrl::ToString() const {
  std::string url = "smb://" + host + ":" + std::to_string(port) + "/" + share;
  if (!path.empty()) url += "/" + path;
  return url;
}

StatusOr<SmbUrl> ParseSmbUrl(std::string_view text) {
  constexpr std::string_view kScheme = "smb://";
  if (!text.starts_with(kScheme))
    return Status::InvalidArgument("not an smb:// URL: " + std::string(text));
  std::string_view rest = text.substr(kScheme.size());
  const std::string usage =
      "bad SMB target '" + std::string(text) + "' (smb://HOST[:PORT]/SHARE[/PATH])";
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Status::InvalidArgument(usage + ": no share");
  std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos ||
      authority.find(';') != std::string_view::npos) {
    return Status::InvalidArgument(usage + ": credentials belong in --auth-file, not in the URL");
  }
  SmbUrl url;
  if (std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Status::InvalidArgument(usage + ": bad port");
    }
    url.port = static_cast<uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return Status::InvalidArgument(usage + ": no host");
  url.host = std::string(authority);
  std::string_view tail = rest.substr(slash + 1);
  std::size_t share_end = tail.find('/');
  url.share = std::string(tail.substr(0, share_end));
  if (url.share.empty()) return Status::InvalidArgument(usage + ": no share");
  std::string path = share_end == std::string_view::npos ? "" : std::string(tail.substr(share_end));
  // Normalise the path: no empty, "." or ".." components.
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string part = path.substr(pos, next - pos);
    pos = next + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return Status::InvalidArgument(usage + ": '..' in the path");
    url.path += (url.path.empty() ? "" : "/") + part;
  }
  return url;
}

namespace {

// libsmbclient URL-decodes paths and treats '?' as the start of options: everything but plain
// name characters is percent-encoded.
std::string EncodePath(std::string_view path) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

EntryInfo InfoFromStat(const struct stat& st) {
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
  info.created_s = st.st_ctime;
  info.atime_ns = st.st_atim.tv_sec * 1000000000LL + st.st_atim.tv_nsec;
  info.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  return info;
}

// The libsmbclient functions steen calls, each resolved by dlsym under its own name.
#define STEEN_SMBCLIENT_FUNCTIONS(X)     \
  X(smbc_new_context)                    \
  X(smbc_free_context)                   \
  X(smbc_init_context)                   \
  X(smbc_setDebug)                       \
  X(smbc_setTimeout)                     \
  X(smbc_setPort)                        \
  X(smbc_setOptionNoAutoAnonymousLogin)  \
  X(smbc_setOptionUseKerberos)           \
  X(smbc_setOptionFallbackAfterKerberos) \
  X(smbc_setOptionUserData)              \
  X(smbc_getOptionUserData)              \
  X(smbc_setFunctionAuthDataWithContext) \
  X(smbc_getFunctionStat)                \
  X(smbc_getFunctionFstat)               \
  X(smbc_getFunctionOpen)                \
  X(smbc_getFunctionClose)               \
  X(smbc_getFunctionRead)                \
  X(smbc_getFunctionWrite)               \
  X(smbc_getFunctionLseek)               \
  X(smbc_getFunctionFtruncate)           \
  X(smbc_getFunctionRename)              \
  X(smbc_getFunctionUnlink)              \
  X(smbc_getFunctionMkdir)               \
  X(smbc_getFunctionRmdir)               \
  X(smbc_getFunctionOpendir)             \
  X(smbc_getFunctionReaddirPlus2)        \
  X(smbc_getFunctionClosedir)

// Typed pointers into the loaded libsmbclient; the header stays the source of the signatures.
struct SmbClient {
#define STEEN_SMBCLIENT_MEMBER(name) decltype(&::name) name = nullptr;
  STEEN_SMBCLIENT_FUNCTIONS(STEEN_SMBCLIENT_MEMBER)
#undef STEEN_SMBCLIENT_MEMBER
};

StatusOr<SmbClient> OpenSmbClient() {
  // RTLD_LOCAL: Samba's symbols stay out of the global namespace, visible through the table only.
  void* library = dlopen("libsmbclient.so.0", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    return Status::Unsupported(
        std::string("libsmbclient.so.0 not found: install the Debian package libsmbclient for SMB "
                    "drill targets (") +
        (why == nullptr ? "dlopen failed" : why) + ")");
  }
  SmbClient client;
#define STEEN_SMBCLIENT_RESOLVE(name)                                            \
  client.name = reinterpret_cast<decltype(&::name)>(dlsym(library, #name));      \
  if (client.name == nullptr) {                                                  \
    dlclose(library);                                                            \
    return Status::Unsupported("libsmbclient.so.0 has no " #name                 \
                               ": SMB drill targets need a newer libsmbclient"); \
  }
  STEEN_SMBCLIENT_FUNCTIONS(STEEN_SMBCLIENT_RESOLVE)
#undef STEEN_SMBCLIENT_RESOLVE
  return client;
}

// libsmbclient, loaded by the first caller (thread-safe), or why it cannot be used. Never unloaded
// nor destroyed: Samba keeps process-wide state past its contexts, and a context may be freed
// during exit.
const StatusOr<SmbClient>& LoadSmbClient() {
  static const auto* const client = new StatusOr<SmbClient>(OpenSmbClient());
  return *client;
}

struct ContextDeleter {
  const SmbClient* lib = nullptr;
  void operator()(SMBCCTX* context) const { lib->smbc_free_context(context, 1); }
};

class SmbDrillFs;

class SmbFile : public DrillFile {
 public:
  SmbFile(SmbDrillFs* fs, SMBCFILE* file, std::string path)
      : fs_(fs), file_(file), path_(std::move(path)) {}
  ~SmbFile() override;
  Status Info(EntryInfo* info) override;
  Status ReadAt(uint64_t offset, uint64_t length, std::string* out) override;
  Status WriteAt(uint64_t offset, std::string_view data) override;
  Status Truncate(uint64_t size) override;

 private:
  SmbDrillFs* fs_;
  SMBCFILE* file_;
  std::string path_;
};

class SmbDrillFs : public DrillFs {
 public:
  SmbDrillFs(SmbUrl url, SmbCredentials credentials)
      : url_(std::move(url)), credentials_(std::move(credentials)) {}

  Status Connect() {
    const StatusOr<SmbClient>& lib = LoadSmbClient();
    if (!lib.ok()) return lib.status();
    lib_ = &*lib;
    context_ = {lib_->smbc_new_context(), ContextDeleter{lib_}};
    if (!context_) return Status::Internal("smbc_new_context failed");
    SMBCCTX* c = context_.get();
    lib_->smbc_setDebug(c, 0);
    // Connect and every request: an unreachable server fails in 10 s.
    lib_->smbc_setTimeout(c, 10000);
    lib_->smbc_setPort(c, url_.port);
    // Never fall back to a guest or anonymous session: a wrong password must fail.
    lib_->smbc_setOptionNoAutoAnonymousLogin(c, 1);
    lib_->smbc_setOptionUseKerberos(c, 0);
    lib_->smbc_setOptionFallbackAfterKerberos(c, 1);
    lib_->smbc_setOptionUserData(c, this);
    lib_->smbc_setFunctionAuthDataWithContext(c, &SmbDrillFs::Authenticate);
    if (lib_->smbc_init_context(c) == nullptr) {
      const int err = errno;
      context_.reset();
      return Status::FromErrno("initialise libsmbclient", err);
    }
    // The first request logs in; it also proves the target folder exists.
    struct stat st {};
    const std::string where = url_.ToString();
    if (lib_->smbc_getFunctionStat(c)(c, UrlOf("").c_str(), &st) != 0) {
      const int err = errno;
      switch (err) {
        case EACCES:
        case EPERM:
          return Status::InvalidArgument("cannot log in to " + where + " as '" +
                                         credentials_.username +
                                         "': access denied (wrong user name or password, or no "
                                         "right to the share)");
        case ENOENT:
        case ENOTDIR:
          return Status::NotFound(where + ": no such share or folder");
        case ECONNREFUSED:
        case ETIMEDOUT:
        case EHOSTUNREACH:
        case ENETUNREACH:
        case ECONNRESET:
        case EHOSTDOWN:
          return Status::IoError("cannot reach SMB server " + url_.host + " port " +
                                 std::to_string(url_.port) + ": " + std::strerror(err));
        default:
          return Status::IoError("cannot open " + where + ": " + std::strerror(err));
      }
    }
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(where + " is not a folder");
    return Status::Ok();
  }

  std::string Target() const override { return url_.ToString(); }
  bool IsRemote() const override { return true; }
  bool OpenFilesCanBeMoved() const override { return false; }

  Status List(const std::string& dir, bool birth_times, std::vector<DirEntry>* out) override {
    out->clear();
    std::lock_guard<std::mutex> lock(mu_);
    SMBCCTX* c = context_.get();
    SMBCFILE* handle = lib_->smbc_getFunctionOpendir(c)(c, UrlOf(dir).c_str());
    if (handle == nullptr) return Status::FromErrno("open folder " + Show(dir), errno);
    struct stat st {};
    while (const struct libsmb_file_info* e =
               lib_->smbc_getFunctionReaddirPlus2(c)(c, handle, &st)) {
      std::string name = e->name == nullptr ? "" : e->name;
      if (name.empty() || name == "." || name == "..") continue;
      EntryInfo info = InfoFromStat(st);
      if (birth_times && e->btime_ts.tv_sec > 0) info.created_s = e->btime_ts.tv_sec;
      out->push_back({std::move(name), info});
    }
    lib_->smbc_getFunctionClosedir(c)(c, handle);
    return Status::Ok();
  }

  Status Stat(const std::string& path, EntryInfo* info) override {
    std::lock_guard<std::mutex> lock(mu_);
    struct stat st {};
    if (lib_->smbc_getFunctionStat(context_.get())(context_.get(), UrlOf(path).c_str(), &st) != 0) {
      return Status::FromErrno("stat " + Show(path), errno);
    }
    *info = InfoFromStat(st);
    return Status::Ok();
  }

  StatusOr<std::unique_ptr<DrillFile>> Open(const std::string& path, OpenMode mode,
                                            uint32_t permissions) override {
    int flags = O_RDONLY;
    if (mode == OpenMode::kReadWrite) flags = O_RDWR;
    if (mode == OpenMode::kCreateExclusive) flags = O_WRONLY | O_CREAT | O_EXCL;
    std::lock_guard<std::mutex> lock(mu_);
    SMBCFILE* file = lib_->smbc_getFunctionOpen(context_.get())(context_.get(), UrlOf(path).c_str(),
                                                                flags, permissions);
    if (file == nullptr) return Status::FromErrno("open " + Show(path), errno);
    return std::unique_ptr<DrillFile>(std::make_unique<SmbFile>(this, file, path));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    SMBCCTX* c = context_.get();
    struct stat st {};
    // libsmbclient replaces an existing destination: refuse it first, as RENAME_NOREPLACE does.
    if (lib_->smbc_getFunctionStat(c)(c, UrlOf(to).c_str(), &st) == 0) {
      return Status::FromErrno("rename " + Show(from) + " to " + Show(to), EEXIST);
    }
    if (lib_->smbc_getFunctionRename(c)(c, UrlOf(from).c_str(), c, UrlOf(to).c_str()) != 0) {
      return Status::FromErrno("rename " + Show(from) + " to " + Show(to), errno);
    }
    return Status::Ok();
  }

  Status RenameOver(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    SMBCCTX* c = context_.get();
    if (lib_->smbc_getFunctionRename(c)(c, UrlOf(from).c_str(), c, UrlOf(to).c_str()) != 0) {
      return Status::FromErrno("rename " + Show(from) + " over " + Show(to), errno);
    }
    return Status::Ok();
  }

  Status Unlink(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (lib_->smbc_getFunctionUnlink(context_.get())(context_.get(), UrlOf(path).c_str()) != 0) {
      return Status::FromErrno("remove " + Show(path), errno);
    }
    return Status::Ok();
  }

  Status MakeDir(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    SMBCCTX* c = context_.get();
    if (lib_->smbc_getFunctionMkdir(c)(c, UrlOf(path).c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FromErrno("mkdir " + Show(path), errno);
    }
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (lib_->smbc_getFunctionRmdir(context_.get())(context_.get(), UrlOf(path).c_str()) != 0) {
      return Status::FromErrno("remove folder " + Show(path), errno);
    }
    return Status::Ok();
  }

 private:
  friend class SmbFile;

  static void Authenticate(SMBCCTX* c, const char* /*server*/, const char* /*share*/,
                           char* workgroup, int workgroup_len, char* user, int user_len,
                           char* password, int password_len) {
    auto* self = static_cast<SmbDrillFs*>(LoadSmbClient()->smbc_getOptionUserData(c));
    auto copy = [](const std::string& from, char* to, int size) {
      if (size <= 0) return;
      std::size_t n = std::min<std::size_t>(from.size(), static_cast<std::size_t>(size) - 1);
      std::memcpy(to, from.data(), n);
      to[n] = '\0';
    };
    if (!self->credentials_.domain.empty())
      copy(self->credentials_.domain, workgroup, workgroup_len);
    copy(self->credentials_.username, user, user_len);
    copy(self->credentials_.password, password, password_len);
  }

  // A path relative to the target, or absolute from the share's root, as a full URL.
  std::string UrlOf(const std::string& path) const {
    std::string in_share;
    if (!path.empty() && path[0] == '/') {
      in_share = path.substr(1);
    } else {
      in_share = url_.path;
      if (!path.empty()) in_share += (in_share.empty() ? "" : "/") + path;
    }
    std::string url =
        "smb://" + url_.host + ":" + std::to_string(url_.port) + "/" + EncodePath(url_.share);
    if (!in_share.empty()) url += "/" + EncodePath(in_share);
    return url;
  }
  std::string Show(const std::string& path) const {
    return path.empty() || path[0] != '/' ? url_.ToString() + "/" + path : path;
  }

  SmbUrl url_;
  SmbCredentials credentials_;
  const SmbClient* lib_ = nullptr;  // set by Connect
  std::unique_ptr<SMBCCTX, ContextDeleter> context_;
  std::mutex mu_;
};

SmbFile::~SmbFile() {
  std::lock_guard<std::mutex> lock(fs_->mu_);
  fs_->lib_->smbc_getFunctionClose(fs_->context_.get())(fs_->context_.get(), file_);
}

Status SmbFile::Info(EntryInfo* info) {
  std::lock_guard<std::mutex> lock(fs_->mu_);
  struct stat st {};
  if (fs_->lib_->smbc_getFunctionFstat(fs_->context_.get())(fs_->context_.get(), file_, &st) != 0) {
    return Status::FromErrno("fstat " + path_, errno);
  }
  *info = InfoFromStat(st);
  return Status::Ok();
}

Status SmbFile::ReadAt(uint64_t offset, uint64_t length, std::string* out) {
  std::lock_guard<std::mutex> lock(fs_->mu_);
  SMBCCTX* c = fs_->context_.get();
  out->resize(length);
  if (fs_->lib_->smbc_getFunctionLseek(c)(c, file_, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return Status::FromErrno("seek " + path_, errno);
  }
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = fs_->lib_->smbc_getFunctionRead(c)(c, file_, out->data() + done, length - done);
    if (n < 0) return Status::FromErrno("read " + path_, errno);
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
  }
  out->resize(done);
  return Status::Ok();
}

Status SmbFile::WriteAt(uint64_t offset, std::string_view data) {
  std::lock_guard<std::mutex> lock(fs_->mu_);
  SMBCCTX* c = fs_->context_.get();
  if (fs_->lib_->smbc_getFunctionLseek(c)(c, file_, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return Status::FromErrno("seek " + path_, errno);
  }
  uint64_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        fs_->lib_->smbc_getFunctionWrite(c)(c, file_, data.data() + done, data.size() - done);
    if (n < 0) return Status::FromErrno("write " + path_, errno);
    if (n == 0) return Status::IoError("write " + path_ + ": no progress");
    done += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status SmbFile::Truncate(uint64_t size) {
  std::lock_guard<std::mutex> lock(fs_->mu_);
  if (fs_->lib_->smbc_getFunctionFtruncate(fs_->context_.get())(fs_->context_.get(), file_,
                                                                static_cast<off_t>(size)) != 0) {
    return Status::FromErrno("truncate " + path_, errno);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<DrillFs>> OpenSmbDrillFs(const SmbUrl& url,
                                                  const SmbCredentials& credentials) {
  auto fs = std::make_unique<SmbDrillFs>(url, credentials);
  if (Status s = fs->Connect(); !s.ok()) return s;
  return std::unique_ptr<DrillFs>(std::move(fs));
}

StatusOr<SmbCredentials> ReadSmbAuthFile(std::string_view path) {
  if (path.empty()) return Status::InvalidArgument("an smb:// target needs --auth-file FILE");
  std::ifstream in{std::string(path)};
  if (!in) {
    return Status::NotFound("cannot read auth file " + std::string(path) + ": " +
                            std::strerror(errno));
  }
  SmbCredentials credentials;
  bool have_user = false, have_password = false;
  std::string line;
  auto trim = [](std::string s) {
    const char* space = " \t\r\n";
    s.erase(0, s.find_first_not_of(space));
    s.erase(s.find_last_not_of(space) + 1);
    return s;
  };
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    std::size_t eq = t.find('=');
    if (eq == std::string::npos) {
      return Status::InvalidArgument("auth file " + std::string(path) + ": bad line '" + t +
                                     "' (expected: username = ..., password = ..., domain = ...)");
    }
    std::string key = trim(t.substr(0, eq)), value = trim(t.substr(eq + 1));
    if (key == "username") {
      credentials.username = value;
      have_user = true;
    } else if (key == "password") {
      credentials.password = value;
      have_password = true;
    } else if (key == "domain") {
      credentials.domain = value;
    } else {
      return Status::InvalidArgument("auth file " + std::string(path) + ": unknown key '" + key +
                                     "'");
    }
  }
  if (!have_user || credentials.username.empty()) {
    return Status::InvalidArgument("auth file " + std::string(path) + ": no username");
  }
  if (!have_password) {
    return Status::InvalidArgument("auth file " + std::string(path) + ": no password");
  }
  return credentials;
}

}  // namespace steen::drill

// libsmbclient initialises Samba's process-wide state (talloc contexts, loaded smb.conf, debug
// settings) once and never frees it, even after smbc_free_context: LeakSanitizer reports those
// allocations at exit in every sanitizer build that used the remote drill. They are Samba's, not
// ours; only programs that link this object can load libsmbclient, so the suppression goes with
// the use.
#if defined(__SANITIZE_ADDRESS__)
#define STEEN_LEAK_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define STEEN_LEAK_SANITIZER 1
#endif
#endif
#ifdef STEEN_LEAK_SANITIZER
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "leak:libtalloc.so\n"
         "leak:libsmbclient.so\n"
         "leak:libsamba-util.so\n"
         "leak:/samba/lib\n";  // Samba's private libraries (LIBDIR/samba/)
}
#endif
