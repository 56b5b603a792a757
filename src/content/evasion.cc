#include "content/evasion.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "content/block_stats.h"

namespace steen::content {
namespace {

constexpr std::array<int8_t, 256> MakeBase64Table() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 26; ++i) {
    t['A' + i] = static_cast<int8_t>(i);
    t['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(52 + i);
  t['+'] = 62;
  t['/'] = 63;
  t['-'] = 62;  // URL-safe alphabet
  t['_'] = 63;
  return t;
}
constexpr std::array<int8_t, 256> kBase64 = MakeBase64Table();

constexpr int HexValue(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr bool IsSpace(unsigned char c) { return c == '\n' || c == '\r' || c == ' ' || c == '\t'; }

// The first byte of common signatures: XOR keys are guessed as head[0] ^ one of these.
constexpr std::string_view kCommonFirstBytes =
    "%PGRI\x89\xff\x7f{<#SBOMfIWDT\x1f\xfd\x28\x37\xd0\x00";

// Strict UTF-8 (no overlongs, no surrogates); a sequence cut by the end of `bytes` is allowed.
// Counts multi-byte sequences into *multibyte.
bool IsValidUtf8(std::string_view bytes, std::size_t* multibyte) {
  std::size_t i = 0;
  *multibyte = 0;
  while (i < bytes.size()) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    int extra = 0;
    uint32_t min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      extra = 3;
      min = 0x10000;
    } else {
      return false;
    }
    uint32_t code = c & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= bytes.size()) return true;  // cut at the end of the probe
      const auto cc = static_cast<uint8_t>(bytes[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3F);
    }
    if (code < min || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) return false;
    ++*multibyte;
    i += extra + 1;
  }
  return true;
}

// Text in an EUC encoding (EUC-JP, EUC-KR, EUC-CN): every byte from 0xA1 on pairs with another
// in 0xA1-0xFE (or follows SS2/SS3), such pairs are a fifth of the bytes or more, and a few
// bytes are ASCII (line breaks). XORed or inverted ASCII is not: its lower-case letters land
// outside 0xA1-0xFE, and inverted upper-case text has no ASCII byte left.
bool LooksLikeEucText(std::string_view bytes) {
  std::size_t pairs = 0;
  std::size_t ascii = 0;  // line breaks, spaces, digits: real text has some; inverted ASCII none
  const auto in_range = [&](std::size_t i, uint8_t lo, uint8_t hi) {
    if (i >= bytes.size()) return true;  // cut at the end of the probe
    const auto c = static_cast<uint8_t>(bytes[i]);
    return c >= lo && c <= hi;
  };
  for (std::size_t i = 0; i < bytes.size();) {
    const auto c = static_cast<uint8_t>(bytes[i]);
    if (c < 0x80) {
      ++ascii;
      ++i;
    } else if (c == 0x8e) {
      if (!in_range(i + 1, 0xa1, 0xdf)) return false;
      i += 2;
    } else if (c == 0x8f) {
      if (!in_range(i + 1, 0xa1, 0xfe) || !in_range(i + 2, 0xa1, 0xfe)) return false;
      i += 3;
    } else if (c >= 0xa1 && c <= 0xfe) {
      if (!in_range(i + 1, 0xa1, 0xfe)) return false;
      ++pairs;
      i += 2;
    } else {
      return false;
    }
  }
  return pairs * 2 * 5 >= bytes.size() && ascii * 2048 >= bytes.size();
}

// LooksLikePlainText on the byte counts of `size` bytes.
bool PlainTextHistogram(const ByteHistogram& histogram, std::size_t size) {
  const BlockStats stats = StatsFromHistogram(histogram);
  // Natural text uses many letters and no single byte dominates; a wide encoding (UTF-32) XORed
  // with a key turns its zero bytes into one repeated letter, which is not text.
  uint64_t most = 0;
  for (uint64_t count : histogram) most = std::max(most, count);
  if (most * 10 > size * 6 || stats.distinct < 20) return false;
  // Real text has some non-ASCII letters (UTF-8, Latin-1), so not everything is printable ASCII.
  return stats.printable >= 0.9;
}

