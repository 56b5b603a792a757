// `steen scan PATH...`: option parsing only; the work is steen::scan::RunScanCommand.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "steen/scan.h"

namespace steen::cli {

void RegisterScanCommand(CLI::App& app) {
  auto command = std::make_shared<scan::ScanCommand>();
  CLI::App* sub = app.add_subcommand(
      "scan",
      "Scan trees for damaged files (read-only). Exit 0: no damage, 1: damage found, 2: a path "
      "could not be scanned or usage error.");
  sub->add_option("paths", command->paths, "Files or directories to scan")->required();
  sub->add_option("-j,--threads", command->options.threads, "Analysis threads (default: cores)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--follow-symlinks", command->options.follow_symlinks,
                "Follow symbolic links inside the trees (loops are detected and reported)");
  sub->add_flag("--deep", command->options.analyze.deep,
                "Read every byte instead of head, tail and samples");
  sub->add_flag("--verify", command->options.analyze.verify_streams,
                "Decode compressed files (gzip, xz, zstd, bzip2, ZIP entries, WebP) whole "
                "and check them against their own checksums and lengths: finds damage anywhere "
                "inside them, at decompression speed");
  auto format = std::make_shared<std::string>("text");
  sub->add_option("--format", *format, "Report format: text (default) or jsonl")
      ->check(CLI::IsMember({"text", "jsonl"}));
  auto no_progress = std::make_shared<bool>(false);
  sub->add_flag("--no-progress", *no_progress, "Do not show the progress line on stderr");
  sub->callback([command, format, no_progress] {
    command->format = *format == "jsonl" ? scan::ReportFormat::kJsonl : scan::ReportFormat::kText;
    command->progress = !*no_progress;
    SetExitCode(scan::RunScanCommand(*command, stdout, stderr));
  });
}

}  // namespace steen::cli
