// Factory for the sqlite format validator (see sqlite_format.cc); registered in
// document_formats.cc.
#pragma once

#include <memory>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakeSqliteValidator();

}  // namespace steen::content
