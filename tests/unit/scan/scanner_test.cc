#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "steen/scan.h"
#include "unit/scan/temp_tree.h"

namespace steen::scan {
namespace {

using nlohmann::json;
using testing::TempTree;

// Fake engine: a file whose first bytes are "BAD" is damaged (encrypted), "ERR" fails to read.
StatusOr<Analysis> FakeAnalyze(ByteSource& source, const AnalyzeOptions& options) {
  std::string head;
  Status status = source.ReadAt(0, 3, &head);
  if (!status.ok()) return status;
  if (head == "ERR") return Status::IoError("read at offset 0: Input/output error");
  Analysis analysis;
  analysis.format = options.deep ? "deep" : "fake";
  analysis.bytes_read = head.size();
  analysis.ranges_read = {{0, head.size()}};
  if (head == "BAD") {
    analysis.verdict = Verdict::kDamaged;
    analysis.kind = DamageKind::kEncrypted;
    analysis.score = 1;
    analysis.reasons = {"fake: starts with BAD"};
  } else {
    analysis.verdict = Verdict::kIntact;
  }
  return analysis;
}

class RecordingObserver : public ScanObserver {
 public:
  void Start(int slots) override { this->slots = slots; }
  void OnFile(int slot, const FileReport& file) override {
    std::lock_guard lock(mu);
    EXPECT_GE(slot, 0);
    EXPECT_LT(slot, slots);
    ++seen[std::string(file.path)];
  }
  void OnError(int slot, std::string_view path, std::string_view message, bool) override {
    std::lock_guard lock(mu);
    errors.push_back(std::string(path) + ": " + std::string(message));
  }
  int slots = 0;
  std::mutex mu;
  std::map<std::string, int> seen;
  std::vector<std::string> errors;
};

TEST(ScannerTest, EveryFileIsAnalysedExactlyOnceAcrossThreads) {
  TempTree tree;
  for (int d = 0; d < 5; ++d) {
    tree.Mkdir("d" + std::to_string(d));
    for (int f = 0; f < 40; ++f)
      tree.Write("d" + std::to_string(d) + "/" + std::to_string(f), "ok");
  }
  ScanOptions options;
  options.threads = 4;
  options.queue_capacity = 2;  // forces the walker to wait for workers
  Scanner scanner(options, FakeAnalyze);
  RecordingObserver observer;
  const ScanStats stats = scanner.Run({tree.path()}, observer);
  EXPECT_EQ(observer.slots, 5);
  EXPECT_EQ(stats.files, 200u);
  EXPECT_EQ(stats.bytes, 400u);
  EXPECT_EQ(stats.directories, 6u);
  EXPECT_EQ(observer.seen.size(), 200u);
  for (const auto& [path, count] : observer.seen) EXPECT_EQ(count, 1) << path;
  EXPECT_EQ(scanner.Progress().files, 200u);
  EXPECT_EQ(ExitCodeFor(stats), 0);
}

TEST(ScannerTest, ExitCodeReflectsDamageAndMissingPaths) {
  TempTree tree;
  tree.Write("good", "ok!");
  Scanner scanner(ScanOptions{}, FakeAnalyze);
  RecordingObserver observer;
  EXPECT_EQ(ExitCodeFor(scanner.Run({tree.path()}, observer)), 0);
  tree.Write("bad", "BAD and more");
  const ScanStats damaged = scanner.Run({tree.path()}, observer);
  EXPECT_EQ(damaged.damaged, 1u);
  EXPECT_EQ(ExitCodeFor(damaged), 1);
  const ScanStats missing = scanner.Run({tree.path(), tree / "missing"}, observer);
  EXPECT_EQ(missing.root_errors, 1u);
  EXPECT_EQ(ExitCodeFor(missing), 2);  // a path that could not be scanned wins over damage
}

TEST(ScannerTest, ReadErrorsAreReportedAndDoNotStopTheScan) {
  TempTree tree;
  tree.Write("a", "ERR");
  tree.Write("b", "fine");
  Scanner scanner(ScanOptions{}, FakeAnalyze);
  RecordingObserver observer;
  const ScanStats stats = scanner.Run({tree.path()}, observer);
  EXPECT_EQ(stats.files, 1u);
  EXPECT_EQ(stats.errors, 1u);
  ASSERT_EQ(observer.errors.size(), 1u);
  EXPECT_EQ(observer.errors[0], tree / "a: read at offset 0: Input/output error");
  EXPECT_EQ(ExitCodeFor(stats), 0);  // per-file errors do not change the exit status
}

TEST(ScannerTest, FifoInTheTreeDoesNotHang) {
  TempTree tree;
  ASSERT_EQ(mkfifo((tree / "fifo").c_str(), 0644), 0);
  tree.Write("f", "ok");
  Scanner scanner(ScanOptions{}, FakeAnalyze);
  RecordingObserver observer;
  const ScanStats stats = scanner.Run({tree.path(), tree / "fifo"}, observer);
  EXPECT_EQ(stats.files, 1u);
  EXPECT_EQ(stats.skipped_special, 2u);  // once in the tree, once as a path argument
}

std::string ReadAll(std::FILE* file) {
  std::rewind(file);
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, n);
  return text;
}

struct CommandOutput {
  int exit_code;
  std::string out;
  std::string err;
};

CommandOutput RunCommand(const ScanCommand& command) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  CommandOutput result;
  result.exit_code = RunScanCommand(command, FakeAnalyze, out, err);
  result.out = ReadAll(out);
  result.err = ReadAll(err);
  std::fclose(out);
  std::fclose(err);
  return result;
}

