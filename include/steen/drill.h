// steen drill: a faithful, benign ransomware simulator.
//
// A family is a data-driven Profile (config/drill/<name>.yaml, embedded into the binary at build
// time, overridable by a path). The pure part of this API (LayoutRanges, TransformContent,
// TransformName) tells what a family does to a file's bytes and name; tests and benchmarks use it
// to damage corpus copies without touching the disk. The file-system part (InitTarget, RunDrill,
// Undo) attacks a marked folder for real, with a manifest kept outside it so every change can be
// undone byte-exact, even after a kill.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "steen/content.h"
#include "steen/status.h"

namespace steen::drill {

// ---- Profile (data) -----------------------------------------------------------------------------

// How a layout rule chooses the ranges to encrypt in a file of size S. Every kind starts at
// `offset` (bytes before it stay intact, e.g. Hunters' marker at 0x3E).
enum class LayoutKind {
  kNone,     // nothing changed (the file is only renamed, or skipped)
  kFull,     // [offset, S)
  kHead,     // [offset, offset + length)
  kStride,   // [offset, offset + first), then repeat {skip `skip`, encrypt `chunk`}; BlackCat's
             // generic pattern; covers fixed-step, every-other(16), Black Basta 64/192, INC, Azov
  kSpread,   // n chunks evenly spaced: chunk i at i * (c + g); g = (S - n*c)/(n-1) ("between":
             // the last chunk ends at EOF; Play first+last, Conti, Hive) or (S - n*c)/n ("after")
  kRegions,  // S split into n equal regions, the first `chunk` bytes of each (Babuk Windows)
};

enum class CipherKind {
  kAes256Ctr,
  kAes128Ctr,
  kAes256Cbc,  // no padding; a trailing partial block is XORed with CTR keystream (see docs)
  kAes256Gcm,  // per range, tag not stored (length-preserving like the families do)
  kChaCha20,
  kBitFlip,     // b -> 255 - b (Infection Monkey)
  kRandomWipe,  // pseudo-random bytes, not invertible (Azov)
};

enum class Encoding { kNone, kBase64, kHex };  // applied to the whole encrypted file
// ART-style tools that write a whole new file in a documented format.
enum class Container { kNone, kGpg, kZipCrypto, kCcrypt, kOpensslEnc };
enum class FooterWhen { kLast, kFirst, kExtendFirst };  // extend-first: ftruncate, footer at end
// What the footer's bytes look like. kOpaque: pseudo-random (stands for the wrapped key) ending
// with `footer_marker`. kPlay2022 / kPlay2023: the 40-byte Play header of behaviours.md §1.3 /
// §1.4 (marker, chunk counts and flags, xxHash32 of the marker, encrypted-chunk counter) followed
// by a 1,024-byte pseudo-random blob (stands for the RSA-wrapped key); bytes of a larger footer
// before these 1,064 (Play 2023's 16-byte CBC spill) are pseudo-random.
enum class FooterFormat { kOpaque, kPlay2022, kPlay2023 };
enum class RenameWhen { kNone, kFirst, kLast };
enum class WritePattern {
  kPwrite,             // class A: read, encrypt, pwrite at the same offset through the same fd
  kMmap,               // class A through MAP_SHARED + msync (invisible to inotify/fanotify modify)
  kNewFileUnlink,      // class C: write <new name> (O_EXCL), unlink the original
  kNewFileKeep,        // ART gpg/7z/openssl: new file, original kept
  kMoveOutBack,        // class B: move out of the tree, encrypt, move back under the new name
  kNewFileRenameOver,  // write a temporary file next to the original, rename it over the original
};
enum class NotePlacement { kNone, kRoot, kEveryDir };
enum class Traversal { kDepthFirst, kBreadthFirst };

struct LayoutRule {
  // The rule applies when min_size <= S <= max_size and (extensions empty or the file's
  // lower-case extension is listed). Rules are tried in order; the first match wins.
  uint64_t min_size = 0;
  uint64_t max_size = UINT64_MAX;
  std::vector<std::string> extensions;
  LayoutKind kind = LayoutKind::kFull;
  uint64_t offset = 0;
  uint64_t length = 0;          // head
  uint64_t first = 0;           // stride: first run
  uint64_t chunk = 0;           // stride/spread/regions chunk bytes
  uint32_t chunk_permille = 0;  // spread: chunk = S * permille / 1000 when chunk == 0
  uint64_t skip = 0;            // stride gap
  uint64_t max_chunks = 0;      // stride: cap on runs after `first` (0 = none)
  uint64_t stop = 0;            // stride: no range at or past this offset (0 = EOF)
  uint32_t count = 0;           // spread/regions: n
  uint32_t count_permille = 0;  // spread: n = S * permille / 1000 / chunk when count == 0
  uint32_t count_min = 1, count_max = UINT32_MAX;
  bool gaps_after = false;  // spread: gap divisor n instead of n - 1
  uint64_t align = 1;       // ranges are cut down to multiples of this (partial ones dropped)
  // Per-rule overrides (Play switches to CBC for huge files; Play 2023 adds 16 B for big files).
  bool has_cipher = false;
  CipherKind cipher = CipherKind::kAes256Ctr;
  bool has_footer = false;
  uint64_t footer_size = 0;
};

struct NoteSpec {
  std::string name;  // may use {ext} (the profile's random extension) and {rand:N}
  std::string content;
  NotePlacement placement = NotePlacement::kNone;
  bool before = false;  // drop before encrypting the folder's files (default: after)
};

struct Profile {
  std::string name;
  std::string description;
  std::string fidelity;  // what is verified, what is approximated (free text from the file)
  std::vector<LayoutRule> layout;
  CipherKind cipher = CipherKind::kAes256Ctr;
  Encoding encoding = Encoding::kNone;
  Container container = Container::kNone;
  std::string passphrase = "passwd";  // containers (ART defaults)
  uint64_t footer_size = 0;
  std::string footer_marker;  // opaque: bytes at the very end (e.g. "INC"); play: the 16-B marker
  FooterFormat footer_format = FooterFormat::kOpaque;
  FooterWhen footer_when = FooterWhen::kLast;
  RenameWhen rename = RenameWhen::kLast;
  WritePattern pattern = WritePattern::kPwrite;
  uint64_t io_block = 1 << 20;  // read/encrypt/write unit for in-place patterns
  // New name: {name} = whole original name, {stem}, {ext}, {rand:N} lower-case alnum, {RAND:N}
  // upper-case letters, {alnum:N} mixed, {hex:N}, {b64:N} base64url-ish. Empty = keep the name.
  std::string name_template;
  NoteSpec note;
  std::vector<std::string> skip_extensions;  // lower-case, with the dot
  std::vector<std::string> skip_names;       // exact file names
  std::vector<std::string> only_extensions;  // if non-empty, only these are attacked
  uint64_t min_file_size = 0;                // smaller files are skipped (Play: 6)
  bool skip_hidden = false;
  bool recursive = true;
  Traversal traversal = Traversal::kDepthFirst;
  int threads = 1;
  int max_in_flight = 0;        // 0 = threads
  double pace_files_per_s = 0;  // 0 = as fast as possible
  std::string text;             // the source text (handed to worker processes)
};

// Built-in profile names, sorted.
std::vector<std::string> ListProfiles();
// The YAML text of a built-in profile ("" if unknown).
std::string_view BuiltinProfileText(std::string_view name);
// A built-in name, or a path to a YAML/JSON profile file (anything containing '/' or ending .yaml,
// .yml or .json is a path).
StatusOr<Profile> LoadProfile(std::string_view name_or_path);
// Parses profile text (YAML; JSON is valid YAML).
StatusOr<Profile> ParseProfile(std::string_view text, std::string_view origin);

// ---- Pure transformation ------------------------------------------------------------------------

// The ranges (sorted, merged, within [0, size)) a profile changes in a file of `size` bytes.
// `file_name` selects extension-specific rules (databases, VM disks); empty = generic rules.
std::vector<ByteRange> LayoutRanges(const Profile& profile, uint64_t size,
                                    std::string_view file_name = {});
// Footer bytes appended for a file of that size (after per-rule overrides).
uint64_t FooterSize(const Profile& profile, uint64_t size, std::string_view file_name = {});

// Keys derived deterministically from a seed (hex in the manifest).
struct KeyMaterial {
  std::string key;    // 32 bytes
  std::string nonce;  // 16 bytes
};
KeyMaterial DeriveKeys(uint64_t seed);

// The content of the attacked file (or, for containers and new-file patterns, of the new file):
// ranges encrypted with the profile's cipher under DeriveKeys(seed), then encoding, then footer.
StatusOr<std::string> TransformContent(const Profile& profile, std::string_view original,
                                       uint64_t seed, std::string_view file_name = {});
// Encrypts (or bit-flips, or wipes) `data` in place as the bytes at file offset `offset`.
// Stream ciphers use the file offset as counter, so ranges can be processed in any pieces that
// respect the cipher's block (CBC/GCM ranges must be processed whole).
void ApplyCipher(CipherKind cipher, const KeyMaterial& keys, uint64_t offset, uint32_t range_index,
                 std::string* data);
// The footer bytes for a file: pseudo-random (stands for the wrapped key) ending with the marker.
std::string MakeFooter(const Profile& profile, uint64_t footer_size, uint64_t seed);
// The footer of a file of `size` bytes in the profile's format. For Play formats
// `chunks_done` is the encrypted-chunk counter (Play appends the footer with 0 and rewrites the
// counter after each chunk); UINT64_MAX = all chunks (the final state).
std::string FileFooter(const Profile& profile, uint64_t size, std::string_view file_name,
                       uint64_t seed, uint64_t chunks_done = UINT64_MAX);
// Play formats: the 1 MiB chunks a file's layout is made of (the footer's final counter) and the
// offset of the u64 counter inside the footer. 0 for other formats.
uint64_t PlayChunkCount(const Profile& profile, uint64_t size, std::string_view file_name);
uint64_t PlayCounterOffset(const Profile& profile, uint64_t size, std::string_view file_name);
// xxHash32 (used by Play's footer to hash its marker).
uint32_t XxHash32(std::string_view data, uint32_t seed);
// The file's new name (extension rule), deterministic from seed; unchanged if no template.
std::string TransformName(const Profile& profile, std::string_view file_name, uint64_t seed);
// The ransom note's file name (its {ext}/{rand} tokens resolved with the run's seed).
std::string NoteName(const Profile& profile, uint64_t run_seed);

std::string_view ToString(LayoutKind kind);
std::string_view ToString(CipherKind kind);
std::string_view ToString(WritePattern pattern);
std::string_view ToString(RenameWhen when);  // "none" | "first" | "last"

// ---- File system side ---------------------------------------------------------------------------

inline constexpr std::string_view kTargetMarkerName = ".steen-drill-target";

// Where `--populate` copies real files from when no corpus is named: what Debian packages
// installed (documentation, images, fonts, archives, databases, executables...).
inline constexpr std::string_view kDefaultPopulateCorpus = "/usr/share";

struct InitOptions {
  std::string target;
  int populate = 0;    // files to copy from `corpus` (0 = none)
  std::string corpus;  // empty: kDefaultPopulateCorpus
};
// Creates (if needed) the target folder and its marker; optionally copies corpus files into it,
// keeping their relative folders.
Status InitTarget(const InitOptions& options, std::string* report);

// Picks `count` of `candidates` (paths of regular files) so that file types are mixed: grouped by
// lower-case extension, taken round-robin over the groups (largest group first), each group
// sampled across its path-ordered list. The same
// input gives the same choice. A corpus made of one big folder of PNGs must not fill a drill
// target with PNGs only.
std::vector<std::string> PickMixedFiles(std::vector<std::string> candidates, std::size_t count);

// Credentials for an smb:// target, from an auth file in smbclient's format (`username = ...`,
// `password = ...`, optional `domain = ...`).
struct SmbCredentials {
  std::string username;
  std::string password;
  std::string domain;
};
StatusOr<SmbCredentials> ReadSmbAuthFile(std::string_view path);
// True for smb://HOST[:PORT]/SHARE[/PATH] targets (run through libsmbclient; see drill.md).
bool IsSmbTarget(std::string_view target);
// A remote target's reachability checks, before anything is touched: reads the auth file, logs
// in, finds the folder and (with `need_marker`) its marker. PermissionDenied only for a missing
// marker; InvalidArgument for a bad auth file or refused credentials, IoError for an unreachable
// server, NotFound for a missing auth file, share or folder.
Status CheckRemoteTarget(std::string_view url, std::string_view auth_file, bool need_marker);
// The target a manifest's run line records (a local path or an smb:// URL).
StatusOr<std::string> ManifestTarget(std::string_view manifest_path);

struct RunOptions {
  std::string target;            // a local folder or smb://HOST[:PORT]/SHARE[/PATH]
  std::string auth_file;         // smb:// targets: smbclient-style credentials file
  std::string manifest;          // required; must lie outside the target
  double pace_files_per_s = -1;  // < 0 = the profile's; a global rate over threads and processes
  int threads = 0;               // 0 = the profile's (per process with `processes`)
  uint64_t max_files = 100000;
  uint64_t max_bytes = 4ULL << 30;
  uint64_t seed = 0;  // 0 = random
  // Canary-aware attacker: skip hidden files, files created less than `decoy_age_s` ago (statx
  // birth time, else ctime) and files never read since written (atime <= mtime).
  bool avoid_decoys = false;
  uint64_t decoy_age_s = 3600;
  // "Naked Sun" evasion: > 0 = the files are split into batches, each attacked by a fresh exec of
  // `worker_exe` (`<exe> drill --worker <work file>`), at most `processes` at a time.
  int processes = 0;
  uint64_t files_per_process = 0;  // batch size; 0 = ceil(files / processes)
  std::string worker_exe = "/proc/self/exe";
};
struct RunStats {
  uint64_t files_attacked = 0;
  uint64_t files_skipped = 0;
  uint64_t bytes_changed = 0;
  uint64_t notes = 0;
  double seconds = 0;
  // What the run could not do as the profile says (mmap over SMB falls back to pwrite), also
  // recorded in the manifest's run line.
  std::vector<std::string> notices;
};
Status RunDrill(const Profile& profile, const RunOptions& options, RunStats* stats);

// The body of a worker process (`steen drill --worker FILE`): attacks the batch a work file
// lists, logging to its own manifest part (which --undo reads through the main manifest).
Status RunWorker(std::string_view work_file);

// Parses a pace: files per second as a number ("20", "0.0167") or a fraction "FILES/SECONDS"
// ("1/60" = one file a minute), "N/s", "N/min", "N/h". 0 = unlimited.
StatusOr<double> ParsePace(std::string_view text);

// Restores every file recorded in the manifest byte-exact, removes notes and new files, restores
// names. Idempotent: running it twice (or after a partial undo) is safe. A manifest of an smb://
// target needs `auth_file`.
Status Undo(std::string_view manifest_path, std::string* report, std::string_view auth_file = {});

// Refusal checks, exposed for tests: OK only for a folder that holds the marker and is not `/`, a
// home folder or a mount point.
Status CheckTarget(std::string_view target);

}  // namespace steen::drill
