// Test-only helper for tests/e2e/incidents_cli_test.sh: records one incident through the library
// (as the daemon would) for real processes.
// Usage: record_incident STATE_DIR SUSPENDED_PID [OBSERVED_PID...]  -> prints the incident id.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sys/clock.h"
#include "sys/file_opener.h"
#include "sys/proc.h"
#include "watch/incident_store.h"

int main(int argc, char** argv) {
  using namespace steen;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s STATE_DIR SUSPENDED_PID [OBSERVED_PID...]\n", argv[0]);
    return 2;
  }
  auto store = watch::IncidentStore::Open(watch::IncidentDbPath(argv[1]));
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
    return 1;
  }
  sys::ProcessAttributor attributor(sys::DefaultFileOpener(), sys::RealClock::Get());
  Alert alert;
  alert.id = "e2e-1";
  alert.wall_time_ns = sys::RealClock::Get()->WallNs();
  alert.rule_name = "ransomware-encryption";
  alert.severity = "critical";
  alert.score = 42;
  alert.scope = ActorScope::kProcessTree;
  alert.scope_key = "e2e";
  alert.actor = attributor.Attribute(std::atoi(argv[2]));
  alert.files = {"/srv/share/a.docx", "/srv/share/b.xlsx"};
  alert.file_count = 2;
  alert.message = "e2e incident";
  auto id = (*store)->RecordAlert(alert);
  if (!id.ok()) {
    std::fprintf(stderr, "%s\n", id.status().ToString().c_str());
    return 1;
  }
  Status status = (*store)->RecordProcess(*id, alert.actor, watch::ProcessState::kSuspended,
                                          "SIGSTOP by the e2e test");
  for (int i = 3; i < argc && status.ok(); ++i) {
    status = (*store)->RecordProcess(*id, attributor.Attribute(std::atoi(argv[i])),
                                     watch::ProcessState::kObserved, "");
  }
  if (status.ok()) {
    status = (*store)->Transition(*id, watch::IncidentState::kSuspended, watch::kDaemonActor, "");
  }
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.ToString().c_str());
    return 1;
  }
  std::printf("%s\n", id->c_str());
  return 0;
}
