// VP8 key-frame parse (RFC 6386 sections 7, 9, 11, 13 and 19): the bool decoder, the frame
// header, each macroblock's modes from the first partition and its coefficient tokens from the
// token partitions, kept only as far as the contexts the next symbols depend on.
#include "content/formats/vp8_frame.h"

#include <algorithm>
#include <array>
#include <bit>
#include <vector>

namespace steen::content::media {
namespace {

#include "content/formats/vp8_tables.inc"

// An encoder flushes its bool coder with a few bytes of zeros (libwebp 1-3, libvpx 4): a
// partition is what was decoded when, after its last symbol, it holds at most this many bits
// (8-23 in 1,100 frames of libwebp's) that decode as zeros, and decoding did not read past its end.
constexpr int64_t kMaxUnreadBits = 48;
constexpr int64_t kMaxOverrunBits = 0;

// RFC 6386 section 7: the boolean entropy decoder. `value_` holds every loaded bit not yet shifted
// out of the 8-bit window (`bits_` of them below it); bytes past the end read as zeros.
class BoolDecoder {
 public:
  BoolDecoder() = default;
  explicit BoolDecoder(std::string_view bytes)
      : next_(reinterpret_cast<const uint8_t*>(bytes.data())),
        end_(next_ + bytes.size()),
        size_(bytes.size()) {}

  bool Bit(unsigned prob) {
    if (bits_ < 0) Load();
    ++bools_;
    const uint32_t split = 1 + (((range_ - 1) * prob) >> 8);
    const uint64_t big_split = uint64_t{split} << bits_;
    bool bit = false;
    if (value_ >= big_split) {
      range_ -= split;
      value_ -= big_split;
      bit = true;
    } else {
      range_ = split;
    }
    const int shift = std::countl_zero(range_) - 24;  // range_ back into [128, 255]
    range_ <<= shift;
    bits_ -= shift;
    shifted_ += static_cast<uint64_t>(shift);
    return bit;
  }

  uint32_t Literal(int n) {
    uint32_t v = 0;
    while (n-- > 0) v = (v << 1) | (Bit(128) ? 1u : 0u);
    return v;
  }

  // A flag, then (when set) an n-bit magnitude and a sign: the header's optional values.
  void SkipOptionalSigned(int n) {
    if (Bit(128)) (void)Literal(n + 1);
  }

  // Bits the partition holds beyond what decoding consumed (the 8-bit window counts as
  // consumed); negative when decoding read past its end.
  int64_t UnreadBits() const {
    return static_cast<int64_t>(size_ * 8) - static_cast<int64_t>(8 + shifted_);
  }
  bool RanPastEnd() const { return UnreadBits() < -kMaxOverrunBits; }
  // After the last symbol: the bits left in the partition decode as the encoder's flush (zeros).
  bool EndsWithFlush() const {
    if (UnreadBits() > kMaxUnreadBits || RanPastEnd()) return false;
    BoolDecoder rest = *this;
    while (rest.UnreadBits() > 0) {
      if (rest.Bit(128) != 0) return false;
    }
    return true;
  }
  uint64_t bools() const { return bools_; }
  uint64_t size() const { return size_; }

 private:
  void Load() {
    if (end_ - next_ >= 6) {
      uint64_t word = 0;
      for (int i = 0; i < 6; ++i) word = (word << 8) | next_[i];
      next_ += 6;
      value_ = (value_ << 48) | word;
      bits_ += 48;
      return;
    }
    while (bits_ < 0) {
      value_ = (value_ << 8) | (next_ < end_ ? *next_++ : 0u);
      bits_ += 8;
    }
  }

