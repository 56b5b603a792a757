// The content engine against every drill profile: each family's damage must be found, and the
// intact originals must not be flagged. Samples are made by code; profiles are the real ones.
#include <gtest/gtest.h>

#include "steen/content.h"
#include "steen/drill.h"
#include "unit/detection/samples.h"

namespace steen {
namespace {

const ContentAnalyzer& Analyzer() {
  static const ContentAnalyzer analyzer;
  return analyzer;
}

Analysis Analyze(const std::string& bytes) {
  MemoryByteSource source(bytes);
  auto result = Analyzer().Analyze(source);
  EXPECT_TRUE(result.ok());
  return result.ok() ? *result : Analysis{};
}

std::string Describe(const Analysis& a) {
  std::string s = std::string(ToString(a.verdict)) + "/" + std::string(ToString(a.kind)) + " [" +
                  a.format + "]";
  for (const auto& r : a.reasons) s += " " + r + ";";
  return s;
}

// Profiles whose output is a legitimately formatted encrypted container written next to an intact
// original (Atomic Red Team gpg and 7z): nothing is damaged, so a content scan must call the new
// file an encrypted container, not damage. Catching them is behavioural (steen watch).
bool WritesLegitimateContainer(const drill::Profile& profile) {
  return profile.container == drill::Container::kGpg ||
         profile.container == drill::Container::kZipCrypto ||
         profile.container == drill::Container::kOpensslEnc;
}

TEST(Detection, IntactSamplesAreNotDamaged) {
  for (const auto& sample : testing::MakeSamples()) {
    const Analysis a = Analyze(sample.bytes);
    EXPECT_NE(a.verdict, Verdict::kDamaged) << sample.name << ": " << Describe(a);
  }
}

class EveryProfile : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryProfile, DamageIsDetected) {
  auto profile = drill::LoadProfile(GetParam());
  ASSERT_TRUE(profile.ok()) << profile.status().ToString();
  int attacked = 0;
  for (const auto& sample : testing::MakeSamples()) {
    auto damaged = drill::TransformContent(*profile, sample.bytes, /*seed=*/42, sample.name);
    ASSERT_TRUE(damaged.ok()) << damaged.status().ToString();
    if (*damaged == sample.bytes) continue;  // the profile leaves this file alone
    ++attacked;
    const Analysis a = Analyze(*damaged);
    if (WritesLegitimateContainer(*profile)) {
      EXPECT_NE(a.verdict, Verdict::kDamaged) << sample.name << ": " << Describe(a);
      continue;
    }
    EXPECT_EQ(a.verdict, Verdict::kDamaged)
        << GetParam() << " on " << sample.name << ": " << Describe(a);
  }
  EXPECT_GT(attacked, 0) << "profile " << GetParam() << " changed none of the samples";
}

INSTANTIATE_TEST_SUITE_P(Drill, EveryProfile, ::testing::ValuesIn(drill::ListProfiles()),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace steen
