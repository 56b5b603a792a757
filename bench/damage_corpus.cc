// damage_corpus: writes damaged copies of a stratified sample of the evaluation corpus, one folder
// per drill profile, with the drill's own pure transformation (the same bytes `steen drill` would
// write), and a TSV saying what was damaged. The corpus is only read.
//
//   damage_corpus [--corpus bench/corpus] [--out bench/out/damaged] [--per-type 10]
//                 [--max-mb 8] [--profiles a,b,...] [--seed 1]
//
// Reads <corpus>/MANIFEST.tsv (type, path, size, sha256, source). For each type the sample is the
// first N files no larger than --max-mb in sha256 order (deterministic, unrelated to names or
// packages); the same sample is used for every profile. Each file's seed is derived from --seed,
// the profile and the corpus path, so reruns write identical bytes. Output:
// <out>/<profile>/<type>/<new name>, and <out>/DAMAGED.tsv with one row per (profile, sampled
// file): status damaged, container (a legitimate encrypted container written next to the original,
// which a content scan must not call damage: gpg, zip, openssl, as in tests/unit/detection) or
// skipped:<why>.
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "steen/drill.h"

namespace fs = std::filesystem;

namespace {

struct Options {
  fs::path corpus = "bench/corpus";
  fs::path out = "bench/out/damaged";
  int per_type = 10;
  uint64_t max_bytes = 8ULL << 20;    // larger corpus files are left out of the sample
  std::vector<std::string> profiles;  // empty = all built-in
  uint64_t seed = 1;
};

struct CorpusFile {
  std::string type;
  std::string path;  // relative to the corpus root
  uint64_t size = 0;
  std::string sha256;
};

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream stream(text);
  while (std::getline(stream, part, separator)) parts.push_back(part);
  return parts;
}

uint64_t Fnv1a(std::string_view text, uint64_t hash = 1469598103934665603ULL) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

bool ParseArgs(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error("missing value for " + arg);
      return argv[++i];
    };
    if (arg == "--corpus") {
      options->corpus = value();
    } else if (arg == "--out") {
      options->out = value();
    } else if (arg == "--per-type") {
      options->per_type = std::stoi(value());
    } else if (arg == "--max-mb") {
      options->max_bytes = std::stoull(value()) << 20;
    } else if (arg == "--profiles") {
      options->profiles = Split(value(), ',');
    } else if (arg == "--seed") {
      options->seed = std::stoull(value());
    } else if (arg == "-h" || arg == "--help") {
      std::cout << "usage: damage_corpus [--corpus DIR] [--out DIR] [--per-type N] "
                   "[--max-mb N] [--profiles a,b] [--seed S]\n";
      return false;
    } else {
      throw std::runtime_error("unknown argument " + arg);
    }
  }
  return true;
}

std::vector<CorpusFile> ReadManifest(const fs::path& corpus) {
  std::ifstream in(corpus / "MANIFEST.tsv");
  if (!in) throw std::runtime_error("cannot read " + (corpus / "MANIFEST.tsv").string());
  std::vector<CorpusFile> files;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    auto cols = Split(line, '\t');
    if (cols.size() < 4) continue;
    files.push_back({cols[0], cols[1], std::stoull(cols[2]), cols[3]});
  }
  return files;
}

std::vector<CorpusFile> StratifiedSample(std::vector<CorpusFile> files, int per_type,
                                         uint64_t max_bytes) {
  std::erase_if(files, [&](const CorpusFile& f) { return f.size > max_bytes; });
  std::sort(files.begin(), files.end(), [](const CorpusFile& a, const CorpusFile& b) {
    return std::tie(a.type, a.sha256) < std::tie(b.type, b.sha256);
  });
  std::vector<CorpusFile> sample;
  std::map<std::string, int> taken;
  for (auto& file : files) {
    if (taken[file.type]++ < per_type) sample.push_back(std::move(file));
  }
  return sample;
}

std::string LowerExtension(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return "";
  std::string ext = name.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return ext;
}

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// Why the drill would leave this file alone ("" = it attacks it), mirroring the profile's filters.
std::string SkipReason(const steen::drill::Profile& profile, const std::string& name,
                       uint64_t size) {
  const std::string ext = LowerExtension(name);
  if (size < profile.min_file_size)
    return fmt::format("smaller than {} bytes", profile.min_file_size);
  if (profile.skip_hidden && !name.empty() && name[0] == '.') return "hidden";
  if (Contains(profile.skip_names, name)) return "excluded name";
  if (!ext.empty() && Contains(profile.skip_extensions, ext)) return "excluded extension " + ext;
  if (!profile.only_extensions.empty() && !Contains(profile.only_extensions, ext)) {
    return "extension not targeted";
  }
  return "";
}

