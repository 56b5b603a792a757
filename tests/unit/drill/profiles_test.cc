// Layouts of every built-in profile against behaviours.md, and TransformContent against layouts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "steen/drill.h"

namespace steen::drill {
namespace {

constexpr uint64_t kMiB = 1 << 20;
using Ranges = std::vector<ByteRange>;

Profile Load(std::string_view name) {
  StatusOr<Profile> p = LoadProfile(name);
  EXPECT_TRUE(p.ok()) << name << ": " << p.status().ToString();
  return p.ok() ? *p : Profile{};
}

Ranges L(std::string_view profile, uint64_t size, std::string_view file = {}) {
  return LayoutRanges(Load(profile), size, file);
}

uint64_t Total(const Ranges& ranges) {
  uint64_t total = 0;
  for (const auto& r : ranges) total += r.length;
  return total;
}

TEST(DrillProfiles, AllRequiredProfilesAreBuiltInAndParse) {
  const std::vector<std::string> required = {"play",
                                             "play-2023",
                                             "lockbit2",
                                             "lockbit3",
                                             "blackmatter",
                                             "blackcat-full",
                                             "blackcat-head",
                                             "blackcat-dot",
                                             "blackcat-smart",
                                             "black-basta",
                                             "conti",
                                             "babuk-windows",
                                             "babuk-esxi",
                                             "babuk-nas",
                                             "akira",
                                             "qilin",
                                             "hive",
                                             "hunters",
                                             "inc",
                                             "royal",
                                             "ryuk",
                                             "lockfile",
                                             "infection-monkey",
                                             "base64",
                                             "hex",
                                             "azov",
                                             "art-gpg",
                                             "art-7z",
                                             "art-ccrypt",
                                             "art-openssl"};
  std::vector<std::string> names = ListProfiles();
  for (const auto& name : required) {
    EXPECT_TRUE(std::find(names.begin(), names.end(), name) != names.end()) << name;
    Profile p = Load(name);
    EXPECT_EQ(p.name, name);
    EXPECT_FALSE(p.description.empty()) << name;
    EXPECT_FALSE(p.fidelity.empty()) << name;
  }
}

TEST(DrillProfiles, UnknownNameAndBadFilesFail) {
  EXPECT_FALSE(LoadProfile("no-such-family").ok());
  EXPECT_FALSE(LoadProfile("/nonexistent/x.yaml").ok());
  EXPECT_FALSE(ParseProfile("name: x\nlayout: [{kind: spread}]\n", "t").ok());
  EXPECT_FALSE(ParseProfile("name: x\ncipher: rot13\n", "t").ok());
  EXPECT_FALSE(ParseProfile("[1, 2", "t").ok());
  EXPECT_FALSE(
      ParseProfile("name: x\nencoding: hex\nlayout: [{kind: head, length: 4}]\n", "t").ok());
  StatusOr<Profile> ok = ParseProfile("name: x\nlayout: [{kind: head, length: 4KiB}]\n", "t");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(LayoutRanges(*ok, 10000), (Ranges{{0, 4096}}));
}

TEST(DrillLayout, Play2022) {
  EXPECT_EQ(L("play", 5), (Ranges{{0, 5}}));
  EXPECT_EQ(L("play", kMiB - 1), (Ranges{{0, kMiB - 1}}));
  EXPECT_EQ(L("play", 0x500000), (Ranges{{0, 0x500000}}));
  const uint64_t s = 0x500001;
  EXPECT_EQ(L("play", s), (Ranges{{0, kMiB}, {s - kMiB, kMiB}}));
  EXPECT_EQ(L("play", 0x3FFFFFFF), (Ranges{{0, kMiB}, {0x3FFFFFFF - kMiB, kMiB}}));
  Ranges three = L("play", 0x40000000);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three.back().end(), 0x40000000u);
  EXPECT_EQ(L("play", 0x280000000ULL).size(), 5u);
  EXPECT_EQ(FooterSize(Load("play"), 100), 1064u);
}

TEST(DrillLayout, Play2023) {
  EXPECT_EQ(L("play-2023", 0xFF0000), (Ranges{{0, 0xFF0000}}));
  EXPECT_EQ(L("play-2023", 0xFF0001), (Ranges{{0, kMiB}, {0xFF0001 - kMiB, kMiB}}));
  EXPECT_EQ(FooterSize(Load("play-2023"), 0xFF0000), 1064u);
  EXPECT_EQ(FooterSize(Load("play-2023"), 0xFF0001), 1080u);  // + 16 B CBC spill
}

TEST(DrillLayout, LockBit2) {
  EXPECT_EQ(L("lockbit2", 100, "a.txt"), (Ranges{{0, 100}}));
  EXPECT_EQ(L("lockbit2", 10000, "a.txt"), (Ranges{{0, 4096}}));
  EXPECT_EQ(L("lockbit2", 50 * kMiB, "a.txt"), (Ranges{{0, 4096}}));
  EXPECT_EQ(L("lockbit2", kMiB, "x.sql"), (Ranges{{0, 4096}}));  // 2nd chunk would start at EOF
  EXPECT_EQ(L("lockbit2", 3 * kMiB, "x.SQL"), (Ranges{{0, 4096}, {kMiB, 4096}, {2 * kMiB, 4096}}));
  EXPECT_EQ(L("lockbit2", 6 * kMiB, "x.db").size(), 4u);
  EXPECT_EQ(L("lockbit2", 6 * kMiB + 1, "x.db").size(), 7u);  // count 16, only 7 fit
  EXPECT_EQ(L("lockbit2", 100 * kMiB, "x.db").size(), 32u);
  EXPECT_EQ(L("lockbit2", 100 * kMiB + 1, "x.db").size(), 64u);
  EXPECT_EQ(Load("lockbit2").rename, RenameWhen::kFirst);
}

TEST(DrillLayout, LockBit3AndBlackMatter) {
  EXPECT_EQ(L("lockbit3", 2 * kMiB), (Ranges{{0, 128 << 10}, {kMiB, 128 << 10}}));
  EXPECT_EQ(L("blackmatter", 3 * kMiB, "a.docx"), (Ranges{{0, kMiB}}));
  EXPECT_EQ(L("blackmatter", 7 * kMiB, "a.mdf"),
            (Ranges{{0, kMiB}, {3 * kMiB, kMiB}, {6 * kMiB, kMiB}}));
  Ranges big = L("blackmatter", 128 * kMiB + 1, "a.mdf");  // skip 4 MiB
  ASSERT_GE(big.size(), 2u);
  EXPECT_EQ(big[1].offset, 5 * kMiB);
  EXPECT_EQ(FooterSize(Load("blackmatter"), 1), 132u);
}

TEST(DrillLayout, BlackCat) {
  EXPECT_EQ(L("blackcat-full", 12345), (Ranges{{0, 12345}}));
  EXPECT_EQ(L("blackcat-head", 3 * kMiB), (Ranges{{0, kMiB}}));
  EXPECT_EQ(L("blackcat-dot", 11 * kMiB), (Ranges{{0, kMiB}, {5 * kMiB, kMiB}, {10 * kMiB, kMiB}}));
  Ranges smart = L("blackcat-smart", 1000 * kMiB);
  ASSERT_EQ(smart.size(), 10u);
  for (uint64_t i = 0; i < 10; ++i) EXPECT_EQ(smart[i], (ByteRange{i * 100 * kMiB, 10 * kMiB}));
  EXPECT_EQ(L("blackcat-smart", 50 * kMiB), (Ranges{{0, 50 * kMiB}}));  // chunks overlap
}

TEST(DrillLayout, BlackBasta) {
  EXPECT_EQ(L("black-basta", 4999), (Ranges{{0, 4992}}));  // 64-B blocks, tail plain
  Ranges mid = L("black-basta", 5000);
  EXPECT_EQ(mid.front(), (ByteRange{0, 64}));
  EXPECT_EQ(mid[1], (ByteRange{192, 64}));
  for (const auto& r : mid) EXPECT_EQ(r.length, 64u);
  EXPECT_EQ(mid.size(), 5000u / 192);  // the 27th chunk (4992..5056) is partial: dropped
  Ranges big = L("black-basta", (1ULL << 30) + 1);
  EXPECT_EQ(big[0], (ByteRange{0, 5000}));
  EXPECT_EQ(big[1], (ByteRange{5000 + 6336, 64}));
}

TEST(DrillLayout, Conti) {
  EXPECT_EQ(L("conti", kMiB), (Ranges{{0, kMiB}}));
  EXPECT_EQ(L("conti", kMiB + 1), (Ranges{{0, kMiB}}));
  EXPECT_EQ(L("conti", 5 * kMiB), (Ranges{{0, kMiB}}));
  const uint64_t s = 5 * kMiB + 1, c = s * 70 / 1000, g = (s - 3 * c) / 2;
  EXPECT_EQ(L("conti", s), (Ranges{{0, c}, {c + g, c}, {2 * (c + g), c}}));
  EXPECT_EQ(L("conti", 10 * kMiB, "db.sqlite"), (Ranges{{0, 10 * kMiB}}));
  EXPECT_EQ(L("conti", 100000, "disk.vmdk").size(), 3u);
  EXPECT_EQ(Load("conti").footer_when, FooterWhen::kFirst);
  EXPECT_EQ(FooterSize(Load("conti"), 1), 534u);
}

TEST(DrillLayout, Babuk) {
  EXPECT_EQ(L("babuk-windows", 41943039), (Ranges{{0, 41943039}}));
  const uint64_t s = 41943040, region = s / 3;
  EXPECT_EQ(L("babuk-windows", s),
            (Ranges{{0, 10 * kMiB}, {region, 10 * kMiB}, {2 * region, 10 * kMiB}}));
  EXPECT_EQ(Load("babuk-windows").pattern, WritePattern::kMmap);
  EXPECT_EQ(L("babuk-esxi", 600 * kMiB), (Ranges{{0, 520 * kMiB}}));
  EXPECT_EQ(L("babuk-esxi", 1000), (Ranges{{0, 1000}}));
  EXPECT_EQ(FooterSize(Load("babuk-esxi"), 1), 32u);
  EXPECT_EQ(L("babuk-nas", 20 * kMiB), (Ranges{{0, 4 * kMiB}}));
  EXPECT_EQ(L("babuk-nas", 20 * kMiB + 1), (Ranges{{0, kMiB}, {10 * kMiB, kMiB}, {20 * kMiB, 1}}));
  EXPECT_EQ(FooterSize(Load("babuk-nas"), 1), 38u);
}

TEST(DrillLayout, AkiraQilinHiveHuntersInc) {
  EXPECT_EQ(L("akira", 2000000), (Ranges{{0, 1000000}}));
  const uint64_t s = 2000001, c = s * 100 / 1000, step = (s - 4 * c) / 4;
  EXPECT_EQ(L("akira", s),
            (Ranges{{0, c}, {c + step, c}, {2 * (c + step), c}, {3 * (c + step), c}}));
  EXPECT_EQ(L("akira", 5000, "vm.vmdk"), (Ranges{{0, 5000}}));
  EXPECT_EQ(L("qilin", 11 * kMiB), (Ranges{{0, kMiB}, {5 * kMiB, kMiB}, {10 * kMiB, kMiB}}));
  EXPECT_EQ(FooterSize(Load("qilin"), 1), 550u);
  EXPECT_EQ(L("hive", 4096), (Ranges{{0, 4096}}));
  EXPECT_EQ(L("hive", 4097), (Ranges{{0, 4097}}));  // two overlapping blocks
  const uint64_t h = kMiB, n = h * 300 / 1000 / 4096, space = (h - 4096 * n) / (n - 1);
  Ranges hive = L("hive", h);
  ASSERT_EQ(hive.size(), n);
  EXPECT_EQ(hive[1].offset, 4096 + space);
  EXPECT_EQ(L("hive", 1ULL << 33).size(), 256u);
  EXPECT_EQ(L("hunters", 1000), (Ranges{{0x3E, 1000 - 0x3E}}));
  EXPECT_TRUE(L("hunters", 0x3E).empty());
  EXPECT_EQ(FooterSize(Load("hunters"), 1), 640u);
  EXPECT_EQ(L("inc", 7000000), (Ranges{{0, 1000000}, {3000000, 1000000}, {6000000, 1000000}}));
  EXPECT_EQ(FooterSize(Load("inc"), 1), 35u);
}

TEST(DrillLayout, RoyalRyukLockfileMonkeyAzovEncodings) {
  EXPECT_EQ(L("royal", 5245000), (Ranges{{0, 5245000}}));
  Ranges royal = L("royal", 5245001);
  EXPECT_EQ(royal.size(), 10u);
  EXPECT_NEAR(static_cast<double>(Total(royal)) / 5245001, 0.5, 0.001);
  EXPECT_EQ(L("ryuk", 57000000), (Ranges{{0, 57000000}}));
  Ranges ryuk = L("ryuk", 57000001);
  EXPECT_EQ(ryuk[1], (ByteRange{2000000, 1000000}));
  EXPECT_EQ(L("ryuk", 10ULL << 30).size(), 2000u);
  EXPECT_EQ(L("lockfile", 100), (Ranges{{0, 16}, {32, 16}, {64, 16}, {96, 4}}));
  EXPECT_EQ(L("infection-monkey", 777), (Ranges{{0, 777}}));
  EXPECT_EQ(L("azov", 2000), (Ranges{{0, 666}, {1332, 666}}));
  EXPECT_EQ(L("base64", 10), (Ranges{{0, 10}}));
  EXPECT_EQ(L("hex", 10), (Ranges{{0, 10}}));
}

std::string RandomBytes(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n + 4, '\0');
  for (std::size_t i = 0; i < n; i += 4) {
    uint32_t v = rng();
    std::memcpy(&s[i], &v, 4);
  }
  s.resize(n);
  return s;
}

