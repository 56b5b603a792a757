// The drill on real folders, observed from outside: inotify watches the target (and the
// move-out staging folder) while RunDrill runs, and every built-in profile is checked for
//  * the bytes: the attacked file equals TransformContent (so the changed ranges are exactly the
//    layout's, footer included) and bytes outside the layout are untouched on disk;
//  * the name (extension rule), the note (name, content, placement, before/after the files);
//  * the write pattern actually used, classified from the kernel's events and inodes:
//      pwrite          IN_MODIFY on the file, same inode, no create/delete;
//      mmap            content changed, same inode, NO IN_MODIFY (mmap writes raise none:
//                      inotify(7); checked on this kernel by MmapWritesRaiseNoModifyEvent);
//      new-file-unlink IN_CREATE of the new name, IN_DELETE of the old, a new inode;
//      new-file-keep   IN_CREATE of the new name, the original untouched;
//      move-out-back   IN_MOVED_FROM to the staging folder (cookie pair), IN_MODIFY there,
//                      IN_MOVED_FROM/IN_MOVED_TO back under the new name, same inode;
//    and rename-first vs rename-last from the order of the rename and the first write;
//  * undo restores everything byte-exact.
// Also: worker processes (--processes), decoy avoidance, budgets and refusals.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "steen/drill.h"

namespace steen::drill {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string RandomBytes(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

ino_t Inode(const fs::path& p) {
  struct stat st {};
  return lstat(p.c_str(), &st) == 0 ? st.st_ino : 0;
}

// A temporary folder the test made, removed at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/steen-drill-fs.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Event {
  std::string dir;  // watched folder label: "" (root), "sub", "@stage"
  uint32_t mask;
  uint32_t cookie;
  std::string name;
};

class Observer {
 public:
  Observer() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {}
  ~Observer() { close(fd_); }
  void Watch(const fs::path& dir, const std::string& label) {
    int wd = inotify_add_watch(fd_, dir.c_str(),
                               IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                                   IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
    ASSERT_GE(wd, 0) << dir;
    labels_[wd] = label;
  }
  std::vector<Event> Drain() {
    alignas(struct inotify_event) char buffer[1 << 16];
    for (;;) {
      ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n <= 0) break;
      for (char* p = buffer; p < buffer + n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(p);
        EXPECT_EQ(e->mask & IN_Q_OVERFLOW, 0u) << "inotify queue overflow";
        events_.push_back({labels_[e->wd], e->mask, e->cookie, e->len ? e->name : ""});
        p += sizeof(struct inotify_event) + e->len;
      }
    }
    return events_;
  }

 private:
  int fd_;
  std::map<int, std::string> labels_;
  std::vector<Event> events_;
};

// The tree every profile is run on: extensions most allow-lists accept, sizes across thresholds.
struct Seed {
  std::string rel;
  std::string content;
};
std::vector<Seed> SeedFiles() {
  std::string text;
  for (int i = 0; text.size() < 40000; ++i) text += "line " + std::to_string(i) + " of a report\n";
  return {
      {"report.docx", RandomBytes(300000, 1)},    {"notes.txt", text},
      {"data.sql", RandomBytes(70001, 2)},        {"small.pdf", RandomBytes(5000, 3)},
      {"sub/sheet.xlsx", RandomBytes(123457, 4)}, {"sub/deeper/photo.jpg", RandomBytes(9000, 5)}};
}

struct Fixture {
  TempDir tmp;
  fs::path target, manifest, stage;
  std::map<std::string, std::string> originals;
  std::map<std::string, ino_t> inodes;

  Fixture() {
    target = tmp.path() / "t";
    manifest = tmp.path() / "o" / "m.jsonl";
    fs::create_directories(tmp.path() / "o");
    std::string report;
    EXPECT_TRUE(InitTarget({target.string(), 0, ""}, &report).ok());
    for (const auto& seed : SeedFiles()) {
      fs::create_directories((target / seed.rel).parent_path());
      WriteFile(target / seed.rel, seed.content);
      originals[seed.rel] = seed.content;
      inodes[seed.rel] = Inode(target / seed.rel);
    }
    // The staging folder RunDrill uses for move-out-back (created early so it can be watched).
    stage = fs::path(manifest.string() + ".d") / "stage";
    fs::create_directories(stage);
  }
  void WatchAll(Observer* obs) {
    obs->Watch(target, "");
    obs->Watch(target / "sub", "sub");
    obs->Watch(target / "sub" / "deeper", "sub/deeper");
    obs->Watch(stage, "@stage");
  }
  // Everything back byte-exact, nothing left over but the marker.
  void ExpectRestored() {
    std::set<std::string> seen;
    for (auto it = fs::recursive_directory_iterator(target);
         it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file()) continue;
      std::string rel = fs::relative(it->path(), target).string();
      if (rel == std::string(kTargetMarkerName)) continue;
      seen.insert(rel);
      auto orig = originals.find(rel);
      if (orig == originals.end()) {
        ADD_FAILURE() << "left over after undo: " << rel;
      } else {
        EXPECT_TRUE(ReadFile(it->path()) == orig->second) << "not restored: " << rel;
      }
    }
    EXPECT_EQ(seen.size(), originals.size());
  }
};

