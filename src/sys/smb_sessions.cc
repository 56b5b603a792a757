#include "sys/smb_sessions.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

extern char** environ;

namespace steen::sys {
namespace {

// User, machine and share names longer than this are cut (a name is a few dozen bytes).
constexpr std::size_t kMaxNameBytes = 256;
// JSON nesting accepted from smbstatus (its real output is 4 deep).
constexpr int kMaxJsonDepth = 32;

template <typename T>
bool ParseNumber(std::string_view tok, T* out, int base = 10) {
  if (tok.empty()) return false;
  auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), *out, base);
  return ec == std::errc() && p == tok.data() + tok.size();
}

bool IsHex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

std::vector<std::string_view> SplitSpaces(std::string_view s, std::size_t max_fields) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size() && out.size() < max_fields) {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
    if (pos >= s.size()) break;
    std::size_t end = s.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

// "0100007F:1162" -> address text and port.
bool ParseEndpoint(std::string_view text, std::string* address, uint16_t* port) {
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view port_hex = text.substr(colon + 1);
  if (port_hex.size() > 4 || !IsHex(port_hex)) return false;
  auto decoded = DecodeProcNetAddress(text.substr(0, colon));
  if (!decoded) return false;
  *address = std::move(*decoded);
  return ParseNumber(port_hex, port, 16);
}

std::string AddressText(int family, const void* bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, bytes, buf, sizeof(buf)) == nullptr) return {};
  return buf;
}

std::string Ipv6Text(const in6_addr& addr) {
  if (IN6_IS_ADDR_V4MAPPED(&addr)) return AddressText(AF_INET, &addr.s6_addr[12]);
  return AddressText(AF_INET6, &addr);
}

std::string Cut(std::string s) {
  if (s.size() > kMaxNameBytes) s.resize(kMaxNameBytes);
  return s;
}

// Deepest bracket nesting outside strings, stopping once past `limit` (nlohmann's parser is
// iterative but a deep value is costly to build and destroy: refuse it before parsing).
int JsonDepth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) return deepest;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

template <typename T>
std::optional<T> JsonInteger(const nlohmann::json& v) {
  T out{};
  if (v.is_number_unsigned()) {
    uint64_t n = v.get<uint64_t>();
    if (n > static_cast<uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
    return static_cast<T>(n);
  }
  if (v.is_number_integer()) {
    int64_t n = v.get<int64_t>();
    if (n < 0 || static_cast<uint64_t>(n) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
      return std::nullopt;
    }
    return static_cast<T>(n);
  }
  if (v.is_string() && ParseNumber(std::string_view(v.get_ref<const std::string&>()), &out)) {
    return out;
  }
  return std::nullopt;
}

std::string JsonString(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return {};
  return Cut(it->get<std::string>());
}

// The smbd pid of a session or tree connect: {"server_id": {"pid": "6433" or 6433, ...}}.
std::optional<pid_t> ServerPid(const nlohmann::json& entry) {
  auto server = entry.find("server_id");
  if (server == entry.end() || !server->is_object()) return std::nullopt;
  auto pid_field = server->find("pid");
  if (pid_field == server->end()) return std::nullopt;
  auto pid = JsonInteger<pid_t>(*pid_field);
  if (!pid || *pid <= 0) return std::nullopt;
  return pid;
}

// IPC$ is the named-pipe service every client connects (RPC): no file share.
bool IsIpcService(std::string_view service) {
  constexpr std::string_view kIpc = "IPC$";
  return service.size() == kIpc.size() &&
         std::equal(service.begin(), service.end(), kIpc.begin(), [](char a, char b) {
           return (a >= 'a' && a <= 'z' ? static_cast<char>(a - 'a' + 'A') : a) == b;
         });
}

// Parses `text` as a JSON object, or nothing (bounded nesting; no exceptions).
std::optional<nlohmann::json> ParseJsonObject(std::string_view text) {
  if (JsonDepth(text, kMaxJsonDepth) > kMaxJsonDepth) return std::nullopt;
  nlohmann::json root = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object()) return std::nullopt;
  return root;
}

