// Incident store on SQLite. Every public call takes the mutex, and every write runs in one
// BEGIN IMMEDIATE transaction so the daemon and the CLI (separate processes, separate connections)
// never interleave half-done changes; SQLite's busy timeout makes the second writer wait.
#include "watch/incident_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <utility>

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "outputs/text.h"
#include "steen/limits.h"
#include "steen/outputs.h"
#include "sys/client_blocker.h"

namespace steen::watch {
namespace {

// Version 1: the first schema. A later version adds a migration to kMigrations (index = the version
// it upgrades from, minus 1) and bumps kSchemaVersion.
// Version 2: blocks (client addresses refused at the firewall, containment per SMB client).
constexpr int kSchemaVersion = 2;
constexpr std::string_view kApplication = "steen-incidents";

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  day TEXT NOT NULL,
  number INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL,
  state TEXT NOT NULL,
  rule_name TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL DEFAULT '',
  score REAL NOT NULL DEFAULT 0,
  scope TEXT NOT NULL,
  scope_key TEXT NOT NULL,
  host TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  indicators_json TEXT NOT NULL DEFAULT '[]',
  window_start_ns INTEGER NOT NULL DEFAULT 0,
  window_end_ns INTEGER NOT NULL DEFAULT 0,
  file_count INTEGER NOT NULL DEFAULT 0,
  alert_count INTEGER NOT NULL DEFAULT 0,
  UNIQUE (day, number)
);
CREATE INDEX incidents_by_scope ON incidents (scope, scope_key, state);
CREATE INDEX incidents_by_created ON incidents (created_ns);
CREATE TABLE alerts (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  alert_id TEXT NOT NULL,
  time_ns INTEGER NOT NULL,
  rule_name TEXT NOT NULL,
  severity TEXT NOT NULL,
  score REAL NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX alerts_by_incident ON alerts (incident_id);
CREATE TABLE processes (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  pid INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  start_wall_ns INTEGER NOT NULL DEFAULT 0,
  ppid INTEGER NOT NULL DEFAULT 0,
  pgid INTEGER NOT NULL DEFAULT 0,
  sid INTEGER NOT NULL DEFAULT 0,
  comm TEXT NOT NULL DEFAULT '',
  exe TEXT NOT NULL DEFAULT '',
  exe_sha256 TEXT NOT NULL DEFAULT '',
  uid INTEGER NOT NULL DEFAULT 0,
  user TEXT NOT NULL DEFAULT '',
  cgroup TEXT NOT NULL DEFAULT '',
  smb_client_address TEXT NOT NULL DEFAULT '',
  smb_user TEXT NOT NULL DEFAULT '',
  smb_machine TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  first_seen_ns INTEGER NOT NULL,
  updated_ns INTEGER NOT NULL,
  UNIQUE (incident_id, pid, start_time)
);
CREATE TABLE files (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  path TEXT NOT NULL,
  first_seen_ns INTEGER NOT NULL,
  UNIQUE (incident_id, path)
);
CREATE TABLE actions (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  time_ns INTEGER NOT NULL,
  who TEXT NOT NULL,
  what TEXT NOT NULL,
  detail TEXT NOT NULL,
  result TEXT NOT NULL
);
CREATE INDEX actions_by_incident ON actions (incident_id, seq);
)sql";

constexpr const char* kBlocksV2 = R"sql(
CREATE TABLE blocks (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  address TEXT NOT NULL,
  ports TEXT NOT NULL DEFAULT '',
  nft_table TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  since_ns INTEGER NOT NULL DEFAULT 0,
  until_ns INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT '',
  updated_ns INTEGER NOT NULL,
  UNIQUE (incident_id, address)
);
CREATE INDEX blocks_by_state ON blocks (state, until_ns);
)sql";

// kMigrations[v - 1] upgrades version v to v + 1.
constexpr const char* kMigrations[] = {kBlocksV2};

constexpr const char* kIncidentColumns =
    "id, created_ns, updated_ns, state, rule_name, severity, score, scope, scope_key, host, "
    "message, indicators_json, window_start_ns, window_end_ns, file_count, alert_count";
constexpr const char* kBlockColumns =
    "address, ports, nft_table, state, since_ns, until_ns, reason, updated_ns";
constexpr const char* kProcessColumns =
    "pid, start_time, start_wall_ns, ppid, pgid, sid, comm, exe, exe_sha256, uid, user, cgroup, "
    "smb_client_address, smb_user, smb_machine, state, reason, first_seen_ns, updated_ns";

int64_t RealNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// /proc/stat "btime": boot time in seconds since the epoch.
int64_t ReadBootTimeNs() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      int64_t seconds = 0;
      in >> seconds;
      return seconds * 1000000000;
    }
    std::string rest;
    std::getline(in, rest);
  }
  return 0;
}

std::optional<ActorScope> ParseScope(std::string_view text) {
  for (ActorScope scope : {ActorScope::kProcess, ActorScope::kProcessTree, ActorScope::kUser,
                           ActorScope::kCgroup, ActorScope::kSmbClient}) {
    if (ToString(scope) == text) return scope;
  }
  return std::nullopt;
}

std::vector<uint16_t> SplitPorts(const std::string& text) {
  std::vector<uint16_t> ports;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    long value = std::strtol(text.substr(start, comma - start).c_str(), nullptr, 10);
    if (value > 0 && value <= 65535) ports.push_back(static_cast<uint16_t>(value));
    start = comma + 1;
  }
  return ports;
}

std::string UtcDay(int64_t wall_ns) {
  time_t seconds = static_cast<time_t>(wall_ns / 1000000000);
  tm parts{};
  gmtime_r(&seconds, &parts);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &parts);
  return buf;
}

Status MakeParentDirs(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return Status::Ok();
  std::string dir = path.substr(0, slash);
  for (std::size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::FromErrno("cannot create the incident directory " + prefix, errno);
    }
  }
  return Status::Ok();
}

// Reads one row's text column ("" for NULL).
std::string Text(sqlite3_stmt* stmt, int col) {
  const unsigned char* text = sqlite3_column_text(stmt, col);
  return text ? reinterpret_cast<const char*>(text) : "";
}

// A row of the blocks table whose columns start at `first`: address, ports, nft_table, state,
// since_ns, until_ns, reason, updated_ns (the order of every query that reads blocks).
IncidentBlock ReadBlock(sqlite3_stmt* row, int first) {
  IncidentBlock block;
  block.address = Text(row, first);
  block.ports = SplitPorts(Text(row, first + 1));
  block.nft_table = Text(row, first + 2);
  block.state = ParseBlockState(Text(row, first + 3)).value_or(BlockState::kBlocked);
  block.since_ns = sqlite3_column_int64(row, first + 4);
  block.until_ns = sqlite3_column_int64(row, first + 5);
  block.reason = Text(row, first + 6);
  block.updated_ns = sqlite3_column_int64(row, first + 7);
  return block;
}

