// Refusing an SMB client's connections for a while: what containment per client adds to SIGSTOP.
// A suspended smbd session ends when the operator kills it, and a client that is still infected
// would simply reconnect under a new smbd; so the client's address is refused at the firewall.
//
// NftClientBlocker owns one nftables table (`inet steen` unless told otherwise) and nothing else:
//
//   table inet steen {
//     set blocked_ipv4 { type ipv4_addr . inet_service; flags timeout; }   # address . port
//     set blocked_ipv6 { type ipv6_addr . inet_service; flags timeout; }
//     chain input { type filter hook input priority filter - 1; policy accept;
//       ip saddr . tcp dport @blocked_ipv4 counter reject with tcp reset
//       ip6 saddr . tcp dport @blocked_ipv6 counter reject with tcp reset }
//   }
//
// * The kernel expires each element itself (`flags timeout`): no timer in steen to lose when it
//   stops or crashes; a block outlives the daemon and ends on time.
// * Stateless: every packet from the address to a blocked port is refused, those of connections
//   already established included (no `ct state new`). A session opened between the moment the
//   client's smbd processes were listed and the block is cut too, and the client is told at once
//   (TCP reset) instead of retrying into silence.
// * Ports are part of each element, so the chain never changes with the configuration and no
//   other steen process (the CLI releasing a block) can rewrite it.
// * Creating the table is idempotent (`add`, never `flush ruleset`, never another table). The
//   chain's two rules are rewritten in the same transaction, the sets keep their elements, so a
//   restarted daemon keeps every block in force.
//
// Addresses are parsed (inet_pton) and printed back canonically before any command is built:
// no text from outside is ever interpolated into an nftables command. See docs/design/smb.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "steen/status.h"

struct nft_ctx;

namespace steen::sys {

// The canonical text of an IP address ("198.18.0.2", "2001:db8::1"). An IPv4-mapped IPv6 address
// ("::ffff:198.18.0.2", how a dual-stack smbd sees IPv4 clients) becomes its IPv4 form: the
// packets to refuse are IPv4 packets. InvalidArgument for anything else (host names, prefixes,
// ports, spaces, empty).
StatusOr<std::string> CanonicalAddress(std::string_view text);

// Ports "445,139" and back.
std::string FormatPorts(const std::vector<uint16_t>& ports);

// One address refused now, as the kernel reports it (one entry per address: its ports merged).
struct BlockedClient {
  std::string address;
  std::vector<uint16_t> ports;
  std::chrono::seconds timeout{0};     // as installed (the longest of its ports)
  std::chrono::seconds expires_in{0};  // left before the kernel lifts it
};

class ClientBlocker {
 public:
  virtual ~ClientBlocker() = default;
  // Refuses TCP from `address` to `ports` for `duration` (1 s .. limits::kMaxSmbBlockSeconds).
  // Blocking an address again renews its time. InvalidArgument for a bad address, port or
  // duration (nothing is run); otherwise the firewall's own error, with what to do about it.
  virtual Status Block(std::string_view address, const std::vector<uint16_t>& ports,
                       std::chrono::seconds duration) = 0;
  // Lifts every block of `address` (whatever its ports). Ok when there was none (expired,
  // released before, table gone).
  virtual Status Unblock(std::string_view address) = 0;
  // Every address refused now.
  virtual StatusOr<std::vector<BlockedClient>> List() = 0;
  // Where the blocks live, for records and messages: "nftables table inet steen".
  virtual std::string Where() const = 0;
};

struct NftClientBlockerOptions {
  // The table steen owns (family inet). Tests use a name of their own. Letters, digits and '_',
  // starting with a letter, at most 32 bytes.
  std::string table = "steen";
};

class NftClientBlocker : public ClientBlocker {
 public:
  // Checks the table name, CAP_NET_ADMIN and that a netlink socket can be opened, then creates
  // the libnftables context (kept open: later blocks need no new socket). Nothing is installed
  // yet. Fails with a message naming what is missing and how to grant it (libnftables itself
  // would exit() the whole process when it cannot open its netlink socket).
  static StatusOr<std::unique_ptr<NftClientBlocker>> Create(NftClientBlockerOptions options = {});
  ~NftClientBlocker() override;
  NftClientBlocker(const NftClientBlocker&) = delete;
  NftClientBlocker& operator=(const NftClientBlocker&) = delete;