// The client's name, or "" when Samba only knows its address.
std::string MachineName(const std::string& remote_machine, const std::string& hostname) {
  if (!remote_machine.empty() && CanonicalIpAddress(remote_machine).empty()) return remote_machine;
  // hostname is "ipv4:ADDR:PORT" / "ipv6:ADDR:PORT" unless Samba resolved a name.
  if (!hostname.empty() && hostname.rfind("ipv4:", 0) != 0 && hostname.rfind("ipv6:", 0) != 0 &&
      CanonicalIpAddress(hostname).empty()) {
    return hostname;
  }
  return {};
}

}  // namespace

void FillSmbFields(const SmbSession& session, Actor* actor) {
  actor->smb_client_address = session.client_address;
  actor->smb_user = session.user;
  actor->smb_machine = session.machine;
  actor->smb_share = session.share;
}

bool IsSmbdProcess(std::string_view comm, std::string_view exe) {
  // After a package upgrade the running binary reads "/usr/sbin/smbd (deleted)".
  constexpr std::string_view kDeleted = " (deleted)";
  if (exe.size() > kDeleted.size() && exe.substr(exe.size() - kDeleted.size()) == kDeleted) {
    exe.remove_suffix(kDeleted.size());
  }
  std::size_t slash = exe.rfind('/');
  std::string_view base = slash == std::string_view::npos ? exe : exe.substr(slash + 1);
  return base == "smbd" || comm.substr(0, 4) == "smbd";
}

std::optional<std::string> DecodeProcNetAddress(std::string_view hex) {
  if ((hex.size() != 8 && hex.size() != 32) || !IsHex(hex)) return std::nullopt;
  unsigned char bytes[16] = {};
  for (std::size_t word = 0; word < hex.size() / 8; ++word) {
    uint32_t value = 0;
    if (!ParseNumber(hex.substr(word * 8, 8), &value, 16)) return std::nullopt;
    std::memcpy(bytes + word * 4, &value, 4);  // the word's bytes as the kernel holds them
  }
  if (hex.size() == 8) {
    std::string text = AddressText(AF_INET, bytes);
    if (text.empty()) return std::nullopt;
    return text;
  }
  in6_addr addr{};
  std::memcpy(&addr, bytes, sizeof(addr));
  std::string text = Ipv6Text(addr);
  if (text.empty()) return std::nullopt;
  return text;
}

std::optional<TcpSocketRow> ParseProcNetTcpLine(std::string_view line) {
  // "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ..."
  auto f = SplitSpaces(line, 10);
  if (f.size() < 10) return std::nullopt;
  if (f[0].size() < 2 || f[0].back() != ':') return std::nullopt;  // also skips the header
  uint64_t slot = 0;
  if (!ParseNumber(f[0].substr(0, f[0].size() - 1), &slot)) return std::nullopt;
  TcpSocketRow row;
  if (!ParseEndpoint(f[1], &row.local_address, &row.local_port) ||
      !ParseEndpoint(f[2], &row.remote_address, &row.remote_port)) {
    return std::nullopt;
  }
  if (f[3].size() > 2 || !IsHex(f[3]) || !ParseNumber(f[3], &row.state, 16)) return std::nullopt;
  if (!ParseNumber(f[9], &row.inode)) return std::nullopt;
  return row;
}

std::optional<uint64_t> ParseSocketLink(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (link.size() <= kPrefix.size() + 1 || link.substr(0, kPrefix.size()) != kPrefix ||
      link.back() != ']') {
    return std::nullopt;
  }
  uint64_t inode = 0;
  if (!ParseNumber(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1), &inode)) {
    return std::nullopt;
  }
  return inode;
}