std::vector<json> ManifestEntries(const fs::path& manifest, const std::string& op) {
  std::vector<json> out;
  std::function<void(const fs::path&)> read = [&](const fs::path& p) {
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.value("op", "") == "part") read(j.value("path", ""));
      if (j.value("op", "") == op) out.push_back(j);
    }
  };
  read(manifest);
  return out;
}

std::string Dir(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? "" : rel.substr(0, slash);
}
std::string Base(const std::string& rel) {
  std::size_t slash = rel.rfind('/');
  return slash == std::string::npos ? rel : rel.substr(slash + 1);
}

// Classifies how one file was changed, from the events that name it and from inodes.
std::string ObservedPattern(const std::vector<Event>& events, const std::string& dir,
                            const std::string& old_name, const std::string& new_name,
                            const std::string& stage_name, bool same_inode, bool old_exists,
                            bool* rename_before_write) {
  // new-file-rename-over: a temporary file (the manifest's "stage", in the file's own folder)
  // created, then moved onto the original's name.
  bool temp_created = false, temp_moved = false, moved_onto_old = false;
  for (const Event& e : events) {
    if (e.dir != dir) continue;
    temp_created |= e.name == stage_name && (e.mask & IN_CREATE) != 0;
    temp_moved |= e.name == stage_name && (e.mask & IN_MOVED_FROM) != 0;
    moved_onto_old |= e.name == old_name && (e.mask & IN_MOVED_TO) != 0;
  }
  bool modify_dir = false, modify_stage = false, create_new = false, delete_old = false;
  bool out_to_stage = false, back_from_stage = false, modify_old = false;
  std::map<uint32_t, int> cookies;  // cookie -> bit 1 from-dir, 2 to-stage, 4 from-stage, 8 to-dir
  int first_write = -1, first_rename = -1;
  for (int i = 0; i < static_cast<int>(events.size()); ++i) {
    const Event& e = events[i];
    const bool in_dir = e.dir == dir && (e.name == old_name || e.name == new_name);
    const bool in_stage = e.dir == "@stage" && e.name == stage_name;
    if (!in_dir && !in_stage) continue;
    if (e.mask & IN_MODIFY) {
      (in_dir ? modify_dir : modify_stage) = true;
      if (in_dir && e.name == old_name && old_name != new_name) modify_old = true;
      if (first_write < 0) first_write = i;
    }
    if (in_dir && (e.mask & IN_CREATE) && e.name == new_name) create_new = true;
    if (in_dir && (e.mask & IN_DELETE) && e.name == old_name) delete_old = true;
    if (e.mask & (IN_MOVED_FROM | IN_MOVED_TO)) {
      if (first_rename < 0) first_rename = i;
      int bit = in_dir ? ((e.mask & IN_MOVED_FROM) ? 1 : 8) : ((e.mask & IN_MOVED_FROM) ? 4 : 2);
      cookies[e.cookie] |= bit;
    }
  }
  for (const auto& [cookie, bits] : cookies) {
    if (bits == (1 | 2)) out_to_stage = true;
    if (bits == (4 | 8)) back_from_stage = true;
  }
  *rename_before_write = first_rename >= 0 && first_write >= 0 && first_rename < first_write;
  if (out_to_stage && back_from_stage && modify_stage && !modify_dir && same_inode) {
    return "move-out-back";
  }
  if (temp_created && temp_moved && moved_onto_old && !same_inode && !modify_old) {
    return "new-file-rename-over";
  }
  if (create_new && delete_old && !same_inode && !modify_old) {
    return "new-file-unlink";
  }
  if (create_new && !delete_old && old_exists) return "new-file-keep";
  if (!create_new && !delete_old && same_inode) return modify_dir ? "pwrite" : "mmap";
  return "unclassified";
}

