// Samba attribution: which SMB client an smbd process serves. On a file server the writer the
// kernel reports for a remote client is Samba's smbd (one child per client connection), so
// "who did it" must be the client behind that child: its address, its user, its machine name and
// the share(s) it has connected.
//
// The address comes from the kernel, not from Samba: the peer of the TCP socket(s) the smbd child
// holds (/proc/PID/fd -> socket:[INODE] -> /proc/PID/net/tcp and tcp6). That needs no Samba
// configuration, works for any smbd (system or private), and cannot be spoofed by the client.
// The user and machine name come from smbd's own session table (`smbstatus -b --json`), the shares
// from its tree connects (`smbstatus -S --json`), both read in the background and cached; the
// effective uid of the smbd child is the fallback for the user.
//
// All reads go through the FileOpener seam and only under /proc (never inside a marked tree).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "steen/event.h"
#include "steen/limits.h"
#include "steen/status.h"
#include "sys/clock.h"
#include "sys/file_opener.h"
#include "sys/proc.h"

namespace steen::sys {

// One smbd child and the client it serves.
struct SmbSession {
  pid_t pid = 0;
  uint64_t start_time = 0;     // /proc/PID/stat field 22 (tells a reused pid apart)
  std::string client_address;  // "198.18.0.2" or an IPv6 address in its canonical text form
  std::string user;            // the session's user ("bob", or "DOMAIN\bob" as smbstatus says)
  std::string machine;         // the client's machine name when Samba knows it, else empty
  // The file shares the client has connected through this smbd ("share", several sorted and
  // joined with ","; IPC$ left out), else empty. May change when the client connects another.
  std::string share;
};

// True when a process is an smbd (by executable or comm): the processes attribution applies to.
bool IsSmbdProcess(std::string_view comm, std::string_view exe);

// Puts the session's client (address, user, machine, share) into the actor's SMB fields.
void FillSmbFields(const SmbSession& session, Actor* actor);

class SmbSessionTable {
 public:
  virtual ~SmbSessionTable() = default;
  // The client of smbd process `pid` (cached by pid and start time); nothing when `pid` is not
  // an smbd child serving a TCP client (the main smbd, a gone process, a local socket).
  virtual std::optional<SmbSession> ForPid(pid_t pid) = 0;
  // Every live smbd process serving `client_address` now (a client may hold several connections,
  // and reconnects under a new pid): what containment suspends.
  virtual std::vector<SmbSession> ServingClient(std::string_view client_address) = 0;
};

// ---- Pure parsing (unit-tested with odd inputs) -------------------------------------------------

// TCP states as /proc/net/tcp prints them (include/net/tcp_states.h).
inline constexpr int kTcpEstablished = 0x01;
inline constexpr int kTcpListen = 0x0A;

// One row of /proc/PID/net/tcp or tcp6.
struct TcpSocketRow {
  std::string local_address;  // text form, as DecodeProcNetAddress gives it
  uint16_t local_port = 0;
  std::string remote_address;
  uint16_t remote_port = 0;
  int state = 0;
  uint64_t inode = 0;
};
// Nothing for the header line and anything malformed.
std::optional<TcpSocketRow> ParseProcNetTcpLine(std::string_view line);

// The kernel prints an address as 32-bit words, each "%08X" of the word in host byte order:
// 8 hex digits (IPv4, "0100007F" is 127.0.0.1 on x86) or 32 (IPv6). IPv4-mapped IPv6
// (::ffff:a.b.c.d) comes out as "a.b.c.d", other IPv6 in inet_ntop's canonical form.
std::optional<std::string> DecodeProcNetAddress(std::string_view hex);

// "socket:[12345]" (a /proc/PID/fd link) -> 12345.
std::optional<uint64_t> ParseSocketLink(std::string_view link);

// The canonical text of an address (as DecodeProcNetAddress prints it: "::ffff:1.2.3.4" ->
// "1.2.3.4", "2001:DB8:0::1" -> "2001:db8::1"); "" when `text` is no address.
std::string CanonicalIpAddress(std::string_view text);

// The smb.conf an smbd was started with, from its /proc/PID/cmdline (NUL-separated arguments;
// its children inherit it): "--configfile=P", "--configfile P", "-s P", "-sP". "" = the default.
std::string SmbdConfigFileFromCmdline(std::string_view cmdline);

// One session of `smbstatus -b --json` (Samba 4.17: {"sessions": {"ID": {"server_id": {"pid":
// "6433", ...}, "uid": 1001, "username": "bob", "remote_machine": "WS1", "hostname":
// "ipv4:198.18.0.2:48750", ...}}}), with the shares of its smbd from `smbstatus -S --json`
// ({"tcons": {"ID": {"service": "share", "server_id": {"pid": "6433", ...}, "tcon_id": ...,
// "session_id": ..., "machine": "198.18.0.2", ...}}}).
struct SmbStatusSession {
  pid_t pid = 0;
  std::optional<uid_t> uid;
  std::string user;
  // The client's name when Samba knows one: remote_machine unless it is only an address (it is
  // the address when the client sent no NetBIOS name, as SMB2+ clients on port 445 do).
  std::string machine;
  // The services of the smbd's tree connects ("tcons"), IPC$ left out: sorted, unique, at most
  // kMaxSmbSharesPerProcess names of at most 256 bytes, joined with ","; empty when none.
  std::string share;
  // False: the pid is only in "tcons" (no session listed for it): only `share` is known.
  bool in_sessions = true;
};
// Shares kept per smbd (the smallest names when it has connected more).
inline constexpr std::size_t kMaxSmbSharesPerProcess = 16;
// Reads "sessions" and "tcons" (either may be missing). Entries with missing or mistyped fields
// are skipped (a pid given as number or text is taken); error when `json` is not JSON or not an
// object, or longer than `max_bytes`. At most `max_sessions` are returned: the sessions, then one
// entry (in_sessions false) for each pid that has shares but no session, in pid order.
StatusOr<std::vector<SmbStatusSession>> ParseSmbStatusJson(
    std::string_view json, std::size_t max_bytes = limits::kMaxSmbStatusOutputBytes,
    std::size_t max_sessions = limits::kMaxSmbStatusSessions);

// The outputs of `smbstatus -b --json` and `smbstatus -S --json` as one object {"sessions": ...,
// "tcons": ...} for ParseSmbStatusJson (Samba 4.17 prints neither with `-b -S`, and plain
// `smbstatus --json` adds every open file). `sessions_json` is returned as it is when it is no
// JSON object (ParseSmbStatusJson then says why), and when `tcons_json` is no JSON object with
// "tcons", either is longer than `max_bytes` or the merge would be: the sessions still count.
std::string MergeSmbStatusJson(std::string_view sessions_json, std::string_view tcons_json,
                               std::size_t max_bytes = limits::kMaxSmbStatusOutputBytes);

// Runs `argv` (argv[0] looked up in PATH) with stdin and stderr on /dev/null and returns its
// stdout. Error when it cannot start, runs longer than `timeout` or writes more than `max_bytes`
// (it is then killed), exits non-zero, or `cancel` becomes true (checked every 100 ms).
StatusOr<std::string> RunAndCapture(const std::vector<std::string>& argv,
                                    std::chrono::milliseconds timeout, std::size_t max_bytes,
                                    const std::atomic<bool>* cancel = nullptr);

// ---- The /proc + smbstatus implementation ------------------------------------------------------

struct ProcSmbSessionTableOptions {
  FileOpener* opener = nullptr;  // default: DefaultFileOpener()
  Clock* clock = nullptr;        // default: RealClock
  std::string proc_root = "/proc";
  // smbstatus for one smbd family ("" = the default smb.conf): its sessions and tree connects as
  // ParseSmbStatusJson reads them. Default: RunAndCapture({"smbstatus", "-b", "--json",
  // ["--configfile=F"]}) and the same with "-S", merged by MergeSmbStatusJson (a failed "-S" run
  // leaves the sessions alone). Tests replace it.
  std::function<StatusOr<std::string>(const std::string& config_file)> run_smbstatus;
  bool use_smbstatus = true;  // false: address + effective-uid user only
  // smbstatus runs for a family at most this often (it runs only when a new smbd child is seen).
  std::chrono::milliseconds smbstatus_interval{limits::kSmbStatusIntervalMs};
  std::chrono::milliseconds smbstatus_timeout{limits::kSmbStatusTimeoutMs};
};

struct SmbSessionStats {
  uint64_t lookups = 0;   // smbd processes looked up (ForPid, ServingClient)
  uint64_t sessions = 0;  // smbd children found serving a TCP client (first sight)
  uint64_t no_peer = 0;   // smbd processes without a client (main smbd, helpers)
  uint64_t smbstatus_runs = 0;
  uint64_t smbstatus_failures = 0;   // missing, timed out, non-zero exit or unparsable output
  uint64_t smbstatus_filled = 0;     // sessions smbstatus answered for
  std::string last_smbstatus_error;  // why the last failed run failed (health output)
};

// Finds an smbd child's client from /proc (see the top of this file) and its user and machine
// from smbstatus, run on a worker thread of its own: ForPid and ServingClient never wait for a
// subprocess (they may run on the thread that answers permission events).
//
// The user of a session never changes once known, because the detector keys the SMB client
// scope on address + user: it is the user of the child's effective uid at first sight when that
// is not root (smbd runs as the session's user while it serves it), else the first user
// smbstatus gives. smbstatus fills the machine name, and the user only when it was still empty.
// The share is taken from every smbstatus answer that lists the child's tree connects (it is no
// scope key: a client connecting another share changes it).
// The smb.conf of each smbd family is read from its command line, so private smbds (tests,
// containers) are asked with their own configuration and the system one with the default.
// A child that has exited but is not reaped yet (a zombie) still gives ForPid what was known of
// it (its last events are read late), and serves nobody for ServingClient.
class ProcSmbSessionTable : public SmbSessionTable {
 public:
  explicit ProcSmbSessionTable(ProcSmbSessionTableOptions options = {});
  ~ProcSmbSessionTable() override;  // stops the worker (kills a running smbstatus)
  ProcSmbSessionTable(const ProcSmbSessionTable&) = delete;
  ProcSmbSessionTable& operator=(const ProcSmbSessionTable&) = delete;

