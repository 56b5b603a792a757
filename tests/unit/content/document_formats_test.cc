// Tests of the document validators (PDF, OLE2, SQLite) on files built here, on real files from this
// machine when present, and on the damage patterns ransomware leaves.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/ole2_format.h"
#include "content/formats/pdf_format.h"
#include "content/formats/sqlite_format.h"
#include "content/reader.h"
#include "content/sampling.h"
#include "steen/content.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

// ---- Helpers ---------------------------------------------------------------------------------

std::string RandomBytes(std::size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

FormatReport Check(const FormatValidator& v, const std::string& bytes) {
  MemoryByteSource source(bytes);
  Reader reader(source, limits::kAnalysisReadBudget);
  return v.Validate(reader);
}

std::string Reasons(const FormatReport& r) {
  std::string s;
  for (const auto& x : r.reasons) s += "\n  " + x;
  return s;
}

const char* Name(Integrity i) {
  switch (i) {
    case Integrity::kValid:
      return "valid";
    case Integrity::kDamaged:
      return "damaged";
    case Integrity::kTruncated:
      return "truncated";
    case Integrity::kEncryptedContainer:
      return "encrypted";
  }
  return "?";
}

#define EXPECT_INTEGRITY(report, expected)  \
  EXPECT_EQ((report).integrity, (expected)) \
      << "got " << Name((report).integrity) << " reasons:" << Reasons(report)

std::string ReadWholeFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string OverwriteFrom(std::string s, std::size_t from, uint64_t seed) {
  if (from < s.size()) s.replace(from, s.size() - from, RandomBytes(s.size() - from, seed));
  return s;
}

std::string Intermittent(std::string s, std::size_t from, std::size_t span, std::size_t period,
                         uint64_t seed) {
  std::string noise = RandomBytes(s.size(), seed);
  for (std::size_t i = from; i < s.size(); i += period) {
    for (std::size_t k = i; k < std::min(s.size(), i + span); ++k) s[k] = noise[k];
  }
  return s;
}

std::string Compress(const std::string& in) {
  uLongf len = compressBound(in.size());
  std::string out(len, '\0');
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &len,
                      reinterpret_cast<const Bytef*>(in.data()), in.size(), 6),
            Z_OK);
  out.resize(len);
  return out;
}

// Text that compresses like real page content (about 3:1), so streams are sizable.
std::string PageText(std::size_t bytes, uint64_t seed) {
  static const char* kWords[] = {"ransom",  "file",   "server", "Antwerp", "steen", "block",
                                 "entropy", "header", "stream", "object",  "table", "page"};
  std::mt19937_64 rng(seed);
  std::string out;
  while (out.size() < bytes) {
    out +=
        "BT /F1 12 Tf " + std::to_string(rng() % 600) + " " + std::to_string(rng() % 800) + " Td (";
    for (int w = 0; w < 8; ++w)
      out += std::string(kWords[rng() % 12]) + std::to_string(rng() % 97) + " ";
    out += ") Tj ET\n";
  }
  return out;
}

// ---- PDF builder -----------------------------------------------------------------------------

struct PdfOptions {
  int content_streams = 2;
  std::size_t text_per_stream = 4000;
  std::size_t image_bytes = 0;  // a /DCTDecode-like binary image object
  bool encrypt = false;
  bool xref_stream = false;
};

std::string BuildPdf(const PdfOptions& o) {
  std::string pdf = "%PDF-1.5\n%\xE2\xE3\xCF\xD3\n";
  std::vector<std::size_t> offsets{0};
  auto add = [&](const std::string& body) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(offsets.size() - 1) + " 0 obj\n" + body + "\nendobj\n";
  };
  int first_content = 4;
  int image = o.image_bytes ? first_content + o.content_streams : 0;
  std::string contents = "[";
  for (int i = 0; i < o.content_streams; ++i)
    contents += std::to_string(first_content + i) + " 0 R ";
  contents += "]";
  add("<< /Type /Catalog /Pages 2 0 R >>");
  add("<< /Type /Pages /Kids [3 0 R] /Count 1 >>");
  add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents " + contents +
      (image ? " /Resources << /XObject << /Im1 " + std::to_string(image) + " 0 R >> >>" : "") +
      " >>");
  for (int i = 0; i < o.content_streams; ++i) {
    std::string data = o.encrypt ? RandomBytes(o.text_per_stream / 3, 100 + i)
                                 : Compress(PageText(o.text_per_stream, 100 + i));
    add("<< /Length " + std::to_string(data.size()) + " /Filter /FlateDecode >>\nstream\n" + data +
        "\nendstream");
  }
  if (image) {
    std::string data = RandomBytes(o.image_bytes, 7);
    add("<< /Type /XObject /Subtype /Image /Width 100 /Height 100 /BitsPerComponent 8 "
        "/ColorSpace /DeviceRGB /Filter /DCTDecode /Length " +
        std::to_string(data.size()) + " >>\nstream\n" + data + "\nendstream");
  }
  int encrypt_obj = 0;
  if (o.encrypt) {
    add("<< /Filter /Standard /V 2 /R 3 /Length 128 /P -1028 /O <" + std::string(64, 'a') +
        "> /U <" + std::string(64, 'b') + "> >>");
    encrypt_obj = static_cast<int>(offsets.size()) - 1;
  }
  std::string encrypt_ref =
      o.encrypt ? " /Encrypt " + std::to_string(encrypt_obj) + " 0 R /ID [<0102> <0102>]" : "";
  std::size_t xref_at = pdf.size();
  if (!o.xref_stream) {
    pdf += "xref\n0 " + std::to_string(offsets.size()) + "\n0000000000 65535 f \n";
    for (std::size_t i = 1; i < offsets.size(); ++i) {
      char line[32];
      std::snprintf(line, sizeof(line), "%010zu 00000 n \n", offsets[i]);
      pdf += line;
    }
    pdf += "trailer\n<< /Size " + std::to_string(offsets.size()) + " /Root 1 0 R" + encrypt_ref +
           " >>\n";
  } else {
    std::size_t self = offsets.size();
    offsets.push_back(xref_at);
    std::string rows;
    for (std::size_t i = 0; i < offsets.size(); ++i) {
      uint32_t off = static_cast<uint32_t>(offsets[i]);
      rows += static_cast<char>(i == 0 ? 0 : 1);
      for (int b = 3; b >= 0; --b) rows += static_cast<char>((off >> (8 * b)) & 0xff);
      rows += i == 0 ? std::string("\xff\xff", 2) : std::string(2, '\0');
    }
    std::string data = Compress(rows);
    pdf += std::to_string(self) + " 0 obj\n<< /Type /XRef /Size " + std::to_string(offsets.size()) +
           " /W [1 4 2] /Root 1 0 R" + encrypt_ref + " /Filter /FlateDecode /Length " +
           std::to_string(data.size()) + " >>\nstream\n" + data + "\nendstream\nendobj\n";
  }
  pdf += "startxref\n" + std::to_string(xref_at) + "\n%%EOF\n";
  return pdf;
}

