// Registration of the text format validators. (Filled in by the validators of this family.)
#include "content/format.h"

namespace steen::content {

void RegisterTextFormats(ValidatorList& out) { (void)out; }

}  // namespace steen::content
