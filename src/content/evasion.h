// Detection of the evasions that defeat plain entropy tests: ciphertext written as base64 or hex
// text (entropy ~6 or ~4 bits/byte), and bytes mapped by a fixed transform (255 - b, XOR with a
// constant), which leaves the byte histogram's entropy unchanged.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "content/format.h"

namespace steen::content {

enum class TextEncoding { kNone, kBase64, kHex };

// Classifies `text` as base64 or hex when (nearly) all of it is that alphabet plus line breaks.
TextEncoding DetectTextEncoding(std::string_view text);

// Decodes as much of `text` as is well formed (ignoring line breaks and whitespace), up to
// `max_output` bytes. A trailing partial group is dropped.
std::string DecodeBase64Prefix(std::string_view text, std::size_t max_output);
std::string DecodeHexPrefix(std::string_view text, std::size_t max_output);

// Printable ASCII prose or code: many distinct letters, no byte dominating, at least 90% printable.
// At least 64 bytes.
bool LooksLikePlainText(std::string_view bytes);

// Stricter: plain text that is 30% letters and digits, 8% blanks (60% with the letters and
// digits), no byte but blanks above 30%, words of 2.5 bytes on average: ASCII prose and code. What
// bytes must be, transformed back, for the file to count as transformed text: real text in another
// script passes LooksLikePlainText under some keys (EUC-JP kana XOR 0x81 is half '%').
bool LooksLikeAsciiProse(std::string_view bytes);

// ASCII data without prose's blanks (CSV of numbers, minified XML): 98% printable or line breaks,
// 30% letters and digits, and lines or blanks. Inverted, no legacy 8-bit text gets there: its
// ASCII blanks and line breaks invert to high bytes, and so do most of its letters.
bool LooksLikeAsciiData(std::string_view bytes);

struct ByteTransform {
  uint8_t xor_key = 0;  // 0xFF is the bit flip (255 - b)
  std::string format;   // what the untransformed bytes are ("png", "text", ...)
};

// Finds a constant XOR (including the 255 - b bit flip) under which `head` becomes a known binary
// format or plain text. `head` must not itself be recognised. Returns nothing when none fits.
std::optional<ByteTransform> DetectByteTransform(std::string_view head,
                                                 const ValidatorList& validators,
                                                 uint64_t file_size);

// True when `body` (bytes past a file's intact start) is, inverted back (255 - b), the same kind of
// content as `reference` (the file's first bytes): their byte distributions share far more once
// the body is inverted back than as it is (a binary format's zero bytes became 0xFF bytes, its
// small values large ones), and its padding runs are 0xFF, not zeros. Only the bit flip: under
// other keys too much would fit. Meant for files whose structure is already known broken.
bool BodyLooksInverted(std::string_view reference, std::string_view body);

}  // namespace steen::content