class PdfTest : public ::testing::Test {
 protected:
  std::unique_ptr<const FormatValidator> v_ = MakePdfValidator();
};

TEST_F(PdfTest, MatchesHeaderOnly) {
  std::string pdf = BuildPdf({});
  EXPECT_TRUE(v_->Matches(pdf, pdf.size()));
  EXPECT_TRUE(v_->Matches("junk\n" + pdf, pdf.size() + 5));
  EXPECT_FALSE(v_->Matches("a text that mentions %PDF-1.4 in passing", 40));
  EXPECT_FALSE(v_->Matches("PK\x03\x04", 4));
}

TEST_F(PdfTest, ValidClassicXref) {
  std::string pdf = BuildPdf({});
  FormatReport r = Check(*v_, pdf);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.format, "pdf");
  EXPECT_TRUE(r.high_entropy_body);
  EXPECT_EQ(r.structure_end, pdf.size());
}

TEST_F(PdfTest, ValidXrefStream) {
  PdfOptions o;
  o.xref_stream = true;
  std::string pdf = BuildPdf(o);
  FormatReport r = Check(*v_, pdf);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, pdf.size());
}

TEST_F(PdfTest, ValidLargeWithImageAndCrlfTail) {
  PdfOptions o;
  o.content_streams = 12;
  o.text_per_stream = 60000;
  o.image_bytes = 50000;
  std::string pdf = BuildPdf(o);
  ASSERT_GT(pdf.size(), 200000u);
  pdf.replace(pdf.size() - 1, 1, "\r\n");
  FormatReport r = Check(*v_, pdf);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, pdf.size());
}

TEST_F(PdfTest, AppendedFooterKeepsStructureEnd) {
  std::string pdf = BuildPdf({});
  FormatReport r = Check(*v_, pdf + RandomBytes(1064, 3));
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, pdf.size());
}

TEST_F(PdfTest, HeaderKeptRestRandomIsDamaged) {
  for (bool xs : {false, true}) {
    PdfOptions o;
    o.xref_stream = xs;
    o.content_streams = 8;
    o.text_per_stream = 30000;
    std::string pdf = BuildPdf(o);
    for (std::size_t keep : {62u, 512u, 4096u}) {
      FormatReport r = Check(*v_, OverwriteFrom(pdf, keep, keep));
      EXPECT_INTEGRITY(r, Integrity::kDamaged);
      EXPECT_FALSE(r.damaged_ranges.empty());
    }
  }
}

TEST_F(PdfTest, TailRandomPlusFooterIsDamaged) {
  PdfOptions o;
  o.content_streams = 20;
  o.text_per_stream = 60000;
  std::string pdf = BuildPdf(o);
  ASSERT_GT(pdf.size(), 2 * limits::kTailBytes);
  std::string damaged = OverwriteFrom(pdf, pdf.size() - 64 * 1024, 9) + RandomBytes(1064, 10);
  FormatReport r = Check(*v_, damaged);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_NE(Reasons(r).find("no %%EOF"), std::string::npos) << Reasons(r);
}

TEST_F(PdfTest, MiddleRandomIsDamaged) {
  for (bool xs : {false, true}) {
    PdfOptions o;
    o.xref_stream = xs;
    o.content_streams = 12;
    o.text_per_stream = 60000;
    std::string pdf = BuildPdf(o);
    std::string damaged = pdf;
    std::size_t from = 70000, to = pdf.size() - 70000;
    ASSERT_LT(from, to);
    damaged.replace(from, to - from, RandomBytes(to - from, 11));
    FormatReport r = Check(*v_, damaged);
    EXPECT_INTEGRITY(r, Integrity::kDamaged);
  }
}

// 16 KiB of ciphertext in the middle, over a few object headers: the object after an analyzer
// sample offset is checked, and random bytes where its xref entry says it starts are decisive.
TEST_F(PdfTest, RandomBytesWhereAnObjectStartsAreDamage) {
  PdfOptions o;
  o.content_streams = 600;
  o.text_per_stream = 3000;
  const std::string pdf = BuildPdf(o);
  ASSERT_GT(pdf.size(), 512u * 1024);
  EXPECT_INTEGRITY(Check(*v_, pdf), Integrity::kValid);
  const std::vector<uint64_t> samples = SampledBlockOffsets(pdf.size(), 0, pdf.size(), 4096);
  const uint64_t middle = samples[samples.size() / 2];
  std::string damaged = pdf;
  damaged.replace(middle, 16384, RandomBytes(16384, 12));
  const FormatReport r = Check(*v_, damaged);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom);
}

TEST_F(PdfTest, IntermittentFromHeaderEndIsDamaged) {
  for (bool xs : {false, true}) {
    PdfOptions o;
    o.xref_stream = xs;
    o.content_streams = 6;
    o.text_per_stream = 20000;
    std::string pdf = BuildPdf(o);
    FormatReport r = Check(*v_, Intermittent(pdf, 512, 64, 192, 12));
    EXPECT_INTEGRITY(r, Integrity::kDamaged);
    // From offset 0 the signature is gone.
    std::string from0 = Intermittent(pdf, 0, 64, 192, 13);
    EXPECT_FALSE(v_->Matches(from0.substr(0, limits::kHeadBytes), from0.size()));
  }
}