TEST(DrillObserved, MmapWritesRaiseNoModifyEvent) {
  // The premise of the mmap classification, on this kernel: pwrite raises IN_MODIFY, a write
  // through MAP_SHARED + msync does not.
  TempDir tmp;
  WriteFile(tmp.path() / "a", RandomBytes(8192, 1));
  WriteFile(tmp.path() / "b", RandomBytes(8192, 2));
  Observer obs;
  obs.Watch(tmp.path(), "");
  int fd = open((tmp.path() / "a").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char* map = static_cast<char*>(mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  ASSERT_NE(map, MAP_FAILED);
  for (int i = 0; i < 8192; ++i) map[i] = static_cast<char>(~map[i]);
  ASSERT_EQ(msync(map, 8192, MS_SYNC), 0);
  munmap(map, 8192);
  close(fd);
  fd = open((tmp.path() / "b").c_str(), O_RDWR);
  ASSERT_EQ(pwrite(fd, "x", 1, 0), 1);
  close(fd);
  std::set<std::string> modified;
  for (const auto& e : obs.Drain()) {
    if (e.mask & IN_MODIFY) modified.insert(e.name);
  }
  EXPECT_EQ(modified, (std::set<std::string>{"b"}));
}

struct RunResult {
  int attacked = 0;
  std::set<int64_t> pids;
};

// Runs `profile` (pattern optionally overridden) on a fresh tree under inotify and checks bytes,
// names, notes, write pattern and undo. Returns what was attacked.
RunResult ObserveRun(Profile profile, std::string_view pattern_override = {}, int processes = 0) {
  RunResult result;
  if (!pattern_override.empty()) {
    StatusOr<Profile> patch =
        ParseProfile("name: x\npattern: " + std::string(pattern_override) + "\n", "t");
    EXPECT_TRUE(patch.ok());
    profile.pattern = patch->pattern;
  }
  const std::string pattern(ToString(profile.pattern));
  SCOPED_TRACE(profile.name + " / " + pattern + " / rename " +
               std::string(ToString(profile.rename)));
  Fixture fx;
  Observer obs;
  fx.WatchAll(&obs);
  RunOptions options;
  options.target = fx.target.string();
  options.manifest = fx.manifest.string();
  options.pace_files_per_s = 0;
  options.seed = 0x5EED;
  options.processes = processes;
  options.files_per_process = 2;
  RunStats stats;
  Status run = RunDrill(profile, options, &stats);
  EXPECT_TRUE(run.ok()) << run.ToString();
  const std::vector<Event> events = obs.Drain();
  std::vector<json> runs = ManifestEntries(fx.manifest, "run");
  EXPECT_EQ(runs.size(), 1u);
  if (runs.empty()) return result;
  const uint64_t run_seed = std::stoull(runs[0].value("seed", "0"));

  std::set<std::string> attacked;
  int first_data_event = static_cast<int>(events.size()), last_data_event = -1;
  for (const json& e : ManifestEntries(fx.manifest, "file")) {
    const std::string rel = e.value("path", ""), new_rel = e.value("new_path", "");
    const std::string name = Base(rel), new_name = Base(new_rel);
    SCOPED_TRACE(rel);
    attacked.insert(rel);
    result.pids.insert(e.value("pid", int64_t{0}));
    const std::string& original = fx.originals[rel];
    const uint64_t seed = std::stoull(e.value("seed", "0"));
    // Name: the profile's extension rule.
    std::string expected_name = TransformName(profile, name, run_seed);
    const bool new_file = profile.pattern == WritePattern::kNewFileUnlink ||
                          profile.pattern == WritePattern::kNewFileKeep;
    if (profile.rename == RenameWhen::kNone && !new_file) expected_name = name;
    if (expected_name == name && new_file) expected_name += ".drill";
    EXPECT_EQ(new_name, expected_name);
    EXPECT_EQ(Dir(new_rel), Dir(rel));
    // Bytes: exactly the pure transformation, i.e. the layout's ranges, cipher and footer.
    const std::string now = ReadFile(fx.target / new_rel);
    StatusOr<std::string> expected = TransformContent(profile, original, seed, name);
    if (!expected.ok()) {
      ADD_FAILURE() << expected.status().ToString();
      continue;
    }
    EXPECT_TRUE(now == *expected) << "content differs from TransformContent";
    const std::vector<ByteRange> layout = LayoutRanges(profile, original.size(), name);
    json layout_json = json::array();
    for (const auto& r : layout) layout_json.push_back({r.offset, r.length});
    EXPECT_EQ(e["ranges"], layout_json) << "manifest ranges differ from the layout";
    const bool whole = profile.encoding != Encoding::kNone ||
                       profile.container != Container::kNone ||
                       profile.pattern == WritePattern::kNewFileUnlink ||
                       profile.pattern == WritePattern::kNewFileKeep ||
                       profile.pattern == WritePattern::kNewFileRenameOver;
    if (!whole) {
      if (now.size() != original.size() + FooterSize(profile, original.size(), name)) {
        ADD_FAILURE() << "size " << now.size();
        continue;
      }
      uint64_t cursor = 0, changed = 0, inside = 0;
      for (const auto& r : layout) {
        EXPECT_EQ(now.compare(cursor, r.offset - cursor, original, cursor, r.offset - cursor), 0)
            << "bytes before " << r.offset << " changed";
        for (uint64_t i = r.offset; i < r.end(); ++i) changed += now[i] != original[i];
        inside += r.length;
        cursor = r.end();
      }
      EXPECT_EQ(
          now.compare(cursor, original.size() - cursor, original, cursor, original.size() - cursor),
          0)
          << "bytes after the last range changed";
      if (inside >= 64) EXPECT_GT(changed, inside * 9 / 10);
    }
    // Write pattern, observed.
    const std::string stage_name = fs::path(e.value("stage", "")).filename().string();
    const bool same_inode = Inode(fx.target / new_rel) == fx.inodes[rel];
    const bool old_exists = new_rel != rel && fs::exists(fx.target / rel);
    bool rename_before_write = false;
    std::string observed = ObservedPattern(events, Dir(rel), name, new_name, stage_name, same_inode,
                                           old_exists, &rename_before_write);
    const bool footer = FooterSize(profile, original.size(), name) > 0;
    if (profile.pattern == WritePattern::kMmap && footer && observed == "pwrite") {
      observed = "mmap";  // the footer append raises IN_MODIFY; the data went through the map
    }
    EXPECT_EQ(observed, pattern);
    if (profile.pattern == WritePattern::kNewFileKeep) {
      EXPECT_TRUE(ReadFile(fx.target / rel) == original) << "original must be kept";
    }
    // Opened for writing (IN_CLOSE_WRITE) only when it is changed in place; class C tools read
    // the original and write another file.
    bool original_closed_write = false, original_closed_read = false, closed_write = false;
    for (const Event& ev : events) {
      if (ev.dir != Dir(rel) || (ev.name != name && ev.name != new_name)) continue;
      closed_write |= (ev.mask & IN_CLOSE_WRITE) != 0;  // under either name (rename first)
      if (ev.name != name) continue;
      original_closed_write |= (ev.mask & IN_CLOSE_WRITE) != 0;
      original_closed_read |= (ev.mask & IN_CLOSE_NOWRITE) != 0;
    }
    if (new_file || profile.pattern == WritePattern::kNewFileRenameOver) {
      EXPECT_FALSE(original_closed_write) << "class C: the original was opened for writing";
      EXPECT_TRUE(original_closed_read) << "class C: the original was not read";
    } else if (profile.pattern != WritePattern::kMoveOutBack) {
      EXPECT_TRUE(closed_write) << "in place: the file was not opened for writing";
    }
    if ((profile.pattern == WritePattern::kPwrite || profile.pattern == WritePattern::kMmap) &&
        new_name != name && !original.empty()) {
      const bool first = profile.rename == RenameWhen::kFirst;
      if (profile.pattern == WritePattern::kPwrite) {
        EXPECT_EQ(rename_before_write, first) << "rename order";
      }
    }
    for (int i = 0; i < static_cast<int>(events.size()); ++i) {
      if (events[i].dir == Dir(rel) && (events[i].name == name || events[i].name == new_name)) {
        first_data_event = std::min(first_data_event, i);
        last_data_event = std::max(last_data_event, i);
      }
    }
  }
  result.attacked = static_cast<int>(attacked.size());
  // Files not attacked are untouched.
  for (const auto& [rel, content] : fx.originals) {
    if (attacked.count(rel) == 0) {
      EXPECT_TRUE(ReadFile(fx.target / rel) == content) << "not attacked yet changed: " << rel;
    }
  }
  // Note: name, content, placement, before/after the files.
  if (profile.note.placement != NotePlacement::kNone) {
    const std::string note = NoteName(profile, run_seed);
    EXPECT_TRUE(ReadFile(fx.target / note) == profile.note.content) << "note " << note;
    const bool everywhere = profile.note.placement == NotePlacement::kEveryDir;
    EXPECT_EQ(fs::exists(fx.target / "sub" / note), everywhere && profile.recursive);
    int created = -1;
    for (int i = 0; i < static_cast<int>(events.size()); ++i) {
      if (events[i].dir.empty() && events[i].name == note && (events[i].mask & IN_CREATE)) {
        created = i;
      }
    }
    EXPECT_GE(created, 0);
    if (created >= 0 && last_data_event >= 0) {
      if (profile.note.before) {
        EXPECT_LT(created, first_data_event) << "note must come before the files";
      } else {
        EXPECT_GT(created, last_data_event) << "note must come after the files";
      }
    }
  }
  std::string report;
  Status undo = Undo(fx.manifest.string(), &report);
  EXPECT_TRUE(undo.ok()) << undo.ToString() << " " << report;
  fx.ExpectRestored();
  return result;
}

TEST(DrillObserved, EveryProfileBytesNamesNotesAndWritePattern) {
  for (const auto& name : ListProfiles()) {
    StatusOr<Profile> profile = LoadProfile(name);
    ASSERT_TRUE(profile.ok()) << name;
    RunResult r = ObserveRun(*profile);
    EXPECT_GE(r.attacked, 1) << name << " attacked nothing";
  }
}

TEST(DrillObserved, EveryWritePatternOverride) {
  for (const char* family : {"blackcat-full", "lockbit2", "play"}) {
    StatusOr<Profile> profile = LoadProfile(family);
    ASSERT_TRUE(profile.ok());
    for (const char* pattern : {"pwrite", "mmap", "new-file-unlink", "new-file-keep",
                                "move-out-back", "new-file-rename-over"}) {
      ObserveRun(*profile, pattern);
    }
  }
}

// `steen drill --rename first|last|none` sets Profile::rename: the order of the rename and the
// first write is observed (pwrite), none keeps the name (in place and moved out and back), and
// worker processes get the override too (it is not in the profile's text).
TEST(DrillObserved, RenameOverride) {
  for (const char* family : {"play", "lockbit2"}) {
    StatusOr<Profile> profile = LoadProfile(family);
    ASSERT_TRUE(profile.ok());
    for (RenameWhen when : {RenameWhen::kFirst, RenameWhen::kLast, RenameWhen::kNone}) {
      Profile p = *profile;
      p.rename = when;
      EXPECT_GE(ObserveRun(p).attacked, 1);
      ObserveRun(p, "move-out-back");
      ObserveRun(p, "new-file-unlink");       // none: the ciphertext still goes to the new name
      ObserveRun(p, "new-file-rename-over");  // none: the ciphertext takes the original's name
      RunResult workers = ObserveRun(p, {}, /*processes=*/3);
      EXPECT_GE(workers.pids.size(), 2u);
    }
  }
}

TEST(DrillObserved, BuiltinsCoverEveryWritePattern) {
  std::set<std::string> patterns;
  for (const auto& name : ListProfiles()) {
    patterns.insert(std::string(ToString(LoadProfile(name)->pattern)));
  }
  EXPECT_EQ(patterns, (std::set<std::string>{"pwrite", "mmap", "new-file-unlink", "new-file-keep",
                                             "move-out-back", "new-file-rename-over"}));
}

}  // namespace
}  // namespace steen::drill

