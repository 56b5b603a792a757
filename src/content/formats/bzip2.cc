// bzip2 validator: stream header, then a libbz2 decode probe of the first limits::kMaxInflateProbe
// bytes (block CRCs and the stream CRC are checked by libbz2 itself); concatenated streams (pbzip2)
// are followed inside the probe window.
#include <bzlib.h>

#include <algorithm>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kBlockMagic("\x31\x41\x59\x26\x53\x59", 6);
constexpr std::string_view kEndMagic("\x17\x72\x45\x38\x50\x90", 6);

bool StreamHeaderAt(std::string_view bytes, std::size_t pos) {
  auto level = ByteAt(bytes, pos + 3);
  return HasAt(bytes, pos, "BZh") && level && *level >= '1' && *level <= '9' &&
         (HasAt(bytes, pos + 4, kBlockMagic) || HasAt(bytes, pos + 4, kEndMagic));
}

struct Bz2Probe {
  ProbeOutcome outcome = ProbeOutcome::kError;
  std::size_t consumed = 0;
  int code = 0;
};

Bz2Probe ProbeStream(std::string_view input) {
  Bz2Probe result;
  bz_stream stream{};
  if (BZ2_bzDecompressInit(&stream, 0, 0) != BZ_OK) return result;
  std::vector<char> out(64 * 1024);
  stream.next_in = const_cast<char*>(input.data());
  stream.avail_in = static_cast<unsigned>(input.size());
  uint64_t produced = 0;
  for (;;) {
    stream.next_out = out.data();
    stream.avail_out = static_cast<unsigned>(out.size());
    int rc = BZ2_bzDecompress(&stream);
    produced += out.size() - stream.avail_out;
    if (rc == BZ_STREAM_END) {
      result.outcome = ProbeOutcome::kStreamEnd;
      break;
    }
    if (rc != BZ_OK) {
      result.code = rc;
      break;
    }
    if (produced >= limits::kMaxDecodedProbe) {
      result.outcome = ProbeOutcome::kOutputCapped;
      break;
    }
    if (stream.avail_in == 0 && stream.avail_out != 0) {
      result.outcome = ProbeOutcome::kInputEnded;
      break;
    }
  }
  result.consumed = input.size() - stream.avail_in;
  BZ2_bzDecompressEnd(&stream);
  return result;
}

class Bzip2Validator final : public FormatValidator {
 public:
  std::string_view name() const override { return "bzip2"; }

  bool Matches(std::string_view head, uint64_t) const override { return StreamHeaderAt(head, 0); }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "bzip2";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    // Small files are decoded whole (exact end of stream); larger ones only probed.
    const uint64_t probe_bytes = size <= limits::kMaxInflateProbe ? size : limits::kMaxBzip2Probe;
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
      Bz2Probe probe = ProbeStream(window.substr(pos));
      if (probe.outcome == ProbeOutcome::kError) {
        MarkDamaged(
            report,
            "bzip2 stream at " + Hex(pos) + ": data invalid (" +
                (probe.code == BZ_DATA_ERROR ? "block CRC or structure error"
                                             : "libbz2 error " + std::to_string(probe.code)) +
                ")",
            pos, size);
        return report;
      }
      if (probe.outcome == ProbeOutcome::kOutputCapped) return report;
      if (probe.outcome == ProbeOutcome::kInputEnded) {
        if (window_is_file) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("bzip2 stream at " + Hex(pos) + " ends early (truncated)");
        } else {
          report.reasons.push_back("bzip2: probe of the first stream decodes");
        }
        return report;
      }
      pos += probe.consumed;
      if (pos == size) {
        report.structure_end = pos;
        report.reasons.push_back("bzip2: " + std::to_string(stream + 1) +
                                 " stream(s) decoded completely");
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
