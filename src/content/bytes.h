// Bounds-checked helpers for reading integers and signatures out of untrusted byte spans.
// Every accessor returns false / nullopt instead of reading past the span.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace steen::content {

inline bool StartsWith(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

inline bool HasAt(std::string_view bytes, std::size_t offset, std::string_view magic) {
  return offset <= bytes.size() && bytes.substr(offset, magic.size()) == magic;
}

template <typename T>
std::optional<T> LoadLE(std::string_view bytes, std::size_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

template <typename T>
std::optional<T> LoadBE(std::string_view bytes, std::size_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value = static_cast<T>(value << 8) | static_cast<unsigned char>(bytes[offset + i]);
  }
  return value;
}

// The high bit (0x80) of each of the eight bytes at p, in place: zero when all eight are ASCII.
// The caller guarantees eight readable bytes.
inline uint64_t HighBitsOf8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word & 0x8080808080808080ULL;
}

// `bytes` bit-flipped (255 - b), the transform some ransomware applies instead of encrypting:
// a validator tries its structure on the inverted bytes where the structure is broken.
inline std::string Inverted(std::string_view bytes) {
  std::string out(bytes);
  for (char& c : out) c = static_cast<char>(~static_cast<unsigned char>(c));
  return out;
}

inline std::optional<uint8_t> ByteAt(std::string_view bytes, std::size_t offset) {
  if (offset >= bytes.size()) return std::nullopt;
  return static_cast<uint8_t>(bytes[offset]);
}

}  // namespace steen::content
