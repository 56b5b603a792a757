// Configuration of `steen watch`: one YAML file (default /etc/steen/steen.yaml, documented key by
// key in config/steen.yaml), `-o key=value` overrides and the paths given on the command line,
// merged into one WatchConfig and validated in one pass that reports EVERY problem at once.
//
// Keys are dotted paths into the YAML tree ("detect.alert_score", "outputs.0.type"); overrides use
// the same names and are applied to the tree before conversion, so they get exactly the same
// validation as the file. Design: docs/design/config.md.
//
// Not thread-safe; the daemon loads its config once at start-up (and again on reload) and hands
// copies to its threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "steen/detect.h"
#include "steen/limits.h"
#include "steen/outputs.h"
#include "steen/status.h"

namespace steen::watch {

// Where packaged installs keep the config. The CLI may load it when no --config is given and it
// exists; `steen watch PATH...` works without any file (DefaultConfig()).
inline constexpr std::string_view kDefaultConfigPath = "/etc/steen/steen.yaml";

// What the response does to the processes an alert names.
enum class Action {
  kAlert,    // report only; never signal anything
  kSuspend,  // SIGSTOP (the operator resumes or kills: `steen resume|kill`); see kill_after
  kKill,     // SIGKILL at once (no way back for a false positive: not the default)
};
std::string_view ToString(Action action);  // "alert" | "suspend" | "kill"

// One alert destination. Only the options of `type` are used (and rendered).
struct OutputSpec {
  enum class Type { kStdout, kFile, kSyslog, kJournald };
  Type type = Type::kStdout;
  outputs::JsonLinesFileOptions file;  // kFile: path (required, absolute), mode, fsync_each
  // kSyslog: host (required), port, transport (udp|tcp), facility (0..23 or a name such as
  // "local0"), app_name. The other SyslogOptions fields keep their defaults.
  outputs::SyslogOptions syslog;
  outputs::JournaldOptions journald;  // kJournald: socket_path (empty: the system journal)
};
std::string_view ToString(OutputSpec::Type type);  // "stdout" | "file" | "syslog" | "journald"

// Decoy files the daemon plants in protected folders: any write, rename or delete of one is an
// alert at once (DetectConfig::weight_canary). Names are plain, plausible office/pdf names:
// ransomware skips hidden files, so names starting with '.' are refused.
struct CanaryConfig {
  bool enabled = true;
  // How many folders get one canary, top levels first (breadth-first from each path).
  int max_directories = 64;
  // File-name templates; the daemon picks one per folder. "{folder}" is replaced by the folder's
  // name (so "{folder} budget.xlsx" in /srv/share/finance is "finance budget.xlsx").
  std::vector<std::string> names = {"2024 budget review.xlsx", "board minutes.docx",
                                    "contracts overview.pdf", "{folder} inventory.xlsx"};
};

// Protective copies (issue 5): the content of a file before a process writes it, and the data of
// files deleted or renamed over (kept by a hard link, so the vault must be on the same filesystem
// as the trees for those). See docs/design/vault.md.
struct VaultConfig {
  bool enabled = true;
  // Absolute; empty = STATE_DIR/vault. Must not be inside a protected path.
  std::string dir;
  int64_t max_bytes = static_cast<int64_t>(limits::kDefaultVaultMaxBytes);
  int64_t max_files = static_cast<int64_t>(limits::kDefaultVaultMaxFiles);
  std::chrono::seconds retention{limits::kDefaultVaultRetentionSeconds};
  // Larger files are not copied at open-for-write (only kept by link; the gap is alerted).
  int64_t max_file_bytes = static_cast<int64_t>(limits::kDefaultVaultMaxFileBytes);
  // Free space the vault leaves on its filesystem for the users' own writes (0 = none).
  int64_t min_free_bytes = static_cast<int64_t>(limits::kDefaultVaultMinFreeBytes);
};

// Containment per SMB client (issue 6): on a Samba server the writer is the smbd child serving
// one client, so containing "the client" means every smbd serving that client's address (not
// only the pid that wrote), and refusing its reconnection for a while at the firewall
// (nftables). Other clients' sessions are never touched. See docs/design/smb.md.
struct SmbConfig {
  // Suspend (or kill) every smbd serving the address of an alert's smbd, not only the writers.
  bool contain_client = true;
  // Refuse the client's connections to `ports` for `block_seconds` (the kernel lifts the block
  // by itself; `steen resume` lifts it at once).
  bool block_reconnect = true;
  int64_t block_seconds = limits::kDefaultSmbBlockSeconds;  // 1 .. kMaxSmbBlockSeconds
  std::vector<uint16_t> ports = {445, 139};                 // SMB direct and NetBIOS session
  // The nftables table (family inet) steen owns for the blocks; tests use one of their own.
  std::string nft_table = "steen";
};

struct WatchConfig {
  // Protected trees: absolute, canonical directories accepted by sys::ValidateWatchRoot, not
  // nested in one another. At least one is required (from the file or the command line).
  std::vector<std::string> paths;

