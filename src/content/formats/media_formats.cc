// Registration of the media format validators. (Filled in by the validators of this family.)
#include "content/format.h"

namespace steen::content {

void RegisterMediaFormats(ValidatorList& out) { (void)out; }

}  // namespace steen::content
