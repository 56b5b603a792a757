// Helpers shared by the system- and text-format tests: run one validator over bytes, make random
// bytes, damage files the ways ransomware does, manage a temporary folder.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <string_view>

#include "content/format.h"
#include "content/reader.h"
#include "steen/content.h"
#include "steen/limits.h"

namespace steen::content::testing {

struct Outcome {
  bool matches = false;
  FormatReport report;
};

inline Outcome RunValidator(const FormatValidator& v, std::string_view bytes) {
  Outcome out;
  out.matches = v.Matches(bytes.substr(0, limits::kHeadBytes), bytes.size());
  MemoryByteSource source(bytes);
  Reader reader(source, limits::kAnalysisReadBudget);
  out.report = v.Validate(reader);
  return out;
}

inline std::string RandomBytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    uint64_t w = rng();
    for (std::size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<char>(w >> (8 * k));
  }
  return out;
}

// Keeps the first `keep` bytes, replaces the rest with random bytes (Hunters-style).
inline std::string KeepHeadRandomRest(std::string data, std::size_t keep, uint64_t seed = 7) {
  if (keep < data.size()) {
    data.replace(keep, data.size() - keep, RandomBytes(data.size() - keep, seed));
  }
  return data;
}

// Replaces `span` bytes of every `period` bytes with random bytes, from `start`.
inline std::string Intermittent(std::string data, std::size_t start, std::size_t span,
                                std::size_t period, uint64_t seed = 11) {
  const std::string noise = RandomBytes(data.size(), seed);
  for (std::size_t at = start; at < data.size(); at += period) {
    for (std::size_t k = 0; k < span && at + k < data.size(); ++k) data[at + k] = noise[at + k];
  }
  return data;
}

// Replaces the last `n` bytes with random bytes (Play-style tail encryption).
inline std::string RandomTail(std::string data, std::size_t n, uint64_t seed = 13) {
  const std::size_t at = n < data.size() ? data.size() - n : 0;
  data.replace(at, data.size() - at, RandomBytes(data.size() - at, seed));
  return data;
}

inline std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void WriteWholeFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "steen-systext-XXXXXX").string();
    path_ = ::mkdtemp(templ.data()) != nullptr ? std::filesystem::path(templ) : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline const FormatValidator* FindValidator(const ValidatorList& all, std::string_view name) {
  for (const auto& v : all) {
    if (v->name() == name) return v.get();
  }
  return nullptr;
}

}  // namespace steen::content::testing
