// Every attack style of the drill profiles, replayed as event streams at 1, 30 and 300 files/s,
// by one process, by 16 short-lived workers under one parent, and through an SMB client whose
// smbd pid changes: the detector must alert after at most 10 damaged files (median at most 3).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "steen/detect.h"
#include "unit/detect/stream.h"

namespace steen {
namespace {

using detect_test::Damaged;
using detect_test::Empty;
using detect_test::Intact;
using detect_test::kSecond;
using detect_test::MakeActor;
using detect_test::SmbdActor;
using detect_test::Stream;
using detect_test::Unknown;

enum class Style {
  kInPlace,             // read, overwrite in place (optionally rename after): Play, Babuk, Akira...
  kIntermittentMissed,  // verdict not damaged, but random blocks appeared
  kRenameFirst,         // rename to the new name first, then overwrite (LockBit 2/3, BlackMatter)
  kNewPlusUnlink,       // new file named after the original + unlink original (ccrypt -T, hex)
  kNewRandomName,       // new file with an unrelated name + unlink original (size matches)
  kNewRandomNameClosedLast,  // the same, the original closed after its unlink (event order)
  kCliContainer,             // `gpg -c x` / `7z a -p` / `openssl enc` then `rm x`: two processes
  kMoveOutAndBack,           // rename out of the folder, overwrite, rename back under a new name
};

struct Family {
  std::string name;
  Style style;
  ContentView after;       // what the content engine says about the damaged bytes
  std::string rename_ext;  // "" = no rename
  std::string note;        // "" = no note
  bool note_every_folder = true;
};

std::vector<Family> Families() {
  using DK = DamageKind;
  return {
      {"play", Style::kInPlace, Damaged(DK::kEncrypted), "PLAY", "ReadMe.txt", false},
      {"lockbit3", Style::kRenameFirst, Damaged(DK::kPartiallyEncrypted, 0.5), "HLJkNskOq",
       "HLJkNskOq.README.txt"},
      {"black-basta", Style::kInPlace, Damaged(DK::kPartiallyEncrypted, 0.3), "sah28vut5",
       "instructions_read_me.txt"},
      {"blackcat", Style::kInPlace, Damaged(DK::kPartiallyEncrypted, 0.4), "kh1ftzx",
       "RECOVER-kh1ftzx-FILES.txt"},
      {"babuk", Style::kInPlace, Damaged(DK::kEncrypted), "babyk", "How To Restore Your Files.txt"},
      {"akira", Style::kInPlace, Damaged(DK::kPartiallyEncrypted, 0.5), "akira",
       "akira_readme.txt"},
      {"hunters-header-kept", Style::kInPlace, Damaged(DK::kPartiallyEncrypted, 0.9), "locked", ""},
      {"royal", Style::kInPlace, Damaged(DK::kPartiallyEncrypted, 0.5), "royal", "README.TXT"},
      {"lockfile-mmap-16-16", Style::kInPlace, Damaged(DK::kPartiallyEncrypted, 0.0), "lockfile",
       "LOCKFILE-README-srv.hta"},
      {"lockfile-missed-by-verdict", Style::kIntermittentMissed, Unknown("docx", 0.75), "", ""},
      {"intermittent-with-ext", Style::kIntermittentMissed, Unknown("pdf", 0.6), "enc", ""},
      {"infection-monkey", Style::kInPlace, Damaged(DK::kBitTransformed, 0.0), "m0nk3y",
       "README.txt", false},
      {"base64-in-place", Style::kInPlace, Damaged(DK::kEncodedCiphertext, 0.0), "b64", ""},
      {"hex-new-file", Style::kNewPlusUnlink, Damaged(DK::kEncodedCiphertext, 0.0), "hex", ""},
      {"azov-wiper", Style::kInPlace, Damaged(DK::kOverwritten, 0.5), "", "RESTORE_FILES.txt"},
      {"gpg-cli", Style::kCliContainer, Intact("openpgp", 1.0), "gpg", ""},
      {"7z-cli", Style::kCliContainer, Intact("7z", 1.0), "7z", ""},
      {"openssl-cli", Style::kCliContainer, Intact("openssl-enc", 1.0), "enc", ""},
      {"ccrypt-T", Style::kNewPlusUnlink, Damaged(DK::kEncrypted), "cpt", ""},
      {"ccrypt-in-place", Style::kInPlace, Damaged(DK::kEncrypted), "cpt", ""},
      {"lockbit2-rename-first", Style::kRenameFirst, Damaged(DK::kPartiallyEncrypted, 0.1),
       "lockbit", "Restore-My-Files.txt"},
      {"new-file-random-name", Style::kNewRandomName, Damaged(DK::kEncrypted), "", ""},
      {"new-file-random-name-closed-last", Style::kNewRandomNameClosedLast, Damaged(DK::kEncrypted),
       "", ""},
      {"move-out-and-back", Style::kMoveOutAndBack, Damaged(DK::kEncrypted), "moved", ""},
  };
}

enum class Mode { kOneProcess, kSixteenWorkers, kSmbClient };

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kOneProcess:
      return "one-process";
    case Mode::kSixteenWorkers:
      return "16-workers";
    case Mode::kSmbClient:
      return "smb-client";
  }
  return "";
}

