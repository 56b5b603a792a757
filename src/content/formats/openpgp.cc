// OpenPGP (RFC 4880 / 9580): binary messages, keys and signatures, and ASCII armor. Encrypted
// messages are legitimate encrypted containers; their packet framing (including the chain of
// partial-length chunks that gpg writes when streaming) is still checked, so a gpg file whose
// middle was overwritten is told apart from an intact one.
#include <zlib.h>

#include <algorithm>
#include <string>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using system_detail::Hex;

enum Tag : int {
  kPkesk = 1,
  kSignature = 2,
  kSkesk = 3,
  kOnePassSig = 4,
  kSecretKey = 5,
  kPublicKey = 6,
  kSecretSubkey = 7,
  kCompressed = 8,
  kSymEncrypted = 9,
  kMarker = 10,
  kLiteral = 11,
  kTrust = 12,
  kUserId = 13,
  kPublicSubkey = 14,
  kUserAttribute = 17,
  kSeipd = 18,
  kMdc = 19,
  kAead = 20,
  kPadding = 21,
};

// How far a key, signature or user ID packet may run past the end of a file that was cut short.
constexpr uint64_t kMaxSmallPacketOverrun = 64 * 1024;

bool IsDataPacket(int tag) {  // the only packets allowed partial body lengths
  return tag == kCompressed || tag == kSymEncrypted || tag == kLiteral || tag == kSeipd ||
         tag == kAead;
}
bool IsEncryptedData(int tag) { return tag == kSymEncrypted || tag == kSeipd || tag == kAead; }

struct PacketHeader {
  int tag = 0;
  std::size_t header_len = 0;
  uint64_t body_len = 0;
  bool partial = false;        // body_len is the first partial chunk
  bool indeterminate = false;  // old-format length type 3: to end of file
};

// Parses a body-length field (new format) at `pos`; returns the bytes it used, 0 if cut short.
std::size_t ParseNewLength(std::string_view b, std::size_t pos, uint64_t& len, bool& partial) {
  auto o1 = ByteAt(b, pos);
  if (!o1) return 0;
  partial = false;
  if (*o1 < 192) {
    len = *o1;
    return 1;
  }
  if (*o1 < 224) {
    auto o2 = ByteAt(b, pos + 1);
    if (!o2) return 0;
    len = ((uint64_t{*o1} - 192) << 8) + *o2 + 192;
    return 2;
  }
  if (*o1 < 255) {
    len = uint64_t{1} << (*o1 & 0x1f);
    partial = true;
    return 1;
  }
  auto v = LoadBE<uint32_t>(b, pos + 1);
  if (!v) return 0;
  len = *v;
  return 5;
}

std::optional<PacketHeader> ParseHeader(std::string_view b, std::size_t pos) {
  auto first = ByteAt(b, pos);
  if (!first || (*first & 0x80) == 0) return std::nullopt;
  PacketHeader h;
  if (*first & 0x40) {
    h.tag = *first & 0x3f;
    const std::size_t used = ParseNewLength(b, pos + 1, h.body_len, h.partial);
    if (used == 0) return std::nullopt;
    h.header_len = 1 + used;
    if (h.partial && !IsDataPacket(h.tag)) return std::nullopt;
  } else {
    h.tag = (*first >> 2) & 0xf;
    const int type = *first & 3;
    if (type == 3) {
      h.indeterminate = true;
      h.header_len = 1;
    } else {
      const std::size_t n = type == 0 ? 1 : (type == 1 ? 2 : 4);
      auto v = n == 1 ? std::optional<uint32_t>(ByteAt(b, pos + 1).value_or(0))
                      : (n == 2 ? std::optional<uint32_t>(LoadBE<uint16_t>(b, pos + 1))
                                : LoadBE<uint32_t>(b, pos + 1));
      if (pos + 1 + n > b.size() || !v) return std::nullopt;
      h.body_len = *v;
      h.header_len = 1 + n;
    }
  }
  if (h.tag == 0) return std::nullopt;
  return h;
}