// LockFile's 16 of every 32 bytes after an intact first 64 KiB, which garbled "startxref" but
// left "%%EOF": no xref to follow, and the head is intact. The tail's object sequence is read
// anyway and must hold: an "endobj" left in a clean cell followed by ciphertext.
TEST_F(PdfTest, FineStrideAfterAnIntactHeadWithoutStartxrefIsDamaged) {
  PdfOptions o;
  o.content_streams = 300;
  o.text_per_stream = 3000;
  const std::string pdf = BuildPdf(o);
  ASSERT_GT(pdf.size(), 3 * limits::kTailBytes);
  std::string damaged = Intermittent(pdf.substr(0, pdf.size() - 6), 64 * 1024, 16, 32, 14);
  const std::size_t startxref = pdf.rfind("startxref");
  damaged.replace(startxref, 9, RandomBytes(9, 15));
  damaged += pdf.substr(pdf.size() - 6);  // "%%EOF\n" kept
  const FormatReport r = Check(*v_, damaged);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_NE(Reasons(r).find("after endobj"), std::string::npos) << Reasons(r);

  // Without the stride, a missing startxref alone is tolerated (readers rebuild the xref).
  std::string no_startxref = pdf;
  no_startxref.replace(startxref, 9, "startxrex");
  EXPECT_INTEGRITY(Check(*v_, no_startxref), Integrity::kValid);
}

TEST_F(PdfTest, EncryptedPdfIsEncryptedContainer) {
  for (bool xs : {false, true}) {
    PdfOptions o;
    o.encrypt = true;
    o.xref_stream = xs;
    std::string pdf = BuildPdf(o);
    FormatReport r = Check(*v_, pdf);
    EXPECT_INTEGRITY(r, Integrity::kEncryptedContainer);
    // Broken structure wins over legitimate encryption.
    FormatReport d = Check(*v_, OverwriteFrom(pdf, 512, 14));
    EXPECT_INTEGRITY(d, Integrity::kDamaged);
  }
}

TEST_F(PdfTest, TruncatedIsNotDamaged) {
  PdfOptions o;
  o.content_streams = 10;
  o.text_per_stream = 40000;
  std::string pdf = BuildPdf(o);
  for (std::size_t cut : {pdf.size() / 2, pdf.size() / 3, pdf.size() - 200}) {
    FormatReport r = Check(*v_, pdf.substr(0, cut));
    EXPECT_NE(r.integrity, Integrity::kDamaged) << "cut at " << cut << Reasons(r);
  }
}

TEST_F(PdfTest, OffsetsOffByALittleAreTolerated) {
  std::string pdf = BuildPdf({});
  // Prefix junk shifts every offset (readers accept it; offsets count from %PDF-).
  FormatReport r = Check(*v_, "garbage line\n" + pdf);
  EXPECT_NE(r.integrity, Integrity::kDamaged) << Reasons(r);
}

TEST_F(PdfTest, IncrementalUpdateIsValid) {
  std::string pdf = BuildPdf({});
  std::size_t old_xref = pdf.find("\nxref\n") + 1;
  std::size_t obj_at = pdf.size();
  pdf += "5 0 obj\n<< /Producer (update) >>\nendobj\n";
  std::size_t xref_at = pdf.size();
  char line[32];
  std::snprintf(line, sizeof(line), "%010zu 00000 n \n", obj_at);
  pdf += "xref\n0 1\n0000000000 65535 f \n5 1\n" + std::string(line) +
         "trailer\n<< /Size 6 /Root 1 0 R /Info 5 0 R /Prev " + std::to_string(old_xref) +
         " >>\nstartxref\n" + std::to_string(xref_at) + "\n%%EOF\n";
  FormatReport r = Check(*v_, pdf);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, pdf.size());
  // Damage to the original revision's objects is still found through /Prev.
  std::string damaged = pdf;
  damaged.replace(200, old_xref - 250, RandomBytes(old_xref - 250, 21));
  EXPECT_INTEGRITY(Check(*v_, damaged), Integrity::kDamaged);
}

// A linearized layout: the first-page xref sits near the head, the file's last startxref points
// to it, and its /Prev points to the main xref at the end.
TEST_F(PdfTest, LinearizedLayoutIsValid) {
  const int objects = 12;
  std::vector<std::string> bodies;
  for (int i = 2; i <= objects; ++i) {
    std::string data = Compress(PageText(20000, i));
    bodies.push_back(std::to_string(i) + " 0 obj\n<< /Length " + std::to_string(data.size()) +
                     " /Filter /FlateDecode >>\nstream\n" + data + "\nendstream\nendobj\n");
  }
  std::string head = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::string lin = "1 0 obj\n<< /Linearized 1 /L 0000000000 /O 2 /E 0 /N 1 /T 0 >>\nendobj\n";
  auto entry = [](std::size_t off) {
    char line[32];
    std::snprintf(line, sizeof(line), "%010zu 00000 n \n", off);
    return std::string(line);
  };
  // First-page xref covers objects 1..objects; its size does not depend on the offsets.
  auto first_xref = [&](std::size_t prev, const std::vector<std::size_t>& offs) {
    std::string x = "xref\n0 " + std::to_string(objects + 1) + "\n0000000000 65535 f \n";
    for (std::size_t off : offs) x += entry(off);
    char p[16];
    std::snprintf(p, sizeof(p), "%010zu", prev);
    return x + "trailer\n<< /Size " + std::to_string(objects + 1) + " /Root 2 0 R /Prev " + p +
           " >>\nstartxref\n0\n%%EOF\n";
  };
  std::vector<std::size_t> offs(objects, 0);
  std::size_t xref1_at = head.size() + lin.size();
  std::size_t body_at = xref1_at + first_xref(0, offs).size();
  offs[0] = head.size();
  std::size_t at = body_at;
  for (int i = 0; i + 1 < objects; ++i) {
    offs[i + 1] = at;
    at += bodies[i].size();
  }
  std::size_t main_xref_at = at;
  std::string pdf = head + lin + first_xref(main_xref_at, offs);
  for (const auto& b : bodies) pdf += b;
  ASSERT_EQ(pdf.size(), main_xref_at);
  pdf += "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size " + std::to_string(objects + 1) +
         " >>\nstartxref\n" + std::to_string(xref1_at) + "\n%%EOF\n";
  FormatReport r = Check(*v_, pdf);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, pdf.size());
  std::string middle = pdf;
  middle.replace(2000, pdf.size() - 4000, RandomBytes(pdf.size() - 4000, 22));
  EXPECT_INTEGRITY(Check(*v_, middle), Integrity::kDamaged);
  EXPECT_INTEGRITY(Check(*v_, Intermittent(pdf, 512, 64, 192, 23)), Integrity::kDamaged);
}