struct Format {
  std::string format;
  std::string ext;
};
const std::vector<Format> kFormats = {{"docx", "docx"}, {"pdf", "pdf"}, {"jpeg", "jpg"},
                                      {"xlsx", "xlsx"}, {"png", "png"}, {"mp4", "mp4"}};

// The process doing step `step` (0: main work, 1: helper such as rm) on file i.
Actor ActorFor(Mode mode, int i, int step) {
  switch (mode) {
    case Mode::kOneProcess:
      // CLI styles run one gpg and one rm per file from a script: fresh pids, one parent.
      return step == 0 ? MakeActor(4242, 4000)
                       : MakeActor(20000 + i, 4242, 3000, 1000, "alice", "/usr/bin/rm");
    case Mode::kSixteenWorkers: {
      // Each file by a fresh short-lived worker (pids never repeat), all children of 5000.
      Actor worker = MakeActor(6000 + 2 * i + step, 5000);
      return worker;
    }
    case Mode::kSmbClient:
      return SmbdActor(7000 + i / 2);  // the client reconnects every 2 files
  }
  return MakeActor(1);
}

struct Outcome {
  int files_at_alert = -1;
  std::vector<Alert> alerts;
};

// Runs the attack on up to `files` files and returns after the first alert.
Outcome RunAttack(const Family& family, double files_per_s, Mode mode, int files = 40) {
  Detector detector;
  Stream s(detector);
  const uint64_t step_ns = static_cast<uint64_t>(kSecond / files_per_s);
  std::map<std::string, bool> noted;
  uint64_t next_inode = 90000;
  for (int i = 0; i < files; ++i) {
    const Format& fmt = kFormats[i % kFormats.size()];
    const std::string folder =
        "/srv/share/dept" + std::to_string(i % 8) + "/sub" + std::to_string((i / 8) % 3);
    const std::string path = folder + "/file" + std::to_string(i) + "." + fmt.ext;
    const uint64_t inode = 10000 + i;
    const uint64_t size = 200000 + 1000 * i;
    const Actor actor = ActorFor(mode, i, 0);
    const Actor helper = mode == Mode::kSmbClient ? actor : ActorFor(mode, i, 1);

    if (!family.note.empty() && (family.note_every_folder ? !noted[folder] : i == 0)) {
      const std::string note_folder = family.note_every_folder ? folder : "/srv/share";
      noted[folder] = true;
      s.WriteNew(actor, note_folder + "/" + family.note, next_inode++, Intact("text", 0), 900);
    }
    const std::string renamed = path + (family.rename_ext.empty() ? "" : "." + family.rename_ext);
    switch (family.style) {
      case Style::kInPlace:
        s.Read(actor, path, inode, size);
        s.Write(actor, path, inode, Intact(fmt.format, 0.05), family.after, size + 534);
        if (renamed != path) s.Rename(actor, path, renamed, inode);
        break;
      case Style::kIntermittentMissed:
        s.Write(actor, path, inode, Intact(family.after.format, 0.1), family.after, size);
        if (renamed != path) s.Rename(actor, path, renamed, inode);
        break;
      case Style::kRenameFirst: {
        // LockBit 3 replaces the whole name; LockBit 2 appends.
        const std::string target =
            family.name == "lockbit3"
                ? folder + "/R" + std::to_string(i * 7919 % 100000) + "." + family.rename_ext
                : renamed;
        s.Rename(actor, path, target, inode);
        s.Write(actor, target, inode, Intact(fmt.format, 0.05), family.after, size + 132);
        break;
      }
      case Style::kNewPlusUnlink:
        s.Create(actor, renamed, 50000 + i);
        s.Read(actor, path, inode, size);
        s.Write(actor, renamed, 50000 + i, Empty(), family.after, size * 2);
        s.Delete(actor, path, inode, size);
        break;
      case Style::kNewRandomName: {
        const std::string target = folder + "/" + std::to_string(i * 104729 % 1000003) + ".x";
        s.Read(actor, path, inode, size);
        s.WriteNew(actor, target, 50000 + i, family.after, size + 16);
        s.Delete(actor, path, inode, size);
        break;
      }
      case Style::kNewRandomNameClosedLast: {
        // read, write the copy, unlink, close: the read's close arrives after the delete, and
        // the kernel names an unlinked file "PATH (deleted)".
        const std::string target = folder + "/" + std::to_string(i * 104729 % 1000003) + ".x";
        s.WriteNew(actor, target, 50000 + i, family.after, size + 736);
        s.Delete(actor, path, inode, size);
        s.Read(actor, path + " (deleted)", inode, size);
        break;
      }
      case Style::kCliContainer:
        s.Read(actor, path, inode, size);
        s.WriteNew(actor, renamed, 50000 + i, family.after, size / 2);
        s.Delete(helper, path, inode, size);
        break;
      case Style::kMoveOutAndBack: {
        const std::string out = "/srv/share/.stage/t" + std::to_string(i);
        s.Rename(actor, path, out, inode);
        s.Write(actor, out, inode, Intact(fmt.format, 0.05), family.after, size);
        s.Rename(actor, out, renamed, inode);
        break;
      }
    }
    s.Advance(step_ns);
    if (!s.alerts().empty()) return Outcome{i + 1, s.alerts()};
  }
  return Outcome{-1, s.alerts()};
}

