#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using nlohmann::json;
using testing::SampleAlert;

TEST(EcsJson, OneLineThatParsesBack) {
  std::string line = FormatEcsJson(SampleAlert());
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json doc = json::parse(line);
  EXPECT_TRUE(doc.is_object());
}

TEST(EcsJson, CoreEcsFields) {
  json doc = json::parse(FormatEcsJson(SampleAlert()));
  EXPECT_EQ(doc["@timestamp"], "2026-11-28T07:26:41.123Z");
  EXPECT_EQ(doc["ecs"]["version"], "8.11.0");
  EXPECT_EQ(doc["event"]["kind"], "alert");
  EXPECT_EQ(doc["event"]["module"], "steen");
  EXPECT_EQ(doc["event"]["dataset"], "steen.alert");
  EXPECT_EQ(doc["event"]["id"], "steen-1795850801123000000-7");
  EXPECT_EQ(doc["event"]["action"], "ransomware-encryption");
  EXPECT_EQ(doc["event"]["severity"], 99);
  EXPECT_DOUBLE_EQ(doc["event"]["risk_score"].get<double>(), 92.4);
  EXPECT_EQ(doc["event"]["category"], json({"file", "intrusion_detection", "malware"}));
  // Suspended writer: the change was denied from here on.
  EXPECT_EQ(doc["event"]["type"], json({"change", "denied"}));
  EXPECT_EQ(doc["event"]["outcome"], "success");
  EXPECT_EQ(doc["message"], SampleAlert().message);
  EXPECT_EQ(doc["rule"]["name"], "ransomware-encryption");
  EXPECT_EQ(doc["host"]["hostname"], "fs01");
}

TEST(EcsJson, ThreatIsMitreT1486) {
  json doc = json::parse(FormatEcsJson(SampleAlert()));
  EXPECT_EQ(doc["threat"]["framework"], "MITRE ATT&CK");
  EXPECT_EQ(doc["threat"]["technique"]["id"], json({"T1486"}));
  EXPECT_EQ(doc["threat"]["technique"]["name"], json({"Data Encrypted for Impact"}));
  EXPECT_EQ(doc["threat"]["tactic"]["id"], json({"TA0040"}));
  EXPECT_EQ(doc["threat"]["tactic"]["name"], json({"Impact"}));
}

TEST(EcsJson, ProcessUserClientFile) {
  json doc = json::parse(FormatEcsJson(SampleAlert()));
  EXPECT_EQ(doc["process"]["pid"], 4242);
  EXPECT_EQ(doc["process"]["name"], "smbd");
  EXPECT_EQ(doc["process"]["executable"], "/usr/sbin/smbd");
  EXPECT_EQ(doc["process"]["hash"]["sha256"], SampleAlert().actor.exe_sha256);
  EXPECT_EQ(doc["process"]["parent"]["pid"], 1180);
  EXPECT_EQ(doc["user"]["id"], "1001");  // ECS user.id is a keyword
  EXPECT_EQ(doc["user"]["name"], "alice");
  EXPECT_EQ(doc["client"]["ip"], "192.0.2.45");
  EXPECT_EQ(doc["source"]["ip"], "192.0.2.45");
  EXPECT_EQ(doc["client"]["user"]["name"], "EXAMPLE\\alice");
  EXPECT_EQ(doc["file"]["path"], "/srv/share/fin/q3.xlsx");
  EXPECT_EQ(doc["file"]["name"], "q3.xlsx");
  EXPECT_EQ(doc["file"]["directory"], "/srv/share/fin");
  EXPECT_EQ(doc["file"]["extension"], "xlsx");
  EXPECT_EQ(doc["related"]["ip"], json({"192.0.2.45"}));
  EXPECT_EQ(doc["related"]["user"], json({"alice", "EXAMPLE\\alice"}));
}

TEST(EcsJson, SteenNamespace) {
  json doc = json::parse(FormatEcsJson(SampleAlert()));
  const json& s = doc["steen"];
  EXPECT_EQ(s["alert_id"], "steen-1795850801123000000-7");
  EXPECT_DOUBLE_EQ(s["score"].get<double>(), 92.4);
  EXPECT_EQ(s["scope"], "smb_client");
  EXPECT_EQ(s["scope_key"], "192.0.2.45");
  EXPECT_EQ(s["action"], "suspended");
  EXPECT_EQ(s["incident_id"], "inc-0001");
  EXPECT_EQ(s["files"], json({"/srv/share/fin/q3.xlsx", "/srv/share/fin/q4.xlsx"}));
  EXPECT_EQ(s["file_count"], 57);
  ASSERT_EQ(s["indicators"].size(), 2u);
  EXPECT_EQ(s["indicators"][0]["name"], "damaged_files");
  EXPECT_EQ(s["indicators"][0]["count"], 57);
  EXPECT_EQ(s["indicators"][1]["detail"], "README_RESTORE.txt written in 12 folders");
  EXPECT_EQ(s["pids"], json({4242}));
}

