// nftables blocks of SMB clients through libnftables (see client_blocker.h and docs/design/smb.md).
#include "sys/client_blocker.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

#include "steen/limits.h"

// libnftables.h defines _GNU_SOURCE itself (empty), which the compiler already defines as 1.
#undef _GNU_SOURCE
#include <nftables/libnftables.h>

namespace steen::sys {
namespace {

constexpr std::string_view kSet4 = "blocked_ipv4";
constexpr std::string_view kSet6 = "blocked_ipv6";
constexpr std::string_view kChain = "input";

bool ValidTableName(std::string_view name) {
  if (name.empty() || name.size() > 32 || !std::isalpha(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// Without CAP_NET_ADMIN every nftables change is refused, and libnftables also prints "Operation
// not permitted (you must be root)" on the process's stderr: say it once, in our words, instead.
Status CheckNetAdmin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return Status::Ok();  // let nftables decide
  if (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) return Status::Ok();
  return Status::PermissionDenied(
      "nftables changes need CAP_NET_ADMIN, which this process lacks (run as root; as a systemd "
      "service add CAP_NET_ADMIN to CapabilityBoundingSet)");
}

// libnftables 1.0 calls exit() when it cannot open or bind its netlink socket (mnl.c:
// netlink_init_error), which would end the daemon at its first block. So try the same socket
// first and turn a failure into a Status.
Status ProbeNetlink() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) {
    int err = errno;
    std::string hint;
    if (err == EAFNOSUPPORT || err == EPERM || err == EACCES) {
      hint =
          " (steen needs netlink sockets for nftables; as a systemd service add AF_NETLINK to "
          "RestrictAddressFamilies)";
    }
    return Status::PermissionDenied(
        fmt::format("cannot open a netlink socket for nftables: {}{}", std::strerror(err), hint));
  }
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return Status::IoError(
        fmt::format("cannot bind a netlink socket for nftables: {}", std::strerror(err)));
  }
  return Status::Ok();
}

// nft's error text: the first line holding "Error: " (the rest repeats the command with carets),
// from there on ("netlink: Error: cache initialization failed: ..." as well).
std::string FirstError(const std::string& text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (std::size_t at = line.find("Error: "); at != std::string_view::npos) {
      return std::string(line.substr(at + 7));
    }
    start = end + 1;
  }
  std::string first = text.substr(0, text.find('\n'));
  return first.empty() ? "failed without a message" : first;
}

Status NftError(std::string_view what, const std::string& error_text) {
  const std::string error = FirstError(error_text);
  std::string message = fmt::format("{}: nftables: {}", what, error);
  if (error.find("Operation not permitted") != std::string::npos) {
    return Status::PermissionDenied(
        message +
        " (steen needs CAP_NET_ADMIN; as a systemd service add CAP_NET_ADMIN to "
        "CapabilityBoundingSet)");
  }
  if (error.find("No such file or directory") != std::string::npos) {
    return Status::NotFound(message);
  }
  return Status::IoError(message);
}

Status CheckPorts(const std::vector<uint16_t>& ports) {
  if (ports.empty()) return Status::InvalidArgument("no port to block");
  if (ports.size() > limits::kMaxSmbPorts) {
    return Status::InvalidArgument(
        fmt::format("{} ports to block: at most {}", ports.size(), limits::kMaxSmbPorts));
  }
  for (uint16_t port : ports) {
    if (port == 0) return Status::InvalidArgument("port 0 cannot be blocked");
  }
  return Status::Ok();
}

// "900s", "1d2h3m4s5ms", "899992ms": seconds (rounded down); nothing when it is no duration.
std::optional<int64_t> ParseNftDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t digits = i;
    while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) {
      ++digits;
    }
    if (digits == i || digits - i > 15) return std::nullopt;
    int64_t value = std::stoll(std::string(text.substr(i, digits - i)));
    std::size_t unit_end = digits;
    while (unit_end < text.size() && std::isalpha(static_cast<unsigned char>(text[unit_end]))) {
      ++unit_end;
    }
    std::string_view unit = text.substr(digits, unit_end - digits);
    if (unit == "d") {
      ms += value * 86'400'000;
    } else if (unit == "h") {
      ms += value * 3'600'000;
    } else if (unit == "m") {
      ms += value * 60'000;
    } else if (unit == "s") {
      ms += value * 1000;
    } else if (unit == "ms") {
      ms += value;
    } else {
      return std::nullopt;
    }
    i = unit_end;
  }
  return ms / 1000;
}

