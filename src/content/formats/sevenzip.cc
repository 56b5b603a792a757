// 7z validator: signature header (start header CRC32; next header offset/size/CRC32 => the next
// header must lie in the file and match its CRC), the header itself (plain, or LZMA-encoded and
// decoded here, bounded), AES coders (=> encrypted container) and a decode probe of the first
// packed stream when its coder is LZMA, LZMA2 or deflate.
#include <lzma.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kSignature("7z\xBC\xAF\x27\x1C", 6);
constexpr std::size_t kMaxHeaderRead = 1 * limits::MiB;  // next header read and CRC-checked
constexpr uint64_t kMaxDecodedHeader = 4 * limits::MiB;  // decoded (encoded) header size cap
constexpr uint64_t kProbeMemLimit = 256 * limits::MiB;
constexpr std::string_view kAesId("\x06\xF1\x07\x01", 4);
constexpr std::string_view kLzmaId("\x03\x01\x01", 3);
constexpr std::string_view kLzma2Id("\x21", 1);
constexpr std::string_view kDeflateId("\x04\x01\x08", 3);

struct Coder {
  std::string_view id;
  std::string_view props;
};

struct Folder {
  std::vector<Coder> coders;
  uint64_t packed_streams = 0;
  uint64_t unpack_size = 0;  // of the folder's final output (largest of its sizes: good enough)
};

struct StreamsInfo {
  uint64_t pack_pos = 0;
  std::vector<uint64_t> pack_sizes;
  std::vector<Folder> folders;
};

