// Tests of the text validator: encodings (UTF-8 with accents, Latin-1, UTF-16), subtypes, and the
// damage patterns ransomware leaves in text (intermittent random spans, random tail, footers),
// against the legitimate oddities of real text (accents, NUL padding, form feeds, ANSI escapes).
#include "content/formats/text_formats.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "unit/content/system_test_support.h"

namespace steen::content {
namespace {

using testing::Intermittent;
using testing::KeepHeadRandomRest;
using testing::RandomBytes;
using testing::RandomTail;
using testing::RunValidator;

std::string Join(const std::vector<std::string>& reasons) {
  std::string out;
  for (const auto& r : reasons) out += r + "; ";
  return out;
}

// Varied lines of Dutch / French / German text in UTF-8, repeated up to `size` bytes.
std::string Utf8Text(std::size_t size) {
  static const char* kLines[] = {
      "Het café aan de overkant serveert één keer per week crème brûlée.",
      "Les élèves français étudient à l'école où naïve Noël se répète.",
      "Die Größe der Bäume überrascht die Müller-Familie jedes Jahr.",
      "Zeeën, ideeën en coöperatie: de Nederlandse spelling kent trema's.",
      "Plain ASCII line with numbers 12345 and punctuation (!?;:).",
      "Ça coûte 15 € — déjà payé, merci beaucoup.",
  };
  std::string out;
  for (int i = 0; out.size() < size; ++i) {
    out += std::to_string(i) + " ";
    out += kLines[(i * 7) % 6];
    out += '\n';
  }
  out.resize(size);
  return out;
}

// The same text converted to Latin-1 (every character here is in Latin-1 except €).
std::string ToLatin1(const std::string& utf8) {
  std::string out;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if ((c & 0xe0) == 0xc0 && i + 1 < utf8.size()) {
      out += static_cast<char>(((c & 0x1f) << 6) | (utf8[i + 1] & 0x3f));
      ++i;
    } else if ((c & 0xf0) == 0xe0) {
      out += c == 0xe2 && static_cast<unsigned char>(utf8[i + 1]) == 0x82 ? "EUR" : "-";
      i += 2;
    }
  }
  return out;
}

std::string ToUtf16(const std::string& ascii_or_latin1, bool big_endian, bool bom) {
  std::string out;
  if (bom) out += big_endian ? "\xfe\xff" : "\xff\xfe";
  for (char ch : ascii_or_latin1) {
    const auto c = static_cast<unsigned char>(ch);
    if (big_endian) {
      out += '\0';
      out += static_cast<char>(c);
    } else {
      out += static_cast<char>(c);
      out += '\0';
    }
  }
  return out;
}

class TextTest : public ::testing::Test {
 protected:
  std::unique_ptr<const FormatValidator> v = MakeTextValidator();

