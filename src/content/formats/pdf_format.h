// Factory for the pdf format validator (see pdf_format.cc); registered in document_formats.cc.
#pragma once

#include <memory>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakePdfValidator();

}  // namespace steen::content
