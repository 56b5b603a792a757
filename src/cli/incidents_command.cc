// steen incidents / resume / kill: placeholder registration until the incident store lands.
#include <cstdio>

#include "cli/commands.h"

namespace steen::cli {

void RegisterIncidentCommands(CLI::App& app) {
  for (const char* name : {"incidents", "resume", "kill"}) {
    auto* cmd = app.add_subcommand(name, "incident handling (not available yet)");
    cmd->allow_extras();
    cmd->callback([name] {
      std::fprintf(stderr, "steen %s: not available in this build\n", name);
      SetExitCode(2);
    });
  }
}

}  // namespace steen::cli