// Binds parameters of one prepared statement and resets it (and its bindings) when done, so a
// statement is reusable whatever path the caller takes out.
class Query {
 public:
  explicit Query(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query& Bind(int index, int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Query& Bind(int index, double value) {
    sqlite3_bind_double(stmt_, index, value);
    return *this;
  }
  Query& Bind(int index, std::string_view value) {
    sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Query& BindNull(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  sqlite3_stmt* get() { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace

// ---- Names -----------------------------------------------------------------------------------

std::string_view ToString(IncidentState state) {
  switch (state) {
    case IncidentState::kAlerted:
      return "alerted";
    case IncidentState::kSuspended:
      return "suspended";
    case IncidentState::kKilled:
      return "killed";
    case IncidentState::kResumed:
      return "resumed";
    case IncidentState::kClosed:
      return "closed";
  }
  return "alerted";
}

std::optional<IncidentState> ParseIncidentState(std::string_view text) {
  for (IncidentState state :
       {IncidentState::kAlerted, IncidentState::kSuspended, IncidentState::kKilled,
        IncidentState::kResumed, IncidentState::kClosed}) {
    if (ToString(state) == text) return state;
  }
  return std::nullopt;
}

bool IsOpen(IncidentState state) {
  return state == IncidentState::kAlerted || state == IncidentState::kSuspended;
}

std::string_view ToString(ProcessState state) {
  switch (state) {
    case ProcessState::kObserved:
      return "observed";
    case ProcessState::kSuspended:
      return "suspended";
    case ProcessState::kKilled:
      return "killed";
    case ProcessState::kResumed:
      return "resumed";
    case ProcessState::kGone:
      return "gone";
    case ProcessState::kRefused:
      return "refused";
  }
  return "observed";
}

std::optional<ProcessState> ParseProcessState(std::string_view text) {
  for (ProcessState state :
       {ProcessState::kObserved, ProcessState::kSuspended, ProcessState::kKilled,
        ProcessState::kResumed, ProcessState::kGone, ProcessState::kRefused}) {
    if (ToString(state) == text) return state;
  }
  return std::nullopt;
}

std::string_view ToString(BlockState state) {
  switch (state) {
    case BlockState::kBlocked:
      return "blocked";
    case BlockState::kFailed:
      return "failed";
    case BlockState::kDryRun:
      return "dry-run";
    case BlockState::kReleased:
      return "released";
  }
  return "blocked";
}

std::optional<BlockState> ParseBlockState(std::string_view text) {
  for (BlockState state :
       {BlockState::kBlocked, BlockState::kFailed, BlockState::kDryRun, BlockState::kReleased}) {
    if (ToString(state) == text) return state;
  }
  return std::nullopt;
}

std::string OperatorActor(uid_t uid) { return "operator uid " + std::to_string(uid); }

std::string IncidentDbPath(std::string_view state_dir) {
  std::string dir(state_dir);
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir + "/incidents.db";
}

// ---- Prepared statements ---------------------------------------------------------------------

struct IncidentStore::Statements {
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_stmt* rollback = nullptr;
  sqlite3_stmt* find_open = nullptr;
  sqlite3_stmt* find_open_with_process = nullptr;
  sqlite3_stmt* find_killed_with_process = nullptr;
  sqlite3_stmt* find_state = nullptr;
  sqlite3_stmt* next_number = nullptr;
  sqlite3_stmt* insert_incident = nullptr;
  sqlite3_stmt* update_from_alert = nullptr;
  sqlite3_stmt* update_state = nullptr;
  sqlite3_stmt* touch = nullptr;
  sqlite3_stmt* raise_file_count = nullptr;
  sqlite3_stmt* insert_alert = nullptr;
  sqlite3_stmt* count_files = nullptr;
  sqlite3_stmt* insert_file = nullptr;
  sqlite3_stmt* find_process = nullptr;
  sqlite3_stmt* count_processes = nullptr;
  sqlite3_stmt* insert_process = nullptr;
  sqlite3_stmt* update_process = nullptr;
  sqlite3_stmt* insert_action = nullptr;
  sqlite3_stmt* list = nullptr;
  sqlite3_stmt* get = nullptr;
  sqlite3_stmt* get_alerts = nullptr;
  sqlite3_stmt* get_processes = nullptr;
  sqlite3_stmt* get_files = nullptr;
  sqlite3_stmt* get_history = nullptr;
  sqlite3_stmt* changes = nullptr;
  sqlite3_stmt* latest = nullptr;
  sqlite3_stmt* upsert_block = nullptr;
  sqlite3_stmt* get_blocks = nullptr;
  sqlite3_stmt* active_blocks = nullptr;

  std::vector<std::pair<sqlite3_stmt**, std::string>> All() {
    std::string incident_cols = kIncidentColumns;
    return {
        {&begin, "BEGIN IMMEDIATE"},
        {&commit, "COMMIT"},
        {&rollback, "ROLLBACK"},
        {&find_open,
         "SELECT id FROM incidents WHERE scope = ?1 AND scope_key = ?2 AND state IN "
         "('alerted', 'suspended') ORDER BY created_ns DESC LIMIT 1"},
        {&find_open_with_process,
         "SELECT i.id FROM processes p JOIN incidents i ON i.id = p.incident_id WHERE p.pid = ?1 "
         "AND p.start_time = ?2 AND i.state IN ('alerted', 'suspended') ORDER BY i.created_ns "
         "DESC LIMIT 1"},
        {&find_killed_with_process,
         "SELECT i.id FROM processes p JOIN incidents i ON i.id = p.incident_id WHERE p.pid = ?1 "
         "AND p.start_time = ?2 AND p.state = 'killed' AND i.state = 'killed' ORDER BY "
         "i.created_ns DESC LIMIT 1"},
        {&find_state, "SELECT state, window_start_ns, window_end_ns FROM incidents WHERE id = ?1"},
        {&next_number, "SELECT COALESCE(MAX(number), 0) + 1 FROM incidents WHERE day = ?1"},
        {&insert_incident,
         "INSERT INTO incidents (id, day, number, created_ns, updated_ns, state, scope, scope_key, "
         "host, window_start_ns, window_end_ns) VALUES (?1, ?2, ?3, ?4, ?4, 'alerted', ?5, ?6, "
         "?7, ?8, ?8)"},
        {&update_from_alert,
         "UPDATE incidents SET updated_ns = ?2, rule_name = ?3, severity = ?4, score = ?5, "
         "message = ?6, indicators_json = ?7, host = CASE WHEN ?8 = '' THEN host ELSE ?8 END, "
         "window_start_ns = MIN(window_start_ns, ?9), window_end_ns = MAX(window_end_ns, ?10), "
         "alert_count = alert_count + 1 WHERE id = ?1"},
        {&update_state, "UPDATE incidents SET state = ?2, updated_ns = ?3 WHERE id = ?1"},
        {&touch,
         "UPDATE incidents SET updated_ns = ?2, window_start_ns = MIN(window_start_ns, ?3), "
         "window_end_ns = MAX(window_end_ns, ?4) WHERE id = ?1"},
        {&raise_file_count,
         "UPDATE incidents SET file_count = MAX(file_count, ?2) + ?3 WHERE id = ?1"},
        {&insert_alert,
         "INSERT INTO alerts (incident_id, alert_id, time_ns, rule_name, severity, score, json) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
        {&count_files, "SELECT COUNT(*) FROM files WHERE incident_id = ?1"},
        {&insert_file,
         "INSERT OR IGNORE INTO files (incident_id, path, first_seen_ns) VALUES (?1, ?2, ?3)"},
        {&find_process,
         "SELECT state FROM processes WHERE incident_id = ?1 AND pid = ?2 AND start_time = ?3"},
        {&count_processes, "SELECT COUNT(*) FROM processes WHERE incident_id = ?1"},
        {&insert_process,
         "INSERT INTO processes (incident_id, pid, start_time, start_wall_ns, ppid, pgid, sid, "
         "comm, exe, exe_sha256, uid, user, cgroup, smb_client_address, smb_user, smb_machine, "
         "state, reason, first_seen_ns, updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
         "?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?19)"},
        // Non-empty (non-zero) newer facts replace the stored ones; state only when given.
        {&update_process,
         "UPDATE processes SET "
         "start_wall_ns = CASE WHEN ?4 = 0 THEN start_wall_ns ELSE ?4 END, "
         "ppid = CASE WHEN ?5 = 0 THEN ppid ELSE ?5 END, "
         "pgid = CASE WHEN ?6 = 0 THEN pgid ELSE ?6 END, "
         "sid = CASE WHEN ?7 = 0 THEN sid ELSE ?7 END, "
         "comm = CASE WHEN ?8 = '' THEN comm ELSE ?8 END, "
         "exe = CASE WHEN ?9 = '' THEN exe ELSE ?9 END, "
         "exe_sha256 = CASE WHEN ?10 = '' THEN exe_sha256 ELSE ?10 END, "
         "uid = CASE WHEN ?12 = '' THEN uid ELSE ?11 END, "
         "user = CASE WHEN ?12 = '' THEN user ELSE ?12 END, "
         "cgroup = CASE WHEN ?13 = '' THEN cgroup ELSE ?13 END, "
         "smb_client_address = CASE WHEN ?14 = '' THEN smb_client_address ELSE ?14 END, "
         "smb_user = CASE WHEN ?15 = '' THEN smb_user ELSE ?15 END, "
         "smb_machine = CASE WHEN ?16 = '' THEN smb_machine ELSE ?16 END, "
         "state = COALESCE(?17, state), reason = CASE WHEN ?17 IS NULL THEN reason ELSE ?18 END, "
         "updated_ns = ?19 WHERE incident_id = ?1 AND pid = ?2 AND start_time = ?3"},
        {&insert_action,
         "INSERT INTO actions (incident_id, time_ns, who, what, detail, result) VALUES (?1, ?2, "
         "?3, ?4, ?5, ?6)"},
        {&list, "SELECT " + incident_cols +
                    " FROM incidents WHERE (?1 IS NULL OR state = ?1) AND updated_ns >= ?2 "
                    "ORDER BY created_ns DESC, id DESC LIMIT ?3"},
        {&get, "SELECT " + incident_cols + " FROM incidents WHERE id = ?1"},
        {&get_alerts,
         "SELECT alert_id, time_ns, rule_name, severity, score, json FROM alerts WHERE "
         "incident_id = ?1 ORDER BY rowid"},
        {&get_processes, std::string("SELECT ") + kProcessColumns +
                             " FROM processes WHERE incident_id = ?1 ORDER BY rowid"},
        {&get_files, "SELECT path, first_seen_ns FROM files WHERE incident_id = ?1 ORDER BY rowid"},
        {&get_history,
         "SELECT seq, incident_id, time_ns, who, what, detail, result FROM actions WHERE "
         "incident_id = ?1 ORDER BY seq"},
        {&changes,
         "SELECT seq, incident_id, time_ns, who, what, detail, result FROM actions WHERE seq > ?1 "
         "ORDER BY seq LIMIT ?2"},
        {&latest, "SELECT COALESCE(MAX(seq), 0) FROM actions"},
        {&upsert_block,
         "INSERT INTO blocks (incident_id, address, ports, nft_table, state, since_ns, until_ns, "
         "reason, updated_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT "
         "(incident_id, address) DO UPDATE SET ports = excluded.ports, nft_table = "
         "excluded.nft_table, state = excluded.state, since_ns = CASE WHEN excluded.since_ns = 0 "
         "THEN since_ns ELSE excluded.since_ns END, until_ns = excluded.until_ns, reason = "
         "excluded.reason, updated_ns = excluded.updated_ns"},
        {&get_blocks, std::string("SELECT ") + kBlockColumns +
                          " FROM blocks WHERE incident_id = ?1 ORDER BY rowid"},
        // A resumed incident's client was let go, even if lifting its block failed.
        {&active_blocks,
         "SELECT b.incident_id, b.address, b.ports, b.nft_table, b.state, b.since_ns, b.until_ns, "
         "b.reason, b.updated_ns FROM blocks b JOIN incidents i ON i.id = b.incident_id WHERE "
         "b.state = 'blocked' AND b.until_ns > ?1 AND i.state != 'resumed' ORDER BY b.until_ns "
         "LIMIT ?2"},
    };
  }

  ~Statements() {
    for (auto& [stmt, sql] : All()) sqlite3_finalize(*stmt);
  }
};

// ---- Open ------------------------------------------------------------------------------------

IncidentStore::IncidentStore(std::string path, IncidentStoreOptions options)
    : path_(std::move(path)), options_(options) {
  if (!options_.now_ns) options_.now_ns = RealNowNs;
  if (options_.boot_time_ns == 0) options_.boot_time_ns = ReadBootTimeNs();
}

IncidentStore::~IncidentStore() {
  stmts_.reset();  // statements before the connection
  if (db_) sqlite3_close_v2(db_);
}

StatusOr<std::unique_ptr<IncidentStore>> IncidentStore::Open(const std::string& path,
                                                             IncidentStoreOptions options) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == EACCES) {
      return Status::PermissionDenied("cannot open the incident database " + path +
                                      ": permission denied (it belongs to root: run as root)");
    }
    if (errno != ENOENT)
      return Status::FromErrno("cannot open the incident database " + path, errno);
    if (!options.create) return Status::NotFound("no incident database at " + path);
    if (Status made = MakeParentDirs(path); !made.ok()) return made;
    // Created here with 0600 (SQLite would use 0644): incidents name users, hosts and files.
    // SQLite gives the -wal and -shm files the database file's permissions.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
      return Status::FromErrno("cannot create the incident database " + path, errno);
    }
    if (fd >= 0) ::close(fd);
  } else if (!S_ISREG(info.st_mode)) {
    return Status::InvalidArgument("the incident database " + path + " is not a regular file");
  }
  if (::access(path.c_str(), R_OK | W_OK) != 0) {
    return Status::PermissionDenied("cannot open the incident database " + path +
                                    ": permission denied (it belongs to root: run as root)");
  }
  std::unique_ptr<IncidentStore> store(new IncidentStore(path, options));
  if (Status init = store->Init(); !init.ok()) return init;
  return store;
}

Status IncidentStore::Init() {
  auto fail = [&](std::string_view what) {
    int code = db_ ? sqlite3_errcode(db_) : SQLITE_CANTOPEN;
    std::string detail = db_ ? sqlite3_errmsg(db_) : "out of memory";
    std::string msg = fmt::format("incident database {}: {}: {}", path_, what, detail);
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
      return Status::Corruption(msg +
                                " (the file is damaged or not steen's: move it aside and "
                                "steen watch starts a new one)");
    }
    if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
      return Status::ResourceExhausted(msg + " (another steen process holds the database)");
    }
    if (code == SQLITE_READONLY || code == SQLITE_PERM || code == SQLITE_CANTOPEN) {
      return Status::PermissionDenied(msg);
    }
    return Status::IoError(msg);
  };
  if (sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    return fail("cannot open");
  }
  sqlite3_extended_result_codes(db_, 0);
  sqlite3_busy_timeout(db_, limits::kIncidentDbBusyTimeoutMs);
  auto exec = [&](const std::string& sql) {
    return sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  };
  // The first statement that reads the file: a non-database fails here with SQLITE_NOTADB.
  if (exec("PRAGMA journal_mode = WAL") != SQLITE_OK) return fail("cannot enable WAL");
  if (exec("PRAGMA foreign_keys = ON") != SQLITE_OK) return fail("cannot enable foreign keys");
  if (exec("PRAGMA synchronous = FULL") != SQLITE_OK) return fail("cannot set synchronous");

  if (exec("BEGIN IMMEDIATE") != SQLITE_OK) return fail("cannot lock for the schema check");
  auto rollback = [&](Status status) {
    exec("ROLLBACK");
    return status;
  };
  // Read the schema state: is there our meta table, and is the database otherwise empty?
  int tables = 0;
  bool has_meta = false;
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &stmt,
                           nullptr) != SQLITE_OK) {
      return rollback(fail("cannot read the schema"));
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      ++tables;
      if (Text(stmt, 0) == "meta") has_meta = true;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) return rollback(fail("cannot read the schema"));
  }
  int version = 0;
  if (has_meta) {
    sqlite3_stmt* stmt = nullptr;
    std::string application;
    if (sqlite3_prepare_v2(db_, "SELECT key, value FROM meta", -1, &stmt, nullptr) != SQLITE_OK) {
      return rollback(fail("cannot read the schema version"));
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string key = Text(stmt, 0);
      if (key == "schema_version") version = std::atoi(Text(stmt, 1).c_str());
      if (key == "application") application = Text(stmt, 1);
    }
    sqlite3_finalize(stmt);
    if (application != kApplication || version <= 0) {
      return rollback(Status::Corruption("incident database " + path_ +
                                         ": not a steen incident database (meta table without "
                                         "a valid schema version); move it aside"));
    }
  } else if (tables > 0) {
    return rollback(Status::Corruption("incident database " + path_ +
                                       ": not a steen incident database (it has other tables); "
                                       "move it aside or choose another state_dir"));
  }
  if (version > kSchemaVersion) {
    return rollback(Status::Unsupported(fmt::format(
        "incident database {} has schema version {}, written by a newer steen; this steen knows "
        "versions up to {}: upgrade steen (or use another state_dir)",
        path_, version, kSchemaVersion)));
  }
  if (version == 0) {
    if (exec(kSchemaV1) != SQLITE_OK) return rollback(fail("cannot create the schema"));
    if (exec(fmt::format("INSERT INTO meta VALUES ('application', '{}'), ('schema_version', '1')",
                         kApplication)) != SQLITE_OK) {
      return rollback(fail("cannot record the schema version"));
    }
    version = 1;
  }
  for (; version < kSchemaVersion; ++version) {
    const char* migration = kMigrations[version - 1];
    if (exec(migration) != SQLITE_OK ||
        exec(fmt::format("UPDATE meta SET value = '{}' WHERE key = 'schema_version'",
                         version + 1)) != SQLITE_OK) {
      return rollback(fail(fmt::format("cannot migrate from schema version {}", version)));
    }
  }
  // Which open incident lists a process (RecordAlert, for every alert): an index any schema
  // version can carry, made where it is missing.
  if (exec("CREATE INDEX IF NOT EXISTS processes_by_pid ON processes (pid, start_time)") !=
      SQLITE_OK) {
    return rollback(fail("cannot index the processes"));
  }
  if (exec("COMMIT") != SQLITE_OK) return rollback(fail("cannot commit the schema"));

  stmts_ = std::make_unique<Statements>();
  for (auto& [stmt, sql] : stmts_->All()) {
    if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) !=
        SQLITE_OK) {
      return fail("cannot prepare \"" + sql.substr(0, 40) + "...\"");
    }
  }
  return Status::Ok();
}

