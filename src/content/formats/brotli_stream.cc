#include "content/formats/brotli_stream.h"

#include <brotli/decode.h>

#include <algorithm>
#include <optional>

#include "content/formats/zip_util.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using Decoder = std::unique_ptr<BrotliDecoderState, decltype(&BrotliDecoderDestroyInstance)>;

// Feeds `chunk` to the decoder, output discarded. Returns false once the run has ended.
bool Feed(BrotliDecoderState* decoder, std::string_view chunk, uint64_t max_output,
          BrotliRun& run) {
  static thread_local std::string out(64 * limits::KiB, '\0');
  std::size_t available_in = chunk.size();
  const auto* next_in = reinterpret_cast<const uint8_t*>(chunk.data());
  BrotliDecoderResult result = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
  while (result == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT && run.produced <= max_output) {
    std::size_t available_out = out.size();
    auto* next_out = reinterpret_cast<uint8_t*>(out.data());
    result = BrotliDecoderDecompressStream(decoder, &available_in, &next_in, &available_out,
                                           &next_out, nullptr);
    run.produced += out.size() - available_out;
  }
  run.consumed += chunk.size() - available_in;
  switch (result) {
    case BROTLI_DECODER_RESULT_SUCCESS:
      run.end = BrotliRun::End::kFinished;
      return false;
    case BROTLI_DECODER_RESULT_ERROR:
      run.end = BrotliRun::End::kError;
      run.error = BrotliDecoderErrorString(BrotliDecoderGetErrorCode(decoder));
      return false;
    case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
      run.end = BrotliRun::End::kOutputLimit;
      return false;
    default:  // needs more input
      run.end = BrotliRun::End::kInputEnded;
      return true;
  }
}

// Runs `feed(decoder, run)` with a new decoder; one that cannot be made is an error.
template <typename FeedAll>
BrotliRun WithDecoder(FeedAll&& feed) {
  BrotliRun run;
  const Decoder decoder(BrotliDecoderCreateInstance(nullptr, nullptr, nullptr),
                        &BrotliDecoderDestroyInstance);
  if (!decoder) {
    run.end = BrotliRun::End::kError;
    run.error = "no memory for the decoder";
    return run;
  }
  feed(decoder.get(), run);
  return run;
}

// Least-significant-bit-first reader of the stream header (RFC 7932 section 2).
class HeaderBits {
 public:
  explicit HeaderBits(std::string_view bytes) : bytes_(bytes) {}
  std::optional<uint32_t> Get(int n) {
    uint32_t value = 0;
    for (int i = 0; i < n; ++i, ++bit_) {
      if (bit_ / 8 >= bytes_.size()) return std::nullopt;
      const auto byte = static_cast<unsigned char>(bytes_[bit_ / 8]);
      value |= static_cast<uint32_t>((byte >> (bit_ % 8)) & 1u) << i;
    }
    return value;
  }

 private:
  std::string_view bytes_;
  std::size_t bit_ = 0;
};

// The window size (section 9.1) is valid and the first meta-block (section 9.2) holds compressed
// data: not empty, not metadata, not stored.
bool FirstMetaBlockIsCompressed(std::string_view head) {
  HeaderBits in(head);
  auto wbits = in.Get(1);
  if (!wbits) return false;
  if (*wbits == 1) {
    auto n = in.Get(3);
    if (!n) return false;
    if (*n == 0) {
      auto m = in.Get(3);
      if (!m || *m == 1) return false;  // 1: the large-window extension, not RFC 7932
    }
  }
  auto is_last = in.Get(1);
  if (!is_last) return false;
  if (*is_last == 1) {
    auto is_last_empty = in.Get(1);
    if (!is_last_empty || *is_last_empty == 1) return false;
  }
  auto nibbles = in.Get(2);
  if (!nibbles || *nibbles == 3) return false;  // 3: a metadata block
  if (!in.Get(4 * (*nibbles + 4))) return false;
  if (*is_last == 0) {
    auto uncompressed = in.Get(1);
    if (!uncompressed || *uncompressed == 1) return false;
  }
  return true;
}

// A stream that ends before this many bytes, leaving the rest of the file, is no Brotli file.
constexpr uint64_t kMinStreamBytes = 64;

class BrotliValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "brotli"; }

  // Random bytes decode without error for a while once in ~10^5 files (a short prefix code
  // makes symbols of no bits; a stored block swallows bytes unchecked), but essentially never
  // to a stream's end: a whole small file must decode to its end, a larger one its head
  // without error (Validate then requires the end).
  bool Matches(std::string_view head, uint64_t file_size) const override {
    if (file_size < kMinStreamBytes || file_size > limits::kMaxBrotliFileBytes ||
        !FirstMetaBlockIsCompressed(head)) {
      return false;
    }
    const BrotliRun run = RunBrotli(head, limits::kMaxBrotliDecoded);
    if (head.size() < file_size) return run.end == BrotliRun::End::kInputEnded;
    return run.end == BrotliRun::End::kFinished && run.consumed >= kMinStreamBytes;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "brotli";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    const BrotliRun run = RunBrotli(reader, 0, size, limits::kMaxBrotliDecoded);
    const std::string decoded = " (" + std::to_string(run.consumed) + " bytes decode to " +
                                std::to_string(run.produced) + ")";
    switch (run.end) {
      case BrotliRun::End::kFinished:
        report.structure_end = run.consumed;
        report.reasons.push_back(run.consumed == size
                                     ? "Brotli stream decodes to its end" + decoded
                                     : "Brotli stream ends at " + archive::Hex(run.consumed) +
                                           decoded + ", before the end of the file");
        break;
      case BrotliRun::End::kError:
        archive::MarkDamaged(report,
                             "Brotli stream fails to decode at about " +
                                 archive::Hex(run.consumed) + " (" + run.error + ")",
                             run.consumed, size);
        break;
      // Without its end a stream is not told from random bytes that decoded for a while: the
      // safe answer (a cut .br cannot be used either).
      case BrotliRun::End::kInputEnded:
        archive::MarkDamaged(report, "Brotli stream without its end" + decoded, 0, size);
        break;
      case BrotliRun::End::kOutputLimit:
        archive::MarkDamaged(report,
                             "Brotli stream decodes past " +
                                 std::to_string(limits::kMaxBrotliDecoded) + " bytes" + decoded,
                             0, size);
        break;
      case BrotliRun::End::kReadError:
        break;  // the analyzer reports the read error
    }
    return report;
  }
};

}  // namespace

BrotliRun RunBrotli(Reader& reader, uint64_t at, uint64_t length, uint64_t max_output) {
  return WithDecoder([&](BrotliDecoderState* decoder, BrotliRun& run) {
    for (uint64_t fed = 0; fed < length;) {
      auto chunk = reader.Read(
          at + fed, static_cast<std::size_t>(std::min<uint64_t>(length - fed, 64 * limits::KiB)));
      if (!chunk.ok()) {
        run.end = BrotliRun::End::kReadError;
        return;
      }
      if (chunk->empty()) return;
      fed += chunk->size();
      if (!Feed(decoder, *chunk, max_output, run)) return;
    }
  });
}

BrotliRun RunBrotli(std::string_view bytes, uint64_t max_output) {
  return WithDecoder(
      [&](BrotliDecoderState* decoder, BrotliRun& run) { Feed(decoder, bytes, max_output, run); });
}

std::unique_ptr<const FormatValidator> MakeBrotliValidator() {
  return std::make_unique<BrotliValidator>();
}

}  // namespace steen::content
