#include "scan/report.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <vector>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "scan/path_escape.h"
#include "steen/limits.h"

namespace steen::scan {
namespace {

using Json = nlohmann::ordered_json;

// Our strings are already valid UTF-8; `replace` is only a guard so dump() can never throw.
std::string DumpLine(const Json& json) {
  std::string line = json.dump(-1, ' ', false, Json::error_handler_t::replace);
  line.push_back('\n');
  return line;
}

void AddPath(Json& json, std::string_view path) {
  json["path"] = EscapeInvalidUtf8(path);
  if (!IsValidUtf8(path)) json["path_bytes_hex"] = HexBytes(path);
}

double PerSecond(double amount, double seconds) { return seconds > 0 ? amount / seconds : 0.0; }

// Rounded to 3 decimals so summaries stay readable.
double Round3(double value) {
  return static_cast<double>(static_cast<int64_t>(value * 1000)) / 1000;
}

std::string HumanBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

// "a 3, b 2" sorted by count, most first.
std::string CountList(const std::map<std::string, uint64_t>& counts) {
  std::vector<std::pair<std::string, uint64_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [key, n] : sorted) {
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {}", EscapeForText(key), n);
  }
  return out.empty() ? "none" : out;
}

void WriteAll(std::FILE* file, std::string_view bytes) {
  if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), file);
}

// Per-slot buffers and summaries shared by both formats.
class BufferedReport : public Report {
 public:
  BufferedReport(std::FILE* out, std::FILE* err) : out_(out), err_(err) {}

  void Start(int slots) override { slots_ = std::vector<Slot>(static_cast<std::size_t>(slots)); }

 protected:
  struct Slot {
    Summary summary;
    std::string buffer;
  };

  // Appends to the slot's buffer; writes it to `sink` when large (or when forced).
  void Emit(int slot, std::string_view bytes, std::FILE* sink) {
    std::string& buffer = slots_[slot].buffer;
    buffer.append(bytes);
    if (buffer.size() >= limits::kReportFlushBytes) Flush(slot, sink);
  }
  void Flush(int slot, std::FILE* sink) {
    std::string& buffer = slots_[slot].buffer;
    std::lock_guard lock(write_mu_);
    WriteAll(sink, buffer);
    buffer.clear();
  }
  void RootError(std::string_view path, std::string_view message) {
    std::lock_guard lock(write_mu_);
    // On a terminal, erase a progress line that may be drawn there first.
    const char* erase = isatty(fileno(err_)) ? "\r\033[K" : "";
    std::fputs(fmt::format("{}steen scan: {}: {}\n", erase, EscapeForText(path), message).c_str(),
               err_);
    std::fflush(err_);
  }
  Summary MergedSummary() const {
    Summary total;
    for (const Slot& slot : slots_) total.Merge(slot.summary);
    return total;
  }

  std::FILE* out_;
  std::FILE* err_;
  std::vector<Slot> slots_;
  std::mutex write_mu_;
};

class JsonlReport final : public BufferedReport {
 public:
  using BufferedReport::BufferedReport;

  void OnFile(int slot, const FileReport& file) override {
    slots_[slot].summary.Add(file);
    Emit(slot, FileJsonLine(file), out_);
  }
  void OnError(int slot, std::string_view path, std::string_view message, bool is_root) override {
    slots_[slot].summary.AddError();
    if (is_root) RootError(path, message);
    Emit(slot, ErrorJsonLine(path, message), out_);
  }
  void Finish(const ScanStats& stats) override {
    for (std::size_t i = 0; i < slots_.size(); ++i) Flush(static_cast<int>(i), out_);
    WriteAll(out_, SummaryJsonLine(MergedSummary(), stats));
    std::fflush(out_);
  }
};

class TextReport final : public BufferedReport {
 public:
  TextReport(std::FILE* out, std::FILE* err) : BufferedReport(out, err) {
    damaged_spool_ = std::tmpfile();
    error_spool_ = std::tmpfile();
  }
  ~TextReport() override {
    if (damaged_spool_) std::fclose(damaged_spool_);
    if (error_spool_) std::fclose(error_spool_);
  }