std::string CanonicalIpAddress(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return {};
  std::string s(text);
  in_addr v4{};
  if (::inet_pton(AF_INET, s.c_str(), &v4) == 1) return AddressText(AF_INET, &v4);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, s.c_str(), &v6) == 1) return Ipv6Text(v6);
  return {};
}

std::string SmbdConfigFileFromCmdline(std::string_view cmdline) {
  std::vector<std::string_view> args;
  std::size_t pos = 0;
  while (pos < cmdline.size() && args.size() < 256) {
    std::size_t end = cmdline.find('\0', pos);
    if (end == std::string_view::npos) end = cmdline.size();
    args.push_back(cmdline.substr(pos, end - pos));
    pos = end + 1;
  }
  std::string config;  // popt: the last one given wins
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") break;
    constexpr std::string_view kLong = "--configfile";
    if (a.substr(0, kLong.size()) == kLong) {
      if (a.size() > kLong.size() && a[kLong.size()] == '=') {
        config = std::string(a.substr(kLong.size() + 1));
      } else if (a.size() == kLong.size() && i + 1 < args.size()) {
        config = std::string(args[++i]);
      }
    } else if (a == "-s" && i + 1 < args.size()) {
      config = std::string(args[++i]);
    } else if (a.size() > 2 && a.substr(0, 2) == "-s") {
      config = std::string(a.substr(2));
    }
  }
  return config;
}

StatusOr<std::vector<SmbStatusSession>> ParseSmbStatusJson(std::string_view json,
                                                           std::size_t max_bytes,
                                                           std::size_t max_sessions) {
  if (json.size() > max_bytes) {
    return Status::ResourceExhausted("smbstatus output larger than " + std::to_string(max_bytes));
  }
  if (JsonDepth(json, kMaxJsonDepth) > kMaxJsonDepth) {
    return Status::Corruption("smbstatus output nested too deep");
  }
  nlohmann::json root = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) return Status::Corruption("smbstatus output is not JSON");
  if (!root.is_object()) return Status::Corruption("smbstatus output is not a JSON object");
  std::vector<SmbStatusSession> out;
  auto sessions = root.find("sessions");
  if (sessions != root.end() && (sessions->is_object() || sessions->is_array())) {
    for (const auto& session : *sessions) {
      if (out.size() >= max_sessions) break;
      if (!session.is_object()) continue;
      auto pid = ServerPid(session);
      if (!pid) continue;
      SmbStatusSession s;
      s.pid = *pid;
      if (auto uid = session.find("uid"); uid != session.end()) s.uid = JsonInteger<uid_t>(*uid);
      s.user = JsonString(session, "username");
      s.machine =
          MachineName(JsonString(session, "remote_machine"), JsonString(session, "hostname"));
      out.push_back(std::move(s));
    }
  }
  // Shares by smbd pid, from the tree connects (as many pids as sessions at most).
  std::map<pid_t, std::set<std::string>> shares;
  auto tcons = root.find("tcons");
  if (tcons != root.end() && (tcons->is_object() || tcons->is_array())) {
    for (const auto& tcon : *tcons) {
      if (!tcon.is_object()) continue;
      auto pid = ServerPid(tcon);
      if (!pid) continue;
      std::string service = JsonString(tcon, "service");
      if (service.empty() || IsIpcService(service)) continue;
      auto it = shares.find(*pid);
      if (it == shares.end()) {
        if (shares.size() >= max_sessions) continue;
        it = shares.emplace(*pid, std::set<std::string>()).first;
      }
      it->second.insert(std::move(service));
      // The smallest names stay, whatever order smbstatus lists them in.
      if (it->second.size() > kMaxSmbSharesPerProcess) {
        it->second.erase(std::prev(it->second.end()));
      }
    }
  }
  if (shares.empty()) return out;
  auto joined = [](const std::set<std::string>& names) {
    std::string text;
    for (const auto& name : names) {
      if (!text.empty()) text += ',';
      text += name;
    }
    return text;
  };
  std::set<pid_t> with_session;
  for (auto& s : out) {
    with_session.insert(s.pid);
    if (auto it = shares.find(s.pid); it != shares.end()) s.share = joined(it->second);
  }
  // A tree connect without a session (smbstatus -S ran after -b, when a new client had logged
  // on): its share is known, its user and machine are not.
  for (const auto& [pid, names] : shares) {
    if (out.size() >= max_sessions) break;
    if (with_session.count(pid) != 0) continue;
    SmbStatusSession s;
    s.pid = pid;
    s.share = joined(names);
    s.in_sessions = false;
    out.push_back(std::move(s));
  }
  return out;
}