// The first bytes of a packet body: version numbers and algorithm identifiers that any real
// packet has. `body` may be shorter than the packet.
bool BodyPlausible(int tag, std::string_view body, uint64_t body_len) {
  auto at = [&](std::size_t i) { return ByteAt(body, i); };
  auto version = at(0);
  if (!version) return body_len == 0 && (tag == kTrust || tag == kMarker);
  switch (tag) {
    case kPkesk: {
      if (*version == 3) {
        auto algo = at(9);
        return !algo || *algo == 1 || *algo == 2 || *algo == 16 || *algo == 18 || *algo == 22 ||
               *algo == 25 || *algo == 26;
      }
      return *version == 6;
    }
    case kSkesk: {
      if (*version == 4) {
        auto cipher = at(1);
        auto s2k = at(2);
        auto hash = at(3);
        return (!cipher || (*cipher >= 1 && *cipher <= 13)) &&
               (!s2k || *s2k == 0 || *s2k == 1 || *s2k == 3 || *s2k == 4) &&
               (!hash || (*hash >= 1 && *hash <= 14));
      }
      return *version == 5 || *version == 6;
    }
    case kSeipd:
      return *version == 1 || *version == 2;
    case kAead:
      return *version == 1;
    case kSignature:
      return *version >= 3 && *version <= 6;
    case kOnePassSig:
      return *version == 3 || *version == 6;
    case kSecretKey:
    case kPublicKey:
    case kSecretSubkey:
    case kPublicSubkey:
      return *version >= 2 && *version <= 6;
    case kCompressed:
      return *version <= 3;
    case kLiteral:
      return *version == 'b' || *version == 't' || *version == 'u' || *version == 'l' ||
             *version == '1' || *version == 'm';
    case kMarker:
      return body.substr(0, 3) == "PGP";
    case kSymEncrypted:
    case kUserId:
    case kUserAttribute:
    case kTrust:
    case kMdc:
    case kPadding:
      return true;
    default:
      return false;
  }
}

// Deflate / zlib probe of a compressed packet's start: real compressed data decodes.
bool CompressedProbe(int algorithm, std::string_view data) {
  if (algorithm == 0) return !data.empty();            // stored: the inner packet is checked later
  if (algorithm == 3) return StartsWith(data, "BZh");  // bzip2 stream magic
  if (algorithm != 1 && algorithm != 2) return false;  // no other algorithm exists
  z_stream zs{};
  if (inflateInit2(&zs, algorithm == 1 ? -15 : 15) != Z_OK) return true;
  std::string out(16 * 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(data.size(), 4096));
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&zs, Z_SYNC_FLUSH);
  inflateEnd(&zs);
  return rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR;
}

// The packets a message, key or signature file starts with.
bool PlausibleFirstTag(int tag) {
  return tag == kPkesk || tag == kSkesk || tag == kSignature || tag == kOnePassSig ||
         tag == kSecretKey || tag == kPublicKey || tag == kCompressed || tag == kMarker ||
         tag == kLiteral || tag == kSeipd || tag == kAead || tag == kSymEncrypted;
}

bool BinaryMatches(std::string_view head, uint64_t file_size) {
  auto h = ParseHeader(head, 0);
  if (!h || !PlausibleFirstTag(h->tag)) return false;
  if (!h->indeterminate && !h->partial && h->header_len + h->body_len > file_size) return false;
  // An old-format packet of indeterminate length is only ever written for compressed data (PGP
  // 2.x); on anything else it is far more likely to be random bytes.
  if (h->indeterminate && h->tag != kCompressed) return false;
  const std::string_view body = head.substr(std::min(h->header_len, head.size()));
  if (!BodyPlausible(h->tag, body, h->body_len)) return false;
  switch (h->tag) {
    case kCompressed:
      return body.size() > 1 && CompressedProbe(static_cast<uint8_t>(body[0]), body.substr(1));
    case kPkesk:
    case kSkesk:
    case kOnePassSig:
    case kMarker: {
      // These never end a file: the next packet must parse too.
      const uint64_t next = h->header_len + h->body_len;
      if (next >= head.size()) return next < file_size;
      auto n = ParseHeader(head, next);
      if (!n) return false;
      return BodyPlausible(
          n->tag, head.substr(std::min<uint64_t>(next + n->header_len, head.size())), n->body_len);
    }
    case kSymEncrypted:
    case kSeipd:
    case kAead:
      // Encrypted data without a session-key packet before it is unusual; accept only a
      // well-formed SEIPD/AEAD header whose length fits.
      return h->tag != kSymEncrypted && (h->partial || h->body_len + h->header_len <= file_size);
    default: {
      // Keys, signatures and literal data: a lone packet must span the file exactly; otherwise
      // the next packet must parse too (random bytes pass one header check far too often).
      const uint64_t next = h->header_len + h->body_len;
      if (h->indeterminate || h->partial) return true;
      if (next == file_size) return true;
      if (next > file_size || next >= head.size()) return false;
      auto n = ParseHeader(head, next);
      if (!n || (!PlausibleFirstTag(n->tag) && n->tag != 13 && n->tag != 14 && n->tag != 17)) {
        return false;
      }
      return BodyPlausible(
          n->tag, head.substr(std::min<uint64_t>(next + n->header_len, head.size())), n->body_len);
    }
  }
}