std::vector<std::string_view> SplitWhitespace(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    std::size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

StatusOr<std::string> CanonicalAddress(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(fmt::format("'{}' is not an IP address", text.substr(0, 64)));
  };
  // inet_pton needs a NUL-terminated copy; an embedded NUL or an overlong text is no address.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN || text.find('\0') != std::string::npos) {
    return bad();
  }
  const std::string copy(text);
  char out[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (::inet_pton(AF_INET, copy.c_str(), &v4) == 1) {
    const uint32_t host = ntohl(v4.s_addr);
    if (host == 0 || (host >> 28) == 0xE || host == 0xFFFFFFFFu) {
      return Status::InvalidArgument("refusing to block " + copy +
                                     ": not the address of one client");
    }
    ::inet_ntop(AF_INET, &v4, out, sizeof out);
    return std::string(out);
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, copy.c_str(), &v6) != 1) return bad();
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(&v4.s_addr, &v6.s6_addr[12], 4);
    return CanonicalAddress(::inet_ntop(AF_INET, &v4, out, sizeof out));
  }
  if (IN6_IS_ADDR_UNSPECIFIED(&v6) || IN6_IS_ADDR_MULTICAST(&v6)) {
    return Status::InvalidArgument("refusing to block " + copy + ": not the address of one client");
  }
  ::inet_ntop(AF_INET6, &v6, out, sizeof out);
  return std::string(out);
}

std::string FormatPorts(const std::vector<uint16_t>& ports) {
  std::string out;
  for (uint16_t port : ports) {
    if (!out.empty()) out += ",";
    out += std::to_string(port);
  }
  return out;
}

std::vector<BlockedClient> ParseNftSetElements(std::string_view listing) {
  std::vector<BlockedClient> out;
  std::size_t open = listing.find("elements = {");
  if (open == std::string_view::npos) return out;
  open += std::string_view("elements = {").size();
  std::size_t close = listing.find('}', open);
  if (close == std::string_view::npos) return out;
  std::string_view body = listing.substr(open, close - open);
  std::map<std::string, std::size_t> index;  // address -> position in `out`
  std::size_t start = 0;
  while (start <= body.size()) {
    std::size_t comma = body.find(',', start);
    if (comma == std::string_view::npos) comma = body.size();
    std::vector<std::string_view> words = SplitWhitespace(body.substr(start, comma - start));
    start = comma + 1;
    // address . port [timeout T] [expires E]
    if (words.size() < 3 || words[1] != ".") continue;
    auto address = CanonicalAddress(words[0]);
    if (!address.ok()) continue;
    int64_t port = 0;
    for (char c : words[2]) {
      if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) {
        port = -1;
        break;
      }
      port = port * 10 + (c - '0');
    }
    if (port <= 0 || port > 65535) continue;
    int64_t timeout = 0, expires = 0;
    for (std::size_t i = 3; i + 1 < words.size(); ++i) {
      if (words[i] == "timeout") timeout = ParseNftDuration(words[i + 1]).value_or(0);
      if (words[i] == "expires") expires = ParseNftDuration(words[i + 1]).value_or(0);
    }
    auto [it, fresh] = index.emplace(*address, out.size());
    if (fresh) out.push_back({*address, {}, {}, {}});
    BlockedClient& client = out[it->second];
    client.ports.push_back(static_cast<uint16_t>(port));
    client.timeout = std::max(client.timeout, std::chrono::seconds(timeout));
    client.expires_in = std::max(client.expires_in, std::chrono::seconds(expires));
  }
  return out;
}

// ---- NftClientBlocker
// ----------------------------------------------------------------------------

StatusOr<std::unique_ptr<NftClientBlocker>> NftClientBlocker::Create(
    NftClientBlockerOptions options) {
  if (!ValidTableName(options.table)) {
    return Status::InvalidArgument(fmt::format(
        "nftables table name '{}': expected letters, digits and '_', starting with a letter, at "
        "most 32 bytes",
        options.table.substr(0, 64)));
  }
  if (Status capable = CheckNetAdmin(); !capable.ok()) return capable;
  if (Status probe = ProbeNetlink(); !probe.ok()) return probe;
  nft_ctx* ctx = ::nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return Status::Internal("cannot create a libnftables context");
  ::nft_ctx_buffer_output(ctx);
  ::nft_ctx_buffer_error(ctx);
  // Numbers, not service names or "15m": what ParseNftSetElements reads.
  ::nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_NUMERIC_ALL);
  return std::unique_ptr<NftClientBlocker>(new NftClientBlocker(std::move(options), ctx));
}