namespace steen::drill {
namespace {

std::string SelfExe() {
  char buf[4096] = {};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : "";
}

// --processes: fresh execs of /proc/self/exe (this test binary; see worker_hook.cc) each log to
// their own manifest part; the writes are observed like any run and undo reads the parts.
TEST(DrillProcesses, WorkersAreFreshExecsAndUndoReadsTheirParts) {
  StatusOr<Profile> profile = LoadProfile("conti");
  ASSERT_TRUE(profile.ok());
  RunResult r = ObserveRun(*profile, {}, /*processes=*/3);  // 2 files per worker
  EXPECT_GE(r.attacked, 5);
  EXPECT_GE(r.pids.size(), 3u) << "files were not spread over worker processes";
  EXPECT_EQ(r.pids.count(getpid()), 0u) << "the parent attacked files itself";
}

TEST(DrillProcesses, WorkerHeadersNameTheirParentAndExecutable) {
  Fixture fx;
  StatusOr<Profile> profile = LoadProfile("blackcat-full");
  ASSERT_TRUE(profile.ok());
  RunOptions options;
  options.target = fx.target.string();
  options.manifest = fx.manifest.string();
  options.pace_files_per_s = 0;
  options.processes = 2;
  options.files_per_process = 1;
  RunStats stats;
  ASSERT_TRUE(RunDrill(*profile, options, &stats).ok());
  EXPECT_EQ(stats.files_attacked, fx.originals.size());
  std::vector<json> workers = ManifestEntries(fx.manifest, "worker");
  EXPECT_EQ(workers.size(), fx.originals.size());  // one process per file
  std::set<int64_t> pids;
  for (const json& w : workers) {
    pids.insert(w.value("pid", int64_t{0}));
    EXPECT_EQ(w.value("ppid", int64_t{0}), getpid());
    EXPECT_EQ(w.value("exe", ""), SelfExe());
  }
  EXPECT_EQ(pids.size(), workers.size());
  std::vector<json> exits = ManifestEntries(fx.manifest, "worker-exit");
  EXPECT_EQ(exits.size(), workers.size());
  for (const json& e : exits) EXPECT_TRUE(pids.count(e.value("pid", int64_t{0}))) << e.dump();
  std::string report;
  EXPECT_TRUE(Undo(fx.manifest.string(), &report).ok()) << report;
  fx.ExpectRestored();
}

// A worker killed mid-run: the run reports the failure, and undo still restores everything.
TEST(DrillProcesses, KilledWorkerIsUndoable) {
  Fixture fx;
  for (int i = 0; i < 14; ++i) {
    std::string rel = "bulk" + std::to_string(i) + ".txt";
    WriteFile(fx.target / rel, RandomBytes(3000 + i, 100 + i));
    fx.originals[rel] = ReadFile(fx.target / rel);
  }
  StatusOr<Profile> profile = LoadProfile("lockbit2");  // rename first: the harder case
  ASSERT_TRUE(profile.ok());
  RunOptions options;
  options.target = fx.target.string();
  options.manifest = fx.manifest.string();
  options.pace_files_per_s = 20;
  options.processes = 2;
  options.files_per_process = 10;
  RunStats stats;
  Status run;
  std::thread drill([&] { run = RunDrill(*profile, options, &stats); });
  int64_t victim = 0;
  for (int tries = 0; tries < 200 && victim == 0; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::vector<json> workers = ManifestEntries(fx.manifest, "worker");
    if (!workers.empty() && !ManifestEntries(fx.manifest, "file").empty()) {
      victim = workers[0].value("pid", int64_t{0});
    }
  }
  ASSERT_GT(victim, 1);
  kill(static_cast<pid_t>(victim), SIGKILL);  // a process this test started
  drill.join();
  EXPECT_FALSE(run.ok()) << "a killed worker must be reported";
  std::string report;
  EXPECT_TRUE(Undo(fx.manifest.string(), &report).ok()) << report;
  fx.ExpectRestored();
}

// --avoid-decoys skips hidden, freshly created and never-read files, and nothing else.
TEST(DrillDecoys, AvoidDecoysSkipsHiddenFreshAndUnreadFiles) {
  TempDir tmp;
  fs::path target = tmp.path() / "t";
  std::string report;
  ASSERT_TRUE(InitTarget({target.string(), 0, ""}, &report).ok());
  auto make = [&](const std::string& name, bool read_after_write) {
    WriteFile(target / name, RandomBytes(2000, static_cast<uint32_t>(name.size())));
    const int64_t now = time(nullptr);
    // atime after mtime = read since written; atime == mtime = never read.
    struct timespec times[2] = {{now - 100, 0}, {now - 1000, 0}};
    if (!read_after_write) times[0] = times[1];
    ASSERT_EQ(utimensat(AT_FDCWD, (target / name).c_str(), times, 0), 0);
  };
  make("real1.docx", true);
  make("real2.txt", true);
  make(".canary.docx", true);
  make("unread.xlsx", false);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  make("fresh.pdf", true);  // created just now
  StatusOr<Profile> profile = LoadProfile("blackcat-full");
  ASSERT_TRUE(profile.ok());
  auto attacked = [&](bool avoid, const std::string& manifest) {
    RunOptions options;
    options.target = target.string();
    options.manifest = (tmp.path() / manifest).string();
    options.pace_files_per_s = 0;
    options.avoid_decoys = avoid;
    options.decoy_age_s = 1;
    RunStats stats;
    EXPECT_TRUE(RunDrill(*profile, options, &stats).ok());
    std::set<std::string> names;
    for (const json& e : ManifestEntries(options.manifest, "file")) names.insert(e["path"]);
    std::string undo_report;
    EXPECT_TRUE(Undo(options.manifest, &undo_report).ok()) << undo_report;
    return names;
  };
  EXPECT_EQ(attacked(true, "a.jsonl"), (std::set<std::string>{"real1.docx", "real2.txt"}));
  EXPECT_EQ(attacked(false, "b.jsonl"),
            (std::set<std::string>{"real1.docx", "real2.txt", ".canary.docx", "unread.xlsx",
                                   "fresh.pdf"}));
}

TEST(DrillBudgets, FileAndByteBudgetsStopTheRun) {
  StatusOr<Profile> profile = LoadProfile("blackcat-full");
  ASSERT_TRUE(profile.ok());
  for (int mode = 0; mode < 2; ++mode) {
    Fixture fx;
    RunOptions options;
    options.target = fx.target.string();
    options.manifest = fx.manifest.string();
    options.pace_files_per_s = 0;
    if (mode == 0) options.max_files = 3;
    if (mode == 1) options.max_bytes = 90000;  // 70,001 + 5,000 + 9,000 fit; more do not
    RunStats stats;
    ASSERT_TRUE(RunDrill(*profile, options, &stats).ok());
    uint64_t bytes = 0;
    std::vector<json> files = ManifestEntries(fx.manifest, "file");
    for (const json& e : files) bytes += e.value("size", 0ULL);
    if (mode == 0) EXPECT_EQ(files.size(), 3u);
    if (mode == 1) {
      EXPECT_LE(bytes, 90000u);
      EXPECT_GE(files.size(), 2u);
      EXPECT_LT(files.size(), fx.originals.size());
    }
    std::string report;
    EXPECT_TRUE(Undo(fx.manifest.string(), &report).ok()) << report;
    fx.ExpectRestored();
  }
}

TEST(DrillRefusals, MarkerRootHomeAndSymlinks) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "plain");
  EXPECT_EQ(CheckTarget((tmp.path() / "plain").string()).code(),
            Status::Code::kPermissionDenied);  // no marker
  EXPECT_EQ(CheckTarget("/").code(), Status::Code::kPermissionDenied);
  EXPECT_FALSE(CheckTarget("/root").ok());
  // A marked folder that is $HOME is still refused.
  fs::path home = tmp.path() / "home";
  std::string report;
  ASSERT_TRUE(InitTarget({home.string(), 0, ""}, &report).ok());
  EXPECT_TRUE(CheckTarget(home.string()).ok());
  const char* old_home = getenv("HOME");
  std::string saved = old_home ? old_home : "";
  setenv("HOME", home.c_str(), 1);
  Status refused = CheckTarget(home.string());
  if (old_home)
    setenv("HOME", saved.c_str(), 1);
  else
    unsetenv("HOME");
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied) << refused.ToString();

  // Symlinks out of the target are neither followed nor touched.
  Fixture fx;
  fs::create_directories(fx.tmp.path() / "outside");
  WriteFile(fx.tmp.path() / "outside" / "victim.docx", "secret");
  fs::create_symlink(fx.tmp.path() / "outside" / "victim.docx", fx.target / "link.docx");
  fs::create_directory_symlink(fx.tmp.path() / "outside", fx.target / "linkdir");
  StatusOr<Profile> profile = LoadProfile("play");
  ASSERT_TRUE(profile.ok());
  RunOptions options;
  options.target = fx.target.string();
  options.manifest = fx.manifest.string();
  options.pace_files_per_s = 0;
  RunStats stats;
  ASSERT_TRUE(RunDrill(*profile, options, &stats).ok());
  EXPECT_EQ(ReadFile(fx.tmp.path() / "outside" / "victim.docx"), "secret");
  EXPECT_TRUE(fs::is_symlink(fx.target / "link.docx"));
  EXPECT_TRUE(fs::is_symlink(fx.target / "linkdir"));
  EXPECT_EQ(
      std::distance(fs::directory_iterator(fx.tmp.path() / "outside"), fs::directory_iterator()),
      1);
  for (const json& e : ManifestEntries(fx.manifest, "file")) {
    EXPECT_NE(e.value("path", ""), "link.docx");
  }
  ASSERT_TRUE(Undo(fx.manifest.string(), &report).ok()) << report;
}

