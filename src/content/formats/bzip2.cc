// bzip2 validator: stream header, then a structural decode of every block inside the probe window
// (limits::kMaxBzip2Probe; small files whole), without the inverse Burrows-Wheeler transform.
//
// Why not libbz2: it must decode a whole block (up to 900 kB of output, inverse BWT included)
// before it can say anything, which cost a quarter of a default scan's CPU time on a corpus with a
// few hundred small .bz2 files. The checks that catch ciphertext are all before the BWT: block
// magic, symbol map, group count, selectors, code lengths 1..20, a complete Huffman code, every
// symbol decodable, run lengths and the block size within the level's bound, origPtr inside the
// block, the end-of-block symbol in the last selector group, the next block magic or end-of-stream
// magic right after, and the stream CRC equal to the combination of the stored block CRCs.
// Ciphertext anywhere inside a block shifts the end-of-block symbol, so the next magic (48 bits)
// is not found; what is given up is the per-block CRC over the decoded bytes (libbz2 never reached
// it either for blocks decoding to more than limits::kMaxDecodedProbe bytes).
// Concatenated streams (pbzip2, lbzip2 output) are followed inside the window.
#include <bzlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kBlockMagic("\x31\x41\x59\x26\x53\x59", 6);
constexpr std::string_view kEndMagic("\x17\x72\x45\x38\x50\x90", 6);
constexpr uint64_t kBlockMagicBits = 0x314159265359ULL;
constexpr uint64_t kEndMagicBits = 0x177245385090ULL;

constexpr int kMaxGroups = 6;
constexpr int kMaxAlphaSize = 258;
constexpr int kMaxCodeLen = 20;
constexpr int kGroupSize = 50;
constexpr int kMaxSelectors = 18002;  // libbz2 1.0.8: selectors beyond are read and ignored
// Blocks of fewer symbols (50 per selector) decode faster than a lookup table is filled.
constexpr int kFastTableMinSelectors = 40;

bool StreamHeaderAt(std::string_view bytes, std::size_t pos) {
  auto level = ByteAt(bytes, pos + 3);
  return HasAt(bytes, pos, "BZh") && level && *level >= '1' && *level <= '9' &&
         (HasAt(bytes, pos + 4, kBlockMagic) || HasAt(bytes, pos + 4, kEndMagic));
}

// MSB-first bit reader over a span; reading past the end sets ended() and returns 0.
class BitReader {
 public:
  explicit BitReader(std::string_view bytes)
      : p_(reinterpret_cast<const unsigned char*>(bytes.data())), size_(bytes.size()) {}

  uint32_t Get(int n) {  // n <= 32
    if (count_ < n) Refill();
    if (count_ < n) {
      ended_ = true;
      count_ = 0;
      return 0;
    }
    count_ -= n;
    return static_cast<uint32_t>((buffer_ >> count_) & ((uint64_t{1} << n) - 1));
  }
  uint32_t Bit() { return Get(1); }
  // The next kMaxCodeLen (20) bits without consuming them, zeros past the end: a Huffman code's
  // length is then found by comparisons, not by reading one bit at a time.
  uint32_t Peek20() {
    if (count_ < 20) Refill();
    if (count_ >= 20) return static_cast<uint32_t>(buffer_ >> (count_ - 20)) & 0xFFFFFu;
    return static_cast<uint32_t>(buffer_ << (20 - count_)) & 0xFFFFFu;
  }
  void Skip(int n) {  // after Peek20, so the bits are buffered when they exist
    if (count_ < n) {
      ended_ = true;
      count_ = 0;
      return;
    }
    count_ -= n;
  }
  bool ended() const { return ended_; }
  // Bytes consumed, counting a partly used byte as consumed (the stream pads to a byte).
  std::size_t ConsumedBytes() const { return pos_ - static_cast<std::size_t>(count_ / 8); }

 private:
  void Refill() {
    while (count_ <= 56 && pos_ < size_) {
      buffer_ = (buffer_ << 8) | p_[pos_++];
      count_ += 8;
    }
  }
  const unsigned char* p_;
  std::size_t size_;
  std::size_t pos_ = 0;
  uint64_t buffer_ = 0;
  int count_ = 0;
  bool ended_ = false;
};

