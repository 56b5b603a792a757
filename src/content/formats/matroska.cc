// Matroska validator (not written yet: matches nothing).
#include <memory>

#include "content/format.h"

namespace steen::content {
namespace {

class MatroskaValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "matroska"; }
  bool Matches(std::string_view, uint64_t) const override { return false; }
  FormatReport Validate(Reader&) const override { return {}; }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeMatroskaValidator() {
  return std::make_unique<MatroskaValidator>();
}

}  // namespace steen::content
