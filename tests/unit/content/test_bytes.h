// Deterministic test inputs made by code.
#pragma once

#include <cstdint>
#include <random>
#include <string>

namespace steen::testing {

inline std::string RandomBytes(std::size_t n, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

// Readable prose with varied words and some accented Latin letters (UTF-8).
inline std::string ProseText(std::size_t n, uint64_t seed = 2) {
  static const char* kWords[] = {"de",     "stad",    "Antwerpen", "bestanden", "server", "the",
                                 "report", "budget",  "ça",        "für",       "école",  "data",
                                 "2022",   "invoice", "minutes",   "meeting",   "Zorg",   "über"};
  std::mt19937_64 rng(seed);
  std::string s;
  while (s.size() < n) {
    s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    s += (rng() % 11 == 0) ? ".\n" : " ";
  }
  s.resize(n);
  return s;
}

inline std::string Base64Encode(const std::string& in, std::size_t line = 76) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[v & 63] : '=';
    col += 4;
    if (line != 0 && col >= line) {
      out += '\n';
      col = 0;
    }
  }
  return out;
}

inline std::string HexEncode(const std::string& in) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : in) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

}  // namespace steen::testing