  void Start(int slots) override {
    BufferedReport::Start(slots);
    error_buffers_ = std::vector<std::string>(static_cast<std::size_t>(slots));
  }

  void OnFile(int slot, const FileReport& file) override {
    slots_[slot].summary.Add(file);
    const Analysis& analysis = *file.analysis;
    if (analysis.verdict == Verdict::kDamaged) {
      const std::string reason =
          analysis.reasons.empty() ? "" : ": " + EscapeForText(analysis.reasons.front());
      Emit(slot,
           fmt::format("  {:<20} {:<10} {}{}\n", ToString(analysis.kind),
                       EscapeForText(analysis.format), EscapeForText(file.path), reason),
           Spool(damaged_spool_));
    }
    if (!file.warning.empty()) AddErrorLine(slot, file.path, file.warning);
  }
  void OnError(int slot, std::string_view path, std::string_view message, bool is_root) override {
    slots_[slot].summary.AddError();
    if (is_root) RootError(path, message);
    AddErrorLine(slot, path, message);
  }

  void Finish(const ScanStats& stats) override {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Flush(static_cast<int>(i), Spool(damaged_spool_));
      std::lock_guard lock(write_mu_);
      WriteAll(Spool(error_spool_), error_buffers_[i]);
      error_buffers_[i].clear();
    }
    const Summary summary = MergedSummary();
    WriteAll(out_, SummaryText(summary, stats));
    if (stats.damaged > 0) {
      WriteAll(out_, "Damaged files (kind, format, path: first reason):\n");
      CopySpool(damaged_spool_);
    }
    if (stats.errors > 0 || error_lines_ > 0) {
      WriteAll(out_, "Errors and warnings:\n");
      CopySpool(error_spool_);
    }
    std::fflush(out_);
  }

 private:
  // Without a temporary file (e.g. no writable /tmp), lines go straight to the output, before
  // the summary instead of after it.
  std::FILE* Spool(std::FILE* spool) const { return spool ? spool : out_; }

  void AddErrorLine(int slot, std::string_view path, std::string_view message) {
    error_lines_.fetch_add(1, std::memory_order_relaxed);
    std::string& buffer = error_buffers_[slot];
    buffer += fmt::format("  {}: {}\n", EscapeForText(path), EscapeForText(message));
    if (buffer.size() >= limits::kReportFlushBytes) {
      std::lock_guard lock(write_mu_);
      WriteAll(Spool(error_spool_), buffer);
      buffer.clear();
    }
  }

  void CopySpool(std::FILE* spool) {
    if (!spool) return;
    std::fflush(spool);
    std::rewind(spool);
    std::vector<char> chunk(64 * 1024);
    std::size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), spool)) > 0) {
      std::fwrite(chunk.data(), 1, n, out_);
    }
  }

  std::FILE* damaged_spool_ = nullptr;
  std::FILE* error_spool_ = nullptr;
  std::vector<std::string> error_buffers_;
  std::atomic<uint64_t> error_lines_{0};
};

}  // namespace

std::string FileJsonLine(const FileReport& file) {
  const Analysis& analysis = *file.analysis;
  Json json;
  AddPath(json, file.path);
  json["verdict"] = ToString(analysis.verdict);
  json["kind"] = ToString(analysis.kind);
  json["format"] = EscapeInvalidUtf8(analysis.format);
  json["score"] = analysis.score;
  json["size"] = file.size;
  Json reasons = Json::array();
  for (const std::string& reason : analysis.reasons) reasons.push_back(EscapeInvalidUtf8(reason));
  json["reasons"] = std::move(reasons);
  json["bytes_read"] = analysis.bytes_read;
  Json ranges = Json::array();
  for (const ByteRange& range : analysis.ranges_read) {
    ranges.push_back(Json::array({range.offset, range.length}));
  }
  json["ranges_read"] = std::move(ranges);
  if (!file.warning.empty()) json["warning"] = EscapeInvalidUtf8(file.warning);
  return DumpLine(json);
}

