// Mechanics of the detector: canaries, dedup, escalation, redundancy, exclusions, time windows,
// memory caps, response selection.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "steen/detect.h"
#include "steen/limits.h"
#include "unit/detect/stream.h"

namespace steen {
namespace {

using detect_test::Container;
using detect_test::Damaged;
using detect_test::Empty;
using detect_test::Intact;
using detect_test::kSecond;
using detect_test::MakeActor;
using detect_test::SmbdActor;
using detect_test::Stream;

std::string Doc(int i) {
  return "/srv/share/d" + std::to_string(i % 7) + "/f" + std::to_string(i) + ".docx";
}

void Encrypt(Stream& s, const Actor& actor, int i) {
  s.Write(actor, Doc(i), 1000 + i, Intact("docx"), Damaged());
}

TEST(DetectCanary, FirstTouchAlertsAtOnce) {
  for (FileOp op : {FileOp::kOpenForWrite, FileOp::kCloseWrite, FileOp::kRename}) {
    Detector detector;
    Stream s(detector);
    FileEvent event = Stream::Event(MakeActor(4242), op, "/srv/share/.steen-canary.docx", 5);
    event.is_canary = true;
    event.new_path = "/srv/share/.steen-canary.docx.PLAY";
    const std::vector<Alert> alerts = s.Feed(event);
    ASSERT_EQ(alerts.size(), 1u) << static_cast<int>(op);
    EXPECT_EQ(alerts[0].rule_name, "canary-touched");
    EXPECT_EQ(alerts[0].severity, "critical");
    EXPECT_EQ(alerts[0].scope, ActorScope::kProcess);
    EXPECT_EQ(alerts[0].files.front(), "/srv/share/.steen-canary.docx");
    EXPECT_NE(alerts[0].message.find("touched canary /srv/share/.steen-canary.docx"),
              std::string::npos)
        << alerts[0].message;
    EXPECT_EQ(detector.stats().canary_touches, 1u);
  }
}

// Deleting a canary is a touch when the deleter read it: before the delete, or after it (an
// encryptor holding the original closes it once it unlinked it). A mirror (rsync --delete) that
// removes a canary it never read touches nothing.
TEST(DetectCanary, DeletingACanaryCountsOnlyWithTheDeletersRead) {
  const std::string path = "/srv/share/board minutes.docx";
  auto event = [&](const Actor& actor, FileOp op, const std::string& p) {
    FileEvent e = Stream::Event(actor, op, p, 5);
    e.is_canary = p == path;
    return e;
  };
  {  // read, then deleted: at once
    Detector detector;
    Stream s(detector);
    EXPECT_TRUE(s.Feed(event(MakeActor(4242), FileOp::kCloseNoWrite, path)).empty());
    const std::vector<Alert> alerts = s.Feed(event(MakeActor(4242), FileOp::kDelete, path));
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].rule_name, "canary-touched");
  }
  {  // deleted, then its reader closes it: at the close
    Detector detector;
    Stream s(detector);
    EXPECT_TRUE(s.Feed(event(MakeActor(4242), FileOp::kDelete, path)).empty());
    const std::vector<Alert> alerts =
        s.Feed(event(MakeActor(4242), FileOp::kCloseNoWrite, path + " (deleted)"));
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].rule_name, "canary-touched");
  }
  {  // a mirror deletes it unread; another user's later read changes nothing
    Detector detector;
    Stream s(detector);
    const Actor rsync = MakeActor(700, 690, 690, /*uid=*/0, "root", "/usr/bin/rsync");
    EXPECT_TRUE(s.Feed(event(rsync, FileOp::kDelete, path)).empty());
    const Actor reader = MakeActor(800, 790, 790, /*uid=*/1000);
    EXPECT_TRUE(s.Feed(event(reader, FileOp::kCloseNoWrite, path + " (deleted)")).empty());
    EXPECT_TRUE(s.alerts().empty());
    EXPECT_EQ(detector.stats().canary_deletes_unread, 1u);
    EXPECT_EQ(detector.stats().canary_touches, 0u);
  }
}

TEST(DetectCanary, ReadingACanaryIsNotTouchingIt) {
  Detector detector;
  Stream s(detector);
  FileEvent event =
      Stream::Event(MakeActor(4242), FileOp::kCloseNoWrite, "/srv/share/.steen-canary.docx", 5);
  event.is_canary = true;
  EXPECT_TRUE(s.Feed(event).empty());
}

TEST(DetectCanary, CanaryAfterAnAlertEscalates) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int i = 0; i < 3; ++i) Encrypt(s, actor, i);
  ASSERT_EQ(s.alerts().size(), 1u);
  FileEvent event = Stream::Event(actor, FileOp::kCloseWrite, "/srv/share/.canary.pdf", 6);
  event.is_canary = true;
  const std::vector<Alert> alerts = s.Feed(event);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule_name, "canary-touched");
  EXPECT_EQ(detector.stats().alerts_escalated, 1u);
}

TEST(DetectScoring, SameFileRewrittenCountsOnce) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int round = 0; round < 10; ++round) {
    s.Write(actor, Doc(1), 1001, Intact("docx"), Damaged());
    s.Write(actor, Doc(2), 1002, Intact("docx"), Damaged());
  }
  EXPECT_TRUE(s.alerts().empty());
  const auto snapshot = detector.Inspect(ActorScope::kProcess, "4242");
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->files, 2);
  EXPECT_DOUBLE_EQ(snapshot->destruction, 80);
  Encrypt(s, actor, 3);
  EXPECT_EQ(s.alerts().size(), 1u);
}