// ---- Writes ----------------------------------------------------------------------------------

Status IncidentStore::DbError(std::string_view what) const {
  int code = sqlite3_errcode(db_);
  std::string msg = fmt::format("incident database {}: {}: {}", path_, what, sqlite3_errmsg(db_));
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) {
    return Status::ResourceExhausted(msg + " (another steen process held the lock too long)");
  }
  if (code == SQLITE_READONLY || code == SQLITE_PERM) return Status::PermissionDenied(msg);
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Status::Corruption(msg);
  return Status::IoError(msg);
}

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back when it fails. IMMEDIATE takes the
// write lock up front, so two processes never both read-then-write (which would deadlock SQLite
// and void the busy timeout).
Status IncidentStore::InTransaction(const std::function<Status()>& body) {
  {
    Query q(stmts_->begin);
    if (q.Step() != SQLITE_DONE) return DbError("cannot start a transaction");
  }
  Status status = body();
  if (status.ok()) {
    Query q(stmts_->commit);
    if (q.Step() == SQLITE_DONE) return Status::Ok();
    status = DbError("cannot commit");
  }
  Query q(stmts_->rollback);
  q.Step();
  return status;
}

#define STEEN_STEP_DONE(query, what)                         \
  do {                                                       \
    if ((query).Step() != SQLITE_DONE) return DbError(what); \
  } while (0)

