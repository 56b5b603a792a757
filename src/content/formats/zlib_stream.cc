// Bare zlib streams (RFC 1950): git loose objects, .zlib and many application data files.
// The two-byte header is a weak signature, so Matches also inflates the first bytes: random data
// and text that happen to start with a valid header fail within a few bytes.
#include <zlib.h>

#include <memory>
#include <string>

#include "content/bytes.h"
#include "content/format.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

enum class Probe { kDecodes, kFails };

// Inflates `input`; succeeds when it decodes without a data error (running out of input is fine).
Probe InflateProbe(std::string_view input, std::size_t max_output) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Probe::kFails;
  std::string out(16 * 1024, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  z.avail_in = static_cast<uInt>(input.size());
  std::size_t produced = 0;
  int rc = Z_OK;
  while (rc == Z_OK && produced < max_output) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    rc = inflate(&z, Z_NO_FLUSH);
    produced += out.size() - z.avail_out;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) break;  // needs more input: fine for a probe
  }
  inflateEnd(&z);
  return (rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR) ? Probe::kDecodes : Probe::kFails;
}

bool HeaderValid(std::string_view head) {
  auto cmf = ByteAt(head, 0);
  auto flg = ByteAt(head, 1);
  if (!cmf || !flg) return false;
  if ((*cmf & 0x0f) != 8 || (*cmf >> 4) > 7) return false;  // deflate, window <= 32 KiB
  if ((*flg & 0x20) != 0) return false;                     // preset dictionary: not for files
  return ((*cmf << 8) | *flg) % 31 == 0;
}

class ZlibStreamValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "zlib"; }

  bool Matches(std::string_view head, uint64_t file_size) const override {
    return head.size() >= 16 && HeaderValid(head) &&
           InflateProbe(head.substr(0, 1024), 64 * 1024) == Probe::kDecodes;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "zlib";
    report.high_entropy_body = true;
    auto bytes = reader.Read(0, limits::kMaxInflateProbe);
    if (!bytes.ok()) return report;
    if (InflateProbe(*bytes, limits::kMaxDecodedProbe) == Probe::kFails) {
      report.integrity = Integrity::kDamaged;
      report.reasons.push_back("zlib stream does not decode within its first " +
                               std::to_string(bytes->size()) + " bytes");
      report.damaged_ranges.push_back({0, reader.size()});
    } else {
      report.reasons.push_back("zlib stream decodes");
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeZlibStreamValidator() {
  return std::make_unique<ZlibStreamValidator>();
}

}  // namespace steen::content