TEST(DetectScoring, SupportingEvidenceAloneNeverAlerts) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int i = 0; i < 200; ++i) {
    const std::string dir = "/srv/share/d" + std::to_string(i);
    s.WriteNew(actor, dir + "/HOW_TO_DECRYPT.txt", 5000 + i, Intact("text", 0), 900);
    s.WriteNew(actor, dir + "/blob.bin", 6000 + i, Damaged());
    s.Rename(actor, dir + "/a.docx", dir + "/a.docx.locked", 7000 + i);
  }
  EXPECT_TRUE(s.alerts().empty());
  const auto snapshot = detector.Inspect(ActorScope::kProcess, "4242");
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_GT(snapshot->score, 1000);     // lots of support ...
  EXPECT_EQ(snapshot->destruction, 0);  // ... and no destruction
  // Two destroyed files on top of it are enough.
  Encrypt(s, actor, 1);
  EXPECT_TRUE(s.alerts().empty());
  Encrypt(s, actor, 2);
  ASSERT_EQ(s.alerts().size(), 1u);
  bool notes = false;
  for (const Indicator& indicator : s.alerts()[0].indicators) {
    notes = notes || indicator.name == "ransom_notes";
  }
  EXPECT_TRUE(notes) << s.alerts()[0].message;
}

TEST(DetectScoring, AlreadyDamagedFilesAreNotDestroyedAgain) {
  Detector detector;
  Stream s(detector);
  for (int i = 0; i < 20; ++i) {
    s.Write(MakeActor(4242), Doc(i), 1000 + i, Damaged(), Damaged());
  }
  EXPECT_TRUE(s.alerts().empty());
}

TEST(DetectScoring, EscalationNeedsADoubledScore) {
  DetectConfig config;
  config.rate_min_folders = 1000;  // no write-rate multiplier: plain sums
  Detector detector(config);
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int i = 0; i < 5; ++i) Encrypt(s, actor, i);
  ASSERT_EQ(s.alerts().size(), 1u);  // 120 at the third file; 200 < 240 at the fifth
  Encrypt(s, actor, 5);
  ASSERT_EQ(s.alerts().size(), 2u);  // 240: escalated
  EXPECT_NE(s.alerts()[1].message.find("escalated"), std::string::npos);
  EXPECT_EQ(s.alerts()[1].severity, "critical");
  EXPECT_EQ(detector.stats().alerts_escalated, 1u);
}

TEST(DetectScoring, BroaderScopesStayQuietWhileTheProcessExplainsEverything) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int i = 0; i < 4; ++i) Encrypt(s, actor, i);
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_GE(detector.stats().alerts_redundant, 4u);  // trees, session, cgroup, user
  // Another process of the same user damaging files: the user-level scopes now alert.
  for (int i = 10; i < 12; ++i) Encrypt(s, MakeActor(4343, 4001), i);
  ASSERT_EQ(s.alerts().size(), 2u);
  EXPECT_EQ(s.alerts()[1].scope, ActorScope::kProcessTree);
  EXPECT_EQ(s.alerts()[1].scope_key, "sid:3000");
}

TEST(DetectScoring, ReusedPidStartsAfresh) {
  Detector detector;
  Stream s(detector);
  Actor first = MakeActor(4242);
  Encrypt(s, first, 1);
  Encrypt(s, first, 2);
  Actor second = first;
  second.start_time += 999;
  second.sid = 3111;  // another login; same uid
  second.ppid = 4111;
  second.cgroup = "/user.slice/user-1000.slice/session-3111.scope";
  Encrypt(s, second, 3);
  const auto snapshot = detector.Inspect(ActorScope::kProcess, "4242");
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->files, 1);
  // Only the user scope holds all three files: it alerts, as the user.
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_EQ(s.alerts()[0].scope, ActorScope::kUser);
  EXPECT_EQ(s.alerts()[0].scope_key, "1000");
}

TEST(DetectPairs, GpgReplacementsAcrossProcessesPairAndAlert) {
  Detector detector;
  Stream s(detector);
  for (int i = 0; i < 3; ++i) {
    const std::string path = Doc(i);
    const Actor gpg = MakeActor(100 + 2 * i, 4000, 3000, 1000, "alice", "/usr/bin/gpg");
    const Actor rm = MakeActor(101 + 2 * i, 4000, 3000, 1000, "alice", "/usr/bin/rm");
    s.Read(gpg, path, 1000 + i, 100000);
    s.WriteNew(gpg, path + ".gpg", 2000 + i, Intact("openpgp", 1.0), 60000);
    s.Delete(rm, path, 1000 + i, 100000);
  }
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_EQ(s.alerts()[0].scope, ActorScope::kProcessTree);
  EXPECT_EQ(s.alerts()[0].scope_key, "4000");
  EXPECT_NE(
      s.alerts()[0].message.find("3 originals deleted and replaced by encrypted copies (.gpg)"),
      std::string::npos)
      << s.alerts()[0].message;
  EXPECT_EQ(detector.stats().pairs, 3u * 4u);  // tree of 4000, session, cgroup, user
  // Both halves of each pair are the attack's: the writers of the copies as well as the deleters
  // (targets, and the processes whose files a rollback removes).
  for (pid_t pid : {100, 101, 102, 103, 104, 105}) {
    EXPECT_NE(std::find(s.alerts()[0].pids.begin(), s.alerts()[0].pids.end(), pid),
              s.alerts()[0].pids.end())
        << pid;
  }
}