  void ExpectIntact(const std::string& bytes, const std::string& format = "") {
    auto out = RunValidator(*v, bytes);
    EXPECT_TRUE(out.matches);
    EXPECT_EQ(out.report.integrity, Integrity::kValid) << Join(out.report.reasons);
    EXPECT_FALSE(out.report.high_entropy_body);
    EXPECT_EQ(out.report.structure_end, bytes.size());
    if (!format.empty()) EXPECT_EQ(out.report.format, format);
  }
  void ExpectDamaged(const std::string& bytes) {
    auto out = RunValidator(*v, bytes);
    if (!out.matches) return;  // the head is not text: the analyzer's statistics take over
    EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
    EXPECT_FALSE(out.report.damaged_ranges.empty());
  }
};

TEST_F(TextTest, EncodingsAreIntact) {
  for (std::size_t size : {std::size_t{300}, std::size_t{50000}, std::size_t{3} << 20}) {
    const std::string utf8 = Utf8Text(size);
    ExpectIntact(utf8, "text");
    ExpectIntact("\xef\xbb\xbf" + utf8, "text");
    const std::string latin1 = ToLatin1(utf8);
    ExpectIntact(latin1, "text");
    EXPECT_NE(Join(RunValidator(*v, latin1).report.reasons).find("latin-1"), std::string::npos);
    ExpectIntact(ToUtf16(latin1, false, true), "text");
    ExpectIntact(ToUtf16(latin1, true, true), "text");
    ExpectIntact(ToUtf16(latin1, false, false), "text");
  }
}

TEST_F(TextTest, LegitimateOddBytesAreIntact) {
  std::string t = Utf8Text(200000);
  t.insert(5000, "\f\n\x1b[1;31mrood\x1b[0m\n");  // form feed, ANSI colour
  t += std::string(30000, '\0');                  // NUL padding
  ExpectIntact(t);
  std::string hive;  // ^A-delimited rows, as Hive writes them
  for (int i = 0; i < 3000; ++i) hive += std::to_string(i) + "\x01naam\x01" + "één\x01" + "42\n";
  ExpectIntact(hive);
}

TEST_F(TextTest, Subtypes) {
  std::string csv = "id,naam,plaats\n";
  for (int i = 0; i < 500; ++i) csv += std::to_string(i) + ",\"Jansen, Piet\",Zoetermeer\n";
  ExpectIntact(csv, "csv");
  ExpectIntact("{\"a\": [1, 2, {\"b\": \"c\"}]}\n", "json");
  ExpectIntact("<?xml version=\"1.0\"?>\n<root><item>één</item></root>\n", "xml");
  ExpectIntact("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>\n",
               "svg");
  ExpectIntact("<!DOCTYPE html>\n<html><body><p>Hallo</p></body></html>\n", "html");
  ExpectIntact("{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} Hallo wereld}\n", "rtf");
  ExpectIntact(
      "Return-Path: <a@example.org>\nReceived: from mx by mx2; Mon, 1 Jan 2024\n"
      "From: A <a@example.org>\nTo: b@example.org\nSubject: test\nMIME-Version: 1.0\n\nBody\n",
      "email");
  ExpectIntact("-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n",
               "pem");
  const std::string random = RandomBytes(30000, 5);
  std::string b64, hex;
  static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < random.size(); ++i) {
    const auto c = static_cast<unsigned char>(random[i]);
    b64 += kB64[c & 63];
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
    if (i % 57 == 56) b64 += '\n';
    if (i % 32 == 31) hex += '\n';
  }
  ExpectIntact(b64, "text/base64");
  ExpectIntact(hex, "text/hex");
}

TEST_F(TextTest, WholeFileRandomDoesNotMatch) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    for (std::size_t n :
         {std::size_t{40}, std::size_t{300}, std::size_t{5000}, std::size_t{200000}}) {
      const std::string r = RandomBytes(n, seed);
      EXPECT_FALSE(v->Matches(r.substr(0, 65536), r.size())) << n << " seed " << seed;
    }
  }
  EXPECT_FALSE(v->Matches(std::string(5000, '\0'), 5000));  // zero-filled: a wiper, not text
}

TEST_F(TextTest, IntermittentRandomIsDamaged) {
  for (const std::string& t : {Utf8Text(3 << 20), ToLatin1(Utf8Text(3 << 20)), Utf8Text(20000)}) {
    auto out = RunValidator(*v, Intermittent(t, 0, 64, 192));
    EXPECT_TRUE(out.matches);
    EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
    ExpectDamaged(Intermittent(t, 4096, 16, 32));
    ExpectDamaged(Intermittent(t, 100, 4096, 3 * 4096));
  }
  const std::string u16 = ToUtf16(ToLatin1(Utf8Text(1 << 20)), false, true);
  auto out = RunValidator(*v, Intermittent(u16, 2, 64, 192));
  EXPECT_TRUE(out.matches);
  EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
}

