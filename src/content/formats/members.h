// What archive validators of whole files (tar, cpio) share: choosing the members the analyzer
// judges as files of their own (FormatReport::members), and naming them in reasons.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "steen/limits.h"

namespace steen::content {

// Picks the members the analyzer judges: the one holding each of kMaxMembersJudged offsets
// spread evenly over the file (so large members, and every part of a large archive, get a turn).
class MemberPicker {
 public:
  explicit MemberPicker(uint64_t file_size) : file_size_(file_size) {}
  // Called for each entry in file order with the end of its span (header to padding): true when
  // a target falls in it.
  bool Take(uint64_t entry_end) {
    bool taken = false;
    while (next_ < limits::kMaxMembersJudged && Target(next_) < entry_end) {
      taken = true;
      ++next_;
    }
    return taken;
  }

 private:
  uint64_t Target(std::size_t i) const { return file_size_ / limits::kMaxMembersJudged * i; }
  uint64_t file_size_;
  std::size_t next_ = 0;
};

// A member's name for reasons: up to the first NUL and kMaxMemberNameBytes, printable ASCII only
// (reasons end up in JSON; other bytes become '?').
inline std::string PrintableName(std::string_view bytes) {
  std::string name;
  for (char c : bytes.substr(0, std::min(bytes.size(), limits::kMaxMemberNameBytes))) {
    if (c == '\0') break;
    name.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return name;
}

}  // namespace steen::content
