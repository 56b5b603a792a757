// Pure transformation: ciphers, footers, encodings and names (no file system).
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "drill/cipher.h"

namespace steen::drill {
namespace {

std::string SeedBytes(std::string_view label, uint64_t seed) {
  std::string data(label);
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<char>((seed >> (8 * i)) & 0xFF));
  return data;
}

// 128-bit big-endian counter + blocks.
void AddCounter(unsigned char iv[16], uint64_t blocks) {
  for (int i = 15; i >= 0 && blocks != 0; --i) {
    uint64_t sum = iv[i] + (blocks & 0xFF);
    iv[i] = static_cast<unsigned char>(sum);
    blocks = (blocks >> 8) + (sum >> 8);
  }
}

uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t HashName(std::string_view name) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

std::string RandomToken(std::string_view alphabet, int length, uint64_t* state) {
  std::string out;
  for (int i = 0; i < length; ++i) out.push_back(alphabet[SplitMix(state) % alphabet.size()]);
  return out;
}

// Expands {name} {stem} {ext} {rand:N} {alnum:N} {RAND:N} {hex:N} {b64:N} (per file) and
// {vid:N} {VID:N} {VIDALNUM:N} (per run: the victim-wide extension).
std::string Expand(std::string_view tmpl, std::string_view file_name, uint64_t seed) {
  std::string stem(file_name), ext;
  std::size_t dot = file_name.rfind('.');
  if (dot != std::string_view::npos && dot > 0) {
    stem = std::string(file_name.substr(0, dot));
    ext = std::string(file_name.substr(dot + 1));
  }
  uint64_t file_state = seed ^ HashName(file_name);
  std::string out;
  std::size_t i = 0;
  int token_index = 0;
  while (i < tmpl.size()) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i++]);
      continue;
    }
    std::size_t close = tmpl.find('}', i);
    if (close == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    std::string token(tmpl.substr(i + 1, close - i - 1));
    i = close + 1;
    std::string kind = token;
    int length = 0;
    if (std::size_t colon = token.find(':'); colon != std::string::npos) {
      kind = token.substr(0, colon);
      length = std::clamp(std::atoi(token.c_str() + colon + 1), 0, 255);
    }
    constexpr std::string_view kLowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
    constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    constexpr std::string_view kAlnum =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    constexpr std::string_view kHexDigits = "0123456789abcdef";
    constexpr std::string_view kB64 =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    bool per_run = kind == "vid" || kind == "VID" || kind == "vidalnum";
    uint64_t state = (per_run ? seed : file_state) + 0x1000003ULL * ++token_index;
    if (per_run) state = seed + 0x51ED27ULL * length;  // same token -> same text in a run
    if (kind == "name")
      out += file_name;
    else if (kind == "stem")
      out += stem;
    else if (kind == "ext")
      out += ext;
    else if (kind == "rand" || kind == "vid")
      out += RandomToken(kLowerAlnum, length, &state);
    else if (kind == "RAND" || kind == "VID")
      out += RandomToken(kUpper, length, &state);
    else if (kind == "alnum" || kind == "vidalnum")
      out += RandomToken(kAlnum, length, &state);
    else if (kind == "hex")
      out += RandomToken(kHexDigits, length, &state);
    else if (kind == "b64")
      out += RandomToken(kB64, length, &state);
    else
      out += "{" + token + "}";
  }
  return out;
}

}  // namespace

std::string Sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return std::string(reinterpret_cast<char*>(digest), sizeof(digest));
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

KeyMaterial DeriveKeys(uint64_t seed) {
  KeyMaterial keys;
  keys.key = Sha256(SeedBytes("steen-drill/key", seed));
  keys.nonce = Sha256(SeedBytes("steen-drill/nonce", seed)).substr(0, 16);
  return keys;
}

std::string PseudoRandomBytes(std::string_view label, uint64_t seed, std::size_t length) {
  KeyMaterial keys;
  keys.key = Sha256(SeedBytes(label, seed));
  keys.nonce = std::string(16, '\0');
  std::string out(length, '\0');
  RangeCipher cipher(CipherKind::kChaCha20, keys, 0, length, 0);
  cipher.Update(out.data(), out.size());
  return out;
}

