// ASN.1 DER/BER walking: the TLV (tag, length, value) nesting that certificates, PKCS#7 signatures
// and Authenticode blobs are made of. Constructed values are descended into and must be filled
// exactly by their children; primitive values (integers, OCTET and BIT STRINGs, which hold the
// signature bytes and encrypted payloads) are skipped. Random bytes pass one TLV header now and
// then, but not a nesting whose every length adds up.
#pragma once

#include <cstdint>
#include <string_view>

namespace steen::content {

struct DerWalk {
  bool ok = false;
  uint64_t bad_at = 0;  // offset in the walked bytes of the first TLV that does not fit
  int nodes = 0;        // TLVs walked
};

// Walks `bytes` as one or more TLVs filling it exactly (trailing zero bytes allowed: signature
// blobs are padded to 8 bytes), at most limits::kMaxContainerDepth deep and
// limits::kMaxChunksWalked TLVs. BER's indefinite lengths (constructed, ended by 00 00) are
// accepted: older signing tools wrote them.
DerWalk WalkDer(std::string_view bytes);

// True when the last KiB of `from_break` (the bytes from where a walk broke to the end) is random
// bytes: ciphertext there, not a length written wrong.
bool EndsInRandomBytes(std::string_view from_break);

}  // namespace steen::content
