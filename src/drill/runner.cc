// File-system side of the drill (filled in below the pure library).
#include "steen/drill.h"

namespace steen::drill {

Status InitTarget(const InitOptions&, std::string*) { return Status::Unsupported("not yet"); }
Status RunDrill(const Profile&, const RunOptions&, RunStats*) {
  return Status::Unsupported("not yet");
}
Status Undo(std::string_view, std::string*) { return Status::Unsupported("not yet"); }
Status CheckTarget(std::string_view) { return Status::Unsupported("not yet"); }

}  // namespace steen::drill
