// Formats steen recognises by signature only (no structural validator yet): without them, a real
// .deb, .rpm, .pyc or git pack file would be "no known signature, high entropy" and reported as
// damaged. Each entry says whether the format's payload is legitimately random-looking, so the
// analyzer still flags random blocks inside formats whose content is structured.
// Weak (short) signatures carry an extra check, so random bytes rarely pass for them.
#include <array>
#include <memory>
#include <string_view>

#include "content/bytes.h"
#include "content/format.h"

namespace steen::content {
namespace {

using Check = bool (*)(std::string_view head, uint64_t file_size);

struct Signature {
  std::string_view format;
  std::size_t offset;
  std::string_view magic;
  bool high_entropy_body;
  Check check = nullptr;
  bool encrypted_container = false;  // a legitimately encrypted file
};

bool NssCheckFile(std::string_view head, uint64_t /*file_size*/) {
  // NSS's .chk files (the signature of a FIPS library: lib/freebl/shvfy.c): magic F1 C5, a
  // version 1.x, then the header's length as a big-endian word.
  auto minor = ByteAt(head, 3);
  auto header = LoadBE<uint32_t>(head, 4);
  return minor && *minor < 16 && header && *header >= 8 && *header <= 64;
}
bool JavaClassVersion(std::string_view head, uint64_t /*file_size*/) {
  // CAFEBABE is also the Mach-O universal binary magic; a class file's major version is >= 45.
  auto major = LoadBE<uint16_t>(head, 6);
  return major && *major >= 45 && *major < 100;
}
bool MachOFat(std::string_view head, uint64_t /*file_size*/) {
  auto count = LoadBE<uint32_t>(head, 4);
  return count && *count >= 1 && *count < 20;
}
bool PycHeader(std::string_view head, uint64_t /*file_size*/) {
  // Python bytecode: 2-byte version magic, "\r\n", then since 3.7 4-byte flags (0..3) and a
  // 16-byte header. Before 3.7 there are no flags: the marshalled code object ('c', or 'c' with
  // the reference flag 0x80) follows a 12-byte header (3.3-3.6) or an 8-byte one (2.x, 3.0-3.2,
  // whose magic's high byte is anything).
  if (head.size() < 16) return false;
  auto flags = LoadLE<uint32_t>(head, 4);
  if (flags && *flags <= 3 && static_cast<unsigned char>(head[1]) < 0x10) return true;
  const auto magic_high = static_cast<unsigned char>(head[1]);  // 3.0-3.6: 0x0b-0x0d; 2.x: >= 0xc4
  const auto code_object_at = [&](std::size_t at) { return (head[at] & 0x7f) == 'c'; };
  if (magic_high >= 0x0b && magic_high <= 0x0d) return code_object_at(12) || code_object_at(8);
  return magic_high >= 0xc4 && code_object_at(8);
}
// Eight MPEG-2 transport stream packets from `first`, `stride` bytes apart: the sync byte, and an
// adaptation_field_control other than the reserved 00 (a real packet has payload, adaptation or
// both). With `headers_vary`, the 4-byte headers must not all be the same (continuity counters
// and PIDs change from packet to packet; NUL padding XORed with 0x47 does not).
bool TransportPackets(std::string_view head, std::size_t first, std::size_t stride,
                      bool headers_vary) {
  bool headers_differ = false;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::size_t at = first + i * stride;
    if (!HasAt(head, at, "\x47")) return false;
    auto control = ByteAt(head, at + 3);
    if (!control || ((*control >> 4) & 3) == 0) return false;
    if (i > 0 && head.size() >= at + 4 && head.substr(at, 4) != head.substr(at - stride, 4)) {
      headers_differ = true;
    }
  }
  return headers_differ || !headers_vary;
}
bool MpegTransportStream(std::string_view head, uint64_t /*file_size*/) {
  return TransportPackets(head, 0, 188, /*headers_vary=*/true);
}
bool IcoHeader(std::string_view head, uint64_t /*file_size*/) {
  auto count = LoadLE<uint16_t>(head, 4);
  auto width_zero_padding = ByteAt(head, 9);  // reserved byte of the first entry
  return count && *count >= 1 && *count <= 256 && width_zero_padding && *width_zero_padding == 0;
}
// ZSoft PCX: a 128-byte header (version, RLE flag, bits per pixel, window, planes, bytes per
// line). The magic is one byte, so every field must be plausible.
bool PcxHeader(std::string_view head, uint64_t file_size) {
  if (head.size() < 128 || file_size < 129) return false;
  const auto byte = [&head](std::size_t i) { return static_cast<uint8_t>(head[i]); };
  const uint8_t version = byte(1), encoding = byte(2), bits = byte(3), planes = byte(65);
  auto x_min = LoadLE<uint16_t>(head, 4), y_min = LoadLE<uint16_t>(head, 6);
  auto x_max = LoadLE<uint16_t>(head, 8), y_max = LoadLE<uint16_t>(head, 10);
  auto line_bytes = LoadLE<uint16_t>(head, 66);
  if ((version != 0 && (version < 2 || version > 5)) || encoding > 1) return false;
  if (bits != 1 && bits != 2 && bits != 4 && bits != 8) return false;
  if (planes < 1 || planes > 4 || byte(64) != 0) return false;
  if (!x_min || !y_min || !x_max || !y_max || !line_bytes || *x_max < *x_min || *y_max < *y_min) {
    return false;
  }
  const uint32_t width = *x_max - *x_min + 1u;
  return *line_bytes % 2 == 0 && *line_bytes >= (width * bits + 7) / 8;
}
// Model weights and arrays (numbers whose short runs look random; their 4 KiB blocks do not).
// safetensors: a little-endian u64 length, then that many bytes of JSON header, then the data.
bool SafetensorsHeader(std::string_view head, uint64_t file_size) {
  auto length = LoadLE<uint64_t>(head, 0);
  if (!length || *length < 2 || *length > 100 * 1024 * 1024 || *length + 8 > file_size) {
    return false;
  }
  if (head.size() < 9 || head[8] != '{') return false;
  return *length + 8 > head.size() || head[*length + 7] == '}' || head[*length + 7] == ' ';
}
// Python pickle, protocols 2 to 5 (NumPy arrays, scikit-learn and legacy PyTorch models):
// PROTO, then a FRAME (protocol 4 and 5) or one of the opcodes that start a pickled object.
bool PickleHeader(std::string_view head, uint64_t file_size) {
  auto proto = ByteAt(head, 1), next = ByteAt(head, 2);
  if (!proto || !next || *proto < 2 || *proto > 5) return false;
  if (file_size <= head.size() && head.back() != '.') return false;  // STOP ends a pickle
  if (*proto >= 4) return *next == 0x95;
  return std::string_view("}]()cXqKJMGU\x8c\x80\x95").find(static_cast<char>(*next)) !=
         std::string_view::npos;
}
// ONNX: a protobuf ModelProto, whose first field is ir_version (field 1, a small varint), then
// one of the next fields (producer name and version, domain, model version, doc, graph, opsets).
bool OnnxModel(std::string_view head, uint64_t /*file_size*/) {
  auto version = ByteAt(head, 1), next = ByteAt(head, 2);
  return version && next && *version >= 1 && *version <= 20 &&
         std::string_view("\x12\x1a\x22\x28\x32\x3a\x42").find(static_cast<char>(*next)) !=
             std::string_view::npos;
}
bool GgufVersion(std::string_view head, uint64_t /*file_size*/) {
  auto version = LoadLE<uint32_t>(head, 4);
  return version && *version >= 1 && *version <= 3;
}
// Netpbm binary images (P4 bitmap, P5 graymap, P6 pixmap, P7 arbitrary map) and float maps
// (PF, Pf): the magic, whitespace, then (P7: header lines) decimal width and height. Their pixels
// are raw bytes, which inverted can read as text (a dark graymap did).
bool NetpbmHeader(std::string_view head, uint64_t /*file_size*/) {
  if (head.size() < 8 || head[0] != 'P') return false;
  const char kind = head[1];
  if (kind == '7') return head.substr(2, 7) == "\nWIDTH " || head.substr(2, 2) == "\n#";
  if (kind != '4' && kind != '5' && kind != '6' && kind != 'F' && kind != 'f') return false;
  std::size_t i = 2;
  const auto space = [&] {
    const std::size_t start = i;
    while (i < head.size() &&
           (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' || head[i] == '\t')) {
      ++i;
    }
    return i > start;
  };
  const auto number = [&] {
    const std::size_t start = i;
    while (i < head.size() && head[i] >= '0' && head[i] <= '9' && i - start < 6) ++i;
    return i > start && head[start] != '0';
  };
  if (!space()) return false;
  while (i < head.size() && head[i] == '#') {  // comment lines
    while (i < head.size() && head[i] != '\n') ++i;
    space();
  }
  return number() && space() && number() && i < head.size() &&
         (head[i] == ' ' || head[i] == '\n' || head[i] == '\r');
}
bool ExtSuperblock(std::string_view head, uint64_t /*file_size*/) {
  // ext2/3/4 superblock at 1024: block size exponent, revision and state must be sane.
  auto log_block_size = LoadLE<uint32_t>(head, 1024 + 24);
  auto state = LoadLE<uint16_t>(head, 1024 + 58);
  auto revision = LoadLE<uint32_t>(head, 1024 + 76);
  auto blocks_per_group = LoadLE<uint32_t>(head, 1024 + 32);
  return log_block_size && *log_block_size <= 6 && state && *state >= 1 && *state <= 7 &&
         revision && *revision <= 1 && blocks_per_group && *blocks_per_group != 0 &&
         *blocks_per_group <= 65536;
}
bool CompressZ(std::string_view head, uint64_t /*file_size*/) {
  auto flags = ByteAt(head, 2);
  return flags && (*flags & 0x1f) >= 9 && (*flags & 0x1f) <= 16 && (*flags & 0x60) == 0;
}

// MPEG-2 transport stream in 192-byte packets (Blu-ray and AVCHD camcorders' .m2ts/.MTS): a
// 4-byte time code, then a TS packet.
bool M2ts(std::string_view head, uint64_t /*file_size*/) {
  return TransportPackets(head, 4, 192, /*headers_vary=*/false);
}
// H.264/H.265 elementary stream (Annex B): a start code, a NAL header of the types a stream
// starts with (H.264 SEI/SPS/AUD; H.265 VPS/SPS/PPS/AUD/SEI), and another start code soon.
bool AnnexBVideo(std::string_view head, uint64_t /*file_size*/) {
  auto nal = ByteAt(head, 4);
  if (!nal || (*nal & 0x80) != 0) return false;
  const int h264 = *nal & 0x1f;
  const int h265 = (*nal >> 1) & 0x3f;
  if (h264 != 6 && h264 != 7 && h264 != 9 && h265 != 32 && h265 != 33 && h265 != 34 && h265 != 35 &&
      h265 != 39) {
    return false;
  }
  return head.substr(5, 4096).find(std::string_view("\x00\x00\x01", 3)) != std::string_view::npos;
}
// The size of the AC-3 or E-AC-3 frame starting at `frame` (ATSC A/52: sync word 0x0B77, then the
// size code of its sample rate and bit rate; E-AC-3, bsid 11-16, gives its size in words), or 0.
// At 44.1 kHz a stream alternates between two sizes, so every frame's own header is read.
std::size_t Ac3FrameBytes(std::string_view frame) {
  if (frame.size() < 6 || !HasAt(frame, 0, std::string_view("\x0B\x77", 2))) return 0;
  const auto byte = [&frame](std::size_t i) { return static_cast<uint8_t>(frame[i]); };
  const int bsid = byte(5) >> 3;
  if (bsid > 16) return 0;
  if (bsid > 10) return 2 * ((static_cast<std::size_t>(byte(2) & 7) << 8 | byte(3)) + 1);
  static constexpr int kKbps[19] = {32,  40,  48,  56,  64,  80,  96,  112, 128, 160,
                                    192, 224, 256, 320, 384, 448, 512, 576, 640};
  const int sample_rate_code = byte(4) >> 6;
  const int size_code = byte(4) & 0x3f;
  if (sample_rate_code == 3 || size_code > 37) return 0;
  const int kbps = kKbps[size_code / 2];
  const int words = sample_rate_code == 0   ? 2 * kbps                                 // 48 kHz
                    : sample_rate_code == 2 ? 3 * kbps                                 // 32 kHz
                                            : kbps * 96000 / 44100 + (size_code & 1);  // 44.1
  return 2 * static_cast<std::size_t>(words);
}
// Three AC-3 frames chained by their sizes (or every frame of a shorter file).
bool Ac3Frames(std::string_view head, uint64_t file_size) {
  std::size_t at = 0;
  for (int frame = 0; frame < 3; ++frame) {
    if (at == file_size && frame > 0) return true;
    const std::size_t bytes = Ac3FrameBytes(head.substr(std::min(at, head.size())));
    if (bytes == 0) return false;
    at += bytes;
  }
  return at == file_size || Ac3FrameBytes(head.substr(std::min(at, head.size()))) != 0;
}
bool WavPackBlock(std::string_view head, uint64_t /*file_size*/) {
  auto block_size = LoadLE<uint32_t>(head, 4);
  auto version = LoadLE<uint16_t>(head, 8);
  return block_size && *block_size >= 24 && *block_size < (1u << 20) && version &&
         *version >= 0x402 && *version <= 0x410;
}

// LZMA "alone" (.lzma): a properties byte (lc/lp/pb below 225) and a dictionary size that is a
// power of two or 2^n + 2^(n-1), as every encoder writes it.
bool LzmaAlone(std::string_view head, uint64_t /*file_size*/) {
  auto props = ByteAt(head, 0);
  auto dict = LoadLE<uint32_t>(head, 1);
  if (!props || *props >= 225 || !dict || *dict < 4096) return false;
  const uint32_t d = *dict;
  const uint32_t top = 1u << (31 - __builtin_clz(d));
  return d == top || d == top + top / 2;
}

constexpr std::string_view operator""_sv(const char* s, std::size_t n) { return {s, n}; }

const Signature kSignatures[] = {
    // Packages and archives (compressed payloads).
    {"deb", 0, "!<arch>\ndebian-binary"_sv, true},
    {"ar", 0, "!<arch>\n"_sv, true},
    {"rpm", 0, "\xED\xAB\xEE\xDB"_sv, true},
    {"squashfs", 0, "hsqs"_sv, true},
    {"cab", 0, "MSCF\0\0\0\0"_sv, true},
    {"lz4", 0, "\x04\x22\x4D\x18"_sv, true},
    {"lzip", 0, "LZIP"_sv, true},
    {"compress", 0, "\x1F\x9D"_sv, true, CompressZ},
    {"xar", 0, "xar!"_sv, true},
    {"lha", 2, "-lh"_sv, true},
    {"ace", 7, "**ACE**"_sv, true},
    {"zstd-dictionary", 0, "\x37\xA4\x30\xEC"_sv, true},
    {"git-pack", 0, "PACK\0\0\0"_sv, true},
    {"git-index", 0, "DIRC\0\0\0"_sv, false},
    {"git-pack-index", 0, "\xFFtOc\0\0\0"_sv, true},  // SHA-1 names: random by nature
    {"git-bundle", 0, "# v2 git bundle\n"_sv, true},  // references, then a pack
    {"git-bundle", 0, "# v3 git bundle\n"_sv, true},
    {"mozlz4", 0, "mozLz40\0"_sv, true},       // Firefox's session and bookmark backups
    {"chrome-extension", 0, "Cr24"_sv, true},  // a header and signatures, then a ZIP
    {"las", 0, "LASF"_sv, true},               // lidar point clouds; .laz compresses the points
    {"e57", 0, "ASTM-E57"_sv, true},
    // Disc, filesystem and virtual-disk images hold whatever files were put in them: a live ISO
    // is mostly a compressed squashfs, a VM disk holds packages, media, a hibernation file or an
    // encrypted volume. Their random blocks are their contents', not evidence.
    {"iso9660", 0x8001, "CD001"_sv, true},
    {"ext-fs-image", 1080, "\x53\xEF"_sv, true, ExtSuperblock},
    {"qcow2", 0, "QFI\xFB"_sv, true},
    {"vmdk", 0, "KDMV"_sv, true},
    {"vhd", 0, "conectix"_sv, true},
    {"vhdx", 0, "vhdxfile"_sv, true},
    {"vdi", 0x40, "\x7F\x10\xDA\xBE"_sv, true},
    // Code and runtime data.
    {"java-class", 0, "\xCA\xFE\xBA\xBE"_sv, false, JavaClassVersion},
    {"mach-o", 0, "\xCA\xFE\xBA\xBE"_sv, false, MachOFat},
    {"mach-o", 0, "\xCF\xFA\xED\xFE"_sv, false},
    {"mach-o", 0, "\xCE\xFA\xED\xFE"_sv, false},
    {"dex", 0, "dex\n0"_sv, false},
    {"wasm", 0, "\0asm\x01\0\0\0"_sv, false},
    {"pyc", 2, "\r\n"_sv, false, PycHeader},
    {"llvm-bitcode", 0, "BC\xC0\xDE"_sv, true},
    {"llvm-bitcode", 0, "\xDE\xC0\x17\x0B"_sv, true},  // bitcode wrapper
    {"jmod", 0, "JM\x01\x00PK"_sv, true},              // a Java module: header + ZIP
    // PKCS#7/CMS in BER with an indefinite length (S/MIME .p7m, signed or enveloped mail).
    {"pkcs7", 0, "\x30\x80\x06\x09\x2A\x86\x48\x86\xF7\x0D\x01\x07"_sv, true},
    {"gnupg-keybox", 8, "KBXf"_sv, false},
    {"lz4-legacy", 0, "\x02\x21\x4C\x18"_sv, true},
    {"snappy-framed", 0, "\xFF\x06\x00\x00sNaPpY"_sv, true},
    {"lzma", 0, "\x5D\x00\x00"_sv, true, LzmaAlone},
    {"wim", 0, "MSWIM\0\0\0"_sv, true},
    {"windows-prefetch", 0, "MAM\x04"_sv, true},
    {"windows-minidump", 0, "MDMP\x93\xA7"_sv, false},
    {"openal-hrtf", 0, "MinPHR0"_sv, false},
    {"gettext-mo", 0, "\xDE\x12\x04\x95"_sv, false},
    {"gettext-mo", 0, "\x95\x04\x12\xDE"_sv, false},
    {"java-keystore", 0, "\xFE\xED\xFE\xED"_sv, false},
    {"tzif", 0, "TZif"_sv, false},
    {"systemd-journal", 0, "LPKSHHRH"_sv, false},
    {"berkeley-db", 12, "\x00\x06\x15\x61"_sv, false},
    {"berkeley-db", 12, "\x61\x15\x06\x00"_sv, false},
    {"berkeley-db", 12, "\x00\x05\x31\x62"_sv, false},
    {"berkeley-db", 12, "\x62\x31\x05\x00"_sv, false},
    {"hdf5", 0, "\x89HDF\r\n\x1a\n"_sv, true},  // chunks compressed by gzip/szip filters
    {"netcdf", 0, "CDF\x01"_sv, false},
    {"netcdf", 0, "CDF\x02"_sv, false},
    {"parquet", 0, "PAR1"_sv, true},
    // Arrays and model weights: floats, or quantized integers that look random.
    {"npy", 0, "\x93NUMPY"_sv, true},
    {"gguf", 0, "GGUF"_sv, true, GgufVersion},
    {"safetensors", 0, ""_sv, true, SafetensorsHeader},
    {"pickle", 0, "\x80"_sv, true, PickleHeader},
    {"onnx", 0, "\x08"_sv, true, OnnxModel},
    {"tflite", 4, "TFL3"_sv, true},
    {"matlab-mat", 0, "MATLAB 5.0 MAT-file"_sv, true},  // v7.3 files are HDF5 after this text
    {"matlab-mat", 0, "MATLAB 7.3 MAT-file"_sv, true},
    {"fits", 0, "SIMPLE  =                    T"_sv, true},
    {"feather", 0, "FEA1"_sv, true},
    {"orc", 0, "ORC"_sv, true},
    {"avro", 0, "Obj\x01"_sv, true},
    {"arrow", 0, "ARROW1"_sv, true},  // IPC buffers compressed by LZ4 or zstd
    {"pcap", 0, "\xD4\xC3\xB2\xA1"_sv, false},
    {"pcap", 0, "\xA1\xB2\xC3\xD4"_sv, false},
    {"pcapng", 0, "\x0A\x0D\x0D\x0A"_sv, false},
    {"windows-registry", 0, "regf"_sv, false},
    {"windows-evtx", 0, "ElfFile\0"_sv, false},
    {"windows-lnk", 0, "\x4C\0\0\0\x01\x14\x02\0"_sv, false},
    {"plist-binary", 0, "bplist00"_sv, false},
    {"xmlb", 0, "XMLb"_sv, false},  // libxmlb silo (AppStream caches): a GUID in its header
    {"ms-access", 4, "Standard Jet DB"_sv, false},
    {"ms-access", 4, "Standard ACE DB"_sv, false},
    {"outlook-pst", 0, "!BDN"_sv, true},  // attachments; "high" (cyclic) encryption
    {"wordperfect", 0, "\xFFWPC"_sv, false},
    {"dwg", 0, "AC10"_sv, true},
    {"blender", 0, "BLENDER"_sv, false},
    {"mobi", 60, "BOOKMOBI"_sv, false},
    // What Macs leave on SMB shares: ._name files (AppleDouble: resource forks and extended
    // attributes, which hold compressed file data and icons) and .DS_Store.
    {"appledouble", 0, "\x00\x05\x16\x07"_sv, true},
    {"applesingle", 0, "\x00\x05\x16\x00"_sv, true},
    {"ds-store", 0, "\x00\x00\x00\x01Bud1"_sv, false},
    // Images, audio and video not covered by a structural validator.
    {"netpbm", 0, "P"_sv, false, NetpbmHeader},
    {"psd", 0, "8BPS\x00\x01"_sv, false},
    {"pcx", 0, "\x0A"_sv, true, PcxHeader},  // RLE of photos is as dense as their pixels
    {"psb", 0, "8BPS\x00\x02"_sv, false},
    {"xcf", 0, "gimp xcf "_sv, true},  // GIMP 2.10 compresses tiles with zlib
    {"icns", 0, "icns"_sv, true},
    {"ico", 0, "\x00\x00\x01\x00"_sv, false, IcoHeader},
    {"cur", 0, "\x00\x00\x02\x00"_sv, false, IcoHeader},
    {"jpeg2000", 0, "\0\0\0\x0CjP  \r\n\x87\n"_sv, true},
    {"jpeg-xl", 0, "\0\0\0\x0CJXL \r\n\x87\n"_sv, true},
    {"jpeg-xl", 0, "\xFF\x0A"_sv, true},
    {"wmf", 0, "\xD7\xCD\xC6\x9A"_sv, false},
    {"emf", 40, " EMF"_sv, false},
    {"icc-profile", 36, "acsp"_sv, false},
    {"eps-binary", 0, "\xC5\xD0\xD3\xC6"_sv, false},
    {"djvu", 0, "AT&TFORM"_sv, true},
    {"chm", 0, "ITSF\x03\0\0\0"_sv, true},
    {"swf", 0, "FWS"_sv, false},
    {"swf", 0, "CWS"_sv, true},
    {"swf", 0, "ZWS"_sv, true},
    {"midi", 0, "MThd\0\0\0\x06"_sv, false},
    {"aiff", 8, "AIFF"_sv, false},
    {"aiff", 8, "AIFC"_sv, true},
    {"au", 0, ".snd"_sv, false},
    {"flv", 0, "FLV\x01"_sv, true},
    {"asf", 0, "\x30\x26\xB2\x75\x8E\x66\xCF\x11"_sv, true},
    {"mpeg-ps", 0, "\x00\x00\x01\xBA"_sv, true},
    {"mpeg-ts", 0, "\x47"_sv, true, MpegTransportStream},
    {"m2ts", 4, "\x47"_sv, true, M2ts},
    {"h264-h265", 0, "\x00\x00\x00\x01"_sv, true, AnnexBVideo},
    {"ivf", 0, "DKIF\x00\x00\x20\x00"_sv, true},
    {"ac3", 0, "\x0B\x77"_sv, true, Ac3Frames},
    {"wavpack", 0, "wvpk"_sv, true, WavPackBlock},
    {"caf", 0, "caff\x00\x01"_sv, true},
    // Sony Wave64: "riff" and "wave" as GUIDs (the first 16 bytes look random by design).
    {"wave64", 0, "riff\x2E\x91\xCF\x11\xA5\xD6\x28\xDB\x04\xC1\x00\x00"_sv, false},
    {"tta", 0, "TTA1"_sv, true},
    {"ape", 0, "MAC \x96\x0F"_sv, true},
    {"ape", 0, "MAC \x8C\x0F"_sv, true},
    {"amr", 0, "#!AMR"_sv, true},
    {"dicom", 128, "DICM"_sv, true},  // medical images, JPEG-compressed pixels or not
    {"raw-photo-orf", 0, "IIRO\x08\x00"_sv, true},
    {"raw-photo-orf", 0, "IIRS\x08\x00"_sv, true},
    {"raw-photo-rw2", 0, "IIU\x00"_sv, true},
    {"raw-photo-raf", 0, "FUJIFILMCCD-RAW"_sv, true},
    {"shapefile", 0, "\x00\x00\x27\x0A"_sv, false},
    {"indesign", 0, "\x06\x06\xED\xF5\xD8\x1D\x46\xE5\xBD\x31\xEF\xE7\xFE\x74\xB7\x1D"_sv, true},
    {"sketchup", 0, "\xFF\xFE\xFF\x0ES\x00k\x00e\x00t\x00c\x00h\x00U\x00p\x00"_sv, true},
    {"pcf-font", 0,
     "\x01"
     "fcp"_sv,
     false},
    {"realmedia", 0, ".RMF"_sv, true},
    // Legitimately encrypted files with a signature.
    {"openssl-enc", 0, "Salted__"_sv, true, nullptr, true},
    {"keepass", 0, "\x03\xD9\xA2\x9A"_sv, true, nullptr, true},
    // Signatures and keys: random by nature.
    {"nss-chk", 0, "\xF1\xC5\x01"_sv, true, NssCheckFile},
    {"ansible-vault", 0, "$ANSIBLE_VAULT;"_sv, false, nullptr, true},
};

class SignatureValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "signature"; }