// For every profile and sizes around its thresholds: bytes outside the layout are untouched,
// bytes inside changed (allowing ciphertext to equal plaintext by chance), footer exact,
// deterministic for a seed, different for another seed.
TEST(DrillTransform, ChangesExactlyTheLayoutRanges) {
  for (const auto& name : ListProfiles()) {
    Profile p = Load(name);
    if (p.container != Container::kNone) continue;  // whole new file, tested below
    std::set<uint64_t> sizes = {1,       5,       6,        15,   16,      17,    62,
                                63,      64,      100,      191,  192,     1000,  4095,
                                4096,    4097,    4999,     5000, 5001,    65536, 100000,
                                2000000, 2000001, kMiB - 1, kMiB, kMiB + 1};
    for (const auto& rule : p.layout) {
      for (uint64_t edge : {rule.max_size, rule.min_size}) {
        if (edge == UINT64_MAX || edge > 6 * kMiB) continue;
        for (int64_t d : {-1, 0, 1}) {
          if (static_cast<int64_t>(edge) + d > 0) sizes.insert(edge + d);
        }
      }
    }
    bool by_extension = std::any_of(p.layout.begin(), p.layout.end(),
                                    [](const LayoutRule& r) { return !r.extensions.empty(); });
    std::vector<const char*> files = {"doc.txt"};
    if (by_extension) files = {"doc.txt", "db.sql", "db.mdf", "disk.vmdk"};
    for (const char* file : files) {
      for (uint64_t size : sizes) {
        SCOPED_TRACE(name + " " + file + " " + std::to_string(size));
        std::string original = RandomBytes(size, static_cast<uint32_t>(size));
        StatusOr<std::string> out = TransformContent(p, original, 42, file);
        ASSERT_TRUE(out.ok()) << out.status().ToString();
        Ranges ranges = LayoutRanges(p, size, file);
        uint64_t footer = FooterSize(p, size, file);
        if (p.encoding == Encoding::kBase64) {
          EXPECT_EQ(out->size(), 4 * ((size + 2) / 3) + footer);
          continue;
        }
        if (p.encoding == Encoding::kHex) {
          EXPECT_EQ(out->size(), 2 * size + footer);
          EXPECT_EQ(out->find_first_not_of("0123456789abcdef"), std::string::npos);
          continue;
        }
        ASSERT_EQ(out->size(), size + footer);
        uint64_t changed_inside = 0, total_inside = 0;
        bool outside_intact = true;
        uint64_t cursor = 0;  // ranges are sorted and disjoint
        for (const auto& r : ranges) {
          ASSERT_LE(r.end(), size);
          ASSERT_GE(r.offset, cursor);
          outside_intact &=
              out->compare(cursor, r.offset - cursor, original, cursor, r.offset - cursor) == 0;
          const char* a = out->data() + r.offset;
          const char* b = original.data() + r.offset;
          for (uint64_t i = 0; i < r.length; ++i) changed_inside += a[i] != b[i];
          total_inside += r.length;
          cursor = r.end();
        }
        outside_intact &= out->compare(cursor, size - cursor, original, cursor, size - cursor) == 0;
        ASSERT_TRUE(outside_intact) << "a byte outside the layout changed";
        if (total_inside >= 64) {
          EXPECT_GT(changed_inside, total_inside * 95 / 100);
        } else if (total_inside > 0) {
          EXPECT_GT(changed_inside, 0u);
        }
        if (p.cipher == CipherKind::kBitFlip) EXPECT_EQ(changed_inside, total_inside);
        if (p.footer_format == FooterFormat::kOpaque && !p.footer_marker.empty() &&
            footer >= p.footer_marker.size()) {
          EXPECT_TRUE(out->ends_with(p.footer_marker));
        }
        StatusOr<std::string> again = TransformContent(p, original, 42, file);
        EXPECT_TRUE(*again == *out) << "not deterministic";
        if (total_inside >= 16 && p.cipher != CipherKind::kBitFlip) {
          EXPECT_FALSE(*TransformContent(p, original, 43, file) == *out) << "seed ignored";
        }
      }
    }
  }
}

