// steen rollback / steen vault ls|show|restore: parsing and printing only; the logic is in
// include/steen/vault.h (src/vault/).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "cli/state_options.h"
#include "steen/vault.h"
#include "vault/guarded_replace.h"
#include "watch/incident_operator.h"
#include "watch/incident_store.h"

namespace steen::cli {
namespace {

using json = nlohmann::json;

std::string FormatTime(int64_t ns) {
  if (ns <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "2026-12-04T10:00:00Z", "2026-12-04 10:00:00" (UTC) or seconds since the epoch.
std::optional<int64_t> ParseTime(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    return static_cast<int64_t>(std::stoll(text)) * 1'000'000'000;
  }
  std::tm tm{};
  for (const char* format : {"%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
                             "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    tm = {};
    const char* end = strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') return static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
  }
  return std::nullopt;
}

json VersionJson(const vault::Version& v) {
  return {{"id", v.id},
          {"path", v.path},
          {"kind", std::string(vault::ToString(v.kind))},
          {"size", v.size},
          {"sha256", v.sha256},
          {"taken", FormatTime(v.taken_ns)},
          {"mtime", FormatTime(v.mtime_ns)},
          {"mode", v.mode},
          {"uid", v.uid},
          {"gid", v.gid},
          {"device", v.device},
          {"inode", v.inode},
          {"process", {{"pid", v.actor.pid}, {"executable", v.actor.exe}, {"uid", v.actor.uid}}},
          {"incident", v.incident_id}};
}

// Opens an existing vault (never creates one where there is none: a typo must not look empty).
std::unique_ptr<vault::Vault> OpenVault(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    std::fprintf(stderr, "steen: no vault at %s (give --vault-dir or --config)\n", dir.c_str());
    return nullptr;
  }
  vault::VaultOptions options;
  options.dir = dir;
  auto opened = vault::Vault::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "steen: vault %s: %s\n", dir.c_str(), opened.status().message().c_str());
    return nullptr;
  }
  return std::move(opened).value();
}

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (::getcwd(cwd, sizeof(cwd)) == nullptr) return path;
  return std::string(cwd) + "/" + path;
}

void RegisterRollback(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "rollback",
      "undo what an incident's processes did: restore, rename back, remove their files");
  auto options = std::make_shared<StoreOptions>();
  auto id = std::make_shared<std::string>();
  auto dry_run = std::make_shared<bool>(false);
  auto format = std::make_shared<std::string>("text");
  AddStoreOptions(cmd, *options, true);
  cmd->add_option("incident", *id, "incident id (INC-...)")->required();
  cmd->add_flag("--dry-run", *dry_run, "say what would be done, change nothing");
  cmd->add_option("--format", *format, "text or jsonl")->check(CLI::IsMember({"text", "jsonl"}));
  cmd->callback([cmd, options, id, dry_run, format] {
    auto paths = ResolveStatePaths(*options, cmd);
    if (!paths) return SetExitCode(2);
    bool missing = false;
    auto store = OpenStore(paths->state_dir, missing);
    if (!store) {
      if (missing) {
        std::fprintf(stderr, "steen: no incidents in %s\n", paths->state_dir.c_str());
      }
      return SetExitCode(2);
    }
    auto incident = store->Get(*id);
    if (!incident.ok()) {
      std::fprintf(stderr, "steen: %s\n", incident.status().message().c_str());
      return SetExitCode(2);
    }
    auto vault = OpenVault(paths->vault_dir);
    if (!vault) return SetExitCode(2);
    vault::RollbackRequest request;
    request.incident_id = *id;
    request.dry_run = *dry_run;
    // pid + start time name each process exactly, so all of its changes are the incident's.
    for (const watch::IncidentProcess& p : incident->processes) {
      request.actors.push_back(vault::ToActorRef(p.actor));
    }
    // What an earlier incident caught of the same processes or clients stays that incident's.
    watch::IncidentFilter filter;
    filter.with_history = true;
    auto others = store->List(filter);
    if (!others.ok()) {
      std::fprintf(stderr, "steen: rollback %s: %s\n", id->c_str(),
                   others.status().message().c_str());
      return SetExitCode(2);
    }
    request.since_ns = watch::RollbackStartNs(*incident, *others);
    auto report = vault::Rollback(*vault, request);
    if (!report.ok()) {
      std::fprintf(stderr, "steen: rollback %s: %s\n", id->c_str(),
                   report.status().message().c_str());
      return SetExitCode(2);
    }
    const char* verb = *dry_run ? "would be " : "";
    for (const vault::RollbackItem& item : report->items) {
      if (*format == "jsonl") {
        json line = {{"action", std::string(vault::ToString(item.action))},
                     {"path", item.path},
                     {"detail", item.detail}};
        if (!item.from_path.empty()) line["from"] = item.from_path;
        if (!item.sha256.empty()) line["sha256"] = item.sha256;
        std::printf("%s\n", line.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
      } else {
        std::printf("%-13s %s%s%s  (%s)\n", std::string(vault::ToString(item.action)).c_str(),
                    item.path.c_str(), item.from_path.empty() ? "" : " <- ", item.from_path.c_str(),
                    item.detail.c_str());
      }
    }
    if (*format == "jsonl") {
      json summary = {{"incident", *id},
                      {"dry_run", *dry_run},
                      {"restored", report->restored},
                      {"recreated", report->recreated},
                      {"renamed_back", report->renamed_back},
                      {"removed", report->removed},
                      {"kept_aside", report->kept_aside},
                      {"busy", report->busy},
                      {"failed", report->failed}};
      std::printf("%s\n", json{{"summary", summary}}.dump().c_str());
    } else {
      std::printf(
          "rollback %s: %s%llu restored, %llu recreated, %llu renamed back, %llu removed, %llu "
          "kept aside, %llu busy, %llu failed\n",
          id->c_str(), verb, static_cast<unsigned long long>(report->restored),
          static_cast<unsigned long long>(report->recreated),
          static_cast<unsigned long long>(report->renamed_back),
          static_cast<unsigned long long>(report->removed),
          static_cast<unsigned long long>(report->kept_aside),
          static_cast<unsigned long long>(report->busy),
          static_cast<unsigned long long>(report->failed));
    }
    // 1: not everything could be done (failed, or busy: a later run finishes it).
    SetExitCode(report->failed + report->busy > 0 ? 1 : 0);
  });
}

