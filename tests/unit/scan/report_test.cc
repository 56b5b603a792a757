#include "scan/report.h"

#include <gtest/gtest.h>

#include <string>

#include "nlohmann/json.hpp"
#include "scan/path_escape.h"
#include "scan/summary.h"

namespace steen::scan {
namespace {

using nlohmann::json;

TEST(Utf8Test, AcceptsWellFormedAndRejectsMalformed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain/ascii.txt"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
}

TEST(EscapeTest, EscapesOnlyInvalidBytes) {
  EXPECT_EQ(EscapeInvalidUtf8("a\xff"
                              "b"),
            "a\\xffb");
  EXPECT_EQ(EscapeInvalidUtf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(EscapeInvalidUtf8("x\xc3"), "x\\xc3");
  EXPECT_EQ(EscapeInvalidUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(EscapeInvalidUtf8("line\nbreak"), "line\nbreak");  // JSON escapes it itself
  EXPECT_EQ(EscapeForText("line\nbreak\x7f"), "line\\x0abreak\\x7f");
  EXPECT_EQ(HexBytes("/a\xff"), "2f61ff");
  for (int b = 0; b < 256; ++b) {  // whatever the byte, the result is valid UTF-8
    EXPECT_TRUE(IsValidUtf8(EscapeInvalidUtf8(std::string(1, static_cast<char>(b)))));
  }
}

Analysis SampleAnalysis() {
  Analysis analysis;
  analysis.verdict = Verdict::kDamaged;
  analysis.kind = DamageKind::kEncrypted;
  analysis.score = 0.97;
  analysis.format = "png";
  analysis.reasons = {"IDAT data is random", "bad \xff reason"};
  analysis.ranges_read = {{0, 65536}, {1000000, 4096}};
  analysis.bytes_read = 69632;
  return analysis;
}

TEST(JsonLineTest, FileLineHasEveryKey) {
  const Analysis analysis = SampleAnalysis();
  const std::string line = FileJsonLine(FileReport{"/srv/a.png", 1004096, &analysis, ""});
  ASSERT_EQ(line.back(), '\n');
  const json parsed = json::parse(line);
  EXPECT_EQ(parsed["path"], "/srv/a.png");
  EXPECT_FALSE(parsed.contains("path_bytes_hex"));
  EXPECT_EQ(parsed["verdict"], "damaged");
  EXPECT_EQ(parsed["kind"], "encrypted");
  EXPECT_EQ(parsed["format"], "png");
  EXPECT_DOUBLE_EQ(parsed["score"].get<double>(), 0.97);
  EXPECT_EQ(parsed["size"], 1004096);
  EXPECT_EQ(parsed["reasons"], json::array({"IDAT data is random", "bad \\xff reason"}));
  EXPECT_EQ(parsed["bytes_read"], 69632);
  EXPECT_EQ(parsed["ranges_read"], json::parse("[[0,65536],[1000000,4096]]"));
  EXPECT_FALSE(parsed.contains("warning"));
}

TEST(JsonLineTest, InvalidUtf8PathIsEscapedAndGivenAsHex) {
  const Analysis analysis;
  const std::string path = "/srv/r\xe9sum\xe9.doc";  // Latin-1 name
  const json parsed = json::parse(FileJsonLine(FileReport{path, 1, &analysis, "changed"}));
  EXPECT_EQ(parsed["path"], "/srv/r\\xe9sum\\xe9.doc");
  EXPECT_EQ(parsed["path_bytes_hex"], HexBytes(path));
  EXPECT_EQ(parsed["warning"], "changed");
  EXPECT_EQ(parsed["verdict"], "unknown");
}

TEST(JsonLineTest, ErrorLine) {
  const json parsed = json::parse(ErrorJsonLine("/x\xff", "Permission denied"));
  EXPECT_EQ(parsed["path"], "/x\\xff");
  EXPECT_EQ(parsed["path_bytes_hex"], "2f78ff");
  EXPECT_EQ(parsed["error"], "Permission denied");
}

TEST(SummaryTest, FolderOf) {
  EXPECT_EQ(FolderOf("a/b/c"), "a/b");
  EXPECT_EQ(FolderOf("/c"), "/");
  EXPECT_EQ(FolderOf("c"), ".");
}

TEST(SummaryTest, CountsAndMerges) {
  const Analysis damaged = SampleAnalysis();
  Analysis intact;
  intact.verdict = Verdict::kIntact;
  intact.format = "pdf";
  Summary a, b;
  a.Add(FileReport{"/s/x/1.png", 10, &damaged, ""});
  a.Add(FileReport{"/s/x/2.png", 10, &damaged, ""});
  b.Add(FileReport{"/s/y/3.png", 10, &damaged, ""});
  b.Add(FileReport{"/s/y/4.pdf", 5, &intact, ""});
  b.AddError();
  a.Merge(b);
  EXPECT_EQ(a.files, 4u);
  EXPECT_EQ(a.bytes, 35u);
  EXPECT_EQ(a.errors, 1u);
  EXPECT_EQ(a.by_verdict["damaged"], 3u);
  EXPECT_EQ(a.by_verdict["intact"], 1u);
  EXPECT_EQ(a.by_kind["encrypted"], 3u);
  EXPECT_EQ(a.by_kind.size(), 1u);  // intact files have no damage kind
  EXPECT_EQ(a.by_format["png"], 3u);
  EXPECT_EQ(a.by_format["pdf"], 1u);
  const auto top = a.damaged_folders.Top(10);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0], (std::pair<std::string, uint64_t>{"/s/x", 2}));
  EXPECT_EQ(top[1], (std::pair<std::string, uint64_t>{"/s/y", 1}));
  EXPECT_FALSE(a.damaged_folders.approximate());

  ScanStats stats;
  stats.files = 4;
  stats.bytes = 35;
  stats.errors = 1;
  stats.skipped_special = 2;
  stats.elapsed_s = 2;
  const json summary = json::parse(SummaryJsonLine(a, stats))["summary"];
  EXPECT_EQ(summary["files"], 4);
  EXPECT_EQ(summary["by_verdict"]["damaged"], 3);
  EXPECT_EQ(summary["by_verdict"]["unknown"], 0);
  EXPECT_EQ(summary["by_kind"]["encrypted"], 3);
  EXPECT_EQ(summary["by_format"]["png"], 3);
  EXPECT_EQ(summary["errors"], 1);
  EXPECT_EQ(summary["skipped_special"], 2);
  EXPECT_DOUBLE_EQ(summary["files_per_s"].get<double>(), 2.0);
  EXPECT_EQ(summary["top_damaged_folders"][0]["path"], "/s/x");
  EXPECT_EQ(summary["top_damaged_folders"][0]["damaged"], 2);
  const std::string text = SummaryText(a, stats);
  EXPECT_NE(text.find("Verdicts: damaged 3, intact 1"), std::string::npos) << text;
  EXPECT_NE(text.find("       2  /s/x\n"), std::string::npos) << text;
}

TEST(FolderCounterTest, StaysBoundedAndKeepsTheMostDamaged) {
  FolderCounter counter(/*capacity=*/64);
  for (int i = 0; i < 10000; ++i) {
    counter.Add("/many/" + std::to_string(i));  // one damaged file each
    if (i % 10 == 0) counter.Add("/heavy");
    if (i % 20 == 0) counter.Add("/medium");
  }
  EXPECT_LE(counter.size(), 64u);
  EXPECT_TRUE(counter.approximate());
  const auto top = counter.Top(2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, "/heavy");
  EXPECT_EQ(top[0].second, 1000u);
  EXPECT_EQ(top[1].first, "/medium");
}

TEST(SummaryTest, FormatsAreCapped) {
  Summary summary;
  Analysis analysis;
  for (std::size_t i = 0; i < limits::kMaxFormatsTracked + 10; ++i) {
    analysis.format = "f" + std::to_string(i);
    summary.Add(FileReport{"x", 1, &analysis, ""});
  }
  EXPECT_EQ(summary.by_format.size(), limits::kMaxFormatsTracked + 1);  // + "other"
  EXPECT_EQ(summary.by_format["other"], 10u);
}

}  // namespace
}  // namespace steen::scan
