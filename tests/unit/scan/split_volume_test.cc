#include "scan/split_volume.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "scan/file_scan.h"
#include "unit/scan/temp_tree.h"

namespace steen::scan {
namespace {

using testing::TempTree;

std::string RandomBytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// A gzip stream of stored deflate blocks of random bytes: a valid archive whose body is random,
// as compressed data is (never finished: the volumes below cut it anyway).
// A whole gzip member of stored blocks (its end and trailer are checked: a stream without them
// is a file cut short).
std::string GzipOfRandomBytes(std::size_t blocks) {
  std::string gz("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  uLong crc = crc32(0, nullptr, 0);
  for (std::size_t i = 0; i < blocks; ++i) {
    const bool last = i + 1 == blocks;
    gz += last ? '\x01' : '\x00';              // BFINAL, BTYPE 00 (stored)
    gz += std::string("\xff\xff\x00\x00", 4);  // LEN 65535, NLEN
    const std::string data = RandomBytes(65535, i + 1);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    gz += data;
  }
  const uint32_t size = static_cast<uint32_t>(blocks * 65535);
  for (const uint32_t word : {static_cast<uint32_t>(crc), size}) {
    for (int i = 0; i < 4; ++i) gz += static_cast<char>((word >> (8 * i)) & 0xFF);
  }
  return gz;
}

// Writes the stream as volumes of `volume` bytes named base + suffixes, e.g. ".001", ".002".
void WriteVolumes(const TempTree& tree, const std::string& stream, std::size_t volume,
                  const std::vector<std::string>& names) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::size_t at = i * volume;
    tree.Write(names[i], stream.substr(at, i + 1 == names.size() ? std::string::npos : volume));
  }
}

Analysis Scan(const std::string& path) {
  static const ContentAnalyzer analyzer;
  FileOutcome outcome;
  ScanFile(FileTask{nullptr, path, false}, MakeAnalyzeFunction(analyzer), {}, &outcome);
  EXPECT_EQ(outcome.kind, FileOutcome::Kind::kAnalysed) << outcome.message;
  return outcome.analysis;
}

std::string Joined(const Analysis& a) {
  std::string s;
  for (const auto& r : a.reasons) s += r + "; ";
  return s;
}

TEST(SplitVolumeName, ParsesTheWritersNamingSchemes) {
  struct Case {
    const char* name;
    bool zip_last_candidate;
    const char* first;
    const char* next;  // "" for zip's last piece
    int index;         // 0 for zip's last piece
  };
  for (const Case& c : {
           Case{"backup.7z.003", false, "backup.7z.001", "backup.7z.004", 3},
           Case{"dir/x.tar.gz.01", false, "dir/x.tar.gz.00", "dir/x.tar.gz.02", 2},  // split -d
           Case{"x.tar.gz.az", false, "x.tar.gz.aa", "x.tar.gz.ba", 26},  // split's suffixes
           Case{"a.z09", false, "a.z01", "a.z10", 9},
           Case{"a.zip", true, "a.z01", "", 0},
           // split's suffixes after any prefix: x00, xaa, name.partaa.
           Case{"dir/x01", false, "dir/x00", "dir/x02", 2},
           Case{"backup.tar.gz.partab", false, "backup.tar.gz.partaa", "backup.tar.gz.partac", 2},
           // Any name ending in two letters parses; only an "aa" sibling that makes a set with
           // it counts.
           Case{"report.docx", false, "report.doaa", "report.docy", 76},
       }) {
    const auto parsed = ParseSplitVolumeName(c.name, c.zip_last_candidate);
    ASSERT_TRUE(parsed) << c.name;
    EXPECT_EQ(parsed->first, c.first) << c.name;
    EXPECT_EQ(parsed->next, c.next) << c.name;
    EXPECT_EQ(parsed->index, c.index) << c.name;
  }
  // Numbered pieces may start at 0 or 1 whatever their width: the other start is offered too.
  for (const auto& [name, first, index, other_first, other_index] :
       std::vector<std::tuple<std::string, std::string, int, std::string, int>>{
           {"x.tar.xz.000", "x.tar.xz.000", 1, "", 0},  // split -d -a 3
           {"x.tar.xz.005", "x.tar.xz.001", 5, "x.tar.xz.000", 6},
           {"x.01", "x.00", 2, "x.01", 1},                          // --numeric-suffixes=1
           {"big.0002", "big.0000", 3, "big.0001", 2},              // split -d -a 4
           {"photo.2024", "photo.0000", 2025, "photo.0001", 2024},  // a set only if one exists
       }) {
    const auto parsed = ParseSplitVolumeName(name, false);
    ASSERT_TRUE(parsed) << name;
    EXPECT_EQ(parsed->first, first) << name;
    EXPECT_EQ(parsed->index, index) << name;
    EXPECT_EQ(parsed->other_first, other_first) << name;
    EXPECT_EQ(parsed->other_index, other_index) << name;
  }
  EXPECT_FALSE(ParseSplitVolumeName("x.1234567", false));  // seven digits: not a volume
  EXPECT_FALSE(ParseSplitVolumeName(".001", false));       // hidden files, not pieces
  EXPECT_FALSE(ParseSplitVolumeName("dir/.aa", false));
  EXPECT_FALSE(ParseSplitVolumeName("x.zz", false));
}

// split -d -a 3 counts from 000, --numeric-suffixes=1 from 01: either start makes a set.
TEST(SplitVolume, SetsNumberedFromZeroOrOneInAnyWidthAreIntact) {
  const std::string stream = GzipOfRandomBytes(3);
  for (const std::vector<std::string>& names :
       std::vector<std::vector<std::string>>{{"x.gz.000", "x.gz.001", "x.gz.002"},
                                             {"x.gz.01", "x.gz.02", "x.gz.03"},
                                             {"x.gz.0000", "x.gz.0001", "x.gz.0002"}}) {
    TempTree tree;
    WriteVolumes(tree, stream, 80000, names);
    for (const std::string& name : names) {
      const Analysis a = Scan(tree / name);
      EXPECT_EQ(a.verdict, Verdict::kIntact) << name << ": " << Joined(a);
    }
    const Analysis last = Scan(tree / names.back());
    EXPECT_NE(Joined(last).find("volume 3 of a split archive"), std::string::npos) << Joined(last);
  }
}

// Volumes after the first hold compressed bytes and no header: alone they look encrypted. With
// their first volume beside them and the sizes of a split set, they are volumes.
TEST(SplitVolume, VolumesOfASplitArchiveAreIntact) {
  TempTree tree;
  const std::string stream = GzipOfRandomBytes(3);
  WriteVolumes(tree, stream, 80000, {"x.gz.001", "x.gz.002", "x.gz.003"});
  for (const char* name : {"x.gz.001", "x.gz.002", "x.gz.003"}) {
    const Analysis a = Scan(tree / name);
    EXPECT_EQ(a.verdict, Verdict::kIntact) << name << ": " << Joined(a);
  }
  EXPECT_EQ(Scan(tree / "x.gz.002").format, "gzip-volume");
  const Analysis second = Scan(tree / "x.gz.002");
  ASSERT_EQ(second.reasons.size(), 2u);
  EXPECT_NE(second.reasons[0].find("volume 2 of a split archive"), std::string::npos)
      << Joined(second);
  EXPECT_NE(second.reasons[1].find("on its own: "), std::string::npos);
}

// The same pieces, without what makes them a set, stay damaged.
TEST(SplitVolume, NotASetWithoutItsFirstVolumeOrItsSizes) {
  const std::string stream = GzipOfRandomBytes(3);
  {
    TempTree tree;  // no first volume
    WriteVolumes(tree, stream, 80000, {"x.gz.001", "x.gz.002", "x.gz.003"});
    ASSERT_EQ(unlink((tree / "x.gz.001").c_str()), 0);
    EXPECT_EQ(Scan(tree / "x.gz.002").verdict, Verdict::kDamaged);
  }
  {
    TempTree tree;  // the first volume's header encrypted too (what ransomware leaves)
    WriteVolumes(tree, stream, 80000, {"x.gz.001", "x.gz.002", "x.gz.003"});
    tree.Write("x.gz.001", RandomBytes(80000, 99));
    EXPECT_EQ(Scan(tree / "x.gz.002").verdict, Verdict::kDamaged);
    EXPECT_EQ(Scan(tree / "x.gz.003").verdict, Verdict::kDamaged);
  }
  {
    TempTree tree;  // a middle volume of another size
    WriteVolumes(tree, stream, 80000, {"x.gz.001", "x.gz.002", "x.gz.003"});
    tree.Write("x.gz.002", stream.substr(80000, 70000));
    EXPECT_EQ(Scan(tree / "x.gz.002").verdict, Verdict::kDamaged);
  }
  {
    TempTree tree;  // a last volume larger than the first
    WriteVolumes(tree, stream, 80000, {"x.gz.001", "x.gz.002"});
    tree.Write("x.gz.002", RandomBytes(90000, 7));
    EXPECT_EQ(Scan(tree / "x.gz.002").verdict, Verdict::kDamaged);
  }
}

// zip -s: x.z01 (a zip's start), x.z02 ..., then x.zip, the last piece.
TEST(SplitVolume, ZipPiecesNeedTheirLastPiece) {
  TempTree tree;
  // The spanning marker, then a stored entry whose data runs on into the next pieces.
  const uint32_t data_size = 200000;
  std::string stream("PK\x07\x08PK\x03\x04\x0a\x00\x00\x00\x00\x00", 14);
  const auto le = [&stream](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) stream.push_back(static_cast<char>(v >> (8 * i)));
  };
  le(0, 4);  // time, date
  le(0, 4);  // crc-32 (not checked on a cut entry)
  le(data_size, 4);
  le(data_size, 4);
  le(7, 2);
  le(0, 2);
  stream += "big.bin" + RandomBytes(data_size, 3);
  WriteVolumes(tree, stream, 80000, {"a.z01", "a.z02", "a.zip"});
  const Analysis first = Scan(tree / "a.z01");
  ASSERT_EQ(first.format, "zip") << Joined(first);
  ASSERT_NE(first.verdict, Verdict::kDamaged) << Joined(first);
  const Analysis middle = Scan(tree / "a.z02");
  EXPECT_EQ(middle.verdict, Verdict::kIntact) << Joined(middle);
  EXPECT_EQ(middle.format, "zip-volume");
  const Analysis last = Scan(tree / "a.zip");
  EXPECT_EQ(last.verdict, Verdict::kIntact) << Joined(last);
  EXPECT_NE(last.reasons[0].find("the last volume"), std::string::npos) << Joined(last);
  ASSERT_EQ(unlink((tree / "a.zip").c_str()), 0);
  EXPECT_EQ(Scan(tree / "a.z02").verdict, Verdict::kDamaged);
}

}  // namespace
}  // namespace steen::scan