bool WritesLegitimateContainer(const steen::drill::Profile& profile) {
  using steen::drill::Container;
  return profile.container == Container::kGpg || profile.container == Container::kZipCrypto ||
         profile.container == Container::kOpensslEnc;
}

std::string DescribeRanges(const std::vector<steen::ByteRange>& ranges) {
  if (ranges.empty()) return "-";
  std::string text;
  uint64_t total = 0;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    total += ranges[i].length;
    if (i < 8) text += fmt::format("{}{}+{}", i ? "," : "", ranges[i].offset, ranges[i].length);
  }
  if (ranges.size() > 8) text += fmt::format(",...({} ranges)", ranges.size());
  return fmt::format("{} [{} bytes]", text, total);
}

bool ReadFile(const fs::path& path, std::string* bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *bytes = std::move(buffer).str();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    if (!ParseArgs(argc, argv, &options)) return 0;
  } catch (const std::exception& e) {
    std::cerr << "damage_corpus: " << e.what() << "\n";
    return 2;
  }
  std::vector<CorpusFile> sample;
  try {
    sample = StratifiedSample(ReadManifest(options.corpus), options.per_type, options.max_bytes);
  } catch (const std::exception& e) {
    std::cerr << "damage_corpus: " << e.what() << "\n";
    return 1;
  }
  if (options.profiles.empty()) options.profiles = steen::drill::ListProfiles();
  fs::create_directories(options.out);
  std::ofstream tsv(options.out / "DAMAGED.tsv");
  tsv << "profile\tstatus\tpath\toriginal\ttype\tsize\tnew_size\tseed\tranges\n";

  int failures = 0;
  for (const auto& name : options.profiles) {
    auto profile = steen::drill::LoadProfile(name);
    if (!profile.ok()) {
      std::cerr << "damage_corpus: profile " << name << ": " << profile.status().ToString() << "\n";
      ++failures;
      continue;
    }
    const fs::path profile_dir = options.out / profile->name;
    fs::remove_all(profile_dir);  // rerunnable: a profile's folder is rewritten whole
    int damaged = 0, skipped = 0;
    for (const auto& file : sample) {
      const std::string base = fs::path(file.path).filename().string();
      const uint64_t seed = Fnv1a(file.path, Fnv1a(profile->name, options.seed));
      auto row = [&](const std::string& status, const std::string& out_path, uint64_t new_size,
                     const std::string& ranges) {
        tsv << profile->name << '\t' << status << '\t' << out_path << '\t' << file.path << '\t'
            << file.type << '\t' << file.size << '\t' << new_size << '\t' << seed << '\t' << ranges
            << '\n';
      };
      if (std::string why = SkipReason(*profile, base, file.size); !why.empty()) {
        row("skipped:" + why, "-", 0, "-");
        ++skipped;
        continue;
      }
      std::string original;
      if (!ReadFile(options.corpus / file.path, &original)) {
        row("skipped:unreadable", "-", 0, "-");
        ++skipped;
        continue;
      }
      auto content = steen::drill::TransformContent(*profile, original, seed, base);
      if (!content.ok()) {
        row("skipped:" + content.status().ToString(), "-", 0, "-");
        ++skipped;
        continue;
      }
      if (*content == original) {
        row("skipped:layout changes nothing", "-", 0, "-");
        ++skipped;
        continue;
      }
      const bool container = WritesLegitimateContainer(*profile);
      const std::string new_name = steen::drill::TransformName(*profile, base, seed);
      fs::path rel = fs::path(profile->name) / file.type / new_name;
      for (int n = 1; fs::exists(options.out / rel); ++n) {
        rel = fs::path(profile->name) / file.type / fmt::format("{}-{}", n, new_name);
      }
      fs::create_directories((options.out / rel).parent_path());
      std::ofstream out(options.out / rel, std::ios::binary);
      out.write(content->data(), static_cast<std::streamsize>(content->size()));
      if (!out) {
        std::cerr << "damage_corpus: cannot write " << (options.out / rel) << "\n";
        return 1;
      }
      const std::string ranges =
          container ? "whole file (container)"
                    : DescribeRanges(steen::drill::LayoutRanges(*profile, file.size, base));
      row(container ? "container" : "damaged", rel.string(), content->size(), ranges);
      ++damaged;
    }
    std::cout << fmt::format("{:<28} written {:>5}  skipped {:>5}{}\n", profile->name, damaged,
                             skipped, WritesLegitimateContainer(*profile) ? "  (containers)" : "");
  }
  return failures == 0 ? 0 : 1;
}
