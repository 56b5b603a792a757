// Factory for the ole2 format validator (see ole2_format.cc); registered in document_formats.cc.
#pragma once

#include <memory>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakeOle2Validator();

}  // namespace steen::content