bool NoByteDominates(std::string_view bytes) {
  ByteHistogram histogram{};
  AccumulateHistogram(bytes, histogram);
  uint64_t most = 0;
  for (uint64_t count : histogram) most = std::max(most, count);
  return most * 10 <= bytes.size() * 6;
}

}  // namespace

bool LooksLikeAsciiProse(std::string_view bytes) {
  if (bytes.size() < 64) return false;
  ByteHistogram histogram{};
  AccumulateHistogram(bytes, histogram);
  if (!PlainTextHistogram(histogram, bytes.size())) return false;
  uint64_t alnum = 0;
  uint64_t blanks = 0;
  uint64_t most_other = 0;  // the most frequent byte that is not a blank
  for (int b = 0; b < 256; ++b) {
    const uint64_t n = histogram[b];
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) alnum += n;
    if (b == ' ' || b == '\t' || b == '\n' || b == '\r') {
      blanks += n;
    } else {
      most_other = std::max(most_other, n);
    }
  }
  // Words: runs of non-blank bytes average a few bytes. Double-byte text (EUC-JP) whose common
  // lead byte a key turned into a space alternates one blank, one or two others.
  uint64_t runs = 0;
  bool in_run = false;
  for (unsigned char c : bytes) {
    const bool blank = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!blank && !in_run) ++runs;
    in_run = !blank;
  }
  const double total = static_cast<double>(bytes.size());
  const double mean_run =
      runs == 0 ? total : (total - static_cast<double>(blanks)) / static_cast<double>(runs);
  return static_cast<double>(alnum) >= 0.3 * total &&
         static_cast<double>(alnum + blanks) >= 0.6 * total &&
         static_cast<double>(blanks) >= 0.08 * total &&
         static_cast<double>(most_other) <= 0.3 * total && mean_run >= 2.5;
}

bool LooksLikeAsciiData(std::string_view bytes) {
  std::size_t printable = 0;
  std::size_t alnum = 0;
  std::size_t blanks = 0;
  std::size_t line_breaks = 0;
  for (unsigned char c : bytes) {
    printable += (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n' || c == '\r' ? 1 : 0;
    alnum += std::isalnum(c) != 0 ? 1 : 0;
    blanks += c == ' ' || c == '\t' ? 1 : 0;
    line_breaks += c == '\n' ? 1 : 0;
  }
  const std::size_t n = bytes.size();
  return printable * 100 >= n * 98 && alnum * 10 >= n * 3 && (line_breaks > 0 || blanks * 50 >= n);
}

bool LooksLikePlainText(std::string_view bytes) {
  if (bytes.size() < 64) return false;
  ByteHistogram histogram{};
  AccumulateHistogram(bytes, histogram);
  return PlainTextHistogram(histogram, bytes.size());
}

// Byte classes for DetectTextEncoding: a table, so the count is one load and one add per byte.
enum CharClass : uint8_t { kBreakChar, kBlankChar, kHexChar, kBase64OnlyChar, kOtherChar };
constexpr std::array<uint8_t, 256> MakeCharClassTable() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const auto u = static_cast<unsigned char>(c);
    t[c] = c == ' ' || c == '\t'         ? kBlankChar
           : IsSpace(u)                  ? kBreakChar
           : HexValue(u) >= 0            ? kHexChar
           : kBase64[c] >= 0 || c == '=' ? kBase64OnlyChar
                                         : kOtherChar;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kCharClass = MakeCharClassTable();

TextEncoding DetectTextEncoding(std::string_view text) {
  if (text.size() < 64) return TextEncoding::kNone;
  std::array<std::size_t, 5> counts{};
  // The counts only grow and the payload is at most the text's size: past these bounds the
  // answer is kNone whatever follows (prose and source code get there within a few lines).
  // Encoders break lines (every 64 or 76 characters); they never put spaces inside them, which
  // md5sums lists and PEM headers do.
  const std::size_t other_bound = text.size() / 200;
  const std::size_t break_bound = text.size() / 20;
  const std::size_t blank_bound = text.size() / 1000;
  constexpr std::size_t kStep = 256;
  for (std::size_t i = 0; i < text.size(); i += kStep) {
    const std::size_t end = std::min(text.size(), i + kStep);
    for (std::size_t k = i; k < end; ++k) ++counts[kCharClass[static_cast<unsigned char>(text[k])]];
    if (counts[kOtherChar] > other_bound || counts[kBreakChar] > break_bound ||
        counts[kBlankChar] > blank_bound) {
      return TextEncoding::kNone;
    }
  }
  const std::size_t space = counts[kBreakChar] + counts[kBlankChar];
  const std::size_t hex = counts[kHexChar];
  const std::size_t b64 = counts[kHexChar] + counts[kBase64OnlyChar];
  const std::size_t other = counts[kOtherChar];
  const std::size_t payload = text.size() - space;
  if (payload < 48 || other * 200 > payload) return TextEncoding::kNone;
  if (hex == payload) return TextEncoding::kHex;
  if (b64 + other == payload && other * 1000 <= payload) return TextEncoding::kBase64;
  return TextEncoding::kNone;
}

std::string DecodeBase64Prefix(std::string_view text, std::size_t max_output) {
  std::string out;
  out.reserve(std::min(max_output, text.size() * 3 / 4 + 3));
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : text) {
    if (out.size() >= max_output) break;
    if (IsSpace(c)) continue;
    if (c == '=') break;
    const int v = kBase64[c];
    if (v < 0) break;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

std::string DecodeHexPrefix(std::string_view text, std::size_t max_output) {
  std::string out;
  out.reserve(std::min(max_output, text.size() / 2 + 1));
  int high = -1;
  for (unsigned char c : text) {
    if (out.size() >= max_output) break;
    if (IsSpace(c)) continue;
    const int v = HexValue(c);
    if (v < 0) break;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>((high << 4) | v));
      high = -1;
    }
  }
  return out;
}

