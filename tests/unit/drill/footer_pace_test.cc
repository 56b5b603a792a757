// Play's structured footers (behaviours.md §1.3, §1.4), xxHash32, and --pace parsing.
#include <gtest/gtest.h>

#include <cstring>

#include "steen/drill.h"

namespace steen::drill {
namespace {

constexpr uint64_t kMiB = 1 << 20;

template <typename T>
T Le(const std::string& s, std::size_t at) {
  T v{};
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    v |= static_cast<T>(static_cast<uint64_t>(static_cast<unsigned char>(s[at + i])) << (8 * i));
  }
  return v;
}

Profile Load(std::string_view name) {
  StatusOr<Profile> p = LoadProfile(name);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : Profile{};
}

TEST(DrillXxHash32, KnownVectors) {
  EXPECT_EQ(XxHash32("", 0), 0x02CC5D05u);
  EXPECT_EQ(XxHash32("abc", 0), 0x32D153FFu);
  EXPECT_EQ(XxHash32("Nobody inspects the spammish repetition", 0), 0xE2293B2Fu);
}

TEST(DrillPlayFooter, Play2022Layout) {
  Profile p = Load("play");
  ASSERT_EQ(p.footer_format, FooterFormat::kPlay2022);
  ASSERT_EQ(p.footer_marker.size(), 16u);
  struct Case {
    uint64_t size;
    uint16_t last, total, large, small;
  };
  for (const Case& c : {Case{300000, 300000 & 0xFFFF, 1, 0, 1}, Case{0x500000, 0, 5, 0, 0},
                        Case{0x500001, 0, 2, 1, 0}, Case{3 * kMiB + 5, 5, 4, 0, 0}}) {
    SCOPED_TRACE(c.size);
    std::string f = FileFooter(p, c.size, "x.docx", 9);
    ASSERT_EQ(f.size(), 1064u);
    EXPECT_EQ(f.substr(0, 16), p.footer_marker);
    EXPECT_EQ(Le<uint16_t>(f, 16), c.last);
    EXPECT_EQ(Le<uint16_t>(f, 18), c.total);
    EXPECT_EQ(Le<uint16_t>(f, 20), c.large);
    EXPECT_EQ(Le<uint16_t>(f, 22), c.small);
    EXPECT_EQ(Le<uint32_t>(f, 24), 0x100000u);
    EXPECT_EQ(Le<uint32_t>(f, 28), XxHash32(p.footer_marker, 0));
    EXPECT_EQ(Le<uint64_t>(f, 32), c.total);  // final state: every chunk counted
    EXPECT_EQ(PlayChunkCount(p, c.size, "x.docx"), c.total);
    EXPECT_EQ(PlayCounterOffset(p, c.size, "x.docx"), 32u);
    // Appended first with the counter at 0; only the counter differs.
    std::string first = FileFooter(p, c.size, "x.docx", 9, 0);
    EXPECT_EQ(Le<uint64_t>(first, 32), 0u);
    EXPECT_EQ(first.substr(0, 32), f.substr(0, 32));
    EXPECT_EQ(first.substr(40), f.substr(40));
  }
  // The footer of the transformed file is this footer.
  std::string original(300000, 'a');
  StatusOr<std::string> out = TransformContent(p, original, 9, "x.docx");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->substr(300000), FileFooter(p, 300000, "x.docx", 9));
}

TEST(DrillPlayFooter, Play2023Layout) {
  Profile p = Load("play-2023");
  ASSERT_EQ(p.footer_format, FooterFormat::kPlay2023);
  uint32_t seed = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    seed += static_cast<unsigned char>(p.footer_marker[i]) + static_cast<uint32_t>(i);
  }
  // Small file: whole, CBC, blocks = ceil(S / 1 MiB) (the decryptor sample: 2,073,872 B -> 2).
  std::string small = FileFooter(p, 2073872, "test.jpg", 1);
  ASSERT_EQ(small.size(), 1064u);
  EXPECT_EQ(small.substr(0, 16), p.footer_marker);
  EXPECT_EQ(Le<uint16_t>(small, 16), 0u);  // padding
  EXPECT_EQ(Le<uint16_t>(small, 18), 0u);  // block_step
  EXPECT_EQ(Le<uint16_t>(small, 20), 0u);  // big_file
  EXPECT_EQ(Le<uint16_t>(small, 22), 1u);  // CBC
  EXPECT_EQ(Le<uint32_t>(small, 24), 0x100000u);
  EXPECT_EQ(Le<uint32_t>(small, 28), XxHash32(p.footer_marker, seed & 0xFFFF));
  EXPECT_EQ(Le<uint64_t>(small, 32), 2u);
  // Big file: 16-byte spill, then the 1,064-byte footer.
  std::string big = FileFooter(p, 0xFF0001, "a.bin", 1);
  ASSERT_EQ(big.size(), 1080u);
  EXPECT_EQ(big.substr(16, 16), p.footer_marker);
  EXPECT_EQ(Le<uint16_t>(big, 16 + 16), 16u);
  EXPECT_EQ(Le<uint16_t>(big, 16 + 20), 1u);
  EXPECT_EQ(Le<uint64_t>(big, 16 + 32), 2u);
  EXPECT_EQ(PlayCounterOffset(p, 0xFF0001, "a.bin"), 16u + 32u);
}

TEST(DrillPlayFooter, BadPlayFootersAreRejected) {
  EXPECT_FALSE(ParseProfile("name: x\nfooter: {size: 1064, format: play-2022}\n", "t").ok());
  EXPECT_FALSE(ParseProfile("name: x\nfooter: {size: 100, format: play-2022, marker_hex: "
                            "00112233445566778899aabbccddeeff}\n",
                            "t")
                   .ok());
  EXPECT_FALSE(ParseProfile("name: x\nfooter: {size: 1064, format: play-2099}\n", "t").ok());
}

TEST(DrillPace, Parse) {
  auto pace = [](std::string_view text) {
    StatusOr<double> v = ParsePace(text);
    return v.ok() ? *v : -1.0;
  };
  EXPECT_DOUBLE_EQ(pace("20"), 20);
  EXPECT_DOUBLE_EQ(pace("0"), 0);
  EXPECT_DOUBLE_EQ(pace("0.0167"), 0.0167);
  EXPECT_DOUBLE_EQ(pace("1/60"), 1.0 / 60);  // one file a minute
  EXPECT_DOUBLE_EQ(pace("1/min"), 1.0 / 60);
  EXPECT_DOUBLE_EQ(pace("30/min"), 0.5);
  EXPECT_DOUBLE_EQ(pace("7200/h"), 2);
  EXPECT_DOUBLE_EQ(pace("280/s"), 280);
  for (const char* bad : {"", "abc", "1/0", "-3", "1/x", "nan", "inf", "5/-2", "2 files"}) {
    EXPECT_FALSE(ParsePace(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace steen::drill