// Canonical Huffman decode tables of one group, built exactly as libbz2's hbCreateDecodeTables.
struct DecodeTable {
  std::array<int32_t, 23> limit{};
  std::array<int32_t, 23> base{};
  std::array<int32_t, kMaxAlphaSize> perm{};
  // Codes of up to kFastBits bits by their first kFastBits bits: (length << 9) | symbol, 0 for
  // longer or undecodable codes (decoded by comparisons). Most symbols take one lookup.
  static constexpr int kFastBits = 10;
  std::array<uint16_t, 1 << kFastBits> fast{};
  int symbols = 0;
  int min_len = 0;

  // `with_fast`: fill the lookup table too (worth it only for blocks of thousands of symbols).
  void Build(const uint8_t* length, int alpha_size, bool with_fast) {
    int lo = 32;
    int hi = 0;
    for (int i = 0; i < alpha_size; ++i) {
      lo = std::min<int>(lo, length[i]);
      hi = std::max<int>(hi, length[i]);
    }
    min_len = lo;
    int pp = 0;
    for (int len = lo; len <= hi; ++len) {
      for (int j = 0; j < alpha_size; ++j) {
        if (length[j] == len) perm[pp++] = j;
      }
    }
    symbols = pp;
    base.fill(0);
    for (int i = 0; i < alpha_size; ++i) ++base[length[i] + 1];
    for (std::size_t i = 1; i < base.size(); ++i) base[i] += base[i - 1];
    limit.fill(0);
    int32_t vec = 0;
    for (int i = lo; i <= hi; ++i) {
      vec += base[i + 1] - base[i];
      limit[i] = vec - 1;
      vec <<= 1;
    }
    for (int i = lo + 1; i <= hi; ++i) base[i] = ((limit[i - 1] + 1) << 1) - base[i];
    // The same search as the decoder's, for every kFastBits-bit prefix.
    for (uint32_t prefix = 0; with_fast && prefix < fast.size(); ++prefix) {
      const uint32_t peek = prefix << (kMaxCodeLen - kFastBits);
      int len = min_len;
      int32_t code = static_cast<int32_t>(peek >> (kMaxCodeLen - len));
      while (len <= kFastBits && code > limit[len]) {
        ++len;
        code = static_cast<int32_t>(peek >> (kMaxCodeLen - len));
      }
      const int32_t index = code - base[len];
      fast[prefix] = len <= kFastBits && index >= 0 && index < symbols
                         ? static_cast<uint16_t>((len << 9) | perm[index])
                         : 0;
    }
  }
};

enum class Parse { kStreamEnd, kInputEnded, kError };

struct StreamParse {
  Parse outcome = Parse::kError;
  std::size_t consumed = 0;  // bytes of the stream, padding included (exact at kStreamEnd)
  int blocks = 0;
  std::string error;
};