// `tar c dir | openssl enc -out dir.tar.enc && rm -rf dir`: one encrypted archive, many originals
// read and deleted. Each counts; without the archive (a move to another filesystem: read, copied
// out, deleted) or with an archive that is not encrypted (`tar --remove-files`), none does.
TEST(DetectPairs, OriginalsArchivedIntoAnEncryptedContainerAndDeletedEachCount) {
  for (const bool encrypted : {true, false}) {
    Detector detector;
    Stream s(detector);
    const Actor tar = MakeActor(4242, 4000, 3000, 1000, "alice", "/usr/bin/tar");
    const Actor openssl = MakeActor(4243, 4000, 3000, 1000, "alice", "/usr/bin/openssl");
    const Actor rm = MakeActor(4244, 4000, 3000, 1000, "alice", "/usr/bin/rm");
    for (int i = 0; i < 4; ++i) s.Read(tar, Doc(i), 1000 + i, 100000);
    s.WriteNew(openssl, "/srv/share/2024.tar.enc", 2000,
               encrypted ? Container("openssl-enc") : Intact("tar"), 400000);
    for (int i = 0; i < 4; ++i) s.Delete(rm, Doc(i), 1000 + i, 100000);
    if (!encrypted) {
      EXPECT_TRUE(s.alerts().empty()) << s.alerts()[0].message;
      continue;
    }
    ASSERT_EQ(s.alerts().size(), 1u);
    EXPECT_NE(s.alerts()[0].message.find("3 originals deleted and replaced by encrypted copies "
                                         "(openssl-enc)"),
              std::string::npos)
        << s.alerts()[0].message;
  }
  // Read, then deleted, with no archive at all: a move out of the share.
  Detector detector;
  Stream s(detector);
  const Actor mv = MakeActor(4242);
  for (int i = 0; i < 6; ++i) {
    s.Read(mv, Doc(i), 1000 + i, 100000);
    s.Delete(mv, Doc(i), 1000 + i, 100000);
  }
  EXPECT_TRUE(s.alerts().empty()) << s.alerts()[0].message;
}

// `gpg -c x && shred -u x`: shred overwrites x, truncates it, renames it x -> 0 -> ... and
// unlinks the last name. The delete is x's, paired with x.gpg under x's first name.
TEST(DetectPairs, OriginalRenamedBeforeItsDeleteStillPairsByItsFirstName) {
  Detector detector;
  Stream s(detector);
  int files = 0;
  for (int i = 0; i < 6 && s.alerts().empty(); ++i, ++files) {
    const std::string x = Doc(i);
    const std::string folder = x.substr(0, x.rfind('/') + 1);
    const Actor gpg = MakeActor(100 + 2 * i, 4000, 3000, 1000, "alice", "/usr/bin/gpg");
    const Actor shred = MakeActor(101 + 2 * i, 4000, 3000, 1000, "alice", "/usr/bin/shred");
    s.Read(gpg, x, 1000 + i, 100000);
    s.WriteNew(gpg, x + ".gpg", 2000 + i, Container("openpgp"), 60000);
    s.Write(shred, x, 1000 + i, Intact("docx"), Intact("empty"), 0);  // overwritten, truncated
    std::string name = x;
    for (const char* next : {"0000", "000", "00", "0"}) {
      s.Rename(shred, name, folder + next, 1000 + i);
      name = folder + next;
    }
    s.Delete(shred, name, 1000 + i, 0);
  }
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_EQ(files, 3);
  EXPECT_NE(s.alerts()[0].message.find("3 originals deleted and replaced by encrypted copies"),
            std::string::npos)
      << s.alerts()[0].message;
}

TEST(DetectPairs, DeletionOutsideThePairWindowDoesNotPair) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int i = 0; i < 5; ++i) {
    s.WriteNew(actor, Doc(i) + ".gpg", 2000 + i, Intact("openpgp", 1.0), 60000);
  }
  s.Advance(3 * 60 * kSecond);
  for (int i = 0; i < 5; ++i) s.Delete(actor, Doc(i), 1000 + i, 100000);
  EXPECT_TRUE(s.alerts().empty());
  EXPECT_EQ(detector.stats().pairs, 0u);
}

// An encryptor that writes each file's ciphertext to a temporary file and moves it over the
// original: the watcher describes the rename with the replaced file's content (kept by the vault)
// as `before` and the temporary file's as `after`, and it counts like an in-place write.
TEST(DetectPairs, CiphertextRenamedOverItsOriginalIsDestruction) {
  Detector detector;
  Stream s(detector);
  const Actor openssl = MakeActor(4242);
  for (int i = 0; i < 3 && s.alerts().empty(); ++i) {
    s.Read(openssl, Doc(i), 1000 + i, 100000);
    s.WriteNew(openssl, Doc(i) + ".tmp", 2000 + i, Damaged());
    s.Rename(openssl, Doc(i) + ".tmp", Doc(i), 2000 + i, Intact("docx"), Damaged());
  }
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_NE(s.alerts()[0].message.find("went from valid docx to random bytes"), std::string::npos)
      << s.alerts()[0].message;
  // Without the replaced file's content (no kept copy), a moved file is only a moved file.
  Detector blind_detector;
  Stream blind(blind_detector);
  for (int i = 0; i < 5; ++i) {
    blind.Read(openssl, Doc(i), 1000 + i, 100000);
    blind.WriteNew(openssl, Doc(i) + ".tmp", 2000 + i, Damaged());
    blind.Rename(openssl, Doc(i) + ".tmp", Doc(i), 2000 + i);
  }
  EXPECT_TRUE(blind.alerts().empty());
}

