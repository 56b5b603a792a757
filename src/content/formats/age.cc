// age (age-encryption.org/v1): a text header of recipient stanzas closed by a "--- <MAC>" line,
// then a binary payload: a 16-byte nonce and ChaCha20-Poly1305 chunks of 64 KiB + 16 bytes (the
// last one shorter). A legitimately encrypted container; header syntax and payload size are
// checked. The armored form (PEM-like "AGE ENCRYPTED FILE") is checked for its base64 body.
#include <algorithm>
#include <string>

#include "content/bytes.h"
#include "content/formats/system_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using system_detail::Hex;

constexpr std::string_view kMagic = "age-encryption.org/v1\n";
constexpr std::string_view kArmorBegin = "-----BEGIN AGE ENCRYPTED FILE-----";
constexpr uint64_t kChunk = 64 * 1024 + 16;

bool IsB64(unsigned char c) {  // age uses unpadded standard base64
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool ArgOk(std::string_view arg) {
  if (arg.empty()) return false;
  for (char c : arg) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return false;
  }
  return true;
}

void Damage(FormatReport& report, uint64_t at, uint64_t length, std::string reason) {
  report.integrity = Integrity::kDamaged;
  report.reasons.push_back(std::move(reason));
  if (length > 0) report.damaged_ranges.push_back({at, length});
}

class AgeValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "age"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, kMagic) || StartsWith(head, kArmorBegin);
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "age";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto head_or = reader.Read(0, limits::kHeadBytes);
    if (!head_or.ok()) return report;
    const std::string_view head = *head_or;
    if (StartsWith(head, kArmorBegin)) return ValidateArmor(reader, head, report);
    if (!StartsWith(head, kMagic)) {
      Damage(report, 0, size, "age header line missing");
      return report;
    }
    std::size_t pos = kMagic.size();
    int stanzas = 0;
    for (int guard = 0; guard < limits::kMaxChunksWalked; ++guard) {
      const std::size_t eol = head.find('\n', pos);
      if (eol == std::string_view::npos) {
        if (head.size() == size) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("age header ends without a MAC line");
        } else {
          Damage(report, pos, size - pos, "age header line at " + Hex(pos) + " too long");
        }
        return report;
      }
      const std::string_view line = head.substr(pos, eol - pos);
      if (StartsWith(line, "--- ")) {
        const std::string_view mac = line.substr(4);
        bool ok = mac.size() == 43;
        for (char c : mac) ok = ok && IsB64(static_cast<unsigned char>(c));
        if (!ok || stanzas == 0) {
          Damage(report, pos, size - pos, "age header MAC line at " + Hex(pos) + " invalid");
          return report;
        }
        return CheckPayload(eol + 1, size, stanzas, report);
      }
      if (StartsWith(line, "-> ")) {
        std::string_view args = line.substr(3);
        int count = 0;
        while (!args.empty()) {
          const std::size_t sp = args.find(' ');
          if (!ArgOk(args.substr(0, sp))) count = -1000;
          ++count;
          args = sp == std::string_view::npos ? std::string_view() : args.substr(sp + 1);
        }
        if (count < 1) {
          Damage(report, pos, size - pos, "age stanza at " + Hex(pos) + " malformed");
          return report;
        }
        ++stanzas;
      } else {
        // Stanza body: base64 lines of 64 columns, the last one shorter.
        bool ok = line.size() <= 64 && stanzas > 0;
        for (char c : line) ok = ok && IsB64(static_cast<unsigned char>(c));
        if (!ok) {
          Damage(report, pos, size - pos, "age header line at " + Hex(pos) + " is not base64");
          return report;
        }
      }
      pos = eol + 1;
    }
    return report;
  }

 private:
  static FormatReport& CheckPayload(uint64_t payload, uint64_t size, int stanzas,
                                    FormatReport& report) {
    report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back("age-encrypted file, " + std::to_string(stanzas) +
                             " recipient stanza(s)");
    // Nonce, then full chunks, then a last chunk of 16..kChunk bytes (16 = empty plaintext).
    if (size < payload + 16 + 16) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("age payload shorter than nonce and one chunk");
      return report;
    }
    const uint64_t body = size - payload - 16;
    const uint64_t last = body % kChunk;
    if (last != 0 && last < 16) {
      report.reasons.push_back("age payload length is not a whole number of chunks (" +
                               std::to_string(last) + " stray bytes): appended or cut bytes");
      report.structure_end = 0;
      return report;
    }
    report.structure_end = size;
    return report;
  }

  static FormatReport ValidateArmor(Reader& reader, std::string_view head, FormatReport& report) {
    report.format = "age-armored";
    const uint64_t size = reader.size();
    for (std::size_t i = kArmorBegin.size(); i < head.size(); ++i) {
      const auto c = static_cast<unsigned char>(head[i]);
      if (c == '-') break;
      if (!IsB64(c) && c != '=' && c != '\n' && c != '\r') {
        Damage(report, i, size - i, "age armor: non-base64 byte at " + Hex(i));
        return report;
      }
    }
    const uint64_t tail_at = size > limits::kTailBytes ? size - limits::kTailBytes : 0;
    auto tail_or = reader.Read(tail_at, limits::kTailBytes);
    if (!tail_or.ok()) return report;
    const std::size_t end = tail_or->rfind("-----END AGE ENCRYPTED FILE-----");
    if (end == std::string_view::npos) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("age armor: END line missing");
      return report;
    }
    report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back("ASCII-armored age-encrypted file");
    std::size_t stop = tail_or->find('\n', end);
    report.structure_end = tail_at + (stop == std::string_view::npos ? tail_or->size() : stop + 1);
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeAgeValidator() {
  return std::make_unique<AgeValidator>();
}

}  // namespace steen::content
