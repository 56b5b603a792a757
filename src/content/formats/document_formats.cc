// Registration of the document format validators. (Filled in by the validators of this family.)
#include "content/format.h"

namespace steen::content {

void RegisterDocumentFormats(ValidatorList& out) { (void)out; }

}  // namespace steen::content