  // Scoring engine settings. The policies live here and ONLY here (one place):
  //   detect.exclusions  <- YAML `exclusions.*` (paths, exe_paths, exe_sha256, users, uids)
  //   detect.response    <- YAML `response.*` (protected_exes, allowed_exes, allowed_comms,
  //                         allowed_users). The daemon fills self_pid/self_exe and
  //                         exclusions.pids (its own pid) at start-up; they are not config.
  DetectConfig detect;

  Action action = Action::kSuspend;  // YAML response.action
  // YAML response.kill_after. 0 = never. With kSuspend: a suspended process is killed after
  // this grace unless the operator resumed it (or resolved the incident) first.
  std::chrono::seconds kill_after{0};
  // YAML response.hold_suspect_writes. A process (tree, SMB client) that destroyed content waits
  // at its next open for writing until its writes in flight are judged, at most this long
  // (watch/write_hold.h). 0 = never; at most permission_deadline. Off in dry run.
  std::chrono::milliseconds hold_suspect_writes{limits::kDefaultHoldSuspectWritesMs};
  // Decide and report, never signal (alerts carry ResponseAction::kDryRun). --dry-run forces it.
  bool dry_run = false;

  // FAN_OPEN_PERM on the trees: lets the daemon act before a write lands. Off: notification only.
  bool permission_events = true;
  // A permission event not answered in time is allowed; range [kMinPermissionDeadlineMs,
  // kMaxPermissionDeadlineMs].
  std::chrono::milliseconds permission_deadline{limits::kPermissionDeadlineMs};

  // Daemon state (incidents.db lives here). Absolute; created by the daemon if missing.
  std::string state_dir = "/var/lib/steen";

  CanaryConfig canaries;
  VaultConfig vault;
  SmbConfig smb;

  // Default: one JSON-lines sink on stdout. Never empty after loading.
  std::vector<OutputSpec> outputs = {OutputSpec{}};

  // The pipeline reports itself stalled (health alert, and systemd WATCHDOG=trigger when run as
  // a service) when no event batch completed for this long while events are pending. 0 = off.
  std::chrono::seconds watchdog{30};
  // The daemon's scheduling priority (setpriority(2), -20 .. 19), set before its threads start:
  // below 0 so that a writer keeping every core busy cannot delay its own judgement.
  int nice = limits::kDefaultDaemonNice;
  // After a queue overflow or a restart, files changed within this look-back window are
  // re-examined (events for them may have been lost). 0 = no rescan.
  std::chrono::seconds rescan_lookback{600};

  // ---- Provenance (filled by LoadWatchConfig; not configuration, never rendered) ----
  std::string source;  // the config file loaded, empty when none
  // Problems that do not stop the daemon, in the same "where: key: what" form as errors: user
  // names NSS does not know (yet), excluded executables that do not exist (yet), ...
  std::vector<std::string> warnings;
};

// The vault folder a config means (vault.dir, or STATE_DIR/vault).
std::string VaultDir(const WatchConfig& config);

// The built-in defaults (no paths): what every key of config/steen.yaml defaults to.
WatchConfig DefaultConfig();

struct ConfigSources {
  std::optional<std::string> config_file;  // YAML file; none: defaults only
  std::vector<std::string> overrides;      // "key=value", applied in order after the file
  // Paths from the command line. Non-empty: they REPLACE `paths` of the file. Relative ones are
  // resolved against the working directory (the shell user meant them so).
  std::vector<std::string> cli_paths;
  bool dry_run = false;  // --dry-run; true forces dry_run, false keeps the file's value
};

// Reads, merges and validates. On failure the status (kInvalidArgument, or kIoError/kNotFound for
// an unreadable file) lists every problem found, one per line after a summary line:
//   config has 2 errors:
//     /etc/steen/steen.yaml:12:16: detect.alert_score: expected a number > 0, found -5
//     -o respons.action=kill: unknown key 'respons' (did you mean 'response'?)
StatusOr<WatchConfig> LoadWatchConfig(const ConfigSources& sources);

// The effective config as commented-free YAML, every key with its value (defaults included), in
// the order of config/steen.yaml. Loading the rendered text gives the same WatchConfig.
std::string RenderConfig(const WatchConfig& config);

// Every configurable dotted key ("detect.alert_score", "response.action", "outputs", ...);
// outputs.N.* keys are listed once as "outputs.N.<field>".
std::vector<std::string> ConfigKeys();

// One sink per OutputSpec, in order. Fails on the first sink that cannot be made (file not
// writable, syslog host not resolvable), naming the output ("outputs.1 (file /x): ...").
StatusOr<std::vector<std::unique_ptr<outputs::AlertSink>>> MakeSinks(const WatchConfig& config);

}  // namespace steen::watch