// Checks one block after its magic. Returns kStreamEnd when the block is complete (the caller
// reads the next magic), kInputEnded, or kError with a message.
Parse CheckBlock(BitReader& in, int level, std::string* error) {
  auto fail = [&](std::string message) {
    *error = std::move(message);
    return Parse::kError;
  };
  in.Get(32);  // block CRC: read by the caller's stream CRC check (peeked before)
  in.Get(1);   // randomised (deprecated, still decodable)
  const uint32_t orig_ptr = in.Get(24);
  const uint32_t in_use16 = in.Get(16);
  int in_use = 0;
  for (int i = 0; i < 16; ++i) {
    if (in_use16 & (0x8000u >> i)) in_use += std::popcount(in.Get(16));
  }
  if (in.ended()) return Parse::kInputEnded;
  if (in_use == 0) return fail("no byte value in use");
  const int alpha_size = in_use + 2;
  const int groups = static_cast<int>(in.Get(3));
  const int selectors_written = static_cast<int>(in.Get(15));
  if (in.ended()) return Parse::kInputEnded;
  if (groups < 2 || groups > kMaxGroups) return fail("bad Huffman group count");
  if (selectors_written < 1) return fail("no selectors");
  std::vector<uint8_t> selectors(std::min(selectors_written, kMaxSelectors));
  std::array<uint8_t, kMaxGroups> mtf{0, 1, 2, 3, 4, 5};
  for (int i = 0; i < selectors_written; ++i) {
    int j = 0;
    while (in.Bit() != 0) {
      if (++j >= groups) return fail("bad selector");
    }
    if (in.ended()) return Parse::kInputEnded;
    if (i >= kMaxSelectors) continue;
    const uint8_t group = mtf[j];
    for (; j > 0; --j) mtf[j] = mtf[j - 1];
    mtf[0] = group;
    selectors[i] = group;
  }
  std::array<DecodeTable, kMaxGroups> tables;
  std::array<uint8_t, kMaxAlphaSize> length{};
  for (int t = 0; t < groups; ++t) {
    int current = static_cast<int>(in.Get(5));
    for (int i = 0; i < alpha_size; ++i) {
      for (;;) {
        if (in.ended()) return Parse::kInputEnded;
        if (current < 1 || current > kMaxCodeLen) return fail("bad Huffman code length");
        if (in.Bit() == 0) break;
        current += in.Bit() == 0 ? 1 : -1;
      }
      length[i] = static_cast<uint8_t>(current);
    }
    tables[t].Build(length.data(), alpha_size,
                    /*with_fast=*/selectors_written >= kFastTableMinSelectors);
  }
  const int eob = in_use + 1;
  const int64_t max_block = int64_t{100000} * level;
  int64_t block_size = 0;
  int group_index = -1;
  int group_left = 0;
  const DecodeTable* table = nullptr;
  int64_t run = -1;  // pending RUNA/RUNB run: accumulated length - 1, or -1 for none
  int64_t run_weight = 1;
  for (;;) {
    if (group_left == 0) {
      if (++group_index >= static_cast<int>(selectors.size())) return fail("selectors run out");
      group_left = kGroupSize;
      table = &tables[selectors[group_index]];
    }
    --group_left;
    const uint32_t peek = in.Peek20();
    int symbol = 0;
    if (const uint16_t entry = table->fast[peek >> (kMaxCodeLen - DecodeTable::kFastBits)]) {
      in.Skip(entry >> 9);
      if (in.ended()) return Parse::kInputEnded;
      symbol = entry & 0x1ff;
    } else {
      int len = table->min_len;
      int32_t code = static_cast<int32_t>(peek >> (kMaxCodeLen - len));
      while (code > table->limit[len]) {
        if (++len > kMaxCodeLen) {
          in.Skip(kMaxCodeLen);  // past the end of the window: cut short, not broken
          return in.ended() ? Parse::kInputEnded : fail("undecodable Huffman code");
        }
        code = static_cast<int32_t>(peek >> (kMaxCodeLen - len));
      }
      in.Skip(len);
      if (in.ended()) return Parse::kInputEnded;
      const int32_t index = code - table->base[len];
      if (index < 0 || index >= table->symbols) return fail("undecodable Huffman code");
      symbol = table->perm[index];
    }
    if (symbol <= 1) {  // RUNA / RUNB: a bijective base-2 run length
      if (run < 0) {
        run = 0;
        run_weight = 1;
      }
      if (run_weight >= 2 * 1024 * 1024) return fail("run too long");
      run += (symbol == 0 ? 1 : 2) * run_weight;
      run_weight <<= 1;
      continue;
    }
    if (run >= 0) {
      block_size += run;
      if (block_size > max_block) return fail("block larger than its level allows");
      run = -1;
    }
    if (symbol == eob) break;
    if (++block_size > max_block) return fail("block larger than its level allows");
  }
  if (static_cast<int64_t>(orig_ptr) >= block_size) return fail("origin pointer outside block");
  if (group_index != static_cast<int>(selectors.size()) - 1 && selectors_written <= kMaxSelectors) {
    return fail("end of block before the last selector group");
  }
  return Parse::kStreamEnd;
}

