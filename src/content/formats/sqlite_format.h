// Factories for the SQLite validators (see sqlite_format.cc): the database, its rollback journal
// and its write-ahead log; registered in document_formats.cc.
#pragma once

#include <memory>

#include "content/format.h"

namespace steen::content {

std::unique_ptr<const FormatValidator> MakeSqliteValidator();
std::unique_ptr<const FormatValidator> MakeSqliteJournalValidator();
std::unique_ptr<const FormatValidator> MakeSqliteWalValidator();

}  // namespace steen::content