RangeCipher::RangeCipher(CipherKind kind, const KeyMaterial& keys, uint64_t range_offset,
                         uint64_t range_length, uint32_t range_index)
    : kind_(kind), keys_(keys), offset_(range_offset) {
  cbc_end_ = range_offset + range_length - range_length % 16;
  auto key = reinterpret_cast<const unsigned char*>(keys_.key.data());
  unsigned char iv[16];
  std::memcpy(iv, keys_.nonce.data(), 16);
  switch (kind_) {
    case CipherKind::kAes256Cbc:
    case CipherKind::kAes256Gcm: {
      // A fresh IV per range (the families use one per chunk or per file).
      for (int i = 0; i < 4; ++i) iv[i] ^= static_cast<unsigned char>(range_index >> (8 * i));
      ctx_ = EVP_CIPHER_CTX_new();
      if (kind_ == CipherKind::kAes256Cbc) {
        EVP_EncryptInit_ex(ctx_, EVP_aes_256_cbc(), nullptr, key, iv);
        EVP_CIPHER_CTX_set_padding(ctx_, 0);
      } else {
        EVP_EncryptInit_ex(ctx_, EVP_aes_256_gcm(), nullptr, nullptr, nullptr);
        EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr);
        EVP_EncryptInit_ex(ctx_, nullptr, nullptr, key, iv);
      }
      break;
    }
    default:
      break;
  }
}

RangeCipher::~RangeCipher() {
  if (ctx_ != nullptr) EVP_CIPHER_CTX_free(ctx_);
}

// XOR with a keystream addressed by file offset (CTR-style ciphers and wipes).
void RangeCipher::CtrXor(uint64_t file_offset, char* data, std::size_t length) {
  const EVP_CIPHER* evp = nullptr;
  unsigned char iv[16];
  std::memcpy(iv, keys_.nonce.data(), 16);
  std::string key = keys_.key;
  uint64_t block = 16;
  switch (kind_) {
    case CipherKind::kChaCha20:
    case CipherKind::kRandomWipe: {
      evp = EVP_chacha20();
      block = 64;
      uint32_t counter = static_cast<uint32_t>(file_offset / 64);
      for (int i = 0; i < 4; ++i) iv[i] = static_cast<unsigned char>(counter >> (8 * i));
      if (kind_ == CipherKind::kRandomWipe) key = Sha256(key + "wipe");
      break;
    }
    case CipherKind::kAes128Ctr:
      evp = EVP_aes_128_ctr();
      AddCounter(iv, file_offset / 16);
      break;
    default:  // AES-256-CTR, and the CBC tail
      evp = EVP_aes_256_ctr();
      AddCounter(iv, file_offset / 16);
      break;
  }
  std::size_t lead = file_offset % block;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(ctx, evp, nullptr, reinterpret_cast<const unsigned char*>(key.data()), iv);
  int out_len = 0;
  if (lead > 0) {
    unsigned char discard[64];
    EVP_EncryptUpdate(ctx, discard, &out_len, discard, static_cast<int>(lead));
  }
  if (kind_ == CipherKind::kRandomWipe) std::memset(data, 0, length);  // output = keystream
  constexpr std::size_t kStep = 1 << 30;
  for (std::size_t done = 0; done < length; done += kStep) {
    int n = static_cast<int>(std::min(kStep, length - done));
    auto p = reinterpret_cast<unsigned char*>(data + done);
    EVP_EncryptUpdate(ctx, p, &out_len, p, n);
  }
  EVP_CIPHER_CTX_free(ctx);
}