// An original rewritten in place, or renamed over, as an encrypted container (`openssl enc
// -pass`, `gpg -o x.tmp -c x && mv x.tmp x`): the container is valid, the document is gone.
TEST(DetectChange, OriginalsRewrittenAsEncryptedContainersAlert) {
  for (bool by_rename : {false, true}) {
    Detector detector;
    Stream s(detector);
    const Actor openssl = MakeActor(4242);
    int files = 0;
    for (; files < 5 && s.alerts().empty(); ++files) {
      s.Read(openssl, Doc(files), 1000 + files, 100000);
      if (by_rename) {  // `mv -f x.tmp x` after each file, a process of its own
        const Actor mv = MakeActor(5000 + files, 4000, 3000, 1000, "alice", "/usr/bin/mv");
        s.WriteNew(openssl, Doc(files) + ".tmp", 2000 + files, Container("openssl-enc"));
        s.Rename(mv, Doc(files) + ".tmp", Doc(files), 2000 + files, Intact("docx"),
                 Container("openssl-enc"));
      } else {
        s.Write(openssl, Doc(files), 1000 + files, Intact("docx"), Container("openssl-enc"));
      }
    }
    ASSERT_EQ(s.alerts().size(), 1u) << by_rename;
    EXPECT_EQ(files, 3) << by_rename;
    EXPECT_NE(s.alerts()[0].message.find(
                  "3 originals rewritten from valid docx to an encrypted container (openssl-enc)"),
              std::string::npos)
        << s.alerts()[0].message;
    const std::vector<pid_t>& pids = s.alerts()[0].pids;
    EXPECT_NE(std::find(pids.begin(), pids.end(), 4242), pids.end()) << by_rename;
    if (by_rename) EXPECT_NE(std::find(pids.begin(), pids.end(), 5002), pids.end());
  }
}

// A wiper's zeros over each file's header: nothing random, no format left ("intact, unknown").
// Each file's format is lost; four of them alert (25 each), three do not.
TEST(DetectChange, HeadersWipedWithZerosLoseTheirFormat) {
  Detector detector;
  Stream s(detector);
  const Actor dd = MakeActor(4242);
  int files = 0;
  for (; files < 8 && s.alerts().empty(); ++files) {
    s.Write(dd, Doc(files), 1000 + files, Intact(files % 2 ? "pdf" : "png"), Intact("unknown"));
  }
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_EQ(files, 4);
  EXPECT_NE(s.alerts()[0].message.find("lost their"), std::string::npos) << s.alerts()[0].message;
  // Text rewritten as something unrecognised, or a format kept: nothing.
  Detector quiet_detector;
  Stream quiet(quiet_detector);
  for (int i = 0; i < 8; ++i) {
    quiet.Write(dd, Doc(i), 1000 + i, Intact("text"), Intact("unknown"));
    quiet.Write(dd, Doc(10 + i), 1010 + i, Intact("pdf"), Intact("pdf"));
  }
  EXPECT_TRUE(quiet.alerts().empty()) << quiet.alerts()[0].message;
}

// What is not: one file encrypted by its user, an encrypted archive updated or re-encrypted, an
// unencrypted archive (or a document saved as one), a first write of a new file, and a document
// protected by a password (it keeps its format: Container("docx") over Intact("docx")).
TEST(DetectChange, ContainersThatReplaceNoDocumentAreQuiet) {
  const Actor user = MakeActor(4242);
  {
    Detector detector;
    Stream s(detector);
    s.Write(user, Doc(0), 1000, Intact("pdf"), Container("openpgp"));
    EXPECT_TRUE(s.alerts().empty());
  }
  const std::vector<std::pair<ContentView, ContentView>> changes = {
      {Container("7z"), Container("7z")},  {Container("age"), Container("openpgp")},
      {Intact("docx"), Intact("zip")},     {Empty(), Container("openpgp")},
      {Intact("docx"), Container("docx")},
  };
  for (const auto& [before, after] : changes) {
    Detector detector;
    Stream s(detector);
    for (int i = 0; i < 5; ++i) s.Write(user, Doc(i), 1000 + i, before, after);
    EXPECT_TRUE(s.alerts().empty())
        << before.format << " -> " << after.format << ": " << s.alerts()[0].message;
  }
}

// The same with the original deleted first and the ciphertext moved onto its free name: the
// deleted original and the new file that takes its place pair, without a name change.
TEST(DetectPairs, CiphertextMovedOntoItsDeletedOriginalsNamePairs) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  for (int i = 0; i < 3; ++i) {
    s.Read(actor, Doc(i), 1000 + i, 100000);
    s.WriteNew(actor, Doc(i) + ".tmp", 2000 + i, Damaged());
    s.Delete(actor, Doc(i), 1000 + i, 100000);
    s.Rename(actor, Doc(i) + ".tmp", Doc(i), 2000 + i);
  }
  EXPECT_EQ(s.alerts().size(), 1u);
  EXPECT_GE(detector.stats().pairs, 3u);
  // A new file that is not ciphertext (a safe save: write a temporary copy, delete, rename) pairs
  // with nothing.
  Detector quiet_detector;
  Stream quiet(quiet_detector);
  for (int i = 0; i < 5; ++i) {
    quiet.Read(actor, Doc(i), 1000 + i, 100000);
    quiet.WriteNew(actor, Doc(i) + ".tmp", 2000 + i, Intact("docx"));
    quiet.Delete(actor, Doc(i), 1000 + i, 100000);
    quiet.Rename(actor, Doc(i) + ".tmp", Doc(i), 2000 + i);
  }
  EXPECT_TRUE(quiet.alerts().empty());
  EXPECT_EQ(quiet_detector.stats().pairs, 0u);
}

