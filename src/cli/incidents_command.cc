// steen incidents / resume / kill: parsing and printing only; the logic is in
// src/watch/incident_store.h and src/watch/incident_operator.h.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/state_options.h"
#include "sys/process_control.h"
#include "watch/config.h"
#include "watch/incident_operator.h"
#include "watch/incident_store.h"

namespace steen::cli {
namespace {

void RegisterList(CLI::App& app) {
  auto* cmd = app.add_subcommand("incidents", "list what steen watch contained");
  auto options = std::make_shared<StoreOptions>();
  auto format = std::make_shared<std::string>("text");
  auto state = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  AddStoreOptions(cmd, *options);
  cmd->add_option("--format", *format, "text or jsonl")->check(CLI::IsMember({"text", "jsonl"}));
  cmd->add_option("--state", *state, "only incidents in this state")
      ->check(CLI::IsMember({"alerted", "suspended", "killed", "resumed", "closed"}));
  cmd->add_flag("--all", *all, "include closed incidents (default: all but closed)");
  auto* show = cmd->add_subcommand("show", "one incident in full (JSON)");
  auto id = std::make_shared<std::string>();
  show->add_option("id", *id, "incident id (INC-...)")->required();
  cmd->require_subcommand(0, 1);

  auto dir_or_exit = [options, cmd]() { return StateDir(*options, cmd); };
  show->callback([dir_or_exit, id] {
    auto dir = dir_or_exit();
    if (!dir) return SetExitCode(2);
    bool missing = false;
    auto store = OpenStore(*dir, missing);
    if (!store) {
      if (missing) {
        std::fprintf(stderr, "steen: no incident %s: no incidents recorded in %s\n", id->c_str(),
                     dir->c_str());
      }
      return SetExitCode(2);
    }
    auto incident = store->Get(*id);
    if (!incident.ok()) {
      std::fprintf(stderr, "steen: %s\n", incident.status().message().c_str());
      return SetExitCode(incident.status().code() == Status::Code::kNotFound ? 2 : 1);
    }
    std::printf("%s\n", watch::IncidentToJson(*incident, /*full=*/true).c_str());
  });
  cmd->callback([=] {
    if (show->parsed()) return;
    auto dir = dir_or_exit();
    if (!dir) return SetExitCode(2);
    bool missing = false;
    auto store = OpenStore(*dir, missing);
    if (!store) {
      if (!missing) return SetExitCode(1);
      std::fprintf(stderr,
                   "no incidents recorded in %s (steen watch has not run with this state_dir)\n",
                   dir->c_str());
      return;
    }
    watch::IncidentFilter filter;
    if (!state->empty()) filter.state = watch::ParseIncidentState(*state);
    filter.with_history = *format == "jsonl";
    auto incidents = store->List(filter);
    if (!incidents.ok()) {
      std::fprintf(stderr, "steen: %s\n", incidents.status().message().c_str());
      return SetExitCode(1);
    }
    std::vector<watch::Incident> shown;
    for (auto& incident : *incidents) {
      if (!*all && state->empty() && incident.state == watch::IncidentState::kClosed) continue;
      shown.push_back(std::move(incident));
    }
    if (*format == "jsonl") {
      for (const auto& incident : shown) {
        std::printf("%s\n", watch::IncidentToJson(incident, /*full=*/false).c_str());
      }
    } else if (shown.empty()) {
      std::printf("no incidents%s\n", *all ? "" : " (closed ones hidden; --all shows them)");
    } else {
      std::fputs(watch::FormatIncidentTable(shown).c_str(), stdout);
    }
  });
}

void RegisterDecision(CLI::App& app, const char* name, bool resume) {
  auto* cmd =
      app.add_subcommand(name, resume ? "let an incident's suspended processes continue (SIGCONT)"
                                      : "kill an incident's processes (SIGKILL)");
  auto options = std::make_shared<StoreOptions>();
  auto id = std::make_shared<std::string>();
  AddStoreOptions(cmd, *options);
  cmd->add_option("id", *id, "incident id (see `steen incidents`)")->required();
  cmd->callback([=] {
    auto dir = StateDir(*options, cmd);
    if (!dir) return SetExitCode(2);
    bool missing = false;
    auto store = OpenStore(*dir, missing);
    if (!store) {
      if (missing) {
        std::fprintf(stderr, "steen: no incident %s: no incidents recorded in %s\n", id->c_str(),
                     dir->c_str());
      }
      return SetExitCode(2);
    }
    sys::KernelProcessControl control;
    auto outcome = resume ? watch::ResumeIncident(*store, *id, control, ::getuid())
                          : watch::KillIncident(*store, *id, control, ::getuid());
    if (!outcome.ok()) {
      std::fprintf(stderr, "steen: %s\n", outcome.status().message().c_str());
      auto code = outcome.status().code();
      return SetExitCode(
          code == Status::Code::kNotFound || code == Status::Code::kInvalidArgument ? 2 : 1);
    }
    std::printf("%s: %s\n", id->c_str(),
                !resume                  ? "killed"
                : outcome->state_changed ? "resumed"
                                         : "killed before: only its SMB clients are let in again");
    for (const auto& line : outcome->processes) {
      std::printf("  pid %d %s: %s%s%s\n", line.pid, line.name.c_str(),
                  std::string(watch::ToString(line.state)).c_str(),
                  line.message.empty() ? "" : ": ", line.message.c_str());
    }
    // ResumeIncident lifts the client blocks itself (nftables; steen watch retries what fails).
    for (const auto& release : outcome->releases) {
      if (!release.kept_for.empty()) {
        std::printf("  SMB client %s: still refused: incident %s blocks it too\n",
                    release.address.c_str(), release.kept_for.c_str());
        continue;
      }
      std::printf("  SMB client %s: %s%s\n", release.address.c_str(),
                  release.message.empty() ? "let in again (block lifted)" : "still refused: ",
                  release.message.c_str());
    }
    if (outcome->failures > 0) SetExitCode(1);
  });
}

}  // namespace

void RegisterIncidentCommands(CLI::App& app) {
  RegisterList(app);
  RegisterDecision(app, "resume", /*resume=*/true);
  RegisterDecision(app, "kill", /*resume=*/false);
}

}  // namespace steen::cli