std::string MergeSmbStatusJson(std::string_view sessions_json, std::string_view tcons_json,
                               std::size_t max_bytes) {
  if (sessions_json.size() > max_bytes || tcons_json.size() > max_bytes) {
    return std::string(sessions_json);
  }
  auto sessions = ParseJsonObject(sessions_json);
  if (!sessions) return std::string(sessions_json);
  auto tcons = ParseJsonObject(tcons_json);
  if (!tcons) return std::string(sessions_json);
  auto tcon_table = tcons->find("tcons");
  if (tcon_table == tcons->end()) return std::string(sessions_json);
  nlohmann::json merged = nlohmann::json::object();
  if (auto it = sessions->find("sessions"); it != sessions->end()) {
    merged["sessions"] = std::move(*it);
  }
  merged["tcons"] = std::move(*tcon_table);
  std::string text = merged.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > max_bytes) return std::string(sessions_json);
  return text;
}

StatusOr<std::string> RunAndCapture(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout, std::size_t max_bytes,
                                    const std::atomic<bool>* cancel) {
  if (argv.empty()) return Status::InvalidArgument("no program to run");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Status::FromErrno("pipe", errno);
  UniqueFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  // The daemon's threads may block signals (signalfd): the child starts with none blocked.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  write_end.Reset();
  if (rc != 0) return Status::FromErrno("run " + argv[0], rc);

  std::string out;
  Status failure;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  bool eof = false;
  int wait_status = 0;
  bool reaped = false;
  while (true) {
    if (cancel != nullptr && cancel->load()) {
      failure = Status::Internal(argv[0] + " cancelled");
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      failure =
          Status::IoError(argv[0] + " timed out after " + std::to_string(timeout.count()) + " ms");
      break;
    }
    int slice = static_cast<int>(std::min<int64_t>(left.count(), 100));
    if (eof) {
      // Output closed: wait for the exit (bounded by the same deadline).
      pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
      if (done == pid) {
        reaped = true;
        break;
      }
      if (done < 0 && errno != EINTR) {
        failure = Status::FromErrno("waitpid " + argv[0], errno);
        reaped = true;  // nothing left to reap
        break;
      }
      ::poll(nullptr, 0, std::min(slice, 10));
      continue;
    }
    pollfd pfd{read_end.get(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, slice);
    if (ready < 0 && errno != EINTR) {
      failure = Status::FromErrno("poll", errno);
      break;
    }
    if (ready <= 0) continue;
    char buf[16384];
    ssize_t n = ::read(read_end.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      failure = Status::FromErrno("read from " + argv[0], errno);
      break;
    }
    if (n == 0) {
      eof = true;
      continue;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      failure = Status::ResourceExhausted(argv[0] + " wrote more than " +
                                          std::to_string(max_bytes) + " bytes");
      break;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  if (!reaped) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
    }
  }
  if (!failure.ok()) return failure;
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return Status::IoError(argv[0] + " failed (" +
                           (WIFEXITED(wait_status)
                                ? "exit status " + std::to_string(WEXITSTATUS(wait_status))
                                : "signal " + std::to_string(WTERMSIG(wait_status))) +
                           ")");
  }
  return out;
}