  const uint8_t* next_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint64_t size_ = 0;
  uint64_t value_ = 0;  // unsigned: a corrupt stream only wraps it, deterministically
  int bits_ = -8;
  uint32_t range_ = 255;
  uint64_t shifted_ = 0;
  uint64_t bools_ = 0;
};

// Trees of RFC 6386 (tree_index arrays: a leaf is the negated value).
constexpr std::array<int8_t, 6> kSegmentTree = {2, 4, -0, -1, -2, -3};
enum MacroblockMode : int8_t { kDcPred, kVPred, kHPred, kTmPred, kBPred };
constexpr std::array<int8_t, 8> kKeyFrameYModeTree = {-kBPred,  2,       4,       6,
                                                      -kDcPred, -kVPred, -kHPred, -kTmPred};
constexpr std::array<uint8_t, 4> kKeyFrameYModeProbs = {145, 156, 163, 128};
constexpr std::array<int8_t, 6> kUvModeTree = {-kDcPred, 2, -kVPred, 4, -kHPred, -kTmPred};
constexpr std::array<uint8_t, 3> kKeyFrameUvModeProbs = {142, 114, 183};
enum SubblockMode : int8_t {
  kBDc,
  kBTm,
  kBVe,
  kBHe,
  kBLd,
  kBRd,
  kBVr,
  kBVl,
  kBHd,
  kBHu  // NOLINT(readability-identifier-naming)
};
constexpr std::array<int8_t, 18> kSubblockModeTree = {-kBDc, 2,  -kBTm, 4,  -kBVe, 6,
                                                      8,     12, -kBHe, 10, -kBRd, -kBVr,
                                                      -kBLd, 14, -kBVl, 16, -kBHd, -kBHu};
// The subblock mode a 16x16 luma mode stands for in its neighbours' contexts (section 11.3).
constexpr std::array<int8_t, 4> kImpliedSubblockMode = {kBDc, kBVe, kBHe, kBTm};

constexpr std::array<uint8_t, 16> kCoeffBands = {0, 1, 2, 3, 6, 4, 5, 6, 6, 6, 6, 6, 6, 6, 6, 7};
constexpr std::size_t kProbsPerContext = 11;
constexpr std::size_t kProbsPerBand = 3 * kProbsPerContext;
constexpr std::size_t kProbsPerPlane = 8 * kProbsPerBand;
enum Plane { kYAfterY2 = 0, kY2 = 1, kChroma = 2, kYWithDc = 3 };
// Extra bits of the categories 3 to 6 (section 13.2), zero-terminated.
constexpr uint8_t kCat3[] = {173, 148, 140, 0};
constexpr uint8_t kCat4[] = {176, 155, 140, 135, 0};
constexpr uint8_t kCat5[] = {180, 157, 141, 134, 130, 0};
constexpr uint8_t kCat6[] = {254, 254, 243, 230, 196, 177, 153, 140, 133, 130, 129, 0};
constexpr const uint8_t* kCategoryExtraBits[] = {kCat3, kCat4, kCat5, kCat6};

// Where kf_bmode_prob's row for the modes above and to the left starts.
std::size_t SubblockContext(int8_t above, int8_t left) {
  return (static_cast<std::size_t>(static_cast<uint8_t>(above)) * 10 + static_cast<uint8_t>(left)) *
         9;
}

template <std::size_t N>
int ReadTree(BoolDecoder& d, const std::array<int8_t, N>& tree, const uint8_t* probs) {
  int i = 0;
  do {
    const std::size_t branch = static_cast<std::size_t>(i) + (d.Bit(probs[i >> 1]) ? 1 : 0);
    i = tree[branch];
  } while (i > 0);
  return -i;
}

struct FrameHeader {
  int mb_width = 0;
  int mb_height = 0;
  bool segment_map_updated = false;
  std::array<uint8_t, 3> segment_probs = {255, 255, 255};
  int partitions = 1;
  bool skip_flags = false;
  uint8_t skip_prob = 0;
  std::array<uint8_t, 4 * kProbsPerPlane> coeff_probs{};
};

// Section 9 / 19.2: everything in the first partition before the macroblocks.
void ReadFrameHeader(BoolDecoder& d, FrameHeader& h) {
  (void)d.Literal(2);  // color space, clamping type
  if (d.Bit(128)) {    // segmentation enabled
    h.segment_map_updated = d.Bit(128);
    const bool data_updated = d.Bit(128);
    if (data_updated) {
      (void)d.Bit(128);                                     // absolute or delta values
      for (int i = 0; i < 4; ++i) d.SkipOptionalSigned(7);  // quantizer
      for (int i = 0; i < 4; ++i) d.SkipOptionalSigned(6);  // loop filter level
    }
    if (h.segment_map_updated) {
      for (uint8_t& p : h.segment_probs) p = d.Bit(128) ? static_cast<uint8_t>(d.Literal(8)) : 255;
    }
  }
  (void)d.Literal(1 + 6 + 3);      // filter type, level, sharpness
  if (d.Bit(128) && d.Bit(128)) {  // loop filter deltas enabled, and updated
    for (int i = 0; i < 8; ++i) d.SkipOptionalSigned(6);
  }
  h.partitions = 1 << d.Literal(2);
  (void)d.Literal(7);                                   // y_ac_qi
  for (int i = 0; i < 5; ++i) d.SkipOptionalSigned(4);  // the five quantizer deltas
  (void)d.Bit(128);                                     // refresh_entropy_probs
  std::copy(std::begin(kDefaultCoeffProbs), std::end(kDefaultCoeffProbs), h.coeff_probs.begin());
  for (std::size_t i = 0; i < h.coeff_probs.size(); ++i) {
    if (d.Bit(kCoeffUpdateProbs[i])) h.coeff_probs[i] = static_cast<uint8_t>(d.Literal(8));
  }
  h.skip_flags = d.Bit(128);
  if (h.skip_flags) h.skip_prob = static_cast<uint8_t>(d.Literal(8));
}

// One 4x4 block's tokens (section 13); true when it holds a non-zero coefficient. Decodes with
// a local copy of the decoder: through `decoder`, every probability byte read could alias its
// state, which the compiler would then keep in memory (a third of the parse's time).
bool ReadBlockTokens(BoolDecoder& decoder, const uint8_t* plane_probs, int context, int first) {
  BoolDecoder d = decoder;
  bool nonzero = false;
  bool after_zero = false;
  const uint8_t* p = plane_probs + kCoeffBands[first] * kProbsPerBand +
                     static_cast<std::size_t>(context) * kProbsPerContext;
  for (int n = first; n < 16;) {
    if (!after_zero && !d.Bit(p[0])) break;  // end of block
    int next_context = 0;
    if (!d.Bit(p[1])) {
      after_zero = true;  // DCT_0: no end of block may follow
    } else {
      nonzero = true;
      after_zero = false;
      next_context = 1;
      if (d.Bit(p[2])) {  // larger than one
        next_context = 2;
        if (!d.Bit(p[3])) {
          if (d.Bit(p[4])) (void)d.Bit(p[5]);  // 2, or 3 and 4
        } else if (!d.Bit(p[6])) {
          if (!d.Bit(p[7])) {
            (void)d.Bit(159);  // category 1
          } else {
            (void)d.Bit(165);  // category 2
            (void)d.Bit(145);
          }
        } else {
          const int high = d.Bit(p[8]) ? 1 : 0;
          const int low = d.Bit(p[9 + high]) ? 1 : 0;
          for (const uint8_t* extra = kCategoryExtraBits[2 * high + low]; *extra != 0; ++extra) {
            (void)d.Bit(*extra);
          }
        }
      }
      (void)d.Bit(128);  // sign
    }
    if (++n < 16) {
      p = plane_probs + kCoeffBands[n] * kProbsPerBand +
          static_cast<std::size_t>(next_context) * kProbsPerContext;
    }
  }
  decoder = d;
  return nonzero;
}

// Which neighbouring blocks hold non-zero coefficients: 4 luma, 2 + 2 chroma, and Y2.
struct NonzeroContext {
  std::array<uint8_t, 4> y{};
  std::array<uint8_t, 2> u{};
  std::array<uint8_t, 2> v{};
  uint8_t y2 = 0;
  void ClearBlocks(bool with_y2) {
    y = {};
    u = {};
    v = {};
    if (with_y2) y2 = 0;
  }
};

void ReadMacroblockTokens(BoolDecoder& d, const FrameHeader& h, bool has_y2, NonzeroContext& above,
                          NonzeroContext& left) {
  const uint8_t* probs = h.coeff_probs.data();
  int first = 0;
  const uint8_t* y_probs = probs + kYWithDc * kProbsPerPlane;
  if (has_y2) {
    const bool nz = ReadBlockTokens(d, probs + kY2 * kProbsPerPlane, above.y2 + left.y2, 0);
    above.y2 = left.y2 = nz ? 1 : 0;
    first = 1;
    y_probs = probs + kYAfterY2 * kProbsPerPlane;
  }
  for (int row = 0; row < 4; ++row) {
    for (int col = 0; col < 4; ++col) {
      const bool nz = ReadBlockTokens(d, y_probs, above.y[col] + left.y[row], first);
      above.y[col] = left.y[row] = nz ? 1 : 0;
    }
  }
  const uint8_t* chroma = probs + kChroma * kProbsPerPlane;
  for (auto plane : {&NonzeroContext::u, &NonzeroContext::v}) {
    auto& a = above.*plane;
    auto& l = left.*plane;
    for (int row = 0; row < 2; ++row) {
      for (int col = 0; col < 2; ++col) {
        const bool nz = ReadBlockTokens(d, chroma, a[col] + l[row], 0);
        a[col] = l[row] = nz ? 1 : 0;
      }
    }
  }
}

std::string Size(uint64_t bytes) { return std::to_string(bytes) + " bytes"; }

}  // namespace

Vp8FrameCheck CheckVp8KeyFrame(std::string_view frame, uint64_t max_bools) {
  Vp8FrameCheck check;
  auto bad_header = [&](std::string detail) {
    check.result = Vp8FrameCheck::Result::kBadHeader;
    check.offset = 0;
    check.length = frame.size();
    check.detail = std::move(detail);
    return check;
  };
  if (frame.size() < 10) return bad_header("VP8 frame shorter than its header");
  const auto tag = static_cast<uint32_t>(static_cast<uint8_t>(frame[0])) |
                   static_cast<uint32_t>(static_cast<uint8_t>(frame[1])) << 8 |
                   static_cast<uint32_t>(static_cast<uint8_t>(frame[2])) << 16;
  if ((tag & 1) != 0) {
    check.detail = "VP8 interframe (not parsed)";
    return check;
  }
  if (((tag >> 1) & 7) > 3)
    return bad_header("VP8 frame version " + std::to_string((tag >> 1) & 7));
  if (frame.substr(3, 3) != "\x9d\x01\x2a") return bad_header("VP8 key frame start code missing");
  const uint64_t first_size = tag >> 5;
  const int width = static_cast<uint8_t>(frame[6]) | (static_cast<uint8_t>(frame[7]) & 0x3f) << 8;
  const int height = static_cast<uint8_t>(frame[8]) | (static_cast<uint8_t>(frame[9]) & 0x3f) << 8;
  if (width == 0 || height == 0) return bad_header("VP8 frame of zero width or height");
  constexpr uint64_t kFirstStart = 10;
  if (kFirstStart + first_size > frame.size()) {
    return bad_header("VP8 first partition (" + Size(first_size) + ") runs past the frame");
  }
  FrameHeader h;
  h.mb_width = (width + 15) / 16;
  h.mb_height = (height + 15) / 16;
  BoolDecoder modes(frame.substr(kFirstStart, first_size));
  ReadFrameHeader(modes, h);
  // The partition table follows the first partition: 3 bytes per token partition but the last.
  const uint64_t table = kFirstStart + first_size;
  const uint64_t table_bytes = 3 * static_cast<uint64_t>(h.partitions - 1);
  if (table + table_bytes > frame.size()) {
    return bad_header("VP8 partition table runs past the frame");
  }
  struct Partition {
    uint64_t offset;
    BoolDecoder decoder;  // knows its size
  };
  std::vector<Partition> parts;
  uint64_t offset = table + table_bytes;
  for (int i = 0; i < h.partitions; ++i) {
    uint64_t size = frame.size() - offset;
    if (i + 1 < h.partitions) {
      const auto entry = frame.substr(table + 3 * static_cast<uint64_t>(i), 3);
      size = static_cast<uint8_t>(entry[0]) | static_cast<uint8_t>(entry[1]) << 8 |
             static_cast<uint32_t>(static_cast<uint8_t>(entry[2])) << 16;
      if (size > frame.size() - offset) {
        return bad_header("VP8 token partition " + std::to_string(i + 1) + " of " +
                          std::to_string(h.partitions) + " runs past the frame");
      }
    }
    parts.push_back({offset, BoolDecoder(frame.substr(offset, size))});
    offset += size;
  }

  auto mismatch = [&](const BoolDecoder& d, uint64_t start, const std::string& what) {
    check.result = Vp8FrameCheck::Result::kMismatch;
    check.offset = start;
    check.length = d.size();
    const int64_t unread = d.UnreadBits();
    std::string how =
        unread < -kMaxOverrunBits ? "runs past its end"
        : unread > kMaxUnreadBits
            ? "ends " + std::to_string(unread / 8) + " bytes before its end"
            : "ends on " + std::to_string(unread) + " bits that are no encoder's flush";
    check.detail = "VP8 " + what + " (" + Size(d.size()) + "): decoding " + how;
    return check;
  };
  auto partition_name = [&](int i) {
    return "token partition " + std::to_string(i + 1) + " of " + std::to_string(h.partitions);
  };

  std::vector<int8_t> above_modes(static_cast<std::size_t>(h.mb_width) * 4, kBDc);
  std::vector<NonzeroContext> above_nonzero(static_cast<std::size_t>(h.mb_width));
  uint64_t bools = modes.bools();
  for (int mb_y = 0; mb_y < h.mb_height; ++mb_y) {
    std::array<int8_t, 4> left_modes;
    left_modes.fill(kBDc);
    NonzeroContext left_nonzero;
    Partition& part = parts[static_cast<std::size_t>(mb_y % h.partitions)];
    BoolDecoder& tokens = part.decoder;
    const uint64_t row_start_bools = modes.bools() + tokens.bools();
    for (int mb_x = 0; mb_x < h.mb_width; ++mb_x) {
      if (h.segment_map_updated) (void)ReadTree(modes, kSegmentTree, h.segment_probs.data());
      const bool skip = h.skip_flags && modes.Bit(h.skip_prob);
      const int y_mode = ReadTree(modes, kKeyFrameYModeTree, kKeyFrameYModeProbs.data());
      int8_t* above = &above_modes[static_cast<std::size_t>(mb_x) * 4];
      if (y_mode == kBPred) {
        for (int row = 0; row < 4; ++row) {
          for (int col = 0; col < 4; ++col) {
            const uint8_t* probs =
                kKeyFrameSubblockModeProbs + SubblockContext(above[col], left_modes[row]);
            const auto mode = static_cast<int8_t>(ReadTree(modes, kSubblockModeTree, probs));
            above[col] = left_modes[row] = mode;
          }
        }
      } else {
        std::fill(above, above + 4, kImpliedSubblockMode[static_cast<std::size_t>(y_mode)]);
        left_modes.fill(kImpliedSubblockMode[static_cast<std::size_t>(y_mode)]);
      }
      (void)ReadTree(modes, kUvModeTree, kKeyFrameUvModeProbs.data());
      NonzeroContext& above_nz = above_nonzero[static_cast<std::size_t>(mb_x)];
      if (skip) {
        above_nz.ClearBlocks(y_mode != kBPred);
        left_nonzero.ClearBlocks(y_mode != kBPred);
      } else {
        ReadMacroblockTokens(tokens, h, y_mode != kBPred, above_nz, left_nonzero);
      }
    }
    if (modes.RanPastEnd()) return mismatch(modes, kFirstStart, "first partition");
    if (tokens.RanPastEnd()) {
      return mismatch(tokens, part.offset, partition_name(mb_y % h.partitions));
    }
    bools += modes.bools() + tokens.bools() - row_start_bools;
    if (bools > max_bools) {
      check.detail = "VP8 frame not parsed to its end (work limit)";
      return check;
    }
  }
  if (!modes.EndsWithFlush()) return mismatch(modes, kFirstStart, "first partition");
  for (int i = 0; i < h.partitions; ++i) {
    if (!parts[static_cast<std::size_t>(i)].decoder.EndsWithFlush()) {
      return mismatch(parts[static_cast<std::size_t>(i)].decoder,
                      parts[static_cast<std::size_t>(i)].offset, partition_name(i));
    }
  }
  check.unread_bits_min = check.unread_bits_max = modes.UnreadBits();
  for (const Partition& part : parts) {
    check.unread_bits_min = std::min(check.unread_bits_min, part.decoder.UnreadBits());
    check.unread_bits_max = std::max(check.unread_bits_max, part.decoder.UnreadBits());
  }
  check.result = Vp8FrameCheck::Result::kConsistent;
  check.detail = "VP8 key frame " + std::to_string(width) + "x" + std::to_string(height) + ": " +
                 std::to_string(h.partitions + 1) + " partitions decode to their ends";
  return check;
}

}  // namespace steen::content::media
