#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "steen/outputs.h"
#include "unit/outputs/test_util.h"

namespace steen::outputs {
namespace {

using nlohmann::json;
using testing::SampleAlert;
using testing::TempDir;

std::vector<std::string> ReadLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::unique_ptr<AlertSink> MustMake(const std::string& path) {
  auto sink = MakeJsonLinesFileSink({.path = path});
  EXPECT_TRUE(sink.ok()) << sink.status().ToString();
  return sink.ok() ? std::move(sink).value() : nullptr;
}

TEST(JsonLinesFileSink, OneParsableLinePerAlertAppended) {
  TempDir dir;
  std::string path = dir.File("alerts.json");
  { std::ofstream(path) << "{\"previous\":true}\n"; }
  auto sink = MustMake(path);
  ASSERT_TRUE(sink);
  EXPECT_EQ(sink->name(), "jsonl:" + path);
  for (int i = 0; i < 3; ++i) {
    Alert a = SampleAlert();
    a.id = "a" + std::to_string(i);
    ASSERT_TRUE(sink->Emit(a).ok());
    // Flushed per alert: the line is in the file before the next Emit.
    EXPECT_EQ(ReadLines(path).size(), static_cast<std::size_t>(i + 2));
  }
  auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "{\"previous\":true}");
  for (int i = 0; i < 3; ++i) {
    json doc = json::parse(lines[i + 1]);
    EXPECT_EQ(doc["event"]["id"], "a" + std::to_string(i));
  }
  EXPECT_EQ(ReadAll(path).back(), '\n');
}

TEST(JsonLinesFileSink, CreatedWithModeAndCloseOnExec) {
  TempDir dir;
  std::string path = dir.File("alerts.json");
  auto sink = MustMake(path);
  ASSERT_TRUE(sink);
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0640));
  // Find our descriptor in /proc/self/fd and check FD_CLOEXEC: a spawned response script must not
  // inherit the alert log.
  bool found = false;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(entry.path(), ec);
    if (ec || target != path) continue;
    int fd = std::stoi(entry.path().filename().string());
    EXPECT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    EXPECT_TRUE(fcntl(fd, F_GETFL) & O_APPEND);
    found = true;
  }
  EXPECT_TRUE(found);
}

TEST(JsonLinesFileSink, ReopenFollowsLogrotate) {
  TempDir dir;
  std::string path = dir.File("alerts.json");
  auto sink = MustMake(path);
  ASSERT_TRUE(sink);
  ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
  std::filesystem::rename(path, path + ".1");   // logrotate's move
  ASSERT_TRUE(sink->Emit(SampleAlert()).ok());  // still goes to the moved file
  ASSERT_TRUE(sink->Reopen().ok());
  ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
  EXPECT_EQ(ReadLines(path + ".1").size(), 2u);
  EXPECT_EQ(ReadLines(path).size(), 1u);
}

TEST(JsonLinesFileSink, ConcurrentAppendersNeverInterleave) {
  TempDir dir;
  std::string path = dir.File("alerts.json");
  Alert big = SampleAlert();
  for (int i = 0; i < 200; ++i) big.files.push_back("/srv/share/" + std::string(100, 'x'));
  constexpr int kPerWriter = 40;
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      auto sink = MustMake(path);
      Alert a = big;
      for (int i = 0; i < kPerWriter; ++i) {
        a.id = std::to_string(w) + "-" + std::to_string(i);
        EXPECT_TRUE(sink->Emit(a).ok());
      }
    });
  }
  for (auto& t : writers) t.join();
  auto lines = ReadLines(path);
  ASSERT_EQ(lines.size(), 3u * kPerWriter);
  for (const auto& line : lines) EXPECT_NO_THROW(json::parse(line));
}

TEST(JsonLinesFileSink, UnwritablePathIsAnError) {
  TempDir dir;
  auto sink = MakeJsonLinesFileSink({.path = dir.File("missing/alerts.json")});
  EXPECT_FALSE(sink.ok());
  EXPECT_EQ(sink.status().code(), Status::Code::kNotFound);
  EXPECT_FALSE(MakeJsonLinesFileSink({}).ok());
}

TEST(JsonLinesFdSink, WritesLinesToDescriptor) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    auto sink = MakeJsonLinesFdSink(fds[1], true, "jsonl:pipe");
    ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
    ASSERT_TRUE(sink->Emit(SampleAlert()).ok());
  }  // owned: closed here, so the read below sees EOF
  std::string data;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) data.append(buf, n);
  close(fds[0]);
  ASSERT_EQ(std::count(data.begin(), data.end(), '\n'), 2);
  EXPECT_EQ(json::parse(data.substr(0, data.find('\n')))["event"]["kind"], "alert");
  EXPECT_EQ(MakeJsonLinesStdoutSink()->name(), "jsonl:stdout");
}

}  // namespace
}  // namespace steen::outputs