ProcSmbSessionTable::ProcSmbSessionTable(ProcSmbSessionTableOptions options)
    : options_(std::move(options)) {
  opener_ = options_.opener != nullptr ? options_.opener : DefaultFileOpener();
  clock_ = options_.clock != nullptr ? options_.clock : RealClock::Get();
  if (!options_.run_smbstatus) {
    // Two runs: `-b -S --json` prints neither table (Samba 4.17), plain `--json` every open file.
    options_.run_smbstatus = [this](const std::string& config_file) -> StatusOr<std::string> {
      auto run = [&](const char* table) {
        std::vector<std::string> argv = {"smbstatus", table, "--json"};
        if (!config_file.empty()) argv.push_back("--configfile=" + config_file);
        return RunAndCapture(argv, options_.smbstatus_timeout, limits::kMaxSmbStatusOutputBytes,
                             &stop_);
      };
      auto sessions = run("-b");
      if (!sessions.ok()) return sessions;
      auto tcons = run("-S");
      if (!tcons.ok()) return sessions;  // the shares stay unknown, the sessions still count
      return MergeSmbStatusJson(*sessions, *tcons);
    };
  }
  worker_ = std::thread([this] { Worker(); });
}

ProcSmbSessionTable::~ProcSmbSessionTable() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::string ProcSmbSessionTable::ProcPath(pid_t pid, const char* file) const {
  return options_.proc_root + "/" + std::to_string(pid) + "/" + file;
}

std::vector<std::string> ProcSmbSessionTable::ReadPeers(
    pid_t pid, std::map<std::string, std::vector<TcpSocketRow>>* tables) {
  // Socket inodes the process holds, in fd order.
  std::vector<std::pair<int, uint64_t>> sockets;
  {
    auto dir_fd = opener_->Open(ProcPath(pid, "fd"), O_RDONLY | O_DIRECTORY);
    if (!dir_fd.ok()) return {};
    DIR* dir = ::fdopendir(dir_fd->get());
    if (dir == nullptr) return {};
    dir_fd->Release();  // the DIR owns it now
    std::size_t seen = 0;
    while (seen < limits::kMaxSmbFdsScanned) {
      dirent* e = ::readdir(dir);
      if (e == nullptr) break;
      int fd_number = 0;
      if (!ParseNumber(std::string_view(e->d_name), &fd_number)) continue;
      ++seen;
      char link[64];
      ssize_t n = ::readlinkat(::dirfd(dir), e->d_name, link, sizeof(link));
      if (n <= 0 || static_cast<std::size_t>(n) >= sizeof(link)) continue;
      if (auto inode = ParseSocketLink(std::string_view(link, static_cast<std::size_t>(n)))) {
        sockets.emplace_back(fd_number, *inode);
      }
    }
    ::closedir(dir);
  }
  if (sockets.empty()) return {};
  std::sort(sockets.begin(), sockets.end());

  // Established and listening TCP sockets of the process's network namespace.
  std::vector<TcpSocketRow> fresh;
  std::vector<TcpSocketRow>* rows = &fresh;
  std::string ns = tables != nullptr ? ReadLink(ProcPath(pid, "ns/net")) : std::string();
  bool cached = false;
  if (!ns.empty()) {
    auto it = tables->find(ns);
    if (it != tables->end()) {
      rows = &it->second;
      cached = true;
    }
  }
  if (!cached) {
    for (const char* file : {"net/tcp", "net/tcp6"}) {
      auto text = ReadSmallFile(opener_, ProcPath(pid, file), limits::kMaxProcNetTcpBytes);
      if (!text.ok()) continue;
      std::string_view all = *text;
      std::size_t pos = 0;
      while (pos < all.size()) {
        std::size_t end = all.find('\n', pos);
        if (end == std::string_view::npos) end = all.size();
        auto row = ParseProcNetTcpLine(all.substr(pos, end - pos));
        pos = end + 1;
        if (row && (row->state == kTcpEstablished || row->state == kTcpListen)) {
          fresh.push_back(std::move(*row));
        }
      }
    }
    if (!ns.empty()) {
      rows = &((*tables)[ns] = std::move(fresh));
    }
  }
  std::set<uint16_t> listening;
  std::unordered_map<uint64_t, const TcpSocketRow*> by_inode;
  for (const auto& row : *rows) {
    if (row.state == kTcpListen) listening.insert(row.local_port);
    if (row.state == kTcpEstablished && row.inode != 0) by_inode[row.inode] = &row;
  }
  // Accepted connections (the local port is one smbd listens on) are its clients; any other
  // established connection (an outgoing one) counts only when there is none.
  std::vector<std::string> accepted, other;
  for (const auto& [fd_number, inode] : sockets) {
    auto it = by_inode.find(inode);
    if (it == by_inode.end()) continue;
    auto& list = listening.count(it->second->local_port) != 0 ? accepted : other;
    if (std::find(list.begin(), list.end(), it->second->remote_address) == list.end()) {
      list.push_back(it->second->remote_address);
    }
  }
  return accepted.empty() ? other : accepted;
}