NftClientBlocker::NftClientBlocker(NftClientBlockerOptions options, nft_ctx* ctx)
    : options_(std::move(options)), ctx_(ctx) {}

NftClientBlocker::~NftClientBlocker() {
  if (ctx_ != nullptr) ::nft_ctx_free(ctx_);
}

std::string NftClientBlocker::Where() const { return "nftables table inet " + options_.table; }

StatusOr<std::string> NftClientBlocker::RunLocked(const std::string& commands,
                                                  std::string_view what) {
  const int rc = ::nft_run_cmd_from_buffer(ctx_, commands.c_str());
  // Reading a buffer also empties it for the next command.
  const char* out = ::nft_ctx_get_output_buffer(ctx_);
  const char* err = ::nft_ctx_get_error_buffer(ctx_);
  std::string output = out ? out : "";
  std::string error = err ? err : "";
  if (rc != 0) return NftError(what, error);
  return output;
}

Status NftClientBlocker::PrepareLocked() {
  const std::string& t = options_.table;
  // `add` leaves what exists alone; the chain's rules are rewritten in the same transaction (its
  // own chain only), so a changed steen or a hand-edited rule is put right, and the sets, with the
  // blocks in force, are never touched.
  std::string script = fmt::format(
      "add table inet {t} {{ comment \"steen watch: SMB clients refused after a ransomware alert; "
      "steen resume releases them\"; }}\n"
      "add set inet {t} {s4} {{ type ipv4_addr . inet_service; flags timeout; }}\n"
      "add set inet {t} {s6} {{ type ipv6_addr . inet_service; flags timeout; }}\n"
      "add chain inet {t} {c} {{ type filter hook input priority filter - 1; policy accept; }}\n"
      "flush chain inet {t} {c}\n"
      "add rule inet {t} {c} ip saddr . tcp dport @{s4} counter reject with tcp reset\n"
      "add rule inet {t} {c} ip6 saddr . tcp dport @{s6} counter reject with tcp reset\n",
      fmt::arg("t", t), fmt::arg("s4", kSet4), fmt::arg("s6", kSet6), fmt::arg("c", kChain));
  auto ran = RunLocked(script, "creating " + Where());
  if (!ran.ok()) return ran.status();
  prepared_ = true;
  return Status::Ok();
}

Status NftClientBlocker::Prepare() {
  std::lock_guard lock(mu_);
  return PrepareLocked();
}

Status NftClientBlocker::Block(std::string_view address, const std::vector<uint16_t>& ports,
                               std::chrono::seconds duration) {
  auto canonical = CanonicalAddress(address);
  if (!canonical.ok()) return canonical.status();
  if (Status checked = CheckPorts(ports); !checked.ok()) return checked;
  if (duration.count() < 1 || duration.count() > limits::kMaxSmbBlockSeconds) {
    return Status::InvalidArgument(fmt::format("block duration {} s: expected 1 to {} s",
                                               duration.count(), limits::kMaxSmbBlockSeconds));
  }
  const bool v6 = canonical->find(':') != std::string::npos;
  const std::string_view set = v6 ? kSet6 : kSet4;
  std::string with_timeout, keys;
  for (uint16_t port : ports) {
    if (!keys.empty()) {
      keys += ", ";
      with_timeout += ", ";
    }
    keys += fmt::format("{} . {}", *canonical, port);
    with_timeout += fmt::format("{} . {} timeout {}s", *canonical, port, duration.count());
  }
  // add + delete + add: whether or not the element exists, it ends up with the full new timeout
  // (older kernels keep the old timeout of an element added again), in one transaction.
  const std::string elements = fmt::format(
      "add element inet {t} {s} {{ {e} }}\ndelete element inet {t} {s} {{ {k} }}\n"
      "add element inet {t} {s} {{ {e} }}\n",
      fmt::arg("t", options_.table), fmt::arg("s", set), fmt::arg("e", with_timeout),
      fmt::arg("k", keys));
  const std::string what =
      fmt::format("refusing {} on tcp {} in {}", *canonical, FormatPorts(ports), Where());
  std::lock_guard lock(mu_);
  if (!prepared_) {
    if (Status prepared = PrepareLocked(); !prepared.ok()) return prepared;
  }
  auto ran = RunLocked(elements, what);
  if (ran.ok()) return Status::Ok();
  if (ran.status().code() != Status::Code::kNotFound) return ran.status();
  // The table went away under us (`nft flush ruleset`, a reloaded firewall): make it again.
  if (Status prepared = PrepareLocked(); !prepared.ok()) return prepared;
  auto again = RunLocked(elements, what);
  return again.ok() ? Status::Ok() : again.status();
}

