// steen watch: protect folders in real time (issue 4). Parsing and process plumbing only (signals,
// exit status); the daemon lives in src/watch.
//   steen watch [PATH...] [--config FILE] [-o key=value]... [--dry-run] [--validate]
// Exit status: 0 clean stop (or valid config), 1 the daemon could not start or failed,
// 2 usage or configuration errors.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "watch/config.h"
#include "watch/daemon.h"

namespace steen::cli {
namespace {

struct WatchArgs {
  std::vector<std::string> paths;
  std::string config;
  std::vector<std::string> overrides;
  bool dry_run = false;
  bool validate = false;
};

bool FileExists(std::string_view path) {
  struct stat st {};
  return ::stat(std::string(path).c_str(), &st) == 0;
}

int RunWatch(const WatchArgs& args) {
  watch::ConfigSources sources;
  if (!args.config.empty()) {
    sources.config_file = args.config;
  } else if (args.paths.empty() && FileExists(watch::kDefaultConfigPath)) {
    sources.config_file = std::string(watch::kDefaultConfigPath);
  }
  sources.overrides = args.overrides;
  sources.cli_paths = args.paths;
  sources.dry_run = args.dry_run;
  auto config = watch::LoadWatchConfig(sources);
  if (!config.ok()) {
    std::fprintf(stderr, "steen watch: %s\n", config.status().message().c_str());
    return 2;
  }
  for (const std::string& warning : config->warnings) {
    std::fprintf(stderr, "steen watch: warning: %s\n", warning.c_str());
  }
  if (args.validate) {
    std::fputs(watch::RenderConfig(*config).c_str(), stdout);
    std::fprintf(stderr, "steen watch: config OK (%zu path(s)%s)\n", config->paths.size(),
                 config->source.empty() ? "" : (", from " + config->source).c_str());
    return 0;
  }

  // Signals go to one thread only (sigwait), never to a thread inside the daemon: blocked here
  // before any thread exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // a closed stdout must not kill the daemon (the sink counts it)

  // Before any daemon thread exists: each thread inherits it (Linux nice values are per thread).
  if (config->nice != 0 && ::setpriority(PRIO_PROCESS, 0, config->nice) != 0) {
    std::fprintf(stderr,
                 "steen watch: warning: nice %d not set (%s): running at the priority it was "
                 "started with\n",
                 config->nice, std::strerror(errno));
  }
  auto daemon = watch::Daemon::Start(std::move(*config));
  if (!daemon.ok()) {
    std::fprintf(stderr, "steen watch: %s\n", daemon.status().message().c_str());
    return 1;
  }
  std::fprintf(stderr, "steen watch: watching (pid %d); Ctrl-C or SIGTERM stops\n", ::getpid());
  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    const timespec tick{0, 200 * 1000 * 1000};
    while (!done.load()) {
      int sig = ::sigtimedwait(&signals, nullptr, &tick);
      if (sig == SIGHUP) {
        (*daemon)->RequestReopen();
      } else if (sig == SIGINT || sig == SIGTERM) {
        std::fprintf(stderr, "steen watch: stopping (signal %d)\n", sig);
        (*daemon)->RequestStop();
      }
    }
  });
  Status status = (*daemon)->Run();
  done = true;
  signal_thread.join();
  const auto& s = (*daemon)->stats();
  std::fprintf(stderr,
               "steen watch: stopped: %llu events, %llu alerts, %llu incidents, %llu analysis "
               "errors, %llu overflows, %llu alerts dropped, %llu writes held, %llu files "
               "analysed, %llu renames over a kept file judged\n",
               static_cast<unsigned long long>(s.events), static_cast<unsigned long long>(s.alerts),
               static_cast<unsigned long long>(s.incidents_recorded),
               static_cast<unsigned long long>(s.analysis_errors),
               static_cast<unsigned long long>(s.overflows),
               static_cast<unsigned long long>(s.alerts_dropped),
               static_cast<unsigned long long>((*daemon)->hold_stats().held),
               static_cast<unsigned long long>(s.analyses),
               static_cast<unsigned long long>(s.renames_over_judged));
  // A process gone before its event was read is placed through the kernel's process events; lost
  // ones (a full socket) leave such processes known by pid alone.
  const auto attribution = (*daemon)->attribution_stats();
  const auto history = (*daemon)->process_history_stats();
  std::fprintf(stderr,
               "steen watch: processes: %llu gone before attribution (%llu from an earlier event, "
               "%llu from process events); process events: %llu forks, %llu exits, %llu lost, "
               "%llu not recorded\n",
               static_cast<unsigned long long>(attribution.vanished),
               static_cast<unsigned long long>(attribution.vanished_from_cache),
               static_cast<unsigned long long>(attribution.vanished_from_history),
               static_cast<unsigned long long>(history.forks),
               static_cast<unsigned long long>(history.exits),
               static_cast<unsigned long long>(history.lost),
               static_cast<unsigned long long>(history.dropped));
  if (!status.ok()) {
    std::fprintf(stderr, "steen watch: %s\n", status.message().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void RegisterWatchCommand(CLI::App& app) {
  auto args = std::make_shared<WatchArgs>();
  auto* cmd = app.add_subcommand(
      "watch", "Protect folders in real time: alert on ransomware activity and suspend the writer");
  cmd->add_option("paths", args->paths,
                  "Folders to protect (replace the config's paths; defaults for the rest)");
  cmd->add_option("--config,-c", args->config,
                  "YAML config file (default /etc/steen/steen.yaml "
                  "when no PATH is given and it exists)");
  cmd->add_option("-o,--option", args->overrides, "Override one config key: key=value (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--dry-run", args->dry_run, "Alert and record, but never signal a process");
  cmd->add_flag("--validate", args->validate,
                "Check the config, print the effective config and exit (0 = valid, 2 = errors)");
  cmd->callback([args] { SetExitCode(RunWatch(*args)); });
}

}  // namespace steen::cli
