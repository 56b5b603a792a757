// Every size, depth, count and budget limit in steen, in one place (libyara style).
// Parsers of untrusted bytes must respect these: a hostile file may not crash, hang or exhaust
// memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace steen::limits {

inline constexpr std::size_t KiB = 1024;
inline constexpr std::size_t MiB = 1024 * KiB;

// ---- Content analysis: what the default (non-deep) analysis reads -------------------------------
// First read of every file: enough for headers of every supported format and a 64 KiB stats block.
inline constexpr std::size_t kHeadBytes = 64 * KiB;
// Last bytes of every file: trailers (ZIP EOCD, xz footer, PDF xref/trailer) and tail encryption
// (Play encrypts the last 1 MiB of large files).
inline constexpr std::size_t kTailBytes = 64 * KiB;
// Blocks sampled evenly between head and tail of large files, to catch encryption of the middle.
inline constexpr std::size_t kSampleBlockBytes = 16 * KiB;
inline constexpr int kMaxSampleBlocks = 16;
// Upper bound on the bytes one non-deep analysis may read (validators included).
inline constexpr std::size_t kAnalysisReadBudget = 4 * MiB;
// Deep analysis reads everything, in blocks of this size.
inline constexpr std::size_t kDeepReadChunkBytes = 1 * MiB;

// ---- Block statistics --------------------------------------------------------------------------
// Granularity of the block map. 4 KiB keeps 16 expected hits per byte value for chi-square.
inline constexpr std::size_t kStatsBlockBytes = 4 * KiB;
// Granularity of the block map when every byte is read (--deep): larger blocks keep the per-block
// cost (histogram reduction, chi-square) small enough for more than 1 GB/s per core.
inline constexpr std::size_t kDeepStatsBlockBytes = 16 * KiB;
// Fine granularity used to find interleaved patterns (Black Basta 64 of 192 B, LockFile 16/16).
inline constexpr std::size_t kFineBlockBytes = 256;

// ---- Format validators -------------------------------------------------------------------------
inline constexpr int kMaxZipEntriesChecked = 4096;  // central-directory entries walked
inline constexpr int kMaxZipEntriesInflated = 8;    // entries whose first bytes are inflated
inline constexpr std::size_t kMaxInflateProbe =
    64 * KiB;  // compressed bytes fed to a decoder probe
// bzip2 decodes a whole block (up to 900 kB) before it can check anything, so its probe gets less
// input: the block header, Huffman tables and selectors of ciphertext fail within a few KiB.
inline constexpr std::size_t kMaxBzip2Probe = 16 * KiB;
inline constexpr std::size_t kMaxDecodedProbe = 256 * KiB;  // decoded bytes a probe may produce
inline constexpr int kMaxContainerDepth = 64;    // nesting (PDF objects, Matroska, ISO BMFF)
inline constexpr int kMaxChunksWalked = 100000;  // chunk/box/segment/marker walks
inline constexpr int kMaxPdfObjectsChecked = 4096;
// System formats: ELF/PE sections, font tables, TTC fonts and OpenPGP packets walked, and the
// table bytes whose checksums a font check may read (large fonts: the rest is left unchecked).
inline constexpr int kMaxSectionsChecked = 4096;
inline constexpr int kMaxFontsInCollection = 64;
inline constexpr std::size_t kMaxFontChecksumBytes = 2 * MiB;
inline constexpr int kMaxOpenPgpPackets = 4096;
inline constexpr int kMaxPdfXrefSamples = 32;          // xref entries whose object header is read
inline constexpr int kMaxPdfXrefSections = 8;          // /Prev and /XRefStm hops followed
inline constexpr int kMaxPdfStreamsProbed = 4;         // FlateDecode streams in the head inflated
inline constexpr int kMaxOle2DifatSectors = 1024;      // extra DIFAT sectors followed (v3: 512 KiB)
inline constexpr int kMaxOle2FatSectorsSampled = 24;   // FAT sectors read and checked
inline constexpr int kMaxOle2DirectorySectors = 256;   // directory chain length followed
inline constexpr int kMaxSqlitePagesSampled = 32;      // b-tree pages sampled (at most 1 MiB read)

// ---- Scan --------------------------------------------------------------------------------------
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr int kMaxDirectoryDepth = 4096;          // deeper trees are reported, not walked
inline constexpr std::size_t kScanQueueCapacity = 4096;  // files queued between walker and workers
// Folders with damage counted for the scan summary's top list; beyond, the least damaged are
// pruned (the summary then says counts are approximate). Bounds memory on fully encrypted trees.
inline constexpr std::size_t kMaxDamagedFoldersTracked = 4096;
// Distinct format names counted in the scan summary; the rest are counted as "other".
inline constexpr std::size_t kMaxFormatsTracked = 256;
// Folders listed in the text summary's "most damage" table.
inline constexpr std::size_t kTopDamagedFolders = 10;
// Per-worker report buffer flushed to the output (under a lock) when it grows past this.
inline constexpr std::size_t kReportFlushBytes = 64 * KiB;

}  // namespace steen::limits
