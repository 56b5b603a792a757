// Matroska / WebM validator: EBML header (DocType names the format), then the Segment whose
// top-level elements (SeekHead, Info, Tracks, Cluster, Cues...) must chain with valid EBML IDs and
// sizes; clusters of unknown size (live streams) are walked child by child. The children of the
// metadata elements and of clusters in the head, the tail and a few sampled clusters are walked
// too, and SimpleBlocks must name a track declared in Tracks.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "content/bytes.h"
#include "content/format.h"
#include "content/formats/media_formats.h"
#include "steen/limits.h"

namespace steen::content {
namespace {

using media::Hex;

constexpr uint64_t kUnknownSize = ~uint64_t{0};
constexpr int kClustersSampled = 8;

constexpr uint32_t kEbml = 0x1A45DFA3, kSegment = 0x18538067, kCluster = 0x1F43B675,
                   kTracks = 0x1654AE6B, kTrackEntry = 0xAE, kTrackNumber = 0xD7,
                   kSimpleBlock = 0xA3, kBlockGroup = 0xA0, kBlock = 0xA1, kDocType = 0x4282,
                   kVoid = 0xEC, kCrc32 = 0xBF;

bool IsSegmentChild(uint32_t id) {
  switch (id) {
    case 0x114D9B74:
    case 0x1549A966:
    case kTracks:
    case kCluster:
    case 0x1C53BB6B:
    case 0x1941A469:
    case 0x1043A770:
    case 0x1254C367:
    case kVoid:
    case kCrc32:
      return true;
    default:
      return false;
  }
}

bool IsClusterChild(uint32_t id) {
  switch (id) {
    case 0xE7:
    case kSimpleBlock:
    case kBlockGroup:
    case 0xA7:
    case 0xAB:
    case 0x5854:
    case kVoid:
    case kCrc32:
    case 0xAF:  // EncryptedBlock (deprecated)
      return true;
    default:
      return false;
  }
}

struct Element {
  uint64_t start = 0;
  uint32_t id = 0;
  uint64_t size = 0;  // kUnknownSize when unknown
  uint64_t body = 0;
  uint64_t end() const { return size == kUnknownSize ? kUnknownSize : body + size; }
};

// Reads a variable-length integer at `at`: length and value (marker removed unless keep_marker).
std::optional<std::pair<int, uint64_t>> ReadVint(std::string_view b, std::size_t at,
                                                 bool keep_marker) {
  if (at >= b.size()) return std::nullopt;
  const uint8_t first = static_cast<uint8_t>(b[at]);
  if (first == 0) return std::nullopt;
  int length = 1;
  while (!(first & (0x80 >> (length - 1)))) ++length;
  if (at + length > b.size()) return std::nullopt;
  uint64_t value = keep_marker ? first : first & (0xFF >> length);
  bool all_ones = value == (0xFFu >> length);
  for (int i = 1; i < length; ++i) {
    const uint8_t byte = static_cast<uint8_t>(b[at + i]);
    all_ones = all_ones && byte == 0xFF;
    value = value << 8 | byte;
  }
  if (!keep_marker && all_ones) value = kUnknownSize;
  return std::make_pair(length, value);
}

std::optional<Element> ReadElement(media::ByteCursor& c, uint64_t pos) {
  std::string_view b = c.Bytes(pos, 12);
  auto id = ReadVint(b, 0, true);
  if (!id || id->first > 4) return std::nullopt;
  auto size = ReadVint(b, id->first, false);
  if (!size) return std::nullopt;
  Element e;
  e.start = pos;
  e.id = static_cast<uint32_t>(id->second);
  e.size = size->second;
  e.body = pos + id->first + size->first;
  return e;
}

class MatroskaValidator final : public FormatValidator {
 public:
  std::string_view name() const override { return "matroska"; }

  bool Matches(std::string_view head, uint64_t) const override {
    return StartsWith(head, "\x1A\x45\xDF\xA3");
  }

