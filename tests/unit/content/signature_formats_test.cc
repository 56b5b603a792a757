#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "content/format.h"
#include "steen/limits.h"
#include "unit/content/test_bytes.h"

namespace steen::content {
namespace {

const FormatValidator& Named(std::string_view name) {
  static const ValidatorList all = MakeAllValidators();
  for (const auto& v : all) {
    if (v->name() == name) return *v;
  }
  ADD_FAILURE() << "no validator " << name;
  std::abort();
}

FormatReport Validate(const FormatValidator& v, const std::string& bytes) {
  MemoryByteSource source(bytes);
  Reader reader(source, limits::kAnalysisReadBudget);
  return v.Validate(reader);
}

std::string Compress(const std::string& in) {
  uLongf size = compressBound(in.size());
  std::string out(size, '\0');
  compress(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(in.data()),
           in.size());
  out.resize(size);
  return out;
}

TEST(SignatureFormats, RecognisesDebianPackageAndNamesIt) {
  const std::string deb = std::string("!<arch>\ndebian-binary   ") + std::string(200, ' ');
  const auto& v = Named("signature");
  ASSERT_TRUE(v.Matches(deb, deb.size()));
  const FormatReport r = Validate(v, deb);
  EXPECT_EQ(r.format, "deb");
  EXPECT_EQ(r.integrity, Integrity::kValid);
  EXPECT_TRUE(r.high_entropy_body);
}

// Formats that legitimately hold compressed data in most of their blocks (a mailbox of PDF and
// DOCX attachments, zlib-compressed GIMP tiles, gzip-filtered HDF5 chunks, LZ4/zstd Arrow buffers,
// disc and disk images: a live ISO's squashfs, a VM's packages and encrypted volumes): their
// random blocks are no evidence. A live ISO was "82% of blocks random inside a iso9660 file".
TEST(SignatureFormats, ContainersOfCompressedDataClaimRandomBodies) {
  for (const auto& [head, format] : std::vector<std::pair<std::string, std::string>>{
           {"!BDN", "outlook-pst"},
           {"gimp xcf v011", "xcf"},
           {std::string("\x89HDF\r\n\x1a\n", 8), "hdf5"},
           {"ARROW1", "arrow"},
           {"QFI\xfb", "qcow2"},
           {"vhdxfile", "vhdx"},
           {std::string(0x8001, '\0') + "CD001", "iso9660"}}) {
    const FormatReport r = Validate(Named("signature"), head + testing::RandomBytes(200000, 5));
    EXPECT_EQ(r.format, format);
    EXPECT_TRUE(r.high_entropy_body) << format;
  }
}

// NSS's .chk files (the signature of each FIPS library: 4 of the 12 system files `scan` once
// called damaged) are a short header and random signature values.
TEST(SignatureFormats, NssCheckFilesAreRecognisedByTheirHeader) {
  const std::string chk = std::string("\xF1\xC5\x01\x02\x00\x00\x00\x0C\x00\x00\x00\x01", 12) +
                          testing::RandomBytes(420, 9);
  const auto& v = Named("signature");
  ASSERT_TRUE(v.Matches(chk, chk.size()));
  const FormatReport r = Validate(v, chk);
  EXPECT_EQ(r.format, "nss-chk");
  EXPECT_TRUE(r.high_entropy_body);
  // The same magic followed by a header length no .chk file has is not one.
  std::string other = chk;
  other[7] = '\xF0';
  EXPECT_NE(Validate(v, other).format, "nss-chk");
}

// Arrays and model weights: numbers whose first bytes look random to a short-span test (a NumPy
// array of float32 weights was "the first 16 bytes ... look like ciphertext"; a quantized GGUF
// model "100% of blocks random"). Each is recognised by its header, and random bytes after the
// same first byte are not.
TEST(SignatureFormats, ArraysAndModelWeightsAreRecognised) {
  const std::string weights = testing::RandomBytes(100000, 7);
  const std::string json = R"({"w":{"dtype":"F32","shape":[25000],"data_offsets":[0,100000]}})";
  std::string safetensors(8, '\0');
  for (int i = 0; i < 8; ++i) safetensors[i] = static_cast<char>((json.size() >> (8 * i)) & 0xff);
  safetensors += json + weights;
  const std::string pickle =
      std::string("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00", 11) + weights + ".";
  const std::string onnx = std::string("\x08\x07\x12\x07pytorch", 10) + weights;
  const std::string gguf = std::string("GGUF\x03\x00\x00\x00", 8) + weights;
  const std::string npy = "\x93NUMPY\x01\x00v\x00{'descr': '<f4'}" + weights;
  const auto& v = Named("signature");
  for (const auto& [bytes, format] : std::vector<std::pair<std::string, std::string>>{
           {safetensors, "safetensors"},
           {pickle, "pickle"},
           {onnx, "onnx"},
           {gguf, "gguf"},
           {npy, "npy"},
           // Not arrays, but the same lesson: a git bundle's pack, Firefox's LZ4 backups.
           {"# v2 git bundle\n" + weights, "git-bundle"},
           // A Mac's ._name file on a share: resource fork and attributes, compressed data.
           {std::string("\x00\x05\x16\x07\x00\x02\x00\x00", 8) + weights, "appledouble"},
           {std::string("mozLz40\0", 8) + weights, "mozlz4"}}) {
    ASSERT_TRUE(v.Matches(bytes, bytes.size())) << format;
    const FormatReport r = Validate(v, bytes);
    EXPECT_EQ(r.format, format);
    EXPECT_TRUE(r.high_entropy_body) << format;
  }
  for (const char first : {'\x80', '\x08'}) {
    const std::string random = std::string(1, first) + testing::RandomBytes(5000, 8);
    EXPECT_FALSE(v.Matches(random, random.size())) << static_cast<int>(first);
  }
  const std::string unfinished_pickle = pickle.substr(0, pickle.size() - 1);  // no STOP
  EXPECT_FALSE(v.Matches(unfinished_pickle, unfinished_pickle.size()));
  std::string bad_length = safetensors;
  bad_length[7] = 1;  // a header longer than the file
  EXPECT_FALSE(v.Matches(bad_length, bad_length.size()));
}

// Binary Netpbm images: a dark graymap's pixels (0x80-0xDF) inverted read as text, so a PGM was
// "first bytes: every byte inverted ... start a text file". Its header now names it.
TEST(SignatureFormats, NetpbmHeadersAreRecognised) {
  const auto& v = Named("signature");
  std::string dark(20000, '\0');
  for (std::size_t i = 0; i < dark.size(); ++i) dark[i] = static_cast<char>(0x90 + i % 64);
  for (const std::string header : {"P5\n640 480\n255\n", "P6 20 10 255\n", "P4\n# scan\n8 8\n",
                                   "PF\n100 50\n-1.0\n", "P7\nWIDTH 4\nHEIGHT 4\n"}) {
    const std::string image = header + dark;
    ASSERT_TRUE(v.Matches(image, image.size())) << header;
    EXPECT_EQ(Validate(v, image).format, "netpbm") << header;
  }
  for (const std::string text : {"P5 is a paragraph\n", "P6\n0 1\n", "Plain text\n"}) {
    const std::string file = text + std::string(100, 'a');
    EXPECT_FALSE(v.Matches(file, file.size())) << text;
  }
}

TEST(SignatureFormats, StructuredFormatsDoNotClaimRandomBodies) {
  const std::string tzif = "TZif2" + std::string(100, '\0');
  const FormatReport r = Validate(Named("signature"), tzif);
  EXPECT_EQ(r.format, "tzif");
  EXPECT_FALSE(r.high_entropy_body);
}

// A libxmlb silo (GNOME Software's AppStream cache) starts with a GUID: 16 random bytes after its
// magic made a 66-byte cache look like a file whose head was encrypted.
TEST(SignatureFormats, XmlbSiloWithItsGuidIsRecognised) {
  const std::string silo = std::string("XMLb\x08\0\0\0", 8) +
                           "\xeb\xaa\x94\x23\x9a\x31\xf7\x9f\x45\x6d\x9b\xf8\x62\xa0\x59\x7b" +
                           std::string("\x01\0\0\0\x37\0\0\0", 8) + std::string(22, '\0') +
                           "components";
  const auto& v = Named("signature");
  ASSERT_TRUE(v.Matches(silo, silo.size()));
  EXPECT_EQ(Validate(v, silo).format, "xmlb");
}

// Python bytecode of every layout: 3.7+ (flags), 3.3-3.6 (mtime, size) and 2.x (mtime only),
// headers as the interpreters of each write them. Before 3.7's were recognised, their marshalled
// code read as text with binary runs. Text with CRLF after two characters is not bytecode.
TEST(SignatureFormats, PythonBytecodeOfEveryVersionIsRecognised) {
  const auto& v = Named("signature");
  const std::string body = std::string("\0\0\0\0\0\0\0\0\x04\0\0\0\x40\0\0\0s", 17) + "print";
  const std::string headers[] = {
      std::string("\xcb\x0d\x0d\x0a\0\0\0\0\x94\xe2\xfe\x69\x10\0\0\0\xe3", 17),  // 3.12
      std::string("\x33\x0d\x0d\x0a\xc3\xe2\xfe\x69\x00\x0f\0\0\xe3", 13),        // 3.6
      std::string("\x03\xf3\x0d\x0a\x94\xe2\xfe\x69\x63", 9),                     // 2.7
  };
  for (const std::string& header : headers) {
    const std::string pyc = header + body;
    ASSERT_TRUE(v.Matches(pyc, pyc.size())) << pyc.size();
    EXPECT_EQ(Validate(v, pyc).format, "pyc");
  }
  const std::string text = "OK\r\nabcdefghijklmnopqrstuvwxyz\r\n";
  EXPECT_FALSE(v.Matches(text, text.size()));
}

// Media a camcorder, a phone or an editor writes, made here by ffmpeg (skipped without it): each
// is recognised, so its compressed body is not taken for ciphertext (all were reported damaged).
TEST(SignatureFormats, CamcorderAndElementaryStreamsAreRecognised) {
  char tmpl[] = "/tmp/steen-signature-test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string video = "-f lavfi -i testsrc=duration=2:size=160x120:rate=25 ";
  const std::string noise = "-f lavfi -i anoisesrc=d=2 ";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"m2ts", video + noise + "-c:v libx264 -c:a aac -f mpegts -mpegts_m2ts_mode 1"},
      {"h264-h265", video + "-c:v libx264 -f h264"},
      {"ivf", video + "-c:v libvpx -f ivf"},
      {"ac3", noise + "-c:a ac3 -f ac3"},
      {"wavpack", noise + "-c:a wavpack -f wv"},
      {"caf", noise + "-f caf"},
      {"wave64", noise + "-c:a pcm_s24le -f w64"},
      {"tta", noise + "-c:a tta -f tta"},
  };
  for (const auto& [format, args] : cases) {
    const std::string out = dir + "/sample." + format;
    const std::string cmd = "ffmpeg -v quiet -y " + args + " " + out + " 2>/dev/null";
    if (std::system(cmd.c_str()) != 0) {
      std::filesystem::remove_all(dir);
      GTEST_SKIP() << "ffmpeg cannot make " << format;
    }
    std::ifstream in(out, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto& v = Named("signature");
    EXPECT_TRUE(v.Matches(bytes.substr(0, limits::kHeadBytes), bytes.size())) << format;
    EXPECT_EQ(Validate(v, bytes).format, format);
  }
  std::filesystem::remove_all(dir);
}

// .lzma files (xz --format=lzma): a properties byte and a dictionary size, then the stream.
// An AC-3 frame of `bytes` (even) at 44.1 kHz: sync, CRC, then the size code whose frames are
// 416 bytes (even code) or 418 (odd), then random bits.
std::string Ac3Frame(int size_code, uint64_t seed) {
  const std::size_t bytes = size_code % 2 == 0 ? 416 : 418;
  std::string frame = testing::RandomBytes(bytes, seed);
  frame[0] = 0x0B;
  frame[1] = 0x77;
  frame[4] = static_cast<char>(0x40 | size_code);  // fscod 1 (44.1 kHz)
  frame[5] = static_cast<char>(8 << 3);            // bsid 8
  return frame;
}

// ffmpeg's AC-3 at 44.1 kHz alternates frame sizes, and a frame's bytes may hold 0x0B77 before
// the next frame does: each frame's size is read from its own header. It was "no known format
// signature and the first 64 bytes are random".
TEST(SignatureFormats, Ac3FramesChainedByTheirOwnSizes) {
  std::string ac3 = Ac3Frame(12, 1);
  ac3.replace(100, 2, "\x0B\x77");  // a sync word inside the first frame's data
  for (int i = 0; i < 8; ++i) ac3 += Ac3Frame(13, 2 + i);
  const auto& v = Named("signature");
  ASSERT_TRUE(v.Matches(ac3, ac3.size()));
  EXPECT_EQ(Validate(v, ac3).format, "ac3");
  std::string broken = ac3;
  broken.replace(416, 2, "\x00\x00");  // the second frame's sync gone
  EXPECT_FALSE(v.Matches(broken, broken.size()));
}

// ZSoft PCX: one magic byte, so the header's fields decide; text starting with a newline is not
// a PCX. A 256-colour PCX was read as text "with binary random data" (damaged).
TEST(SignatureFormats, PcxHeaderIsRecognisedByItsFields) {
  std::string pcx(128, '\0');
  pcx[0] = 0x0A;
  pcx[1] = 5;     // version
  pcx[2] = 1;     // RLE
  pcx[3] = 8;     // bits per pixel
  pcx[8] = 99;    // x max: 100 pixels wide
  pcx[10] = 49;   // y max
  pcx[65] = 1;    // planes
  pcx[66] = 100;  // bytes per line
  pcx += testing::RandomBytes(5000, 3);
  const auto& v = Named("signature");
  ASSERT_TRUE(v.Matches(pcx, pcx.size()));
  EXPECT_EQ(Validate(v, pcx).format, "pcx");
  EXPECT_TRUE(Validate(v, pcx).high_entropy_body);
  std::string narrow_lines = pcx;
  narrow_lines[66] = 50;  // fewer bytes per line than 100 pixels need
  EXPECT_FALSE(v.Matches(narrow_lines, narrow_lines.size()));
  const std::string text = "\nDear all,\n" + std::string(300, 'a');
  EXPECT_FALSE(v.Matches(text, text.size()));
}

TEST(SignatureFormats, LzmaAloneIsRecognisedAndRandomBytesAreNot) {
  char tmpl[] = "/tmp/steen-signature-lzma.XXXXXX";
  const int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  const std::string text = steen::testing::RandomBytes(2000, 1) + std::string(20000, 'a');
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fd);
  const std::string out = std::string(tmpl) + ".lzma";
  const std::string cmd = "xz --format=lzma -c " + std::string(tmpl) + " > " + out + " 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  ::unlink(tmpl);
  if (rc != 0) GTEST_SKIP() << "xz cannot write .lzma here";
  std::ifstream in(out, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(out.c_str());
  EXPECT_EQ(Validate(Named("signature"), bytes).format, "lzma");
  std::string random = steen::testing::RandomBytes(4096, 9);
  random[0] = '\x5D';
  random[1] = random[2] = '\0';
  random[3] = '\x13';  // dictionary size 0x??130000: not a power of two (nor 3 x 2^n)
  random[4] = '\x00';
  EXPECT_FALSE(Named("signature").Matches(random, random.size()));
}

TEST(SignatureFormats, RandomBytesRarelyMatchAnySignature) {
  int matches = 0;
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    const std::string bytes = steen::testing::RandomBytes(4096, seed);
    if (Named("signature").Matches(bytes, bytes.size())) ++matches;
    if (Named("zlib").Matches(bytes, bytes.size())) ++matches;
  }
  EXPECT_LE(matches, 2);
}

TEST(ZlibStream, ValidStreamDecodes) {
  const std::string z = Compress(steen::testing::ProseText(100000));
  ASSERT_TRUE(Named("zlib").Matches(z, z.size()));
  const FormatReport r = Validate(Named("zlib"), z);
  EXPECT_EQ(r.integrity, Integrity::kValid);
}

TEST(ZlibStream, HeaderKeptBodyEncryptedIsDamaged) {
  std::string z = Compress(steen::testing::ProseText(100000));
  const std::string noise = steen::testing::RandomBytes(z.size() - 2, 5);
  z.replace(2, noise.size(), noise);
  // Either the quick probe in Matches already rejects it, or Validate reports it broken.
  if (Named("zlib").Matches(z, z.size())) {
    EXPECT_EQ(Validate(Named("zlib"), z).integrity, Integrity::kDamaged);
  }
}

TEST(ZlibStream, TextStartingWithAValidHeaderIsNotZlib) {
  const std::string text =
      "x^" + steen::testing::ProseText(5000);  // 0x785E passes the mod-31 check
  EXPECT_FALSE(Named("zlib").Matches(text, text.size()));
}

}  // namespace
}  // namespace steen::content
