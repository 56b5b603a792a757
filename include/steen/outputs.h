// Alert outputs: one Alert type fanned out to pluggable sinks (Falco style). Each sink maps the
// Alert to its own format; the mappings are plain functions so tests can check them byte for byte.
//
//   AlertFanout ─┬─► JSON lines (ECS) to a file or stdout
//                ├─► syslog RFC 5424 over UDP or TCP (RFC 6587 octet counting)
//                └─► journald native protocol (unix datagram socket)
//
// Thread safety: a sink is used by one thread at a time (AlertFanout gives each sink its own worker
// thread). AlertFanout itself is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "steen/alert.h"
#include "steen/status.h"

namespace steen::outputs {

// ---- Bounds (defaults of the options below; kept here because they are per-output settings) ----
// Alerts queued per sink before new ones are dropped (and counted) rather than blocking the caller.
inline constexpr std::size_t kDefaultSinkQueueCapacity = 1024;
// RFC 5424 §6.1: every receiver SHOULD accept 2048 octets; larger messages may be cut or dropped.
inline constexpr std::size_t kDefaultSyslogMaxMessageBytes = 2048;
// Ceiling of the configurable syslog message size (rsyslog accepts 8 KiB unless configured).
inline constexpr std::size_t kMaxSyslogMessageBytes = 63 * 1024;  // fits one UDP datagram
// TCP syslog: connect and send each wait at most this long, so a dead collector cannot stall
// alerts.
inline constexpr int kDefaultSyslogConnectTimeoutMs = 1000;
inline constexpr int kDefaultSyslogSendTimeoutMs = 1000;
// TCP syslog reconnect backoff: doubles from min to max after each failed attempt.
inline constexpr int kDefaultSyslogBackoffMinMs = 100;
inline constexpr int kDefaultSyslogBackoffMaxMs = 30000;
// How long Stop() waits for queued alerts to drain before giving up (the rest count as dropped).
inline constexpr int kDefaultFanoutDrainTimeoutMs = 5000;

// The fixed MESSAGE_ID of steen alerts in the journal (`journalctl MESSAGE_ID=...`).
inline constexpr std::string_view kJournalAlertMessageId = "873ef9adf6c64d35bfdcd475ca080e99";
inline constexpr std::string_view kJournalDefaultSocket = "/run/systemd/journal/socket";

// ---- Sink interface
// ------------------------------------------------------------------------------
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // Delivers one alert. Must not block without bound (sinks use timeouts).
  virtual Status Emit(const Alert& alert) = 0;
  // Pushes anything buffered to its destination. Sinks here write through, so default is a no-op.
  virtual Status Flush() { return Status::Ok(); }
  // Reopens files or connections, e.g. after logrotate moved the file (SIGHUP).
  virtual Status Reopen() { return Status::Ok(); }
  // Short, stable name for stats and logs: "jsonl:/var/log/steen/alerts.json", "syslog:tcp:..."
  virtual std::string_view name() const = 0;
};

// ---- Format mappings
// ------------------------------------------------------------------------------- One ECS 8.x JSON
// object on one line (no trailing newline). Never throws: invalid UTF-8 in paths is replaced by
// U+FFFD.
std::string FormatEcsJson(const Alert& alert);

enum class SyslogTransport { kUdp, kTcp };

struct SyslogOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 514;
  SyslogTransport transport = SyslogTransport::kUdp;
  int facility = 13;  // 0..23; 13 = log audit (RFC 5424 table 1), 23 = local7
  std::string app_name = "steen";
  std::string hostname;               // empty: the alert's host, else the machine's host name
  std::string procid;                 // empty: this process's pid
  std::string sd_id = "steen@32473";  // private SD-ID; 32473 is the documentation PEN (RFC 5612)
  std::size_t max_message_bytes = kDefaultSyslogMaxMessageBytes;  // whole message, w/o TCP frame
  int connect_timeout_ms = kDefaultSyslogConnectTimeoutMs;
  int send_timeout_ms = kDefaultSyslogSendTimeoutMs;
  int backoff_min_ms = kDefaultSyslogBackoffMinMs;
  int backoff_max_ms = kDefaultSyslogBackoffMaxMs;
};