TEST(DetectAttacks, EveryProfileEveryRateEveryModeAlertsWithinTenFiles) {
  std::vector<int> all;
  std::string summary;
  for (const Family& family : Families()) {
    for (double rate : {1.0, 30.0, 300.0}) {
      for (Mode mode : {Mode::kOneProcess, Mode::kSixteenWorkers, Mode::kSmbClient}) {
        const Outcome outcome = RunAttack(family, rate, mode);
        SCOPED_TRACE(family.name + " at " + std::to_string(rate) + " files/s, " + ModeName(mode));
        ASSERT_NE(outcome.files_at_alert, -1) << "no alert after 40 files";
        EXPECT_LE(outcome.files_at_alert, 10);
        all.push_back(outcome.files_at_alert);
        summary += family.name + "@" + std::to_string(static_cast<int>(rate)) + "/" +
                   ModeName(mode) + "=" + std::to_string(outcome.files_at_alert) + " ";
        // The alert names an actor scope that fits the mode.
        const Alert& alert = outcome.alerts.front();
        if (mode == Mode::kSmbClient) {
          EXPECT_TRUE(alert.scope == ActorScope::kSmbClient || alert.scope == ActorScope::kProcess)
              << ToString(alert.scope);
          EXPECT_EQ(alert.actor.smb_client_address, "198.18.0.2");
        }
        if (mode == Mode::kSixteenWorkers) {
          EXPECT_EQ(alert.scope, ActorScope::kProcessTree) << alert.message;
          EXPECT_EQ(alert.scope_key, "5000");
        }
        EXPECT_FALSE(alert.indicators.empty());
        EXPECT_FALSE(alert.files.empty());
        EXPECT_FALSE(alert.message.empty());
        EXPECT_EQ(alert.rule_name, "ransomware-encryption");
      }
    }
  }
  std::sort(all.begin(), all.end());
  ASSERT_FALSE(all.empty());
  EXPECT_LE(all[all.size() / 2], 3) << "median files before the alert";
  std::printf("files damaged when the first alert fired: %s\n", summary.c_str());
}

TEST(DetectAttacks, PlainInPlaceEncryptionAlertsByTheThirdFile) {
  for (const Family& family : Families()) {
    if (family.style != Style::kInPlace) continue;
    for (Mode mode : {Mode::kOneProcess, Mode::kSixteenWorkers, Mode::kSmbClient}) {
      SCOPED_TRACE(family.name + ", " + ModeName(mode));
      EXPECT_LE(RunAttack(family, 30, mode).files_at_alert, 3);
      EXPECT_GE(RunAttack(family, 30, mode).files_at_alert, 1);
    }
  }
}

