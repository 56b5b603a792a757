// ISO base media file format validator (MP4, MOV, M4A, 3GP, HEIF/AVIF...): top-level boxes must
// chain exactly to EOF (an appended footer ends the chain: structure_end is the end of the last
// valid box), container boxes must be tiled exactly by their children, moov (or meta for HEIF)
// must be there, and for AVC/HEVC tracks a few samples located through stsc/stco/stsz must consist
// of length-prefixed NAL units that add up exactly to the sample size: body encryption breaks it.
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "content/sampling.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::ByteCursor;
using media::Hex;

constexpr int kSamplesChecked = 8;
constexpr uint32_t kMaxSamplesPerChunk = 1 << 16;
constexpr int kMaxNalsPerSample = 4096;
constexpr uint32_t kMaxTableEntriesChecked = 1u << 18;

struct Box {
  uint64_t start = 0;
  uint64_t header = 0;
  uint64_t size = 0;
  std::string type;
  uint64_t end() const { return start + size; }
  uint64_t body() const { return start + header; }
};

bool IsTypeChar(uint8_t ch) { return (ch >= 0x20 && ch <= 0x7e) || ch == 0xa9; }

bool IsTopLevelType(std::string_view t) {
  static constexpr std::string_view kTypes[] = {
      "ftyp", "moov", "mdat", "free", "skip", "wide", "uuid", "meta", "moof", "mfra",
      "styp", "sidx", "pdin", "udta", "pnot", "PICT", "prft", "emsg", "ssix", "junk",
      "jP  ", "bloc", "ssix", "ftyp", "cmov", "beam", "Xtra", "abst"};
  for (std::string_view k : kTypes) {
    if (t == k) return true;
  }
  return false;
}

bool IsContainer(std::string_view t) {
  static constexpr std::string_view kTypes[] = {"moov", "trak", "mdia", "minf", "stbl",
                                                "dinf", "edts", "mvex", "moof", "traf",
                                                "mfra", "iprp", "sinf", "schi", "meta"};
  for (std::string_view k : kTypes) {
    if (t == k) return true;
  }
  return false;
}

// Reads the box header at `pos`; nullopt when the bytes are not a box header that fits `limit`.
std::optional<Box> ReadBox(ByteCursor& c, uint64_t pos, uint64_t limit) {
  std::string_view h = c.Bytes(pos, 16);
  if (h.size() < 8) return std::nullopt;
  Box box;
  box.start = pos;
  box.header = 8;
  box.size = *LoadBE<uint32_t>(h, 0);
  for (int i = 4; i < 8; ++i) {
    if (!IsTypeChar(static_cast<uint8_t>(h[i]))) return std::nullopt;
  }
  box.type = std::string(h.substr(4, 4));
  if (box.size == 1) {
    if (h.size() < 16) return std::nullopt;
    box.size = *LoadBE<uint64_t>(h, 8);
    box.header = 16;
  } else if (box.size == 0) {
    box.size = limit - pos;
  }
  if (box.type == "uuid") box.header += 16;
  if (box.size < box.header) return std::nullopt;
  return box;
}

struct TrackInfo {
  std::string codec;  // sample entry type of the first stsd entry
  int nal_length_size = 0;
  uint64_t stsz = 0, stco = 0, stsc = 0;  // box body offsets (0 = absent)
  uint64_t stsz_end = 0, stco_end = 0;
  bool co64 = false;
};

struct MoovWalk {
  bool error = false;
  uint64_t error_at = 0;
  std::string reason;
  bool saw_mvhd = false;
  int boxes = 0;
  std::vector<TrackInfo> tracks;
};

void Fail(MoovWalk& w, uint64_t at, std::string reason) {
  if (w.error) return;
  w.error = true;
  w.error_at = at;
  w.reason = std::move(reason);
}

