// Shared body of the per-validator fuzz targets: runs one named validator over the input (both
// its signature check and its structural validation), as the analyzer would.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "content/format.h"
#include "steen/limits.h"

namespace steen::fuzz {

inline int RunValidator(std::string_view validator_name, const uint8_t* data, size_t size) {
  static const content::ValidatorList validators = content::MakeAllValidators();
  const content::FormatValidator* validator = nullptr;
  for (const auto& v : validators) {
    if (v->name() == validator_name) validator = v.get();
  }
  if (validator == nullptr) {
    std::fprintf(stderr, "fuzz: no validator named %.*s\n", static_cast<int>(validator_name.size()),
                 validator_name.data());
    std::abort();
  }
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  MemoryByteSource source(bytes);
  content::Reader reader(source, limits::kAnalysisReadBudget);
  (void)validator->Matches(bytes.substr(0, limits::kHeadBytes), size);
  // Validators must cope with inputs that do not match; --verify's whole decode runs on what
  // Validate found valid, as the analyzer runs it.
  content::FormatReport report = validator->Validate(reader);
  if (report.integrity == content::Integrity::kValid) validator->VerifyWhole(reader, report);
  return 0;
}

}  // namespace steen::fuzz