TEST(DetectAttacks, AlertExplainsItself) {
  const Family play = Families().front();
  const Outcome outcome = RunAttack(play, 30, Mode::kOneProcess);
  ASSERT_EQ(outcome.alerts.size(), 1u) << "one process: one alert, broader scopes are redundant";
  const Alert& alert = outcome.alerts.front();
  EXPECT_EQ(alert.scope, ActorScope::kProcess);
  EXPECT_EQ(alert.scope_key, "4242");
  EXPECT_EQ(alert.actor.pid, 4242);
  EXPECT_EQ(alert.pids, std::vector<pid_t>{4242});
  EXPECT_EQ(alert.severity, "high");
  EXPECT_GE(alert.score, 100);
  EXPECT_NE(alert.message.find("process 4242 (/usr/bin/locker, user alice) damaged 2 files in 2 "
                               "folders"),
            std::string::npos)
      << alert.message;
  EXPECT_NE(alert.message.find("went from valid docx/pdf to random bytes"), std::string::npos)
      << alert.message;
  EXPECT_NE(alert.message.find("renamed 2 to .play"), std::string::npos) << alert.message;
  bool damaged = false;
  for (const Indicator& indicator : alert.indicators) {
    if (indicator.name == "damaged_files") {
      damaged = true;
      EXPECT_EQ(indicator.count, 2);
    }
  }
  EXPECT_TRUE(damaged);
  EXPECT_EQ(alert.file_count, 2);
  EXPECT_EQ(alert.files.back(), "/srv/share/dept1/sub0/file1.pdf.PLAY");
}

TEST(DetectAttacks, SixteenWorkersAlertOnTheTreeWithTheSpawner) {
  const Family babuk = Families()[4];
  ASSERT_EQ(babuk.name, "babuk");
  Detector detector;
  Stream s(detector);
  for (int i = 0; i < 4; ++i) {
    const Actor worker = MakeActor(6000 + i, 5000);
    const std::string path = "/srv/share/d" + std::to_string(i) + "/f.docx";
    s.Write(worker, path, 100 + i, Intact("docx"), Damaged());
    s.Advance(kSecond / 100);
  }
  // The tree alerts after three workers; the fourth, joining the alerted tree, is named at once.
  ASSERT_EQ(s.alerts().size(), 2u);
  const Alert& alert = s.alerts().front();
  EXPECT_EQ(alert.scope, ActorScope::kProcessTree);
  EXPECT_EQ(alert.scope_key, "5000");
  EXPECT_EQ(alert.pids.size(), 3u);
  EXPECT_EQ(s.alerts().back().scope_key, "5000");
  EXPECT_EQ(s.alerts().back().pids.size(), 4u);
  const ResponseTargets targets =
      detector.Targets(ActorScope::kProcessTree, "5000", ResponsePolicy{});
  EXPECT_EQ(targets.spawner_pid, 5000);
  EXPECT_EQ(targets.processes.size(), 4u);
  EXPECT_NE(alert.message.find("process tree of 5000 (3 processes, user alice)"), std::string::npos)
      << alert.message;
}

// "Naked Sun": every worker a fresh process with no common parent or session (started one by one
// from outside), one file each. The user's scope alerts after a few; every later worker is named
// by an alert after its FIRST damaged file (not when the user's score has doubled), so each can be
// suspended before its second.
TEST(DetectAttacks, WorkersJoiningAnAlertedScopeAreNamedAfterOneFile) {
  Detector detector;
  Stream s(detector);
  auto worker = [](int i) { return MakeActor(8000 + i, 7000 + i, 7000 + i); };
  int i = 0;
  for (; i < 10 && s.alerts().empty(); ++i) {
    s.Write(worker(i), "/srv/share/w" + std::to_string(i) + "/f.docx", 500 + i, Intact("docx"),
            Damaged());
    s.Advance(kSecond / 10);
  }
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_EQ(s.alerts().front().scope, ActorScope::kUser);
  for (int next = i; next < i + 3; ++next) {
    const std::size_t before = s.alerts().size();
    s.Write(worker(next), "/srv/share/w" + std::to_string(next) + "/f.docx", 500 + next,
            Intact("docx"), Damaged());
    ASSERT_EQ(s.alerts().size(), before + 1) << "worker " << next << " not named after one file";
    const Alert& alert = s.alerts().back();
    EXPECT_EQ(alert.scope, ActorScope::kUser);
    EXPECT_NE(std::find(alert.pids.begin(), alert.pids.end(), 8000 + next), alert.pids.end());
    s.Advance(kSecond / 10);
  }
  // A process of the same user that adds no evidence (it only reads) is never a reason to alert.
  const std::size_t before = s.alerts().size();
  s.Read(MakeActor(9000, 9000, 9000), "/srv/share/w0/other.docx", 900, 4096);
  s.Write(MakeActor(9001, 9001, 9001), "/srv/share/w0/notes.txt", 901, Intact("text"),
          Intact("text"));
  EXPECT_EQ(s.alerts().size(), before);
}