TEST_F(TextTest, TailAndHeadKeptDamage) {
  const std::string t = Utf8Text(4 << 20);
  auto out = RunValidator(*v, RandomTail(t, 1 << 20));
  EXPECT_TRUE(out.matches);
  EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
  EXPECT_NE(Join(out.report.reasons).find("sampled blocks contain binary random data"),
            std::string::npos);
  // Head kept (a whole 64 KiB head of text), rest random.
  out = RunValidator(*v, KeepHeadRandomRest(t, 65536));
  EXPECT_TRUE(out.matches);
  EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
  ExpectDamaged(KeepHeadRandomRest(t, 62));
}

// The first 64 bytes encrypted (a head-only layout): one short random run, tolerated anywhere
// else in a text file, is damage where the file starts.
TEST_F(TextTest, ShortRandomRunWhereTheFileStartsIsDamaged) {
  for (std::size_t size : {std::size_t{300}, std::size_t{2000}, std::size_t{50000}}) {
    std::string t = Utf8Text(size);
    std::string start = t;
    start.replace(0, 64, RandomBytes(64, size));
    auto out = RunValidator(*v, start);
    if (out.matches) {
      EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << size << Join(out.report.reasons);
    }
    std::string middle = t;
    middle.replace(size / 2, 64, RandomBytes(64, size));
    out = RunValidator(*v, middle);
    EXPECT_TRUE(out.matches);
    EXPECT_EQ(out.report.integrity, Integrity::kValid) << size << Join(out.report.reasons);
  }
}

// Intermittent layouts on small text files leave chunks of a few random bytes each: too few to
// judge one chunk alone, judged together. Three chunks of 32 bytes, ten of 12, twelve of 8.
TEST_F(TextTest, ShortRandomChunksTogetherAreDamaged) {
  for (const std::string& t : {Utf8Text(2000), ToLatin1(Utf8Text(2000)), Utf8Text(30000)}) {
    const std::size_t n = t.size();
    for (const auto& [chunk, period] :
         {std::pair<std::size_t, std::size_t>{32, n / 2 - 1}, {12, n / 10}, {8, n / 12}}) {
      // Chunks are found by their control bytes, which a short chunk may lack (a 32-byte one 3%
      // of the time, an 8-byte one 43%); the third 32-byte chunk is 2 bytes at the end of file.
      // 15 of 20 keys at least (the validator before this test found 0 or 1).
      int damaged = 0;
      for (uint64_t seed = 1; seed <= 20; ++seed) {
        auto out = RunValidator(*v, Intermittent(t, 0, chunk, period, seed));
        EXPECT_TRUE(out.matches) << n << " chunk " << chunk << " seed " << seed;
        if (out.report.integrity != Integrity::kDamaged) continue;
        ++damaged;
        // Most of the file is still text: the damage is partial, whatever the ranges span.
        EXPECT_GT(out.report.damaged_bytes, 0u);
        EXPECT_LT(out.report.damaged_bytes, n / 2);
      }
      EXPECT_GE(damaged, 15) << n << " bytes, chunks of " << chunk;
    }
  }
}

