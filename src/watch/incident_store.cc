// Placeholder implementation (compiles; full SQLite implementation follows).
#include "watch/incident_store.h"

namespace steen::watch {

struct IncidentStore::Statements {};

std::string_view ToString(IncidentState state) {
  switch (state) {
    case IncidentState::kAlerted: return "alerted";
    case IncidentState::kSuspended: return "suspended";
    case IncidentState::kKilled: return "killed";
    case IncidentState::kResumed: return "resumed";
    case IncidentState::kClosed: return "closed";
  }
  return "alerted";
}
std::optional<IncidentState> ParseIncidentState(std::string_view) { return std::nullopt; }
bool IsOpen(IncidentState state) {
  return state == IncidentState::kAlerted || state == IncidentState::kSuspended;
}
std::string_view ToString(ProcessState) { return "observed"; }
std::optional<ProcessState> ParseProcessState(std::string_view) { return std::nullopt; }
std::string OperatorActor(uid_t uid) { return "operator uid " + std::to_string(uid); }
std::string IncidentDbPath(std::string_view state_dir) {
  return std::string(state_dir) + "/incidents.db";
}

IncidentStore::IncidentStore(std::string path, IncidentStoreOptions options)
    : path_(std::move(path)), options_(options) {}
IncidentStore::~IncidentStore() = default;
StatusOr<std::unique_ptr<IncidentStore>> IncidentStore::Open(const std::string&,
                                                             IncidentStoreOptions) {
  return Status::Unsupported("incident store not implemented yet");
}
Status IncidentStore::Init() { return Status::Unsupported("not implemented"); }
StatusOr<std::string> IncidentStore::RecordAlert(const Alert&) {
  return Status::Unsupported("not implemented");
}
Status IncidentStore::RecordProcess(const std::string&, const Actor&, ProcessState,
                                    const std::string&, std::string_view) {
  return Status::Unsupported("not implemented");
}
Status IncidentStore::SetProcessState(const std::string&, pid_t, uint64_t, ProcessState,
                                      const std::string&, std::string_view) {
  return Status::Unsupported("not implemented");
}
Status IncidentStore::AddFiles(const std::string&, const std::vector<std::string>&) {
  return Status::Unsupported("not implemented");
}
Status IncidentStore::Transition(const std::string&, IncidentState, std::string_view,
                                 const std::string&) {
  return Status::Unsupported("not implemented");
}
StatusOr<std::vector<Incident>> IncidentStore::List(const IncidentFilter&) {
  return Status::Unsupported("not implemented");
}
StatusOr<Incident> IncidentStore::Get(const std::string&) {
  return Status::Unsupported("not implemented");
}
StatusOr<std::vector<IncidentAction>> IncidentStore::ChangesSince(int64_t, std::size_t) {
  return Status::Unsupported("not implemented");
}
StatusOr<int64_t> IncidentStore::LatestChange() { return Status::Unsupported("not implemented"); }

}  // namespace steen::watch
