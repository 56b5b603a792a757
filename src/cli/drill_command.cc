// `steen drill`: placeholder; the drill subcommand's owner replaces this file.
#include <cstdio>

#include "cli/commands.h"

namespace steen::cli {

void RegisterDrillCommand(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("drill", "Simulate ransomware damage on a test tree (soon)");
  sub->callback([] {
    std::fputs("steen drill: not implemented yet\n", stderr);
    SetExitCode(2);
  });
}

}  // namespace steen::cli
