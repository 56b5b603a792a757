// `steen drill`: benign, faithful ransomware simulation on a marked test folder (src/drill).
//   steen drill --list
//   steen drill --init DIR [--populate N [--from CORPUS_DIR]]
//   steen drill DIR --family NAME|PROFILE.yaml --manifest FILE [--pace RATE] [--threads N]
//               [--pattern PATTERN] [--rename first|last|none]
//               [--processes N [--files-per-process K]] [--avoid-decoys [--decoy-age S]] ...
//   steen drill smb://HOST[:PORT]/SHARE[/PATH] --family NAME --auth-file FILE --manifest FILE ...
//   steen drill --undo MANIFEST [--auth-file FILE]
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "steen/drill.h"

namespace steen::cli {
namespace {

struct DrillArgs {
  bool list = false;
  bool show = false;
  std::string init;
  int populate = 0;
  std::string from;
  std::string target;
  std::string family;
  std::string manifest;
  std::string undo;
  std::string auth_file;
  std::string pattern;
  std::string rename;
  std::string pace;
  int threads = 0;
  int processes = 0;
  uint64_t files_per_process = 0;
  uint64_t decoy_age = 3600;
  std::string worker;
  uint64_t max_files = 100000;
  uint64_t max_bytes = 4ULL << 30;
  uint64_t seed = 0;
  bool avoid_decoys = false;
};

int Fail(const Status& status) {
  std::fprintf(stderr, "steen drill: %s\n", status.ToString().c_str());
  return status.code() == Status::Code::kPermissionDenied ? 3 : 1;
}

// A remote target that cannot be used (bad or missing auth file, unreachable server, refused
// login, missing share) is a fatal error: exit 2, before anything is touched. A folder without
// the marker is refused as locally (exit 3).
int FailRemote(const Status& status) {
  if (status.code() == Status::Code::kPermissionDenied) return Fail(status);
  std::fprintf(stderr, "steen drill: %s\n", status.ToString().c_str());
  return 2;
}

int Run(const DrillArgs& a) {
  if (!a.worker.empty()) {  // a fresh exec started by --processes
    Status s = drill::RunWorker(a.worker);
    return s.ok() ? 0 : Fail(s);
  }
  if (a.list) {
    for (const auto& name : drill::ListProfiles()) {
      StatusOr<drill::Profile> p = drill::LoadProfile(name);
      std::printf("%-18s %s\n", name.c_str(), p.ok() ? p->description.c_str() : "(invalid)");
    }
    return 0;
  }
  if (a.show) {
    std::string_view text = drill::BuiltinProfileText(a.family);
    if (text.empty()) return Fail(Status::NotFound("no built-in profile " + a.family));
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (!a.undo.empty()) {
    StatusOr<std::string> target = drill::ManifestTarget(a.undo);
    if (target.ok() && drill::IsSmbTarget(*target)) {
      if (a.auth_file.empty()) {
        return FailRemote(Status::InvalidArgument("the manifest's target is " + *target +
                                                  ": undo needs --auth-file FILE"));
      }
      if (Status s = drill::CheckRemoteTarget(*target, a.auth_file, /*need_marker=*/false);
          !s.ok()) {
        return FailRemote(s);
      }
    }
    std::string report;
    Status s = drill::Undo(a.undo, &report, a.auth_file);
    std::printf("%s\n", report.c_str());
    return s.ok() ? 0 : Fail(s);
  }
  if (!a.init.empty()) {
    std::string report;
    Status s = drill::InitTarget({a.init, a.populate, a.from}, &report);
    if (!s.ok()) return Fail(s);
    std::printf("%s\n", report.c_str());
    return 0;
  }
  if (a.target.empty() || a.family.empty()) {
    return Fail(Status::InvalidArgument("usage: steen drill DIR --family NAME --manifest FILE"));
  }
  StatusOr<drill::Profile> profile = drill::LoadProfile(a.family);
  if (!profile.ok()) return Fail(profile.status());
  if (drill::IsSmbTarget(a.target)) {
    if (Status s = drill::CheckRemoteTarget(a.target, a.auth_file, /*need_marker=*/true); !s.ok()) {
      return FailRemote(s);
    }
  } else if (!a.auth_file.empty()) {
    return Fail(Status::InvalidArgument("--auth-file is for smb:// targets only"));
  }
  if (!a.pattern.empty()) {
    StatusOr<drill::Profile> patched =
        drill::ParseProfile("name: x\npattern: " + a.pattern + "\n", "--pattern");
    if (!patched.ok()) return Fail(patched.status());
    profile->pattern = patched->pattern;
  }
  if (!a.rename.empty()) {
    if (a.rename == "first") {
      profile->rename = drill::RenameWhen::kFirst;
    } else if (a.rename == "last") {
      profile->rename = drill::RenameWhen::kLast;
    } else if (a.rename == "none") {
      profile->rename = drill::RenameWhen::kNone;
    } else {
      return Fail(
          Status::InvalidArgument("--rename must be first, last or none, not '" + a.rename + "'"));
    }
  }
  drill::RunOptions options;
  options.target = a.target;
  options.auth_file = a.auth_file;
  options.manifest = a.manifest;
  if (!a.pace.empty()) {
    StatusOr<double> pace = drill::ParsePace(a.pace);
    if (!pace.ok()) return Fail(pace.status());
    options.pace_files_per_s = *pace;
  }
  options.processes = a.processes;
  options.files_per_process = a.files_per_process;
  options.decoy_age_s = a.decoy_age;
  options.threads = a.threads;
  options.max_files = a.max_files;
  options.max_bytes = a.max_bytes;
  options.seed = a.seed;
  options.avoid_decoys = a.avoid_decoys;
  drill::RunStats stats;
  Status s = drill::RunDrill(*profile, options, &stats);
  for (const auto& notice : stats.notices)
    std::fprintf(stderr, "steen drill: note: %s\n", notice.c_str());
  std::printf(
      "%s: %llu file(s) attacked, %llu skipped, %llu byte(s) changed, %llu note(s), "
      "%.2f s; undo with: steen drill --undo %s%s\n",
      profile->name.c_str(), static_cast<unsigned long long>(stats.files_attacked),
      static_cast<unsigned long long>(stats.files_skipped),
      static_cast<unsigned long long>(stats.bytes_changed),
      static_cast<unsigned long long>(stats.notes), stats.seconds, a.manifest.c_str(),
      drill::IsSmbTarget(a.target) ? (" --auth-file " + a.auth_file).c_str() : "");
  return s.ok() ? 0 : Fail(s);
}

}  // namespace

void RegisterDrillCommand(CLI::App& app) {
  auto args = std::make_shared<DrillArgs>();
  CLI::App* sub = app.add_subcommand(
      "drill", "Simulate a ransomware family on a marked test folder (undo with --undo)");
  sub->add_flag("--list", args->list, "List the built-in family profiles");
  sub->add_flag("--show", args->show, "Print the built-in profile named by --family");
  sub->add_option("--init", args->init, "Create the marker file in DIR (creating DIR)");
  sub->add_option(
      "--populate", args->populate,
      "With --init: copy N real files of mixed types (keeping their folders) from --from");
  sub->add_option(
      "--from", args->from,
      "With --populate: the corpus folder (default: /usr/share, files Debian packages installed)");
  sub->add_option("target", args->target,
                  "Folder to attack (must hold the marker), or smb://HOST[:PORT]/SHARE[/PATH] "
                  "to attack a share through libsmbclient (needs --auth-file)");
  sub->add_option("--auth-file", args->auth_file,
                  "smb:// targets (drill and --undo): credentials file in smbclient's format "
                  "(username = ..., password = ..., optional domain = ...)");
  sub->add_option("--family", args->family, "Profile name (see --list) or a profile file");
  sub->add_option("--manifest", args->manifest, "Manifest file, outside the target (new)");
  sub->add_option("--undo", args->undo, "Restore everything a manifest records");
  sub->add_option("--pattern", args->pattern,
                  "Override the write pattern: pwrite, mmap, new-file-unlink, new-file-keep, "
                  "move-out-back, new-file-rename-over");
  sub->add_option("--rename", args->rename,
                  "Override when the file gets its new name: first (before the first write), "
                  "last (after the last) or none (keeps its name; new-file patterns still write "
                  "the new name)");
  sub->add_option("--pace", args->pace,
                  "Files per second: 20, 0.5, 1/60 (= one file a minute), 30/min, 100/h "
                  "(0 = unlimited; default: profile's). Global over threads and processes");
  sub->add_option("--threads", args->threads, "Worker threads (default: profile's; per process)");
  sub->add_option("--processes", args->processes,
                  "Split the files over short-lived worker processes (fresh execs of steen), "
                  "at most N at a time");
  sub->add_option("--files-per-process", args->files_per_process,
                  "With --processes: files per worker (default: files / N)");
  sub->add_option("--worker", args->worker, "Internal: run one worker batch")->group("");
  sub->add_option("--max-files", args->max_files, "File-count budget");
  sub->add_option("--max-bytes", args->max_bytes, "Byte budget (sum of file sizes)");
  sub->add_option("--seed", args->seed, "Run seed (default random): keys, names");
  sub->add_flag("--avoid-decoys", args->avoid_decoys,
                "Skip hidden, recently created or never-read files (canary-aware attacker)");
  sub->add_option("--decoy-age", args->decoy_age,
                  "With --avoid-decoys: files created less than this many seconds ago are decoys");
  sub->callback([args] { SetExitCode(Run(*args)); });
}

}  // namespace steen::cli
