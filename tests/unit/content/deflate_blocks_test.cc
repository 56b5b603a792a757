// DeflateHeaderScanner: every dynamic-Huffman and stored block start of real zlib streams is
// found, and random bytes rarely look like one.
#include "content/formats/deflate_blocks.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <random>
#include <string>
#include <vector>

#include "unit/content/test_bytes.h"

namespace steen::content::archive {
namespace {

using testing::RandomBytes;

std::string Words(std::size_t n, uint32_t seed) {
  static const char* kWords[] = {"city", "share", "backup", "the", "of", "file", "server", "and"};
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < n) s += std::string(kWords[rng() % 8]) + std::to_string(rng() % 100) + " ";
  return s;
}

// Raw deflate of `input` with a small symbol buffer (memLevel 1: a block every 128 symbols).
std::string Deflate(const std::string& input, int level) {
  const std::string out = testing::Deflated(input, level, -15, 1);
  EXPECT_FALSE(out.empty());
  return out;
}

// Bit offsets where the blocks of `stream` start, found by inflating it block by block.
std::vector<uint64_t> BlockStarts(const std::string& stream) {
  std::vector<uint64_t> starts = {0};
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, -15), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(stream.data()));
  z.avail_in = static_cast<uInt>(stream.size());
  std::string out(1 << 16, '\0');
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    const int rc = inflate(&z, Z_BLOCK);
    if (rc == Z_STREAM_END) break;
    EXPECT_EQ(rc, Z_OK);
    if (rc != Z_OK) break;
    if ((z.data_type & (128 | 64)) == 128) {
      starts.push_back(uint64_t{z.total_in} * 8 - (z.data_type & 7));
    }
  }
  inflateEnd(&z);
  return starts;
}

unsigned BlockType(const std::string& stream, uint64_t bit) {
  const auto byte = [&](uint64_t b) {
    return static_cast<unsigned char>(stream[b / 8]) >> (b % 8);
  };
  return (byte(bit + 1) & 1) | (byte(bit + 2) & 1) << 1;
}

TEST(DeflateHeaderScanner, FindsEveryDynamicAndStoredBlockStart) {
  struct Case {
    std::string input;
    int level;
  };
  // Words make dynamic blocks; random bytes stored ones; level 0 only stored blocks.
  const Case cases[] = {{Words(200000, 1), 6},
                        {Words(100000, 2), 9},
                        {RandomBytes(100000, 3), 6},
                        {Words(50000, 4) + RandomBytes(50000, 5), 1},
                        {Words(1500000, 6), 0}};
  for (const Case& c : cases) {
    const std::string stream = Deflate(c.input, c.level);
    const DeflateHeaderScanner scanner(stream);
    const std::vector<uint64_t> starts = BlockStarts(stream);
    ASSERT_GT(starts.size(), 10u);
    int checked = 0;
    for (uint64_t start : starts) {
      const unsigned type = BlockType(stream, start);
      if (type == 1) continue;  // fixed Huffman: no header to find
      EXPECT_TRUE(scanner.HeaderAt(start))
          << "level " << c.level << " block at bit " << start << " type " << type;
      ++checked;
    }
    EXPECT_GT(checked, 10);
  }
}

TEST(DeflateHeaderScanner, RandomBytesRarelyLookLikeAHeader) {
  const std::string noise = RandomBytes(1 << 20, 7);
  const DeflateHeaderScanner scanner(noise);
  std::size_t found = 0;
  for (uint64_t byte = 0; byte < noise.size(); ++byte) {
    const uint8_t headers = scanner.HeadersInByte(byte);
    found += static_cast<std::size_t>(std::popcount(headers));
    for (unsigned k = 0; k < 8; ++k) {
      ASSERT_EQ(scanner.HeaderAt(byte * 8 + k), ((headers >> k) & 1) != 0);
    }
  }
  // Stored: LEN/NLEN agree once in 65,536 bytes, read from up to six bit offsets; dynamic: about
  // one bit in 10^5. 8.4 million bit positions: ~80 of each; a weak check would find thousands.
  EXPECT_LT(found, 400u);
}

TEST(DeflateHeaderScanner, NeverReadsPastTheEnd) {
  // A stored header whose LEN/NLEN would lie past the end, and a dynamic header cut short.
  const std::string stream = Deflate(Words(20000, 8), 6);
  for (std::size_t cut = 0; cut < 64; ++cut) {
    const std::string part = stream.substr(0, cut);
    const DeflateHeaderScanner scanner(part);
    for (uint64_t bit = 0; bit < cut * 8 + 16; ++bit) (void)scanner.HeaderAt(bit);
  }
  const std::string stored = Deflate(Words(20000, 9), 0);  // a stored block at bit 0
  EXPECT_TRUE(DeflateHeaderScanner(stored).HeaderAt(0));
  EXPECT_FALSE(DeflateHeaderScanner(stored.substr(0, 4)).HeaderAt(0));  // NLEN cut off
}

}  // namespace
}  // namespace steen::content::archive