void ParseStsd(ByteCursor& c, const Box& stsd, TrackInfo& track) {
  // Full box header, entry count, then the first sample entry.
  auto entry = ReadBox(c, stsd.body() + 8, stsd.end());
  if (!entry || entry->end() > stsd.end()) return;
  track.codec = entry->type;
  const bool avc = track.codec == "avc1" || track.codec == "avc3";
  const bool hevc = track.codec == "hvc1" || track.codec == "hev1";
  if (!avc && !hevc) return;
  // Visual sample entry: 8 + 70 bytes before the child boxes.
  uint64_t pos = entry->body() + 78;
  for (int i = 0; i < 32 && pos + 8 <= entry->end(); ++i) {
    auto child = ReadBox(c, pos, entry->end());
    if (!child || child->end() > entry->end()) return;
    if (child->type == "avcC" && avc) {
      const int b = c.At(child->body() + 4);
      if (b >= 0) track.nal_length_size = (b & 3) + 1;
    } else if (child->type == "hvcC" && hevc) {
      const int b = c.At(child->body() + 21);
      if (b >= 0) track.nal_length_size = (b & 3) + 1;
    }
    pos = child->end();
  }
  if (track.nal_length_size == 3) track.nal_length_size = 0;  // not a legal length size
}

// Walks the children of `parent` (exact tiling required), recursing into containers.
void WalkChildren(ByteCursor& c, const Box& parent, int depth, MoovWalk& w, TrackInfo* track) {
  if (depth > limits::kMaxContainerDepth) return;
  uint64_t pos = parent.body();
  if (parent.type == "meta") {
    // ISO meta is a full box (4 bytes version/flags); QuickTime's is not.
    std::string_view probe = c.Bytes(pos + 4, 4);
    if (probe != "hdlr") pos += 4;
  }
  TrackInfo local;
  if (parent.type == "trak") track = &local;
  while (pos < parent.end() && !w.error) {
    if (++w.boxes > limits::kMaxChunksWalked) return;
    if (parent.end() - pos < 8) {
      // QuickTime ends some atom lists with a 32-bit zero terminator.
      std::string_view rest = c.Bytes(pos, static_cast<std::size_t>(parent.end() - pos));
      if (rest.find_first_not_of('\0') != std::string_view::npos) {
        Fail(w, pos,
             "box '" + parent.type + "' at " + Hex(parent.start) +
                 ": children do not fill it exactly");
      }
      break;
    }
    auto child = ReadBox(c, pos, parent.end());
    if (!child || child->end() > parent.end()) {
      std::string_view rest = c.Bytes(pos, 4);
      if (rest == std::string_view("\0\0\0\0", 4)) break;  // zero terminator / padding
      Fail(w, pos,
           "box '" + parent.type + "' at " + Hex(parent.start) + ": invalid child box header at " +
               Hex(pos));
      return;
    }
    if (child->type == "mvhd") w.saw_mvhd = true;
    if (track != nullptr) {
      if (child->type == "stsd") ParseStsd(c, *child, *track);
      if (child->type == "stsz") {
        track->stsz = child->body();
        track->stsz_end = child->end();
      }
      if (child->type == "stco" || child->type == "co64") {
        track->stco = child->body();
        track->stco_end = child->end();
        track->co64 = child->type == "co64";
      }
      if (child->type == "stsc") track->stsc = child->body();
    }
    if (IsContainer(child->type)) WalkChildren(c, *child, depth + 1, w, track);
    pos = child->end();
  }
  if (parent.type == "trak") w.tracks.push_back(local);
}

std::optional<uint32_t> Be32(ByteCursor& c, uint64_t pos) {
  return LoadBE<uint32_t>(c.Bytes(pos, 4), 0);
}

// Offset of chunk `index` (0-based) from stco/co64.
std::optional<uint64_t> ChunkOffset(ByteCursor& c, const TrackInfo& t, uint32_t index) {
  if (t.co64) return LoadBE<uint64_t>(c.Bytes(t.stco + 8 + 8 * uint64_t{index}, 8), 0);
  if (auto v = Be32(c, t.stco + 8 + 4 * uint64_t{index})) return *v;
  return std::nullopt;
}

