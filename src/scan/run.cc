// RunScanCommand: what `steen scan` does, so the CLI file only parses options.
#include <sys/resource.h>
#include <unistd.h>

#include "scan/progress.h"
#include "scan/report.h"
#include "steen/scan.h"

namespace steen::scan {
namespace {

// Each directory being walked, and each directory with files still queued, holds an fd; deep
// trees need more than the usual soft limit of 1024. Raising to the hard limit needs no privilege.
void RaiseOpenFileLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int RunScanCommand(const ScanCommand& command, std::FILE* out, std::FILE* err) {
  const ContentAnalyzer analyzer;
  return RunScanCommand(command, MakeAnalyzeFunction(analyzer), out, err);
}

int RunScanCommand(const ScanCommand& command, const AnalyzeFunction& analyze, std::FILE* out,
                   std::FILE* err) {
  if (command.paths.empty()) {
    std::fputs("steen scan: no path given\n", err);
    return 2;
  }
  RaiseOpenFileLimit();
  std::unique_ptr<Report> report =
      command.format == ReportFormat::kJsonl ? MakeJsonlReport(out, err) : MakeTextReport(out, err);
  Scanner scanner(command.options, analyze);
  std::unique_ptr<ProgressLine> progress;
  if (command.progress && isatty(fileno(err))) {
    progress = std::make_unique<ProgressLine>(scanner, err);
  }
  const ScanStats stats = scanner.Run(command.paths, *report);
  progress.reset();
  report->Finish(stats);
  return ExitCodeFor(stats);
}

}  // namespace steen::scan
