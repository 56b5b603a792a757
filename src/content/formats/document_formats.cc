// Registration of the document format validators: PDF, OLE2 compound files (doc/xls/ppt/msg/msi),
// SQLite databases, rollback journals and write-ahead logs.
#include "content/format.h"
#include "content/formats/ole2_format.h"
#include "content/formats/pdf_format.h"
#include "content/formats/sqlite_format.h"

namespace steen::content {

void RegisterDocumentFormats(ValidatorList& out) {
  out.push_back(MakePdfValidator());
  out.push_back(MakeOle2Validator());
  out.push_back(MakeSqliteValidator());
  out.push_back(MakeSqliteJournalValidator());
  out.push_back(MakeSqliteWalValidator());
}

}  // namespace steen::content
