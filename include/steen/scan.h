// Scanner: walks directory trees, analyses every regular file with the content engine and streams
// the results to an observer (reports). Read-only: files are opened O_RDONLY|O_NOATIME and never
// written; memory stays bounded whatever the size of the tree (see docs/design/scan.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "steen/content.h"
#include "steen/limits.h"
#include "steen/status.h"

namespace steen::scan {

// The analysis of one file. Must be safe to call from many threads at once. The default wraps
// ContentAnalyzer::Analyze; tests inject fakes.
using AnalyzeFunction = std::function<StatusOr<Analysis>(ByteSource&, const AnalyzeOptions&)>;

struct ScanOptions {
  int threads = 0;                             // analysis workers; 0 = one per core
  bool follow_symlinks = false;                // follow symbolic links found inside the trees
  AnalyzeOptions analyze;                      // passed to every analysis (e.g. deep)
  int max_depth = limits::kMaxDirectoryDepth;  // deeper directories are reported, not walked
  std::size_t queue_capacity = limits::kScanQueueCapacity;
};

// One analysed regular file, as handed to observers. Views are valid during the call only.
struct FileReport {
  std::string_view path;  // raw bytes, as the kernel knows the name (maybe not UTF-8)
  uint64_t size = 0;
  const Analysis* analysis = nullptr;
  std::string_view warning;  // e.g. "file changed while being read"; empty when none
};

// Receives results. OnFile and OnError are called concurrently from several threads; `slot` tells
// which one (0 <= slot < the value given to Start), so observers can buffer per slot without locks.
class ScanObserver {
 public:
  virtual ~ScanObserver() = default;
  virtual void Start(int slots) {}
  virtual void OnFile(int slot, const FileReport& file) = 0;
  // A file or directory that could not be read (the scan goes on). `is_root` marks a path given
  // on the command line that could not be scanned at all.
  virtual void OnError(int slot, std::string_view path, std::string_view message, bool is_root) = 0;
};

struct ScanStats {
  uint64_t files = 0;             // regular files analysed
  uint64_t bytes = 0;             // their total size
  uint64_t bytes_read = 0;        // bytes the analyses actually read
  uint64_t damaged = 0;           // files with verdict damaged
  uint64_t errors = 0;            // files and directories that could not be read
  uint64_t root_errors = 0;       // path arguments that could not be scanned (subset of errors)
  uint64_t directories = 0;       // directories walked
  uint64_t skipped_special = 0;   // FIFOs, sockets, devices: counted, never opened for reading
  uint64_t skipped_symlinks = 0;  // symbolic links not followed (or dangling)
  double elapsed_s = 0;
};

// Live counters for progress display; any thread may call Scanner::Progress at any time.
struct ProgressSnapshot {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t damaged = 0;
  uint64_t errors = 0;
};

class Scanner {
 public:
  Scanner(ScanOptions options, AnalyzeFunction analyze);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Scans every root (a directory or a file) and blocks until done. Roots given as symbolic links
  // are followed (like `find -H`); links inside the trees only with follow_symlinks.
  ScanStats Run(const std::vector<std::string>& roots, ScanObserver& observer);
  ProgressSnapshot Progress() const;
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// An AnalyzeFunction calling analyzer.Analyze; the analyzer must outlive the function.
AnalyzeFunction MakeAnalyzeFunction(const ContentAnalyzer& analyzer);

// Process exit status of `steen scan`: 2 when a path argument could not be scanned (or on a fatal
// error), else 1 when damage was found, else 0. Per-file read errors do not change it.
int ExitCodeFor(const ScanStats& stats);

enum class ReportFormat { kText, kJsonl };

// Everything `steen scan` needs; the CLI only fills this in.
struct ScanCommand {
  std::vector<std::string> paths;
  ScanOptions options;
  ReportFormat format = ReportFormat::kText;
  bool progress = true;  // show a progress line on stderr (only when stderr is a terminal)
};

// Runs a scan with the real content analyzer, writes the report to `out` and messages to `err`;
// returns the exit status (see ExitCodeFor).
int RunScanCommand(const ScanCommand& command, std::FILE* out, std::FILE* err);
// Same, with an injected analysis (tests).
int RunScanCommand(const ScanCommand& command, const AnalyzeFunction& analyze, std::FILE* out,
                   std::FILE* err);

}  // namespace steen::scan
