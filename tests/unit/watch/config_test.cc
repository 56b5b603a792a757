// Config of `steen watch`: defaults, the shipped config/steen.yaml, parsing, every class of
// validation error (with its message), overrides, rendering round trips and sink construction.
#include "watch/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace steen::watch {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/steen-config-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = fs::canonical(pattern).string();
    share_ = dir_ + "/share";
    fs::create_directories(share_ + "/db");
    fs::create_directories(dir_ + "/other");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& text, const std::string& name = "steen.yaml") {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  StatusOr<WatchConfig> LoadText(const std::string& text, std::vector<std::string> overrides = {}) {
    ConfigSources sources;
    sources.config_file = Write(text);
    sources.overrides = std::move(overrides);
    return LoadWatchConfig(sources);
  }
  // The error message of a config that must fail.
  std::string ErrorOf(const std::string& text, std::vector<std::string> overrides = {}) {
    auto config = LoadText(text, std::move(overrides));
    EXPECT_FALSE(config.ok()) << "config loaded but should not:\n" << text;
    return config.ok() ? "" : config.status().message();
  }
  std::string Paths() { return "paths: [" + share_ + "]\n"; }

  std::string dir_;
  std::string share_;
};

std::string ShippedConfigPath() { return std::string(STEEN_SOURCE_DIR) + "/config/steen.yaml"; }

TEST_F(ConfigTest, DefaultsAreSafeAndComplete) {
  WatchConfig config = DefaultConfig();
  EXPECT_TRUE(config.paths.empty());
  EXPECT_EQ(config.action, Action::kSuspend);
  EXPECT_EQ(config.kill_after.count(), 0);
  EXPECT_FALSE(config.dry_run);
  EXPECT_TRUE(config.permission_events);
  EXPECT_EQ(config.permission_deadline.count(), limits::kPermissionDeadlineMs);
  EXPECT_EQ(config.state_dir, "/var/lib/steen");
  ASSERT_EQ(config.outputs.size(), 1u);
  EXPECT_EQ(config.outputs[0].type, OutputSpec::Type::kStdout);
  EXPECT_TRUE(config.canaries.enabled);
  EXPECT_FALSE(config.canaries.names.empty());
  EXPECT_EQ(config.detect.alert_score, DetectConfig{}.alert_score);
  EXPECT_EQ(ToString(Action::kKill), "kill");
  EXPECT_EQ(ToString(OutputSpec::Type::kJournald), "journald");
}

TEST_F(ConfigTest, CommandLinePathsWithoutFileUseDefaults) {
  ConfigSources sources;
  sources.cli_paths = {share_ + "/"};  // trailing slash: resolved like the shell user meant it
  auto config = LoadWatchConfig(sources);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->paths, std::vector<std::string>{share_});
  ASSERT_EQ(config->outputs.size(), 1u);
  EXPECT_EQ(config->outputs[0].type, OutputSpec::Type::kStdout);
  EXPECT_EQ(config->action, Action::kSuspend);
  EXPECT_TRUE(config->source.empty());
}

TEST_F(ConfigTest, RelativeCommandLinePathIsResolved) {
  char old_cwd[4096];
  ASSERT_NE(::getcwd(old_cwd, sizeof old_cwd), nullptr);
  ASSERT_EQ(::chdir(dir_.c_str()), 0);
  ConfigSources sources;
  sources.cli_paths = {"share"};
  auto config = LoadWatchConfig(sources);
  ASSERT_EQ(::chdir(old_cwd), 0);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->paths, std::vector<std::string>{share_});
}

TEST_F(ConfigTest, NoPathsAnywhereIsAnError) {
  auto config = LoadWatchConfig(ConfigSources{});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(config.status().message().find("paths: no folder to protect"), std::string::npos)
      << config.status().message();
  EXPECT_NE(ErrorOf("detect:\n  alert_score: 120\n").find("no folder to protect"),
            std::string::npos);
}

TEST_F(ConfigTest, CommandLinePathsReplaceFilePaths) {
  ConfigSources sources;
  sources.config_file = Write(Paths());
  sources.cli_paths = {dir_ + "/other"};
  auto config = LoadWatchConfig(sources);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->paths, std::vector<std::string>{dir_ + "/other"});
  EXPECT_EQ(config->source, *sources.config_file);
}

