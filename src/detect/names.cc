#include "detect/names.h"

#include <algorithm>
#include <cctype>

namespace steen::detect {

std::string_view Folder(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  if (slash == 0) return path.substr(0, 1);
  return path.substr(0, slash);
}

std::string_view BaseName(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string_view Extension(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  return name.substr(dot + 1);
}

std::string_view Stem(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return name;
  return name.substr(0, dot);
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool HasPathPrefix(std::string_view path, std::string_view prefix) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.remove_suffix(1);
  if (prefix.empty()) return false;
  if (prefix == "/") return !path.empty() && path.front() == '/';
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

bool Contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

namespace {

bool AllDigits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool BenignSuffix(std::string_view suffix, const std::vector<std::string>& benign) {
  if (suffix.empty() || suffix.back() == '~' || AllDigits(suffix)) return true;
  const std::string lower = ToLower(suffix);
  if (Contains(benign, lower)) return true;
  // "x.1.gz" (logrotate) and "x.bak.1": a benign first component.
  const auto dot = lower.find('.');
  if (dot != std::string::npos) {
    const std::string_view first = std::string_view(lower).substr(0, dot);
    if (AllDigits(first) || Contains(benign, first)) return true;
  }
  return false;
}

}  // namespace

RenameInfo ClassifyRename(std::string_view old_path, std::string_view new_path,
                          const std::vector<std::string>& benign_suffixes) {
  RenameInfo info;
  const std::string_view old_name = BaseName(old_path);
  const std::string_view new_name = BaseName(new_path);
  if (old_name.empty() || new_name.empty() || old_name == new_name) return info;
  if (new_name.size() > old_name.size() + 1 && new_name.substr(0, old_name.size()) == old_name &&
      new_name[old_name.size()] == '.') {
    const std::string_view suffix = new_name.substr(old_name.size() + 1);
    if (BenignSuffix(suffix, benign_suffixes)) return info;
    info.shape = RenameShape::kAppended;
    info.new_extension = ToLower(Extension(new_name));
    return info;
  }
  // Temp files taking their final name (rsync ".x.AbC123" -> "x", editors, package managers).
  if (old_name.front() == '.' || new_name.front() == '.') return info;
  const std::string_view new_ext = Extension(new_name);
  if (new_ext.empty() || BenignSuffix(new_ext, benign_suffixes)) return info;
  if (ToLower(new_ext) == ToLower(Extension(old_name))) return info;
  // "x.tmp" -> "x.docx": a temporary name becoming a real one.
  if (BenignSuffix(Extension(old_name), benign_suffixes) && !Extension(old_name).empty()) {
    return info;
  }
  info.shape = RenameShape::kReplaced;
  info.new_extension = ToLower(new_ext);
  return info;
}

bool LooksLikeNoteName(std::string_view name, const std::vector<std::string>& patterns,
                       const std::vector<std::string>& extensions) {
  const std::string lower = ToLower(name);
  if (!Contains(extensions, Extension(lower))) return false;
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return lower.find(pattern) != std::string::npos;
  });
}

bool NamedAfter(std::string_view replacement, std::string_view original) {
  if (Folder(replacement) != Folder(original)) return false;
  const std::string_view new_name = BaseName(replacement);
  const std::string_view old_name = BaseName(original);
  if (new_name == old_name || old_name.empty()) return false;
  if (new_name.size() > old_name.size() + 1 && new_name.substr(0, old_name.size()) == old_name &&
      new_name[old_name.size()] == '.') {
    return true;
  }
  return Stem(new_name) == Stem(old_name) && Stem(old_name) != old_name;
}

}  // namespace steen::detect
