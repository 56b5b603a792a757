#include "content/format.h"

namespace steen::content {

ValidatorList MakeAllValidators() {
  ValidatorList all;
  RegisterArchiveFormats(all);
  RegisterDocumentFormats(all);
  RegisterMediaFormats(all);
  RegisterSystemFormats(all);
  RegisterSignatureFormats(all);  // after the structural validators: they know better
  RegisterTextFormats(all);  // last: text is the fallback for anything without a binary signature
  return all;
}

}  // namespace steen::content