TEST(DrillPopulate, PicksTypesRoundRobinAndSpreadsEachType) {
  std::vector<std::string> candidates;
  for (int i = 0; i < 50; ++i) candidates.push_back("/c/img/" + std::to_string(100 + i) + ".png");
  for (int i = 0; i < 3; ++i) candidates.push_back("/c/doc/" + std::to_string(i) + ".PDF");
  candidates.push_back("/c/doc/README");
  std::vector<std::string> picked = PickMixedFiles(candidates, 6);
  ASSERT_EQ(picked.size(), 6u);
  EXPECT_EQ(fs::path(picked[0]).extension(), ".png");
  std::map<std::string, int> by_ext;
  for (const auto& p : picked) ++by_ext[fs::path(p).extension().string()];
  // Round-robin over ".png", ".pdf" (grouped case-insensitively), "" (largest first): the
  // extension-less group runs out after one round.
  EXPECT_EQ(by_ext[".png"], 3);
  EXPECT_EQ(by_ext[".PDF"], 2);
  EXPECT_EQ(by_ext[""], 1);
  EXPECT_EQ(std::set<std::string>(picked.begin(), picked.end()).size(), picked.size());
  // A type is sampled across its list, not from its first folder only; the choice is repeatable.
  EXPECT_EQ(std::count(picked.begin(), picked.end(), "/c/img/101.png"), 0);
  EXPECT_EQ(picked, PickMixedFiles(candidates, 6));
}