// Blocks from `in` (at a block or end-of-stream magic) to the stream's end. The end's stored CRC
// must combine the block CRCs when every block of the stream was seen (`all_blocks`).
StreamParse ParseBlocks(BitReader& in, int level, bool all_blocks) {
  StreamParse result;
  uint32_t combined_crc = 0;
  for (;;) {
    const uint64_t magic = (uint64_t{in.Get(24)} << 24) | in.Get(24);
    if (in.ended()) {
      result.outcome = Parse::kInputEnded;
      return result;
    }
    if (magic == kEndMagicBits) {
      const uint32_t stored = in.Get(32);
      if (in.ended()) {
        result.outcome = Parse::kInputEnded;
        return result;
      }
      if (all_blocks && stored != combined_crc) {
        result.error = "stream CRC does not match its block CRCs";
        return result;
      }
      result.outcome = Parse::kStreamEnd;
      result.consumed = in.ConsumedBytes();
      return result;
    }
    if (magic != kBlockMagicBits) {
      result.error = "block " + std::to_string(result.blocks) + ": bad block magic";
      return result;
    }
    BitReader crc_peek = in;
    const uint32_t block_crc = crc_peek.Get(32);
    combined_crc = ((combined_crc << 1) | (combined_crc >> 31)) ^ block_crc;
    std::string error;
    const Parse block = CheckBlock(in, level, &error);
    if (block == Parse::kInputEnded) {
      result.outcome = Parse::kInputEnded;
      return result;
    }
    if (block == Parse::kError) {
      result.error = "block " + std::to_string(result.blocks) + ": " + error;
      return result;
    }
    ++result.blocks;
  }
}

StreamParse ParseStream(std::string_view input) {
  BitReader in(input.substr(4));
  StreamParse result = ParseBlocks(in, input[3] - '0', /*all_blocks=*/true);
  if (result.outcome == Parse::kStreamEnd) result.consumed += 4;
  return result;
}

// `bytes` from bit `bit` on (most significant bit first), realigned to whole bytes.
std::string FromBit(std::string_view bytes, uint64_t bit) {
  const auto first = static_cast<std::size_t>(bit / 8);
  const int shift = static_cast<int>(bit % 8);
  std::string out;
  if (first >= bytes.size()) return out;
  out.reserve(bytes.size() - first);
  for (std::size_t i = first; i < bytes.size(); ++i) {
    const auto hi = static_cast<unsigned char>(bytes[i]);
    const auto lo = i + 1 < bytes.size() ? static_cast<unsigned char>(bytes[i + 1]) : 0;
    out.push_back(static_cast<char>(shift == 0 ? hi : (hi << shift) | (lo >> (8 - shift))));
  }
  return out;
}

// The last bit offset in `bytes` where the 48-bit `magic` starts (most significant bit first).
std::optional<uint64_t> LastMagic(std::string_view bytes, uint64_t magic) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 6) return std::nullopt;
  for (std::size_t at = bytes.size() - 6 + 1; at-- > 0;) {
    uint64_t window = 0;  // 56 bits from `at`, zeros past the end
    for (std::size_t i = 0; i < 7; ++i) {
      window = (window << 8) | (at + i < bytes.size() ? p[at + i] : 0u);
    }
    for (int shift = 7; shift >= 0; --shift) {
      if (shift > 0 && at + 6 >= bytes.size()) continue;  // would need bits past the end
      if (((window >> (8 - shift)) & 0xFFFFFFFFFFFFULL) == magic) return uint64_t{at} * 8 + shift;
    }
  }
  return std::nullopt;
}

// Where a stream's end-of-stream magic must be when the file ends with that stream: the 48-bit
// magic, the 32-bit combined CRC and up to 7 zero bits of padding fill the last 10 or 11 bytes.
bool EndsWithStreamEnd(std::string_view tail) {
  if (tail.size() > 11) tail = tail.substr(tail.size() - 11);
  const uint64_t bits = tail.size() * 8;
  for (uint64_t pad = 0; pad < 8; ++pad) {
    if (bits < 80 + pad) break;
    const uint64_t at = bits - 80 - pad;
    const std::string aligned = FromBit(tail, at);
    BitReader in(aligned);
    const uint64_t magic = (uint64_t{in.Get(24)} << 24) | in.Get(24);
    in.Get(32);
    const uint32_t padding = pad == 0 ? 0 : in.Get(static_cast<int>(pad));
    if (!in.ended() && magic == kEndMagicBits && padding == 0) return true;
  }
  return false;
}

