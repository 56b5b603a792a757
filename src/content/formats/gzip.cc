// gzip validator: member headers (FEXTRA/FNAME/FCOMMENT/FHCRC), an inflate probe of the first
// limits::kMaxInflateProbe bytes, and each fully decoded member's trailer (CRC-32, ISIZE); members
// are followed while they lie within the probe window, which gives an exact structure_end for small
// files. A larger file's end is checked from a deflate block start found near it (GzipEnd).
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "content/bytes.h"
#include "content/formats/deflate_blocks.h"
#include "content/formats/zip_util.h"

namespace steen::content::archive {
namespace {

constexpr std::string_view kMemberMagic("\x1f\x8b\x08", 3);  // ID1 ID2 CM=deflate

// Parses a member header at `pos` of `window`; returns the data offset or 0 with `why` set.
std::size_t ParseMemberHeader(std::string_view window, std::size_t pos, bool window_is_file,
                              std::string* why) {
  auto flags = ByteAt(window, pos + 3);
  if (!HasAt(window, pos, kMemberMagic) || !flags) {
    *why = "bad member signature";
    return 0;
  }
  if ((*flags & 0xE0) != 0) {
    *why = "reserved header flag bits set";
    return 0;
  }
  std::size_t at = pos + 10;
  if (*flags & 0x04) {  // FEXTRA
    auto xlen = LoadLE<uint16_t>(window, at);
    if (!xlen) {
      *why = window_is_file ? "truncated header" : "";
      return 0;
    }
    at += 2 + std::size_t{*xlen};
  }
  for (uint8_t field : {0x08, 0x10}) {  // FNAME, FCOMMENT: zero-terminated
    if ((*flags & field) == 0) continue;
    std::size_t end = at < window.size() ? window.find('\0', at) : std::string_view::npos;
    if (end == std::string_view::npos) {
      *why = window_is_file ? "header name/comment runs to the end of the file" : "";
      return 0;
    }
    at = end + 1;
  }
  if (*flags & 0x02) {  // FHCRC: low 16 bits of the CRC-32 of the header so far
    auto stored = LoadLE<uint16_t>(window, at);
    if (!stored) {
      *why = window_is_file ? "truncated header" : "";
      return 0;
    }
    if ((Crc32(window.substr(pos, at - pos)) & 0xFFFF) != *stored) {
      *why = "header CRC16 mismatch";
      return 0;
    }
    at += 2;
  }
  if (at > window.size()) {
    *why = window_is_file ? "truncated header" : "";
    return 0;
  }
  return at;
}

// How a gzip file larger than the probe window ends, found without inflating it from its start.
// Deflate decodes from any block start, so starts are searched back from the end of the file
// (DeflateHeaderScanner, member headers) and each is decoded with zlib: a block start with a
// zeroed 32 KiB window standing in for the unknown bytes before it, a member from its header
// with its CRC-32 and length checked.
// - A stream's end whose trailer closes the file (or is followed by zeros or whole members): the
//   end is intact. Ciphertext does not decode to a stream's end at exactly that place.
// - A stream's end followed by other bytes, or decoding without error to the end of the file:
//   random bits do either now and then from a false start, so this counts only when two starts
//   more than a header apart share the parse (one decodes through the other): trailing bytes
//   (at most limits::kMaxGzipTrailingBytes; the analyzer judges them like any footer) or a
//   stream cut short.
// - Neither within limits::kMaxGzipEndSearch of the end: the end is not deflate data. Damaged.
// A stored block copies its bytes: one that ends the stream proves nothing about them, so the
// member holding it, when it starts within the search, is decoded whole and its CRC-32 checked.
class GzipEnd {
 public:
  // kStoredMismatch: a stored block ends the stream at the end of the file, but its member
  // decoded whole from its start does not match its trailer.
  enum class Outcome { kEnds, kRunsOff, kNoEnd, kStoredMismatch, kUndecided };
  struct Finding {
    Outcome outcome = Outcome::kUndecided;
    uint64_t from = 0;      // file offset of the block start or member the finding rests on
    uint64_t end = 0;       // kEnds: offset after the last trailer (and zeros or members after it)
    uint64_t searched = 0;  // bytes searched back from the end
  };

