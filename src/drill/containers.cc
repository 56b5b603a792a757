// Native imitations of the output formats of the Atomic Red Team T1486 tools (behaviours.md §5.1):
// gpg -c (OpenPGP SKESK + SEIPD + compressed literal data + MDC, decryptable by gpg),
// 7z a -p (ZIP with ZipCrypto, decryptable by unzip/7z), openssl enc -aes-256-cbc -pbkdf2
// ("Salted__", decryptable by openssl) and ccrypt (size +32 only: Rijndael-256 is not in OpenSSL).
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <zlib.h>

#include <cstring>

#include "drill/cipher.h"

namespace steen::drill {
namespace {

// A fixed timestamp keeps the output deterministic (the tools use the clock or the file's mtime).
constexpr uint32_t kFixedTime = 0x65000000;  // 2023-09-12

void Put16LE(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v & 0xFF));
  out->push_back(static_cast<char>((v >> 8) & 0xFF));
}
void Put32LE(std::string* out, uint32_t v) {
  Put16LE(out, v & 0xFFFF);
  Put16LE(out, v >> 16);
}
void Put32BE(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

StatusOr<std::string> RawDeflate(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status::Internal("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status::Internal("deflate failed");
  return out;
}

// ---- OpenPGP ------------------------------------------------------------------------------------

// Old-format packet header (what gpg emits for these packets).
std::string OldPacket(int tag, std::string_view body) {
  std::string out;
  if (body.size() < 256) {
    out.push_back(static_cast<char>(0x80 | (tag << 2) | 0));
    out.push_back(static_cast<char>(body.size()));
  } else if (body.size() < 65536) {
    out.push_back(static_cast<char>(0x80 | (tag << 2) | 1));
    out.push_back(static_cast<char>(body.size() >> 8));
    out.push_back(static_cast<char>(body.size() & 0xFF));
  } else {
    out.push_back(static_cast<char>(0x80 | (tag << 2) | 2));
    Put32BE(&out, static_cast<uint32_t>(body.size()));
  }
  out.append(body);
  return out;
}

std::string NewPacket(int tag, std::string_view body) {
  std::string out(1, static_cast<char>(0xC0 | tag));
  std::size_t n = body.size();
  if (n < 192) {
    out.push_back(static_cast<char>(n));
  } else if (n < 8384) {
    out.push_back(static_cast<char>(((n - 192) >> 8) + 192));
    out.push_back(static_cast<char>((n - 192) & 0xFF));
  } else {
    out.push_back(static_cast<char>(0xFF));
    Put32BE(&out, static_cast<uint32_t>(n));
  }
  out.append(body);
  return out;
}

// RFC 4880 §3.7.1.3 iterated and salted S2K with SHA-1, 32-byte key.
std::string S2kIteratedSha1(std::string_view pass, std::string_view salt, uint8_t coded_count) {
  uint64_t count = (16ULL + (coded_count & 15)) << ((coded_count >> 4) + 6);
  std::string data = std::string(salt) + std::string(pass);
  count = std::max<uint64_t>(count, data.size());
  // Hash a long repetition of salt||pass in big pieces (gpg's 65 MB count would be slow bytewise).
  std::string repeated;
  while (repeated.size() < (64 << 10)) repeated += data;
  std::string key;
  for (int preload = 0; key.size() < 32; ++preload) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr);
    for (int i = 0; i < preload; ++i) EVP_DigestUpdate(ctx, "", 1);  // one zero byte per context
    uint64_t left = count;
    while (left > 0) {
      std::size_t n = std::min<uint64_t>(left, repeated.size() - repeated.size() % data.size());
      EVP_DigestUpdate(ctx, repeated.data(), n);
      left -= n;
    }
    unsigned char digest[20];
    unsigned int digest_len = 0;
    EVP_DigestFinal_ex(ctx, digest, &digest_len);
    EVP_MD_CTX_free(ctx);
    key.append(reinterpret_cast<char*>(digest), 20);
  }
  key.resize(32);
  return key;
}

