#include <algorithm>

#include "steen/content.h"

namespace steen {

Status MemoryByteSource::ReadAt(uint64_t offset, std::size_t length, std::string* out) {
  if (offset >= bytes_.size()) {
    out->clear();
    return Status::Ok();
  }
  const std::size_t n = std::min<uint64_t>(length, bytes_.size() - offset);
  out->assign(bytes_.data() + offset, n);
  return Status::Ok();
}

std::string_view ToString(Verdict verdict) {
  switch (verdict) {
    case Verdict::kIntact:
      return "intact";
    case Verdict::kDamaged:
      return "damaged";
    case Verdict::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::string_view ToString(DamageKind kind) {
  switch (kind) {
    case DamageKind::kNone:
      return "none";
    case DamageKind::kEncrypted:
      return "encrypted";
    case DamageKind::kPartiallyEncrypted:
      return "partially_encrypted";
    case DamageKind::kEncodedCiphertext:
      return "encoded_ciphertext";
    case DamageKind::kBitTransformed:
      return "bit_transformed";
    case DamageKind::kOverwritten:
      return "overwritten";
  }
  return "none";
}

}  // namespace steen
