// Printable forms of raw byte strings (file names are bytes, not text, on Linux).
#pragma once

#include <string>
#include <string_view>

namespace steen::scan {

// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF:
// the same rules nlohmann::json enforces).
bool IsValidUtf8(std::string_view bytes);

// Valid UTF-8 sequences are kept; every byte that is not part of one becomes the four ASCII
// characters "\xNN" (lower-case hex). The result is always valid UTF-8. Lossless only together
// with the raw bytes (see HexBytes), because a name may itself contain the text "\x..".
std::string EscapeInvalidUtf8(std::string_view bytes);

// For terminals: like EscapeInvalidUtf8, and control characters (< 0x20, 0x7f) are escaped the
// same way so a name with a newline cannot forge a report line.
std::string EscapeForText(std::string_view bytes);

// Lower-case hex of every byte, e.g. "2f746d70".
std::string HexBytes(std::string_view bytes);

}  // namespace steen::scan
