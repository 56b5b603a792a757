// Registration of the archive format validators. (Filled in by the validators of this family.)
#include "content/format.h"

namespace steen::content {

void RegisterArchiveFormats(ValidatorList& out) { (void)out; }

}  // namespace steen::content