std::string ErrorJsonLine(std::string_view path, std::string_view message) {
  Json json;
  AddPath(json, path);
  json["error"] = EscapeInvalidUtf8(message);
  return DumpLine(json);
}

std::string SummaryJsonLine(const Summary& summary, const ScanStats& stats) {
  Json counts;
  counts["files"] = stats.files;
  counts["bytes"] = stats.bytes;
  counts["bytes_read"] = stats.bytes_read;
  Json by_verdict = {{"intact", 0}, {"damaged", 0}, {"unknown", 0}};
  for (const auto& [k, n] : summary.by_verdict) by_verdict[k] = n;
  counts["by_verdict"] = std::move(by_verdict);
  Json by_kind = Json::object();
  for (const auto& [k, n] : summary.by_kind) by_kind[k] = n;
  counts["by_kind"] = std::move(by_kind);
  Json by_format = Json::object();
  for (const auto& [k, n] : summary.by_format) by_format[EscapeInvalidUtf8(k)] = n;
  counts["by_format"] = std::move(by_format);
  Json folders = Json::array();
  for (const auto& [folder, n] : summary.damaged_folders.Top(limits::kTopDamagedFolders)) {
    Json entry;
    AddPath(entry, folder);
    entry["damaged"] = n;
    folders.push_back(std::move(entry));
  }
  counts["top_damaged_folders"] = std::move(folders);
  counts["top_damaged_folders_approximate"] = summary.damaged_folders.approximate();
  counts["errors"] = stats.errors;
  counts["skipped_special"] = stats.skipped_special;
  counts["skipped_symlinks"] = stats.skipped_symlinks;
  counts["directories"] = stats.directories;
  counts["elapsed_s"] = Round3(stats.elapsed_s);
  counts["files_per_s"] = Round3(PerSecond(static_cast<double>(stats.files), stats.elapsed_s));
  counts["mb_per_s"] = Round3(PerSecond(static_cast<double>(stats.bytes) / 1e6, stats.elapsed_s));
  Json json;
  json["summary"] = std::move(counts);
  return DumpLine(json);
}

std::string SummaryText(const Summary& summary, const ScanStats& stats) {
  std::string out = fmt::format("Scanned {} files ({}) in {:.1f} s: {:.0f} files/s, {:.1f} MB/s\n",
                                stats.files, HumanBytes(stats.bytes), stats.elapsed_s,
                                PerSecond(static_cast<double>(stats.files), stats.elapsed_s),
                                PerSecond(static_cast<double>(stats.bytes) / 1e6, stats.elapsed_s));
  out += fmt::format("Verdicts: {}\n", CountList(summary.by_verdict));
  if (!summary.by_kind.empty()) out += fmt::format("Damage: {}\n", CountList(summary.by_kind));
  out += fmt::format("Formats: {}\n", CountList(summary.by_format));
  out += fmt::format("Errors: {}; skipped: {} special files, {} symbolic links\n", stats.errors,
                     stats.skipped_special, stats.skipped_symlinks);
  const auto top = summary.damaged_folders.Top(limits::kTopDamagedFolders);
  if (!top.empty()) {
    out += summary.damaged_folders.approximate() ? "Folders with the most damage (at least):\n"
                                                 : "Folders with the most damage:\n";
    for (const auto& [folder, n] : top)
      out += fmt::format("  {:>8}  {}\n", n, EscapeForText(folder));
  }
  return out;
}

std::unique_ptr<Report> MakeJsonlReport(std::FILE* out, std::FILE* err) {
  return std::make_unique<JsonlReport>(out, err);
}

std::unique_ptr<Report> MakeTextReport(std::FILE* out, std::FILE* err) {
  return std::make_unique<TextReport>(out, err);
}

}  // namespace steen::scan
