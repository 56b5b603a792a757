// Registration of the text format validators. Text is the fallback: registered last.
#include "content/formats/text_formats.h"

namespace steen::content {

void RegisterTextFormats(ValidatorList& out) { out.push_back(MakeTextValidator()); }

}  // namespace steen::content