  static Finding Find(BoundedReader& reader) {
    GzipEnd search(reader.size());
    return search.Run(reader);
  }

  GzipEnd(const GzipEnd&) = delete;
  GzipEnd& operator=(const GzipEnd&) = delete;
  ~GzipEnd() {
    if (ready_) inflateEnd(&z_);
  }

 private:
  enum class Parse : uint8_t {
    kEndsAtEof,        // stream end, then the trailer and nothing but zeros or whole members
    kEndsEarly,        // stream end and trailer followed by other bytes
    kRunsOff,          // no error up to the end of the file
    kError,            // zlib refused the bits
    kTrailerMismatch,  // a member decoded to its end differs from its CRC-32 or length
    kOverBudget,       // limits::kMaxGzipEndWork spent
  };
  // A block boundary some start's parse reached (or that start itself): a later start whose
  // parse reaches it continues exactly as that one did.
  struct Boundary {
    std::size_t tried = 0;  // index in tried_
    bool is_start = false;
  };
  struct Decoded {
    Parse parse = Parse::kError;
    uint64_t end = 0;  // absolute byte offset after the trailer (ends)
    // The block that ended the stream was stored: its bytes are copied, not decoded, so
    // ciphertext inside it and over the trailer reads as intact; only the CRC-32 can tell.
    bool last_block_stored = false;
    // The parse passed a whole member whose CRC-32 and length matched: what follows it (a
    // member cut short, bytes after the last) is no false start's doing.
    bool verified_member = false;
    // Index in tried_ of a start this parse passed through: two starts that agree. Boundaries
    // after that start do not count: random bits decoded as fixed-Huffman blocks (one table for
    // every parse) fall into step with each other within a few symbols.
    std::size_t joined = kNone;
    // A parse that reached another's block boundary ends as that one did.
    void EndAs(const Decoded& other) {
      parse = other.parse;
      end = other.end;
      last_block_stored = other.last_block_stored;
    }
  };
  struct Tried {
    uint64_t start = 0;  // absolute bit offset
    Decoded decoded;
  };
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  static constexpr unsigned kWindow = 32 * 1024;
  static constexpr int kMaxNestedMembers = 64;

  explicit GzipEnd(uint64_t size)
      : size_(size), out_(std::size_t{64} * 1024), zeros_(kWindow, '\0') {
    ready_ = inflateInit2(&z_, -15) == Z_OK;
  }

  Finding Run(BoundedReader& reader) {
    reader_ = &reader;
    Finding finding;
    if (!ready_) return finding;
    uint64_t below = size_ * 8;  // bits at and past this one were searched already
    for (const uint64_t span : {limits::kGzipEndFirstSearch, limits::kMaxGzipEndSearch}) {
      const uint64_t length = std::min<uint64_t>(size_, span);
      auto region = reader.Read(size_ - length, static_cast<std::size_t>(length));
      if (!region || region->size() != length) return finding;
      region_ = *region;
      base_ = size_ - length;
      finding.searched = length;
      if (Search(below, &finding)) return finding;
      if (budget_spent_) return finding;
      below = base_ * 8;
      if (length == size_) break;
    }
    finding.outcome = Outcome::kNoEnd;
    finding.from = base_;
    return finding;
  }

