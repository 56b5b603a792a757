// Scanning of one file: open (read-only, no atime), fstat on the fd, analyse, close.
#pragma once

#include <string>

#include "scan/walker.h"
#include "steen/scan.h"

namespace steen::scan {

struct FileOutcome {
  enum class Kind { kAnalysed, kSkippedSpecial, kSkippedOther, kError };
  Kind kind = Kind::kError;
  std::string path;
  uint64_t size = 0;
  Analysis analysis;
  std::string message;  // the error (kError) or a warning (kAnalysed, e.g. file shrank)
};

// Never throws on I/O trouble: a file that vanished, cannot be opened or read becomes kError with a
// message; a special file swapped in after listing becomes kSkippedSpecial (opened O_NONBLOCK, so
// this cannot hang, and never read).
void ScanFile(const FileTask& task, const AnalyzeFunction& analyze, const AnalyzeOptions& options,
              FileOutcome* outcome);

}  // namespace steen::scan