std::optional<SmbSession> ProcSmbSessionTable::ForPid(pid_t pid) {
  return Lookup(pid, nullptr, /*live_only=*/false);
}

std::optional<SmbSession> ProcSmbSessionTable::Lookup(
    pid_t pid, std::map<std::string, std::vector<TcpSocketRow>>* tables, bool live_only) {
  if (pid <= 0) return std::nullopt;
  auto stat_text = ReadSmallFile(opener_, ProcPath(pid, "stat"), limits::kMaxProcFileBytes);
  if (!stat_text.ok()) return std::nullopt;
  auto stat = ParseProcStat(*stat_text);
  if (!stat) return std::nullopt;
  if (stat->comm.rfind("smbd", 0) != 0 &&
      !IsSmbdProcess(stat->comm, ReadLink(ProcPath(pid, "exe")))) {
    return std::nullopt;
  }
  ++lookups_;
  auto session_of = [pid](const Entry& e) {
    return SmbSession{pid, e.start_time, e.peers.front(), e.user, e.machine, e.share};
  };
  // An exited child not yet reaped (a zombie) has no fds left: it keeps what was known of it, for
  // its last events, but serves nobody any more.
  bool exited = stat->state == 'Z' || stat->state == 'X' || stat->state == 'x';
  if (exited && live_only) return std::nullopt;
  uint64_t now = clock_->MonotonicNs();
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(pid);
    if (exited) {
      if (it == entries_.end() || it->second.start_time != stat->start_time ||
          it->second.peers.empty()) {
        return std::nullopt;
      }
      return session_of(it->second);
    }
    if (it != entries_.end() && it->second.start_time == stat->start_time) {
      if (!it->second.peers.empty()) {
        it->second.used_ns = now;
        return session_of(it->second);
      }
      if (now - it->second.checked_ns <
          static_cast<uint64_t>(limits::kSmbNoPeerRecheckMs) * 1000000ull) {
        return std::nullopt;
      }
    }
  }
  Entry fresh;
  fresh.start_time = stat->start_time;
  fresh.checked_ns = now;
  fresh.used_ns = now;
  fresh.peers = ReadPeers(pid, tables);
  if (fresh.peers.empty()) {
    ++no_peer_;
  } else {
    auto status_text = ReadSmallFile(opener_, ProcPath(pid, "status"), limits::kMaxProcFileBytes);
    std::optional<ProcStatus> status;
    if (status_text.ok()) status = ParseProcStatus(*status_text);
    if (status && status->has_uid) {
      fresh.euid = status->effective_uid;
      // smbd serves a session as its user: a non-root euid is the session's user.
      if (fresh.euid != 0) fresh.user = users_.Lookup(fresh.euid);
    }
    auto cmdline = ReadSmallFile(opener_, ProcPath(pid, "cmdline"), limits::kMaxProcFileBytes);
    if (cmdline.ok()) fresh.config_file = SmbdConfigFileFromCmdline(*cmdline);
    fresh.status_done = !options_.use_smbstatus;
  }
  std::lock_guard lock(mu_);
  auto it = entries_.find(pid);
  if (it != entries_.end() && it->second.start_time == fresh.start_time &&
      !it->second.peers.empty()) {
    return session_of(it->second);  // another thread got there first: keep its (stable) user
  }
  if (it == entries_.end()) EvictOneLocked();
  Entry& entry = entries_[pid];
  entry = std::move(fresh);
  if (entry.peers.empty()) return std::nullopt;
  ++sessions_;
  if (!entry.status_done) {
    families_[entry.config_file].wanted = true;
    cv_.notify_all();
  }
  return session_of(entry);
}