// Walks the runs of stsc: for each, `visit(first_chunk, next_first, per_chunk, first_sample)`
// with the run's first chunk and the next run's (1-based), its samples per chunk and the index
// of its first sample; `visit` returns true to stop. False when the table does not read or its
// runs do not ascend.
template <typename Visit>
bool WalkStscRuns(ByteCursor& c, const TrackInfo& t, uint32_t chunk_count, Visit&& visit) {
  auto stsc_count = Be32(c, t.stsc + 4);
  if (!stsc_count) return false;
  uint64_t first_sample = 0;
  for (uint32_t e = 0; e < *stsc_count && e < static_cast<uint32_t>(limits::kMaxChunksWalked);
       ++e) {
    auto first_chunk = Be32(c, t.stsc + 8 + 12 * uint64_t{e});
    auto per_chunk = Be32(c, t.stsc + 12 + 12 * uint64_t{e});
    if (!first_chunk || !per_chunk || *first_chunk == 0) return false;
    uint32_t next_first = chunk_count + 1;
    if (e + 1 < *stsc_count) {
      auto nf = Be32(c, t.stsc + 8 + 12 * uint64_t{e + 1});
      if (!nf) return false;
      next_first = *nf;
    }
    if (next_first <= *first_chunk) return false;
    if (visit(*first_chunk, next_first, *per_chunk, first_sample)) return true;
    first_sample += uint64_t{next_first - *first_chunk} * *per_chunk;
  }
  return false;
}

// Offset and size of sample `index` (0-based) of `track`.
bool LocateSample(ByteCursor& c, const TrackInfo& t, uint32_t index, uint64_t* offset,
                  uint32_t* size) {
  auto constant_size = Be32(c, t.stsz + 4);
  if (!constant_size) return false;
  auto sample_size = [&](uint64_t i) -> std::optional<uint32_t> {
    if (*constant_size != 0) return *constant_size;
    return Be32(c, t.stsz + 12 + 4 * i);
  };
  auto stsc_count = Be32(c, t.stsc + 4);
  auto chunk_count = Be32(c, t.stco + 4);
  if (!stsc_count || !chunk_count || *stsc_count == 0) return false;
  bool found = false;
  bool bad = false;
  WalkStscRuns(
      c, t, *chunk_count,
      [&](uint32_t first_chunk, uint32_t next_first, uint32_t per_chunk, uint64_t first_sample) {
        if (per_chunk == 0) return bad = true;
        const uint64_t samples_here = uint64_t{next_first - first_chunk} * per_chunk;
        if (index >= first_sample + samples_here) return false;
        const uint32_t chunk =
            first_chunk - 1 + static_cast<uint32_t>((index - first_sample) / per_chunk);
        const uint32_t within = static_cast<uint32_t>((index - first_sample) % per_chunk);
        // Sizes of the samples before it in its chunk are summed: a hostile table
        // claiming millions of samples per chunk would make every lookup that long.
        if (chunk >= *chunk_count || within > kMaxSamplesPerChunk) return bad = true;
        auto pos = ChunkOffset(c, t, chunk);
        if (!pos) return bad = true;
        for (uint32_t k = 0; k < within; ++k) {
          auto s = sample_size(index - within + k);
          if (!s) return bad = true;
          *pos += *s;
        }
        auto s = sample_size(index);
        if (!s) return bad = true;
        *offset = *pos;
        *size = *s;
        return found = true;
      });
  return found && !bad;
}

