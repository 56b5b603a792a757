// Registration of the media format validators: images, audio and video containers.
#include <memory>

#include "content/format.h"

namespace steen::content {

// Each validator lives in its own file and exposes only a factory.
std::unique_ptr<const FormatValidator> MakeJpegValidator();
std::unique_ptr<const FormatValidator> MakePngValidator();
std::unique_ptr<const FormatValidator> MakeGifValidator();
std::unique_ptr<const FormatValidator> MakeRiffValidator();
std::unique_ptr<const FormatValidator> MakeTiffValidator();
std::unique_ptr<const FormatValidator> MakeBmpValidator();
std::unique_ptr<const FormatValidator> MakeIsoBmffValidator();
std::unique_ptr<const FormatValidator> MakeOggValidator();
std::unique_ptr<const FormatValidator> MakeFlacValidator();
std::unique_ptr<const FormatValidator> MakeMatroskaValidator();
std::unique_ptr<const FormatValidator> MakeMp3Validator();

void RegisterMediaFormats(ValidatorList& out) {
  // Strong signatures first; MP3 last because a bare MPEG frame sync is the weakest signature.
  out.push_back(MakeJpegValidator());
  out.push_back(MakePngValidator());
  out.push_back(MakeGifValidator());
  out.push_back(MakeRiffValidator());
  out.push_back(MakeTiffValidator());
  out.push_back(MakeIsoBmffValidator());
  out.push_back(MakeOggValidator());
  out.push_back(MakeFlacValidator());
  out.push_back(MakeMatroskaValidator());
  out.push_back(MakeBmpValidator());
  out.push_back(MakeMp3Validator());
}

}  // namespace steen::content