TEST_F(PdfTest, HostileInputsDoNotCrash) {
  std::string deep = "%PDF-1.4\n1 0 obj\n" + std::string(200000, '<') + "\nendobj\ntrailer\n" +
                     std::string(100000, '[') + "\nstartxref\n99999999999999999999999\n%%EOF\n";
  (void)Check(*v_, deep);
  std::string nested =
      "%PDF-1.4\nxref\n0 99999999999\ntrailer << /Prev 9 /Prev 9 >>\n"
      "startxref\n9\n%%EOF";
  (void)Check(*v_, nested);
  std::string loop = "%PDF-1.4\n";
  std::size_t at = loop.size();
  loop += "xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Prev " + std::to_string(at) + " /XRefStm " +
          std::to_string(at) + " >>\nstartxref\n" + std::to_string(at) + "\n%%EOF\n";
  (void)Check(*v_, loop);
  for (int i = 0; i < 200; ++i) {
    std::string junk = "%PDF-1.7\n" + RandomBytes(1 + i * 37, 1000 + i);
    (void)Check(*v_, junk);
    (void)Check(*v_, junk + "\nstartxref\n12\n%%EOF");
  }
  (void)Check(*v_, "");
  (void)Check(*v_, "%PDF-");
}

// Real PDFs shipped in Debian packages, when installed.
std::vector<std::string> RealFiles(const std::vector<std::string>& candidates) {
  std::vector<std::string> out;
  for (const auto& path : candidates) {
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    out.push_back(ss.str());
  }
  return out;
}

TEST_F(PdfTest, RealPdfsOnThisMachine) {
  std::vector<std::string> files =
      RealFiles({"/usr/share/doc/libtasn1-doc/libtasn1.pdf",
                 "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf"});
  if (files.empty()) GTEST_SKIP() << "no PDFs under /usr/share/doc";
  for (const std::string& pdf : files) {
    ASSERT_TRUE(v_->Matches(pdf.substr(0, limits::kHeadBytes), pdf.size()));
    FormatReport r = Check(*v_, pdf);
    EXPECT_INTEGRITY(r, Integrity::kValid);
    EXPECT_EQ(r.structure_end, pdf.size());
    EXPECT_INTEGRITY(Check(*v_, OverwriteFrom(pdf, 62, 1)), Integrity::kDamaged);
    EXPECT_INTEGRITY(Check(*v_, Intermittent(pdf, 512, 64, 192, 2)), Integrity::kDamaged);
    std::string tail = OverwriteFrom(pdf, pdf.size() - 64 * 1024, 3) + RandomBytes(1064, 4);
    EXPECT_INTEGRITY(Check(*v_, tail), Integrity::kDamaged);
    std::string middle = pdf;
    middle.replace(pdf.size() / 4, pdf.size() / 2, RandomBytes(pdf.size() / 2, 5));
    EXPECT_INTEGRITY(Check(*v_, middle), Integrity::kDamaged);
    FormatReport footer = Check(*v_, pdf + RandomBytes(1064, 6));
    EXPECT_INTEGRITY(footer, Integrity::kValid);
    EXPECT_EQ(footer.structure_end, pdf.size());
    EXPECT_NE(Check(*v_, pdf.substr(0, pdf.size() / 2)).integrity, Integrity::kDamaged);
  }
}

// ---- OLE2 builder ----------------------------------------------------------------------------

void PutLE32(std::string& s, std::size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutLE16(std::string& s, std::size_t at, uint16_t v) {
  s[at] = static_cast<char>(v & 0xff);
  s[at + 1] = static_cast<char>(v >> 8);
}

struct OleStream {
  std::string name;
  std::string data;  // >= 4096 bytes so it lives in regular sectors
};

// A minimal version-3 compound file: header, FAT sectors, one directory chain, streams. Every
// stream is a child of the root, chained through right siblings.
std::string BuildOle2(const std::vector<OleStream>& streams, uint16_t shift = 9) {
  const uint32_t ss = 1u << shift, per = ss / 4, dir_per = ss / 128;
  uint32_t entries = static_cast<uint32_t>(streams.size()) + 1;
  uint32_t dir_sectors = (entries + dir_per - 1) / dir_per;
  uint32_t data_sectors = 0;
  for (const auto& s : streams) data_sectors += (s.data.size() + ss - 1) / ss;
  uint32_t num_fat = 1;
  while (num_fat * per < num_fat + dir_sectors + data_sectors) ++num_fat;
  uint32_t total = num_fat + dir_sectors + data_sectors;
  std::string file((total + 1) * ss, '\0');
  std::string header("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", 8);
  file.replace(0, 8, header);
  PutLE16(file, 24, 0x3E);
  PutLE16(file, 26, shift == 9 ? 3 : 4);
  PutLE16(file, 28, 0xFFFE);
  PutLE16(file, 30, shift);
  PutLE16(file, 32, 6);
  if (shift == 12) PutLE32(file, 40, dir_sectors);
  PutLE32(file, 44, num_fat);
  PutLE32(file, 48, num_fat);  // directory follows the FAT
  PutLE32(file, 56, 4096);
  PutLE32(file, 60, 0xFFFFFFFE);
  PutLE32(file, 68, 0xFFFFFFFE);
  for (int i = 0; i < 109; ++i)
    PutLE32(file, 76 + 4 * i, i < static_cast<int>(num_fat) ? i : 0xFFFFFFFF);
  std::vector<uint32_t> fat(num_fat * per, 0xFFFFFFFF);
  for (uint32_t i = 0; i < num_fat; ++i) fat[i] = 0xFFFFFFFD;
  auto chain = [&](uint32_t first, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i)
      fat[first + i] = i + 1 < count ? first + i + 1 : 0xFFFFFFFE;
  };
  chain(num_fat, dir_sectors);
  auto entry_at = [&](uint32_t index) {
    return (num_fat + index / dir_per + 1) * ss + (index % dir_per) * 128;
  };
  auto write_entry = [&](uint32_t index, const std::string& name, uint8_t type, uint32_t right,
                         uint32_t child, uint32_t start, uint32_t size) {
    std::size_t at = entry_at(index);
    for (std::size_t i = 0; i < name.size(); ++i) PutLE16(file, at + 2 * i, name[i]);
    PutLE16(file, at + 64, static_cast<uint16_t>(2 * name.size() + 2));
    file[at + 66] = static_cast<char>(type);
    file[at + 67] = 1;  // black
    PutLE32(file, at + 68, 0xFFFFFFFF);
    PutLE32(file, at + 72, right);
    PutLE32(file, at + 76, child);
    PutLE32(file, at + 116, start);
    PutLE32(file, at + 120, size);
  };
  write_entry(0, "Root Entry", 5, 0xFFFFFFFF, streams.empty() ? 0xFFFFFFFF : 1, 0xFFFFFFFE, 0);
  uint32_t next = num_fat + dir_sectors;
  for (std::size_t i = 0; i < streams.size(); ++i) {
    uint32_t count = (streams[i].data.size() + ss - 1) / ss;
    chain(next, count);
    write_entry(i + 1, streams[i].name, 2, i + 1 < streams.size() ? i + 2 : 0xFFFFFFFF, 0xFFFFFFFF,
                next, static_cast<uint32_t>(streams[i].data.size()));
    file.replace((next + 1) * ss, streams[i].data.size(), streams[i].data);
    next += count;
  }
  for (uint32_t i = 0; i < fat.size(); ++i) {
    PutLE32(file, (i / per + 1) * ss + (i % per) * 4, fat[i]);
  }
  file.resize((total + 1) * ss);
  return file;
}

