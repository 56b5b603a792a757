// Deterministic test inputs made by code.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// `seconds` of a 440 Hz tone of `amplitude`, 16-bit mono PCM at `rate` Hz, as a WAV file.
inline std::string ToneWav(int seconds = 1, int rate = 8000, int amplitude = 8000) {
  const auto put = [](std::string& out, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  std::string pcm;
  for (int i = 0; i < seconds * rate; ++i) {
    const auto sample = static_cast<int16_t>(amplitude * std::sin(2 * 3.14159265 * 440 * i / rate));
    put(pcm, static_cast<uint16_t>(sample), 2);
  }
  std::string wav = "RIFF";
  put(wav, static_cast<uint32_t>(36 + pcm.size()), 4);
  wav += "WAVEfmt ";
  put(wav, 16, 4);
  put(wav, 1, 2);                                // PCM
  put(wav, 1, 2);                                // mono
  put(wav, static_cast<uint32_t>(rate), 4);      // sample rate
  put(wav, static_cast<uint32_t>(2 * rate), 4);  // byte rate
  put(wav, 2, 2);                                // block align
  put(wav, 16, 2);                               // bits per sample
  wav += "data";
  put(wav, static_cast<uint32_t>(pcm.size()), 4);
  return wav + pcm;
}

// A ustar header for an entry of `size` bytes of `type` ('0' a file, 'L' a GNU long name).
inline std::string TarHeader(std::string_view name, std::size_t size, char type = '0') {
  std::string h(512, '\0');
  const auto set = [&h](std::size_t at, std::string_view field) {
    std::copy(field.begin(), field.end(), h.begin() + static_cast<std::ptrdiff_t>(at));
  };
  set(0, name.substr(0, 100));
  set(100, "0000644");
  set(108, "0001750");
  set(116, "0001750");
  char octal[16];
  std::snprintf(octal, sizeof(octal), "%011zo", size);
  set(124, octal);
  set(136, "14712345670");
  h[156] = type;
  set(257, std::string_view("ustar\0"
                            "00",
                            8));
  set(148, "        ");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(octal, sizeof(octal), "%06o", sum);
  set(148, octal);
  h[154] = '\0';
  h[155] = ' ';
  return h;
}

// A tar entry: header, data, padding to 512 bytes.
inline std::string TarEntry(std::string_view name, const std::string& data) {
  return TarHeader(name, data.size()) + data + std::string((512 - data.size() % 512) % 512, '\0');
}

inline std::string TarEnd() { return std::string(1024, '\0'); }

// `data` compressed by zlib: window_bits 15 + 16 is gzip, -15 raw deflate; mem_level sets the
// symbols per block (1: 128, 8: zlib's default 16 K).
inline std::string Deflated(const std::string& data, int level, int window_bits, int mem_level) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, window_bits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
    return {};
  }
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(rc == Z_STREAM_END ? z.total_out : 0);
  deflateEnd(&z);
  return out;
}

// A ZIP archive of stored (method 0) entries: local headers, data, central directory, EOCD.
inline std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& entries) {
  const auto le = [](uint64_t value, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
    return out;
  };
  std::string zip;
  std::string directory;
  for (const auto& [name, data] : entries) {
    const uint64_t offset = zip.size();
    const uint32_t crc = static_cast<uint32_t>(crc32(
        0, reinterpret_cast<const unsigned char*>(data.data()), static_cast<uInt>(data.size())));
    // version, flags, method 0, time, date, CRC-32, sizes, name length, extra length
    const std::string fields = le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(crc, 4) +
                               le(data.size(), 4) + le(data.size(), 4) + le(name.size(), 2) +
                               le(0, 2);
    zip += std::string("PK\x03\x04", 4) + fields + name + data;
    // version made by, the same fields, comment length, disk, attributes, local header offset
    directory += std::string("PK\x01\x02", 4) + le(20, 2) + fields + le(0, 2) + le(0, 2) +
                 le(0, 2) + le(0, 4) + le(offset, 4) + name;
  }
  const uint64_t directory_offset = zip.size();
  zip += directory;
  zip += std::string("PK\x05\x06", 4) + le(0, 2) + le(0, 2) + le(entries.size(), 2) +
         le(entries.size(), 2) + le(directory.size(), 4) + le(directory_offset, 4) + le(0, 2);
  return zip;
}

// A cpio "newc" entry (070701): header of hexadecimal fields, name, data, each padded to 4.
inline std::string CpioEntry(std::string_view name, const std::string& data,
                             unsigned mode = 0100644) {
  char header[111];
  std::snprintf(header, sizeof(header),
                "070701%08x%08x%08x%08x%08x%08x%08zx%08x%08x%08x%08x%08zx%08x", 1u, mode, 0u, 0u,
                1u, 0u, data.size(), 0u, 0u, 0u, 0u, name.size() + 1, 0u);
  std::string entry = std::string(header, 110) + std::string(name) + '\0';
  entry.append((4 - entry.size() % 4) % 4, '\0');
  entry += data;
  entry.append((4 - entry.size() % 4) % 4, '\0');
  return entry;
}

// The trailer entry, padded to a 512-byte block as cpio writes it (given the archive so far).
inline std::string CpioEnd(std::size_t archive_bytes) {
  std::string end = CpioEntry("TRAILER!!!", "", 0);
  end.append((512 - (archive_bytes + end.size()) % 512) % 512, '\0');
  return end;
}

}  // namespace steen::testing