  // Tries the starts below bit `below`, nearest the end first; true once `finding` is decided.
  bool Search(uint64_t below, Finding* finding) {
    const DeflateHeaderScanner scanner(region_);
    for (uint64_t byte = below / 8; byte-- > base_;) {
      const auto at = static_cast<std::size_t>(byte - base_);
      // Highest bit first: nearest the end first. `below` is a byte boundary.
      for (unsigned headers = scanner.HeadersInByte(byte - base_); headers != 0;
           headers &= ~(1u << (std::bit_width(headers) - 1))) {
        const uint64_t bit = byte * 8 + std::bit_width(headers) - 1;
        if (++starts_ > limits::kMaxGzipEndStarts) return Spent();
        if (Decide(bit, DecodeBlocks(bit), finding)) return true;
        if (budget_spent_) return false;
      }
      if (HasAt(region_, at, kMemberMagic)) {
        std::string why;
        const std::size_t data = ParseMemberHeader(region_, at, /*window_is_file=*/false, &why);
        if (data != 0 && ++starts_ > limits::kMaxGzipEndStarts) return Spent();
        if (data != 0 && Decide(byte * 8, DecodeMember(data), finding)) return true;
        if (budget_spent_) return false;
      }
    }
    return false;
  }

  bool Spent() {
    budget_spent_ = true;
    return false;
  }

  bool Decide(uint64_t start, const Decoded& decoded, Finding* finding) {
    tried_.push_back({start, decoded});
    finding->from = start / 8;
    if (decoded.parse == Parse::kEndsAtEof) return Accept(decoded, finding);
    // A stored block's header can be read at up to eight bit offsets, all one parse: only starts
    // further apart than a header confirm each other.
    const auto apart = [&](uint64_t other) {
      return (other > start ? other - start : start - other) > 16;
    };
    const bool confirmed =
        decoded.verified_member || (decoded.joined != kNone && apart(tried_[decoded.joined].start));
    if (!confirmed) return false;
    if (decoded.parse == Parse::kEndsEarly &&
        size_ - decoded.end <= limits::kMaxGzipTrailingBytes) {
      return Accept(decoded, finding);
    }
    if (decoded.parse == Parse::kRunsOff) {
      finding->outcome = Outcome::kRunsOff;
      return true;
    }
    return false;
  }

  // A stream's end found: taken, unless a stored block that ends it is all that says so. Then
  // the member holding it, when its header is within limits::kMaxGzipEndSearch of the end, is
  // decoded whole and its CRC-32 checked (a signature that does not decode is no member's).
  bool Accept(const Decoded& decoded, Finding* finding) {
    finding->outcome = Outcome::kEnds;
    finding->end = decoded.end;
    if (!decoded.last_block_stored) return true;
    const uint64_t stored_start = finding->from;
    const uint64_t length = std::min<uint64_t>(size_, limits::kMaxGzipEndSearch);
    if (base_ > size_ - length) {
      auto region = reader_->Read(size_ - length, static_cast<std::size_t>(length));
      if (!region || region->size() != length) return true;
      region_ = *region;
      base_ = size_ - length;
    }
    for (std::size_t at = static_cast<std::size_t>(stored_start - base_) + 1; at-- > 0;) {
      if (!HasAt(region_, at, kMemberMagic)) continue;
      std::string why;
      const std::size_t data = ParseMemberHeader(region_, at, /*window_is_file=*/false, &why);
      if (data == 0) continue;
      const Decoded whole = DecodeMember(data);
      if (whole.parse == Parse::kEndsAtEof || whole.parse == Parse::kEndsEarly) {
        finding->end = whole.end;
        return true;
      }
      if (whole.parse == Parse::kTrailerMismatch) {
        finding->outcome = Outcome::kStoredMismatch;
        return true;
      }
      if (whole.parse == Parse::kOverBudget) return true;
    }
    return true;
  }