void RangeCipher::Update(char* data, std::size_t length) {
  switch (kind_) {
    case CipherKind::kBitFlip:
      for (std::size_t i = 0; i < length; ++i)
        data[i] = static_cast<char>(255 - static_cast<unsigned char>(data[i]));
      break;
    case CipherKind::kAes256Cbc: {
      std::size_t whole = offset_ < cbc_end_ ? std::min<uint64_t>(length, cbc_end_ - offset_) : 0;
      int out_len = 0;
      auto p = reinterpret_cast<unsigned char*>(data);
      if (whole > 0) EVP_EncryptUpdate(ctx_, p, &out_len, p, static_cast<int>(whole));
      // A partial last block cannot be CBC-encrypted in place without growing the file; the
      // simulator XORs it with CTR keystream (families pad, spill or leave it plain).
      if (whole < length) CtrXor(offset_ + whole, data + whole, length - whole);
      break;
    }
    case CipherKind::kAes256Gcm: {
      int out_len = 0;
      auto p = reinterpret_cast<unsigned char*>(data);
      EVP_EncryptUpdate(ctx_, p, &out_len, p, static_cast<int>(length));
      break;
    }
    default:
      CtrXor(offset_, data, length);
      break;
  }
  offset_ += length;
}

void ApplyCipher(CipherKind cipher, const KeyMaterial& keys, uint64_t offset, uint32_t range_index,
                 std::string* data) {
  RangeCipher rc(cipher, keys, offset, data->size(), range_index);
  rc.Update(data->data(), data->size());
}

std::string MakeFooter(const Profile& profile, uint64_t footer_size, uint64_t seed) {
  std::string footer = PseudoRandomBytes("steen-drill/footer", seed, footer_size);
  std::size_t marker = std::min<std::size_t>(profile.footer_marker.size(), footer.size());
  std::memcpy(footer.data() + footer.size() - marker, profile.footer_marker.data(), marker);
  return footer;
}

StatusOr<std::string> TransformContent(const Profile& profile, std::string_view original,
                                       uint64_t seed, std::string_view file_name) {
  if (profile.container != Container::kNone) {
    return MakeContainer(profile, original, seed, file_name);
  }
  KeyMaterial keys = DeriveKeys(seed);
  CipherKind cipher = RuleCipher(profile, original.size(), file_name);
  std::string out(original);
  std::vector<ByteRange> ranges = LayoutRanges(profile, original.size(), file_name);
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    RangeCipher rc(cipher, keys, ranges[i].offset, ranges[i].length, static_cast<uint32_t>(i));
    rc.Update(out.data() + ranges[i].offset, ranges[i].length);
  }
  if (profile.encoding == Encoding::kBase64) out = Base64(out);
  if (profile.encoding == Encoding::kHex) out = Hex(out);
  out += MakeFooter(profile, FooterSize(profile, original.size(), file_name), seed);
  return out;
}

std::string TransformName(const Profile& profile, std::string_view file_name, uint64_t seed) {
  if (profile.name_template.empty()) return std::string(file_name);
  std::string name = Expand(profile.name_template, file_name, seed);
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return std::string(file_name) + ".drill";
  }
  return name;
}

std::string NoteName(const Profile& profile, uint64_t run_seed) {
  return Expand(profile.note.name, "", run_seed);
}

std::string_view ToString(LayoutKind kind) {
  switch (kind) {
    case LayoutKind::kNone:
      return "none";
    case LayoutKind::kFull:
      return "full";
    case LayoutKind::kHead:
      return "head";
    case LayoutKind::kStride:
      return "stride";
    case LayoutKind::kSpread:
      return "spread";
    case LayoutKind::kRegions:
      return "regions";
  }
  return "?";
}

std::string_view ToString(CipherKind kind) {
  switch (kind) {
    case CipherKind::kAes256Ctr:
      return "aes-256-ctr";
    case CipherKind::kAes128Ctr:
      return "aes-128-ctr";
    case CipherKind::kAes256Cbc:
      return "aes-256-cbc";
    case CipherKind::kAes256Gcm:
      return "aes-256-gcm";
    case CipherKind::kChaCha20:
      return "chacha20";
    case CipherKind::kBitFlip:
      return "bitflip";
    case CipherKind::kRandomWipe:
      return "random-wipe";
  }
  return "?";
}

std::string_view ToString(WritePattern pattern) {
  switch (pattern) {
    case WritePattern::kPwrite:
      return "pwrite";
    case WritePattern::kMmap:
      return "mmap";
    case WritePattern::kNewFileUnlink:
      return "new-file-unlink";
    case WritePattern::kNewFileKeep:
      return "new-file-keep";
    case WritePattern::kMoveOutBack:
      return "move-out-back";
  }
  return "?";
}

}  // namespace steen::drill
