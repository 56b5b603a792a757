#include "cli/state_options.h"

#include <cstdio>

#include "watch/config.h"

namespace steen::cli {

void AddStoreOptions(CLI::App* cmd, StoreOptions& options, bool vault) {
  cmd->add_option("--state-dir", options.state_dir, "folder of steen watch's state (incidents.db)")
      ->capture_default_str();
  cmd->add_option("--config", options.config_file,
                  vault ? "take state_dir and vault.dir from this steen.yaml"
                        : "take state_dir from this steen.yaml");
  if (vault) {
    cmd->add_option("--vault-dir", options.vault_dir,
                    "the vault folder (default: vault.dir of --config, or STATE_DIR/vault)");
  }
}

std::optional<StatePaths> ResolveStatePaths(const StoreOptions& options, CLI::App* cmd) {
  StatePaths paths{options.state_dir, ""};
  if (!options.config_file.empty()) {
    watch::ConfigSources sources;
    sources.config_file = options.config_file;
    // Only the folders matter here; a placeholder path keeps a config without `paths:` (given on
    // steen watch's command line) from failing validation.
    sources.cli_paths = {"/tmp"};
    auto config = watch::LoadWatchConfig(sources);
    if (!config.ok()) {
      std::fprintf(stderr, "steen: %s\n", config.status().message().c_str());
      return std::nullopt;
    }
    if (cmd->count("--state-dir") == 0) paths.state_dir = config->state_dir;
    if (!config->vault.dir.empty()) paths.vault_dir = config->vault.dir;
  }
  if (!options.vault_dir.empty()) paths.vault_dir = options.vault_dir;
  if (paths.vault_dir.empty()) paths.vault_dir = paths.state_dir + "/vault";
  return paths;
}

std::optional<std::string> StateDir(const StoreOptions& options, CLI::App* cmd) {
  auto paths = ResolveStatePaths(options, cmd);
  if (!paths) return std::nullopt;
  return paths->state_dir;
}

std::unique_ptr<watch::IncidentStore> OpenStore(const std::string& dir, bool& missing) {
  missing = false;
  watch::IncidentStoreOptions options;
  options.create = false;
  auto store = watch::IncidentStore::Open(watch::IncidentDbPath(dir), options);
  if (store.ok()) return std::move(store).value();
  if (store.status().code() == Status::Code::kNotFound) {
    missing = true;
  } else {
    std::fprintf(stderr, "steen: %s\n", store.status().message().c_str());
  }
  return nullptr;
}

}  // namespace steen::cli
