// The built-in profiles, embedded from config/drill/*.yaml at build time.
#pragma once

#include <span>
#include <string_view>

namespace steen::drill {

struct EmbeddedProfile {
  std::string_view name;
  std::string_view text;
};
// Defined in the generated profiles_embedded.cc.
std::span<const EmbeddedProfile> EmbeddedProfiles();

}  // namespace steen::drill
