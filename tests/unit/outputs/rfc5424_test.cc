#include <gtest/gtest.h>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using testing::ParseRfc5424;
using testing::SampleAlert;

SyslogOptions Options() {
  SyslogOptions o;
  o.procid = "4100";
  return o;
}

testing::Syslog5424 MustParse(const std::string& message) {
  std::string error;
  auto parsed = ParseRfc5424(message, &error);
  EXPECT_TRUE(parsed.has_value()) << error << "\n" << message;
  return parsed.value_or(testing::Syslog5424{});
}

TEST(Rfc5424, HeaderFields) {
  std::string m = FormatRfc5424(SampleAlert(), Options());
  auto p = MustParse(m);
  EXPECT_EQ(p.pri, 13 * 8 + 2);  // log audit, critical
  EXPECT_EQ(p.timestamp, "2026-11-28T07:26:41.123456Z");
  EXPECT_EQ(p.hostname, "fs01");
  EXPECT_EQ(p.app_name, "steen");
  EXPECT_EQ(p.procid, "4100");
  EXPECT_EQ(p.msgid, "ransomware-encryption");
  EXPECT_TRUE(p.has_bom);
  EXPECT_EQ(p.msg, SampleAlert().message);
  EXPECT_EQ(
      m.rfind(
          "<106>1 2026-11-28T07:26:41.123456Z fs01 steen 4100 ransomware-encryption [steen@32473 ",
          0),
      0u)
      << m;
}

TEST(Rfc5424, StructuredData) {
  auto p = MustParse(FormatRfc5424(SampleAlert(), Options()));
  ASSERT_EQ(p.sd.size(), 1u);
  EXPECT_EQ(p.sd[0].first, "steen@32473");
  EXPECT_EQ(p.Param("steen@32473", "id"), "steen-1795850801123000000-7");
  EXPECT_EQ(p.Param("steen@32473", "rule"), "ransomware-encryption");
  EXPECT_EQ(p.Param("steen@32473", "score"), "92");
  EXPECT_EQ(p.Param("steen@32473", "technique"), "T1486");
  EXPECT_EQ(p.Param("steen@32473", "pid"), "4242");
  EXPECT_EQ(p.Param("steen@32473", "user"), "alice");
  EXPECT_EQ(p.Param("steen@32473", "client"), "192.0.2.45");
  EXPECT_EQ(p.Param("steen@32473", "smb_user"), "EXAMPLE\\alice");  // '\' escaped and back
  EXPECT_EQ(p.Param("steen@32473", "files"), "57");
  EXPECT_EQ(p.Param("steen@32473", "action"), "suspended");
  EXPECT_EQ(p.Param("steen@32473", "file"), "/srv/share/fin/q3.xlsx");
  EXPECT_EQ(p.Params("steen@32473", "indicator"),
            (std::vector<std::string>{"damaged_files:57", "ransom_notes:1"}));
}