  // Creates the table, sets and chain when missing and rewrites the chain's rules (idempotent;
  // never touches the sets' elements or any other table). Block does it when needed; the daemon
  // calls it at start-up so a firewall problem is reported before the first alert.
  Status Prepare();

  Status Block(std::string_view address, const std::vector<uint16_t>& ports,
               std::chrono::seconds duration) override;
  Status Unblock(std::string_view address) override;
  StatusOr<std::vector<BlockedClient>> List() override;
  std::string Where() const override;
  // At a clean stop: deletes steen's table when no block is in force, so a stopped steen leaves
  // nothing in the ruleset; a table holding blocks stays (they expire in the kernel). Only steen
  // releases blocks, so a block cannot appear between the listing and the delete unless a second
  // daemon shares the table (then it is put back at that daemon's next block or reconciliation).
  Status RemoveIfUnused();

  const std::string& table() const { return options_.table; }

 private:
  NftClientBlocker(NftClientBlockerOptions options, nft_ctx* ctx);
  // Runs one nftables script (one transaction) and returns its output; errors carry nft's own
  // message. Called with mu_ held.
  StatusOr<std::string> RunLocked(const std::string& commands, std::string_view what);
  Status PrepareLocked();
  StatusOr<std::vector<BlockedClient>> ListLocked();

  NftClientBlockerOptions options_;
  std::mutex mu_;  // a libnftables context is not thread-safe
  nft_ctx* ctx_ = nullptr;
  bool prepared_ = false;
};

// Stands in when the firewall cannot be used at all (no libnftables context could be made): every
// Block fails with the reason found at start-up, so each alert says why its client was not
// refused.
class UnavailableClientBlocker : public ClientBlocker {
 public:
  explicit UnavailableClientBlocker(Status reason, std::string where = "nftables")
      : reason_(std::move(reason)), where_(std::move(where)) {}
  Status Block(std::string_view, const std::vector<uint16_t>&, std::chrono::seconds) override {
    return reason_;
  }
  Status Unblock(std::string_view) override { return reason_; }
  StatusOr<std::vector<BlockedClient>> List() override { return reason_; }
  std::string Where() const override { return where_; }

 private:
  Status reason_;
  std::string where_;
};

// For tests: records calls, keeps blocks in memory, fails on demand.
class RecordingClientBlocker : public ClientBlocker {
 public:
  struct Call {
    std::string action;  // "block" | "unblock"
    std::string address;
    std::vector<uint16_t> ports;
    std::chrono::seconds duration{0};
  };
  Status Block(std::string_view address, const std::vector<uint16_t>& ports,
               std::chrono::seconds duration) override;
  Status Unblock(std::string_view address) override;
  StatusOr<std::vector<BlockedClient>> List() override;
  std::string Where() const override { return "test blocker"; }

  void FailWith(Status status) {
    std::lock_guard lock(mu_);
    fail_ = std::move(status);
  }
  std::vector<Call> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  bool IsBlocked(const std::string& address) {
    std::lock_guard lock(mu_);
    for (const auto& b : blocked_) {
      if (b.address == address) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  Status fail_;
  std::vector<Call> calls_;
  std::vector<BlockedClient> blocked_;
};

// Parses the elements of `nft list set` output for one of steen's sets (numeric output:
// "198.18.0.2 . 445 timeout 900s expires 899s"). Exposed for tests.
std::vector<BlockedClient> ParseNftSetElements(std::string_view listing);

}  // namespace steen::sys
