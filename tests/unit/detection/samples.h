// Intact sample files of several formats, made by code (so tests are hermetic), for checking the
// content engine against every drill profile.
#pragma once

#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "unit/content/test_bytes.h"

namespace steen::testing {

struct Sample {
  std::string name;  // file name with extension (drill profiles pick rules by extension)
  std::string bytes;
};

inline void PutLE(std::string& s, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutBE(std::string& s, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline std::string Deflate(const std::string& in, int window_bits) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A photo-like RGB image: smooth gradients plus noise, so it compresses like a real picture.
inline std::string Png(int width, int height, uint64_t seed) {
  std::string raw;
  std::string noise = RandomBytes(static_cast<std::size_t>(width) * height, seed);
  for (int y = 0; y < height; ++y) {
    raw.push_back('\0');  // filter: none
    for (int x = 0; x < width; ++x) {
      const int n = static_cast<unsigned char>(noise[y * width + x]) % 24;
      raw.push_back(static_cast<char>((x * 255 / width + n) & 0xff));
      raw.push_back(static_cast<char>((y * 255 / height + n) & 0xff));
      raw.push_back(static_cast<char>(((x + y) * 128 / (width + height) + n) & 0xff));
    }
  }
  auto chunk = [](std::string& out, const char* type, const std::string& data) {
    PutBE(out, data.size(), 4);
    std::string body = std::string(type, 4) + data;
    out += body;
    PutBE(out, crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size()), 4);
  };
  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutBE(ihdr, width, 4);
  PutBE(ihdr, height, 4);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  chunk(png, "IHDR", ihdr);
  const std::string idat = Deflate(raw, 15);
  for (std::size_t pos = 0; pos < idat.size(); pos += 8192)
    chunk(png, "IDAT", idat.substr(pos, 8192));
  chunk(png, "IEND", "");
  return png;
}

inline std::string Gzip(const std::string& content) { return Deflate(content, 31); }

inline std::string Bmp(int width, int height) {
  const int row = (width * 3 + 3) & ~3;
  std::string bmp = "BM";
  PutLE(bmp, 54 + row * height, 4);
  PutLE(bmp, 0, 4);
  PutLE(bmp, 54, 4);
  PutLE(bmp, 40, 4);
  PutLE(bmp, width, 4);
  PutLE(bmp, height, 4);
  PutLE(bmp, 1, 2);
  PutLE(bmp, 24, 2);
  PutLE(bmp, 0, 4);
  PutLE(bmp, row * height, 4);
  PutLE(bmp, 2835, 4);
  PutLE(bmp, 2835, 4);
  PutLE(bmp, 0, 4);
  PutLE(bmp, 0, 4);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < row; ++x) bmp.push_back(static_cast<char>((x * 7 + y * 3) / 5 & 0xff));
  }
  return bmp;
}

inline std::string Wav(int seconds) {
  const int rate = 22050;
  std::string pcm;
  for (int i = 0; i < rate * seconds; ++i) {
    const double t = static_cast<double>(i) / rate;
    const auto v = static_cast<int16_t>(8000 * std::sin(2 * M_PI * 440 * t) +
                                        3000 * std::sin(2 * M_PI * 660 * t + 0.3));
    PutLE(pcm, static_cast<uint16_t>(v), 2);
  }
  std::string wav = "RIFF";
  PutLE(wav, 36 + pcm.size(), 4);
  wav += "WAVEfmt ";
  PutLE(wav, 16, 4);
  PutLE(wav, 1, 2);
  PutLE(wav, 1, 2);
  PutLE(wav, rate, 4);
  PutLE(wav, rate * 2, 4);
  PutLE(wav, 2, 2);
  PutLE(wav, 16, 2);
  wav += "data";
  PutLE(wav, pcm.size(), 4);
  return wav + pcm;
}

inline std::string Csv(std::size_t rows) {
  std::string csv = "id;name;city;amount;date\n";
  static const char* kCities[] = {"Antwerpen", "Gent", "Brugge", "Liège", "Mechelen"};
  for (std::size_t i = 0; i < rows; ++i) {
    csv += std::to_string(i) + ";Klant " + std::to_string(i * 7919 % 1000) + ";" + kCities[i % 5] +
           ";" + std::to_string((i * 104729) % 100000) + "," + std::to_string(i % 100) +
           ";2022-12-" + std::to_string(1 + i % 28) + "\n";
  }
  return csv;
}

inline std::vector<Sample> MakeSamples() {
  return {
      {"notes.txt", ProseText(3000, 11)},
      {"report.txt", ProseText(400000, 12)},
      {"big-log.txt", ProseText(7u * 1024 * 1024, 13)},
      {"accounts.csv", Csv(20000)},
      {"photo.png", Png(400, 300, 14)},
      {"large-photo.png", Png(1400, 1000, 15)},
      {"docs.txt.gz", Gzip(ProseText(2000000, 16))},
      {"scan.bmp", Bmp(640, 480)},
      {"voice.wav", Wav(3)},
  };
}

}  // namespace steen::testing