  FormatReport Validate(Reader& reader) const override {
    FormatReport report;
    report.format = "mkv";
    report.high_entropy_body = true;
    const uint64_t size = reader.size();
    media::PrimeHeadAndTail(reader);
    media::ByteCursor c(reader);
    auto header = ReadElement(c, 0);
    if (!header || header->id != kEbml || header->size == kUnknownSize || header->size > 4096) {
      media::MarkDamaged(report, 0, size, "EBML header invalid");
      return report;
    }
    std::string problem;
    uint64_t bad_at = 0;
    std::string doc_type;
    WalkChildren(
        c, *header,
        [&](const Element& e) {
          if (e.id == kDocType && e.size < 64) doc_type = std::string(c.Bytes(e.body, e.size));
        },
        &problem, &bad_at);
    if (!problem.empty()) return Damaged(report, size, bad_at, problem);
    if (doc_type == "webm") report.format = "webm";
    if (doc_type != "webm" && doc_type != "matroska") {
      report.reasons.push_back("EBML DocType '" + doc_type + "' is not Matroska");
      return report;
    }
    auto segment = ReadElement(c, header->end());
    if (!segment) return Truncated(report, "no Segment after the EBML header");
    if (segment->id != kSegment)
      return Damaged(report, size, segment->start, "EBML: Segment element missing");
    const uint64_t segment_end = segment->size == kUnknownSize ? size : segment->end();
    // Top-level walk.
    std::set<uint64_t> tracks;
    std::vector<Element> clusters;
    uint64_t pos = segment->body;
    int elements = 0;
    bool truncated = false;
    while (pos < std::min(segment_end, size) && elements++ < limits::kMaxChunksWalked) {
      auto e = ReadElement(c, pos);
      if (!e) {
        if (size - pos < 12) {
          truncated = true;
          break;
        }
        return Damaged(report, size, pos, "Matroska: invalid element header at " + Hex(pos));
      }
      if (!IsSegmentChild(e->id)) {
        if (segment->size == kUnknownSize && elements > 1) break;  // trailing bytes
        return Damaged(report, size, pos,
                       "Matroska: unexpected element ID " + Hex(e->id) + " at " + Hex(pos));
      }
      if (e->size == kUnknownSize) {
        if (e->id != kCluster)
          return Damaged(report, size, pos, "Matroska: unknown-size element at " + Hex(pos));
        pos = SkipUnknownCluster(c, *e, segment_end, &problem, &bad_at, tracks);
        if (!problem.empty()) return Damaged(report, size, bad_at, problem);
        continue;
      }
      if (e->end() > segment_end && segment->size != kUnknownSize) {
        if (segment_end > size && e->end() > size) {
          truncated = true;
          break;
        }
        return Damaged(report, size, pos,
                       "Matroska element at " + Hex(pos) + " exceeds its Segment");
      }
      if (e->end() > size) {
        truncated = true;
        break;
      }
      if (e->id == kTracks) ReadTracks(c, *e, tracks);
      if (e->id == kCluster) {
        clusters.push_back(*e);
      } else if (e->id != kVoid && e->size <= limits::kHeadBytes) {
        WalkChildren(
            c, *e, [](const Element&) {}, &problem, &bad_at);
        if (!problem.empty()) return Damaged(report, size, bad_at, problem);
      }
      pos = e->end();
    }
    // Clusters: the first and last ones and a sample in between, child by child.
    if (!clusters.empty()) {
      std::vector<std::size_t> picks = {0, clusters.size() - 1};
      for (int k = 1; k <= kClustersSampled; ++k)
        picks.push_back(clusters.size() * k / (kClustersSampled + 1));
      for (std::size_t i : picks) {
        if (i >= clusters.size()) continue;
        CheckCluster(c, clusters[i], tracks, &problem, &bad_at);
        if (!problem.empty()) return Damaged(report, size, bad_at, problem);
      }
    }
    if (truncated) return Truncated(report, "Matroska: an element runs past the end of the file");
    report.structure_end = segment->size == kUnknownSize ? pos : segment_end;
    if (report.structure_end > size)
      return Truncated(report, "Matroska Segment runs past the end of the file");
    report.reasons.push_back("Matroska: " + std::to_string(elements) + " top-level elements and " +
                             std::to_string(clusters.size()) + " clusters chain to " +
                             Hex(report.structure_end));
    return report;
  }