  // Decodes from the block start at absolute bit `start` to the stream's end, an error or the
  // end of the file; stops early on reaching a block boundary another start reached before.
  Decoded DecodeBlocks(uint64_t start) {
    const std::size_t self = tried_.size();
    Remember(start, self, /*is_start=*/true);
    inflateReset(&z_);
    inflateSetDictionary(&z_, reinterpret_cast<const Bytef*>(zeros_.data()), kWindow);
    const uint64_t relative = start - base_ * 8;
    auto byte = static_cast<std::size_t>(relative / 8);
    if (const unsigned skip = relative % 8; skip != 0) {
      inflatePrime(&z_, static_cast<int>(8 - skip),
                   static_cast<unsigned char>(region_[byte]) >> skip);
      ++byte;
    }
    Decoded decoded;
    decoded.last_block_stored = BlockTypeAt(start) == 0;
    const int rc = Inflate(byte, /*crc=*/nullptr, self, &decoded);
    if (decoded.joined != kNone || rc != Z_STREAM_END) return decoded;
    return AfterStreamEnd(InputOffset(), &decoded);
  }

  // Decodes the member whose deflate data starts at `data` (relative), checking its trailer, and
  // what follows it. Members are searched back from the end and each is followed to the end of
  // the file, so results are kept: every member is decoded once.
  Decoded DecodeMember(std::size_t data) {
    if (auto known = members_.find(base_ + data); known != members_.end()) return known->second;
    // A member's parse continues into the next member (AfterStreamEnd). Members are tried from
    // the last back, so the next is known by the time an earlier one reaches it; only a hostile
    // layout would nest deeper than this.
    if (nested_members_ >= kMaxNestedMembers) {
      budget_spent_ = true;
      Decoded over;
      over.parse = Parse::kOverBudget;
      return over;
    }
    ++nested_members_;
    Decoded decoded = DecodeMemberOnce(data);
    --nested_members_;
    decoded.joined = kNone;
    if (decoded.parse != Parse::kOverBudget) members_.emplace(base_ + data, decoded);
    return decoded;
  }

  Decoded DecodeMemberOnce(std::size_t data) {
    inflateReset(&z_);
    uint32_t crc = 0;
    Decoded decoded;
    if (Inflate(data, &crc, kNone, &decoded) != Z_STREAM_END) return decoded;
    const std::size_t trailer = InputOffset();
    auto stored_crc = LoadLE<uint32_t>(region_, trailer);
    auto stored_size = LoadLE<uint32_t>(region_, trailer + 4);
    if (stored_crc && stored_size &&
        (*stored_crc != crc || *stored_size != static_cast<uint32_t>(z_.total_out))) {
      Decoded mismatch;
      mismatch.parse = Parse::kTrailerMismatch;
      return mismatch;
    }
    Decoded after = AfterStreamEnd(trailer, &decoded);
    after.verified_member = after.verified_member || (stored_crc && stored_size);
    return after;
  }

  // After a stream's end at `trailer` (relative): its trailer, then the end of the file, zeros,
  // further whole members or other bytes.
  Decoded AfterStreamEnd(std::size_t trailer, Decoded* decoded) {
    if (trailer + 8 > region_.size()) {
      decoded->parse = Parse::kRunsOff;  // the trailer is cut off
      return *decoded;
    }
    const std::size_t next = trailer + 8;
    const std::string_view rest = region_.substr(next);
    decoded->end = base_ + next;
    if (rest.find_first_not_of('\0') == std::string_view::npos) {
      decoded->parse = Parse::kEndsAtEof;
      return *decoded;
    }
    std::string why;
    const std::size_t data =
        HasAt(rest, 0, kMemberMagic) ? ParseMemberHeader(region_, next, false, &why) : 0;
    if (data == 0) {
      decoded->parse = Parse::kEndsEarly;
      return *decoded;
    }
    Decoded member = DecodeMember(data);
    member.joined = decoded->joined;
    member.last_block_stored = decoded->last_block_stored;
    return member;
  }