void Damage(FormatReport& report, uint64_t at, uint64_t length, std::string reason) {
  report.integrity = Integrity::kDamaged;
  report.reasons.push_back(std::move(reason));
  if (length > 0) report.damaged_ranges.push_back({at, length});
}

FormatReport ValidateBinary(Reader& reader) {
  FormatReport report;
  report.format = "openpgp";
  const uint64_t size = reader.size();
  uint64_t pos = 0;
  bool encrypted = false;
  int packets = 0;
  int steps = 0;
  uint64_t last_partial_size = 0;  // chunk size of the last partial-length chain
  uint64_t last_chunk_header = 0;
  // Where the last chained encrypted-data packet ended, and how many packets were read after it.
  // Nothing follows encrypted data in a message written by a streaming encoder (the MDC is
  // inside it); packets after it are ciphertext read as headers when a chunk header in the
  // middle was overwritten, and the walk then ends anywhere, even close to the end of the file.
  uint64_t chain_end = 0;
  int packets_after_chain = 0;
  // The file from the last chunk header on is damaged: the chain's framing is broken there.
  const auto chain_broken = [&](const std::string& why) {
    Damage(report, last_chunk_header, size - last_chunk_header,
           "OpenPGP partial-length chain broken: " + why);
    report.high_entropy_body = true;
    return report;
  };
  while (pos < size) {
    if (++packets > limits::kMaxOpenPgpPackets) {
      report.reasons.push_back("packet walk stopped after " +
                               std::to_string(limits::kMaxOpenPgpPackets) + " packets");
      report.structure_end = 0;
      break;
    }
    auto bytes_or = reader.Read(pos, 64);
    if (!bytes_or.ok()) return report;
    const std::string_view bytes = *bytes_or;
    auto h = ParseHeader(bytes, 0);
    // An old-format packet of indeterminate length (to the end of the file) is written only for
    // data by PGP 2.x encoders, which never chain partial lengths: after a chain, or on any
    // other packet, it is ciphertext read as a header.
    const bool plausible =
        h &&
        BodyPlausible(h->tag, bytes.substr(std::min(h->header_len, bytes.size())), h->body_len) &&
        (!h->indeterminate || (IsDataPacket(h->tag) && chain_end == 0));
    if (!plausible) {
      if (packets == 1) {
        Damage(report, 0, size, "OpenPGP first packet header invalid");
        return report;
      }
      // A chunked data packet that stops far before the end of the file: a chunk header in the
      // middle was overwritten (a legitimate writer ends the chain at the end of its data).
      // What follows must look like the rest of the ciphertext: text appended to a message
      // (a log line, a signature block) leaves the chain whole.
      const uint64_t remaining = size - pos;
      const auto random_after = [&] {
        auto after =
            reader.Read(pos, static_cast<std::size_t>(std::min<uint64_t>(remaining, 4096)));
        return after.ok() && after->size() >= 32 && LooksRandom(*after);
      };
      if (last_partial_size > 0 && remaining > std::max<uint64_t>(last_partial_size + 5, 4096) &&
          random_after()) {
        return chain_broken("chunk header at " + Hex(last_chunk_header) + " ends the packet " +
                            std::to_string(remaining) + " bytes before end of file");
      }
      if (packets_after_chain > 0 && random_after()) {
        return chain_broken(std::to_string(packets_after_chain) +
                            " packet(s) read from ciphertext after the chunk header at " +
                            Hex(last_chunk_header) + ", then " + std::to_string(remaining) +
                            " bytes that are no packet");
      }
      // Bytes after the last packet: the analyzer judges them (structure_end marks them).
      report.reasons.push_back(std::to_string(remaining) + " bytes after the last packet");
      break;
    }
    if (IsEncryptedData(h->tag) || h->tag == kPkesk || h->tag == kSkesk) encrypted = true;
    if (chain_end > 0) ++packets_after_chain;
    if (h->indeterminate) {
      pos = size;
      break;
    }
    uint64_t chunk = h->body_len;
    uint64_t at = pos + h->header_len;
    const uint64_t partial_size = h->partial ? chunk : 0;
    bool partial = h->partial;
    // Encoders write chunks of one size (gpg) or of growing sizes. A chain whose chunks shrink
    // and then grow again is reading ciphertext as chunk headers after an overwritten one; such
    // a walk can land back on a real header and end at the end of the file as if intact.
    uint64_t previous_chunk = chunk;
    bool shrunk = false;
    // Follow the chain of partial body chunks: every chunk header sits where the previous chunk
    // says, so an overwritten middle breaks the chain.
    while (true) {
      if (chunk > size - std::min(at, size)) {
        const uint64_t remaining = size - std::min(at, size);
        // A chunk of this chain, or a packet that follows a chain (its last chunk header was
        // overwritten and ended it early: random bytes then read as a packet), declaring more
        // than a chunk's worth beyond the end of the file: the framing is broken, not cut short.
        const uint64_t chain_chunk = partial_size > 0 ? partial_size : last_partial_size;
        if (chain_chunk > 0 && remaining > chain_chunk + 5) {
          Damage(report, at, remaining,
                 "OpenPGP packet (tag " + std::to_string(h->tag) + ") at " + Hex(pos) +
                     ": chunk length at " + Hex(at) + " runs past end of file");
        } else if (!IsDataPacket(h->tag) && chunk - remaining > kMaxSmallPacketOverrun) {
          // Keys, signatures and user IDs are small: one declared far beyond the end of the
          // file is random bytes read as a header (a ciphertext that happens to start like
          // OpenPGP), not a file cut short.
          Damage(report, pos, size - pos,
                 "OpenPGP packet (tag " + std::to_string(h->tag) + ") at " + Hex(pos) +
                     " declares " + std::to_string(chunk) + " bytes, " +
                     std::to_string(chunk - remaining) + " beyond the end of the file");
        } else {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("OpenPGP packet (tag " + std::to_string(h->tag) + ") at " +
                                   Hex(pos) + " runs past end of file");
        }
        if (encrypted && report.integrity == Integrity::kTruncated) {
          report.reasons.push_back("encrypted OpenPGP message");
        }
        report.high_entropy_body = true;
        return report;
      }
      at += chunk;
      if (!partial) break;
      if (++steps > limits::kMaxOpenPgpPackets) {
        report.reasons.push_back("partial-length chain followed for " +
                                 std::to_string(limits::kMaxOpenPgpPackets) + " chunks");
        report.high_entropy_body = true;
        if (encrypted) report.integrity = Integrity::kEncryptedContainer;
        return report;
      }
      last_partial_size = std::max(last_partial_size, partial_size);
      last_chunk_header = at;
      auto len_or = reader.Read(at, 5);
      if (!len_or.ok()) return report;
      const std::size_t used = ParseNewLength(*len_or, 0, chunk, partial);
      if (used == 0) {
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("OpenPGP partial-length chain cut short at " + Hex(at));
        return report;
      }
      if (partial) {
        if (chunk < previous_chunk) {
          shrunk = true;
        } else if (shrunk && chunk > previous_chunk) {
          return chain_broken("chunk sizes shrink to " + std::to_string(previous_chunk) +
                              " bytes and grow again at " + Hex(at));
        }
        previous_chunk = chunk;
      }
      at += used;
    }
    if (partial_size > 0 && IsEncryptedData(h->tag) && chain_end == 0) chain_end = at;
    pos = at;
  }
  report.structure_end = report.structure_end == 0 && packets <= limits::kMaxOpenPgpPackets
                             ? pos
                             : report.structure_end;
  report.high_entropy_body = true;  // encrypted or compressed payloads; keys hold random MPIs
  if (report.integrity == Integrity::kValid && encrypted) {
    report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back("encrypted OpenPGP message; packet framing intact");
  } else if (report.integrity == Integrity::kValid) {
    report.reasons.push_back("OpenPGP packets parse (keys, signatures or signed data)");
  }
  return report;
}

