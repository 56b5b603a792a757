// The intent log: the catalog rows of packed copies made since the catalog's last commit, one
// checksummed record each, so that the daemon can answer a writer without committing the
// catalog first (docs/design/vault.md, "The intent log").
//
// Why: a copy's rows must outlive a crash of steen before the writer may change the file, and a
// SQLite commit per answered open (~10 WAL pages: the tables and their indexes) was a quarter of
// the daemon's work while small files were edited in place. One append of a few hundred bytes
// here is as durable as the copy itself (both sit in the page cache); the rows then go with the
// catalog's next batch, and the log is emptied after each commit. At the owner's next Open,
// records whose rows are missing are recorded again (LevelDB's write-ahead log, in small).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "steen/status.h"
#include "steen/vault.h"

namespace steen::vault {

// What is needed to record a packed copy's rows again: its version (with the file's ctime, which
// the catalog keeps to tell an unchanged file) and the time of the write change that needed it.
struct CopyIntent {
  Version version;  // id and incident_id are not kept: both are given when recorded again
  int64_t ctime_ns = 0;
  int64_t change_time_ns = 0;
};

// Record payload <-> intent. Decode refuses anything malformed (fuzz/intent_log_fuzzer.cc).
std::string EncodeIntent(const CopyIntent& intent);
std::optional<CopyIntent> DecodeIntent(std::string_view payload);

// Framing: u32 payload length, u32 CRC-32 of the payload, payload (little endian). Reading stops
// at the first record that is cut short or fails its checksum (a torn tail after a power loss).
std::string FrameRecord(std::string_view payload);
struct LogContents {
  std::vector<CopyIntent> intents;
  uint64_t bad_records = 0;  // checksum or decoding failures (the rest of the log is not read)
};
LogContents ParseLog(std::string_view bytes);

class IntentLog {
 public:
  // Opens (creating) the log at `path` for appending. Only the vault's owner does.
  static StatusOr<std::unique_ptr<IntentLog>> Open(const std::string& path);
  ~IntentLog();
  IntentLog(const IntentLog&) = delete;
  IntentLog& operator=(const IntentLog&) = delete;

  // One write(): the record is in the page cache when it returns.
  Status Append(const CopyIntent& intent);
  // Empties the log once the catalog has committed everything it describes.
  Status Clear();
  bool empty() const { return size_ == 0; }

  // The whole log at `path` (a missing log is empty); bounded by limits::kMaxIntentLogBytes.
  static StatusOr<LogContents> Read(const std::string& path);

 private:
  IntentLog(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

}  // namespace steen::vault
