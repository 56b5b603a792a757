// One registration function per subcommand, each in its own file (<name>_command.cc). A function
// adds its subcommand and options to the app and sets a callback that does the work (by calling
// into a library) and reports the process exit status with SetExitCode. Parsing only, no logic.
// To add a subcommand: declare `void Register<Name>Command(CLI::App& app);` here, define it in
// src/cli/<name>_command.cc, and call it from main.cc.
#pragma once

#include "CLI/CLI.hpp"

namespace steen::cli {

// Exit status the process returns (0 unless a subcommand sets it); defined in main.cc.
void SetExitCode(int code);

void RegisterScanCommand(CLI::App& app);
void RegisterDrillCommand(CLI::App& app);
void RegisterWatchCommand(CLI::App& app);      // watch_command.cc
void RegisterIncidentCommands(CLI::App& app);  // incidents_command.cc: incidents, resume, kill
void RegisterVaultCommands(CLI::App& app);     // vault_command.cc: rollback, vault ls/show/restore

}  // namespace steen::cli