StatusOr<std::string> IncidentStore::RecordAlert(const Alert& alert,
                                                 const std::vector<Actor>& members) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  const int64_t now = options_.now_ns();
  const int64_t alert_time = alert.wall_time_ns > 0 ? alert.wall_time_ns : now;
  std::string id;
  Status status = InTransaction([&]() -> Status {
    // Which incident: the one the alert names, else the open one of its scope, else a new one.
    if (!alert.incident_id.empty()) {
      Query q(s.find_state);
      q.Bind(1, alert.incident_id);
      int rc = q.Step();
      if (rc == SQLITE_ROW) {
        id = alert.incident_id;
      } else if (rc != SQLITE_DONE) {
        return DbError("cannot look up the incident");
      }
    }
    if (id.empty()) {
      Query q(s.find_open);
      q.Bind(1, ToString(alert.scope)).Bind(2, alert.scope_key);
      int rc = q.Step();
      if (rc == SQLITE_ROW) {
        id = Text(q.get(), 0);
      } else if (rc != SQLITE_DONE) {
        return DbError("cannot look up the scope's incident");
      }
    }
    if (id.empty()) {
      // Another scope's open incident about the same processes: one attack, one incident.
      std::vector<const Actor*> processes;
      if (alert.actor.pid > 0) processes.push_back(&alert.actor);
      for (const Actor& member : members) processes.push_back(&member);
      for (const Actor* process : processes) {
        Query q(s.find_open_with_process);
        q.Bind(1, int64_t{process->pid}).Bind(2, static_cast<int64_t>(process->start_time));
        int rc = q.Step();
        if (rc == SQLITE_ROW) {
          id = Text(q.get(), 0);
          break;
        }
        if (rc != SQLITE_DONE) return DbError("cannot look up the processes' incident");
      }
    }
    const bool created = id.empty();
    if (created) {
      std::string day = UtcDay(now);
      int64_t number = 1;
      {
        Query q(s.next_number);
        q.Bind(1, day);
        if (q.Step() != SQLITE_ROW) return DbError("cannot number the incident");
        number = sqlite3_column_int64(q.get(), 0);
      }
      id = fmt::format("INC-{}-{:04d}", day, number);
      Query q(s.insert_incident);
      q.Bind(1, id).Bind(2, day).Bind(3, number).Bind(4, now);
      q.Bind(5, ToString(alert.scope)).Bind(6, alert.scope_key).Bind(7, alert.host);
      q.Bind(8, alert_time);
      STEEN_STEP_DONE(q, "cannot create the incident");
    }
    nlohmann::json indicators = nlohmann::json::array();
    for (const Indicator& indicator : alert.indicators) {
      indicators.push_back(
          {{"name", indicator.name}, {"count", indicator.count}, {"detail", indicator.detail}});
    }
    {
      Query q(s.update_from_alert);
      q.Bind(1, id).Bind(2, now).Bind(3, alert.rule_name).Bind(4, alert.severity);
      q.Bind(5, alert.score).Bind(6, alert.message);
      q.Bind(7, indicators.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      q.Bind(8, alert.host);
      int64_t start = alert_time;
      int64_t actor_start = StartWallNs(alert.actor.start_time);
      if (actor_start > 0) start = std::min(start, actor_start);
      q.Bind(9, start).Bind(10, alert_time);
      STEEN_STEP_DONE(q, "cannot update the incident");
    }
    int64_t alert_count = 0;
    {
      Query q(s.get);
      q.Bind(1, id);
      if (q.Step() != SQLITE_ROW) return DbError("cannot read the incident back");
      alert_count = sqlite3_column_int64(q.get(), 15);
    }
    if (alert_count <= static_cast<int64_t>(limits::kMaxIncidentAlerts)) {
      Alert stored = alert;
      stored.incident_id = id;
      Query q(s.insert_alert);
      q.Bind(1, id).Bind(2, alert.id).Bind(3, alert_time).Bind(4, alert.rule_name);
      q.Bind(5, alert.severity).Bind(6, alert.score).Bind(7, outputs::FormatEcsJson(stored));
      STEEN_STEP_DONE(q, "cannot store the alert");
    }
    if (Status added = AddFilesLocked(id, alert.files, alert_time, alert.file_count); !added.ok()) {
      return added;
    }
    if (alert.actor.pid > 0) {
      Status recorded = UpsertProcessLocked(id, alert.actor, std::nullopt, "", kDaemonActor, now,
                                            /*cap_is_error=*/false);
      if (!recorded.ok()) return recorded;
    }
    std::string detail =
        fmt::format("{} {} (score {:.1f}, {} files): {}", created ? "alert" : "escalation",
                    alert.rule_name, alert.score, alert.file_count, alert.message);
    return AddActionLocked(id, now, kDaemonActor, created ? "created" : "alert", detail, "ok");
  });
  if (!status.ok()) return status;
  return id;
}