  // Runs zlib from relative byte `from` with Z_BLOCK so each block boundary is seen.
  int Inflate(std::size_t from, uint32_t* crc, std::size_t self, Decoded* decoded) {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(region_.data() + from));
    z_.avail_in = static_cast<uInt>(region_.size() - from);
    std::size_t consumed_until = from;
    for (;;) {
      z_.next_out = out_.data();
      z_.avail_out = static_cast<uInt>(out_.size());
      const int rc = inflate(&z_, Z_BLOCK);
      const std::size_t produced = out_.size() - z_.avail_out;
      if (crc != nullptr) {
        *crc = static_cast<uint32_t>(crc32(*crc, out_.data(), static_cast<uInt>(produced)));
      }
      work_ += produced + (InputOffset() - consumed_until);
      consumed_until = InputOffset();
      if (rc == Z_STREAM_END) return rc;
      if (rc != Z_OK && rc != Z_BUF_ERROR) {
        decoded->parse = Parse::kError;
        return rc;
      }
      if (work_ > limits::kMaxGzipEndWork) {
        budget_spent_ = true;
        decoded->parse = Parse::kOverBudget;
        return rc;
      }
      // At a block boundary (128), unless the block just ended was the last (64): zlib stops
      // there before it ends the stream, and the parse after it is not the same as another's.
      if (self != kNone && (z_.data_type & (128 | 64)) == 128) {
        const uint64_t boundary = (base_ + InputOffset()) * 8 - (z_.data_type & 7);
        if (auto known = boundaries_.find(boundary); known != boundaries_.end()) {
          const Boundary& seen = known->second;
          decoded->EndAs(tried_[seen.tried].decoded);
          if (seen.is_start) decoded->joined = seen.tried;
          return rc;
        }
        Remember(boundary, self, /*is_start=*/false);
        decoded->last_block_stored = BlockTypeAt(boundary) == 0;
      }
      if (z_.avail_in == 0 && z_.avail_out != 0) {
        decoded->parse = Parse::kRunsOff;
        return rc;
      }
      if (rc == Z_BUF_ERROR && produced == 0) {  // no progress with input and room left
        decoded->parse = Parse::kError;
        return rc;
      }
    }
  }

  // BTYPE of the block header at absolute bit `bit`: 0 stored, 1 fixed, 2 dynamic.
  unsigned BlockTypeAt(uint64_t bit) const {
    return (DeflateHeaderScanner(region_).Peek(bit - base_ * 8) >> 1) & 3;
  }

  std::size_t InputOffset() const {
    return static_cast<std::size_t>(reinterpret_cast<const char*>(z_.next_in) - region_.data());
  }

  void Remember(uint64_t boundary, std::size_t tried, bool is_start) {
    if (boundaries_.size() < limits::kMaxGzipEndBoundaries) {
      boundaries_.emplace(boundary, Boundary{tried, is_start});
    }
  }

  uint64_t size_;
  BoundedReader* reader_ = nullptr;
  std::string_view region_;
  uint64_t base_ = 0;  // file offset of region_[0]
  z_stream z_{};
  bool ready_ = false;
  std::vector<unsigned char> out_;
  std::string zeros_;
  uint64_t work_ = 0;  // bytes decoded and produced, all starts together
  std::size_t starts_ = 0;
  bool budget_spent_ = false;
  int nested_members_ = 0;
  std::vector<Tried> tried_;
  std::unordered_map<uint64_t, Boundary> boundaries_;  // by absolute bit
  std::unordered_map<uint64_t, Decoded> members_;      // member data offset -> its parse
};

// --verify: every member inflated from its start and checked against its trailer (CRC-32 and
// length), streaming the file in limits::kDeepReadChunkBytes pieces. The default check sees a
// member's first 64 KiB and its end; this sees ciphertext anywhere in it.
class WholeMembers {
 public:
  WholeMembers(Reader& reader, uint64_t end) : reader_(reader), end_(end), inflater_(reader) {}