// RFC 5424 severity (0 emergency .. 7 debug) for an alert severity: critical 2, high 3, medium 4,
// low 5, info 6; anything else 4.
int SyslogSeverity(std::string_view alert_severity);

// One RFC 5424 message (no transport framing), at most options.max_message_bytes long.
std::string FormatRfc5424(const Alert& alert, const SyslogOptions& options);

// ---- Sinks
// ---------------------------------------------------------------------------------------
struct JsonLinesFileOptions {
  std::string path;
  unsigned mode = 0640;     // permissions when the file is created
  bool fsync_each = false;  // fdatasync after each alert (durable, slower)
};
// Appends one ECS line per alert with a single write(2) on an O_APPEND descriptor, so concurrent
// writers never interleave lines. Reopen() reopens the path (logrotate's create/move).
StatusOr<std::unique_ptr<AlertSink>> MakeJsonLinesFileSink(const JsonLinesFileOptions& options);
// One ECS line per alert to standard output.
std::unique_ptr<AlertSink> MakeJsonLinesStdoutSink();
// One ECS line per alert to an already open descriptor (owned: closed by the sink when owned).
std::unique_ptr<AlertSink> MakeJsonLinesFdSink(int fd, bool owned, std::string name);

// Validates options and resolves the host; connects lazily (TCP) so a collector that is down at
// start-up does not stop the daemon.
StatusOr<std::unique_ptr<AlertSink>> MakeSyslogSink(const SyslogOptions& options);

struct JournaldOptions {
  std::string socket_path = std::string(kJournalDefaultSocket);
  std::string syslog_identifier = "steen";
};
// Sends each alert as one native-protocol datagram (large ones through a sealed memfd, as
// sd_journal_sendv does). Fields: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, MESSAGE_ID and STEEN_*.
StatusOr<std::unique_ptr<AlertSink>> MakeJournaldSink(const JournaldOptions& options);
// The native-protocol payload for one alert (exposed for tests).
std::string FormatJournalNative(const Alert& alert, const JournaldOptions& options);

// ---- Fan-out ------------------------------------------------------------------------------------
struct SinkStats {
  std::string name;
  uint64_t emitted = 0;  // delivered successfully
  uint64_t failed = 0;   // Emit returned an error
  uint64_t dropped = 0;  // queue full (or not drained at Stop)
  uint64_t queued = 0;   // waiting now
  std::string last_error;
};

struct FanoutStats {
  uint64_t accepted = 0;  // alerts passed to Emit
  std::vector<SinkStats> sinks;
};

struct FanoutOptions {
  std::size_t queue_capacity = kDefaultSinkQueueCapacity;  // per sink
  int drain_timeout_ms = kDefaultFanoutDrainTimeoutMs;
  // Called from a sink's worker thread when the sink fails or drops alerts (message says which).
  // Must be quick and must not call back into the fanout.
  std::function<void(std::string_view sink_name, const Status& status)> on_problem;
};

// Owns the sinks; gives each its own bounded queue and worker thread so a slow or dead sink (a
// stalled TCP collector) delays neither the caller nor the other sinks.
class AlertFanout {
 public:
  explicit AlertFanout(FanoutOptions options = {});
  ~AlertFanout();  // Stop()
  AlertFanout(const AlertFanout&) = delete;
  AlertFanout& operator=(const AlertFanout&) = delete;

  // Add sinks before the first Emit. Starts the sink's worker.
  void AddSink(std::unique_ptr<AlertSink> sink);
  // Queues the alert for every sink; never waits for I/O. Returns false when at least one sink's
  // queue was full (the alert was dropped there and counted).
  bool Emit(const Alert& alert);
  // Waits until every queue is empty and each sink flushed, at most timeout_ms. False on timeout.
  bool Flush(int timeout_ms);
  // Asks each worker to call its sink's Reopen() (from a SIGHUP handler's thread, not the handler).
  void Reopen();
  // Drains (bounded by drain_timeout_ms) and joins the workers. Idempotent.
  void Stop();
  FanoutStats Stats() const;

 private:
  struct Worker;
  FanoutOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint64_t> accepted_{0};
  bool stopped_ = false;
};

}  // namespace steen::outputs