// What real text holds that is not text, and must stay intact: stray controls beside accented
// Latin-1 letters, one binary snippet, and binary files whose head has some text (icon pixels).
TEST_F(TextTest, StrayBytesAreNotRandomChunks) {
  std::string latin1 = ToLatin1(Utf8Text(6000));
  for (std::size_t at = 100; at < latin1.size(); at += 700) latin1.insert(at, "\x01\x02");
  ExpectIntact(latin1);
  std::string snippet = Utf8Text(6000);
  snippet.insert(3000, RandomBytes(40, 3));
  ExpectIntact(snippet);
  std::string cursor = "Xcur\x10\0\0\0\0\0\1\0\3\0\0\0";  // header, then ARGB pixels
  for (int y = 0; y < 64; ++y) {
    for (int x = 0; x < 64; ++x) {
      const bool inside = (x - 32) * (x - 32) + (y - 32) * (y - 32) < 600;
      const int shade = (x * 3 + y * 5) & 0xff;
      cursor += static_cast<char>(inside ? shade : 0);
      cursor += static_cast<char>(inside ? 255 - shade : 0);
      cursor += static_cast<char>(inside ? (x * y) & 0xff : 0);
      cursor += static_cast<char>(inside ? 0xff : (x + y) % 7 == 0 ? 0x40 : 0);
    }
    cursor += "cursor frame row " + std::to_string(y) + "\n";
  }
  auto out = RunValidator(*v, cursor);
  if (out.matches) {
    EXPECT_NE(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
  }
  // Russian in Windows-1251: every letter is a high byte, as diverse as random bytes over a few
  // dozen of them, with stray controls here and there.
  static const char* kSyllables[] = {
      "\xef\xf0\xe8", "\xe2\xe5\xf2", "\xec\xe8\xf0", "\xe4\xee\xec",
      "\xf1\xf2\xee", "\xeb\xfe\xe1", "\xed\xe0\xf8", "\xea\xee\xf2",
      "\xf7\xf2\xee", "\xe3\xee\xe4", "\xe7\xe0\xec", "\xf9\xe5\xe9",
      "\xfa\xff\xfd", "\xf6\xf3\xf5", "\xe6\xe9\xfc", "\xfb\xf4\xe1"};
  std::string cyrillic;
  for (uint64_t i = 0; cyrillic.size() < 8000; ++i) {
    cyrillic += kSyllables[(i * 2654435761u >> 7) % 16];
    if (i % 3 == 2) cyrillic += i % 29 == 0 ? ".\n" : " ";
    if (i % 101 == 50) cyrillic += i % 2 ? "\x01" : "\x1a\x02";
  }
  ExpectIntact(cyrillic);
}

TEST_F(TextTest, AppendedFooterIsReported) {
  const std::string t = Utf8Text(100000);
  auto out = RunValidator(*v, t + RandomBytes(1064, 8));
  EXPECT_TRUE(out.matches);
  EXPECT_EQ(out.report.integrity, Integrity::kDamaged) << Join(out.report.reasons);
  EXPECT_GE(out.report.structure_end, t.size());
  EXPECT_LE(out.report.structure_end, t.size() + 64);
  // Truncation of text is not damage.
  ExpectIntact(t.substr(0, 77777));
}

// Real text files on this machine (licences, headers, configuration, docs): none may be called
// damaged. Files the validator does not take as text are skipped.
TEST_F(TextTest, RealTextFilesAreNotDamaged) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int checked = 0;
  for (const char* root : {"/usr/share/common-licenses", "/etc", "/usr/include", "/usr/share/doc",
                           "/usr/share/perl5", "/usr/lib/python3"}) {
    if (!fs::is_directory(root, ec)) continue;
    int in_root = 0;
    for (auto it = fs::recursive_directory_iterator(
             root, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator() && in_root < 150; it.increment(ec)) {
      if (ec) break;
      if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
      const auto size = it->file_size(ec);
      if (ec || size == 0 || size > (2u << 20)) continue;
      const std::string bytes = testing::ReadWholeFile(it->path());
      auto out = RunValidator(*v, bytes);
      if (!out.matches) continue;
      ++checked;
      ++in_root;
      EXPECT_NE(out.report.integrity, Integrity::kDamaged)
          << it->path() << ": " << Join(out.report.reasons);
    }
  }
  EXPECT_GT(checked, 10);
}

TEST_F(TextTest, HostileInputsDoNotCrash) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::string in = Utf8Text(seed * 37 % 5000) + RandomBytes(seed % 97, seed);
    if (seed % 3 == 0) in = "\xff\xfe" + in;
    if (seed % 5 == 0) in = "\xfe\xff" + in.substr(0, in.size() / 2 * 2 + 1);
    (void)RunValidator(*v, in);
  }
  (void)RunValidator(*v, "");
  (void)RunValidator(*v, "\xff\xfe");
  (void)RunValidator(*v, "a");
}

}  // namespace
}  // namespace steen::content