// Valid UTF-8 without control bytes (tab and line breaks aside), a third of it ASCII letters,
// digits and blanks, with lines or blanks: text in any script.
bool LooksLikeUtf8Text(std::string_view bytes) {
  std::size_t multibyte = 0;
  if (bytes.size() < 64 || !IsValidUtf8(bytes, &multibyte)) return false;
  std::size_t controls = 0;
  std::size_t latin = 0;
  std::size_t blanks = 0;
  for (unsigned char c : bytes) {
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ++controls;
    if (c == 0x7f) ++controls;
    if (std::isalnum(c) != 0 || c == ' ' || c == '\t' || c == '\n') ++latin;
    if (c == ' ' || c == '\n') ++blanks;
  }
  return controls == 0 && latin * 3 >= bytes.size() && blanks * 50 >= bytes.size();
}

std::optional<ByteTransform> DetectByteTransform(std::string_view head,
                                                 const ValidatorList& validators,
                                                 uint64_t file_size) {
  if (head.size() < 16) return std::nullopt;
  const std::string_view probe = head.substr(0, 4096);
  // Text XORed with a small key is still text: only non-text can be a transformed file.
  if (LooksLikePlainText(probe)) return std::nullopt;
  std::string keys;
  keys.push_back('\xff');  // the bit flip first
  for (char c : kCommonFirstBytes) keys.push_back(static_cast<char>(head[0] ^ c));
  // Text: the most common byte of text is the space.
  ByteHistogram histogram{};
  AccumulateHistogram(probe, histogram);
  int most_common = 0;
  for (int b = 1; b < 256; ++b) {
    if (histogram[b] > histogram[most_common]) most_common = b;
  }
  keys.push_back(static_cast<char>(most_common ^ ' '));

  // Text in a script other than Latin (Greek, Hebrew, Cyrillic...) is UTF-8 with many multi-byte
  // sequences; XORed with a key it is not UTF-8 any more. Legacy encodings (GBK, KOI8-R...) are
  // neither, and must not be mistaken for transformed files: only a transform that yields valid
  // UTF-8 rich in multi-byte sequences counts.
  std::size_t original_multibyte = 0;
  const bool original_utf8 = IsValidUtf8(probe, &original_multibyte);
  // Valid UTF-8 full of multi-byte sequences (or valid EUC) is text in another script, not a
  // transformed one: inverted or XORed ASCII is neither (its letters become lone continuation
  // bytes, or bytes below 0xA1).
  const bool original_is_text =
      (original_utf8 && original_multibyte * 8 >= probe.size()) || LooksLikeEucText(probe);
  // Formats known by a signature only need varied bytes under a transform: UTF-32 text or NUL
  // padding XORed with MPEG-TS's sync byte passes that signature (tar or OLE2 inverted back is
  // mostly NULs, and their validators check structure). A XOR permutes the byte counts, so this
  // holds for every key or none.
  const bool varied = NoByteDominates(probe);
  std::string transformed(probe.size(), '\0');
  for (char key_char : keys) {
    const auto key = static_cast<uint8_t>(key_char);
    if (key == 0) continue;
    for (std::size_t i = 0; i < probe.size(); ++i) {
      transformed[i] = static_cast<char>(static_cast<uint8_t>(probe[i]) ^ key);
    }
    for (const auto& validator : validators) {
      if (validator->name().substr(0, 4) == "text") continue;  // text is judged below
      if (!varied && validator->name() == "signature") continue;
      if (validator->Matches(transformed, file_size)) {
        return ByteTransform{key, std::string(validator->name())};
      }
    }
    // Text under the bit flip (255 - b, the named evasion) when it reads as plain text; under
    // another key only when that key moves ASCII into the high half (below 0x80, XOR 0x20 turns
    // the NULs of string tables, spell dictionaries and terminfo into spaces) and the result is
    // ASCII prose (legacy double-byte text under a guessed key is printable, but not prose).
    if (!original_is_text && (key == 0xff ? LooksLikePlainText(transformed)
                                          : key >= 0x80 && LooksLikeAsciiProse(transformed))) {
      return ByteTransform{key, "text"};
    }
    std::size_t multibyte = 0;
    if (!original_utf8 && NoByteDominates(transformed) && IsValidUtf8(transformed, &multibyte) &&
        multibyte * 8 >= transformed.size()) {
      return ByteTransform{key, "text"};
    }
    // Inverted back, UTF-8 text with few non-Latin letters (a Hebrew lexicon's XML markup), which
    // the two tests above leave to the EUC guard. Legacy text inverted has control bytes.
    if (key == 0xff && !original_utf8 && LooksLikeUtf8Text(transformed)) {
      return ByteTransform{key, "text"};
    }
  }
  return std::nullopt;
}

