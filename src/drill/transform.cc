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

uint32_t XxHash32(std::string_view data, uint32_t seed) {
  constexpr uint32_t kP1 = 2654435761U, kP2 = 2246822519U, kP3 = 3266489917U, kP4 = 668265263U,
                     kP5 = 374761393U;
  auto rotl = [](uint32_t v, int r) { return (v << r) | (v >> (32 - r)); };
  auto lane = [&](std::size_t i) {
    uint32_t v;
    std::memcpy(&v, data.data() + i, 4);  // little-endian host (x86-64, arm64)
    return v;
  };
  const std::size_t n = data.size();
  std::size_t i = 0;
  uint32_t h;
  if (n >= 16) {
    uint32_t v[4] = {seed + kP1 + kP2, seed + kP2, seed, seed - kP1};
    for (; i + 16 <= n; i += 16) {
      for (int k = 0; k < 4; ++k) v[k] = rotl(v[k] + lane(i + 4 * k) * kP2, 13) * kP1;
    }
    h = rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18);
  } else {
    h = seed + kP5;
  }
  h += static_cast<uint32_t>(n);
  for (; i + 4 <= n; i += 4) h = rotl(h + lane(i) * kP3, 17) * kP4;
  for (; i < n; ++i) h = rotl(h + static_cast<unsigned char>(data[i]) * kP5, 11) * kP1;
  h ^= h >> 15;
  h *= kP2;
  h ^= h >> 13;
  h *= kP3;
  h ^= h >> 16;
  return h;
}

namespace {
constexpr uint64_t kPlayChunk = 0x100000;
constexpr uint64_t kPlayFooter = 1064;  // 40-byte header + 1,024-byte blob

template <typename T>
void PutLE(std::string* out, std::size_t at, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    (*out)[at + i] = static_cast<char>((static_cast<uint64_t>(value) >> (8 * i)) & 0xFF);
  }
}
}  // namespace

uint64_t PlayChunkCount(const Profile& profile, uint64_t size, std::string_view file_name) {
  if (profile.footer_format == FooterFormat::kOpaque) return 0;
  uint64_t chunks = 0;
  for (const auto& r : LayoutRanges(profile, size, file_name)) {
    chunks += (r.length + kPlayChunk - 1) / kPlayChunk;
  }
  return chunks;
}

uint64_t PlayCounterOffset(const Profile& profile, uint64_t size, std::string_view file_name) {
  if (profile.footer_format == FooterFormat::kOpaque) return 0;
  return FooterSize(profile, size, file_name) - kPlayFooter + 32;
}

std::string FileFooter(const Profile& profile, uint64_t size, std::string_view file_name,
                       uint64_t seed, uint64_t chunks_done) {
  const uint64_t footer_size = FooterSize(profile, size, file_name);
  if (profile.footer_format == FooterFormat::kOpaque || footer_size < kPlayFooter) {
    return MakeFooter(profile, footer_size, seed);
  }
  std::string footer = PseudoRandomBytes("steen-drill/footer", seed, footer_size);
  const std::size_t h = footer_size - kPlayFooter;  // header start (after Play 2023's spill)
  const std::string_view marker = profile.footer_marker;
  std::memcpy(footer.data() + h, marker.data(), 16);
  const std::vector<ByteRange> ranges = LayoutRanges(profile, size, file_name);
  const uint64_t chunks = PlayChunkCount(profile, size, file_name);
  const uint64_t counter = std::min(chunks, chunks_done);
  if (profile.footer_format == FooterFormat::kPlay2022) {
    uint64_t last = 0;
    if (!ranges.empty()) last = (ranges.back().length - 1) % kPlayChunk + 1;
    PutLE<uint16_t>(&footer, h + 16, static_cast<uint16_t>(last & 0xFFFF));
    PutLE<uint16_t>(&footer, h + 18, static_cast<uint16_t>(chunks & 0xFFFF));
    PutLE<uint16_t>(&footer, h + 20, size > 0x500000 ? 1 : 0);
    PutLE<uint16_t>(&footer, h + 22, size < kPlayChunk ? 1 : 0);
    PutLE<uint32_t>(&footer, h + 24, kPlayChunk);
    PutLE<uint32_t>(&footer, h + 28, XxHash32(marker, 0));
  } else {
    const bool whole = ranges.size() == 1 && ranges[0].offset == 0 && ranges[0].length == size;
    uint32_t hash_seed = 0;
    for (std::size_t i = 0; i < marker.size(); ++i) {
      hash_seed += static_cast<unsigned char>(marker[i]) + static_cast<uint32_t>(i);
    }
    const CipherKind cipher = RuleCipher(profile, size, file_name);
    PutLE<uint16_t>(&footer, h + 16, static_cast<uint16_t>(h));  // padding (CBC spill) bytes
    PutLE<uint16_t>(&footer, h + 18, 0);                         // block_step: no stage 2
    PutLE<uint16_t>(&footer, h + 20, whole ? 0 : 1);             // big_file
    PutLE<uint16_t>(&footer, h + 22, cipher == CipherKind::kAes256Gcm ? 2 : 1);  // aes_mode
    PutLE<uint32_t>(&footer, h + 24, kPlayChunk);
    PutLE<uint32_t>(&footer, h + 28, XxHash32(marker, hash_seed & 0xFFFF));
  }
  PutLE<uint64_t>(&footer, h + 32, counter);
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
  out += FileFooter(profile, original.size(), file_name, seed);
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
    case WritePattern::kNewFileRenameOver:
      return "new-file-rename-over";
  }
  return "?";
}

std::string_view ToString(RenameWhen when) {
  switch (when) {
    case RenameWhen::kNone:
      return "none";
    case RenameWhen::kFirst:
      return "first";
    case RenameWhen::kLast:
      return "last";
  }
  return "?";
}

}  // namespace steen::drill
