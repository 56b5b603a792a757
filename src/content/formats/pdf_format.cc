// PDF validator. PDF bodies are mostly compressed streams (random-looking), so damage is found by
// structure: the trailer (%%EOF, startxref), the cross-reference data (classic tables and PDF 1.5
// xref streams) whose offsets must land on "N G obj" headers, the object sequence in the head, and
// an inflate probe of the first FlateDecode streams of the head and of the tail.
//
// Leniency: real PDFs often have slightly wrong offsets (readers rebuild the xref), so a miss only
// counts as evidence when the bytes found there are binary (random or zeroed), never when they are
// plausible PDF text.
#include "content/formats/pdf_format.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "content/block_stats.h"
#include "content/bytes.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

constexpr std::string_view kPdfMagic = "%PDF-";
constexpr std::size_t kHeaderWindow = 1024;     // readers accept %PDF- anywhere in the first 1 KiB
constexpr std::size_t kRandomProbeBytes = 512;  // judged where an object should start
constexpr std::size_t kSlop = 16;               // tolerated offset error of xref entries
constexpr std::size_t kProbeSpan = 32;          // bytes inspected where an object header should be

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

bool IsWhite(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\0';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsDelimiter(char c) {
  return IsWhite(c) || c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' ||
         c == '{' || c == '}' || c == '/' || c == '%';
}
bool IsTextByte(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t' || c == '\f';
}

// Binary (non-text) bytes where PDF syntax is expected: ciphertext, zero fill, or a stream body.
bool LooksBinary(std::string_view s) {
  if (s.empty()) return false;
  std::size_t non_text = 0;
  for (char c : s) non_text += IsTextByte(static_cast<unsigned char>(c)) ? 0 : 1;
  return non_text * 8 >= s.size();  // random bytes: ~63 % non-text; PDF syntax: 0 %
}

std::string DescribeBytes(std::string_view s) {
  if (s.size() >= 32 && ShortSpanLooksRandom(s)) return "random bytes";
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c == 0; })) {
    return "zero bytes";
  }
  return LooksBinary(s) ? "binary bytes" : "other text";
}

std::size_t SkipWhite(std::string_view s, std::size_t pos) {
  while (pos < s.size() && IsWhite(s[pos])) ++pos;
  return pos;
}

// Skips whitespace and % comments (bounded by the span).
std::size_t SkipWhiteAndComments(std::string_view s, std::size_t pos) {
  while (pos < s.size()) {
    if (IsWhite(s[pos])) {
      ++pos;
    } else if (s[pos] == '%') {
      while (pos < s.size() && s[pos] != '\n' && s[pos] != '\r') ++pos;
    } else {
      break;
    }
  }
  return pos;
}

// Unsigned decimal integer of at most 19 digits (hostile numbers cannot overflow).
std::optional<uint64_t> ParseUint(std::string_view s, std::size_t& pos) {
  std::size_t start = pos;
  uint64_t value = 0;
  while (pos < s.size() && IsDigit(s[pos]) && pos - start < 19) {
    value = value * 10 + static_cast<uint64_t>(s[pos] - '0');
    ++pos;
  }
  if (pos == start || (pos < s.size() && IsDigit(s[pos]))) return std::nullopt;
  return value;
}

bool KeywordAt(std::string_view s, std::size_t pos, std::string_view kw) {
  if (!HasAt(s, pos, kw)) return false;
  std::size_t after = pos + kw.size();
  return after >= s.size() || IsDelimiter(s[after]);
}

// "N G obj" at pos; on success sets the object number and the offset just after "obj".
bool MatchObjHeader(std::string_view s, std::size_t pos, uint64_t* number, std::size_t* end) {
  std::size_t p = pos;
  auto num = ParseUint(s, p);
  if (!num || p >= s.size() || !IsWhite(s[p])) return false;
  p = SkipWhite(s, p);
  auto gen = ParseUint(s, p);
  if (!gen || *gen > 65535 || p >= s.size() || !IsWhite(s[p])) return false;
  p = SkipWhite(s, p);
  if (!KeywordAt(s, p, "obj")) return false;
  if (number) *number = *num;
  if (end) *end = p + 3;
  return true;
}

// ---- Minimal object syntax: enough to read dictionaries (keys and raw value text) --------------

// Returns the offset after the object starting at pos, or nullopt on malformed / too deep input.
std::optional<std::size_t> SkipObject(std::string_view s, std::size_t pos, int depth);