class Bzip2Validator final : public FormatValidator {
 public:
  std::string_view name() const override { return "bzip2"; }

  // A file larger than the probe: its end must be a stream's end. Without one (a tail replaced
  // by ciphertext, or a cut), the last block whose start is within limits::kMaxBzip2EndSearch of
  // the end is checked from that start: ciphertext shifts its end-of-block symbol or breaks its
  // codes (damaged); a cut runs out of input (truncated). `probed` bytes were checked already.
  static void CheckEnd(BoundedReader& reader, uint64_t probed, int level, FormatReport& report) {
    const uint64_t size = reader.size();
    const uint64_t tail_bytes = std::min<uint64_t>(size - probed, limits::kMaxBzip2Probe);
    auto tail = reader.Read(size - tail_bytes, static_cast<std::size_t>(tail_bytes));
    if (!tail) return;
    if (EndsWithStreamEnd(*tail)) {
      report.structure_end = size;
      report.reasons.emplace_back("bzip2: the stream ends at the end of the file");
      return;
    }
    if (auto end = LastMagic(*tail, kEndMagicBits)) {
      // A stream's end before the end of the file: what follows is judged as trailing bytes.
      const uint64_t stream_end = size - tail_bytes + (*end + 80 + 7) / 8;
      if (stream_end < size) {
        report.structure_end = stream_end;
        report.reasons.push_back("bzip2: trailing bytes after the stream's end at " +
                                 Hex(stream_end));
        return;
      }
    }
    const uint64_t search = std::min<uint64_t>(size, limits::kMaxBzip2EndSearch);
    auto region = reader.Read(size - search, static_cast<std::size_t>(search));
    if (!region) return;
    const auto block = LastMagic(*region, kBlockMagicBits);
    if (!block) {
      report.reasons.push_back("bzip2: no stream end in the last " + Hex(tail_bytes) +
                               " bytes and no block start in the last " + Hex(search));
      report.integrity = Integrity::kTruncated;
      return;
    }
    const uint64_t block_at = size - search + *block / 8;
    const std::string aligned = FromBit(*region, *block);
    BitReader in(aligned);
    const StreamParse parse = ParseBlocks(in, level, /*all_blocks=*/false);
    if (parse.outcome == Parse::kError) {
      MarkDamaged(report,
                  "bzip2 block at " + Hex(block_at) + ": data invalid (" + parse.error + ")",
                  block_at, size);
    } else if (parse.outcome == Parse::kInputEnded) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("bzip2 stream ends early (truncated): the block at " +
                               Hex(block_at) + " runs to the end of the file without its end");
    } else {
      report.structure_end = block_at + parse.consumed;
      report.reasons.push_back("bzip2: the stream's last block at " + Hex(block_at) + " ends at " +
                               Hex(report.structure_end));
    }
  }

  bool Matches(std::string_view head, uint64_t) const override { return StreamHeaderAt(head, 0); }

  // --verify: the streams decoded whole with libbz2, which checks every block's CRC and each
  // stream's combined CRC (the default check parses the first 64 KiB and the last block).
  void VerifyWhole(Reader& reader, FormatReport& report) const override {
    VerifyWholeWith(reader, report, DecodeWhole);
  }

  static WholeDecode DecodeWhole(Reader& reader, uint64_t end) {
    using Outcome = WholeDecode::Outcome;
    bz_stream stream{};
    if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return {};
    DeepChunks chunks(reader, end);
    std::vector<char> out(256 * 1024);
    uint64_t decoded = 0;
    int streams = 0;
    bool inside = false;  // input fed since the last stream's end
    WholeDecode result;
    std::string_view chunk;
    bool stop = false;
    while (!stop && chunks.Next(&chunk)) {
      stream.next_in = const_cast<char*>(chunk.data());
      stream.avail_in = static_cast<unsigned>(chunk.size());
      bool output_full = false;  // the decoder may hold more output for the same input
      while (!stop && (stream.avail_in > 0 || output_full)) {
        inside = true;
        stream.next_out = out.data();
        stream.avail_out = static_cast<unsigned>(out.size());
        const int rc = BZ2_bzDecompress(&stream);
        decoded += out.size() - stream.avail_out;
        output_full = stream.avail_out == 0;
        const uint64_t at = chunks.offset() + (stream.next_in - chunk.data());
        if (rc == BZ_DATA_ERROR_MAGIC && streams > 0) {
          inside = false;  // no stream header after the last stream: trailing bytes, judged apart
          stop = true;
          result = {Outcome::kMatches, 0, ""};
        } else if (rc == BZ_STREAM_END) {
          ++streams;
          inside = false;
          // The next stream (pbzip2 writes one per block group) starts a new decoder.
          char* rest = stream.next_in;
          const unsigned rest_bytes = stream.avail_in;
          BZ2_bzDecompressEnd(&stream);
          stream = bz_stream{};
          if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return {};
          stream.next_in = rest;
          stream.avail_in = rest_bytes;
          output_full = false;
        } else if (rc != BZ_OK) {
          result = {Outcome::kDamaged, at, "bzip2: a block's CRC or data invalid near " + Hex(at)};
          stop = true;
        } else if (decoded > limits::kMaxDeepDecodedBytes) {
          result = DecodedPastLimit("bzip2");
          stop = true;
        }
      }
    }
    BZ2_bzDecompressEnd(&stream);
    if (stop && result.outcome != Outcome::kMatches) return result;
    if (!reader.status().ok()) return {};
    if (inside) return {Outcome::kTruncated, end, "bzip2: stream ends early"};
    if (streams == 0) return {};
    return {Outcome::kMatches, 0,
            "bzip2: " + std::to_string(streams) + " stream(s) decoded whole, block CRCs match"};
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "bzip2";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    // Small files are checked whole (exact end of stream); larger ones only probed.
    const uint64_t probe_bytes = size <= limits::kMaxBzip2Probe ? size : limits::kMaxBzip2Probe;
    auto window_or = reader.Read(0, probe_bytes);
    if (!window_or) return report;
    const std::string_view window = *window_or;
    const bool window_is_file = window.size() == size;
    std::size_t pos = 0;
    for (int stream = 0; stream < limits::kMaxChunksWalked; ++stream) {
      if (!StreamHeaderAt(window, pos)) {
        MarkDamaged(report, "bzip2 stream at " + Hex(pos) + ": bad stream header", pos, size);
        return report;
      }
      StreamParse parse = ParseStream(window.substr(pos));
      if (parse.outcome == Parse::kError) {
        MarkDamaged(report, "bzip2 stream at " + Hex(pos) + ": data invalid (" + parse.error + ")",
                    pos, size);
        return report;
      }
      if (parse.outcome == Parse::kInputEnded) {
        if (window_is_file) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("bzip2 stream at " + Hex(pos) + " ends early (truncated)");
        } else {
          CheckEnd(reader, window.size(), window[pos + 3] - '0', report);
          if (report.integrity == Integrity::kValid) {
            report.reasons.insert(
                report.reasons.begin(),
                "bzip2: the blocks in the first " + Hex(window.size()) + " bytes are well formed");
          }
        }
        return report;
      }
      pos += parse.consumed;
      if (pos == size) {
        report.structure_end = pos;
        report.reasons.push_back("bzip2: " + std::to_string(stream + 1) +
                                 " stream(s) well formed to the end");
        return report;
      }
      if (pos >= window.size()) return report;
      if (!HasAt(window, pos, "BZh")) {
        report.structure_end = pos;
        report.reasons.push_back("bzip2: trailing bytes after the last stream at " + Hex(pos));
        return report;
      }
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeBzip2Validator() {
  return std::make_unique<Bzip2Validator>();
}

}  // namespace steen::content::archive