TEST(DrillPopulate, CopiesMixedRealFilesKeepingFolders) {
  TempDir tmp;
  fs::path corpus = tmp.path() / "corpus";
  for (const char* dir : {"a/deep", "b", ".hidden"}) fs::create_directories(corpus / dir);
  for (int i = 0; i < 20; ++i) WriteFile(corpus / "a" / ("p" + std::to_string(i) + ".png"), "png");
  WriteFile(corpus / "a" / "deep" / "x.pdf", "pdf");
  WriteFile(corpus / "b" / "y.txt", "txt");
  WriteFile(corpus / "b" / "empty.doc", "");
  WriteFile(corpus / ".hidden" / "z.odt", "odt");
  fs::create_symlink("/etc/hostname", corpus / "b" / "link.conf");
  fs::path target = tmp.path() / "target";
  std::string report;
  ASSERT_TRUE(InitTarget({target.string(), 5, corpus.string()}, &report).ok()) << report;
  EXPECT_NE(report.find("5 files copied"), std::string::npos) << report;
  EXPECT_EQ(ReadFile(target / "a" / "deep" / "x.pdf"), "pdf");
  EXPECT_EQ(ReadFile(target / "b" / "y.txt"), "txt");
  EXPECT_FALSE(fs::exists(target / "b" / "empty.doc"));  // empty files are not a sample
  EXPECT_FALSE(fs::exists(target / ".hidden"));          // hidden: looks planted
  EXPECT_FALSE(fs::exists(target / "b" / "link.conf"));  // symlinks are not copied
  int pngs = 0;
  for (const auto& e : fs::recursive_directory_iterator(target)) {
    pngs += e.path().extension() == ".png";
  }
  EXPECT_EQ(pngs, 3);
  // A corpus that holds the target, or does not exist, is refused.
  EXPECT_FALSE(InitTarget({(corpus / "a" / "t").string(), 1, corpus.string()}, &report).ok());
  EXPECT_EQ(InitTarget({target.string(), 1, (tmp.path() / "nope").string()}, &report).code(),
            Status::Code::kNotFound);
}

