// Factories of the system-format validators (executables, fonts, legitimately encrypted
// containers), registered by RegisterSystemFormats. Exposed so tests can use one validator alone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakeElfValidator();
std::unique_ptr<const FormatValidator> MakePeValidator();
std::unique_ptr<const FormatValidator> MakeFontValidator();
std::unique_ptr<const FormatValidator> MakeOpenPgpValidator();
std::unique_ptr<const FormatValidator> MakeAgeValidator();
std::unique_ptr<const FormatValidator> MakeLuksValidator();
std::unique_ptr<const FormatValidator> MakeDerValidator();  // der.cc

// Small helpers shared by the system validators.
namespace system_detail {

inline std::string Hex(uint64_t value) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value & 0xf]);
    value >>= 4;
  } while (value != 0);
  return "0x" + out;
}

}  // namespace system_detail
}  // namespace steen::content