constexpr std::string_view kArmorBegin = "-----BEGIN PGP ";

bool IsBase64Char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Checks that the lines between the armor header block and the END line are base64 (plus the
// "=CRC" line). Returns the offset of the first bad byte, or npos.
std::size_t FirstNonBase64(std::string_view text, std::size_t from) {
  for (std::size_t i = from; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '-') return std::string_view::npos;  // the END line (or a cut at the end)
    if (!IsBase64Char(c) && c != '\n' && c != '\r' && c != ' ' && c != '\t') return i;
  }
  return std::string_view::npos;
}

FormatReport ValidateArmor(Reader& reader, std::string_view head) {
  FormatReport report;
  report.format = "openpgp-armored";
  const uint64_t size = reader.size();
  const std::size_t begin = head.find(kArmorBegin);
  const std::size_t label_end = head.find("-----", begin + kArmorBegin.size());
  const std::string_view label =
      label_end == std::string_view::npos
          ? std::string_view()
          : head.substr(begin + kArmorBegin.size(), label_end - begin - kArmorBegin.size());
  // Header block: "Key: value" lines, then an empty line, then base64.
  std::size_t body = head.find("\n\n", begin);
  const std::size_t body_crlf = head.find("\r\n\r\n", begin);
  if (body_crlf != std::string_view::npos && (body == std::string_view::npos || body_crlf < body)) {
    body = body_crlf + 4;
  } else if (body != std::string_view::npos) {
    body += 2;
  }
  if (body == std::string_view::npos) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back("OpenPGP armor: no blank line after the armor header");
    return report;
  }
  const std::size_t bad = FirstNonBase64(head, body);
  if (bad != std::string_view::npos) {
    Damage(report, bad, size - bad,
           "OpenPGP armor: non-base64 byte at " + Hex(bad) + " inside the armored data");
    return report;
  }
  // Decode the first packet header to tell an encrypted message from a signed one or a key.
  std::string decoded;
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = body; i < head.size() && decoded.size() < 16; ++i) {
    const int v = Base64Value(static_cast<unsigned char>(head[i]));
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  auto first = ParseHeader(decoded, 0);
  if (!first) {
    Damage(report, body, size - body, "OpenPGP armor: first packet header invalid");
    return report;
  }
  // The END line must be in the tail.
  const uint64_t tail_at = size > limits::kTailBytes ? size - limits::kTailBytes : 0;
  auto tail_or = reader.Read(tail_at, limits::kTailBytes);
  if (!tail_or.ok()) return report;
  const std::string_view tail = *tail_or;
  const std::size_t end_line = tail.rfind("-----END PGP ");
  if (end_line == std::string_view::npos) {
    const std::size_t tail_bad = FirstNonBase64(tail, 0);
    if (tail_bad != std::string_view::npos) {
      Damage(report, tail_at + tail_bad, size - tail_at - tail_bad,
             "OpenPGP armor: non-base64 byte at " + Hex(tail_at + tail_bad) + " and no END line");
    } else {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("OpenPGP armor: END line missing");
    }
    return report;
  }
  std::size_t end = tail.find('\n', end_line);
  end = end == std::string_view::npos ? tail.size() : end + 1;
  report.structure_end = tail_at + end;
  if (first->tag == kPkesk || first->tag == kSkesk || IsEncryptedData(first->tag)) {
    report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back("ASCII-armored encrypted OpenPGP message");
  } else {
    report.reasons.push_back("ASCII-armored OpenPGP " + std::string(label));
  }
  return report;
}

class OpenPgpValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "openpgp"; }

  bool Matches(std::string_view head, uint64_t file_size) const override {
    if (StartsWith(head, kArmorBegin)) return true;
    // Armor may follow a "Hash:"-less cleartext or a few blank lines; accept a short preamble.
    const std::size_t armor = head.substr(0, 256).find(kArmorBegin);
    if (armor != std::string_view::npos && armor > 0) {
      for (std::size_t i = 0; i < armor; ++i) {
        if (head[i] != '\n' && head[i] != '\r' && head[i] != ' ') return false;
      }
      return true;
    }
    return BinaryMatches(head, file_size);
  }

  FormatReport Validate(Reader& reader) const override {
    auto head_or = reader.Read(0, limits::kHeadBytes);
    if (!head_or.ok()) {
      FormatReport failed;
      failed.format = "openpgp";
      return failed;
    }
    const std::string_view head = *head_or;
    if (head.substr(0, 256).find(kArmorBegin) != std::string_view::npos) {
      return ValidateArmor(reader, head);
    }
    return ValidateBinary(reader);
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeOpenPgpValidator() {
  return std::make_unique<OpenPgpValidator>();
}

}  // namespace steen::content