TEST(DetectWindows, EvidenceExpires) {
  Detector detector;
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  Encrypt(s, actor, 1);
  Encrypt(s, actor, 2);
  s.Advance(31 * 60 * kSecond);
  Encrypt(s, actor, 3);
  EXPECT_TRUE(s.alerts().empty());
  Encrypt(s, actor, 4);
  Encrypt(s, actor, 5);
  EXPECT_EQ(s.alerts().size(), 1u);
}

TEST(DetectWindows, IdleScopesAreForgotten) {
  Detector detector;
  Stream s(detector);
  Encrypt(s, MakeActor(4242), 1);                                     // evidence: kept 30 minutes
  s.Read(MakeActor(5000, 4999, 4999, 1001, "bob"), "/srv/x", 1, 10);  // no scope at all
  s.WriteNew(MakeActor(5001, 4999, 4999, 1001, "bob"), "/srv/share/a/README.txt", 2,
             Intact("text", 0), 10);  // clean scope: 2 minutes
  EXPECT_GT(detector.stats().scopes, 0u);
  detector.ExpireIdle(s.now() + 5 * 60 * kSecond);
  EXPECT_TRUE(detector.Inspect(ActorScope::kProcess, "4242").has_value());
  EXPECT_FALSE(detector.Inspect(ActorScope::kProcess, "5001").has_value());
  detector.ExpireIdle(s.now() + 40 * 60 * kSecond);
  EXPECT_EQ(detector.stats().scopes, 0u);
  EXPECT_GT(detector.stats().scopes_expired, 0u);
}

TEST(DetectWindows, ForgetDropsAScope) {
  Detector detector;
  Stream s(detector);
  Encrypt(s, MakeActor(4242), 1);
  EXPECT_TRUE(detector.Forget(ActorScope::kProcess, "4242"));
  EXPECT_FALSE(detector.Forget(ActorScope::kProcess, "4242"));
  EXPECT_FALSE(detector.Inspect(ActorScope::kProcess, "4242").has_value());
}

TEST(DetectLimits, ScopesAreCapped) {
  Detector detector;
  Stream s(detector);
  const int processes = static_cast<int>(limits::kMaxDetectScopes) * 2;
  for (int i = 0; i < processes; ++i) {
    Actor actor = MakeActor(10000 + i, 20000 + i, 30000 + i, 40000 + i, "u" + std::to_string(i));
    s.WriteNew(actor, "/tmp/w" + std::to_string(i) + "/README.txt", 100 + i, Intact("text", 0), 9);
  }
  EXPECT_LE(detector.stats().scopes, limits::kMaxDetectScopes);
  EXPECT_GT(detector.stats().scopes_evicted, 0u);
  // An attacker amid the churn still alerts: scopes with evidence are evicted last.
  const Actor attacker = MakeActor(4242);
  Encrypt(s, attacker, 1);
  for (int i = 0; i < 300; ++i) {
    Actor actor = MakeActor(60000 + i, 70000 + i, 80000 + i, 90000 + i, "v" + std::to_string(i));
    s.WriteNew(actor, "/tmp/v" + std::to_string(i) + "/README.txt", 100 + i, Intact("text", 0), 9);
  }
  Encrypt(s, attacker, 2);
  Encrypt(s, attacker, 3);
  EXPECT_EQ(s.alerts().size(), 1u);
}

TEST(DetectLimits, FilesPerScopeAreCappedButStillCounted) {
  DetectConfig config;
  config.escalate_factor = 1e9;  // one alert only
  Detector detector(config);
  Stream s(detector);
  const Actor actor = MakeActor(4242);
  const int files = static_cast<int>(limits::kMaxDetectFilesPerScope) + 500;
  for (int i = 0; i < files; ++i) Encrypt(s, actor, i);
  const auto snapshot = detector.Inspect(ActorScope::kProcess, "4242");
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->files, files);
  EXPECT_DOUBLE_EQ(snapshot->destruction, 40.0 * files);
  EXPECT_GE(detector.stats().file_records_evicted, 500u);
}

