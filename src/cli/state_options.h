// Where the operator commands (incidents, resume, kill, rollback, vault) find steen watch's state:
// --state-dir, or state_dir / vault.dir of a steen.yaml given with --config. Shared so every
// command resolves them the same way.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "watch/incident_store.h"

namespace steen::cli {

struct StoreOptions {
  std::string state_dir = "/var/lib/steen";
  std::string config_file;
  std::string vault_dir;  // --vault-dir (commands that use the vault)
};

// --state-dir and --config; with `vault`, also --vault-dir.
void AddStoreOptions(CLI::App* cmd, StoreOptions& options, bool vault = false);

struct StatePaths {
  std::string state_dir;
  std::string vault_dir;
};
// The folders, or nullopt after printing the error (exit 2).
std::optional<StatePaths> ResolveStatePaths(const StoreOptions& options, CLI::App* cmd);
// The state dir only (incidents.db), or nullopt after printing the error.
std::optional<std::string> StateDir(const StoreOptions& options, CLI::App* cmd);

// Opens the incident database without creating it. nullptr with `missing` set when there is none;
// nullptr without it after printing the error.
std::unique_ptr<watch::IncidentStore> OpenStore(const std::string& dir, bool& missing);

}  // namespace steen::cli