std::string Structured(std::size_t n, std::string_view magic, uint64_t seed) {
  std::string s(magic);
  std::mt19937_64 rng(seed);
  while (s.size() < n) {
    // Records: small type/length headers followed by text, like BIFF or Word text.
    s += static_cast<char>(rng() % 8);
    s += '\0';
    s += "cell value " + std::to_string(rng() % 100000) + " ";
  }
  s.resize(n);
  return s;
}

std::string BuildDoc(std::size_t word_bytes = 20000) {
  return BuildOle2(
      {{"WordDocument", Structured(word_bytes, std::string_view("\xEC\xA5\xC1\x00", 4), 1)},
       {"1Table", Structured(8192, "", 2)},
       {"\x05SummaryInformation", Structured(4096, "\xFE\xFF", 3)}});
}

class Ole2Test : public ::testing::Test {
 protected:
  std::unique_ptr<const FormatValidator> v_ = MakeOle2Validator();
};

TEST_F(Ole2Test, ValidAndNamed) {
  std::string doc = BuildDoc();
  ASSERT_TRUE(v_->Matches(doc, doc.size()));
  FormatReport r = Check(*v_, doc);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.format, "doc");
  EXPECT_FALSE(r.high_entropy_body);
  EXPECT_EQ(r.structure_end, doc.size());

  std::string xls =
      BuildOle2({{"Workbook", Structured(9000, std::string_view("\x09\x08\x10\x00", 4), 4)}});
  EXPECT_EQ(Check(*v_, xls).format, "xls");
  EXPECT_INTEGRITY(Check(*v_, xls), Integrity::kValid);
  std::string ppt = BuildOle2({{"PowerPoint Document", Structured(5000, "", 5)},
                               {"Current User", Structured(4096, "", 6)}});
  EXPECT_EQ(Check(*v_, ppt).format, "ppt");
  std::string msg = BuildOle2({{"__substg1.0_0037001F", Structured(4096, "", 7)},
                               {"__properties_version1.0", Structured(4096, "", 8)}});
  EXPECT_EQ(Check(*v_, msg).format, "msg");
  std::string other = BuildOle2({{"Contents", Structured(4096, "", 9)}});
  EXPECT_EQ(Check(*v_, other).format, "ole2");
}

TEST_F(Ole2Test, LargeFileWithManyFatSectors) {
  std::string doc = BuildDoc(300000);  // ~590 sectors: 5 FAT sectors
  FormatReport r = Check(*v_, doc);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, doc.size());
  EXPECT_INTEGRITY(Check(*v_, OverwriteFrom(doc, 512, 1)), Integrity::kDamaged);
  EXPECT_INTEGRITY(Check(*v_, Intermittent(doc, 512, 64, 192, 2)), Integrity::kDamaged);
}

TEST_F(Ole2Test, Version4With4KiBSectors) {
  std::string xls =
      BuildOle2({{"Workbook", Structured(300000, std::string_view("\x09\x08\x10\x00", 4), 4)},
                 {"\x05SummaryInformation", Structured(4096, "", 5)}},
                12);
  FormatReport r = Check(*v_, xls);
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.format, "xls");
  EXPECT_EQ(r.structure_end, xls.size());
  EXPECT_INTEGRITY(Check(*v_, OverwriteFrom(xls, 512, 1)), Integrity::kDamaged);
  EXPECT_INTEGRITY(Check(*v_, Intermittent(xls, 512, 64, 192, 2)), Integrity::kDamaged);
}

TEST_F(Ole2Test, EncryptedOfficePackage) {
  std::string enc =
      BuildOle2({{"EncryptionInfo", Structured(4096, std::string_view("\x04\x00\x04\x00", 4), 1)},
                 {"EncryptedPackage", RandomBytes(20000, 2)}});
  FormatReport r = Check(*v_, enc);
  EXPECT_INTEGRITY(r, Integrity::kEncryptedContainer);
}

TEST_F(Ole2Test, HeaderKeptRestRandomIsDamaged) {
  std::string doc = BuildDoc();
  for (std::size_t keep : {62u, 76u, 512u}) {
    FormatReport r = Check(*v_, OverwriteFrom(doc, keep, keep));
    EXPECT_INTEGRITY(r, Integrity::kDamaged);
    EXPECT_FALSE(r.damaged_ranges.empty());
  }
}

// Everything after the header bit-flipped: the FAT and directory sectors, inverted back, are
// valid again.
TEST_F(Ole2Test, BitFlippedAfterTheHeaderIsTransformed) {
  std::string doc = BuildDoc();
  doc.replace(512, std::string::npos, Inverted(doc.substr(512)));
  const FormatReport r = Check(*v_, doc);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kTransformed) << Reasons(r);
}

TEST_F(Ole2Test, IntermittentIsDamagedOrUnmatched) {
  std::string doc = BuildDoc();
  EXPECT_INTEGRITY(Check(*v_, Intermittent(doc, 512, 64, 192, 3)), Integrity::kDamaged);
  EXPECT_INTEGRITY(Check(*v_, Intermittent(doc, 512, 16, 32, 4)), Integrity::kDamaged);
  std::string from0 = Intermittent(doc, 0, 64, 192, 5);
  EXPECT_FALSE(v_->Matches(from0, from0.size()));
}

