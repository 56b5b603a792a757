// Volumes of split archives. 7-Zip's "split to volumes" (name.7z.001, .002, ...), HJSplit, `split`
// (aa, ab, ... or with -d 00, 01, ... after any prefix: xaa, name.aa, name.partaa) and `zip -s`
// (name.z01, name.z02, ..., name.zip last) cut one archive into pieces: every piece after the first
// is raw compressed bytes with no header, which content analysis alone calls encrypted, and the
// first piece reads as an archive cut short. A piece is recognised by its name and by the set it
// belongs to, never by its name alone: the first volume must be beside it and be a known, undamaged
// format, and every volume before the last must have the first one's size (the writers' rule).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "steen/content.h"
#include "steen/scan.h"

namespace steen::scan {

// What a file name says about its place in a split set.
struct SplitVolumeName {
  std::string first;  // the first volume's name (the file itself for the first)
  std::string next;   // the name the following volume would have; empty for zip's last piece
  int index = 0;      // 1-based position in the set; 0 for zip's last piece (position unknown)
  // Numbered pieces start at 1 (7-Zip's .001) or at 0 (split -d: x00, x.000): the other first
  // volume and this one's position from it, when the name alone cannot tell.
  std::string other_first;
  int other_index = 0;
};

// Parses "x.7z.002", "x.001", "x00" (2 to 6 digits after any prefix), "xab", "x.z03" and
// "x.zip" (a last piece, when x.z01 exists: the caller checks). `zip_last_candidate` parses "x.zip"
// as zip's last piece.
std::optional<SplitVolumeName> ParseSplitVolumeName(std::string_view name, bool zip_last_candidate);

// Called for a file whose analysis is not intact: when it is a volume of a split set that checks
// out, replaces the analysis with an intact verdict that says so. `dir_fd` is the directory the
// file is in; `size` its size. Opens only siblings of the file, read-only.
void JudgeSplitVolume(int dir_fd, const std::string& name, uint64_t size,
                      const AnalyzeFunction& analyze, const AnalyzeOptions& options,
                      Analysis* analysis);

}  // namespace steen::scan
