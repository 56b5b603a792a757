// Registration of the system format validators. (Filled in by the validators of this family.)
#include "content/format.h"

namespace steen::content {

void RegisterSystemFormats(ValidatorList& out) { (void)out; }

}  // namespace steen::content
