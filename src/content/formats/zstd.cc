// zstd validator: frame headers (reserved bit), a libzstd streaming decode probe of the first
// limits::kMaxInflateProbe bytes (content checksums are verified by libzstd when a frame ends
// inside the probe), then a walk of every frame's 3-byte block headers to the end of the file
// (bounded), which finds tail damage and gives an exact structure_end. Skippable frames are stepped
// over.
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr uint32_t kFrameMagic = 0xFD2FB528;
constexpr uint64_t kMaxBlockBytes = 128 * limits::KiB;
constexpr int kProbeWindowLogMax = 27;  // 128 MiB window, libzstd's default limit
// Block headers walked: each is a separate small read; ~1 GiB of 128 KiB blocks.
constexpr int kMaxBlockHeadersWalked = 8192;

bool IsSkippable(uint32_t magic) { return (magic & 0xFFFFFFF0u) == 0x184D2A50u; }

class ZstdValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "zstd"; }

  bool Matches(std::string_view head, uint64_t) const override {
    auto magic = LoadLE<uint32_t>(head, 0);
    if (!magic) return false;
    if (*magic == kFrameMagic) return true;
    // A leading skippable frame (pzstd, seekable format) must be followed by a frame.
    if (!IsSkippable(*magic)) return false;
    auto skip = LoadLE<uint32_t>(head, 4);
    auto next = skip ? LoadLE<uint32_t>(head, 8 + std::size_t{*skip}) : std::nullopt;
    return next && (*next == kFrameMagic || IsSkippable(*next));
  }

  // --verify: the frames decoded whole; libzstd checks each frame's content checksum (when the
  // encoder wrote one: the zstd tool does by default) and its declared content size.
  void VerifyWhole(Reader& reader, FormatReport& report) const override {
    VerifyWholeWith(reader, report, DecodeWhole);
  }

  static WholeDecode DecodeWhole(Reader& reader, uint64_t end) {
    using Outcome = WholeDecode::Outcome;
    ZSTD_DCtx* context = ZSTD_createDCtx();
    if (context == nullptr) return {};
    ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, kProbeWindowLogMax);
    DeepChunks chunks(reader, end);
    std::vector<char> out(ZSTD_DStreamOutSize());
    uint64_t decoded = 0;
    std::size_t pending = 0;  // non-zero: a frame is not finished
    WholeDecode result{Outcome::kMatches, 0, "zstd: decoded whole to the end of its frames"};
    std::string_view chunk;
    bool stop = false;
    while (!stop && chunks.Next(&chunk)) {
      ZSTD_inBuffer in{chunk.data(), chunk.size(), 0};
      for (;;) {
        ZSTD_outBuffer o{out.data(), out.size(), 0};
        pending = ZSTD_decompressStream(context, &o, &in);
        decoded += o.pos;
        if (ZSTD_isError(pending)) {
          const ZSTD_ErrorCode code = ZSTD_getErrorCode(pending);
          const uint64_t at = chunks.offset() + in.pos;
          if (code == ZSTD_error_frameParameter_windowTooLarge ||
              code == ZSTD_error_memory_allocation) {
            result = {Outcome::kUnchecked, 0, "zstd: window too large to decode whole"};
          } else {
            result = {Outcome::kDamaged, at,
                      std::string("zstd: ") + ZSTD_getErrorName(pending) + " near " + Hex(at)};
          }
          stop = true;
          break;
        }
        if (decoded > limits::kMaxDeepDecodedBytes) {
          result = DecodedPastLimit("zstd");
          stop = true;
          break;
        }
        // All input taken, and either every frame is finished and flushed (0), or the decoder
        // had room left and wants more input. Another call now would read an empty "next frame".
        if (in.pos == in.size && (pending == 0 || o.pos < o.size)) break;
      }
    }
    ZSTD_freeDCtx(context);
    if (!reader.status().ok()) return {};
    if (!stop && pending != 0) return {Outcome::kTruncated, end, "zstd: frame ends early"};
    return result;
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "zstd";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto window_or = reader.Read(0, std::min<uint64_t>(size, limits::kMaxInflateProbe));
    if (!window_or) return report;
    if (!Probe(*window_or, size, report)) return report;
    Walk(reader, report);
    return report;
  }

 private:
  // Returns false when the probe already decided the verdict.
  static bool Probe(std::string_view window, uint64_t size, FormatReport& report) {
    ZSTD_DStream* stream = ZSTD_createDStream();
    if (stream == nullptr) return true;
    ZSTD_DCtx_setParameter(stream, ZSTD_d_windowLogMax, kProbeWindowLogMax);
    std::vector<char> out(ZSTD_DStreamOutSize());
    ZSTD_inBuffer in{window.data(), window.size(), 0};
    uint64_t produced = 0;
    bool ok = true;
    bool frame_done = false;
    while (in.pos < in.size && produced < limits::kMaxDecodedProbe) {
      if (frame_done) {  // what follows a frame must be another frame; else it is trailing data
        auto magic = LoadLE<uint32_t>(window, in.pos);
        if (!magic || (*magic != kFrameMagic && !IsSkippable(*magic))) break;
        frame_done = false;
      }
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      std::size_t rc = ZSTD_decompressStream(stream, &o, &in);
      produced += o.pos;
      if (ZSTD_isError(rc)) {
        if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
          report.reasons.push_back("zstd: window too large to probe");
        } else {
          MarkDamaged(report,
                      std::string("zstd: compressed data invalid near ") + Hex(in.pos) + " (" +
                          ZSTD_getErrorName(rc) + ")",
                      0, size);
          ok = false;
        }
        break;
      }
      if (rc == 0) frame_done = true;
      if (o.pos == 0 && in.pos == in.size) break;
    }
    ZSTD_freeDStream(stream);
    return ok;
  }

  // Walks frames and their block headers from the start of the file.
  static void Walk(BoundedReader& reader, FormatReport& report) {
    const uint64_t size = reader.size();
    uint64_t pos = 0;
    int steps = 0;
    int frames = 0;
    auto fail = [&](uint64_t at, const std::string& why) {
      MarkDamaged(report, "zstd: " + why + " at " + Hex(at), at, size);
    };
    auto truncated = [&](const std::string& why) {
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back("zstd: " + why + " (file truncated)");
    };
    while (pos < size) {
      if (++steps > kMaxBlockHeadersWalked) return;
      auto head = reader.Read(pos, 18);
      if (!head) return;
      auto magic = LoadLE<uint32_t>(*head, 0);
      if (!magic) return truncated("file ends inside a frame magic");
      if (IsSkippable(*magic)) {
        auto len = LoadLE<uint32_t>(*head, 4);
        if (!len || pos + 8 + *len > size) return truncated("skippable frame cut off");
        pos += 8 + uint64_t{*len};
        continue;
      }
      if (*magic != kFrameMagic) {
        if (frames > 0) {  // data after the last frame: let the analyzer judge it
          report.structure_end = pos;
          report.reasons.push_back("zstd: trailing bytes after the last frame at " + Hex(pos));
        } else {
          fail(pos, "bad frame magic");
        }
        return;
      }
      auto fhd = ByteAt(*head, 4);
      if (!fhd) return truncated("frame header cut off");
      if (*fhd & 0x08) return fail(pos + 4, "frame header reserved bit set");
      const bool single_segment = (*fhd & 0x20) != 0;
      const int fcs_flag = *fhd >> 6;
      static constexpr int kDictIdBytes[] = {0, 1, 2, 4};
      static constexpr int kFcsBytes[] = {0, 2, 4, 8};
      const int fcs_bytes = (fcs_flag == 0 && single_segment) ? 1 : kFcsBytes[fcs_flag];
      std::size_t header = 5 + (single_segment ? 0 : 1) + kDictIdBytes[*fhd & 3] + fcs_bytes;
      if (head->size() < header) return truncated("frame header cut off");
      uint64_t window_size = kMaxBlockBytes;
      if (!single_segment) {
        uint8_t wd = static_cast<uint8_t>((*head)[5]);
        uint64_t base = uint64_t{1} << (10 + (wd >> 3));
        window_size = base + (base / 8) * (wd & 7);
      } else {
        uint64_t fcs = 0;
        std::size_t at = header - fcs_bytes;
        for (int i = 0; i < fcs_bytes; ++i) {
          fcs |= uint64_t{static_cast<uint8_t>((*head)[at + i])} << (8 * i);
        }
        if (fcs_bytes == 2) fcs += 256;
        window_size = fcs;
      }
      const uint64_t block_max = std::max<uint64_t>(1, std::min(window_size, kMaxBlockBytes));
      pos += header;
      for (;;) {
        if (++steps > kMaxBlockHeadersWalked) return;
        auto bh = reader.Read(pos, 3);
        if (!bh) return;
        if (bh->size() < 3) return truncated("file ends inside a block header");
        const uint32_t v = static_cast<uint8_t>((*bh)[0]) |
                           (uint32_t{static_cast<uint8_t>((*bh)[1])} << 8) |
                           (uint32_t{static_cast<uint8_t>((*bh)[2])} << 16);
        const bool last = v & 1;
        const int type = (v >> 1) & 3;
        const uint64_t block_size = v >> 3;
        if (type == 3) return fail(pos, "reserved block type");
        if (block_size > block_max) return fail(pos, "block larger than the frame allows");
        pos += 3 + (type == 1 ? 1 : block_size);
        if (pos > size) return truncated("block extends beyond the end of the file");
        if (last) break;
      }
      if (*fhd & 0x04) pos += 4;  // content checksum
      if (pos > size) return truncated("checksum cut off");
      ++frames;
    }
    report.structure_end = pos;
    report.reasons.push_back("zstd: " + std::to_string(frames) + " frame(s) walked to the end");
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeZstdValidator() {
  return std::make_unique<ZstdValidator>();
}

}  // namespace steen::content::archive