Status IncidentStore::RecordProcess(const std::string& id, const Actor& actor, ProcessState state,
                                    const std::string& reason, std::string_view who) {
  std::lock_guard lock(mu_);
  const int64_t now = options_.now_ns();
  return InTransaction([&]() -> Status {
    if (Status found = RequireIncidentLocked(id); !found.ok()) return found;
    return UpsertProcessLocked(id, actor, state, reason, who, now, /*cap_is_error=*/true);
  });
}

Status IncidentStore::SetProcessState(const std::string& id, pid_t pid, uint64_t start_time,
                                      ProcessState state, const std::string& reason,
                                      std::string_view who) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  const int64_t now = options_.now_ns();
  return InTransaction([&]() -> Status {
    if (Status found = RequireIncidentLocked(id); !found.ok()) return found;
    {
      Query q(s.find_process);
      q.Bind(1, id).Bind(2, int64_t{pid}).Bind(3, static_cast<int64_t>(start_time));
      int rc = q.Step();
      if (rc == SQLITE_DONE) {
        return Status::NotFound(
            fmt::format("incident {} has no process {} (start time {})", id, pid, start_time));
      }
      if (rc != SQLITE_ROW) return DbError("cannot look up the process");
    }
    Actor actor;
    actor.pid = pid;
    actor.start_time = start_time;
    return UpsertProcessLocked(id, actor, state, reason, who, now, /*cap_is_error=*/true);
  });
}

Status IncidentStore::AddFiles(const std::string& id, const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  const int64_t now = options_.now_ns();
  return InTransaction([&]() -> Status {
    if (Status found = RequireIncidentLocked(id); !found.ok()) return found;
    if (Status added = AddFilesLocked(id, paths, now, 0); !added.ok()) return added;
    Query q(s.touch);
    q.Bind(1, id).Bind(2, now).Bind(3, now).Bind(4, now);
    STEEN_STEP_DONE(q, "cannot update the incident");
    return AddActionLocked(id, now, kDaemonActor, "files",
                           fmt::format("{} more affected files reported", paths.size()), "ok");
  });
}