void RegisterVault(CLI::App& app) {
  auto* cmd = app.add_subcommand("vault", "the protective copies of single files");
  cmd->require_subcommand(1);

  auto* ls = cmd->add_subcommand("ls", "versions kept of a file, or of every file under a folder");
  auto ls_options = std::make_shared<StoreOptions>();
  AddStoreOptions(ls, *ls_options, true);
  auto ls_path = std::make_shared<std::string>();
  auto ls_format = std::make_shared<std::string>("text");
  ls->add_option("path", *ls_path, "a file or a folder")->required();
  ls->add_option("--format", *ls_format, "text or jsonl")->check(CLI::IsMember({"text", "jsonl"}));
  ls->callback([ls, ls_options, ls_path, ls_format] {
    auto paths = ResolveStatePaths(*ls_options, ls);
    if (!paths) return SetExitCode(2);
    auto vault = OpenVault(paths->vault_dir);
    if (!vault) return SetExitCode(2);
    std::string path = AbsolutePath(*ls_path);
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    auto versions = vault->Versions(path, false);
    if (versions.ok() && versions->empty()) versions = vault->Versions(path + "/", true);
    if (!versions.ok()) {
      std::fprintf(stderr, "steen: %s\n", versions.status().message().c_str());
      return SetExitCode(2);
    }
    for (const vault::Version& v : *versions) {
      if (*ls_format == "jsonl") {
        std::printf("%s\n",
                    VersionJson(v).dump(-1, ' ', false, json::error_handler_t::replace).c_str());
      } else {
        std::printf("%6lld  %s  %-13s %10llu  %.12s  pid %d %s  %s\n", static_cast<long long>(v.id),
                    FormatTime(v.taken_ns).c_str(), std::string(vault::ToString(v.kind)).c_str(),
                    static_cast<unsigned long long>(v.size), v.sha256.c_str(), v.actor.pid,
                    v.actor.exe.c_str(), v.path.c_str());
      }
    }
    if (*ls_format == "text" && versions->empty()) {
      std::printf("no versions of %s in the vault\n", path.c_str());
    }
    SetExitCode(0);
  });

  auto* show = cmd->add_subcommand("show", "one version in full (JSON)");
  auto show_options = std::make_shared<StoreOptions>();
  AddStoreOptions(show, *show_options, true);
  auto show_id = std::make_shared<int64_t>(0);
  show->add_option("id", *show_id, "version id (from steen vault ls)")->required();
  show->callback([show, show_options, show_id] {
    auto paths = ResolveStatePaths(*show_options, show);
    if (!paths) return SetExitCode(2);
    auto vault = OpenVault(paths->vault_dir);
    if (!vault) return SetExitCode(2);
    auto version = vault->GetVersion(*show_id);
    if (!version.ok()) {
      std::fprintf(stderr, "steen: %s\n", version.status().message().c_str());
      return SetExitCode(2);
    }
    json j = VersionJson(*version);
    j["object"] = vault->ObjectPath(*version);
    std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
    SetExitCode(0);
  });

  auto* restore = cmd->add_subcommand("restore", "put a kept version of a file back");
  auto restore_options = std::make_shared<StoreOptions>();
  AddStoreOptions(restore, *restore_options, true);
  auto restore_path = std::make_shared<std::string>();
  auto at = std::make_shared<std::string>();
  auto to = std::make_shared<std::string>();
  auto overwrite = std::make_shared<bool>(false);
  restore->add_option("path", *restore_path, "the file (its path when the version was kept)")
      ->required();
  restore->add_option("--at", *at,
                      "the newest version kept at or before this time (UTC: 2026-12-04T10:00:00Z, "
                      "or seconds since the epoch); default: the newest");
  restore->add_option("--to", *to, "write it here instead (a new file)");
  restore->add_flag("--overwrite", *overwrite,
                    "replace the file if it exists (its current content is kept by steen watch "
                    "if it runs)");
  restore->callback([restore, restore_options, restore_path, at, to, overwrite] {
    auto paths = ResolveStatePaths(*restore_options, restore);
    if (!paths) return SetExitCode(2);
    int64_t at_ns = 0;
    if (!at->empty()) {
      auto parsed = ParseTime(*at);
      if (!parsed) {
        std::fprintf(stderr, "steen: --at: cannot read '%s' as a time (2026-12-04T10:00:00Z)\n",
                     at->c_str());
        return SetExitCode(2);
      }
      at_ns = *parsed;
    }
    auto vault = OpenVault(paths->vault_dir);
    if (!vault) return SetExitCode(2);
    const std::string path = AbsolutePath(*restore_path);
    auto version = vault->VersionAt(path, at_ns);
    if (!version.ok()) {
      std::fprintf(stderr, "steen: %s\n", version.status().message().c_str());
      return SetExitCode(2);
    }
    const std::string dest = to->empty() ? path : AbsolutePath(*to);
    struct stat st {};
    const bool exists = ::lstat(dest.c_str(), &st) == 0;
    if (exists && !*overwrite) {
      std::fprintf(stderr, "steen: %s exists: give --overwrite, or --to another path\n",
                   dest.c_str());
      return SetExitCode(2);
    }
    // Staged next to the destination, then swapped in only if nobody writes or locks the file
    // and it is still what was seen here.
    const vault::FileState seen = vault::StateOf(dest);
    const std::string tmp = dest + ".steen-restore-" + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    Status s = vault->Materialize(*version, tmp);
    if (s.ok()) {
      auto put = vault::GuardedReplace(tmp, dest, seen, {});
      if (!put.ok()) {
        s = put.status();
      } else if (put->outcome != vault::ReplaceOutcome::kReplaced) {
        ::unlink(tmp.c_str());
        std::fprintf(stderr, "steen: restore %s: %s: not replaced; try again\n", dest.c_str(),
                     put->detail.c_str());
        return SetExitCode(1);
      } else if (!put->detail.empty()) {
        std::fprintf(stderr, "steen: %s\n", put->detail.c_str());
      }
    }
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      std::fprintf(stderr, "steen: restore %s: %s\n", dest.c_str(), s.message().c_str());
      return SetExitCode(1);
    }
    std::printf("restored %s (version %lld of %s, sha256 %s)\n", dest.c_str(),
                static_cast<long long>(version->id), FormatTime(version->taken_ns).c_str(),
                version->sha256.c_str());
    SetExitCode(0);
  });
}

}  // namespace

void RegisterVaultCommands(CLI::App& app) {
  RegisterRollback(app);
  RegisterVault(app);
}

}  // namespace steen::cli