TEST(DetectExclusions, ExcludedEventsAreIgnored) {
  DetectConfig config;
  config.exclusions.exe_paths = {"/usr/bin/backup-agent"};
  config.exclusions.path_prefixes = {"/srv/db"};
  config.exclusions.users = {"postgres"};
  config.exclusions.exe_sha256 = {"abc123"};
  Detector detector(config);
  Stream s(detector);
  Actor agent = MakeActor(10, 9, 9, 1000, "alice", "/usr/bin/backup-agent");
  Actor postgres = MakeActor(11, 9, 9, 105, "postgres", "/usr/lib/postgresql/15/bin/postgres");
  Actor hashed = MakeActor(12, 9, 9, 1000, "alice", "/tmp/x");
  hashed.exe_sha256 = "ABC123";
  for (int i = 0; i < 10; ++i) {
    Encrypt(s, agent, i);
    Encrypt(s, postgres, i);
    Encrypt(s, hashed, i);
    s.Write(MakeActor(13), "/srv/db/t" + std::to_string(i), 50 + i, Intact("sqlite"), Damaged());
  }
  EXPECT_TRUE(s.alerts().empty());
  EXPECT_EQ(detector.stats().events_excluded, 80u);
  // "/srv/db" does not cover "/srv/dbx"; and canaries are never hidden by a path prefix.
  for (int i = 0; i < 3; ++i) {
    s.Write(MakeActor(14), "/srv/dbx/t" + std::to_string(i), 70 + i, Intact("sqlite"), Damaged());
  }
  EXPECT_EQ(s.alerts().size(), 1u);
  FileEvent canary = Stream::Event(MakeActor(15), FileOp::kRename, "/srv/db/.canary.xlsx", 99);
  canary.new_path = "/srv/db/.canary.xlsx.PLAY";
  canary.is_canary = true;
  EXPECT_EQ(s.Feed(canary).size(), 1u);
}

TEST(DetectExclusions, MatchExplains) {
  Exclusions exclusions;
  exclusions.uids = {0};
  exclusions.pids = {777};
  FileEvent event = Stream::Event(MakeActor(777), FileOp::kCloseWrite, "/x", 1);
  EXPECT_EQ(exclusions.Match(event), "pid 777");
  event.actor = MakeActor(5, 4, 4, 0, "root");
  EXPECT_EQ(exclusions.Match(event), "uid 0");
  event.actor = MakeActor(5);
  EXPECT_EQ(exclusions.Match(event), "");
}

TEST(DetectResponse, MaySuspendProtectsTheSystem) {
  ResponsePolicy policy;
  policy.self_pid = 321;
  policy.allowed_exes = {"/usr/bin/trusted"};
  policy.allowed_users = {"backup", "1500"};
  policy.allowed_comms = {"veeamagent"};
  EXPECT_TRUE(MaySuspend(MakeActor(4242), policy));
  Actor init = MakeActor(1, 0, 1, 0, "root", "/lib/systemd/systemd");
  EXPECT_FALSE(MaySuspend(init, policy));
  Actor user_manager = MakeActor(900, 1, 900, 1000, "alice", "/lib/systemd/systemd");
  EXPECT_EQ(MaySuspend(user_manager, policy).reason,
            "protected system process /lib/systemd/systemd");
  Actor kworker = MakeActor(55, 2, 0, 0, "root", "");
  EXPECT_EQ(MaySuspend(kworker, policy).reason, "kernel thread");
  EXPECT_FALSE(MaySuspend(MakeActor(56, 1, 56, 0, "root", "/usr/sbin/sshd"), policy));
  EXPECT_EQ(MaySuspend(MakeActor(321), policy).reason, "steen itself");
  EXPECT_FALSE(MaySuspend(MakeActor(57, 1, 1, 0, "root", "/usr/bin/trusted"), policy));
  EXPECT_FALSE(MaySuspend(MakeActor(58, 1, 1, 34, "backup"), policy));
  EXPECT_FALSE(MaySuspend(MakeActor(59, 1, 1, 1500, "carol"), policy));
  Actor veeam = MakeActor(60);
  veeam.comm = "veeamagent";
  EXPECT_FALSE(MaySuspend(veeam, policy));
  EXPECT_FALSE(MaySuspend(MakeActor(0), policy));
  // A process calling itself "sshd" is not protected: protection goes by executable.
  Actor fake = MakeActor(61);
  fake.comm = "sshd";
  EXPECT_TRUE(MaySuspend(fake, policy));
}

TEST(DetectResponse, TargetsSkipProtectedContributors) {
  DetectConfig config;
  config.response.allowed_exes = {"/usr/bin/trusted"};
  Detector detector(config);
  Stream s(detector);
  Encrypt(s, MakeActor(6001, 5000, 3000, 1000, "alice", "/usr/bin/trusted"), 1);
  Encrypt(s, MakeActor(6002, 5000), 2);
  Encrypt(s, MakeActor(6003, 5000), 3);
  ASSERT_EQ(s.alerts().size(), 1u);
  EXPECT_EQ(s.alerts()[0].pids.size(), 2u);
  const ResponseTargets targets =
      detector.Targets(ActorScope::kProcessTree, "5000", config.response);
  EXPECT_EQ(targets.processes.size(), 2u);
  ASSERT_EQ(targets.refused.size(), 1u);
  EXPECT_EQ(targets.refused[0].first.pid, 6001);
  EXPECT_EQ(targets.refused[0].second, "allowed executable");
  EXPECT_EQ(targets.spawner_pid, 5000);
  EXPECT_EQ(targets.tree_root, 5000);
  // A session's root is the process all contributors descend from (here their parent too);
  // unknown scopes have no targets.
  EXPECT_EQ(detector.Targets(ActorScope::kProcessTree, "sid:3000", config.response).spawner_pid,
            5000);
  EXPECT_EQ(detector.Targets(ActorScope::kProcessTree, "sid:3000", config.response).tree_root,
            5000);
  EXPECT_TRUE(detector.Targets(ActorScope::kUser, "77", config.response).processes.empty());
}