  bool Matches(std::string_view head, uint64_t file_size) const override {
    return Find(head, file_size) != nullptr;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    auto head = reader.Read(0, 0x8010);
    const Signature* sig = head.ok() ? Find(*head, reader.size()) : nullptr;
    if (sig == nullptr) {
      report.format = "unknown";
      report.integrity = Integrity::kDamaged;
      report.reasons.push_back("signature no longer readable");
      return report;
    }
    report.format = std::string(sig->format);
    report.high_entropy_body = sig->high_entropy_body;
    report.structure_checked = false;
    if (sig->encrypted_container) report.integrity = Integrity::kEncryptedContainer;
    report.reasons.push_back(std::string(sig->format) +
                             " recognised by its signature (structure not checked)");
    return report;
  }

 private:
  static const Signature* Find(std::string_view head, uint64_t file_size) {
    for (const Signature& sig : kSignatures) {
      if (HasAt(head, sig.offset, sig.magic) &&
          (sig.check == nullptr || sig.check(head, file_size))) {
        return &sig;
      }
    }
    return nullptr;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeZlibStreamValidator();  // zlib_stream.cc

void RegisterSignatureFormats(ValidatorList& out) {
  out.push_back(std::make_unique<SignatureValidator>());
  out.push_back(MakeZlibStreamValidator());
}

}  // namespace steen::content