TEST(DrillTransform, StreamCiphersAreInvertibleAndOffsetAddressed) {
  KeyMaterial keys = DeriveKeys(7);
  for (CipherKind kind : {CipherKind::kAes256Ctr, CipherKind::kAes128Ctr, CipherKind::kChaCha20,
                          CipherKind::kBitFlip}) {
    std::string plain = RandomBytes(1000, 1);
    std::string whole = plain;
    ApplyCipher(kind, keys, 100, 0, &whole);
    // The same bytes processed in two pieces at their file offsets give the same ciphertext.
    std::string a = plain.substr(0, 333), b = plain.substr(333);
    ApplyCipher(kind, keys, 100, 0, &a);
    ApplyCipher(kind, keys, 433, 0, &b);
    EXPECT_EQ(a + b, whole) << ToString(kind);
    ApplyCipher(kind, keys, 100, 0, &whole);  // XOR ciphers are involutions
    EXPECT_EQ(whole, plain) << ToString(kind);
  }
}

TEST(DrillNames, ExtensionRules) {
  EXPECT_EQ(TransformName(Load("play"), "report.docx", 1), "report.docx.PLAY");
  EXPECT_EQ(TransformName(Load("infection-monkey"), "a.txt", 1), "a.txt.m0nk3y");
  EXPECT_EQ(TransformName(Load("azov"), "a.txt", 1), "a.txt");
  EXPECT_EQ(TransformName(Load("art-ccrypt"), "passwd", 1), "passwd.cpt");
  // Random per-victim extension: same for every file of a run, different across runs.
  Profile bb = Load("black-basta");
  std::string a = TransformName(bb, "a.txt", 5), b = TransformName(bb, "b.pdf", 5);
  ASSERT_EQ(a.size(), std::string("a.txt.").size() + 9);
  EXPECT_EQ(a.substr(6), b.substr(6));
  EXPECT_NE(TransformName(bb, "a.txt", 6), a);
  EXPECT_EQ(TransformName(bb, "a.txt", 5), a);
  // LockBit 3: random 7-char name per file + 9-char run extension.
  Profile lb3 = Load("lockbit3");
  std::string x = TransformName(lb3, "1.jpg", 9), y = TransformName(lb3, "2.jpg", 9);
  EXPECT_EQ(x.size(), 17u);
  EXPECT_NE(x.substr(0, 7), y.substr(0, 7));
  EXPECT_EQ(x.substr(7), y.substr(7));
  EXPECT_EQ(NoteName(lb3, 9), x.substr(8) + ".README.txt");
  // Hive: <orig>.<56>.<5>
  std::string hive = TransformName(Load("hive"), "f.txt", 1);
  EXPECT_EQ(hive.size(), 5 + 1 + 56 + 1 + 5);
}

}  // namespace
}  // namespace steen::drill