TEST_F(ConfigTest, DryRunFlagForcesDryRun) {
  ConfigSources sources;
  sources.config_file = Write(Paths() + "dry_run: false\n");
  sources.dry_run = true;
  auto config = LoadWatchConfig(sources);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->dry_run);
  auto from_file = LoadText(Paths() + "dry_run: yes\n");
  ASSERT_TRUE(from_file.ok());
  EXPECT_TRUE(from_file->dry_run);
}

TEST_F(ConfigTest, FullFileParses) {
  std::string log_dir = dir_ + "/log";
  fs::create_directories(log_dir);
  std::string text = Paths() + R"(
response:
  action: suspend
  kill_after: 5m
  protected_exes: [/usr/sbin/sshd]
  allowed_exes: [/bin/sh]
  allowed_comms: [backup-agent]
  allowed_users: [root, "1001"]
dry_run: false
exclusions:
  paths: [SHARE/db/]
  exe_paths: [/bin/sh]
  exe_sha256: [ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789]
  users: [root]
  uids: [0, 1001]
detect:
  alert_score: 150
  min_destruction_score: 80
  escalate_factor: 3
  weight_canary: 500
  note_patterns: [README, "!!!"]
  note_extensions: [.TXT, html]
  randomness_gain_min: 0.25
  evidence_window: 1h
  pair_window: 90s
  sweep_interval: 500ms
  scope_user: false
permission_events: false
permission_deadline: 750ms
canaries:
  enabled: true
  max_directories: 5
  names: [salaries.xlsx, "{folder} plan.docx"]
outputs:
  - type: stdout
  - type: file
    path: LOG/alerts.json
    mode: 0600
    fsync_each: true
  - type: syslog
    host: 127.0.0.1
    port: 6514
    transport: tcp
    facility: local3
    app_name: steen-fs01
  - type: journald
state_dir: DIR/state
watchdog: 1m
rescan_lookback: 0
)";
  auto replace_all = [&](std::string from, const std::string& to) {
    for (std::size_t at; (at = text.find(from)) != std::string::npos;)
      text.replace(at, from.size(), to);
  };
  replace_all("SHARE", share_);
  replace_all("LOG", log_dir);
  replace_all("DIR", dir_);
  auto loaded = LoadText(text);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const WatchConfig& c = *loaded;
  EXPECT_EQ(c.action, Action::kSuspend);
  EXPECT_EQ(c.kill_after.count(), 300);
  EXPECT_EQ(c.detect.response.protected_exes, std::vector<std::string>{"/usr/sbin/sshd"});
  EXPECT_EQ(c.detect.response.allowed_exes, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(c.detect.response.allowed_comms, std::vector<std::string>{"backup-agent"});
  EXPECT_EQ(c.detect.response.allowed_users, (std::vector<std::string>{"root", "1001"}));
  EXPECT_EQ(c.detect.exclusions.path_prefixes, std::vector<std::string>{share_ + "/db"});
  EXPECT_EQ(c.detect.exclusions.exe_sha256[0],
            "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
  EXPECT_EQ(c.detect.exclusions.uids, (std::vector<uid_t>{0, 1001}));
  EXPECT_EQ(c.detect.alert_score, 150);
  EXPECT_EQ(c.detect.min_destruction_score, 80);
  EXPECT_EQ(c.detect.escalate_factor, 3);
  EXPECT_EQ(c.detect.weight_canary, 500);
  EXPECT_EQ(c.detect.note_patterns, (std::vector<std::string>{"readme", "!!!"}));
  EXPECT_EQ(c.detect.note_extensions, (std::vector<std::string>{"txt", "html"}));
  EXPECT_DOUBLE_EQ(c.detect.randomness_gain_min, 0.25);
  EXPECT_EQ(c.detect.evidence_window_ns, 3600ull * 1'000'000'000);
  EXPECT_EQ(c.detect.pair_window_ns, 90ull * 1'000'000'000);
  EXPECT_EQ(c.detect.sweep_interval_ns, 500'000'000ull);
  EXPECT_FALSE(c.detect.scope_user);
  EXPECT_TRUE(c.detect.scope_tree);
  EXPECT_FALSE(c.permission_events);
  EXPECT_EQ(c.permission_deadline.count(), 750);
  EXPECT_EQ(c.canaries.max_directories, 5);
  EXPECT_EQ(c.canaries.names, (std::vector<std::string>{"salaries.xlsx", "{folder} plan.docx"}));
  ASSERT_EQ(c.outputs.size(), 4u);
  EXPECT_EQ(c.outputs[1].type, OutputSpec::Type::kFile);
  EXPECT_EQ(c.outputs[1].file.path, log_dir + "/alerts.json");
  EXPECT_EQ(c.outputs[1].file.mode, 0600u);
  EXPECT_TRUE(c.outputs[1].file.fsync_each);
  EXPECT_EQ(c.outputs[2].type, OutputSpec::Type::kSyslog);
  EXPECT_EQ(c.outputs[2].syslog.port, 6514);
  EXPECT_EQ(c.outputs[2].syslog.transport, outputs::SyslogTransport::kTcp);
  EXPECT_EQ(c.outputs[2].syslog.facility, 19);
  EXPECT_EQ(c.outputs[2].syslog.app_name, "steen-fs01");
  EXPECT_EQ(c.outputs[3].type, OutputSpec::Type::kJournald);
  EXPECT_EQ(c.outputs[3].journald.socket_path, outputs::kJournalDefaultSocket);
  EXPECT_EQ(c.state_dir, dir_ + "/state");
  EXPECT_EQ(c.watchdog.count(), 60);
  EXPECT_EQ(c.rescan_lookback.count(), 0);
  // Untouched keys keep their defaults.
  EXPECT_EQ(c.detect.weight_damaged_from_intact, DetectConfig{}.weight_damaged_from_intact);
}

// ---- Error classes, each with the text a person reads ------------------------------------------

TEST_F(ConfigTest, ErrorCarriesFileLineColumnKeyExpectedAndFound) {
  std::string message = ErrorOf(Paths() + "detect:\n  alert_score: -5\n");
  std::string file = dir_ + "/steen.yaml";
  EXPECT_NE(message.find("config has 1 error:\n  " + file +
                         ":3:16: detect.alert_score: expected a number > 0, found '-5'"),
            std::string::npos)
      << message;
}

TEST_F(ConfigTest, TypeErrors) {
  std::string message = ErrorOf(Paths() + R"(detect:
  alert_score: lots
  scope_tree: maybe
  note_patterns: readme
  rate_min_folders: 2.5
response:
  action: [suspend]
canaries: yes
)");
  EXPECT_NE(message.find("detect.alert_score: expected a number > 0, found 'lots'"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("detect.scope_tree: expected true or false, found 'maybe'"),
            std::string::npos);
  EXPECT_NE(message.find("detect.note_patterns: expected a list"), std::string::npos);
  EXPECT_NE(message.find("detect.rate_min_folders: expected a whole number from 1 to 128, found "
                         "'2.5'"),
            std::string::npos);
  EXPECT_NE(message.find("response.action: expected one of alert, suspend, kill, found a list"),
            std::string::npos);
  EXPECT_NE(message.find("canaries: expected a mapping of keys (enabled, max_directories, names)"),
            std::string::npos);
  EXPECT_NE(message.find("config has 6 errors:"), std::string::npos) << message;
}

TEST_F(ConfigTest, OutOfRangeNumbers) {
  std::string message = ErrorOf(Paths() + R"(detect:
  alert_score: 0
  weight_format_lost: -1
  randomness_after_min: 1.5
  escalate_factor: 1
permission_deadline: 10ms
canaries:
  max_directories: 0
response:
  kill_after: 500ms
outputs:
  - type: syslog
    host: 127.0.0.1
    port: 70000
    facility: 24
)");
  for (const char* expected :
       {"detect.alert_score: expected a number > 0, found '0'",
        "detect.weight_format_lost: expected a number >= 0 and <= 1000000, found '-1'",
        "detect.randomness_after_min: expected a number > 0 and <= 1, found '1.5'",
        "detect.escalate_factor: expected a number > 1 and <= 1000, found '1'",
        "permission_deadline: expected a duration with a unit (e.g. 500ms, 10s, 30m, 2h) from "
        "50ms to 10s, found '10ms'",
        "canaries.max_directories: expected a whole number from 1 to 10000, found '0'",
        "response.kill_after: expected a whole number of 1s, found '500ms'",
        "outputs.0.port: expected a port from 1 to 65535, found '70000'",
        "outputs.0.facility: expected a facility from 0 to 23"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
}

TEST_F(ConfigTest, DurationsNeedAUnit) {
  std::string message = ErrorOf(Paths() + "watchdog: 30\n");
  EXPECT_NE(message.find("watchdog: expected a duration with a unit"), std::string::npos)
      << message;
  auto zero = LoadText(Paths() + "watchdog: 0\n");
  ASSERT_TRUE(zero.ok()) << zero.status().message();
  EXPECT_EQ(zero->watchdog.count(), 0);
}

TEST_F(ConfigTest, BadPaths) {
  std::string file_link = dir_ + "/link";
  fs::create_directory_symlink(share_, file_link);
  std::string message = ErrorOf("paths: [relative/share, " + dir_ + "/missing, /etc, " + file_link +
                                ", " + share_ + ", " + share_ + "/db]\nstate_dir: var/lib\n");
  for (std::string expected : {
           std::string("paths.0: expected an absolute path (starting with /), found "
                       "'relative/share'"),
           "paths.1: watch root " + dir_ + "/missing: No such file or directory",
           std::string("paths.2: refusing to watch /etc"),
           std::string("paths.3: watch root must be canonical"),
           "paths.5: " + share_ + "/db and " + share_ +
               " overlap (one is inside the other); list " + share_ + " only",
           std::string("state_dir: expected an absolute path (starting with /), found 'var/lib'"),
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
  EXPECT_NE(ErrorOf("paths: [" + share_ + ", " + share_ + "]\n").find("is listed twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf("paths: [/]\n").find("paths.0: refusing to watch /"), std::string::npos);
}

TEST_F(ConfigTest, StateDirMustBeAFolder) {
  std::string file = Write("x", "not-a-dir");
  std::string message = ErrorOf(Paths() + "state_dir: " + file + "\n");
  EXPECT_NE(message.find("state_dir: " + file + " exists and is not a directory"),
            std::string::npos)
      << message;
}

TEST_F(ConfigTest, OutputErrors) {
  std::string message = ErrorOf(Paths() + R"(outputs:
  - type: kafka
  - type: fille
  - type: file
  - type: file
    path: relative.json
  - type: file
    path: /nonexistent-steen-dir/alerts.json
    mode: 0999
  - type: syslog
    port: 514
    transport: quic
    path: /x
  - path: /y
  - type: journald
    socket_path: run/journal
    hots: x
  - type: syslog
    host: 127.0.0.1
    app_name: "has space"
)");
  for (const char* expected : {
           "outputs.0.type: expected one of stdout, file, syslog, journald, found 'kafka'",
           "outputs.1.type: expected one of stdout, file, syslog, journald (did you mean "
           "'file'?), found 'fille'",
           "outputs.2: missing 'path' (file outputs need it)",
           "outputs.3.path: expected an absolute path (starting with /), found 'relative.json'",
           "outputs.4.path: folder /nonexistent-steen-dir does not exist",
           "outputs.4.mode: expected permissions in octal, e.g. 0640, found '0999'",
           "outputs.5: missing 'host' (syslog outputs need it)",
           "outputs.5.transport: expected udp or tcp, found 'quic'",
           "outputs.5.path: unknown key for syslog outputs (it belongs to file outputs); they "
           "take: type, host, port, transport, facility, app_name",
           "outputs.6: missing 'type' (one of stdout, file, syslog, journald)",
           "outputs.7.socket_path: expected an absolute path",
           "outputs.7.hots: unknown key for journald outputs",
           "outputs.8.app_name: expected 1 to 48 printable ASCII characters",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
  EXPECT_NE(ErrorOf(Paths() + "outputs: []\n").find("outputs: expected a list of at least one"),
            std::string::npos);
}

TEST_F(ConfigTest, ExclusionAndCanaryErrors) {
  std::string message = ErrorOf(Paths() + R"(exclusions:
  exe_sha256: [abc, zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]
  exe_paths: [rsync]
  uids: [-1, bob]
canaries:
  names: [.hidden.xlsx, "a/b.pdf", noextension, ""]
)");
  for (const char* expected : {
           "exclusions.exe_sha256.0: expected a SHA-256 as 64 hexadecimal digits, found 'abc'",
           "exclusions.exe_sha256.1: expected a SHA-256 as 64 hexadecimal digits",
           "exclusions.exe_paths.0: expected an absolute path (starting with /), found 'rsync'",
           "exclusions.uids.0: expected a uid from 0 to 4294967294, found '-1'",
           "exclusions.uids.1: expected a uid from 0 to 4294967294, found 'bob'",
           "canaries.names.0: expected a visible file name (ransomware skips hidden files",
           "canaries.names.1: expected a file name without '/'",
           "canaries.names.2: expected a file name with an extension",
           "canaries.names.3: expected a file name of 1 to 255 bytes",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
  EXPECT_NE(ErrorOf(Paths() + "canaries:\n  names: []\n")
                .find("canaries.names: at least one name (or canaries.enabled: false)"),
            std::string::npos);
}

TEST_F(ConfigTest, CrossKeyChecks) {
  std::string message = ErrorOf(Paths() + R"(response:
  action: alert
  kill_after: 1h
detect:
  note_min_folders: 10
  actor_idle: 1m
)");
  EXPECT_NE(message.find("response.kill_after: only applies with response.action: suspend (it is "
                         "'alert'); set it to 0s"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("detect.note_max_folders_scored: must be >= detect.note_min_folders (10)"),
            std::string::npos);
  EXPECT_NE(message.find("detect.actor_idle_no_evidence: must not be longer than detect.actor_idle "
                         "(1m)"),
            std::string::npos);
}

TEST_F(ConfigTest, UnknownKeysSuggestTheRightOne) {
  std::string message = ErrorOf(Paths() + R"(respons:
  action: alert
detect:
  alert_scor: 10
  weight_damaged_from_intakt: 3
alert_score: 5
xyzzy: 1
)");
  std::string file = dir_ + "/steen.yaml";
  EXPECT_NE(message.find(file + ":2:1: respons: unknown key (did you mean 'response'?)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("detect.alert_scor: unknown key (did you mean 'detect.alert_score'?)"),
            std::string::npos);
  EXPECT_NE(message.find("detect.weight_damaged_from_intakt: unknown key (did you mean "
                         "'detect.weight_damaged_from_intact'?)"),
            std::string::npos);
  EXPECT_NE(message.find("alert_score: unknown key (did you mean 'detect.alert_score'?)"),
            std::string::npos);
  EXPECT_TRUE(message.ends_with("xyzzy: unknown key")) << message;  // nothing close to suggest
}

TEST_F(ConfigTest, YamlSyntaxErrorHasPosition) {
  std::string message = ErrorOf("paths: [" + share_ + "\ndetect: {\n");
  EXPECT_NE(message.find(dir_ + "/steen.yaml:"), std::string::npos) << message;
  EXPECT_NE(message.find("not valid YAML"), std::string::npos) << message;
  EXPECT_NE(ErrorOf("- a\n- b\n")
                .find("expected a mapping of keys (paths:, detect:, outputs:, "
                      "...), found a list"),
            std::string::npos);
}

TEST_F(ConfigTest, MissingOrHugeFile) {
  ConfigSources sources;
  sources.config_file = dir_ + "/nope.yaml";
  auto missing = LoadWatchConfig(sources);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "config file " + dir_ + "/nope.yaml: No such file or directory");
  sources.config_file = Write(std::string(limits::kMaxConfigFileBytes + 1, '#'), "big.yaml");
  auto big = LoadWatchConfig(sources);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("larger than 1 MiB"), std::string::npos);
}

TEST_F(ConfigTest, UnknownUsersAreWarningsNotErrors) {
  auto config = LoadText(Paths() + R"(response:
  allowed_users: [root, no-such-user-steen-test, "4242"]
exclusions:
  users: [no-such-user-steen-test]
  exe_paths: [/nonexistent/bin/backup]
  paths: [/elsewhere]
)");
  ASSERT_TRUE(config.ok()) << config.status().message();
  std::string all;
  for (const auto& warning : config->warnings) all += warning + "\n";
  EXPECT_EQ(config->warnings.size(), 4u) << all;
  EXPECT_NE(all.find(":3:25: response.allowed_users.1: no user 'no-such-user-steen-test' on this "
                     "host (yet?)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("exclusions.users.0: no user 'no-such-user-steen-test'"), std::string::npos);
  EXPECT_NE(all.find("exclusions.exe_paths.0: /nonexistent/bin/backup does not exist (yet?)"),
            std::string::npos);
  EXPECT_NE(all.find("exclusions.paths.0: /elsewhere is outside every protected path"),
            std::string::npos);
}

// ---- Overrides
// ------------------------------------------------------------------------------------

TEST_F(ConfigTest, OverridesScalarsListsAndNestedKeys) {
  auto config =
      LoadText(Paths() + "detect:\n  alert_score: 120\n",
               {"detect.alert_score=150", "response.action=alert",
                "exclusions.exe_paths=[/usr/bin/rsync,/usr/bin/borg]", "canaries.enabled=false",
                "permission_deadline=500ms", "detect.note_extensions=[txt]", "exclusions.uids="});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_EQ(config->detect.alert_score, 150);
  EXPECT_EQ(config->action, Action::kAlert);
  EXPECT_EQ(config->detect.exclusions.exe_paths,
            (std::vector<std::string>{"/usr/bin/rsync", "/usr/bin/borg"}));
  EXPECT_FALSE(config->canaries.enabled);
  EXPECT_EQ(config->permission_deadline.count(), 500);
  EXPECT_EQ(config->detect.note_extensions, std::vector<std::string>{"txt"});
  EXPECT_TRUE(config->detect.exclusions.uids.empty());
}

TEST_F(ConfigTest, OverridesIndexIntoOutputs) {
  std::string log = dir_ + "/alerts.json";
  // No outputs in the file: outputs.0 starts a new list (replacing the default stdout sink).
  auto config =
      LoadText(Paths(), {"outputs.0.type=file", "outputs.0.path=" + log, "outputs.1.type=stdout"});
  ASSERT_TRUE(config.ok()) << config.status().message();
  ASSERT_EQ(config->outputs.size(), 2u);
  EXPECT_EQ(config->outputs[0].type, OutputSpec::Type::kFile);
  EXPECT_EQ(config->outputs[0].file.path, log);
  EXPECT_EQ(config->outputs[1].type, OutputSpec::Type::kStdout);
  // Changing one field of an output from the file.
  auto changed = LoadText(Paths() + "outputs:\n  - type: syslog\n    host: 127.0.0.1\n",
                          {"outputs.0.port=1514", "outputs.0.transport=tcp"});
  ASSERT_TRUE(changed.ok()) << changed.status().message();
  EXPECT_EQ(changed->outputs[0].syslog.port, 1514);
  EXPECT_EQ(changed->outputs[0].syslog.transport, outputs::SyslogTransport::kTcp);
  // A whole output as a flow mapping.
  auto whole = LoadText(Paths(), {"outputs=[{type: journald}]"});
  ASSERT_TRUE(whole.ok()) << whole.status().message();
  EXPECT_EQ(whole->outputs[0].type, OutputSpec::Type::kJournald);
}

TEST_F(ConfigTest, OverrideErrorsNameTheOverride) {
  std::string message =
      ErrorOf(Paths() + "outputs:\n  - type: stdout\n",
              {"detect.alert_score=-1", "respons.action=kill", "outputs.5.type=file", "noequals",
               "detect.alert_score=[unclosed", "outputs.x.type=file"});
  for (const char* expected : {
           "-o detect.alert_score=-1: detect.alert_score: expected a number > 0, found '-1'",
           "-o respons.action=kill: respons: unknown key (did you mean 'response'?)",
           "-o outputs.5.type=file: index 5 is past the end of outputs (1 entries; 1 appends one)",
           "-o noequals: expected key=value (e.g. -o detect.alert_score=150)",
           "-o detect.alert_score=[unclosed: the value is not valid YAML",
           "-o outputs.x.type=file: outputs is a list: 'x' must be an index (0, 1, ...)",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
}

// ---- Rendering
// -----------------------------------------------------------------------------------

TEST_F(ConfigTest, RenderThenLoadGivesTheSameConfig) {
  std::string text = Paths() + R"(response: {action: kill, allowed_users: ["1001", root]}
exclusions: {exe_sha256: [ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789],
             uids: [7]}
detect: {alert_score: 133.5, randomness_gain_min: 0.3, note_patterns: ["!!!", "how-to"],
         pair_window: 1500ms}
canaries: {names: ["{folder} x.pdf"]}
outputs:
  - {type: file, path: DIR/a.json, mode: "0600"}
  - {type: syslog, host: localhost, facility: local7, transport: tcp}
  - {type: journald, socket_path: DIR/journal.sock}
  - {type: stdout}
)";
  for (std::size_t at; (at = text.find("DIR")) != std::string::npos;) text.replace(at, 3, dir_);
  auto first = LoadText(text);
  ASSERT_TRUE(first.ok()) << first.status().message();
  std::string rendered = RenderConfig(*first);
  ConfigSources again_sources;
  again_sources.config_file = Write(rendered, "rendered.yaml");
  auto again = LoadWatchConfig(again_sources);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << rendered;
  EXPECT_EQ(RenderConfig(*again), rendered);
  EXPECT_EQ(again->action, Action::kKill);
  EXPECT_EQ(again->detect.alert_score, 133.5);
  EXPECT_EQ(again->detect.randomness_gain_min, 0.3);
  EXPECT_EQ(again->detect.pair_window_ns, 1'500'000'000ull);
  EXPECT_EQ(again->detect.note_patterns, (std::vector<std::string>{"!!!", "how-to"}));
  EXPECT_EQ(again->canaries.names, std::vector<std::string>{"{folder} x.pdf"});
  EXPECT_EQ(again->detect.exclusions.uids, std::vector<uid_t>{7});
  ASSERT_EQ(again->outputs.size(), 4u);
  EXPECT_EQ(again->outputs[0].file.mode, 0600u);
  EXPECT_EQ(again->outputs[1].syslog.facility, 23);
  EXPECT_EQ(again->outputs[1].syslog.transport, outputs::SyslogTransport::kTcp);
  EXPECT_EQ(again->outputs[2].journald.socket_path, dir_ + "/journal.sock");
  EXPECT_NE(rendered.find("pair_window: 1500ms"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("randomness_gain_min: 0.3\n"), std::string::npos) << rendered;
}

TEST_F(ConfigTest, DefaultsRenderAndReload) {
  WatchConfig defaults = DefaultConfig();
  defaults.paths = {share_};
  std::string rendered = RenderConfig(defaults);
  ConfigSources sources;
  sources.config_file = Write(rendered, "defaults.yaml");
  auto loaded = LoadWatchConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message() << "\n" << rendered;
  EXPECT_EQ(RenderConfig(*loaded), rendered);
  EXPECT_NE(rendered.find("\n  allowed_exes: []\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("\npermission_deadline: 2s\n"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("\noutputs:\n  - type: stdout\n"), std::string::npos) << rendered;
}

// ---- The shipped config/steen.yaml
// ---------------------------------------------------------------

TEST_F(ConfigTest, ShippedDefaultFileLoadsAndMatchesBuiltInDefaults) {
  ConfigSources sources;
  sources.config_file = ShippedConfigPath();
  sources.cli_paths = {share_};
  auto loaded = LoadWatchConfig(sources);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_TRUE(loaded->warnings.empty()) << loaded->warnings[0];
  // The file documents the defaults: loading it must change nothing.
  WatchConfig defaults = DefaultConfig();
  defaults.paths = {share_};
  EXPECT_EQ(RenderConfig(*loaded), RenderConfig(defaults));
  // Without paths it fails only for the missing paths.
  sources.cli_paths.clear();
  auto no_paths = LoadWatchConfig(sources);
  ASSERT_FALSE(no_paths.ok());
  EXPECT_NE(no_paths.status().message().find("config has 1 error:"), std::string::npos)
      << no_paths.status().message();
}

TEST_F(ConfigTest, ShippedDefaultFileDocumentsEveryKey) {
  std::ifstream in(ShippedConfigPath());
  std::stringstream text;
  text << in.rdbuf();
  ASSERT_FALSE(text.str().empty());
  for (const auto& key : ConfigKeys()) {
    std::string last = key.substr(key.rfind('.') + 1);
    EXPECT_NE(text.str().find(last + ":"), std::string::npos) << key << " is not in steen.yaml";
  }
  EXPECT_GT(ConfigKeys().size(), 60u);
}

// ---- smb.* (containment per SMB client) ------------------------------------------------------

TEST_F(ConfigTest, SmbDefaults) {
  WatchConfig config = DefaultConfig();
  EXPECT_TRUE(config.smb.contain_client);
  EXPECT_TRUE(config.smb.block_reconnect);
  EXPECT_EQ(config.smb.block_seconds, 900);
  EXPECT_EQ(config.smb.ports, (std::vector<uint16_t>{445, 139}));
  EXPECT_EQ(config.smb.nft_table, "steen");
}

TEST_F(ConfigTest, SmbKeysLoadFromFileAndOverrides) {
  auto config = LoadText(Paths() + R"(smb:
  contain_client: false
  block_reconnect: yes
  block_seconds: 60
  ports: [445]
  nft_table: steen_test_1
)");
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_FALSE(config->smb.contain_client);
  EXPECT_TRUE(config->smb.block_reconnect);
  EXPECT_EQ(config->smb.block_seconds, 60);
  EXPECT_EQ(config->smb.ports, std::vector<uint16_t>{445});
  EXPECT_EQ(config->smb.nft_table, "steen_test_1");
  // -o replaces the list (as for every list), and single keys.
  auto overridden = LoadText(Paths(), {"smb.ports=[4455, 139]", "smb.block_seconds=3600",
                                       "smb.block_reconnect=false", "smb.ports.2=445"});
  ASSERT_TRUE(overridden.ok()) << overridden.status().message();
  EXPECT_EQ(overridden->smb.ports, (std::vector<uint16_t>{4455, 139, 445}));
  EXPECT_EQ(overridden->smb.block_seconds, 3600);
  EXPECT_FALSE(overridden->smb.block_reconnect);
  // Round trip through the renderer.
  std::string rendered = RenderConfig(*overridden);
  EXPECT_NE(rendered.find("ports: [4455, 139, 445]"), std::string::npos) << rendered;
  ConfigSources sources;
  sources.config_file = Write(rendered, "rendered.yaml");
  auto again = LoadWatchConfig(sources);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(RenderConfig(*again), rendered);
}

TEST_F(ConfigTest, SmbBadValues) {
  std::string message = ErrorOf(Paths() + R"(smb:
  contain_client: maybe
  block_reconnect: 2
  block_seconds: 0
  ports: [445, 0, 70000, http, 445]
  nft_table: "steen; flush ruleset"
)");
  for (const char* expected : {
           "smb.contain_client: expected true or false, found 'maybe'",
           "smb.block_reconnect: expected true or false, found '2'",
           "smb.block_seconds: expected a whole number from 1 to 604800, found '0'",
           "smb.ports.1: expected a port from 1 to 65535, found '0'",
           "smb.ports.2: expected a port from 1 to 65535, found '70000'",
           "smb.ports.3: expected a port from 1 to 65535, found 'http'",
           "smb.ports.4: port 445 is listed twice",
           "smb.nft_table: expected a table name of letters, digits and '_', starting with a "
           "letter (at most 32), found 'steen; flush ruleset'",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
  EXPECT_NE(ErrorOf(Paths(), {"smb.block_seconds=604801"})
                .find("-o smb.block_seconds=604801: smb.block_seconds: expected a whole number "
                      "from 1 to 604800, found '604801'"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Paths(), {"smb.block_seconds=15m"}).find("smb.block_seconds: expected a whole"),
            std::string::npos);
  EXPECT_NE(ErrorOf(Paths(), {"smb.ports=445"}).find("smb.ports: expected a list of TCP ports"),
            std::string::npos);
  // No port while blocking is on: nothing would be refused.
  EXPECT_NE(ErrorOf(Paths(), {"smb.ports=[]"})
                .find("smb.ports: at least one port to refuse (or smb.block_reconnect: false)"),
            std::string::npos);
  EXPECT_TRUE(LoadText(Paths(), {"smb.ports=[]", "smb.block_reconnect=false"}).ok());
  // A typo is suggested like any other key.
  EXPECT_NE(ErrorOf(Paths() + "smb:\n  block_second: 60\n")
                .find("smb.block_second: unknown key (did you mean 'smb.block_seconds'?)"),
            std::string::npos);
}

// ---- Sinks ------------------------------------------------------------------------------------

TEST_F(ConfigTest, MakeSinksForEveryType) {
  std::string log = dir_ + "/alerts.json";
  auto config = LoadText(Paths() + "outputs:\n  - type: stdout\n  - type: file\n    path: " + log +
                         "\n  - type: syslog\n    host: 127.0.0.1\n    port: 9\n"
                         "  - type: journald\n    socket_path: " +
                         dir_ + "/no-journal.sock\n");
  ASSERT_TRUE(config.ok()) << config.status().message();
  auto sinks = MakeSinks(*config);
  ASSERT_TRUE(sinks.ok()) << sinks.status().message();
  ASSERT_EQ(sinks->size(), 4u);
  Alert alert;
  alert.id = "steen-test-1";
  alert.rule_name = "ransomware-encryption";
  alert.severity = "critical";
  ASSERT_TRUE((*sinks)[1]->Emit(alert).ok());
  std::ifstream in(log);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("steen-test-1"), std::string::npos) << line;
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_NE(std::string((*sinks)[1]->name()).find(log), std::string::npos);
}

TEST_F(ConfigTest, MakeSinksNamesTheFailingOutput) {
  WatchConfig config = DefaultConfig();
  OutputSpec file;
  file.type = OutputSpec::Type::kFile;
  file.file.path = dir_ + "/missing-folder/alerts.json";  // validated configs never have this
  config.outputs.push_back(file);
  auto sinks = MakeSinks(config);
  ASSERT_FALSE(sinks.ok());
  EXPECT_NE(sinks.status().message().find("outputs.1 (file " + file.file.path + "): "),
            std::string::npos)
      << sinks.status().message();
}

}  // namespace
}  // namespace steen::watch