void ProcSmbSessionTable::EvictOneLocked() {
  if (entries_.size() < limits::kMaxSmbSessionEntries) return;
  auto oldest = entries_.begin();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->second.used_ns < oldest->second.used_ns) oldest = it;
  }
  entries_.erase(oldest);
}

std::vector<SmbSession> ProcSmbSessionTable::ServingClient(std::string_view client_address) {
  std::vector<SmbSession> out;
  std::string want = CanonicalIpAddress(client_address);
  if (want.empty()) return out;
  const std::vector<pid_t> pids = ListPids(opener_, options_.proc_root);
  std::map<std::string, std::vector<TcpSocketRow>> tables;  // one read per network namespace
  for (pid_t pid : pids) {
    auto session = Lookup(pid, &tables, /*live_only=*/true);
    if (!session) continue;
    if (session->client_address == want) {
      out.push_back(std::move(*session));
      continue;
    }
    // A multichannel session may have a further connection from another address of the client.
    auto peers = ReadPeers(pid, &tables);
    if (std::find(peers.begin(), peers.end(), want) != peers.end()) {
      out.push_back(std::move(*session));
    }
  }
  return out;
}

void ProcSmbSessionTable::Apply(const std::string& config_file,
                                const std::vector<SmbStatusSession>* sessions) {
  std::unordered_map<pid_t, std::vector<const SmbStatusSession*>> by_pid;
  if (sessions != nullptr) {
    for (const auto& s : *sessions) by_pid[s.pid].push_back(&s);
  }
  for (auto& [pid, e] : entries_) {
    if (e.config_file != config_file || e.peers.empty()) continue;
    auto it = by_pid.find(pid);
    // The share is no scope key: any answer listing the child's tree connects updates it (the
    // client may have connected another share since), with or without a session entry.
    if (it != by_pid.end() && !it->second.front()->share.empty()) {
      e.share = it->second.front()->share;
    }
    if (e.status_done) continue;
    // One connection may carry several sessions: prefer the one of the child's user.
    const SmbStatusSession* pick = nullptr;
    if (it != by_pid.end()) {
      for (const auto* s : it->second) {
        if (!s->in_sessions) continue;
        if (pick == nullptr || (s->uid && *s->uid == e.euid)) pick = s;
      }
    }
    if (pick == nullptr) {
      // Not listed (yet, or smbstatus failed): asked again at the next run, a few times.
      if (++e.status_attempts < limits::kSmbStatusAttempts) {
        families_[config_file].wanted = true;
      } else {
        e.status_done = true;
      }
      continue;
    }
    if (e.user.empty()) e.user = pick->user;  // never replaced once known: the scope key
    if (e.machine.empty()) e.machine = pick->machine;
    e.status_done = true;
    ++filled_;
  }
}