StatusOr<std::string> MakeGpg(const Profile& p, std::string_view original, uint64_t seed,
                              std::string_view file_name) {
  std::string random = PseudoRandomBytes("steen-drill/gpg", seed, 8 + 16);
  std::string salt = random.substr(0, 8);
  constexpr uint8_t kCodedCount = 0xFF;  // gpg 2.2's calibrated default seen on Debian 12
  std::string skesk = {4, 9, 3, 2};      // v4, AES-256, iterated+salted S2K, SHA-1
  skesk += salt;
  skesk.push_back(static_cast<char>(kCodedCount));
  std::string key = S2kIteratedSha1(p.passphrase, salt, kCodedCount);

  std::string name(file_name.substr(0, 255));
  std::string literal = {'b', static_cast<char>(name.size())};
  literal += name;
  Put32BE(&literal, kFixedTime);
  literal.append(original);
  StatusOr<std::string> deflated = RawDeflate(OldPacket(11, literal));
  if (!deflated.ok()) return deflated.status();
  // Compressed packet, old format with indeterminate length (as gpg writes it), algo 1 = ZIP.
  std::string plain = random.substr(8, 16);
  plain += random.substr(8 + 14, 2);  // quick-check repeat of the last two prefix bytes
  plain.push_back(static_cast<char>(0x80 | (8 << 2) | 3));
  plain.push_back(1);
  plain += *deflated;
  plain += "\xD3\x14";
  unsigned char mdc[20];
  SHA1(reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), mdc);
  plain.append(reinterpret_cast<char*>(mdc), 20);

  std::string encrypted(plain.size(), '\0');
  unsigned char iv[16] = {0};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_cfb128(), nullptr,
                     reinterpret_cast<const unsigned char*>(key.data()), iv);
  EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(encrypted.data()), &len,
                    reinterpret_cast<const unsigned char*>(plain.data()),
                    static_cast<int>(plain.size()));
  EVP_CIPHER_CTX_free(ctx);
  return OldPacket(3, skesk) + NewPacket(18, std::string(1, '\1') + encrypted);
}

// ---- ZIP with ZipCrypto (7z a -p) ---------------------------------------------------------------

class ZipCrypto {
 public:
  explicit ZipCrypto(std::string_view password) {
    for (char c : password) UpdateKeys(static_cast<uint8_t>(c));
  }
  uint8_t Encrypt(uint8_t plain) {
    uint32_t temp = (keys_[2] | 2) & 0xFFFF;
    uint8_t out = plain ^ static_cast<uint8_t>((temp * (temp ^ 1)) >> 8);
    UpdateKeys(plain);
    return out;
  }

 private:
  static uint32_t Crc(uint32_t crc, uint8_t b) {
    static const z_crc_t* table = get_crc_table();
    return table[(crc ^ b) & 0xFF] ^ (crc >> 8);
  }
  void UpdateKeys(uint8_t c) {
    keys_[0] = Crc(keys_[0], c);
    keys_[1] = (keys_[1] + (keys_[0] & 0xFF)) * 134775813 + 1;
    keys_[2] = Crc(keys_[2], static_cast<uint8_t>(keys_[1] >> 24));
  }
  uint32_t keys_[3] = {0x12345678, 0x23456789, 0x34567890};
};

StatusOr<std::string> MakeZip(const Profile& p, std::string_view original, uint64_t seed,
                              std::string_view file_name) {
  uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(original.data()),
                                             static_cast<uInt>(original.size())));
  StatusOr<std::string> deflated = RawDeflate(original);
  if (!deflated.ok()) return deflated.status();
  bool store = deflated->size() >= original.size();  // 7z stores what does not shrink
  std::string_view payload = store ? original : std::string_view(*deflated);
  std::string header = PseudoRandomBytes("steen-drill/zip", seed, 12);
  header[11] = static_cast<char>(crc >> 24);
  ZipCrypto zc(p.passphrase);
  std::string data;
  data.reserve(12 + payload.size());
  for (char c : header) data.push_back(static_cast<char>(zc.Encrypt(static_cast<uint8_t>(c))));
  for (char c : payload) data.push_back(static_cast<char>(zc.Encrypt(static_cast<uint8_t>(c))));
  std::string name(file_name.empty() ? "file" : file_name.substr(0, 255));
  const uint16_t method = store ? 0 : 8;
  const uint16_t dos_time = 0x6000, dos_date = 0x5729;  // fixed, deterministic
  std::string out = "PK\x03\x04";
  Put16LE(&out, 20);
  Put16LE(&out, 1);  // encrypted
  Put16LE(&out, method);
  Put16LE(&out, dos_time);
  Put16LE(&out, dos_date);
  Put32LE(&out, crc);
  Put32LE(&out, static_cast<uint32_t>(data.size()));
  Put32LE(&out, static_cast<uint32_t>(original.size()));
  Put16LE(&out, static_cast<uint32_t>(name.size()));
  Put16LE(&out, 0);
  out += name;
  out += data;
  uint32_t cd_offset = static_cast<uint32_t>(out.size());
  std::string cd = "PK\x01\x02";
  Put16LE(&cd, 0x033F);  // made by Unix, 6.3 (as 7z)
  Put16LE(&cd, 20);
  Put16LE(&cd, 1);
  Put16LE(&cd, method);
  Put16LE(&cd, dos_time);
  Put16LE(&cd, dos_date);
  Put32LE(&cd, crc);
  Put32LE(&cd, static_cast<uint32_t>(data.size()));
  Put32LE(&cd, static_cast<uint32_t>(original.size()));
  Put16LE(&cd, static_cast<uint32_t>(name.size()));
  Put16LE(&cd, 0);
  Put16LE(&cd, 0);
  Put16LE(&cd, 0);
  Put16LE(&cd, 0);
  Put32LE(&cd, 0x81A40020);  // -rw-r--r--, archive bit
  Put32LE(&cd, 0);
  cd += name;
  out += cd;
  out += std::string("PK\x05\x06", 4);
  Put16LE(&out, 0);
  Put16LE(&out, 0);
  Put16LE(&out, 1);
  Put16LE(&out, 1);
  Put32LE(&out, static_cast<uint32_t>(cd.size()));
  Put32LE(&out, cd_offset);
  Put16LE(&out, 0);
  return out;
}