// Parser over one header buffer; every read is bounds-checked and every count capped.
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view bytes) : bytes_(bytes) {}
  bool Number(uint64_t& value) {
    auto first = ByteAt(bytes_, pos_++);
    if (!first) return false;
    value = 0;
    uint8_t mask = 0x80;
    for (int i = 0; i < 8; ++i) {
      if ((*first & mask) == 0) {
        value |= uint64_t{static_cast<uint8_t>(*first & (mask - 1))} << (8 * i);
        return true;
      }
      auto b = ByteAt(bytes_, pos_++);
      if (!b) return false;
      value |= uint64_t{*b} << (8 * i);
      mask >>= 1;
    }
    return true;
  }
  bool Skip(uint64_t n) {
    if (n > bytes_.size() - std::min(pos_, bytes_.size())) return false;
    pos_ += n;
    return true;
  }
  bool Bytes(uint64_t n, std::string_view& out) {
    if (pos_ > bytes_.size() || n > bytes_.size() - pos_) return false;
    out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool Count(uint64_t& n) { return Number(n) && n <= bytes_.size(); }  // counts need bytes

  bool Digests(uint64_t count) {
    auto all = ByteAt(bytes_, pos_++);
    if (!all) return false;
    uint64_t defined = count;
    if (*all == 0) {
      defined = 0;
      for (uint64_t i = 0; i < count; ++i) {
        auto b = ByteAt(bytes_, pos_ + i / 8);
        if (!b) return false;
        if (*b & (0x80 >> (i % 8))) ++defined;
      }
      pos_ += (count + 7) / 8;
    }
    return Skip(defined * 4);
  }

  bool Streams(StreamsInfo& info) {
    for (int guard = 0; guard < 16; ++guard) {
      uint64_t id = 0;
      if (!Number(id)) return false;
      if (id == 0x00) return true;
      if (id == 0x06) {  // PackInfo
        uint64_t n = 0;
        if (!Number(info.pack_pos) || !Count(n)) return false;
        for (int g = 0; g < 8; ++g) {
          uint64_t sub = 0;
          if (!Number(sub)) return false;
          if (sub == 0x00) break;
          if (sub == 0x09) {
            for (uint64_t i = 0; i < n; ++i) {
              uint64_t s = 0;
              if (!Number(s)) return false;
              info.pack_sizes.push_back(s);
            }
          } else if (sub == 0x0A) {
            if (!Digests(n)) return false;
          } else {
            return false;
          }
        }
      } else if (id == 0x07) {  // UnpackInfo
        uint64_t folder_id = 0, n = 0;
        if (!Number(folder_id) || folder_id != 0x0B || !Count(n)) return false;
        auto external = ByteAt(bytes_, pos_++);
        if (!external || *external != 0) return false;
        std::vector<uint64_t> outputs;
        for (uint64_t f = 0; f < n; ++f) {
          Folder folder;
          uint64_t coders = 0, total_in = 0, total_out = 0;
          if (!Count(coders) || coders == 0 || coders > 64) return false;
          for (uint64_t c = 0; c < coders; ++c) {
            auto flags = ByteAt(bytes_, pos_++);
            Coder coder;
            if (!flags || !Bytes(*flags & 0x0F, coder.id)) return false;
            uint64_t in = 1, out = 1;
            if (*flags & 0x10) {
              if (!Count(in) || !Count(out)) return false;
            }
            total_in += in;
            total_out += out;
            if (*flags & 0x20) {
              uint64_t props = 0;
              if (!Number(props) || !Bytes(props, coder.props)) return false;
            }
            folder.coders.push_back(coder);
          }
          if (total_out == 0 || total_in + 1 < total_out) return false;
          for (uint64_t b = 0; b + 1 < total_out; ++b) {
            uint64_t x = 0;
            if (!Number(x) || !Number(x)) return false;
          }
          folder.packed_streams = total_in - (total_out - 1);
          if (folder.packed_streams > 1) {
            for (uint64_t p = 0; p < folder.packed_streams; ++p) {
              uint64_t x = 0;
              if (!Number(x)) return false;
            }
          }
          outputs.push_back(total_out);
          info.folders.push_back(folder);
        }
        uint64_t sizes_id = 0;
        if (!Number(sizes_id) || sizes_id != 0x0C) return false;
        for (std::size_t f = 0; f < info.folders.size(); ++f) {
          for (uint64_t o = 0; o < outputs[f]; ++o) {
            uint64_t s = 0;
            if (!Number(s)) return false;
            info.folders[f].unpack_size = std::max(info.folders[f].unpack_size, s);
          }
        }
        for (int g = 0; g < 8; ++g) {
          uint64_t sub = 0;
          if (!Number(sub)) return false;
          if (sub == 0x00) break;
          if (sub != 0x0A || !Digests(info.folders.size())) return false;
        }
      } else {
        return true;  // SubStreamsInfo and later: not needed
      }
    }
    return true;
  }

  // Plain header: skips archive properties and additional streams, parses the main streams info.
  bool MainStreams(StreamsInfo& info) {
    uint64_t id = 0;
    if (!Number(id) || id != 0x01) return false;
    if (!Number(id)) return false;
    if (id == 0x02) {  // ArchiveProperties
      for (int g = 0; g < 64; ++g) {
        uint64_t type = 0, size = 0;
        if (!Number(type)) return false;
        if (type == 0) break;
        if (!Number(size) || !Skip(size)) return false;
      }
      if (!Number(id)) return false;
    }
    if (id == 0x03) {
      StreamsInfo additional;
      if (!Streams(additional) || !Number(id)) return false;
    }
    if (id == 0x04) return Streams(info);
    return true;  // no main streams: an archive of empty files / directories
  }

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

bool HasAes(const StreamsInfo& info) {
  for (const Folder& f : info.folders) {
    for (const Coder& c : f.coders) {
      if (c.id == kAesId) return true;
    }
  }
  return false;
}

enum class Decoded { kOk, kError, kUnsupported };

// Decodes LZMA/LZMA2 `input` with the coder's properties into `out` (at most max_out bytes).
Decoded LzmaDecode(const Coder& coder, std::string_view input, uint64_t max_out, std::string* out) {
  lzma_filter filters[2] = {};
  filters[0].id = coder.id == kLzmaId ? LZMA_FILTER_LZMA1 : LZMA_FILTER_LZMA2;
  filters[1].id = LZMA_VLI_UNKNOWN;
  if (lzma_properties_decode(&filters[0], nullptr,
                             reinterpret_cast<const uint8_t*>(coder.props.data()),
                             coder.props.size()) != LZMA_OK) {
    return Decoded::kError;
  }
  // lzma_raw_decoder has no memlimit: refuse dictionaries a hostile header inflates.
  const uint64_t dict = static_cast<lzma_options_lzma*>(filters[0].options)->dict_size;
  if (dict > kProbeMemLimit) {
    free(filters[0].options);
    return Decoded::kUnsupported;
  }
  lzma_stream stream = LZMA_STREAM_INIT;
  lzma_ret rc = lzma_raw_decoder(&stream, filters);
  free(filters[0].options);
  if (rc != LZMA_OK)
    return rc == LZMA_MEMLIMIT_ERROR || rc == LZMA_MEM_ERROR ? Decoded::kUnsupported
                                                             : Decoded::kError;
  out->clear();
  std::string buffer(64 * 1024, '\0');
  stream.next_in = reinterpret_cast<const uint8_t*>(input.data());
  stream.avail_in = input.size();
  Decoded result = Decoded::kOk;
  while (out->size() < max_out) {
    stream.next_out = reinterpret_cast<uint8_t*>(buffer.data());
    stream.avail_out = std::min<uint64_t>(buffer.size(), max_out - out->size());
    rc = lzma_code(&stream, LZMA_RUN);
    out->append(buffer.data(), reinterpret_cast<char*>(stream.next_out) - buffer.data());
    if (rc == LZMA_STREAM_END) break;
    if (rc != LZMA_OK) {
      result = rc == LZMA_MEM_ERROR ? Decoded::kUnsupported : Decoded::kError;
      break;
    }
    if (stream.avail_in == 0 && stream.avail_out != 0) break;
  }
  lzma_end(&stream);
  return result;
}

class SevenZipValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "7z"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, kSignature);
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "7z";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto start = reader.Read(0, 32);
    if (!start) return report;
    if (start->size() < 32) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("7z: file ends inside the signature header");
      return report;
    }
    const std::string_view start_header = start->substr(12, 20);
    if (start_header.find_first_not_of('\0') == std::string_view::npos &&
        *LoadLE<uint32_t>(*start, 8) == 0) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("7z: start header never written (archive incomplete)");
      return report;
    }
    if (Crc32(start_header) != *LoadLE<uint32_t>(*start, 8)) {
      MarkDamaged(report, "7z: start header CRC32 mismatch", 8, size);
      return report;
    }
    const uint64_t next_offset = *LoadLE<uint64_t>(start_header, 0);
    const uint64_t next_size = *LoadLE<uint64_t>(start_header, 8);
    const uint32_t next_crc = *LoadLE<uint32_t>(start_header, 16);
    if (next_offset > size || next_size > size || 32 + next_offset + next_size > size) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("7z: next header at " + Hex(32 + next_offset) +
                               " lies beyond the end of the file (truncated)");
      return report;
    }
    const uint64_t header_pos = 32 + next_offset;
    report.structure_end = header_pos + next_size;
    if (next_size == 0) {
      report.reasons.push_back("7z: empty archive");
      return report;
    }
    if (next_size > kMaxHeaderRead) {
      report.reasons.push_back("7z: header too large to check");
      return report;
    }
    auto header = reader.Read(header_pos, next_size);
    if (!header) return report;
    if (Crc32(*header) != next_crc) {
      MarkDamaged(report, "7z: next header at " + Hex(header_pos) + ": CRC32 mismatch", header_pos,
                  size);
      return report;
    }
    const uint8_t kind = static_cast<uint8_t>((*header)[0]);
    std::string decoded;
    StreamsInfo main;
    if (kind == 0x17) {  // encoded header: its own streams info says how to decode it
      HeaderParser parser(header->substr(1));
      StreamsInfo encoded;
      if (!parser.Streams(encoded) || encoded.folders.empty() || encoded.pack_sizes.empty()) {
        report.reasons.push_back("7z: encoded header not understood");
        return report;
      }
      if (HasAes(encoded)) {
        report.integrity = Integrity::kEncryptedContainer;
        report.reasons.push_back("7z: headers encrypted (AES)");
        return report;
      }
      const Folder& folder = encoded.folders[0];
      if (folder.coders.size() != 1 ||
          (folder.coders[0].id != kLzmaId && folder.coders[0].id != kLzma2Id)) {
        report.reasons.push_back("7z: header coder not probed");
        return report;
      }
      const uint64_t pack_pos = 32 + encoded.pack_pos;
      const uint64_t pack_size = encoded.pack_sizes[0];
      if (pack_pos > size || pack_size > kMaxHeaderRead || pack_pos + pack_size > size) {
        MarkDamaged(report, "7z: encoded header's packed stream lies outside the file", header_pos,
                    size);
        return report;
      }
      auto packed = reader.Read(pack_pos, pack_size);
      if (!packed) return report;
      Decoded d = LzmaDecode(folder.coders[0], *packed,
                             std::min(folder.unpack_size, kMaxDecodedHeader), &decoded);
      if (d == Decoded::kError || (d == Decoded::kOk && decoded.size() != folder.unpack_size &&
                                   folder.unpack_size <= kMaxDecodedHeader)) {
        MarkDamaged(report, "7z: encoded header at " + Hex(pack_pos) + " does not decode", pack_pos,
                    size);
        return report;
      }
      if (d != Decoded::kOk || decoded.size() != folder.unpack_size) {
        report.reasons.push_back("7z: encoded header not decoded (too large)");
        return report;
      }
      HeaderParser plain(decoded);
      if (!plain.MainStreams(main)) {
        report.reasons.push_back("7z: decoded header not understood");
        return report;
      }
    } else if (kind == 0x01) {
      HeaderParser plain(*header);
      if (!plain.MainStreams(main)) {
        report.reasons.push_back("7z: header not understood");
        return report;
      }
    } else {
      MarkDamaged(report, "7z: next header at " + Hex(header_pos) + ": unknown type", header_pos,
                  size);
      return report;
    }
    if (HasAes(main)) {
      report.integrity = Integrity::kEncryptedContainer;
      report.reasons.push_back("7z: entries encrypted (AES)");
      return report;
    }
    ProbeFirstFolder(reader, main, report);
    return report;
  }

 private:
  static void ProbeFirstFolder(BoundedReader& reader, const StreamsInfo& main,
                               FormatReport& report) {
    if (main.folders.empty() || main.pack_sizes.empty()) return;
    const Folder& folder = main.folders[0];
    if (folder.packed_streams != 1) return;  // BCJ2 and friends: not probed
    const Coder* codec = nullptr;
    for (const Coder& c : folder.coders) {
      if (c.id == kLzmaId || c.id == kLzma2Id || c.id == kDeflateId) {
        if (codec != nullptr) return;  // two compressors chained: unusual, skip
        codec = &c;
      }
    }
    if (codec == nullptr) return;
    const uint64_t size = reader.size();
    const uint64_t pos = 32 + main.pack_pos;
    const uint64_t want = std::min<uint64_t>(main.pack_sizes[0], limits::kMaxPartProbe);
    if (pos > size || want > size - pos) {
      MarkDamaged(report, "7z: first packed stream lies outside the file", pos, size);
      return;
    }
    auto packed = reader.Read(pos, want);
    if (!packed) return;
    bool bad = false;
    if (codec->id == kDeflateId) {
      bad = InflateProbe(*packed, -15, limits::kMaxPartDecoded).outcome == ProbeOutcome::kError;
    } else {
      std::string out;
      bad = LzmaDecode(*codec, *packed, limits::kMaxPartDecoded, &out) == Decoded::kError;
    }
    if (bad) {
      MarkDamaged(report, "7z: packed stream at " + Hex(pos) + " does not decode", pos, size);
      return;
    }
    report.reasons.push_back("7z: header CRC and first packed stream decode");
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeSevenZipValidator() {
  return std::make_unique<SevenZipValidator>();
}

}  // namespace steen::content::archive