std::optional<std::size_t> SkipString(std::string_view s, std::size_t pos) {
  int nesting = 0;
  for (std::size_t p = pos; p < s.size(); ++p) {
    if (s[p] == '\\') {
      ++p;
    } else if (s[p] == '(') {
      ++nesting;
    } else if (s[p] == ')') {
      if (--nesting == 0) return p + 1;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> SkipContainer(std::string_view s, std::size_t pos, int depth,
                                         std::string_view close) {
  std::size_t p = pos;
  for (int guard = 0; guard < limits::kMaxChunksWalked; ++guard) {
    p = SkipWhiteAndComments(s, p);
    if (p >= s.size()) return std::nullopt;
    if (HasAt(s, p, close)) return p + close.size();
    auto next = SkipObject(s, p, depth + 1);
    if (!next || *next <= p) return std::nullopt;
    p = *next;
  }
  return std::nullopt;
}

std::optional<std::size_t> SkipObject(std::string_view s, std::size_t pos, int depth) {
  if (depth > limits::kMaxContainerDepth) return std::nullopt;
  pos = SkipWhiteAndComments(s, pos);
  if (pos >= s.size()) return std::nullopt;
  char c = s[pos];
  if (HasAt(s, pos, "<<")) return SkipContainer(s, pos + 2, depth, ">>");
  if (c == '[') return SkipContainer(s, pos + 1, depth, "]");
  if (c == '(') return SkipString(s, pos);
  if (c == '<') {
    std::size_t close = s.find('>', pos);
    if (close == std::string_view::npos) return std::nullopt;
    return close + 1;
  }
  if (c == ')' || c == '>' || c == ']' || c == '{' || c == '}') return std::nullopt;
  std::size_t p = pos + 1;
  while (p < s.size() && !IsDelimiter(s[p])) ++p;
  if (c == '/') return p;
  // An integer may start an indirect reference "N G R".
  if (IsDigit(c)) {
    std::size_t q = pos;
    if (ParseUint(s, q) && q < s.size() && IsWhite(s[q])) {
      q = SkipWhite(s, q);
      if (ParseUint(s, q) && q < s.size() && IsWhite(s[q])) {
        q = SkipWhite(s, q);
        if (KeywordAt(s, q, "R")) return q + 1;
      }
    }
  }
  return p;
}

struct PdfDict {
  std::vector<std::pair<std::string_view, std::string_view>> entries;  // key without '/', value
  std::size_t end = 0;                                                 // after ">>"

  std::optional<std::string_view> Get(std::string_view key) const {
    for (const auto& [k, v] : entries) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  std::optional<uint64_t> GetUint(std::string_view key) const {
    auto v = Get(key);
    if (!v) return std::nullopt;
    std::size_t p = 0;
    auto n = ParseUint(*v, p);
    if (!n) return std::nullopt;
    // A reference "N G R" is not a direct integer.
    std::size_t q = SkipWhite(*v, p);
    if (q < v->size()) return std::nullopt;
    return n;
  }
};

// Parses the dictionary starting at pos ("<<" after optional whitespace).
std::optional<PdfDict> ParseDict(std::string_view s, std::size_t pos, int depth = 0) {
  pos = SkipWhiteAndComments(s, pos);
  if (!HasAt(s, pos, "<<") || depth > limits::kMaxContainerDepth) return std::nullopt;
  PdfDict dict;
  std::size_t p = pos + 2;
  for (int guard = 0; guard < limits::kMaxChunksWalked; ++guard) {
    p = SkipWhiteAndComments(s, p);
    if (p >= s.size()) return std::nullopt;
    if (HasAt(s, p, ">>")) {
      dict.end = p + 2;
      return dict;
    }
    if (s[p] != '/') return std::nullopt;
    std::size_t key_end = p + 1;
    while (key_end < s.size() && !IsDelimiter(s[key_end])) ++key_end;
    std::string_view key = s.substr(p + 1, key_end - p - 1);
    std::size_t value_start = SkipWhiteAndComments(s, key_end);
    auto value_end = SkipObject(s, value_start, depth + 1);
    if (!value_end || *value_end <= value_start) return std::nullopt;
    if (dict.entries.size() < 256) {
      dict.entries.emplace_back(key, s.substr(value_start, *value_end - value_start));
    }
    p = *value_end;
  }
  return std::nullopt;
}

// Integers of an array value such as "[1 2 1]" (at most `max` of them).
std::vector<uint64_t> ParseUintArray(std::string_view v, std::size_t max) {
  std::vector<uint64_t> out;
  std::size_t p = SkipWhite(v, 0);
  if (p >= v.size() || v[p] != '[') return out;
  ++p;
  while (out.size() < max) {
    p = SkipWhite(v, p);
    auto n = ParseUint(v, p);
    if (!n) break;
    out.push_back(*n);
  }
  return out;
}

// True when the /Filter value is FlateDecode alone or first in the chain.
bool FirstFilterIsFlate(std::string_view filter) {
  std::size_t p = SkipWhite(filter, 0);
  if (p < filter.size() && filter[p] == '[') p = SkipWhite(filter, p + 1);
  return HasAt(filter, p, "/FlateDecode") || KeywordAt(filter, p, "/Fl");
}
bool OnlyFilterIsFlate(std::string_view filter) {
  if (!FirstFilterIsFlate(filter)) return false;
  return std::count(filter.begin(), filter.end(), '/') == 1;
}

// Offset of stream data after the dictionary ending at dict_end: "stream" then CRLF or LF.
std::optional<std::size_t> StreamDataStart(std::string_view s, std::size_t dict_end) {
  std::size_t p = SkipWhite(s, dict_end);
  if (!HasAt(s, p, "stream")) return std::nullopt;
  p += 6;
  if (HasAt(s, p, "\r\n")) return p + 2;
  if (HasAt(s, p, "\n") || HasAt(s, p, "\r")) return p + 1;
  return std::nullopt;
}

// ---- zlib ---------------------------------------------------------------------------------------

enum class Inflated { kOk, kCorrupt, kInconclusive };

// Inflates `data` (zlib, falling back to raw deflate when there is no zlib header). Keeps at most
// limits::kMaxPartDecoded bytes of output in *out when out is not null.
Inflated Inflate(std::string_view data, std::string* out, std::string* error) {
  if (data.size() < 2) return Inflated::kInconclusive;
  unsigned b0 = static_cast<unsigned char>(data[0]), b1 = static_cast<unsigned char>(data[1]);
  bool zlib_header = (b0 & 0x0f) == 8 && ((b0 << 8) | b1) % 31 == 0;
  z_stream zs{};
  if (inflateInit2(&zs, zlib_header ? 15 : -15) != Z_OK) return Inflated::kInconclusive;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(std::min(data.size(), limits::kMaxPartProbe));
  unsigned char buf[16384];
  std::size_t produced = 0;
  Inflated result = Inflated::kOk;
  while (true) {
    zs.next_out = buf;
    zs.avail_out = sizeof(buf);
    int rc = inflate(&zs, Z_NO_FLUSH);
    std::size_t got = sizeof(buf) - zs.avail_out;
    if (out && out->size() < limits::kMaxPartDecoded) {
      out->append(reinterpret_cast<char*>(buf),
                  std::min(got, limits::kMaxPartDecoded - out->size()));
    }
    produced += got;
    if (rc == Z_STREAM_END) break;
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_MEM_ERROR) {
      if (error) *error = zs.msg ? zs.msg : "data error";
      result = Inflated::kCorrupt;
      break;
    }
    if (rc == Z_BUF_ERROR || zs.avail_in == 0) break;  // input ran out: fine for a probe
    if (produced >= limits::kMaxPartDecoded) break;
  }
  inflateEnd(&zs);
  return result;
}

// Undoes PNG predictors (PDF /Predictor >= 10) in place; false when the rows are malformed.
bool UndoPngPredictor(std::string& data, std::size_t columns) {
  if (columns == 0 || columns > 4096) return false;
  std::size_t row = columns + 1;
  std::string out;
  out.reserve(data.size());
  std::string prev(columns, '\0');
  for (std::size_t r = 0; r + row <= data.size(); r += row) {
    unsigned filter = static_cast<unsigned char>(data[r]);
    std::string cur = data.substr(r + 1, columns);
    for (std::size_t i = 0; i < columns; ++i) {
      int a = i > 0 ? static_cast<unsigned char>(cur[i - 1]) : 0;
      int b = static_cast<unsigned char>(prev[i]);
      int c = i > 0 ? static_cast<unsigned char>(prev[i - 1]) : 0;
      int x = static_cast<unsigned char>(cur[i]);
      switch (filter) {
        case 0:
          break;
        case 1:
          x += a;
          break;
        case 2:
          x += b;
          break;
        case 3:
          x += (a + b) / 2;
          break;
        case 4: {
          int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
          x += (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default:
          return false;
      }
      cur[i] = static_cast<char>(x & 0xff);
    }
    out += cur;
    prev = cur;
  }
  data = std::move(out);
  return true;
}

// ---- The validation
// -------------------------------------------------------------------------------

struct XrefEntry {
  uint64_t number;
  uint64_t offset;
};

class PdfCheck {
 public:
  PdfCheck(Reader& reader, FormatReport& report) : reader_(reader), report_(report) {}

  void Run();

 private:
  std::string_view ReadAt(uint64_t offset, std::size_t length) {
    auto r = reader_.Read(offset, length);
    return r.ok() ? *r : std::string_view();
  }
  void Bad(uint64_t offset, std::string reason, bool fatal = false) {
    ++bad_;
    fatal_ = fatal_ || fatal;
    first_bad_ = std::min(first_bad_, offset);
    if (report_.reasons.size() < 12) report_.reasons.push_back(std::move(reason));
  }
  void Note(std::string reason) {
    if (report_.reasons.size() < 12) report_.reasons.push_back(std::move(reason));
  }
  void NoteDict(const PdfDict& dict) {
    if (dict.Get("Encrypt")) encrypted_ = true;
    if (dict.Get("Linearized")) linearized_ = true;
  }

  void MissingEof();
  void CheckXrefAt(uint64_t offset, bool from_startxref);
  bool ParseClassicXref(uint64_t offset);
  bool ParseXrefStream(uint64_t offset, std::string_view window);
  void QueueSection(std::optional<uint64_t> offset);
  void SampleObjects();
  void ScanHeadAndTail();
  void ScanRegion(std::string_view region, uint64_t base, std::size_t from);
  void Decide();

  Reader& reader_;
  FormatReport& report_;
  uint64_t size_ = 0;
  std::string_view head_, tail_;
  uint64_t tail_offset_ = 0;
  uint64_t header_offset_ = 0;
  int ok_ = 0, bad_ = 0;
  bool fatal_ = false;
  bool truncated_ = false;
  bool encrypted_ = false;
  bool linearized_ = false;
  uint64_t first_bad_ = UINT64_MAX;
  std::vector<XrefEntry> entries_;
  std::vector<uint64_t> pending_sections_;
  std::set<uint64_t> seen_sections_;
};

void PdfCheck::Run() {
  size_ = reader_.size();
  head_ = ReadAt(0, limits::kHeadBytes);
  std::size_t magic = head_.substr(0, kHeaderWindow + kPdfMagic.size()).find(kPdfMagic);
  if (magic == std::string_view::npos) {
    report_.integrity = Integrity::kDamaged;
    report_.reasons.push_back("PDF header %PDF- not found in the first 1 KiB");
    return;
  }
  header_offset_ = magic;
  tail_offset_ = size_ > limits::kTailBytes ? size_ - limits::kTailBytes : 0;
  tail_ = ReadAt(tail_offset_, limits::kTailBytes);

  std::size_t eof = tail_.rfind("%%EOF");
  if (eof == std::string_view::npos) {
    MissingEof();
    ScanHeadAndTail();
    Decide();
    return;
  }
  uint64_t end = tail_offset_ + eof + 5;
  std::string_view after = tail_.substr(eof + 5);
  if (HasAt(after, 0, "\r\n")) {
    end += 2;
  } else if (HasAt(after, 0, "\n") || HasAt(after, 0, "\r")) {
    end += 1;
  }
  report_.structure_end = end;

  // startxref sits just before the final %%EOF.
  std::size_t window_start = eof > 1024 ? eof - 1024 : 0;
  std::size_t sx = tail_.substr(window_start, eof - window_start).rfind("startxref");
  if (sx == std::string_view::npos) {
    Note("PDF: no startxref before the final %%EOF (readers rebuild the xref)");
  } else {
    std::size_t p = SkipWhite(tail_, window_start + sx + 9);
    auto xref = ParseUint(tail_, p);
    if (!xref) {
      std::string_view at = tail_.substr(window_start + sx + 9, kProbeSpan);
      if (LooksBinary(at)) {
        Bad(tail_offset_ + window_start + sx,
            "PDF startxref value is not a number (" + DescribeBytes(at) + ")", true);
      } else {
        Note("PDF: startxref value missing");
      }
    } else {
      CheckXrefAt(*xref, true);
    }
  }
  for (int hops = 0; hops < limits::kMaxPdfXrefSections && !pending_sections_.empty(); ++hops) {
    uint64_t next = pending_sections_.back();
    pending_sections_.pop_back();
    CheckXrefAt(next, false);
  }
  SampleObjects();
  ScanHeadAndTail();
  Decide();
}

// No %%EOF in the last 64 KiB: a truncated download (tail is the middle of an object or stream)
// or an encrypted / overwritten tail.
void PdfCheck::MissingEof() {
  std::size_t last_token = 0;
  for (std::string_view token : {"endobj", "endstream", "startxref", "trailer", "xref"}) {
    std::size_t at = tail_.rfind(token);
    if (at != std::string_view::npos) last_token = std::max(last_token, at + token.size());
  }
  std::string_view region = tail_.substr(last_token);
  uint64_t region_offset = tail_offset_ + last_token;
  const std::string reason = "PDF trailer missing: no %%EOF in the last 64 KiB";
  std::size_t stream_kw = region.rfind("stream");
  if (stream_kw != std::string_view::npos) {
    // Truncated inside a stream? Its data must still decode (Flate) or at least not look like
    // ciphertext.
    std::size_t dict_from = region.rfind("obj", stream_kw);
    std::optional<PdfDict> dict;
    if (dict_from != std::string_view::npos) dict = ParseDict(region, dict_from + 3);
    auto data_start = dict ? StreamDataStart(region, dict->end) : std::nullopt;
    if (dict && data_start) {
      std::string_view data = region.substr(*data_start);
      auto filter = dict->Get("Filter");
      if (filter && OnlyFilterIsFlate(*filter) && !dict->Get("Encrypt")) {
        std::string error;
        if (Inflate(data, nullptr, &error) == Inflated::kCorrupt) {
          Bad(region_offset + *data_start,
              reason + "; the last stream does not inflate (" + error + ")", true);
          return;
        }
        truncated_ = true;
        Note("PDF ends inside a stream without %%EOF (truncated)");
        return;
      }
      std::string_view last = data.size() > 4096 ? data.substr(data.size() - 4096) : data;
      if (last.size() >= 4096 && LooksLikeCiphertext(ComputeBlockStats(last))) {
        Bad(size_ - last.size(), reason + "; the tail looks like ciphertext", true);
        return;
      }
      truncated_ = true;
      Note("PDF ends inside a stream without %%EOF (truncated)");
      return;
    }
  }
  if (region.size() >= 32 && LooksBinary(region)) {
    Bad(region_offset, reason + "; tail holds " + DescribeBytes(region.substr(0, 4096)), true);
    return;
  }
  truncated_ = true;
  Note("PDF ends without %%EOF (truncated)");
}

void PdfCheck::QueueSection(std::optional<uint64_t> offset) {
  if (!offset || seen_sections_.count(*offset)) return;
  if (pending_sections_.size() < static_cast<std::size_t>(limits::kMaxPdfXrefSections)) {
    pending_sections_.push_back(*offset);
  }
}

void PdfCheck::CheckXrefAt(uint64_t offset, bool from_startxref) {
  if (!seen_sections_.insert(offset).second) return;
  std::string label = from_startxref ? "startxref " + std::to_string(offset)
                                     : "xref section at " + std::to_string(offset);
  if (offset >= size_) {
    // Readers rebuild the xref; only a hint of truncation, not evidence of encryption.
    Note("PDF " + label + " points beyond the end of the file (" + std::to_string(size_) + ")");
    return;
  }
  // Try the offset as written, relative to a shifted header, and a little slop either way.
  std::vector<uint64_t> candidates{offset};
  if (header_offset_ > 0) candidates.push_back(offset + header_offset_);
  for (uint64_t base : candidates) {
    uint64_t from = base > kSlop ? base - kSlop : 0;
    std::string_view window = ReadAt(from, 64 * limits::KiB);
    for (std::size_t k = 0; k <= 2 * kSlop; ++k) {
      // The exact offset first, then +1, -1, +2, -2...
      int64_t delta = static_cast<int64_t>((k + 1) / 2) * (k % 2 ? 1 : -1);
      int64_t signed_i = static_cast<int64_t>(base - from) + delta;
      if (signed_i < 0 || static_cast<uint64_t>(signed_i) >= window.size()) continue;
      std::size_t i = static_cast<std::size_t>(signed_i);
      if (i > 0 && !IsDelimiter(window[i - 1])) continue;
      if (KeywordAt(window, i, "xref")) {
        if (ParseClassicXref(from + i)) ++ok_;
        return;
      }
      if (IsDigit(window[i]) && MatchObjHeader(window, i, nullptr, nullptr)) {
        ++ok_;
        ParseXrefStream(from + i, window.substr(i));
        return;
      }
    }
  }
  std::string_view at = ReadAt(offset, kProbeSpan);
  if (LooksBinary(at)) {
    Bad(offset,
        "PDF " + label + " does not point to an xref table (found " + DescribeBytes(at) + ")",
        from_startxref);
  } else {
    Note("PDF " + label + " does not point to an xref table (readers rebuild it)");
  }
}

bool PdfCheck::ParseClassicXref(uint64_t offset) {
  std::string_view w = ReadAt(offset, 64 * limits::KiB);
  std::size_t p = 4;
  uint64_t declared = 0;
  int parsed = 0;
  bool window_ended = false;
  while (true) {
    p = SkipWhite(w, p);
    if (p >= w.size()) {
      window_ended = true;
      break;
    }
    if (KeywordAt(w, p, "trailer")) break;
    std::size_t line = p;
    auto first = ParseUint(w, p);
    p = SkipWhite(w, p);
    auto count = ParseUint(w, p);
    if (!first || !count || *count > 10'000'000) {
      std::string_view at = w.substr(line, kProbeSpan);
      if (p >= w.size()) {
        window_ended = true;
      } else if (LooksBinary(at)) {
        Bad(offset + line,
            "PDF xref table at " + Hex(offset) + ": subsection header is " + DescribeBytes(at),
            true);
        return false;
      } else {
        Note("PDF xref table at " + Hex(offset) + " is malformed (readers rebuild it)");
      }
      break;
    }
    declared += *count;
    for (uint64_t i = 0; i < *count; ++i) {
      if (parsed >= limits::kMaxPdfObjectsChecked) break;
      std::size_t entry = SkipWhite(w, p);
      if (entry + 18 > w.size()) {
        window_ended = true;
        break;
      }
      std::size_t q = entry;
      auto off = ParseUint(w, q);
      q = SkipWhite(w, q);
      auto gen = ParseUint(w, q);
      q = SkipWhite(w, q);
      char kind = q < w.size() ? w[q] : '?';
      if (!off || !gen || (kind != 'n' && kind != 'f')) {
        std::string_view at = w.substr(entry, 20);
        if (LooksBinary(at)) {
          Bad(offset + entry,
              "PDF xref table at " + Hex(offset) + ": entry " + std::to_string(*first + i) +
                  " holds " + DescribeBytes(at),
              true);
          return false;
        }
        Note("PDF xref table at " + Hex(offset) + ": malformed entry " +
             std::to_string(*first + i));
        return true;
      }
      ++parsed;
      p = q + 1;
      if (kind == 'n' && *off > 0) entries_.push_back({*first + i, *off});
    }
    if (parsed >= limits::kMaxPdfObjectsChecked || window_ended) break;
  }
  // The trailer: right after the table, or (for tables too large to parse here) estimated from
  // the standard 20-byte entry size.
  std::string_view trailer_area = w;
  uint64_t trailer_area_offset = offset;
  std::size_t t = w.find("trailer", std::min(p, w.size()));
  if (t == std::string_view::npos && window_ended) {
    uint64_t estimate = offset + 20 * declared;
    trailer_area_offset = estimate > 2048 ? estimate - 2048 : 0;
    trailer_area = ReadAt(trailer_area_offset, 8192);
    t = trailer_area.find("trailer");
  }
  if (t == std::string_view::npos) {
    Note("PDF xref table at " + Hex(offset) + ": trailer not found");
    return true;
  }
  auto dict = ParseDict(trailer_area, t + 7);
  if (!dict) {
    std::string_view at = trailer_area.substr(t + 7, kProbeSpan);
    if (LooksBinary(at)) {
      Bad(trailer_area_offset + t,
          "PDF trailer at " + Hex(trailer_area_offset + t) + " holds " + DescribeBytes(at), true);
      return false;
    }
    Note("PDF trailer dictionary at " + Hex(trailer_area_offset + t) + " is malformed");
    return true;
  }
  NoteDict(*dict);
  QueueSection(dict->GetUint("Prev"));
  QueueSection(dict->GetUint("XRefStm"));
  return true;
}

bool PdfCheck::ParseXrefStream(uint64_t offset, std::string_view window) {
  std::size_t header_end = 0;
  if (!MatchObjHeader(window, 0, nullptr, &header_end)) return false;
  auto dict = ParseDict(window, header_end);
  if (!dict) {
    std::string_view at = window.substr(header_end, kProbeSpan);
    if (LooksBinary(at)) {
      Bad(offset, "PDF xref stream at " + Hex(offset) + ": dictionary holds " + DescribeBytes(at),
          true);
    }
    return false;
  }
  NoteDict(*dict);
  auto type = dict->Get("Type");
  if (!type || type->find("XRef") == std::string_view::npos) {
    Note("PDF startxref points at an object that is not an xref stream");
    return true;
  }
  QueueSection(dict->GetUint("Prev"));
  auto data_start = StreamDataStart(window, dict->end);
  auto filter = dict->Get("Filter");
  if (!data_start || !filter || !OnlyFilterIsFlate(*filter)) return true;
  std::size_t length = limits::kMaxPartProbe;
  if (auto l = dict->GetUint("Length")) length = std::min<uint64_t>(*l, length);
  std::string_view data = ReadAt(offset + *data_start, length);
  std::string decoded, error;
  if (Inflate(data, &decoded, &error) == Inflated::kCorrupt) {
    Bad(offset + *data_start,
        "PDF xref stream at " + Hex(offset) + " does not inflate (" + error + ")", true);
    return false;
  }
  // Decode the entries to learn object offsets (type 1 rows).
  std::vector<uint64_t> w = ParseUintArray(dict->Get("W").value_or(""), 3);
  if (w.size() != 3 || w[0] > 8 || w[1] > 8 || w[2] > 8 || w[1] == 0) return true;
  std::size_t row = w[0] + w[1] + w[2];
  if (auto parms = dict->Get("DecodeParms")) {
    auto pd = ParseDict(*parms, 0);
    uint64_t predictor = pd ? pd->GetUint("Predictor").value_or(1) : 1;
    if (predictor >= 10) {
      if (!UndoPngPredictor(decoded, pd->GetUint("Columns").value_or(1))) {
        Note("PDF xref stream at " + Hex(offset) + ": unsupported predictor rows");
        return true;
      }
    } else if (predictor != 1) {
      return true;
    }
  }
  std::vector<uint64_t> index = ParseUintArray(dict->Get("Index").value_or(""), 512);
  if (index.size() < 2) index = {0, dict->GetUint("Size").value_or(decoded.size() / row)};
  auto field = [&](std::size_t at, uint64_t width) {
    uint64_t v = 0;
    for (uint64_t i = 0; i < width; ++i) v = (v << 8) | static_cast<unsigned char>(decoded[at + i]);
    return v;
  };
  std::size_t pos = 0;
  int parsed = 0;
  for (std::size_t k = 0; k + 1 < index.size(); k += 2) {
    for (uint64_t i = 0; i < index[k + 1] && pos + row <= decoded.size(); ++i, pos += row) {
      if (++parsed > limits::kMaxPdfObjectsChecked) return true;
      uint64_t kind = w[0] == 0 ? 1 : field(pos, w[0]);
      if (kind == 1) {
        uint64_t off = field(pos + w[0], w[1]);
        if (off > 0) entries_.push_back({index[k] + i, off});
      }
    }
  }
  return true;
}

// Every sampled in-use xref entry must land on an "N G obj" header.
void PdfCheck::SampleObjects() {
  if (entries_.empty()) return;
  std::sort(entries_.begin(), entries_.end(),
            [](const XrefEntry& a, const XrefEntry& b) { return a.offset < b.offset; });
  // Evenly spaced entries, and the first object starting after each of the analyzer's sample
  // offsets (ciphertext in the middle of the file shows there first).
  std::vector<uint64_t> indices = EvenlySpaced(entries_.size(), limits::kMaxPdfXrefSamples);
  for (uint64_t at : SampledBlockOffsets(size_, 0, size_, limits::kSampleBlockBytes)) {
    const auto next =
        std::lower_bound(entries_.begin(), entries_.end(), at,
                         [](const XrefEntry& e, uint64_t offset) { return e.offset < offset; });
    if (next != entries_.end())
      indices.push_back(static_cast<std::size_t>(next - entries_.begin()));
  }
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  int checked = 0, missed_text = 0;
  for (const std::size_t idx : indices) {
    const XrefEntry& e = entries_[idx];
    if (e.offset >= size_) {
      Note("PDF xref entry " + std::to_string(e.number) + " points beyond the end of the file");
      continue;
    }
    ++checked;
    bool found = false;
    std::vector<uint64_t> bases{e.offset};
    if (header_offset_ > 0) bases.push_back(e.offset + header_offset_);
    for (uint64_t base : bases) {
      uint64_t from = base > kSlop ? base - kSlop : 0;
      std::string_view w = ReadAt(from, 2 * kSlop + kProbeSpan);
      for (std::size_t i = 0; i < w.size() && i <= 2 * kSlop && !found; ++i) {
        if (IsDigit(w[i]) && (i == 0 || !IsDigit(w[i - 1]))) {
          found = MatchObjHeader(w, i, nullptr, nullptr);
        }
      }
      if (found) break;
    }
    if (found) {
      ++ok_;
      continue;
    }
    std::string_view at = ReadAt(e.offset, kProbeSpan);
    if (LooksBinary(at)) {
      // Random bytes where an object must start: ciphertext, decisive on its own (a stale xref
      // of an edited file points at text or at other objects' bytes, not at uniform ones).
      const bool random = LooksRandom(ReadAt(e.offset, kRandomProbeBytes));
      Bad(e.offset,
          "PDF object header expected at " + Hex(e.offset) + " (xref entry " +
              std::to_string(e.number) + "), found " + DescribeBytes(at),
          random);
      if (random) report_.evidence = DamageEvidence::kRandom;
    } else {
      ++missed_text;
    }
  }
  if (missed_text > 0) {
    Note("PDF: " + std::to_string(missed_text) + " xref entries are off (readers repair this)");
  }
  Note("PDF: " + std::to_string(checked) + " of " + std::to_string(entries_.size()) +
       " xref entries checked");
}

// Object sequence and FlateDecode streams in the head and in the tail (both read anyway; catches
// damage in the first 64 KiB, including object streams of PDF 1.5+ files, and ciphertext over
// the last 64 KiB where an intact head and a garbled startxref leave no xref to follow).
void PdfCheck::ScanHeadAndTail() {
  ScanRegion(head_, 0, header_offset_);
  // Only the part of the tail the head does not hold, so that no object counts twice.
  if (tail_offset_ + tail_.size() > head_.size()) {
    const uint64_t from = head_.size() > tail_offset_ ? head_.size() - tail_offset_ : 0;
    ScanRegion(tail_, tail_offset_, from);
  }
}

void PdfCheck::ScanRegion(std::string_view h, uint64_t base, std::size_t from) {
  std::size_t pos = from;
  int objects = 0;
  // Skip past "endobj" for each object, checking that the next token is a header or a keyword.
  while (objects < limits::kMaxPdfObjectsChecked) {
    std::size_t end = h.find("endobj", pos);
    if (end == std::string_view::npos) break;
    pos = end + 6;
    std::size_t next = SkipWhiteAndComments(h, pos);
    if (next + 64 > h.size()) break;  // too close to the end of the region to judge
    ++objects;
    if (IsDigit(h[next]) && MatchObjHeader(h, next, nullptr, nullptr)) {
      ++ok_;
    } else if (KeywordAt(h, next, "xref") || KeywordAt(h, next, "trailer") ||
               KeywordAt(h, next, "startxref")) {
      // fine
    } else {
      std::string_view at = h.substr(next, kProbeSpan);
      if (LooksBinary(at)) {
        // Random bytes where the next object must start are ciphertext, as at an xref offset.
        const bool random = LooksRandom(h.substr(next, kRandomProbeBytes));
        Bad(base + next,
            "PDF object header expected at " + Hex(base + next) + " after endobj, found " +
                DescribeBytes(at),
            random);
        if (random) report_.evidence = DamageEvidence::kRandom;
      }
    }
  }
  if (encrypted_) return;  // encrypted streams do not inflate
  // Inflate probe of the region's first FlateDecode streams.
  std::size_t p = from;
  int probed = 0;
  for (int guard = 0;
       guard < limits::kMaxPdfObjectsChecked && probed < limits::kMaxPdfStreamsProbed; ++guard) {
    std::size_t kw = h.find("stream", p);
    if (kw == std::string_view::npos) break;
    p = kw + 6;
    if (kw >= 3 && h.substr(kw - 3, 3) == "end") continue;
    std::size_t obj = h.rfind(" obj", kw);
    std::size_t obj2 = h.rfind("\nobj", kw);
    if (obj2 != std::string_view::npos && (obj == std::string_view::npos || obj2 > obj)) obj = obj2;
    if (obj == std::string_view::npos || obj < from || kw - obj > 16 * limits::KiB) continue;
    auto dict = ParseDict(h, obj + 4);
    if (!dict) continue;
    if (SkipWhite(h, dict->end) != kw) continue;  // the dictionary must be this stream's
    auto data_start = StreamDataStart(h, dict->end);
    if (!data_start) continue;
    auto filter = dict->Get("Filter");
    if (!filter || !OnlyFilterIsFlate(*filter)) continue;
    std::size_t length = limits::kMaxPartProbe;
    if (auto l = dict->GetUint("Length")) length = std::min<uint64_t>(*l, length);
    std::string_view data = h.substr(*data_start, length);
    if (data.size() < 16) continue;
    ++probed;
    std::string error;
    if (Inflate(data, nullptr, &error) == Inflated::kCorrupt) {
      Bad(base + *data_start, "PDF FlateDecode stream at " + Hex(base + *data_start) +
                                  " does not inflate (" + error + ")");
    } else {
      ++ok_;
    }
  }
}

void PdfCheck::Decide() {
  if (linearized_) Note("PDF is linearized");
  if (fatal_ || bad_ >= 2 || (bad_ >= 1 && ok_ == 0)) {
    report_.integrity = Integrity::kDamaged;
    if (first_bad_ < size_) report_.damaged_ranges.push_back({first_bad_, size_ - first_bad_});
    return;
  }
  if (truncated_) {
    report_.integrity = Integrity::kTruncated;
    return;
  }
  if (encrypted_) {
    report_.integrity = Integrity::kEncryptedContainer;
    report_.reasons.push_back("PDF is encrypted (/Encrypt in the trailer)");
    return;
  }
  report_.integrity = Integrity::kValid;
}

class PdfValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "pdf"; }

  bool Matches(std::string_view head, uint64_t /*file_size*/) const override {
    std::size_t at = head.substr(0, kHeaderWindow + kPdfMagic.size()).find(kPdfMagic);
    if (at == std::string_view::npos) return false;
    // "%PDF-1.x": a version must follow.
    if (!(at + 7 <= head.size() && IsDigit(head[at + 5]) && head[at + 6] == '.')) return false;
    if (at == 0) return true;
    // Junk before the header (mail headers, printer commands) is legal, but text that merely
    // mentions "%PDF-" is not a PDF: require a line start and an object in the head.
    if (head[at - 1] != '\n' && head[at - 1] != '\r') return false;
    return head.find(" obj", at) != std::string_view::npos;
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "pdf";
    report.high_entropy_body = true;
    PdfCheck(reader, report).Run();
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakePdfValidator() {
  return std::make_unique<PdfValidator>();
}

}  // namespace steen::content
