// A lossy WebP image's VP8 key frame (RFC 6386) parsed to the end of each of its partitions,
// without reconstructing a pixel. VP8 data is arithmetic-coded: any bytes decode to something,
// so ciphertext inside a partition breaks no rule the decoder could see on the spot. What it
// breaks is the partition's length: an encoder flushes its bool coder right after the last
// symbol, so decoding a real partition consumes its bytes to within a few, while from the first
// random byte on the decoder reads symbols at a random rate and ends far from the partition's
// end (short of it, or running past it).
// Written here rather than taken from libwebp, whose decoder reconstructs every pixel (several
// times this parse's cost) and reports only partitions that run short, never those left unread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace steen::content::media {

struct Vp8FrameCheck {
  enum class Result {
    kConsistent,  // every partition decodes to its own end
    kMismatch,    // a partition's decoding ends away from its end (damage)
    kBadHeader,   // the frame header or the partition table is impossible
    kNotChecked,  // not a key frame, or past the work limit
  };
  Result result = Result::kNotChecked;
  // Where the disagreeing partition starts and how long it is, relative to the frame's start.
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string detail;  // for the reasons: "token partition 1 of 1 (1.9 MB): decoding ends ..."
  // Of a consistent frame: the most bits a partition held beyond what decoding consumed (its
  // encoder's flush), or read past its end when negative.
  int64_t unread_bits_min = 0;
  int64_t unread_bits_max = 0;
};

// `frame` is the payload of a 'VP8 ' chunk. Decoding stops early once a partition has been read
// more than a few bytes past its end, and after `max_bools` decoded symbols (kNotChecked).
Vp8FrameCheck CheckVp8KeyFrame(std::string_view frame, uint64_t max_bools);

}  // namespace steen::content::media