// Files an administrator has just restored (or a colleague just uploaded) and a client encrypts a
// moment later are that client's damage, not new files of its own: judged from their content
// before, they make the alert as quickly as old files do.
TEST(DetectAttacks, EncryptingFilesSomebodyElseJustCreatedIsDamage) {
  auto run = [](bool created_by_admin) {
    Detector detector;
    Stream s(detector);
    const Actor admin = MakeActor(300, 1, 300, 0, "root", "/usr/bin/cp");
    int files = 0;
    for (; files < 10 && s.alerts().empty(); ++files) {
      const std::string path = "/srv/share/restored/f" + std::to_string(files) + ".pdf";
      if (created_by_admin) s.Create(admin, path, 700 + files);
      s.Advance(kSecond / 30);
      s.Write(SmbdActor(7100), path, 700 + files, Intact("pdf"), Damaged());
    }
    return std::make_pair(files, s.alerts().empty() ? ActorScope::kUser : s.alerts()[0].scope);
  };
  const auto [old_files, old_scope] = run(false);
  const auto [restored_files, restored_scope] = run(true);
  EXPECT_EQ(restored_files, old_files);
  EXPECT_LE(restored_files, 3);
  EXPECT_EQ(restored_scope, ActorScope::kSmbClient);  // an smbd's client is the actor
}

// Sessions of one client that each damage enough files to alert on their own still make one
// actor: every alert is the client's (one incident), none is a session's or the service's.
TEST(DetectAttacks, SmbSessionsNeverAlertApartFromTheirClient) {
  Detector detector;
  Stream s(detector);
  for (int round = 0; round < 8; ++round) {
    for (int session = 0; session < 4; ++session) {
      Actor smbd = SmbdActor(7200 + session);
      smbd.cgroup = "/system.slice/smbd.service";
      const int file = round * 4 + session;
      s.Write(smbd, "/srv/share/w/f" + std::to_string(file) + ".docx", 400 + file, Intact("docx"),
              Damaged());
    }
  }
  ASSERT_FALSE(s.alerts().empty());
  for (const Alert& alert : s.alerts()) {
    EXPECT_EQ(alert.scope, ActorScope::kSmbClient) << alert.message;
    EXPECT_EQ(alert.scope_key, "198.18.0.2 bob");
  }
  EXPECT_FALSE(detector.Inspect(ActorScope::kProcess, "7200").has_value());
  EXPECT_FALSE(detector.Inspect(ActorScope::kCgroup, "/system.slice/smbd.service").has_value());
}

TEST(DetectAttacks, SmbClientWithChangingSmbdPidsAddsUp) {
  Detector detector;
  Stream s(detector);
  for (int i = 0; i < 3; ++i) {
    s.Write(SmbdActor(7000 + i), "/srv/share/x/f" + std::to_string(i) + ".xlsx", 300 + i,
            Intact("xlsx"), Damaged());
  }
  ASSERT_EQ(s.alerts().size(), 1u);
  const Alert& alert = s.alerts().front();
  EXPECT_EQ(alert.scope, ActorScope::kSmbClient);
  EXPECT_EQ(alert.scope_key, "198.18.0.2 bob");
  EXPECT_EQ(alert.pids.size(), 3u);
  EXPECT_NE(alert.message.find("SMB client 198.18.0.2 bob"), std::string::npos) << alert.message;
  // The main smbd is never offered as a spawner, and there is no tree scope for SMB sessions.
  EXPECT_FALSE(detector.Inspect(ActorScope::kProcessTree, "900").has_value());
}

}  // namespace
}  // namespace steen
