// File-name helpers for detection: folders, extensions, rename shapes, ransom-note names.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace steen::detect {

std::string_view Folder(std::string_view path);    // "/a/b/c.txt" -> "/a/b"; "c" -> ""
std::string_view BaseName(std::string_view path);  // "/a/b/c.txt" -> "c.txt"
// Text after the last dot of a name ("" when none, or for ".bashrc"-style names).
std::string_view Extension(std::string_view name);
// Name without its last extension ("a.tar.gz" -> "a.tar").
std::string_view Stem(std::string_view name);
std::string ToLower(std::string_view text);
bool HasPathPrefix(std::string_view path, std::string_view prefix);
bool Contains(const std::vector<std::string>& list, std::string_view value);

enum class RenameShape {
  kNone,      // same extension, a temp file taking its final name, a benign suffix
  kAppended,  // "a.docx" -> "a.docx.PLAY": a suffix added to the whole old name
  kReplaced,  // "1.jpg" -> "CDtU3Eq.HLJkNskOq": extension changed (evidence only with damage)
};
struct RenameInfo {
  RenameShape shape = RenameShape::kNone;
  std::string new_extension;  // lower case, as counted across files
};
RenameInfo ClassifyRename(std::string_view old_path, std::string_view new_path,
                          const std::vector<std::string>& benign_suffixes);

// Whether a file name looks like a ransom note: a pattern in its lower-case name and a note
// extension.
bool LooksLikeNoteName(std::string_view name, const std::vector<std::string>& patterns,
                       const std::vector<std::string>& extensions);

// Whether new file `replacement` is named after `original` (same folder, "x" -> "x.gpg",
// "x.docx" -> "x.7z").
bool NamedAfter(std::string_view replacement, std::string_view original);

}  // namespace steen::detect
