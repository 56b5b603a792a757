// Benign workloads replayed as event streams with the content views the engine gives them: none
// may alert. Each stream includes what makes it look dangerous (README in every folder, random test
// data, encrypted containers, in-place page writes, temp files renamed over originals).
#include <gtest/gtest.h>

#include <string>

#include "steen/detect.h"
#include "unit/detect/stream.h"

namespace steen {
namespace {

using detect_test::Damaged;
using detect_test::Empty;
using detect_test::Intact;
using detect_test::kSecond;
using detect_test::MakeActor;
using detect_test::Stream;
using detect_test::Unknown;

std::string Alerts(const Stream& s) {
  std::string out;
  for (const Alert& alert : s.alerts()) out += alert.message + "\n";
  return out;
}

TEST(DetectBenign, UnpackAndCompileASourceTree) {
  Detector detector;
  Stream s(detector);
  const Actor tar = MakeActor(100, 99, 99, 1000, "alice", "/usr/bin/tar");
  uint64_t inode = 1;
  // Unpack: 40 folders, each with README, Makefile, sources, a random test vector and a
  // compressed fixture; tar overwrites an older unpacked copy for half of them.
  for (int d = 0; d < 40; ++d) {
    const std::string dir = "/home/alice/src/proj/mod" + std::to_string(d);
    s.WriteNew(tar, dir + "/README.txt", inode++, Intact("text", 0), 2000);
    s.WriteNew(tar, dir + "/Makefile", inode++, Intact("text", 0), 800);
    for (int f = 0; f < 5; ++f) {
      s.WriteNew(tar, dir + "/f" + std::to_string(f) + ".c", inode++, Intact("text", 0), 9000);
    }
    s.WriteNew(tar, dir + "/testdata.bin", inode++, Damaged(), 65536);  // random test vector
    s.WriteNew(tar, dir + "/fixture.gz", inode++, Intact("gzip", 1.0), 30000);
    if (d % 2 == 0) {
      s.Write(tar, dir + "/old.c", 100000 + d, Intact("text", 0), Intact("text", 0), 9000);
    }
    s.Advance(kSecond / 50);
  }
  // Compile: make spawns a gcc per file (fresh pids), objects and dependency files, a link, and
  // a rebuild that overwrites objects in place; then `make clean` deletes them.
  const Actor make = MakeActor(200, 99, 99, 1000, "alice", "/usr/bin/make");
  pid_t pid = 300;
  for (int d = 0; d < 40; ++d) {
    const std::string dir = "/home/alice/src/proj/mod" + std::to_string(d);
    for (int f = 0; f < 5; ++f) {
      const Actor gcc =
          MakeActor(pid++, 200, 99, 1000, "alice", "/usr/bin/x86_64-linux-gnu-gcc-12");
      const std::string base = dir + "/f" + std::to_string(f);
      s.Read(gcc, base + ".c", 0, 9000);
      s.WriteNew(gcc, base + ".o", 500000 + d * 10 + f, Intact("elf", 0.1), 20000);
      s.WriteNew(gcc, base + ".d", 600000 + d * 10 + f, Intact("text", 0), 300);
      s.Advance(kSecond / 20);
    }
  }
  const Actor ld = MakeActor(pid++, 200, 99, 1000, "alice", "/usr/bin/ld.bfd");
  s.WriteNew(ld, "/home/alice/src/proj/app", 700000, Intact("elf", 0.2), 2000000);
  const Actor ar = MakeActor(pid++, 200, 99, 1000, "alice", "/usr/bin/ar");
  s.WriteNew(ar, "/home/alice/src/proj/libproj.a", 700001, Unknown("unknown", 0.1), 900000);
  s.Advance(10 * 60 * kSecond);
  for (int d = 0; d < 40; ++d) {
    const std::string dir = "/home/alice/src/proj/mod" + std::to_string(d);
    for (int f = 0; f < 5; ++f) {
      const Actor gcc =
          MakeActor(pid++, 200, 99, 1000, "alice", "/usr/bin/x86_64-linux-gnu-gcc-12");
      s.Write(gcc, dir + "/f" + std::to_string(f) + ".o", 500000 + d * 10 + f, Intact("elf", 0.1),
              Intact("elf", 0.1), 20000);
    }
  }
  const Actor rm = MakeActor(pid++, 200, 99, 1000, "alice", "/usr/bin/rm");
  for (int d = 0; d < 40; ++d) {
    for (int f = 0; f < 5; ++f) {
      s.Delete(rm, "/home/alice/src/proj/mod" + std::to_string(d) + "/f" + std::to_string(f) + ".o",
               500000 + d * 10 + f, 20000);
    }
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

// Reads a large folder and writes one archive of the given format.
void ArchiveFolder(const std::string& exe, const std::string& archive, const ContentView& view) {
  Detector detector;
  Stream s(detector);
  const Actor tool = MakeActor(100, 99, 99, 1000, "alice", exe);
  for (int i = 0; i < 3000; ++i) {
    s.Read(tool, "/home/alice/photos/" + std::to_string(i % 60) + "/p" + std::to_string(i) + ".jpg",
           1000 + i, 3000000);
    if (i % 300 == 0) s.Advance(kSecond);
  }
  s.WriteNew(tool, archive, 99999, view, 9000000000ull);
  EXPECT_TRUE(s.alerts().empty()) << exe << ": " << Alerts(s);
}

TEST(DetectBenign, TarGzipZstdAnd7zOfALargeFolder) {
  ArchiveFolder("/usr/bin/gzip", "/backup/photos.tar.gz", Intact("gzip", 1.0));
  ArchiveFolder("/usr/bin/zstd", "/backup/photos.tar.zst", Intact("zstd", 1.0));
  ArchiveFolder("/usr/bin/7z", "/backup/photos.7z", Intact("7z", 1.0));
}

TEST(DetectBenign, GzipReplacingOriginalsLikeLogrotate) {
  Detector detector;
  Stream s(detector);
  const Actor logrotate = MakeActor(100, 1, 100, 0, "root", "/usr/sbin/logrotate");
  for (int i = 0; i < 50; ++i) {
    const std::string log = "/var/log/app" + std::to_string(i) + ".log";
    s.Rename(logrotate, log, log + ".1", 1000 + i);
    const Actor gzip = MakeActor(200 + i, 100, 100, 0, "root", "/usr/bin/gzip");
    s.Read(gzip, log + ".1", 1000 + i, 500000);
    s.WriteNew(gzip, log + ".1.gz", 5000 + i, Intact("gzip", 1.0), 60000);
    s.Delete(gzip, log + ".1", 1000 + i, 500000);
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

TEST(DetectBenign, CopyingAPhotoAndVideoLibrary) {
  Detector detector;
  Stream s(detector);
  const Actor cp = MakeActor(100, 99, 99, 1000, "alice", "/usr/bin/cp");
  for (int i = 0; i < 4000; ++i) {
    const std::string name =
        std::to_string(i / 100) + "/img" + std::to_string(i) + (i % 5 == 0 ? ".mp4" : ".jpg");
    const ContentView view = i % 5 == 0 ? Intact("mp4", 0.95) : Intact("jpeg", 0.9);
    s.Read(cp, "/home/alice/Pictures/" + name, 1000 + i, 4000000);
    if (i % 50 == 7) {
      // The content engine calls a few camera files damaged; copies keep the verdict.
      s.WriteNew(cp, "/media/usb/Pictures/" + name, 100000 + i, Damaged(), 4000000);
    } else if (i % 3 == 0) {
      // Copying over an older copy of the same photo.
      s.Write(cp, "/media/usb/Pictures/" + name, 100000 + i, view, view, 4000000);
    } else {
      s.WriteNew(cp, "/media/usb/Pictures/" + name, 100000 + i, view, 4000000);
    }
    if (i % 100 == 0) s.Advance(kSecond);
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

TEST(DetectBenign, LibreOfficeConvertingDocuments) {
  Detector detector;
  Stream s(detector);
  const Actor soffice =
      MakeActor(100, 99, 99, 1000, "alice", "/usr/lib/libreoffice/program/soffice.bin");
  for (int i = 0; i < 300; ++i) {
    const std::string dir = "/srv/share/docs/" + std::to_string(i % 30);
    const std::string doc = dir + "/report" + std::to_string(i) + ".docx";
    const std::string lock = dir + "/.~lock.report" + std::to_string(i) + ".docx#";
    s.WriteNew(soffice, lock, 200000 + i, Intact("text", 0), 90);
    s.Read(soffice, doc, 1000 + i, 80000);
    const std::string temp = dir + "/lu" + std::to_string(7000 + i) + ".tmp";
    s.WriteNew(soffice, temp, 300000 + i, Intact("pdf", 0.6), 120000);
    s.Rename(soffice, temp, dir + "/report" + std::to_string(i) + ".pdf", 300000 + i);
    // Saving the document itself: temp file renamed over the original.
    const std::string save = dir + "/lu" + std::to_string(9000 + i) + ".tmp";
    s.WriteNew(soffice, save, 400000 + i, Intact("docx", 0.9), 81000);
    s.Rename(soffice, save, doc, 400000 + i, Intact("docx", 0.9), Intact("docx", 0.9));
    s.Delete(soffice, lock, 200000 + i);
    s.Advance(kSecond / 5);
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

TEST(DetectBenign, SqliteWriteLoadWithBlobs) {
  Detector detector;
  Stream s(detector);
  const Actor app = MakeActor(100, 99, 99, 1000, "alice", "/usr/bin/python3.11");
  for (int t = 0; t < 2000; ++t) {
    const int db = t % 4;
    const std::string path = "/home/alice/.local/share/app/db" + std::to_string(db) + ".sqlite";
    s.WriteNew(app, path + "-journal", 9000 + t, Unknown("unknown", 0.1), 20000);
    // Three databases store compressed thumbnails: their random share grows as they fill.
    const double before = db < 3 ? 0.1 + 0.0003 * t : 0.05;
    const double after = db < 3 ? (t < 8 ? 0.6 : before + 0.001) : 0.05;
    s.Write(app, path, 100 + db, Intact("sqlite", before), Intact("sqlite", after), 50000000);
    s.Delete(app, path + "-journal", 9000 + t);
    s.Advance(kSecond / 100);
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

TEST(DetectBenign, PostgresqlWriteLoad) {
  Detector detector;
  Stream s(detector);
  const Actor postgres =
      MakeActor(100, 90, 90, 105, "postgres", "/usr/lib/postgresql/15/bin/postgres");
  Actor checkpointer = postgres;
  checkpointer.pid = 101;
  checkpointer.ppid = 100;
  for (int round = 0; round < 50; ++round) {
    for (int rel = 0; rel < 200; ++rel) {
      const std::string path =
          "/var/lib/postgresql/15/main/base/16384/" + std::to_string(16400 + rel);
      const double random = rel % 10 == 0 ? 0.3 : 0.02;  // TOAST tables with compressed values
      s.Write(checkpointer, path, 1000 + rel, Unknown("unknown", random),
              Unknown("unknown", random + 0.05), 8192 * 1000);
    }
    // WAL segments: written, then recycled under a new name.
    const std::string wal = "/var/lib/postgresql/15/main/pg_wal/0000000100000000000000";
    s.Write(postgres, wal + std::to_string(10 + round), 50000 + round, Unknown(), Unknown(),
            16 * 1024 * 1024);
    s.Rename(postgres, wal + std::to_string(10 + round), wal + std::to_string(80 + round),
             50000 + round);
    s.Advance(kSecond);
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

TEST(DetectBenign, RsyncOfATree) {
  Detector detector;
  Stream s(detector);
  const Actor rsync = MakeActor(100, 99, 99, 0, "root", "/usr/bin/rsync");
  const char* kFormats[] = {"pdf", "docx", "jpeg", "openpgp", "7z"};
  for (int i = 0; i < 2000; ++i) {
    const std::string dir = "/backup/tree/" + std::to_string(i % 100);
    const std::string name = "file" + std::to_string(i) + "." + kFormats[i % 5];
    const ContentView view = Intact(kFormats[i % 5], i % 5 >= 3 ? 1.0 : 0.3);
    s.Read(rsync, "/srv/share/" + std::to_string(i % 100) + "/" + name, 1000 + i, 100000);
    const std::string temp = dir + "/." + name + ".Xa81Qz";
    if (i % 4 == 0) {
      // Update of an existing copy: the destination is read for the delta, then replaced.
      s.Read(rsync, dir + "/" + name, 50000 + i, 100000);
      s.WriteNew(rsync, temp, 90000 + i, i % 40 == 0 ? Damaged() : view, 100000);
      s.Rename(rsync, temp, dir + "/" + name, 90000 + i, i % 40 == 0 ? Damaged() : view,
               i % 40 == 0 ? Damaged() : view);
    } else {
      s.WriteNew(rsync, temp, 90000 + i, i % 37 == 0 ? Damaged() : view, 100000);
      s.Rename(rsync, temp, dir + "/" + name, 90000 + i);
    }
    if (i % 100 == 0) s.Advance(kSecond);
  }
  // --delete removes files gone from the source.
  for (int i = 0; i < 200; ++i)
    s.Delete(rsync, "/backup/tree/old/" + std::to_string(i), 200000 + i, 5000);
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

TEST(DetectBenign, OneUserEncryptingOneFileWithGpg) {
  for (int variant = 0; variant < 3; ++variant) {
    Detector detector;
    Stream s(detector);
    const Actor gpg = MakeActor(100, 99, 99, 1000, "alice", "/usr/bin/gpg");
    s.Read(gpg, "/home/alice/tax.pdf", 10, 300000);
    s.WriteNew(gpg, "/home/alice/tax.pdf.gpg", 11, Intact("openpgp", 1.0), 280000);
    if (variant == 1) {
      s.Delete(MakeActor(101, 99, 99, 1000, "alice", "/usr/bin/rm"), "/home/alice/tax.pdf", 10,
               300000);
    }
    if (variant == 2) {
      // shred -u: overwrites the original with random bytes, then deletes it.
      const Actor shred = MakeActor(102, 99, 99, 1000, "alice", "/usr/bin/shred");
      s.Write(shred, "/home/alice/tax.pdf", 10, Intact("pdf", 0.3), Damaged(), 300000);
      s.Delete(shred, "/home/alice/tax.pdf", 10, 300000);
    }
    EXPECT_TRUE(s.alerts().empty()) << "variant " << variant << ": " << Alerts(s);
  }
}

TEST(DetectBenign, BatchRenameOfExtensions) {
  Detector detector;
  Stream s(detector);
  const Actor rename = MakeActor(100, 99, 99, 1000, "alice", "/usr/bin/rename");
  for (int i = 0; i < 500; ++i) {
    const std::string base =
        "/home/alice/pics/" + std::to_string(i % 20) + "/p" + std::to_string(i);
    s.Rename(rename, base + ".jpeg", base + ".jpg", 1000 + i);
    s.Rename(rename, base + ".txt", base + ".txt.bak", 5000 + i);
  }
  EXPECT_TRUE(s.alerts().empty()) << Alerts(s);
}

}  // namespace
}  // namespace steen
