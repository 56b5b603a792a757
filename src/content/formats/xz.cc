// xz validator: stream header (flags CRC32), first block header CRC32, a liblzma decode probe of
// the first limits::kMaxInflateProbe bytes, the stream footer at the end of the file (after
// optional zero stream padding: CRC32, backward size, 'YZ'), the index it points to (CRC32,
// records), and block headers at the positions the index gives (spread over the file, CRC32 each).
#include <lzma.h>

#include <algorithm>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kMagic(
    "\xFD"
    "7zXZ\x00",
    6);
constexpr uint64_t kProbeMemLimit = 256 * limits::MiB;  // liblzma memlimit for the decode probe
constexpr std::size_t kMaxIndexRead = 1 * limits::MiB;
constexpr int kMaxBlockHeadersChecked = 16;

// Decodes a variable-length integer (xz VLI); returns false when malformed or out of bytes.
bool ReadVli(std::string_view bytes, std::size_t& pos, uint64_t& value) {
  value = 0;
  for (int i = 0; i < 9; ++i) {
    auto b = ByteAt(bytes, pos++);
    if (!b) return false;
    value |= static_cast<uint64_t>(*b & 0x7F) << (7 * i);
    if ((*b & 0x80) == 0) return i == 0 || *b != 0;
  }
  return false;
}

// Checks the block header at the start of `bytes`: size byte and CRC32.
bool BlockHeaderOk(std::string_view bytes) {
  auto size_byte = ByteAt(bytes, 0);
  if (!size_byte || *size_byte == 0) return false;
  std::size_t header_size = (std::size_t{*size_byte} + 1) * 4;
  auto crc = LoadLE<uint32_t>(bytes, header_size - 4);
  return crc && Crc32(bytes.substr(0, header_size - 4)) == *crc;
}

class XzValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "xz"; }

  bool Matches(std::string_view head, uint64_t) const override { return StartsWith(head, kMagic); }

  // --verify: the streams decoded whole; liblzma checks every block against its integrity check
  // (CRC32, CRC64 or SHA-256) and the index against the blocks.
  void VerifyWhole(Reader& reader, FormatReport& report) const override {
    VerifyWholeWith(reader, report, DecodeWhole);
  }

  static WholeDecode DecodeWhole(Reader& reader, uint64_t end) {
    using Outcome = WholeDecode::Outcome;
    lzma_stream stream = LZMA_STREAM_INIT;
    if (lzma_stream_decoder(&stream, kProbeMemLimit, LZMA_CONCATENATED) != LZMA_OK) return {};
    DeepChunks chunks(reader, end);
    std::vector<uint8_t> out(256 * 1024);
    uint64_t decoded = 0;
    bool input_done = false;
    WholeDecode result;
    for (;;) {
      if (stream.avail_in == 0 && !input_done) {
        std::string_view chunk;
        if (chunks.Next(&chunk)) {
          stream.next_in = reinterpret_cast<const uint8_t*>(chunk.data());
          stream.avail_in = chunk.size();
        } else if (!reader.status().ok()) {
          break;  // the analyzer reports the read error
        } else {
          input_done = true;
        }
      }
      stream.next_out = out.data();
      stream.avail_out = out.size();
      const lzma_ret rc = lzma_code(&stream, input_done ? LZMA_FINISH : LZMA_RUN);
      decoded += out.size() - stream.avail_out;
      const uint64_t at = stream.total_in;
      if (rc == LZMA_STREAM_END) {
        result = {Outcome::kMatches, 0, "xz: decoded whole, its integrity checks match"};
        break;
      }
      if (rc == LZMA_DATA_ERROR || rc == LZMA_FORMAT_ERROR) {
        result = {Outcome::kDamaged, at,
                  "xz: compressed data or its integrity check invalid near " + Hex(at)};
        break;
      }
      if (rc == LZMA_BUF_ERROR) {
        result = {Outcome::kTruncated, at, "xz: stream ends early"};
        break;
      }
      if (rc != LZMA_OK) {  // memory limit, an unknown filter: not damage
        result = {
            Outcome::kUnchecked, 0,
            "xz: not decoded whole (liblzma error " + std::to_string(static_cast<int>(rc)) + ")"};
        break;
      }
      if (decoded > limits::kMaxDeepDecodedBytes) {
        result = DecodedPastLimit("xz");
        break;
      }
    }
    lzma_end(&stream);
    return result;
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "xz";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto window_or = reader.Read(0, std::min<uint64_t>(size, limits::kMaxInflateProbe));
    if (!window_or) return report;
    const std::string_view window = *window_or;
    const bool window_is_file = window.size() == size;

    // ---- Stream header and first block header ---------------------------------------------------
    if (window.size() < 12) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("xz: file ends inside the stream header");
      return report;
    }
    const std::string_view flags = window.substr(6, 2);
    if (Crc32(flags) != *LoadLE<uint32_t>(window, 8) || flags[0] != 0 ||
        (static_cast<uint8_t>(flags[1]) & 0xF0) != 0) {
      MarkDamaged(report, "xz: stream header CRC32 mismatch", 6, size);
      return report;
    }
    if (window.size() > 12 && window[12] != 0 &&
        window.size() >= 12 + (std::size_t{static_cast<uint8_t>(window[12])} + 1) * 4 &&
        !BlockHeaderOk(window.substr(12))) {
      MarkDamaged(report, "xz: block header CRC32 mismatch at 0xc", 12, size);
      return report;
    }

    // ---- Decode probe
    // -----------------------------------------------------------------------------
    // Streams one by one (not LZMA_CONCATENATED): bytes appended after the last stream are the
    // analyzer's to judge, not a decode error.
    std::vector<uint8_t> out(64 * 1024);
    uint64_t produced = 0;
    lzma_ret rc = LZMA_OK;
    std::size_t at = 0;
    uint64_t error_at = 0;
    for (int streams = 0; streams < limits::kMaxChunksWalked && at < window.size(); ++streams) {
      lzma_stream stream = LZMA_STREAM_INIT;
      if (lzma_stream_decoder(&stream, kProbeMemLimit, 0) != LZMA_OK) return report;
      stream.next_in = reinterpret_cast<const uint8_t*>(window.data() + at);
      stream.avail_in = window.size() - at;
      while (produced < limits::kMaxDecodedProbe) {
        stream.next_out = out.data();
        stream.avail_out = out.size();
        rc = lzma_code(&stream, stream.avail_in == 0 && window_is_file ? LZMA_FINISH : LZMA_RUN);
        produced += out.size() - stream.avail_out;
        if (rc != LZMA_OK) break;
        if (stream.avail_in == 0 && stream.avail_out != 0 && !window_is_file) break;
      }
      const std::size_t consumed = window.size() - at - stream.avail_in;
      lzma_end(&stream);
      error_at = at + consumed;
      if (rc != LZMA_STREAM_END) break;
      at += consumed;
      while (at + 4 <= window.size() && window.substr(at, 4) == std::string_view("\0\0\0\0", 4)) {
        at += 4;  // stream padding
      }
      if (!HasAt(window, at, kMagic)) break;  // end of file, or trailing bytes
    }
    if (rc == LZMA_DATA_ERROR || rc == LZMA_FORMAT_ERROR) {
      MarkDamaged(report, "xz: compressed data invalid near " + Hex(error_at), 12, size);
      return report;
    }
    if (rc == LZMA_OPTIONS_ERROR) {
      // Header CRCs matched, so this is a filter liblzma does not know, not damage.
      report.reasons.push_back("xz: filter not supported by liblzma; data not probed");
    }
    if (rc == LZMA_BUF_ERROR && window_is_file) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("xz: stream ends early (file truncated)");
      return report;
    }
    if (rc == LZMA_MEMLIMIT_ERROR || rc == LZMA_MEM_ERROR) {
      report.reasons.push_back("xz: dictionary too large to probe");
    }

    // ---- Footer, index, block headers
    // -------------------------------------------------------------
    CheckFooterAndIndex(reader, report, window.substr(6, 2));
    return report;
  }

 private:
  static void CheckFooterAndIndex(BoundedReader& reader, FormatReport& report,
                                  std::string_view header_flags) {
    const uint64_t size = reader.size();
    const uint64_t tail_len = std::min<uint64_t>(size, limits::kTailBytes);
    auto tail = reader.Read(size - tail_len, tail_len);
    if (!tail) return;
    // Normally the footer ends the file, after optional zero stream padding (a multiple of 4).
    // Failing that, look back through the tail for a footer whose CRC32 matches: bytes appended
    // after it are then the analyzer's to judge (structure_end marks where they start).
    std::size_t zeros = 0;
    while (zeros < tail->size() && (*tail)[tail->size() - 1 - zeros] == 0) ++zeros;
    const std::size_t padding = zeros & ~std::size_t{3};
    auto footer_ok = [&](std::size_t f) {
      std::string_view candidate = tail->substr(f, 12);
      return HasAt(candidate, 10, "YZ") &&
             Crc32(candidate.substr(4, 6)) == *LoadLE<uint32_t>(candidate, 0);
    };
    std::optional<std::size_t> found;
    if (tail->size() >= padding + 12 && footer_ok(tail->size() - padding - 12)) {
      found = tail->size() - padding - 12;
    } else {
      for (std::size_t f = tail->size() >= 12 ? tail->size() - 12 : 0; f-- > 0;) {
        if (HasAt(*tail, f + 10, "YZ") && footer_ok(f)) {
          found = f;
          break;
        }
      }
    }
    if (!found) {
      MarkDamaged(report,
                  "xz: stream footer missing at the end of the file (tail overwritten or "
                  "file truncated)",
                  size, size);
      return;
    }
    const std::size_t f = *found;
    const uint64_t footer_pos = size - tail_len + f;
    std::string_view footer = tail->substr(f, 12);
    const bool at_end = f + 12 + padding == tail->size();
    if (!at_end) {
      report.structure_end = footer_pos + 12;
      report.reasons.push_back("xz: trailing bytes after the stream footer at " +
                               Hex(footer_pos + 12));
    }
    if (at_end) report.structure_end = size;
    const uint64_t index_size = (uint64_t{*LoadLE<uint32_t>(footer, 4)} + 1) * 4;
    if (index_size + 12 > footer_pos) {
      MarkDamaged(report, "xz: stream footer backward size points before the file start",
                  footer_pos, size);
      return;
    }
    const uint64_t index_pos = footer_pos - index_size;
    if (index_size > kMaxIndexRead) {
      report.reasons.push_back("xz: index too large to check");
      return;
    }
    auto index = reader.Read(index_pos, index_size);
    if (!index) return;
    if (index->empty() || (*index)[0] != 0 ||
        Crc32(index->substr(0, index->size() - 4)) !=
            *LoadLE<uint32_t>(*index, index->size() - 4)) {
      MarkDamaged(report, "xz: index at " + Hex(index_pos) + ": CRC32 mismatch", index_pos, size);
      return;
    }
    std::size_t at = 1;
    uint64_t records = 0;
    if (!ReadVli(*index, at, records) || records > index->size()) {
      MarkDamaged(report, "xz: index at " + Hex(index_pos) + ": malformed", index_pos, size);
      return;
    }
    std::vector<uint64_t> block_offsets;  // relative to the first block
    uint64_t blocks_bytes = 0;
    for (uint64_t r = 0; r < records; ++r) {
      uint64_t unpadded = 0, uncompressed = 0;
      if (!ReadVli(*index, at, unpadded) || !ReadVli(*index, at, uncompressed) || unpadded > size) {
        MarkDamaged(report, "xz: index at " + Hex(index_pos) + ": malformed record", index_pos,
                    size);
        return;
      }
      if (block_offsets.size() < static_cast<std::size_t>(limits::kMaxChunksWalked)) {
        block_offsets.push_back(blocks_bytes);
      }
      blocks_bytes += (unpadded + 3) & ~uint64_t{3};
    }
    if (blocks_bytes + 12 > index_pos) {
      MarkDamaged(report, "xz: index describes more data than the file holds", index_pos, size);
      return;
    }
    const uint64_t stream_start = index_pos - blocks_bytes - 12;
    auto stream_header = reader.Read(stream_start, 12);
    if (!stream_header || !StartsWith(*stream_header, kMagic) ||
        (stream_start == 0 && stream_header->substr(6, 2) != footer.substr(8, 2))) {
      if (!stream_header) return;
      MarkDamaged(report, "xz: index and footer do not match the stream layout", index_pos, size);
      return;
    }
    (void)header_flags;
    // Block headers at the positions the index gives, spread over the file.
    const std::size_t n = block_offsets.size();
    const std::size_t checks = std::min<std::size_t>(n, kMaxBlockHeadersChecked);
    for (std::size_t k = 0; k < checks; ++k) {
      const std::size_t i = checks == n ? k : k * (n - 1) / (checks - 1);
      const uint64_t block_pos = stream_start + 12 + block_offsets[i];
      auto first = reader.Read(block_pos, 1);
      if (!first || first->empty()) return;
      auto header =
          reader.Read(block_pos, (std::size_t{static_cast<uint8_t>((*first)[0])} + 1) * 4);
      if (!header) return;
      if (!BlockHeaderOk(*header)) {
        MarkDamaged(report, "xz: block header CRC32 mismatch at " + Hex(block_pos), block_pos,
                    size);
        return;
      }
    }
    report.reasons.push_back("xz: footer, index (" + std::to_string(records) + " blocks) and " +
                             std::to_string(checks) + " block headers check");
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeXzValidator() { return std::make_unique<XzValidator>(); }

}  // namespace steen::content::archive