  WholeDecode Run() {
    using Outcome = WholeDecode::Outcome;
    using End = WholeInflater::Result::End;
    uint64_t pos = 0;
    int members = 0;
    while (pos < end_ && members < limits::kMaxChunksWalked) {
      if (!Fill(pos)) return {};                    // a read error: the analyzer reports it
      if (!HasAt(buffer_, 0, kMemberMagic)) break;  // trailing bytes: judged already
      std::string why;
      const std::size_t data = ParseMemberHeader(buffer_, 0, pos + buffer_.size() >= end_, &why);
      if (data == 0) {
        if (why.empty()) return {};
        return {Outcome::kDamaged, pos, "gzip member at " + Hex(pos) + ": " + why};
      }
      const WholeInflater::Result member = inflater_.Inflate(pos + data, reader_.size());
      switch (member.end) {
        case End::kStreamEnd:
          break;
        case End::kInvalid:
          return {Outcome::kDamaged, member.at,
                  "gzip member at " + Hex(pos) + ": deflate data invalid near " + Hex(member.at) +
                      " (" + member.error + ")"};
        case End::kInputEnded:
        case End::kFileEnded:
          return {Outcome::kTruncated, member.at,
                  "gzip member at " + Hex(pos) + ": deflate stream ends early"};
        case End::kOverBudget:
          return DecodedPastLimit("gzip");
        case End::kReadError:
          return {};
      }
      if (!Fill(member.at)) return {};
      auto stored_crc = LoadLE<uint32_t>(buffer_, 0);
      auto stored_size = LoadLE<uint32_t>(buffer_, 4);
      if (!stored_crc || !stored_size) {
        return {Outcome::kTruncated, member.at, "gzip member at " + Hex(pos) + ": trailer cut off"};
      }
      if (*stored_crc != member.crc || *stored_size != static_cast<uint32_t>(member.produced)) {
        return {Outcome::kDamaged, pos,
                "gzip member at " + Hex(pos) + ": its CRC-32 or length differs from its trailer"};
      }
      ++members;
      pos = member.at + 8;
    }
    if (members == 0) return {};
    return {
        Outcome::kMatches, 0,
        "gzip: " + std::to_string(members) + " member(s) decoded whole, CRC-32 and length match"};
  }

 private:
  bool Fill(uint64_t offset) {
    return reader_.ReadUncached(offset, limits::kDeepReadChunkBytes, &buffer_).ok();
  }