  std::optional<SmbSession> ForPid(pid_t pid) override;
  std::vector<SmbSession> ServingClient(std::string_view client_address) override;
  SmbSessionStats Stats() const;
  // Tests: waits (at most `timeout`) until no smbstatus run is wanted or running.
  bool WaitIdle(std::chrono::milliseconds timeout);

 private:
  struct Entry {
    uint64_t start_time = 0;
    std::vector<std::string> peers;  // client addresses, the main connection first; empty: none
    std::string user;
    std::string machine;
    std::string share;
    std::string config_file;
    uid_t euid = 0;
    bool status_done = false;  // smbstatus answered for it (or gave up)
    int status_attempts = 0;
    uint64_t checked_ns = 0;  // when the peers were read (a client-less smbd is read again later)
    uint64_t used_ns = 0;
  };
  struct Family {
    bool wanted = false;
    uint64_t last_run_ns = 0;
    int failures_in_a_row = 0;
  };
  std::string ProcPath(pid_t pid, const char* file) const;
  // Client addresses of the TCP connections `pid` holds; the accepted ones (their local port is
  // listened on) first. `tables` caches net/tcp rows by network namespace for a /proc walk.
  std::vector<std::string> ReadPeers(
      pid_t pid, std::map<std::string, std::vector<TcpSocketRow>>* tables = nullptr);
  // `live_only`: nothing for an exited (zombie) process, even a known one.
  std::optional<SmbSession> Lookup(pid_t pid,
                                   std::map<std::string, std::vector<TcpSocketRow>>* tables,
                                   bool live_only);
  void EvictOneLocked();
  void Worker();
  void Apply(const std::string& config_file, const std::vector<SmbStatusSession>* sessions);
  void PruneGone();

  ProcSmbSessionTableOptions options_;
  FileOpener* opener_;
  Clock* clock_;
  UserNames users_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // wakes the worker
  std::condition_variable idle_cv_;  // wakes WaitIdle
  std::unordered_map<pid_t, Entry> entries_;
  std::map<std::string, Family> families_;
  bool running_ = false;
  std::string last_error_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> lookups_{0}, sessions_{0}, no_peer_{0}, runs_{0}, failures_{0}, filled_{0};
  std::thread worker_;
};

}  // namespace steen::sys