TEST(EcsJson, SmbShareUnderSteenWhenKnown) {
  Alert a = SampleAlert();
  a.actor.smb_share = "finance,projects";
  json doc = json::parse(FormatEcsJson(a));
  EXPECT_EQ(doc["steen"]["smb"]["share"], "finance,projects");
  EXPECT_EQ(doc["client"]["domain"], "ws17");  // the rest of the SMB client is unchanged
  // Unknown (the sample has none) or no SMB client at all: no steen.smb.
  json none = json::parse(FormatEcsJson(SampleAlert()));
  EXPECT_FALSE(none["steen"].contains("smb"));
  Alert local = SampleAlert();
  local.actor.smb_client_address.clear();
  local.actor.smb_user.clear();
  local.actor.smb_machine.clear();
  EXPECT_FALSE(json::parse(FormatEcsJson(local))["steen"].contains("smb"));
}

TEST(EcsJson, HostnameClientIsAddressNotIp) {
  Alert a = SampleAlert();
  a.actor.smb_client_address = "ws17.example.org";
  json doc = json::parse(FormatEcsJson(a));
  EXPECT_EQ(doc["client"]["address"], "ws17.example.org");
  EXPECT_FALSE(doc["client"].contains("ip"));
  EXPECT_FALSE(doc.contains("related") && doc["related"].contains("ip"));
}

TEST(EcsJson, Ipv6ClientIsIp) {
  Alert a = SampleAlert();
  a.actor.smb_client_address = "2001:db8::45";
  json doc = json::parse(FormatEcsJson(a));
  EXPECT_EQ(doc["source"]["ip"], "2001:db8::45");
}

TEST(EcsJson, NotBlockedIsInfoAndDryRunUnknown) {
  Alert a = SampleAlert();
  a.action = ResponseAction::kDryRun;
  json doc = json::parse(FormatEcsJson(a));
  EXPECT_EQ(doc["event"]["type"], json({"change", "info"}));
  EXPECT_EQ(doc["event"]["outcome"], "unknown");
  a.action = ResponseAction::kFailed;
  doc = json::parse(FormatEcsJson(a));
  EXPECT_EQ(doc["event"]["outcome"], "failure");
}

TEST(EcsJson, HealthAlertHasNoThreatAndNoProcess) {
  Alert a;
  a.wall_time_ns = 1;
  a.rule_name = "queue-overflow";
  a.severity = "high";
  a.message = "fanotify queue overflowed; rescanning /srv";
  json doc = json::parse(FormatEcsJson(a));
  EXPECT_EQ(doc["event"]["kind"], "alert");
  EXPECT_EQ(doc["event"]["category"], json({"host"}));
  EXPECT_FALSE(doc.contains("threat"));
  EXPECT_FALSE(doc.contains("process"));
  EXPECT_FALSE(doc.contains("file"));
  EXPECT_EQ(doc["@timestamp"], "1970-01-01T00:00:00.000Z");
}

TEST(EcsJson, InvalidUtf8AndControlBytesStayOneValidLine) {
  Alert a = SampleAlert();
  a.files = {std::string("/srv/share/bad\xff\xfe\nname.doc"), "/srv/\"quoted\"\\"};
  std::string line = FormatEcsJson(a);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  json doc = json::parse(line);
  EXPECT_EQ(doc["file"]["path"], "/srv/share/bad\xEF\xBF\xBD\xEF\xBF\xBD\nname.doc");
  EXPECT_EQ(doc["steen"]["files"][1], "/srv/\"quoted\"\\");
}

TEST(EcsJson, SeverityNumbers) {
  Alert a = SampleAlert();
  for (auto [text, number] : std::vector<std::pair<std::string, int>>{
           {"critical", 99}, {"high", 73}, {"medium", 47}, {"low", 21}, {"info", 0}}) {
    a.severity = text;
    EXPECT_EQ(json::parse(FormatEcsJson(a))["event"]["severity"], number) << text;
  }
}

}  // namespace
}  // namespace steen::outputs
