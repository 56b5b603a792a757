// classifier_throughput: in-memory speed of the content engine on one core (no I/O, no threads).
//
//   classifier_throughput [--mib 64] [--repeat 7] [FILE...]
//
// Times ContentAnalyzer::Analyze with deep=true over a MemoryByteSource: first over --mib MiB of
// pseudo-random bytes (the worst case: every block looks like ciphertext, so every statistic runs),
// then over each FILE read into memory (deep and default). Prints the median of --repeat runs in
// GB/s (10^9 bytes per second) per core, and the same as one JSON object per line for scripts.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "steen/content.h"

namespace {

struct Result {
  double median_gbps = 0;
  double min_s = 0;
  std::string verdict;
  std::string format;
};

Result Measure(const steen::ContentAnalyzer& analyzer, const std::string& bytes, bool deep,
               int repeat) {
  std::vector<double> seconds;
  Result result;
  steen::AnalyzeOptions options;
  options.deep = deep;
  for (int i = 0; i < repeat; ++i) {
    steen::MemoryByteSource source(bytes);
    const auto start = std::chrono::steady_clock::now();
    auto analysis = analyzer.Analyze(source, options);
    const auto stop = std::chrono::steady_clock::now();
    seconds.push_back(std::chrono::duration<double>(stop - start).count());
    if (analysis.ok()) {
      result.verdict = std::string(steen::ToString(analysis->verdict));
      result.format = analysis->format;
    }
  }
  std::sort(seconds.begin(), seconds.end());
  const double median = seconds[seconds.size() / 2];
  result.min_s = seconds.front();
  result.median_gbps = median > 0 ? static_cast<double>(bytes.size()) / median / 1e9 : 0;
  return result;
}

void Print(const std::string& name, uint64_t size, bool deep, const Result& r) {
  std::cout << fmt::format("{:<48} {:>10.1f} MiB  {:<7} {:>8.3f} GB/s/core  {}/{}\n", name,
                           static_cast<double>(size) / (1 << 20), deep ? "deep" : "default",
                           r.median_gbps, r.verdict, r.format);
  nlohmann::json json = {{"input", name},        {"bytes", size},
                         {"deep", deep},         {"gb_per_s_per_core", r.median_gbps},
                         {"verdict", r.verdict}, {"format", r.format}};
  std::cerr << json.dump() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t mib = 64;
  int repeat = 7;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--mib" && i + 1 < argc) {
      mib = std::stoull(argv[++i]);
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::stoi(argv[++i]));
    } else if (arg == "-h" || arg == "--help") {
      std::cout << "usage: classifier_throughput [--mib N] [--repeat N] [FILE...]\n"
                   "(results on stdout; one JSON line per measurement on stderr)\n";
      return 0;
    } else {
      files.push_back(arg);
    }
  }
  const steen::ContentAnalyzer analyzer;

  std::string random(mib << 20, '\0');
  std::mt19937_64 rng(20240601);
  for (std::size_t i = 0; i + 8 <= random.size(); i += 8) {
    const uint64_t word = rng();
    std::memcpy(random.data() + i, &word, 8);
  }
  Print(fmt::format("random ({} MiB)", mib), random.size(), true,
        Measure(analyzer, random, true, repeat));
  random.clear();
  random.shrink_to_fit();

  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cerr << "classifier_throughput: cannot read " << path << "\n";
      continue;
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string bytes = std::move(buffer).str();
    const std::string name = std::filesystem::path(path).filename().string();
    Print(name, bytes.size(), true, Measure(analyzer, bytes, true, repeat));
    Print(name, bytes.size(), false, Measure(analyzer, bytes, false, repeat));
  }
  return 0;
}