// The first sample of `t` (of `count`) whose bytes end after file offset `at`: the chunk by
// bisection over chunk offsets (a track's chunks lie in file order), its first sample from stsc,
// then the samples in it; nullopt when none does or the tables do not read.
std::optional<uint32_t> FirstSampleEndingAfter(ByteCursor& c, const TrackInfo& t, uint32_t count,
                                               uint64_t at) {
  auto chunk_count = Be32(c, t.stco + 4);
  auto constant_size = Be32(c, t.stsz + 4);
  if (!chunk_count || !constant_size || *chunk_count == 0) return std::nullopt;
  // The last chunk starting at or before `at`, in [lo, hi).
  uint32_t lo = 0;
  uint32_t hi = *chunk_count;
  while (hi - lo > 1) {
    const uint32_t mid = lo + (hi - lo) / 2;
    auto offset = ChunkOffset(c, t, mid);
    if (!offset) return std::nullopt;
    (*offset <= at ? lo : hi) = mid;
  }
  const uint32_t chunk = lo;
  // The chunk's first sample and sample count, from the stsc run that holds it.
  uint64_t first_sample = 0;
  uint32_t per_chunk = 0;
  bool bad = false;
  WalkStscRuns(c, t, *chunk_count,
               [&](uint32_t first_chunk, uint32_t next_first, uint32_t per, uint64_t run_first) {
                 if (chunk + 1 >= next_first) return false;
                 if (chunk + 1 < first_chunk) return bad = true;
                 first_sample = run_first + uint64_t{chunk + 1 - first_chunk} * per;
                 per_chunk = per;
                 return true;
               });
  if (bad || per_chunk == 0 || per_chunk > kMaxSamplesPerChunk) return std::nullopt;
  auto pos = ChunkOffset(c, t, chunk);
  if (!pos) return std::nullopt;
  uint64_t end = *pos;
  for (uint32_t k = 0; k < per_chunk && first_sample + k < count; ++k) {
    const uint64_t index = first_sample + k;
    auto sample_size = *constant_size != 0 ? constant_size : Be32(c, t.stsz + 12 + 4 * index);
    if (!sample_size) return std::nullopt;
    end += *sample_size;
    if (end > at) return static_cast<uint32_t>(index);
  }
  // Nothing of this chunk reaches past `at`: the next chunk's first sample.
  const uint64_t next = first_sample + per_chunk;
  if (next >= count) return std::nullopt;
  return static_cast<uint32_t>(next);
}

// Empty when the sample size and chunk offset tables fit the file (declared size `bound`);
// random bytes in them give sizes and offsets far beyond it.
std::string CheckSampleTables(ByteCursor& c, const TrackInfo& t, uint64_t bound) {
  if (t.stsz != 0) {
    auto constant = Be32(c, t.stsz + 4);
    auto count = Be32(c, t.stsz + 8);
    if (!constant || !count) return "";
    if (*constant == 0) {
      if (t.stsz + 12 + 4 * uint64_t{*count} > t.stsz_end)
        return "stsz: sample count exceeds the box";
      const uint32_t n = std::min<uint32_t>(*count, kMaxTableEntriesChecked);
      for (uint32_t i = 0; i < n; ++i) {
        auto v = Be32(c, t.stsz + 12 + 4 * uint64_t{i});
        if (!v) return "";
        if (*v > bound) return "stsz: sample " + std::to_string(i) + " larger than the file";
      }
    } else if (*constant > bound) {
      return "stsz: sample size larger than the file";
    }
  }
  if (t.stco != 0) {
    auto count = Be32(c, t.stco + 4);
    if (!count) return "";
    const uint64_t entry = t.co64 ? 8 : 4;
    if (t.stco + 8 + entry * *count > t.stco_end) return "stco: chunk count exceeds the box";
    const uint32_t n = std::min<uint32_t>(*count, kMaxTableEntriesChecked);
    for (uint32_t i = 0; i < n; ++i) {
      std::string_view b = c.Bytes(t.stco + 8 + entry * i, entry);
      std::optional<uint64_t> v =
          t.co64 ? LoadBE<uint64_t>(b, 0) : std::optional<uint64_t>(LoadBE<uint32_t>(b, 0));
      if (!v) return "";
      if (*v >= bound) return "stco: chunk " + std::to_string(i) + " offset beyond the file";
    }
  }
  return "";
}

