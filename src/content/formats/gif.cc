// Gif validator (not written yet: matches nothing).
#include <memory>

#include "content/format.h"

namespace steen::content {
namespace {

class GifValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "gif"; }
  bool Matches(std::string_view, uint64_t) const override { return false; }
  FormatReport Validate(Reader&) const override { return {}; }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeGifValidator() {
  return std::make_unique<GifValidator>();
}

}  // namespace steen::content
