#include "scan/split_volume.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "scan/file_source.h"
#include "steen/limits.h"

namespace steen::scan {
namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string Padded(int value, std::size_t width) {
  std::string digits = std::to_string(value);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The size of a regular file beside the one scanned, or nullopt.
std::optional<uint64_t> RegularFileSize(int dir_fd, const std::string& name) {
  struct stat st {};
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(st.st_size);
}

// A format a set of volumes can be: a signature was found (a first volume without one, or text,
// lost its header or never had one).
bool KnownFormat(const std::string& format) {
  return format != "unknown" && format != "empty" && format.rfind("text", 0) != 0;
}

// The first volume's analysis, when it is of a known format.
std::optional<Analysis> FirstVolumeAnalysis(int dir_fd, const std::string& name,
                                            const AnalyzeFunction& analyze,
                                            const AnalyzeOptions& options) {
  const int fd = OpenForScan(dir_fd, name.c_str(), /*follow=*/false);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<Analysis> result;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    FileByteSource source(fd, static_cast<uint64_t>(st.st_size));
    StatusOr<Analysis> analysis = analyze(source, options);
    if (analysis.ok() && KnownFormat(analysis->format)) result = std::move(analysis).value();
  }
  close(fd);
  return result;
}

// The volumes of a numbered set, read as the one archive they make. Each read opens the volumes
// it spans (beside the scanned file, read-only) and closes them: a set may have hundreds.
class ConcatVolumes final : public ByteSource {
 public:
  ConcatVolumes(int dir_fd, std::vector<std::string> names, std::vector<uint64_t> sizes)
      : dir_fd_(dir_fd), names_(std::move(names)), sizes_(std::move(sizes)) {
    for (uint64_t s : sizes_) total_ += s;
  }
  uint64_t Size() const override { return total_; }
  Status ReadAt(uint64_t offset, std::size_t length, std::string* out) override {
    out->clear();
    uint64_t start = 0;
    for (std::size_t i = 0; i < names_.size() && length > 0; start += sizes_[i], ++i) {
      if (offset >= start + sizes_[i]) continue;
      const uint64_t at = offset - start;
      const auto want = static_cast<std::size_t>(std::min<uint64_t>(length, sizes_[i] - at));
      const int fd = OpenForScan(dir_fd_, names_[i].c_str(), /*follow=*/false);
      if (fd < 0) return Status::FromErrno("open " + names_[i], -fd);
      FileByteSource volume(fd, sizes_[i]);
      std::string part;
      Status st = volume.ReadAt(at, want, &part);
      close(fd);
      if (!st.ok()) return st;
      if (part.size() < want) return Status::IoError(names_[i] + " shrank while being read");
      out->append(part);
      offset += want;
      length -= want;
    }
    return Status::Ok();
  }

 private:
  int dir_fd_;
  std::vector<std::string> names_;
  std::vector<uint64_t> sizes_;
  uint64_t total_ = 0;
};

// The volumes of the set `name` belongs to, from its first, in order; empty when they do not make
// a set: a gap, a volume before the last whose size is not the first one's, a last one larger, or
// `name` not among them.
bool CollectSet(int dir_fd, const std::string& name, const SplitVolumeName& parsed,
                std::vector<std::string>* names, std::vector<uint64_t>* sizes) {
  std::string current = parsed.first;
  for (int i = 0; i < limits::kMaxSplitVolumes; ++i) {
    const auto size = RegularFileSize(dir_fd, current);
    if (!size) break;
    names->push_back(current);
    sizes->push_back(*size);
    const auto next = ParseSplitVolumeName(current, false);
    if (!next) return false;
    current = next->next;
  }
  if (names->size() < 2 || RegularFileSize(dir_fd, current)) return false;  // one, or too many
  for (std::size_t i = 1; i + 1 < sizes->size(); ++i) {
    if ((*sizes)[i] != sizes->front()) return false;
  }
  if (sizes->back() > sizes->front() || sizes->front() == 0) return false;
  return std::find(names->begin(), names->end(), name) != names->end();
}

}  // namespace