// `ls | xargs -P4 -I{} sh -c 'openssl enc -in {} -out {}.locked && rm {}'`: every file has its own
// sh, openssl and rm, which exit at once; only their session adds up. What keeps starting them is
// xargs, the nearest process of the session above all of them: it is the one to stop, with
// everything below it.
TEST(DetectResponse, SessionRootIsTheNearestCommonAncestorInsideTheSession) {
  DetectConfig config;
  Detector detector(config);
  Stream s(detector);
  const pid_t xargs = 4500, leader = 3000;
  auto child = [&](pid_t pid, pid_t sh, const std::string& exe) {
    Actor actor = MakeActor(pid, sh, leader, 1000, "alice", exe);
    actor.ancestors = {sh, xargs, 3500, leader, 2900};  // ... bash, the leader, sshd
    return actor;
  };
  for (int i = 0; i < 3; ++i) {
    const pid_t sh = 6000 + 10 * i;
    s.Read(child(sh + 1, sh, "/usr/bin/openssl"), Doc(i), 1000 + i, 100000);
    s.WriteNew(child(sh + 1, sh, "/usr/bin/openssl"), Doc(i) + ".locked", 2000 + i,
               Container("openssl-enc"), 100000);
    s.Delete(child(sh + 2, sh, "/usr/bin/rm"), Doc(i), 1000 + i, 100000);
  }
  ASSERT_FALSE(s.alerts().empty());
  EXPECT_EQ(s.alerts()[0].scope_key, "sid:3000");
  ResponseTargets targets = detector.Targets(ActorScope::kProcessTree, "sid:3000", config.response);
  EXPECT_EQ(targets.spawner_pid, xargs);
  EXPECT_EQ(targets.tree_root, xargs);

  // A contributor whose chain does not reach its session's leader (daemonised, reparented to
  // init) leaves the session without a root: nothing above the leader is ever named.
  Detector other_detector(config);
  Stream other(other_detector);
  for (int i = 0; i < 3; ++i) {
    const pid_t sh = 6000 + 10 * i;
    Actor orphan = child(sh + 1, sh, "/usr/bin/openssl");
    if (i == 2) orphan.ancestors = {sh, 1};
    other.Read(orphan, Doc(i), 1000 + i, 100000);
    other.WriteNew(orphan, Doc(i) + ".locked", 2000 + i, Container("openssl-enc"), 100000);
    other.Delete(child(sh + 2, sh, "/usr/bin/rm"), Doc(i), 1000 + i, 100000);
  }
  ASSERT_FALSE(other.alerts().empty());
  targets = other_detector.Targets(ActorScope::kProcessTree, "sid:3000", config.response);
  EXPECT_EQ(targets.spawner_pid, 0);
  EXPECT_EQ(targets.tree_root, 0);
}

// Clones: the parent's other children running the same program as the same user.
TEST(DetectResponse, ClonesShareParentProgramAndUser) {
  const Actor worker = MakeActor(4242);
  EXPECT_TRUE(IsCloneOf(MakeActor(4243), worker));
  EXPECT_FALSE(IsCloneOf(worker, worker)) << "not itself";
  EXPECT_FALSE(IsCloneOf(MakeActor(4243, /*ppid=*/4001), worker));
  EXPECT_FALSE(IsCloneOf(MakeActor(4243, 4000, 3000, /*uid=*/0, "root"), worker));
  EXPECT_FALSE(IsCloneOf(MakeActor(4243, 4000, 3000, 1000, "alice", "/usr/bin/vim"), worker));
  Actor rebuilt = MakeActor(4243);  // the same path, another file (both hashed)
  rebuilt.exe_sha256 = "aa";
  Actor hashed = worker;
  hashed.exe_sha256 = "bb";
  EXPECT_FALSE(IsCloneOf(rebuilt, hashed));
  rebuilt.exe_sha256.clear();  // one not hashed yet: the path decides
  EXPECT_TRUE(IsCloneOf(rebuilt, hashed));
  EXPECT_FALSE(IsCloneOf(MakeActor(4243, /*ppid=*/1), MakeActor(4242, /*ppid=*/1)))
      << "init's children are no worker pool";
  EXPECT_FALSE(IsCloneOf(SmbdActor(7001), SmbdActor(7000)));
}

// Processes gone before they were attributed are known by pid alone (uid 0 by default, no user):
// their damage is no user's. Counted in root's scope, it made one alert with an administrator's
// copy into the share (as root, many folders) and stopped that copy.
TEST(DetectScopes, ProcessesKnownByPidAloneAreInNoUsersScope) {
  Detector detector;
  Stream s(detector);
  for (int i = 0; i < 4; ++i) {
    Actor gone;
    gone.pid = gone.tid = 8000 + i;
    s.Write(gone, Doc(i), 3000 + i, Intact("docx"), Damaged());
  }
  const Actor admin = MakeActor(8100, 8101, 8102, /*uid=*/0, "root", "/usr/bin/cp");
  for (int i = 0; i < 12; ++i) {
    s.WriteNew(admin, "/srv/share/d" + std::to_string(i) + "/index.html", 4000 + i, Intact("html"));
  }
  for (const Alert& alert : s.alerts()) {
    EXPECT_NE(alert.scope, ActorScope::kUser) << alert.message;
    EXPECT_NE(alert.actor.pid, admin.pid) << alert.message;
  }
  EXPECT_TRUE(detector.Targets(ActorScope::kUser, "0", ResponsePolicy{}).processes.empty());
}

