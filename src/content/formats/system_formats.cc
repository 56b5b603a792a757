// Registration of the system format validators: executables, fonts and legitimately encrypted
// containers. Encrypted containers come first: their signatures are the most specific.
#include "content/formats/system_formats.h"

namespace steen::content {

void RegisterSystemFormats(ValidatorList& out) {
  out.push_back(MakeLuksValidator());
  out.push_back(MakeAgeValidator());
  out.push_back(MakeElfValidator());
  out.push_back(MakePeValidator());
  out.push_back(MakeFontValidator());
  out.push_back(MakeDerValidator());
  out.push_back(MakeOpenPgpValidator());  // binary OpenPGP has the weakest signature: last
}

}  // namespace steen::content