void ProcSmbSessionTable::PruneGone() {
  std::vector<std::pair<pid_t, uint64_t>> known;
  {
    std::lock_guard lock(mu_);
    for (const auto& [pid, e] : entries_) known.emplace_back(pid, e.start_time);
  }
  std::vector<pid_t> gone;
  for (const auto& [pid, start_time] : known) {
    if (stop_) return;
    auto text = ReadSmallFile(opener_, ProcPath(pid, "stat"), limits::kMaxProcFileBytes);
    std::optional<ProcStat> st;
    if (text.ok()) st = ParseProcStat(*text);
    if (!st || st->start_time != start_time) gone.push_back(pid);
  }
  std::lock_guard lock(mu_);
  for (pid_t pid : gone) {
    auto it = entries_.find(pid);
    if (it == entries_.end()) continue;
    auto k =
        std::find_if(known.begin(), known.end(), [pid](const auto& p) { return p.first == pid; });
    if (k != known.end() && it->second.start_time == k->second) entries_.erase(it);
  }
}

void ProcSmbSessionTable::Worker() {
  const uint64_t prune_ns = static_cast<uint64_t>(limits::kSmbPruneIntervalMs) * 1000000ull;
  uint64_t next_prune = clock_->MonotonicNs() + prune_ns;
  std::unique_lock lock(mu_);
  while (!stop_) {
    uint64_t now = clock_->MonotonicNs();
    std::string due;
    bool found = false;
    bool waiting = false;
    uint64_t wait_ns = prune_ns;
    for (auto& [config_file, family] : families_) {
      if (!family.wanted || !options_.use_smbstatus) continue;
      // Failing runs back off (smbstatus missing or broken): 1x, 2x, 4x ... the interval.
      uint64_t interval = static_cast<uint64_t>(options_.smbstatus_interval.count()) * 1000000ull
                          << std::min(family.failures_in_a_row, 10);
      interval = std::min<uint64_t>(
          interval, static_cast<uint64_t>(limits::kSmbStatusMaxBackoffMs) * 1000000ull);
      if (family.last_run_ns == 0 || now - family.last_run_ns >= interval) {
        due = config_file;
        found = true;
        break;
      }
      waiting = true;
      wait_ns = std::min(wait_ns, family.last_run_ns + interval - now);
    }
    if (found) {
      Family& family = families_[due];
      family.wanted = false;
      family.last_run_ns = now;
      running_ = true;
      lock.unlock();
      ++runs_;
      auto output = options_.run_smbstatus(due);
      StatusOr<std::vector<SmbStatusSession>> parsed =
          output.ok() ? ParseSmbStatusJson(*output)
                      : StatusOr<std::vector<SmbStatusSession>>(output.status());
      lock.lock();
      running_ = false;
      Family& after = families_[due];
      if (parsed.ok()) {
        after.failures_in_a_row = 0;
        Apply(due, &*parsed);
      } else {
        ++failures_;
        ++after.failures_in_a_row;
        last_error_ = parsed.status().message();
        Apply(due, nullptr);
      }
      idle_cv_.notify_all();
      continue;
    }
    if (now >= next_prune) {
      lock.unlock();
      PruneGone();
      lock.lock();
      next_prune = clock_->MonotonicNs() + prune_ns;
      continue;
    }
    idle_cv_.notify_all();
    // Real-time waits in short slices while a run is pending: the clock may be a test's.
    auto wait = std::chrono::nanoseconds(std::min(wait_ns, next_prune - now));
    if (waiting) wait = std::min<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(50));
    cv_.wait_for(lock, wait);
  }
  idle_cv_.notify_all();
}

bool ProcSmbSessionTable::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] {
    if (running_) return false;
    for (const auto& [config_file, family] : families_) {
      if (family.wanted) return false;
    }
    return true;
  });
}

SmbSessionStats ProcSmbSessionTable::Stats() const {
  SmbSessionStats s;
  s.lookups = lookups_.load();
  s.sessions = sessions_.load();
  s.no_peer = no_peer_.load();
  s.smbstatus_runs = runs_.load();
  s.smbstatus_failures = failures_.load();
  s.smbstatus_filled = filled_.load();
  std::lock_guard lock(mu_);
  s.last_smbstatus_error = last_error_;
  return s;
}

}  // namespace steen::sys