Status IncidentStore::RecordBlock(const std::string& id, const IncidentBlock& block,
                                  std::string_view who) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  const int64_t now = options_.now_ns();
  return InTransaction([&]() -> Status {
    if (Status found = RequireIncidentLocked(id); !found.ok()) return found;
    {
      Query q(s.upsert_block);
      q.Bind(1, id).Bind(2, block.address).Bind(3, sys::FormatPorts(block.ports));
      q.Bind(4, block.nft_table).Bind(5, ToString(block.state)).Bind(6, block.since_ns);
      q.Bind(7, block.until_ns).Bind(8, block.reason).Bind(9, now);
      STEEN_STEP_DONE(q, "cannot record the block");
    }
    {
      Query q(s.touch);
      q.Bind(1, id).Bind(2, now).Bind(3, std::numeric_limits<int64_t>::max()).Bind(4, int64_t{0});
      STEEN_STEP_DONE(q, "cannot update the incident");
    }
    const std::string ports = sys::FormatPorts(block.ports);
    std::string detail;
    std::string result = "ok";
    switch (block.state) {
      case BlockState::kBlocked:
        detail = fmt::format("{} refused on tcp {} until {}", block.address, ports,
                             outputs::text::Rfc3339Utc(block.until_ns, 0));
        if (!block.nft_table.empty()) detail += " (nftables table inet " + block.nft_table + ")";
        break;
      case BlockState::kFailed:
        detail = fmt::format("{} not refused on tcp {}: {}", block.address, ports, block.reason);
        result = block.reason.empty() ? "failed" : block.reason;
        break;
      case BlockState::kDryRun:
        detail = fmt::format("would refuse {} on tcp {} until {}", block.address, ports,
                             outputs::text::Rfc3339Utc(block.until_ns, 0));
        break;
      case BlockState::kReleased:
        detail = fmt::format("{} released", block.address);
        if (!block.reason.empty()) detail += " (" + block.reason + ")";
        break;
    }
    return AddActionLocked(id, now, who, "block", detail, result);
  });
}

StatusOr<std::vector<std::pair<std::string, IncidentBlock>>> IncidentStore::ActiveBlocks(
    int64_t now_ns) {
  std::lock_guard lock(mu_);
  Query q(stmts_->active_blocks);
  q.Bind(1, now_ns).Bind(2, static_cast<int64_t>(limits::kMaxIncidentsListed));
  std::vector<std::pair<std::string, IncidentBlock>> blocks;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    blocks.emplace_back(Text(q.get(), 0), ReadBlock(q.get(), 1));
  }
  if (rc != SQLITE_DONE) return ReadError("cannot read the blocks");
  return blocks;
}

namespace {

bool TransitionAllowed(IncidentState from, IncidentState to) {
  if (from == to) return from != IncidentState::kClosed;
  if (to == IncidentState::kAlerted) return false;
  switch (from) {
    case IncidentState::kClosed:
      return false;
    case IncidentState::kKilled:
      return to == IncidentState::kClosed;
    default:
      return true;
  }
}

}  // namespace

Status IncidentStore::Transition(const std::string& id, IncidentState new_state,
                                 std::string_view who, const std::string& detail) {
  std::lock_guard lock(mu_);
  Statements& s = *stmts_;
  const int64_t now = options_.now_ns();
  return InTransaction([&]() -> Status {
    IncidentState from = IncidentState::kAlerted;
    {
      Query q(s.find_state);
      q.Bind(1, id);
      int rc = q.Step();
      if (rc == SQLITE_DONE) return UnknownIncident(id);
      if (rc != SQLITE_ROW) return DbError("cannot look up the incident");
      from = ParseIncidentState(Text(q.get(), 0)).value_or(IncidentState::kAlerted);
    }
    if (!TransitionAllowed(from, new_state)) {
      return Status::InvalidArgument(fmt::format("incident {} is {}: it cannot become {}", id,
                                                 ToString(from), ToString(new_state)));
    }
    {
      Query q(s.update_state);
      q.Bind(1, id).Bind(2, ToString(new_state)).Bind(3, now);
      STEEN_STEP_DONE(q, "cannot change the incident state");
    }
    // Containment ends the attack's activity: the rollback window closes there.
    if (new_state == IncidentState::kSuspended || new_state == IncidentState::kKilled) {
      Query q(s.touch);
      q.Bind(1, id).Bind(2, now).Bind(3, std::numeric_limits<int64_t>::max()).Bind(4, now);
      STEEN_STEP_DONE(q, "cannot update the incident window");
    }
    std::string what = fmt::format("{} -> {}", ToString(from), ToString(new_state));
    if (!detail.empty()) what += ": " + detail;
    return AddActionLocked(id, now, who, "state", what, "ok");
  });
}

// ---- Helpers called with the mutex held and inside a transaction ------------------------------

int64_t IncidentStore::StartWallNs(uint64_t start_time_ticks) const {
  if (start_time_ticks == 0 || options_.boot_time_ns == 0) return 0;
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  if (ticks_per_second <= 0) return 0;
  return options_.boot_time_ns +
         static_cast<int64_t>(start_time_ticks) * (1000000000 / ticks_per_second);
}

Status IncidentStore::UnknownIncident(const std::string& id) const {
  return Status::NotFound("no incident " + id + " in " + path_ +
                          " (list the ids with `steen incidents`)");
}

Status IncidentStore::RequireIncidentLocked(const std::string& id) {
  Query q(stmts_->find_state);
  q.Bind(1, id);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return Status::Ok();
  if (rc == SQLITE_DONE) return UnknownIncident(id);
  return DbError("cannot look up the incident");
}

Status IncidentStore::AddActionLocked(const std::string& id, int64_t now, std::string_view who,
                                      std::string_view what, std::string_view detail,
                                      std::string_view result) {
  Query q(stmts_->insert_action);
  q.Bind(1, id).Bind(2, now).Bind(3, who).Bind(4, what).Bind(5, detail).Bind(6, result);
  STEEN_STEP_DONE(q, "cannot record the history");
  return Status::Ok();
}

