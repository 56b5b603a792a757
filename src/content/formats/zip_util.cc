#include "content/formats/zip_util.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace steen::content::archive {

uint32_t Crc32(std::string_view bytes, uint32_t crc) {
  // zlib's crc32 takes uInt lengths; feed in slices so huge spans are safe.
  uLong value = crc;
  while (!bytes.empty()) {
    std::size_t n = std::min<std::size_t>(bytes.size(), 1u << 30);
    value = crc32(value, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n));
    bytes.remove_prefix(n);
  }
  return static_cast<uint32_t>(value);
}

std::optional<std::string_view> BoundedReader::Read(uint64_t offset, std::size_t length) {
  if (offset >= reader_.size()) return std::string_view();
  length = static_cast<std::size_t>(std::min<uint64_t>(length, reader_.size() - offset));
  if (length > left_) {
    exhausted_ = true;
    return std::nullopt;
  }
  left_ -= length;
  auto bytes = reader_.Read(offset, length);
  if (!bytes.ok()) return std::nullopt;
  return *bytes;
}

void MarkDamaged(FormatReport& report, std::string reason, uint64_t offset, uint64_t file_size) {
  report.integrity = Integrity::kDamaged;
  report.reasons.push_back(std::move(reason));
  if (offset < file_size) report.damaged_ranges.push_back({offset, file_size - offset});
}

std::string Hex(uint64_t value) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(value));
  return buffer;
}

ProbeResult InflateProbe(std::string_view input, int window_bits, uint64_t max_output) {
  ProbeResult result;
  z_stream stream{};
  if (inflateInit2(&stream, window_bits) != Z_OK) {
    result.error = "inflateInit2 failed";
    return result;
  }
  std::vector<unsigned char> out(32 * 1024);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(std::min<std::size_t>(input.size(), 1u << 30));
  uLong crc = crc32(0, nullptr, 0);
  for (;;) {
    std::size_t room =
        static_cast<std::size_t>(std::min<uint64_t>(out.size(), max_output - result.produced));
    stream.next_out = out.data();
    stream.avail_out = static_cast<uInt>(room);
    int rc = inflate(&stream, Z_NO_FLUSH);
    std::size_t produced = room - stream.avail_out;
    crc = crc32(crc, out.data(), static_cast<uInt>(produced));
    result.produced += produced;
    if (rc == Z_STREAM_END) {
      result.outcome = ProbeOutcome::kStreamEnd;
      break;
    }
    if (rc == Z_NEED_DICT || rc == Z_DATA_ERROR || rc == Z_MEM_ERROR || rc == Z_STREAM_ERROR) {
      result.outcome = ProbeOutcome::kError;
      result.error = stream.msg != nullptr ? stream.msg : "invalid deflate data";
      break;
    }
    if (result.produced >= max_output) {
      result.outcome = ProbeOutcome::kOutputCapped;
      break;
    }
    if (stream.avail_in == 0 || (rc == Z_BUF_ERROR && produced == 0)) {
      result.outcome = ProbeOutcome::kInputEnded;
      break;
    }
  }
  result.consumed = input.size() - stream.avail_in;
  result.crc = static_cast<uint32_t>(crc);
  inflateEnd(&stream);
  return result;
}

bool DeepChunks::Next(std::string_view* chunk) {
  if (next_ >= end_) return false;
  const std::size_t length =
      static_cast<std::size_t>(std::min<uint64_t>(limits::kDeepReadChunkBytes, end_ - next_));
  if (!reader_.ReadUncached(next_, length, &buffer_).ok() || buffer_.empty()) return false;
  offset_ = next_;
  next_ += buffer_.size();
  *chunk = buffer_;
  return true;
}

WholeInflater::WholeInflater(Reader& reader)
    : reader_(reader), chunks_(reader, 0), out_(std::size_t{256} * 1024) {
  ready_ = inflateInit2(&z_, -15) == Z_OK;
}

WholeInflater::~WholeInflater() {
  if (ready_) inflateEnd(&z_);
}

WholeInflater::Result WholeInflater::Inflate(uint64_t start, uint64_t limit) {
  using End = Result::End;
  Result result;
  if (!ready_) return result;
  inflateReset(&z_);
  z_.next_in = nullptr;  // input left from the previous stream is not this one's
  z_.avail_in = 0;
  chunks_.Restart(start, limit);
  bool output_full = false;
  for (;;) {
    // More input once zlib took all it had, unless its last call filled the output: it may hold
    // more for the same input (a ZIP entry of 759 bytes inflating to 512 KB).
    if (z_.avail_in == 0 && !output_full) {
      std::string_view chunk;
      if (!chunks_.Next(&chunk)) {
        if (!reader_.status().ok()) return result;  // kReadError
        result.end = chunks_.done() ? End::kInputEnded : End::kFileEnded;
        result.at = chunks_.next();
        return result;
      }
      // zlib does not write through next_in; its type predates const.
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(chunk.data()));
      z_.avail_in = static_cast<uInt>(chunk.size());
    }
    z_.next_out = out_.data();
    z_.avail_out = static_cast<uInt>(out_.size());
    const int rc = inflate(&z_, Z_NO_FLUSH);
    const std::size_t n = out_.size() - z_.avail_out;
    result.crc = static_cast<uint32_t>(crc32(result.crc, out_.data(), static_cast<uInt>(n)));
    result.produced += n;
    decoded_ += n;
    output_full = z_.avail_out == 0;
    result.at = chunks_.next() - z_.avail_in;
    if (rc == Z_STREAM_END) {
      result.end = End::kStreamEnd;
      return result;
    }
    if ((rc != Z_OK && rc != Z_BUF_ERROR) || (rc == Z_BUF_ERROR && n == 0 && z_.avail_in > 0)) {
      result.end = End::kInvalid;
      result.error = z_.msg != nullptr ? z_.msg : "decoder stalled";
      return result;
    }
    if (decoded_ > limits::kMaxDeepDecodedBytes) {
      result.end = End::kOverBudget;
      return result;
    }
  }
}

WholeDecode DecodedPastLimit(std::string_view format) {
  return {WholeDecode::Outcome::kUnchecked, 0,
          std::string(format) + ": decoded past " + std::to_string(limits::kMaxDeepDecodedBytes) +
              " bytes; the rest is not checked"};
}

void ApplyWholeDecode(const WholeDecode& decode, uint64_t file_size, FormatReport& report) {
  switch (decode.outcome) {
    case WholeDecode::Outcome::kDamaged:
      MarkDamaged(report, decode.reason + " (decoded whole, --verify)", decode.offset, file_size);
      return;
    case WholeDecode::Outcome::kTruncated:
      report.integrity = Integrity::kTruncated;
      report.reasons.push_back(decode.reason + " (decoded whole, --verify)");
      return;
    case WholeDecode::Outcome::kMatches:
    case WholeDecode::Outcome::kUnchecked:
      if (!decode.reason.empty()) report.reasons.push_back(decode.reason + " (--verify)");
      return;
  }
}

}  // namespace steen::content::archive
