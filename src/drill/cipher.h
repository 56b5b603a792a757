// Internal: per-range streaming cipher, token names, helpers shared by the drill sources.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "steen/drill.h"

namespace steen::drill {

// Encrypts one range of a file, fed in order in pieces whose sizes are multiples of 64 bytes
// (except the last). Stream ciphers use the file offset as the counter, so the result is the
// same however the range is cut.
class RangeCipher {
 public:
  RangeCipher(CipherKind kind, const KeyMaterial& keys, uint64_t range_offset,
              uint64_t range_length, uint32_t range_index);
  ~RangeCipher();
  RangeCipher(const RangeCipher&) = delete;
  RangeCipher& operator=(const RangeCipher&) = delete;
  void Update(char* data, std::size_t length);

 private:
  void CtrXor(uint64_t file_offset, char* data, std::size_t length);
  CipherKind kind_;
  KeyMaterial keys_;
  uint64_t offset_;   // file offset of the next byte
  uint64_t cbc_end_;  // CBC: file offset where whole blocks end
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

CipherKind RuleCipher(const Profile& profile, uint64_t size, std::string_view file_name);

std::string Sha256(std::string_view data);
std::string Hex(std::string_view bytes);
// Deterministic pseudo-random bytes (ChaCha20 keystream of SHA-256(label || seed)).
std::string PseudoRandomBytes(std::string_view label, uint64_t seed, std::size_t length);
std::string Base64(std::string_view bytes);

// Containers (ART tools' output formats), in containers.cc.
StatusOr<std::string> MakeContainer(const Profile& profile, std::string_view original,
                                    uint64_t seed, std::string_view file_name);

}  // namespace steen::drill