// With no corpus named, real files Debian packages installed are copied (/usr/share).
TEST(DrillPopulate, DefaultCorpusIsTheSystemsSharedFiles) {
  TempDir tmp;
  fs::path target = tmp.path() / "target";
  std::string report;
  ASSERT_TRUE(InitTarget({target.string(), 40, ""}, &report).ok()) << report;
  EXPECT_NE(report.find("40 files copied from /usr/share"), std::string::npos) << report;
  std::set<std::string> extensions;
  for (const auto& e : fs::recursive_directory_iterator(target)) {
    if (e.is_regular_file() && e.path().filename() != std::string(kTargetMarkerName)) {
      extensions.insert(e.path().extension().string());
    }
  }
  EXPECT_GE(extensions.size(), 10u) << "types are not mixed";
}

TEST(DrillRefusals, MountPoint) {
  TempDir tmp;
  fs::path mnt = tmp.path() / "mnt";
  fs::create_directories(mnt);
  if (mount("steen-drill-test", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << strerror(errno);
  }
  WriteFile(mnt / std::string(kTargetMarkerName), "marker\n");
  WriteFile(mnt / "a.docx", "data");
  Status s = CheckTarget(mnt.string());
  std::string report;
  Status init = InitTarget({mnt.string(), 0, ""}, &report);
  EXPECT_EQ(umount(mnt.c_str()), 0);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
  EXPECT_NE(s.ToString().find("mount point"), std::string::npos) << s.ToString();
  EXPECT_FALSE(init.ok());
}

// Play leaves files that already end with its footer alone (it checks the last 0x428 bytes).
TEST(DrillPlay, FilesWithAPlayFooterAreSkipped) {
  Fixture fx;
  StatusOr<Profile> profile = LoadProfile("play");
  ASSERT_TRUE(profile.ok());
  std::string once = *TransformContent(*profile, fx.originals["notes.txt"], 1, "notes.txt");
  WriteFile(fx.target / "notes.txt", once);
  RunOptions options;
  options.target = fx.target.string();
  options.manifest = fx.manifest.string();
  options.pace_files_per_s = 0;
  RunStats stats;
  ASSERT_TRUE(RunDrill(*profile, options, &stats).ok());
  EXPECT_TRUE(fs::exists(fx.target / "notes.txt"));
  EXPECT_FALSE(fs::exists(fx.target / "notes.txt.PLAY"));
  EXPECT_EQ(ReadFile(fx.target / "notes.txt"), once);
  EXPECT_TRUE(fs::exists(fx.target / "report.docx.PLAY"));
  std::string report;
  ASSERT_TRUE(Undo(fx.manifest.string(), &report).ok()) << report;
}

}  // namespace
}  // namespace steen::drill