// One structure found random where the rest is fine (ciphertext in the middle of a document):
// damage, where one odd structure alone is tolerated.
TEST_F(Ole2Test, RandomBytesWhereAStreamMustStartAreDamage) {
  const std::string doc = BuildDoc();
  const std::size_t word = doc.find(std::string_view("\xEC\xA5\xC1\x00", 4), 512);
  ASSERT_NE(word, std::string::npos);
  std::string random = doc;
  random.replace(word, 512, RandomBytes(512, 7));
  FormatReport r = Check(*v_, random);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom);
  std::string zeroed = doc;
  zeroed.replace(word, 512, std::string(512, '\0'));
  EXPECT_INTEGRITY(Check(*v_, zeroed), Integrity::kValid);
}

// A directory of many entries whose last sectors lie in an encrypted tail: a minority of its
// entries are malformed (a few stale slots are tolerated), but side by side and random.
TEST_F(Ole2Test, RandomDirectorySectorAmongManyEntriesIsDamage) {
  std::vector<OleStream> streams;
  for (int i = 0; i < 40; ++i) {
    streams.push_back({"S" + std::to_string(i), Structured(4096, "", 20 + i)});
  }
  const std::string doc = BuildOle2(streams);
  EXPECT_INTEGRITY(Check(*v_, doc), Integrity::kValid);
  // Entry 36 (stream S35: the root is entry 0) opens a 512-byte directory sector of 4 entries.
  const std::size_t sector = doc.find(std::string("S\0003\0005\000\000", 8));
  ASSERT_NE(sector, std::string::npos);
  ASSERT_EQ(sector % 512, 0u);

  std::string random = doc;
  random.replace(sector, 512, RandomBytes(512, 11));
  const FormatReport r = Check(*v_, random);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom) << Reasons(r);

  // The same entries malformed but not random (stale bytes, a writer's leftovers): tolerated.
  std::string stale = doc;
  stale.replace(sector, 512, Structured(512, "", 99));
  EXPECT_INTEGRITY(Check(*v_, stale), Integrity::kValid);
}

TEST_F(Ole2Test, AppendedFooterAndTruncation) {
  std::string doc = BuildDoc();
  FormatReport r = Check(*v_, doc + RandomBytes(1064, 6));
  EXPECT_INTEGRITY(r, Integrity::kValid);
  EXPECT_EQ(r.structure_end, doc.size());
  for (std::size_t cut : {doc.size() / 2, doc.size() - 512, std::size_t{600}}) {
    FormatReport t = Check(*v_, doc.substr(0, cut));
    EXPECT_NE(t.integrity, Integrity::kDamaged) << "cut " << cut << Reasons(t);
  }
}

TEST_F(Ole2Test, HostileInputsDoNotCrash) {
  std::string doc = BuildDoc();
  // Directory chain that loops onto itself, and huge counts.
  std::string loop = doc;
  PutLE32(loop, 48, 0);
  (void)Check(*v_, loop);
  std::string big = doc;
  PutLE32(big, 44, 0xFFFFFFF0);
  PutLE32(big, 72, 0xFFFFFFF0);
  PutLE32(big, 68, 1);
  (void)Check(*v_, big);
  for (int i = 0; i < 200; ++i) {
    std::string junk = doc.substr(0, 76) + RandomBytes(100 + i * 53, 500 + i);
    (void)Check(*v_, junk);
  }
  (void)Check(*v_, doc.substr(0, 8));
}

// ---- SQLite ----------------------------------------------------------------------------------

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("steen_sqlite_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Builds a database with python3's sqlite3 module; empty when python3 is absent. Blobs are random
  // bytes of 0, 10 or 3000 bytes, or of `blob_bytes` each.
  std::string MakeDb(const std::string& pragmas, int rows, int blob_bytes = 0) {
    std::string path = (dir_ / "t.db").string();
    std::filesystem::remove(path);
    std::string script = dir_ / "make.py";
    std::ofstream(script)
        << "import sqlite3, random, sys\n"
           "random.seed(1)\n"
           "c = sqlite3.connect(sys.argv[1])\n"
           "for p in sys.argv[3].split(';'):\n"
           "    if p: c.execute(p)\n"
           "c.execute('create table t(id integer primary key, name text, "
           "score real, blob blob)')\n"
           "c.execute('create index ti on t(name)')\n"
           "for i in range(int(sys.argv[2])):\n"
           "    c.execute('insert into t(name, score, blob) values (?,?,?)', "
           "('name %d %s' % (i, 'x' * random.randint(0, 80)), random.random(), "
           "random.randbytes(int(sys.argv[4]) or random.choice([0, 10, 3000]))))\n"
           "c.execute('delete from t where id % 7 = 0')\n"
           "c.commit()\n"
           "c.close()\n";
    std::string cmd = "python3 " + script + " " + path + " " + std::to_string(rows) + " '" +
                      pragmas + "' " + std::to_string(blob_bytes) + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) return {};
    return ReadWholeFile(path);
  }

  std::filesystem::path dir_;
  std::unique_ptr<const FormatValidator> v_ = MakeSqliteValidator();
};