Status IncidentStore::AddFilesLocked(const std::string& id, const std::vector<std::string>& paths,
                                     int64_t time_ns, int64_t reported_count) {
  Statements& s = *stmts_;
  int64_t stored = 0;
  {
    Query q(s.count_files);
    q.Bind(1, id);
    if (q.Step() != SQLITE_ROW) return DbError("cannot count the files");
    stored = sqlite3_column_int64(q.get(), 0);
  }
  // New distinct paths beyond the cap are counted but not listed. Without the cap we cannot tell
  // a repeat from a new path, so only paths that fit are deduplicated exactly.
  int64_t added = 0;
  int64_t unlisted = 0;
  for (const std::string& path : paths) {
    if (stored >= static_cast<int64_t>(limits::kMaxIncidentFiles)) {
      ++unlisted;
      continue;
    }
    Query q(s.insert_file);
    q.Bind(1, id).Bind(2, path).Bind(3, time_ns);
    STEEN_STEP_DONE(q, "cannot record a file");
    if (sqlite3_changes(db_) > 0) {
      ++stored;
      ++added;
    }
  }
  Query q(s.raise_file_count);
  // An alert's file_count is the detector's running total for the scope, which already includes
  // its listed files: the count becomes the larger of the totals. Files added later (AddFiles)
  // come on top.
  if (reported_count > 0) {
    q.Bind(1, id).Bind(2, std::max(reported_count, stored)).Bind(3, int64_t{0});
  } else {
    q.Bind(1, id).Bind(2, stored).Bind(3, added + unlisted);
  }
  STEEN_STEP_DONE(q, "cannot update the file count");
  return Status::Ok();
}

Status IncidentStore::UpsertProcessLocked(const std::string& id, const Actor& actor,
                                          std::optional<ProcessState> state,
                                          const std::string& reason, std::string_view who,
                                          int64_t now, bool cap_is_error) {
  Statements& s = *stmts_;
  std::optional<ProcessState> old_state;
  bool exists = false;
  {
    Query q(s.find_process);
    q.Bind(1, id).Bind(2, int64_t{actor.pid}).Bind(3, static_cast<int64_t>(actor.start_time));
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      exists = true;
      old_state = ParseProcessState(Text(q.get(), 0));
    } else if (rc != SQLITE_DONE) {
      return DbError("cannot look up the process");
    }
  }
  const int64_t start_wall = StartWallNs(actor.start_time);
  if (!exists) {
    int64_t count = 0;
    {
      Query q(s.count_processes);
      q.Bind(1, id);
      if (q.Step() != SQLITE_ROW) return DbError("cannot count the processes");
      count = sqlite3_column_int64(q.get(), 0);
    }
    if (count >= static_cast<int64_t>(limits::kMaxIncidentProcesses)) {
      if (!cap_is_error) return Status::Ok();
      return Status::ResourceExhausted(fmt::format(
          "incident {} already has {} processes (limits::kMaxIncidentProcesses)", id, count));
    }
    ProcessState initial = state.value_or(ProcessState::kObserved);
    Query q(s.insert_process);
    q.Bind(1, id).Bind(2, int64_t{actor.pid}).Bind(3, static_cast<int64_t>(actor.start_time));
    q.Bind(4, start_wall).Bind(5, int64_t{actor.ppid}).Bind(6, int64_t{actor.pgid});
    q.Bind(7, int64_t{actor.sid}).Bind(8, actor.comm).Bind(9, actor.exe).Bind(10, actor.exe_sha256);
    q.Bind(11, int64_t{actor.uid}).Bind(12, actor.user).Bind(13, actor.cgroup);
    q.Bind(14, actor.smb_client_address).Bind(15, actor.smb_user).Bind(16, actor.smb_machine);
    q.Bind(17, ToString(initial)).Bind(18, reason).Bind(19, now);
    STEEN_STEP_DONE(q, "cannot record the process");
  } else {
    Query q(s.update_process);
    q.Bind(1, id).Bind(2, int64_t{actor.pid}).Bind(3, static_cast<int64_t>(actor.start_time));
    q.Bind(4, start_wall).Bind(5, int64_t{actor.ppid}).Bind(6, int64_t{actor.pgid});
    q.Bind(7, int64_t{actor.sid}).Bind(8, actor.comm).Bind(9, actor.exe).Bind(10, actor.exe_sha256);
    // uid 0 is a real uid: it replaces the stored one only together with a user name.
    q.Bind(11, int64_t{actor.uid}).Bind(12, actor.user).Bind(13, actor.cgroup);
    q.Bind(14, actor.smb_client_address).Bind(15, actor.smb_user).Bind(16, actor.smb_machine);
    if (state) {
      q.Bind(17, ToString(*state));
    } else {
      q.BindNull(17);
    }
    q.Bind(18, reason).Bind(19, now);
    STEEN_STEP_DONE(q, "cannot update the process");
  }
  const bool state_changed = state && (!exists || old_state != state);
  const bool contained = state == ProcessState::kSuspended || state == ProcessState::kKilled;
  {
    Query q(s.touch);
    q.Bind(1, id).Bind(2, now);
    q.Bind(3, start_wall > 0 ? start_wall : std::numeric_limits<int64_t>::max());
    q.Bind(4, contained && state_changed ? now : int64_t{0});
    STEEN_STEP_DONE(q, "cannot update the incident");
  }
  if (!exists || state_changed) {
    std::string name = actor.exe.empty() ? actor.comm : actor.exe;
    std::string detail =
        fmt::format("pid {}{}: {}", actor.pid, name.empty() ? "" : " (" + name + ")",
                    ToString(state.value_or(ProcessState::kObserved)));
    if (!exists && !state) detail += " (recorded)";
    if (!reason.empty()) detail += ": " + reason;
    return AddActionLocked(id, now, who, "process", detail, "ok");
  }
  return Status::Ok();
}

#undef STEEN_STEP_DONE

// ---- Reads -----------------------------------------------------------------------------------

namespace {

Incident ReadIncidentRow(sqlite3_stmt* stmt) {
  Incident incident;
  incident.id = Text(stmt, 0);
  incident.created_ns = sqlite3_column_int64(stmt, 1);
  incident.updated_ns = sqlite3_column_int64(stmt, 2);
  incident.state = ParseIncidentState(Text(stmt, 3)).value_or(IncidentState::kAlerted);
  incident.rule_name = Text(stmt, 4);
  incident.severity = Text(stmt, 5);
  incident.score = sqlite3_column_double(stmt, 6);
  incident.scope = ParseScope(Text(stmt, 7)).value_or(ActorScope::kProcess);
  incident.scope_key = Text(stmt, 8);
  incident.host = Text(stmt, 9);
  incident.message = Text(stmt, 10);
  nlohmann::json indicators = nlohmann::json::parse(Text(stmt, 11), nullptr, false);
  if (indicators.is_array()) {
    for (const auto& item : indicators) {
      if (!item.is_object()) continue;
      incident.indicators.push_back(
          {item.value("name", ""), item.value("count", int64_t{0}), item.value("detail", "")});
    }
  }
  incident.window_start_ns = sqlite3_column_int64(stmt, 12);
  incident.window_end_ns = sqlite3_column_int64(stmt, 13);
  incident.file_count = sqlite3_column_int64(stmt, 14);
  incident.alert_count = sqlite3_column_int64(stmt, 15);
  return incident;
}

IncidentAction ReadActionRow(sqlite3_stmt* stmt) {
  IncidentAction action;
  action.seq = sqlite3_column_int64(stmt, 0);
  action.incident_id = Text(stmt, 1);
  action.time_ns = sqlite3_column_int64(stmt, 2);
  action.who = Text(stmt, 3);
  action.what = Text(stmt, 4);
  action.detail = Text(stmt, 5);
  action.result = Text(stmt, 6);
  return action;
}

}  // namespace

