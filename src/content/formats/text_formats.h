// Factory of the text validator (the fallback for files without a binary signature), registered
// last by RegisterTextFormats. Exposed so tests can use it alone.
#pragma once

#include <memory>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakeTextValidator();

// True when `head` is UTF-16 text by its byte-order mark or by its zero bytes (ASCII characters
// leave a zero in every other byte). Such text may be mostly high bytes (Hangul, CJK) without
// being inverted 8-bit text.
bool LooksLikeUtf16(std::string_view head);

}  // namespace steen::content
