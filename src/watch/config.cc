// Config loading for `steen watch` (see config.h). Work in progress: loading is being written.
#include "watch/config.h"

namespace steen::watch {

std::string_view ToString(Action action) {
  switch (action) {
    case Action::kAlert:
      return "alert";
    case Action::kSuspend:
      return "suspend";
    case Action::kKill:
      return "kill";
  }
  return "suspend";
}

std::string_view ToString(OutputSpec::Type type) {
  switch (type) {
    case OutputSpec::Type::kStdout:
      return "stdout";
    case OutputSpec::Type::kFile:
      return "file";
    case OutputSpec::Type::kSyslog:
      return "syslog";
    case OutputSpec::Type::kJournald:
      return "journald";
  }
  return "stdout";
}

WatchConfig DefaultConfig() { return WatchConfig{}; }

StatusOr<WatchConfig> LoadWatchConfig(const ConfigSources& sources) {
  WatchConfig config = DefaultConfig();
  config.paths = sources.cli_paths;
  config.dry_run = sources.dry_run;
  if (sources.config_file) return Status::Unsupported("config files are not supported yet");
  if (config.paths.empty()) return Status::InvalidArgument("no paths to protect");
  return config;
}

std::string RenderConfig(const WatchConfig& config) { return ""; }

std::vector<std::string> ConfigKeys() { return {}; }

StatusOr<std::vector<std::unique_ptr<outputs::AlertSink>>> MakeSinks(const WatchConfig& config) {
  std::vector<std::unique_ptr<outputs::AlertSink>> sinks;
  for (const OutputSpec& spec : config.outputs) {
    switch (spec.type) {
      case OutputSpec::Type::kStdout:
        sinks.push_back(outputs::MakeJsonLinesStdoutSink());
        break;
      default:
        return Status::Unsupported("output type not supported yet");
    }
  }
  return sinks;
}

}  // namespace steen::watch