// Empty when the sample's NAL units chain exactly; otherwise what is wrong.
std::string CheckNalChain(ByteCursor& c, const TrackInfo& t, uint64_t offset, uint32_t size) {
  const bool hevc = t.codec[0] == 'h';
  uint64_t pos = offset;
  const uint64_t end = offset + size;
  for (int n = 0; n < kMaxNalsPerSample && pos < end; ++n) {
    std::string_view prefix = c.Bytes(pos, t.nal_length_size + 2);
    if (prefix.size() < static_cast<std::size_t>(t.nal_length_size + 1)) return "sample past EOF";
    uint64_t length = 0;
    for (int i = 0; i < t.nal_length_size; ++i)
      length = length << 8 | static_cast<uint8_t>(prefix[i]);
    const uint8_t nal = static_cast<uint8_t>(prefix[t.nal_length_size]);
    if (length == 0 || pos + t.nal_length_size + length > end) return "NAL length does not fit";
    if (nal & 0x80) return "NAL forbidden bit set";
    if (!hevc && (nal & 0x1f) == 0) return "NAL type 0";
    if (hevc && prefix.size() >= static_cast<std::size_t>(t.nal_length_size + 2) &&
        (static_cast<uint8_t>(prefix[t.nal_length_size + 1]) & 7) == 0) {
      return "HEVC temporal id 0";  // nuh_temporal_id_plus1 must not be 0
    }
    pos += t.nal_length_size + length;
  }
  return pos == end ? "" : "NAL units do not fill the sample";
}

std::string FormatFromBrand(std::string_view brand, std::string_view compatible) {
  if (brand == "qt  ") return "mov";
  if (brand == "M4A " || brand == "M4B " || brand == "M4P ") return brand == "M4B " ? "m4b" : "m4a";
  if (brand == "M4V " || brand == "M4VH" || brand == "M4VP") return "m4v";
  if (brand.substr(0, 3) == "3gp" || brand.substr(0, 3) == "3gs") return "3gp";
  if (brand.substr(0, 3) == "3g2") return "3g2";
  if (brand == "avif" || brand == "avis") return "avif";
  if (brand == "heic" || brand == "heix" || brand == "heim" || brand == "heis" || brand == "hevc" ||
      brand == "hevx") {
    return "heic";
  }
  if (brand == "mif1" || brand == "msf1") {
    if (compatible.find("avif") != std::string_view::npos) return "avif";
    if (compatible.find("heic") != std::string_view::npos) return "heic";
    return "heif";
  }
  if (brand == "crx ") return "cr3";
  if (brand == "f4v ") return "f4v";
  return "mp4";
}

class IsoBmffValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "isobmff"; }

  bool Matches(std::string_view head, uint64_t) const override {
    if (head.size() < 12) return false;
    const std::string_view type = head.substr(4, 4);
    if (type == "ftyp") return true;
    // Old QuickTime files start directly with one of these atoms.
    const uint32_t size = *LoadBE<uint32_t>(head, 0);
    return (type == "moov" || type == "mdat" || type == "wide" || type == "pnot" ||
            type == "skip") &&
           (size == 0 || size >= 8);
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "mp4";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    ByteCursor c(reader);
    uint64_t pos = 0;
    std::optional<Box> moov;
    std::optional<Box> meta;
    bool has_ftyp = false;
    bool fragmented = false;
    uint64_t declared_end = 0;  // end of a box that runs past EOF (truncated file)
    int boxes = 0;
    for (; pos < size && boxes < limits::kMaxChunksWalked; ++boxes) {
      auto box = ReadBox(c, pos, size);
      if (!box ||
          (!IsTopLevelType(box->type) && box->end() != size && !NextIsKnown(c, box->end(), size))) {
        if (boxes == 0) {
          media::MarkDamaged(report, 0, size, "ISO BMFF: no valid first box");
          return report;
        }
        break;  // trailing bytes after the last box
      }
      if (box->end() > size) {
        if (!IsTopLevelType(box->type)) break;
        declared_end = box->end();
        report.integrity = Integrity::kTruncated;
        report.reasons.push_back("box '" + box->type + "' at " + Hex(pos) +
                                 " runs past the end of the file");
        break;
      }
      if (boxes == 0 && box->type == "ftyp") {
        has_ftyp = true;
        std::string_view ftyp =
            c.Bytes(box->body(), static_cast<std::size_t>(std::min<uint64_t>(box->size, 256)));
        report.format =
            FormatFromBrand(ftyp.substr(0, 4), ftyp.substr(std::min<std::size_t>(8, ftyp.size())));
      }
      if (box->type == "moov" && !moov) moov = box;
      if (box->type == "meta" && !meta) meta = box;
      if (box->type == "moof") fragmented = true;
      pos = box->end();
    }
    if (!has_ftyp) report.format = "mov";
    report.structure_end = pos;
    const bool image =
        report.format == "heic" || report.format == "heif" || report.format == "avif";
    if (!moov && !(image && meta)) {
      if (report.integrity == Integrity::kTruncated) return report;
      media::MarkDamaged(report, pos, size - pos,
                         std::string("ISO BMFF: ") + (image ? "meta" : "moov") +
                             " box missing; top-level boxes stop at " + Hex(pos));
      return report;
    }
    MoovWalk w;
    const Box& root = moov ? *moov : *meta;
    WalkChildren(c, root, 1, w, nullptr);
    if (w.error) {
      media::MarkDamaged(report, w.error_at, root.end() - w.error_at, w.reason);
      return report;
    }
    if (moov && !w.saw_mvhd) {
      media::MarkDamaged(report, moov->start, moov->size, "ISO BMFF: moov without mvhd");
      return report;
    }
    if (!reader.status().ok()) return report;
    for (const TrackInfo& t : w.tracks) {
      const std::string problem = CheckSampleTables(c, t, std::max(declared_end, size));
      if (!problem.empty()) {
        media::MarkDamaged(report, root.start, root.size, "ISO BMFF sample table: " + problem);
        return report;
      }
    }
    // Samples of AVC/HEVC tracks: NAL length prefixes must chain to the sample size.
    if (!fragmented) {
      for (const TrackInfo& t : w.tracks) {
        if (t.nal_length_size == 0 || t.stsz == 0 || t.stco == 0 || t.stsc == 0) continue;
        auto count = Be32(c, t.stsz + 8);
        if (!count || *count == 0) continue;
        // Evenly spaced samples, and the samples at the analyzer's sample offsets (the first of
        // this track ending after each), where ciphertext in the middle of mdat shows.
        std::vector<uint32_t> indices;
        for (int i = 0; i < kSamplesChecked; ++i) {
          indices.push_back(
              static_cast<uint32_t>(uint64_t{*count - 1} * i / (kSamplesChecked - 1)));
        }
        for (uint64_t at : SampledBlockOffsets(size, 0, size, limits::kSampleBlockBytes)) {
          if (auto index = FirstSampleEndingAfter(c, t, *count, at)) indices.push_back(*index);
        }
        std::sort(indices.begin(), indices.end());
        indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
        for (const uint32_t index : indices) {
          uint64_t offset = 0;
          uint32_t sample_size = 0;
          if (!LocateSample(c, t, index, &offset, &sample_size)) break;
          if (offset + sample_size > size) {
            if (report.integrity == Integrity::kValid) {
              report.integrity = Integrity::kTruncated;
              report.reasons.push_back("sample " + std::to_string(index) + " lies past the end");
            }
            break;
          }
          const std::string problem = CheckNalChain(c, t, offset, sample_size);
          if (!problem.empty()) {
            media::MarkDamaged(report, offset, sample_size,
                               "ISO BMFF " + t.codec + " sample " + std::to_string(index) + " at " +
                                   Hex(offset) + ": " + problem);
            return report;
          }
        }
        report.reasons.push_back("ISO BMFF " + t.codec + " samples: NAL units chain");
      }
    }
    report.reasons.push_back("ISO BMFF: " + std::to_string(boxes) + " top-level boxes chain to " +
                             Hex(pos));
    if (pos < size)
      report.reasons.push_back(std::to_string(size - pos) + " bytes after the last box");
    return report;
  }

 private:
  static bool NextIsKnown(ByteCursor& c, uint64_t pos, uint64_t size) {
    if (pos > size) return false;
    auto next = ReadBox(c, pos, size);
    return next && IsTopLevelType(next->type);
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeIsoBmffValidator() {
  return std::make_unique<IsoBmffValidator>();
}

}  // namespace steen::content