Status IncidentStore::ReadError(std::string_view what) const {
  int code = sqlite3_errcode(db_);
  std::string msg = fmt::format("incident database {}: {}: {}", path_, what, sqlite3_errmsg(db_));
  if (code == SQLITE_BUSY) return Status::ResourceExhausted(msg);
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return Status::Corruption(msg);
  return Status::IoError(msg);
}

Status IncidentStore::LoadDetailsLocked(Incident& incident, bool alerts, bool history) {
  Statements& s = *stmts_;
  int rc;
  {
    Query q(s.get_processes);
    q.Bind(1, incident.id);
    while ((rc = q.Step()) == SQLITE_ROW) {
      sqlite3_stmt* row = q.get();
      IncidentProcess process;
      process.actor.pid = static_cast<pid_t>(sqlite3_column_int64(row, 0));
      process.actor.start_time = static_cast<uint64_t>(sqlite3_column_int64(row, 1));
      process.start_wall_ns = sqlite3_column_int64(row, 2);
      process.actor.ppid = static_cast<pid_t>(sqlite3_column_int64(row, 3));
      process.actor.pgid = static_cast<pid_t>(sqlite3_column_int64(row, 4));
      process.actor.sid = static_cast<pid_t>(sqlite3_column_int64(row, 5));
      process.actor.comm = Text(row, 6);
      process.actor.exe = Text(row, 7);
      process.actor.exe_sha256 = Text(row, 8);
      process.actor.uid = static_cast<uid_t>(sqlite3_column_int64(row, 9));
      process.actor.user = Text(row, 10);
      process.actor.cgroup = Text(row, 11);
      process.actor.smb_client_address = Text(row, 12);
      process.actor.smb_user = Text(row, 13);
      process.actor.smb_machine = Text(row, 14);
      process.state = ParseProcessState(Text(row, 15)).value_or(ProcessState::kObserved);
      process.reason = Text(row, 16);
      process.first_seen_ns = sqlite3_column_int64(row, 17);
      process.updated_ns = sqlite3_column_int64(row, 18);
      incident.processes.push_back(std::move(process));
    }
    if (rc != SQLITE_DONE) return ReadError("cannot read the processes");
  }
  {
    Query q(s.get_blocks);
    q.Bind(1, incident.id);
    while ((rc = q.Step()) == SQLITE_ROW) {
      incident.blocks.push_back(ReadBlock(q.get(), 0));
    }
    if (rc != SQLITE_DONE) return ReadError("cannot read the blocks");
  }
  {
    Query q(s.get_files);
    q.Bind(1, incident.id);
    while ((rc = q.Step()) == SQLITE_ROW) {
      incident.files.push_back({Text(q.get(), 0), sqlite3_column_int64(q.get(), 1)});
    }
    if (rc != SQLITE_DONE) return ReadError("cannot read the files");
  }
  if (alerts) {
    Query q(s.get_alerts);
    q.Bind(1, incident.id);
    while ((rc = q.Step()) == SQLITE_ROW) {
      sqlite3_stmt* row = q.get();
      incident.alerts.push_back({Text(row, 0), sqlite3_column_int64(row, 1), Text(row, 2),
                                 Text(row, 3), sqlite3_column_double(row, 4), Text(row, 5)});
    }
    if (rc != SQLITE_DONE) return ReadError("cannot read the alerts");
  }
  if (history) {
    Query q(s.get_history);
    q.Bind(1, incident.id);
    while ((rc = q.Step()) == SQLITE_ROW) incident.history.push_back(ReadActionRow(q.get()));
    if (rc != SQLITE_DONE) return ReadError("cannot read the history");
  }
  return Status::Ok();
}

StatusOr<std::vector<Incident>> IncidentStore::List(const IncidentFilter& filter) {
  std::lock_guard lock(mu_);
  // One read transaction: a consistent snapshot while a writer works in parallel (WAL).
  sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
  std::vector<Incident> incidents;
  Status status;
  {
    Query q(stmts_->list);
    if (filter.state) {
      q.Bind(1, ToString(*filter.state));
    } else {
      q.BindNull(1);
    }
    q.Bind(2, filter.since_ns);
    q.Bind(3, static_cast<int64_t>(filter.limit ? filter.limit : limits::kMaxIncidentsListed));
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) incidents.push_back(ReadIncidentRow(q.get()));
    if (rc != SQLITE_DONE) status = ReadError("cannot list incidents");
  }
  for (Incident& incident : incidents) {
    if (!status.ok()) break;
    status = LoadDetailsLocked(incident, /*alerts=*/false, filter.with_history);
  }
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (!status.ok()) return status;
  return incidents;
}

StatusOr<Incident> IncidentStore::Get(const std::string& id) {
  std::lock_guard lock(mu_);
  sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr);
  std::optional<Incident> incident;
  Status status;
  {
    Query q(stmts_->get);
    q.Bind(1, id);
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      incident = ReadIncidentRow(q.get());
    } else if (rc == SQLITE_DONE) {
      status = UnknownIncident(id);
    } else {
      status = ReadError("cannot read the incident");
    }
  }
  if (status.ok()) status = LoadDetailsLocked(*incident, /*alerts=*/true, /*history=*/true);
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  if (!status.ok()) return status;
  return std::move(*incident);
}

StatusOr<std::vector<IncidentAction>> IncidentStore::ChangesSince(int64_t after_seq,
                                                                  std::size_t limit) {
  std::lock_guard lock(mu_);
  Query q(stmts_->changes);
  q.Bind(1, after_seq);
  q.Bind(2, static_cast<int64_t>(limit ? limit : limits::kMaxIncidentChangesPerPoll));
  std::vector<IncidentAction> actions;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) actions.push_back(ReadActionRow(q.get()));
  if (rc != SQLITE_DONE) return ReadError("cannot read the changes");
  return actions;
}

StatusOr<std::string> IncidentStore::KilledIncidentOf(pid_t pid, uint64_t start_time) {
  std::lock_guard lock(mu_);
  Query q(stmts_->find_killed_with_process);
  q.Bind(1, int64_t{pid}).Bind(2, static_cast<int64_t>(start_time));
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return Text(q.get(), 0);
  if (rc != SQLITE_DONE) return ReadError("cannot look up the process's killed incident");
  return std::string();
}

StatusOr<int64_t> IncidentStore::LatestChange() {
  std::lock_guard lock(mu_);
  Query q(stmts_->latest);
  if (q.Step() != SQLITE_ROW) return ReadError("cannot read the change counter");
  return static_cast<int64_t>(sqlite3_column_int64(q.get(), 0));
}

}  // namespace steen::watch