StatusOr<std::vector<BlockedClient>> NftClientBlocker::ListLocked() {
  std::vector<BlockedClient> all;
  for (std::string_view set : {kSet4, kSet6}) {
    auto listing =
        RunLocked(fmt::format("list set inet {} {}", options_.table, set), "listing " + Where());
    if (!listing.ok()) {
      if (listing.status().code() == Status::Code::kNotFound) continue;  // nothing blocked
      return listing.status();
    }
    for (BlockedClient& client : ParseNftSetElements(*listing)) all.push_back(std::move(client));
  }
  return all;
}

StatusOr<std::vector<BlockedClient>> NftClientBlocker::List() {
  std::lock_guard lock(mu_);
  return ListLocked();
}

Status NftClientBlocker::RemoveIfUnused() {
  std::lock_guard lock(mu_);
  auto blocked = ListLocked();
  if (!blocked.ok()) return blocked.status();
  if (!blocked->empty()) return Status::Ok();
  auto deleted = RunLocked("delete table inet " + options_.table + "\n", "remove the table");
  if (!deleted.ok() && deleted.status().code() != Status::Code::kNotFound) return deleted.status();
  return Status::Ok();
}

Status NftClientBlocker::Unblock(std::string_view address) {
  auto canonical = CanonicalAddress(address);
  if (!canonical.ok()) return canonical.status();
  const bool v6 = canonical->find(':') != std::string::npos;
  std::lock_guard lock(mu_);
  auto blocked = ListLocked();
  if (!blocked.ok()) return blocked.status();
  std::vector<uint16_t> ports;
  for (const BlockedClient& client : *blocked) {
    if (client.address == *canonical) ports = client.ports;
  }
  if (ports.empty()) return Status::Ok();
  std::string keys, with_timeout;
  for (uint16_t port : ports) {
    if (!keys.empty()) {
      keys += ", ";
      with_timeout += ", ";
    }
    keys += fmt::format("{} . {}", *canonical, port);
    with_timeout += fmt::format("{} . {} timeout 1s", *canonical, port);
  }
  // add + delete: the delete cannot fail on an element that expired since it was listed.
  const std::string_view set = v6 ? kSet6 : kSet4;
  auto ran = RunLocked(fmt::format("add element inet {t} {s} {{ {e} }}\n"
                                   "delete element inet {t} {s} {{ {k} }}\n",
                                   fmt::arg("t", options_.table), fmt::arg("s", set),
                                   fmt::arg("e", with_timeout), fmt::arg("k", keys)),
                       fmt::format("releasing {} in {}", *canonical, Where()));
  return ran.ok() ? Status::Ok() : ran.status();
}

// ---- RecordingClientBlocker
// ----------------------------------------------------------------------

Status RecordingClientBlocker::Block(std::string_view address, const std::vector<uint16_t>& ports,
                                     std::chrono::seconds duration) {
  std::lock_guard lock(mu_);
  calls_.push_back({"block", std::string(address), ports, duration});
  if (!fail_.ok()) return fail_;
  auto canonical = CanonicalAddress(address);
  if (!canonical.ok()) return canonical.status();
  for (auto& b : blocked_) {
    if (b.address == *canonical) {
      b.ports = ports;
      b.timeout = b.expires_in = duration;
      return Status::Ok();
    }
  }
  blocked_.push_back({*canonical, ports, duration, duration});
  return Status::Ok();
}

Status RecordingClientBlocker::Unblock(std::string_view address) {
  std::lock_guard lock(mu_);
  calls_.push_back({"unblock", std::string(address), {}, {}});
  if (!fail_.ok()) return fail_;
  std::erase_if(blocked_, [&](const BlockedClient& b) { return b.address == address; });
  return Status::Ok();
}

StatusOr<std::vector<BlockedClient>> RecordingClientBlocker::List() {
  std::lock_guard lock(mu_);
  if (!fail_.ok()) return fail_;
  return blocked_;
}

}  // namespace steen::sys