// ---- openssl enc -aes-256-cbc -pbkdf2 -----------------------------------------------------------

StatusOr<std::string> MakeOpensslEnc(const Profile& p, std::string_view original, uint64_t seed) {
  std::string salt = PseudoRandomBytes("steen-drill/openssl", seed, 8);
  unsigned char key_iv[48];
  PKCS5_PBKDF2_HMAC(p.passphrase.data(), static_cast<int>(p.passphrase.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()), 8, 10000, EVP_sha256(),
                    sizeof(key_iv), key_iv);
  std::string out = "Salted__" + salt;
  std::size_t head = out.size();
  out.resize(head + original.size() + 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, key_iv, key_iv + 32);
  auto dst = reinterpret_cast<unsigned char*>(out.data() + head);
  EVP_EncryptUpdate(ctx, dst, &len, reinterpret_cast<const unsigned char*>(original.data()),
                    static_cast<int>(original.size()));
  EVP_EncryptFinal_ex(ctx, dst + len, &fin);
  EVP_CIPHER_CTX_free(ctx);
  out.resize(head + len + fin);
  return out;
}

// ---- ccrypt (approximated) ----------------------------------------------------------------------

StatusOr<std::string> MakeCcrypt(const Profile& p, std::string_view original, uint64_t seed) {
  // ccrypt: a 32-byte encrypted nonce block, then Rijndael-256 CFB (same length). OpenSSL has no
  // 256-bit-block Rijndael, so the body is AES-256-CFB under a key from the passphrase and nonce:
  // size (+32) and randomness are faithful, ccrypt cannot decrypt it.
  std::string nonce = PseudoRandomBytes("steen-drill/ccrypt", seed, 32);
  std::string key = Sha256(p.passphrase + nonce);
  std::string body(original);
  unsigned char iv[16];
  std::memcpy(iv, nonce.data(), 16);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_EncryptInit_ex(ctx, EVP_aes_256_cfb128(), nullptr,
                     reinterpret_cast<const unsigned char*>(key.data()), iv);
  EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(body.data()), &len,
                    reinterpret_cast<const unsigned char*>(body.data()),
                    static_cast<int>(body.size()));
  EVP_CIPHER_CTX_free(ctx);
  return nonce + body;
}

}  // namespace

StatusOr<std::string> MakeContainer(const Profile& profile, std::string_view original,
                                    uint64_t seed, std::string_view file_name) {
  if (original.size() > (1ULL << 31) - 64) {
    return Status::ResourceExhausted("containers are limited to files < 2 GiB");
  }
  switch (profile.container) {
    case Container::kGpg:
      return MakeGpg(profile, original, seed, file_name);
    case Container::kZipCrypto:
      return MakeZip(profile, original, seed, file_name);
    case Container::kOpensslEnc:
      return MakeOpensslEnc(profile, original, seed);
    case Container::kCcrypt:
      return MakeCcrypt(profile, original, seed);
    case Container::kNone:
      break;
  }
  return Status::InvalidArgument("no container");
}

}  // namespace steen::drill