  Reader& reader_;
  uint64_t end_;
  WholeInflater inflater_;
  std::string buffer_;  // a member's header, or its trailer
};

class GzipValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "gzip"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return HasAt(head, 0, kMemberMagic);
  }

  void VerifyWhole(Reader& reader, FormatReport& report) const override {
    VerifyWholeWith(reader, report,
                    [](Reader& r, uint64_t end) { return WholeMembers(r, end).Run(); });
  }

  // A file larger than the probe window: how its deflate stream ends (GzipEnd).
  static void CheckEnd(BoundedReader& reader, FormatReport& report) {
    const uint64_t size = reader.size();
    const GzipEnd::Finding end = GzipEnd::Find(reader);
    switch (end.outcome) {
      case GzipEnd::Outcome::kEnds:
        report.structure_end = end.end;
        report.reasons.push_back("gzip: the deflate stream decodes from " + Hex(end.from) +
                                 " to its end" +
                                 (end.end == size ? std::string(" at the end of the file")
                                                  : ", followed by bytes from " + Hex(end.end)));
        return;
      case GzipEnd::Outcome::kRunsOff:
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("gzip: the deflate stream runs from " + Hex(end.from) +
                                 " to the end of the file without its end (cut short, or its "
                                 "last bytes replaced)");
        return;
      case GzipEnd::Outcome::kNoEnd:
        MarkDamaged(report,
                    "gzip: no deflate block start in the last " + Hex(end.searched) +
                        " bytes decodes to the stream's end: its end is not deflate data",
                    end.from, size);
        return;
      case GzipEnd::Outcome::kStoredMismatch:
        MarkDamaged(report,
                    "gzip: the stored block at " + Hex(end.from) +
                        " reaches the stream's end, but decoded whole the stream does not match "
                        "its trailer (CRC-32 or length): the stored bytes or the trailer changed",
                    end.from, size);
        return;
      case GzipEnd::Outcome::kUndecided:
        report.reasons.push_back("gzip: the stream's end is not checked (search limits)");
        return;
    }
  }

  FormatReport Validate(Reader& raw) const override {
    BoundedReader reader(raw);
    FormatReport report;
    report.format = "gzip";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    auto window_or = reader.Read(0, std::min<uint64_t>(size, limits::kMaxInflateProbe));
    if (!window_or) return report;
    const std::string_view window = *window_or;
    const bool window_is_file = window.size() == size;

    std::size_t pos = 0;
    for (int member = 0; member < limits::kMaxChunksWalked; ++member) {
      std::string why;
      std::size_t data = ParseMemberHeader(window, pos, window_is_file, &why);
      if (data == 0) {
        if (!why.empty()) {
          MarkDamaged(report, "gzip member at " + Hex(pos) + ": " + why, pos, size);
        }
        return report;
      }
      ProbeResult probe = InflateProbe(window.substr(data), -15);
      if (probe.outcome == ProbeOutcome::kError) {
        MarkDamaged(report,
                    "gzip member at " + Hex(pos) + ": deflate data invalid near " +
                        Hex(data + probe.consumed) + " (" + probe.error + ")",
                    data, size);
        return report;
      }
      if (probe.outcome == ProbeOutcome::kOutputCapped) {
        report.reasons.push_back("gzip: first " + std::to_string(probe.produced) +
                                 " bytes of member at " + Hex(pos) + " decode");
        if (!window_is_file) CheckEnd(reader, report);
        return report;
      }
      if (probe.outcome == ProbeOutcome::kInputEnded) {
        if (window_is_file) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("gzip member at " + Hex(pos) +
                                   ": deflate stream ends early (file truncated)");
        } else {
          report.reasons.push_back("gzip: probe of member at " + Hex(pos) + " decodes");
          CheckEnd(reader, report);
        }
        return report;
      }
      // Stream end: the 8-byte trailer follows.
      const std::size_t trailer = data + probe.consumed;
      auto crc = LoadLE<uint32_t>(window, trailer);
      auto isize = LoadLE<uint32_t>(window, trailer + 4);
      if (!crc || !isize) {
        if (window_is_file) {
          report.integrity = Integrity::kTruncated;
          report.reasons.push_back("gzip member at " + Hex(pos) + ": trailer cut off (truncated)");
        }
        return report;
      }
      if (*crc != probe.crc || *isize != static_cast<uint32_t>(probe.produced)) {
        MarkDamaged(report, "gzip member at " + Hex(pos) + ": trailer CRC-32/ISIZE mismatch",
                    trailer, size);
        return report;
      }
      pos = trailer + 8;
      if (pos == size) {
        report.structure_end = pos;
        report.reasons.push_back("gzip: " + std::to_string(member + 1) +
                                 " member(s) decoded completely");
        return report;
      }
      if (pos >= window.size()) {  // next member beyond the probe window
        CheckEnd(reader, report);
        return report;
      }
      if (!HasAt(window, pos, std::string_view("\x1f\x8b", 2))) {
        report.structure_end = pos;
        std::string_view rest = window.substr(pos);
        bool zeros = window_is_file && rest.find_first_not_of('\0') == std::string_view::npos;
        report.reasons.push_back(zeros
                                     ? "gzip: zero padding after the last member"
                                     : "gzip: trailing bytes after the last member at " + Hex(pos));
        return report;
      }
    }
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeGzipValidator() {
  return std::make_unique<GzipValidator>();
}

}  // namespace steen::content::archive