 private:
  template <typename F>
  static void WalkChildren(media::ByteCursor& c, const Element& parent, F&& visit,
                           std::string* problem, uint64_t* bad_at) {
    uint64_t pos = parent.body;
    const uint64_t end = std::min(parent.end(), c.size());
    for (int n = 0; pos < end && n < limits::kMaxChunksWalked; ++n) {
      auto e = ReadElement(c, pos);
      if (!e || e->size == kUnknownSize || e->end() > parent.end()) {
        if (e && e->end() > c.size()) return;  // truncated: reported by the caller
        *problem = "Matroska element at " + Hex(parent.start) + ": invalid child at " + Hex(pos);
        *bad_at = pos;
        return;
      }
      visit(*e);
      pos = e->end();
    }
  }

  static void ReadTracks(media::ByteCursor& c, const Element& tracks_element,
                         std::set<uint64_t>& tracks) {
    std::string problem;
    uint64_t bad_at = 0;
    WalkChildren(
        c, tracks_element,
        [&](const Element& entry) {
          if (entry.id != kTrackEntry) return;
          WalkChildren(
              c, entry,
              [&](const Element& field) {
                if (field.id == kTrackNumber && field.size >= 1 && field.size <= 8) {
                  std::string_view v = c.Bytes(field.body, field.size);
                  uint64_t n = 0;
                  for (char ch : v) n = n << 8 | static_cast<uint8_t>(ch);
                  tracks.insert(n);
                }
              },
              &problem, &bad_at);
        },
        &problem, &bad_at);
  }

  static bool BlockTrackOk(media::ByteCursor& c, const Element& block,
                           const std::set<uint64_t>& tracks) {
    if (tracks.empty()) return true;
    auto track = ReadVint(c.Bytes(block.body, 8), 0, false);
    return track && tracks.count(track->second) != 0;
  }

  static void CheckCluster(media::ByteCursor& c, const Element& cluster,
                           const std::set<uint64_t>& tracks, std::string* problem,
                           uint64_t* bad_at) {
    WalkChildren(
        c, cluster,
        [&](const Element& e) {
          if (!problem->empty()) return;
          if (!IsClusterChild(e.id)) {
            *problem = "Matroska cluster at " + Hex(cluster.start) + ": unexpected element " +
                       Hex(e.id) + " at " + Hex(e.start);
            *bad_at = e.start;
          } else if (e.id == kSimpleBlock && !BlockTrackOk(c, e, tracks)) {
            *problem = "Matroska SimpleBlock at " + Hex(e.start) + ": unknown track";
            *bad_at = e.start;
          }
        },
        problem, bad_at);
  }

  // Walks the children of a cluster of unknown size; returns where the next top-level element is.
  static uint64_t SkipUnknownCluster(media::ByteCursor& c, const Element& cluster, uint64_t end,
                                     std::string* problem, uint64_t* bad_at,
                                     const std::set<uint64_t>& tracks) {
    uint64_t pos = cluster.body;
    for (int n = 0; pos < std::min(end, c.size()) && n < limits::kMaxChunksWalked; ++n) {
      auto e = ReadElement(c, pos);
      if (!e) break;
      if (IsSegmentChild(e->id) && e->id != kVoid && e->id != kCrc32) return pos;
      if (!IsClusterChild(e->id) || e->size == kUnknownSize ||
          (e->id == kSimpleBlock && !BlockTrackOk(c, *e, tracks))) {
        *problem = "Matroska cluster at " + Hex(cluster.start) + ": invalid element at " + Hex(pos);
        *bad_at = pos;
        return pos;
      }
      pos = e->end();
    }
    return std::min(pos, c.size());
  }

  static FormatReport Damaged(FormatReport& report, uint64_t size, uint64_t at,
                              std::string reason) {
    report.integrity = Integrity::kDamaged;
    report.reasons.push_back(std::move(reason));
    report.damaged_ranges.push_back({at, size > at ? size - at : 0});
    return report;
  }

  static FormatReport Truncated(FormatReport& report, std::string reason) {
    report.integrity = Integrity::kTruncated;
    report.reasons.push_back(std::move(reason));
    return report;
  }
};

}  // namespace

std::unique_ptr<const FormatValidator> MakeMatroskaValidator() {
  return std::make_unique<MatroskaValidator>();
}

}  // namespace steen::content