TEST(Rfc5424, EscapesQuoteBackslashBracket) {
  Alert a = SampleAlert();
  a.files = {"/srv/a\"b\\c]d[e"};
  std::string m = FormatRfc5424(a, Options());
  EXPECT_NE(m.find(R"(file="/srv/a\"b\\c\]d[e")"), std::string::npos) << m;
  EXPECT_EQ(MustParse(m).Param("steen@32473", "file"), "/srv/a\"b\\c]d[e");
}

TEST(Rfc5424, PriorityMath) {
  Alert a = SampleAlert();
  SyslogOptions o = Options();
  struct Case {
    int facility;
    const char* severity;
    int pri;
  };
  for (Case c :
       {Case{13, "critical", 106}, Case{23, "critical", 186}, Case{0, "info", 6},
        Case{4, "high", 35}, Case{1, "medium", 12}, Case{16, "low", 133}, Case{23, "bogus", 188}}) {
    o.facility = c.facility;
    a.severity = c.severity;
    EXPECT_EQ(MustParse(FormatRfc5424(a, o)).pri, c.pri) << c.facility << " " << c.severity;
  }
}

TEST(Rfc5424, HeaderFieldsArePrintUsAsciiAndBounded) {
  Alert a = SampleAlert();
  a.rule_name = "rule with spaces and a very long name that exceeds thirty-two";
  a.host = "";
  SyslogOptions o = Options();
  o.hostname = std::string(300, 'h') + "\x01 \xc3\xa9";
  o.app_name = std::string(60, 'a');
  o.procid = "";
  auto p = MustParse(FormatRfc5424(a, o));
  EXPECT_EQ(p.hostname, std::string(255, 'h'));
  EXPECT_EQ(p.app_name, std::string(48, 'a'));
  EXPECT_EQ(p.msgid, "rulewithspacesandaverylongnameth");
  EXPECT_EQ(p.procid, std::to_string(getpid()));
}

TEST(Rfc5424, NilValuesWhenEmpty) {
  Alert a;
  a.wall_time_ns = 1795850801123456789;
  a.severity = "info";
  SyslogOptions o = Options();
  o.hostname = "\x01";
  o.app_name = "";
  auto p = MustParse(FormatRfc5424(a, o));
  EXPECT_EQ(p.hostname, "-");
  EXPECT_EQ(p.app_name, "-");
  EXPECT_EQ(p.msgid, "-");
  EXPECT_FALSE(p.msg.has_value());  // no message, no BOM
}

TEST(Rfc5424, ControlCharactersAndBadUtf8AreNeutralised) {
  Alert a = SampleAlert();
  a.message = "line one\nline two\xff";
  a.files = {"/srv/x\ny"};
  std::string m = FormatRfc5424(a, Options());
  EXPECT_EQ(m.find('\n'), std::string::npos);
  auto p = MustParse(m);
  EXPECT_EQ(p.msg, "line one line two\xEF\xBF\xBD");
  EXPECT_EQ(p.Param("steen@32473", "file"), "/srv/x y");
}

TEST(Rfc5424, RespectsMaxMessageSize) {
  Alert a = SampleAlert();
  a.message = std::string(5000, 'm');
  a.files = {"/srv/" + std::string(3000, 'f') + "\"]\\"};
  for (int i = 0; i < 50; ++i) a.indicators.push_back({"indicator_" + std::to_string(i), i, ""});
  for (std::size_t max : {512u, 1000u, 2048u, 8192u}) {
    SyslogOptions o = Options();
    o.max_message_bytes = max;
    std::string m = FormatRfc5424(a, o);
    EXPECT_LE(m.size(), max);
    auto p = MustParse(m);
    EXPECT_EQ(p.Param("steen@32473", "rule"), "ransomware-encryption") << max;
    ASSERT_TRUE(p.msg.has_value()) << max;
    EXPECT_FALSE(p.msg->empty());
  }
}

TEST(Rfc5424, CutNeverSplitsUtf8OrEscape) {
  Alert a = SampleAlert();
  a.message = "";
  for (int i = 0; i < 400; ++i) a.message += "\xc3\xa9";  // é
  a.files = {std::string(2000, '\\')};
  for (std::size_t max = 600; max < 1200; max += 37) {
    SyslogOptions o = Options();
    o.max_message_bytes = max;
    std::string m = FormatRfc5424(a, o);
    EXPECT_LE(m.size(), max);
    auto p = MustParse(m);
    ASSERT_TRUE(p.msg.has_value());
    EXPECT_EQ(p.msg->size() % 2, 0u) << max;  // whole two-byte characters only
    std::string file = p.Param("steen@32473", "file");
    EXPECT_EQ(file, std::string(file.size(), '\\'));
  }
}

TEST(Rfc5424, SeverityMapping) {
  EXPECT_EQ(SyslogSeverity("critical"), 2);
  EXPECT_EQ(SyslogSeverity("high"), 3);
  EXPECT_EQ(SyslogSeverity("medium"), 4);
  EXPECT_EQ(SyslogSeverity("low"), 5);
  EXPECT_EQ(SyslogSeverity("info"), 6);
}

}  // namespace
}  // namespace steen::outputs