std::optional<SplitVolumeName> ParseSplitVolumeName(std::string_view name,
                                                    bool zip_last_candidate) {
  const std::size_t slash = name.rfind('/');
  const std::size_t base = slash == std::string_view::npos ? 0 : slash + 1;
  SplitVolumeName parsed;
  // zip -s: x.z01, x.z02, ... and x.zip, the last piece.
  const std::size_t dot = name.rfind('.');
  if (dot != std::string_view::npos && dot > base) {
    const std::string stem(name.substr(0, dot));
    const std::string_view suffix = name.substr(dot + 1);
    if (suffix.size() >= 3 && suffix[0] == 'z' && AllDigits(suffix.substr(1))) {
      const int number = std::stoi(std::string(suffix.substr(1)));
      if (number < 1) return std::nullopt;
      parsed.first = stem + ".z01";
      parsed.next = stem + ".z" + Padded(number + 1, 2);
      parsed.index = number;
      return parsed;
    }
    if (zip_last_candidate && suffix == "zip") {
      parsed.first = stem + ".z01";
      parsed.index = 0;
      return parsed;
    }
  }
  // A stem of more than a dot: ".001" or ".aa" alone are hidden files, not pieces.
  const auto stem_ok = [&](std::size_t suffix_bytes) {
    const std::size_t stem_bytes = name.size() - base - suffix_bytes;
    return stem_bytes > 0 && name.substr(base, stem_bytes) != ".";
  };
  // Numbered pieces: 7-Zip and HJSplit append .001, .002, ...; split -d appends 00, 01, ... (or
  // 000, 0000 with -a) to whatever prefix it is given (x, name., name.part), from 1 with
  // --numeric-suffixes=1.
  std::size_t digits = 0;
  while (digits < name.size() - base &&
         std::isdigit(static_cast<unsigned char>(name[name.size() - 1 - digits]))) {
    ++digits;
  }
  if (digits >= 2 && digits <= 6 && stem_ok(digits)) {
    const std::string stem(name.substr(0, name.size() - digits));
    const int number = std::stoi(std::string(name.substr(name.size() - digits)));
    const int first_number = digits == 3 && number > 0 ? 1 : 0;  // the usual start
    parsed.first = stem + Padded(first_number, digits);
    parsed.next = stem + Padded(number + 1, digits);
    parsed.index = number - first_number + 1;
    if (number > 0) {
      parsed.other_first = stem + Padded(1 - first_number, digits);
      parsed.other_index = number - (1 - first_number) + 1;
    }
    return parsed;
  }
  // split's default suffixes, after whatever prefix (xaa, name.aa, name.partaa): aa, ab, ... az,
  // ba, ... A name that merely ends in two letters is a piece only if its "aa" sibling makes a set
  // with it (JudgeSplitVolume).
  if (digits == 0 && name.size() - base >= 2 && stem_ok(2)) {
    const char c0 = name[name.size() - 2], c1 = name[name.size() - 1];
    if (c0 >= 'a' && c0 <= 'z' && c1 >= 'a' && c1 <= 'z' && !(c0 == 'z' && c1 == 'z')) {
      const std::string stem(name.substr(0, name.size() - 2));
      const int number = (c0 - 'a') * 26 + (c1 - 'a');
      parsed.first = stem + "aa";
      parsed.next = stem + static_cast<char>('a' + (number + 1) / 26) +
                    static_cast<char>('a' + (number + 1) % 26);
      parsed.index = number + 1;
      return parsed;
    }
  }
  return std::nullopt;
}

void JudgeSplitVolume(int dir_fd, const std::string& name, uint64_t size,
                      const AnalyzeFunction& analyze, const AnalyzeOptions& options,
                      Analysis* analysis) {
  if (analysis->verdict == Verdict::kIntact || size == 0) return;
  auto parsed = ParseSplitVolumeName(name, /*zip_last_candidate=*/EndsWith(name, ".zip"));
  if (!parsed) return;
  // Of the two possible starts, a piece numbered 0 beside it is the set's first (a set counted
  // from 1 has none); else the one there.
  if (!parsed->other_first.empty() && RegularFileSize(dir_fd, parsed->other_first) &&
      (parsed->other_first < parsed->first || !RegularFileSize(dir_fd, parsed->first))) {
    parsed->first = parsed->other_first;
    parsed->index = parsed->other_index;
  }
  const std::string first_base = parsed->first.substr(parsed->first.rfind('/') + 1);
  const std::string position = parsed->index > 0 ? "volume " + std::to_string(parsed->index)
                                                 : std::string("the last volume");
  std::string why;
  if (EndsWith(parsed->first, ".z01")) {
    // zip -s: x.z01, x.z02, ... then x.zip, the last piece. Its central directory counts offsets
    // per piece, so the pieces are not one zip end to end: a piece is vouched for by the set's
    // sizes (every piece before x.zip has the first's size, x.zip no more) and its first piece.
    const std::string zip_last = parsed->first.substr(0, parsed->first.size() - 4) + ".zip";
    const auto first_size = RegularFileSize(dir_fd, parsed->first);
    if (!first_size || !RegularFileSize(dir_fd, zip_last)) return;
    if (parsed->index == 0 ? size > *first_size : size != *first_size) return;
    const auto first = FirstVolumeAnalysis(dir_fd, parsed->first, analyze, options);
    if (!first || first->verdict == Verdict::kDamaged) return;
    why = position + " of a split " + first->format + " archive: its first volume '" + first_base +
          "' is beside it, and every volume before the last has its size (a zip volume alone" +
          " holds no header to check)";
    analysis->format = first->format + "-volume";
  } else {
    // Numbered volumes are the archive cut into pieces: judged whole, end to end. The set's format
    // is its first volume's: without one, there is no set to judge (cheap to know, before the set
    // is listed).
    if (parsed->first == name ? !KnownFormat(analysis->format)
                              : !FirstVolumeAnalysis(dir_fd, parsed->first, analyze, options)) {
      return;
    }
    std::vector<std::string> names;
    std::vector<uint64_t> sizes;
    if (!CollectSet(dir_fd, name, *parsed, &names, &sizes)) return;
    ConcatVolumes set(dir_fd, names, sizes);
    StatusOr<Analysis> whole = analyze(set, options);
    if (!whole.ok()) return;
    const std::string what = "the " + whole->format + " archive that its " +
                             std::to_string(names.size()) + " volumes make (from '" + first_base +
                             "', " + std::to_string(set.Size()) + " bytes)";
    if (whole->verdict == Verdict::kDamaged) {
      analysis->reasons.push_back(position + " of a split archive; " + what + " is damaged too: " +
                                  (whole->reasons.empty() ? "" : whole->reasons.front()));
      return;
    }
    if (whole->verdict != Verdict::kIntact || whole->format == "unknown") return;
    why = position + " of a split archive: " + what + " is intact (" +
          (whole->reasons.empty() ? "" : whole->reasons.front()) + ")";
    analysis->format = whole->format + "-volume";
  }
  std::vector<std::string> reasons{why};
  if (!analysis->reasons.empty()) reasons.push_back("on its own: " + analysis->reasons.front());
  analysis->verdict = Verdict::kIntact;
  analysis->kind = DamageKind::kNone;
  analysis->score = 0.2;
  analysis->reasons = std::move(reasons);
}

}  // namespace steen::scan
