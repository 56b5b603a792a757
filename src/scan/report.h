// Reports: observers that stream results while the scan runs and print a summary at the end.
// Workers append to their own buffer and write it out under a lock only every
// limits::kReportFlushBytes, so output does not serialise them.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "scan/summary.h"
#include "steen/scan.h"

namespace steen::scan {

class Report : public ScanObserver {
 public:
  // Writes what is still buffered, then the summary.
  virtual void Finish(const ScanStats& stats) = 0;
};

// One JSON object per line on `out` (see docs/design/scan.md); path arguments that cannot be
// scanned are also told on `err` as "steen scan: <path>: <message>".
std::unique_ptr<Report> MakeJsonlReport(std::FILE* out, std::FILE* err);
// Summary, most damaged folders, damaged files and errors on `out`. Damaged paths and errors are
// spooled to an unlinked temporary file during the scan, so memory stays bounded.
std::unique_ptr<Report> MakeTextReport(std::FILE* out, std::FILE* err);

// Building blocks, exposed for tests. Each returns one line ending in '\n'.
std::string FileJsonLine(const FileReport& file);
std::string ErrorJsonLine(std::string_view path, std::string_view message);
std::string SummaryJsonLine(const Summary& summary, const ScanStats& stats);
std::string SummaryText(const Summary& summary, const ScanStats& stats);

}  // namespace steen::scan