bool BodyLooksInverted(std::string_view reference, std::string_view body) {
  constexpr std::size_t kMinReference = 256;
  constexpr std::size_t kMinBody = 1024;
  if (reference.size() < kMinReference || body.size() < kMinBody) return false;
  ByteHistogram ref{};
  AccumulateHistogram(reference, ref);
  ByteHistogram seen{};
  AccumulateHistogram(body, seen);
  // Histogram intersection (the share of bytes the two distributions have in common), of the
  // body as it is and of the body inverted back.
  double as_is = 0;
  double inverted_back = 0;
  const double ref_total = static_cast<double>(reference.size());
  const double body_total = static_cast<double>(body.size());
  for (int b = 0; b < 256; ++b) {
    const double p = static_cast<double>(ref[b]) / ref_total;
    as_is += std::min(p, static_cast<double>(seen[b]) / body_total);
    inverted_back += std::min(p, static_cast<double>(seen[255 - b]) / body_total);
  }
  // Inverted back, the body shares clearly more of its bytes with the file's start than it does
  // as it is (a tenth of all bytes more, and half as much again)...
  if (inverted_back < as_is + 0.1 || inverted_back < 1.5 * as_is) return false;
  // ...and its padding is 0xFF: runs of eight or more 0xFF bytes, where binary content pads with
  // zeros (formats that use both, such as OLE2's free-sector markers, pass the first test on
  // intact bytes).
  constexpr std::size_t kRun = 8;
  std::size_t ff_runs = 0;
  std::size_t zero_runs = 0;
  for (std::size_t i = 0; i + kRun <= body.size();) {
    const char c = body[i];
    std::size_t j = i + 1;
    while (j < body.size() && body[j] == c) ++j;
    if (j - i >= kRun) {
      ff_runs += c == '\xff' ? 1 : 0;
      zero_runs += c == '\0' ? 1 : 0;
    }
    i = j;
  }
  return ff_runs >= 2 && zero_runs * 4 <= ff_runs;
}

}  // namespace steen::content