TEST_F(SqliteTest, ValidDatabases) {
  for (const std::string& pragmas :
       {std::string(""), std::string("pragma page_size=1024"),
        std::string("pragma page_size=65536"), std::string("pragma auto_vacuum=full")}) {
    std::string db = MakeDb(pragmas, 1500);
    if (db.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
    ASSERT_TRUE(v_->Matches(db, db.size()));
    FormatReport r = Check(*v_, db);
    EXPECT_INTEGRITY(r, Integrity::kValid) << " pragmas: " << pragmas;
    EXPECT_EQ(r.format, "sqlite");
    EXPECT_TRUE(r.high_entropy_body);  // its pages' headers are the evidence, not its blocks
    EXPECT_EQ(r.structure_end, db.size());
  }
}

// Applications keep compressed or encrypted blobs in databases (favicons, thumbnails, secrets):
// most blocks random, every page plausible. Intact; it was "97% of 96 4 KiB blocks random inside a
// sqlite file, whose content is not random".
TEST_F(SqliteTest, DatabaseOfRandomBlobsIsIntact) {
  static const ContentAnalyzer analyzer;
  for (const std::string& pragmas : {std::string(""), std::string("pragma page_size=65536")}) {
    const std::string db = MakeDb(pragmas, 40, 100000);
    if (db.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
    MemoryByteSource source(db);
    auto a = analyzer.Analyze(source);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->format, "sqlite");
    EXPECT_EQ(a->verdict, Verdict::kIntact) << pragmas << ": " << a->reasons[0];
    // Its pages encrypted after the first 64 KiB: the page headers tell.
    std::string encrypted = db;
    encrypted.replace(65536, std::string::npos, RandomBytes(db.size() - 65536, 4));
    MemoryByteSource damaged(encrypted);
    EXPECT_EQ(analyzer.Analyze(damaged)->verdict, Verdict::kDamaged) << pragmas;
  }
}

TEST_F(SqliteTest, DamageAndTruncation) {
  std::string db = MakeDb("", 1500);
  if (db.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
  for (std::size_t keep : {62u, 100u, 512u, 4096u}) {
    FormatReport r = Check(*v_, OverwriteFrom(db, keep, keep));
    EXPECT_INTEGRITY(r, Integrity::kDamaged) << "keep " << keep;
  }
  EXPECT_INTEGRITY(Check(*v_, Intermittent(db, 512, 64, 192, 1)), Integrity::kDamaged);
  EXPECT_INTEGRITY(Check(*v_, Intermittent(db, 100, 16, 32, 2)), Integrity::kDamaged);
  // 4 KiB blocks evenly spaced (Hive-like), leaving page 1 alone.
  std::string hive = db;
  for (std::size_t at = 8192; at + 4096 <= hive.size(); at += 4096 * 3) {
    hive.replace(at, 4096, RandomBytes(4096, at));
  }
  EXPECT_INTEGRITY(Check(*v_, hive), Integrity::kDamaged);
  FormatReport footer = Check(*v_, db + RandomBytes(1064, 3));
  EXPECT_INTEGRITY(footer, Integrity::kValid);
  EXPECT_EQ(footer.structure_end, db.size());
  for (std::size_t cut : {db.size() / 2, db.size() - 100, std::size_t{5000}}) {
    FormatReport t = Check(*v_, db.substr(0, cut));
    EXPECT_NE(t.integrity, Integrity::kDamaged) << "cut " << cut << Reasons(t);
  }
}

// The last page encrypted (a tail-only layout): one implausible page of many, which a stale
// freelist page can be too, but random throughout.
TEST_F(SqliteTest, OneRandomPageIsDamage) {
  std::string db = MakeDb("", 1500);
  if (db.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
  std::string tail = db;
  tail.replace(db.size() - 4096, 4096, RandomBytes(4096, 9));
  FormatReport r = Check(*v_, tail);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom);
  // Page 2 (always sampled; a b-tree root here) bit-flipped (255 - b): its statistics unchanged.
  ASSERT_EQ(db[4096] & 0xf0, 0) << "page 2 is not a b-tree page";
  std::string flipped = db;
  for (std::size_t i = 4096; i < 8192; ++i) flipped[i] = static_cast<char>(~db[i]);
  r = Check(*v_, flipped);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kTransformed);
  std::string text_page = db;  // implausible but not random: tolerated
  text_page.replace(db.size() - 4096, 4096, PageText(4096, 3));
  EXPECT_INTEGRITY(Check(*v_, text_page), Integrity::kValid);
}

// 64 KiB encrypted in the middle of a database of some MiB: between the evenly spaced pages, but
// where the analyzer's own sample blocks are read, whose pages are checked too.
TEST_F(SqliteTest, RandomPagesBetweenTheEvenSamplesAreFound) {
  std::string db = MakeDb("", 6000);
  if (db.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
  ASSERT_GT(db.size(), 3u << 20);
  const std::vector<uint64_t> samples = SampledBlockOffsets(db.size(), 0, db.size(), 4096);
  ASSERT_FALSE(samples.empty());
  const uint64_t middle = samples[samples.size() / 2];
  std::string damaged = db;
  damaged.replace(middle - 8192, 65536, RandomBytes(65536, 4));
  FormatReport r = Check(*v_, damaged);
  EXPECT_INTEGRITY(r, Integrity::kDamaged);
  EXPECT_EQ(r.evidence, DamageEvidence::kRandom);
  EXPECT_INTEGRITY(Check(*v_, db), Integrity::kValid);
}

TEST_F(SqliteTest, HostileInputsDoNotCrash) {
  std::string header("SQLite format 3\0", 16);
  for (int i = 0; i < 300; ++i) {
    std::string junk = header + RandomBytes(84 + i * 61, 900 + i);
    junk[16] = 0x10;  // page size 4096
    junk[17] = 0;
    junk[21] = 0x40;
    junk[22] = junk[23] = 0x20;
    junk[18] = junk[19] = 1;
    if (junk.size() > 100) junk[100] = 0x0d;
    (void)Check(*v_, junk);
  }
  (void)Check(*v_, header);
}

// ---- SQLite rollback journal and write-ahead log ------------------------------------------------

// A rollback journal and a WAL written by SQLite itself: the journal copied while a transaction
// that spilled its cache is open (a hot journal), the WAL after a few transactions.
class SqliteLogTest : public SqliteTest {
 protected:
  struct Logs {
    std::string journal, wal;
  };
  Logs MakeLogs() {
    const std::filesystem::path script = dir_ / "logs.py";
    std::ofstream(script)
        << "import random, shutil, sqlite3, sys\n"
           "random.seed(1)\n"
           "d = sys.argv[1]\n"
           "c = sqlite3.connect(d + '/t.db', isolation_level=None)\n"
           "c.execute('create table t(id integer primary key, name text, score real, b blob)')\n"
           "c.execute('create index ti on t(name)')\n"
           "c.execute('begin')\n"
           "for i in range(3000):\n"
           "    c.execute('insert into t(name, score, b) values (?,?,?)', ('name %d %s' % (i, "
           "'x' * random.randint(0, 80)), random.random(), random.randbytes(random.choice([0, 10, "
           "300]))))\n"
           "c.execute('commit')\n"
           "c.execute('pragma cache_size=8')\n"
           "c.execute('begin')\n"
           "for i in range(1, 3001, 3):\n"
           "    c.execute(\"update t set name = name || ' changed' where id = ?\", (i,))\n"
           "shutil.copy(d + '/t.db-journal', d + '/journal')\n"
           "c.execute('rollback')\n"
           "c.execute('pragma journal_mode=wal')\n"
           "for k in range(5):\n"
           "    c.execute('begin')\n"
           "    for i in range(k + 1, 3001, 7):\n"
           "        c.execute('update t set score = score + 1 where id = ?', (i,))\n"
           "    c.execute('commit')\n"
           "shutil.copy(d + '/t.db-wal', d + '/wal')\n";
    const std::string cmd = "python3 " + script.string() + " " + dir_.string() + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) return {};
    return {ReadWholeFile(dir_ / "journal"), ReadWholeFile(dir_ / "wal")};
  }

  std::unique_ptr<const FormatValidator> journal_ = MakeSqliteJournalValidator();
  std::unique_ptr<const FormatValidator> wal_ = MakeSqliteWalValidator();
};

// SQLite's default journal mode writes, syncs and deletes a journal for every write transaction;
// its b-tree cells read like intermittent ciphertext to statistics alone. `steen watch` flagged
// every transaction of a SQLite write load as "new files with random content".
TEST_F(SqliteLogTest, JournalAndWalOfRealTransactionsAreIntact) {
  const Logs logs = MakeLogs();
  if (logs.journal.empty() || logs.wal.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
  ASSERT_GT(logs.journal.size(), 100000u);
  ASSERT_GT(logs.wal.size(), 100000u);
  static const ContentAnalyzer analyzer;
  for (const auto& [bytes, v, format] : {std::tuple{logs.journal, journal_.get(), "sqlite-journal"},
                                         std::tuple{logs.wal, wal_.get(), "sqlite-wal"}}) {
    ASSERT_TRUE(v->Matches(bytes, bytes.size())) << format;
    FormatReport r = Check(*v, bytes);
    EXPECT_INTEGRITY(r, Integrity::kValid) << format;
    EXPECT_EQ(r.format, format);
    MemoryByteSource source(bytes);
    auto a = analyzer.Analyze(source);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->format, format);
    EXPECT_EQ(a->verdict, Verdict::kIntact) << format << ": " << a->reasons[0];
  }
}

TEST_F(SqliteLogTest, EncryptedJournalsAndWalsAreDamaged) {
  const Logs logs = MakeLogs();
  if (logs.journal.empty() || logs.wal.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
  static const ContentAnalyzer analyzer;
  // The header kept (the journal's first sector, the WAL's 32 bytes), the rest damaged.
  for (const auto& [bytes, v, keep] :
       {std::tuple{logs.journal, journal_.get(), 512u}, std::tuple{logs.wal, wal_.get(), 32u}}) {
    const std::string name(v->name());
    EXPECT_INTEGRITY(Check(*v, OverwriteFrom(bytes, keep, 5)), Integrity::kDamaged) << name;
    EXPECT_INTEGRITY(Check(*v, Intermittent(bytes, keep, 64, 192, 6)), Integrity::kDamaged) << name;
    std::string middle = bytes;
    middle.replace(bytes.size() / 2, 65536, RandomBytes(65536, 7));
    EXPECT_INTEGRITY(Check(*v, middle), Integrity::kDamaged) << name;
    std::string flipped = bytes;
    for (std::size_t i = keep; i < flipped.size(); ++i) flipped[i] = static_cast<char>(~bytes[i]);
    MemoryByteSource source(flipped);
    EXPECT_EQ(analyzer.Analyze(source)->verdict, Verdict::kDamaged) << name;
    // The whole file encrypted: no signature left, damaged by its statistics.
    const std::string ciphertext = RandomBytes(bytes.size(), 8);
    MemoryByteSource all(ciphertext);  // holds a view: the bytes must outlive it
    EXPECT_EQ(analyzer.Analyze(all)->verdict, Verdict::kDamaged) << name;
  }
}

// An encrypted database's log (SQLCipher): the WAL's headers and checksums in the clear over
// random pages. Intact; its frame headers destroyed, damaged.
TEST(SqliteWalTest, LogOfEncryptedPagesIsIntact) {
  constexpr uint32_t kPage = 1024;
  auto put_be = [](std::string& s, std::size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
  };
  uint32_t s0 = 0, s1 = 0;
  auto checksum = [&](std::string_view bytes) {  // SQLite's, big-endian words (magic 0x377f0683)
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
      s0 += LoadBE<uint32_t>(bytes, i).value() + s1;
      s1 += LoadBE<uint32_t>(bytes, i + 4).value() + s0;
    }
  };
  std::string wal(32, '\0');
  put_be(wal, 0, 0x377f0683);
  put_be(wal, 4, 3007000);
  put_be(wal, 8, kPage);
  put_be(wal, 16, 0x1234);  // salts
  put_be(wal, 20, 0x5678);
  checksum(std::string_view(wal).substr(0, 24));
  put_be(wal, 24, s0);
  put_be(wal, 28, s1);
  for (uint32_t f = 0; f < 400; ++f) {
    std::string frame(24, '\0');
    put_be(frame, 0, 2 + f % 50);
    put_be(frame, 4, f % 10 == 9 ? 60 : 0);
    frame.replace(8, 8, wal.substr(16, 8));
    const std::string page = RandomBytes(kPage, 100 + f);
    checksum(std::string_view(frame).substr(0, 8));
    checksum(page);
    put_be(frame, 16, s0);
    put_be(frame, 20, s1);
    wal += frame + page;
  }
  std::unique_ptr<const FormatValidator> v = MakeSqliteWalValidator();
  FormatReport r = Check(*v, wal);
  EXPECT_INTEGRITY(r, Integrity::kValid) << Reasons(r);
  static const ContentAnalyzer analyzer;
  MemoryByteSource source(wal);
  EXPECT_EQ(analyzer.Analyze(source)->verdict, Verdict::kIntact);
  EXPECT_INTEGRITY(Check(*v, OverwriteFrom(wal, 32, 9)), Integrity::kDamaged);
}

TEST_F(SqliteLogTest, CutAndHostileLogsDoNotCrash) {
  const Logs logs = MakeLogs();
  if (logs.journal.empty() || logs.wal.empty()) GTEST_SKIP() << "python3 sqlite3 unavailable";
  for (const auto& [bytes, v] :
       {std::pair{logs.journal, journal_.get()}, std::pair{logs.wal, wal_.get()}}) {
    for (std::size_t cut : {std::size_t{4}, std::size_t{27}, std::size_t{31}, std::size_t{600},
                            bytes.size() / 3, bytes.size() - 1}) {
      FormatReport r = Check(*v, bytes.substr(0, cut));
      EXPECT_NE(r.integrity, Integrity::kDamaged) << v->name() << " cut " << cut << Reasons(r);
    }
    for (int i = 0; i < 200; ++i) {
      std::string junk = bytes.substr(0, 32) + RandomBytes(40 + i * 97, 700 + i);
      junk[20] = static_cast<char>(i);  // journal sector size / WAL salt
      (void)Check(*v, junk);
      (void)Check(*v, bytes.substr(0, 28 + i));
    }
  }
}

}  // namespace
}  // namespace steen::content
