// Factory of the text validator (the fallback for files without a binary signature), registered
// last by RegisterTextFormats. Exposed so tests can use it alone.
#pragma once

#include <memory>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakeTextValidator();

}  // namespace steen::content
