// steen watch: placeholder registration until the daemon lands (issue 4). Exits 2 with a message.
#include <cstdio>

#include "cli/commands.h"

namespace steen::cli {

void RegisterWatchCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("watch", "protect folders in real time (not available yet)");
  cmd->allow_extras();
  cmd->callback([] {
    std::fprintf(stderr, "steen watch: not available in this build\n");
    SetExitCode(2);
  });
}

}  // namespace steen::cli