TEST(RunScanCommandTest, JsonlHasOneLinePerFileAndTheSummaryLast) {
  TempTree tree;
  tree.Mkdir("sub");
  tree.Write("sub/bad", "BAD");
  tree.Write("ok", "fine");
  tree.Write("err", "ERR");
  tree.Write("name\xff", "fine");
  ScanCommand command;
  command.paths = {tree.path(), tree / "missing"};
  command.format = ReportFormat::kJsonl;
  command.options.analyze.deep = true;
  const CommandOutput result = RunCommand(command);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, "steen scan: " + tree / "missing" + ": No such file or directory\n");

  std::istringstream lines(result.out);
  std::string line;
  std::vector<json> parsed;
  while (std::getline(lines, line)) parsed.push_back(json::parse(line));
  ASSERT_EQ(parsed.size(), 6u);  // 3 files, 2 errors, summary
  ASSERT_TRUE(parsed.back().contains("summary"));
  const json& summary = parsed.back()["summary"];
  EXPECT_EQ(summary["files"], 3);
  EXPECT_EQ(summary["errors"], 2);
  EXPECT_EQ(summary["by_verdict"]["damaged"], 1);
  EXPECT_EQ(summary["by_format"]["deep"], 3);  // --deep reached the analyzer
  std::map<std::string, json> by_path;
  for (std::size_t i = 0; i + 1 < parsed.size(); ++i) by_path[parsed[i]["path"]] = parsed[i];
  EXPECT_EQ(by_path[tree / "sub/bad"]["verdict"], "damaged");
  EXPECT_EQ(by_path[tree / "sub/bad"]["reasons"][0], "fake: starts with BAD");
  EXPECT_EQ(by_path[tree / "ok"]["verdict"], "intact");
  EXPECT_EQ(by_path[tree / "err"]["error"], "read at offset 0: Input/output error");
  EXPECT_EQ(by_path[tree / "missing"]["error"], "No such file or directory");
  EXPECT_TRUE(by_path.count(tree / "name\\xff"));
}

TEST(RunScanCommandTest, TextReportListsDamageAfterTheSummary) {
  TempTree tree;
  tree.Mkdir("sub");
  tree.Write("sub/bad1", "BAD");
  tree.Write("sub/bad2", "BAD");
  tree.Write("bad\n3", "BAD");
  tree.Write("ok", "fine");
  tree.Write("err", "ERR");
  ScanCommand command;
  command.paths = {tree.path()};
  const CommandOutput result = RunCommand(command);
  EXPECT_EQ(result.exit_code, 1);
  const std::string& out = result.out;
  const auto summary = out.find("Scanned 4 files");
  const auto folders = out.find("Folders with the most damage:\n         2  " + tree / "sub\n");
  const auto damaged = out.find("Damaged files");
  const auto line = out.find("  encrypted            fake       " + tree / "sub/bad1" +
                             ": fake: starts with BAD\n");
  const auto escaped = out.find(tree / "bad\\x0a3");
  const auto errors = out.find("Errors and warnings:\n  " + tree / "err: read at offset 0");
  EXPECT_NE(summary, std::string::npos) << out;
  EXPECT_NE(out.find("Verdicts: damaged 3, intact 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("Damage: encrypted 3\n"), std::string::npos) << out;
  EXPECT_NE(folders, std::string::npos) << out;
  EXPECT_NE(line, std::string::npos) << out;
  EXPECT_NE(escaped, std::string::npos) << out;
  EXPECT_NE(errors, std::string::npos) << out;
  EXPECT_LT(summary, folders);
  EXPECT_LT(folders, damaged);
  EXPECT_LT(damaged, line);
  EXPECT_LT(line, errors);
  EXPECT_TRUE(result.err.empty()) << result.err;  // stderr is not a terminal: no progress
}

}  // namespace
}  // namespace steen::scan