// `for f in ...; do setsid sh -c 'openssl enc ... && rm -f "$0"' "$f" & done`: each worker in a
// session of its own, so only their user ties them; the loop (two generations up from each rm)
// is the spawner the user's alert stops. Programs whose nearest common ancestor is farther up (a
// login manager, a CI agent) are never offered.
TEST(DetectResponse, AUsersWorkersInSessionsOfTheirOwnOfferTheLoopThatStartsThem) {
  Detector detector;
  Stream s(detector);
  auto worker = [](pid_t pid, std::vector<pid_t> above) {
    Actor actor =
        MakeActor(pid, /*ppid=*/above[0], /*sid=*/above[0], /*uid=*/0, "root", "/usr/bin/rm");
    actor.ancestors = std::move(above);
    return actor;
  };
  for (int i = 0; i < 4; ++i) {
    const pid_t sh = 6000 + 10 * i;  // the per-file session's shell, under the loop 5000
    s.Write(worker(sh + 1, {sh, 5000, 4900, 1}), Doc(i), 1000 + i, Intact("docx"), Damaged());
  }
  const ResponseTargets targets = detector.Targets(ActorScope::kUser, "0", ResponsePolicy{});
  EXPECT_EQ(targets.spawner_pid, 5000);
  EXPECT_EQ(targets.tree_root, 5000);

  Detector far_detector;
  Stream far(far_detector);
  for (int i = 0; i < 4; ++i) {  // common ancestor 4 generations up
    const pid_t a = 7000 + 10 * i;
    far.Write(worker(a + 1, {a, a + 2, a + 3, 4800, 1}), Doc(i), 1000 + i, Intact("docx"),
              Damaged());
  }
  const ResponseTargets none = far_detector.Targets(ActorScope::kUser, "0", ResponsePolicy{});
  EXPECT_EQ(none.spawner_pid, 0);
  EXPECT_EQ(none.tree_root, 0);
}

TEST(DetectResponse, SmbChildrenNeverOfferTheMainSmbd) {
  Detector detector;
  Stream s(detector);
  for (int i = 0; i < 3; ++i) Encrypt(s, SmbdActor(7000 + i), i);
  const ResponseTargets targets =
      detector.Targets(ActorScope::kSmbClient, "198.18.0.2 bob", ResponsePolicy{});
  EXPECT_EQ(targets.processes.size(), 3u);
  EXPECT_EQ(targets.spawner_pid, 0);
  EXPECT_EQ(targets.tree_root, 0);
}

TEST(DetectSuspects, DestructionMakesTheWritersProcessASuspectButNotItsTreeUserNorOthers) {
  Detector detector;
  Stream s(detector);
  const Actor attacker = MakeActor(4242);
  const Actor sibling = MakeActor(4243);  // same parent and session
  const Actor same_user = MakeActor(5000, /*ppid=*/5001, /*sid=*/5002);
  const Actor same_session = MakeActor(5100, /*ppid=*/5101);  // sid 3000, like the attacker
  const Actor stranger = MakeActor(6000, 6001, 6002, /*uid=*/2000, "carol");
  const uint64_t generation = detector.suspects_generation();
  EXPECT_TRUE(detector.Suspects().empty());

  // Supporting evidence (a new random file) is no destruction: nobody is a suspect.
  s.WriteNew(attacker, "/srv/share/new.bin", 900, Damaged());
  EXPECT_TRUE(detector.Suspects().empty());

  Encrypt(s, attacker, 1);
  EXPECT_NE(detector.suspects_generation(), generation);
  const std::vector<ScopeMatcher> suspects = detector.Suspects();
  ASSERT_FALSE(suspects.empty());
  auto covered = [&](const Actor& actor) {
    for (const ScopeMatcher& scope : suspects) {
      EXPECT_NE(scope.scope, ActorScope::kUser);
      EXPECT_NE(scope.scope, ActorScope::kCgroup);
      if (scope.Covers(actor)) return true;
    }
    return false;
  };
  EXPECT_TRUE(covered(attacker));
  EXPECT_FALSE(covered(sibling));       // nor its siblings: the process itself, its threads
  EXPECT_FALSE(covered(same_user));     // the user's other programs do not wait
  EXPECT_FALSE(covered(same_session));  // nor those of the same login session
  EXPECT_FALSE(covered(stranger));
  Actor reused = attacker;  // the same pid, another process
  reused.start_time += 1;
  reused.ppid = 7000;
  reused.sid = 7001;
  reused.ancestors = {7000, 7001};
  EXPECT_FALSE(covered(reused));

  // Forgetting the scopes (the operator resolved the incident) clears them.
  const uint64_t before_forget = detector.suspects_generation();
  for (const ScopeMatcher& scope : suspects) detector.Forget(scope.scope, scope.key);
  EXPECT_NE(detector.suspects_generation(), before_forget);
  EXPECT_TRUE(detector.Suspects().empty());
}

TEST(DetectSuspects, AnSmbClientIsASuspectAcrossItsSessions) {
  Detector detector;
  Stream s(detector);
  s.Write(SmbdActor(700), Doc(1), 1001, Intact("docx"), Damaged());
  const std::vector<ScopeMatcher> suspects = detector.Suspects();
  ASSERT_EQ(suspects.size(), 1u);
  EXPECT_EQ(suspects[0].scope, ActorScope::kSmbClient);
  EXPECT_TRUE(suspects[0].Covers(SmbdActor(701)));  // its next session
  EXPECT_FALSE(suspects[0].Covers(SmbdActor(702, "198.18.0.3")));
}

}  // namespace
}  // namespace steen
