// The interface every format validator implements, and the registry of validators.
// A validator recognises its format by signature and checks the structure deeply enough to tell an
// intact file from one whose header survived but whose body was encrypted or overwritten.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "content/reader.h"
#include "steen/content.h"

namespace steen::content {

enum class Integrity {
  kValid,               // every structure check passed
  kDamaged,             // the signature is there, the structure is broken
  kTruncated,           // structure intact as far as it goes, but the file ends early
  kEncryptedContainer,  // a legitimately encrypted file (OpenPGP, age, LUKS, encrypted ZIP/PDF...)
};

// What a validator found in the bytes where its format's structure is broken. A broken structure
// alone may be corruption; these are what ransomware leaves, and evidence enough for damage
// whatever the block map's samples saw.
enum class DamageEvidence {
  kNone,         // only the structure is broken
  kRandom,       // the bytes there are random (ciphertext where structure must be)
  kTransformed,  // the bytes there are the file's own bytes inverted (255 - b) or XORed
};

// A part of a file whose content is never random (machine code, relocation and symbol tables),
// and what it is, for the reasons.
struct NeverRandomRange {
  ByteRange range;
  std::string what;  // "PE code section .text"
};

// A file stored whole inside another (a tar member's data), and its name there.
struct ContainedFile {
  ByteRange range;
  std::string name;
  // False for members that may be any application's raw bytes (a ZIP's stored entries: zarr
  // array chunks, compressor test corpora): judged only when their first bytes name a format.
  bool judged_without_format = true;
};

struct FormatReport {
  std::string format;  // specific name: "docx", "jpeg", "gzip", "text/utf-8"
  Integrity integrity = Integrity::kValid;
  // What was checked or what is broken, e.g. "ZIP central directory missing".
  std::vector<std::string> reasons;
  // Where the format's own structure says the content ends (after PNG IEND, ZIP EOCD, JPEG EOI,
  // the last xz stream...); 0 when unknown. The analyzer checks bytes after it for appended
  // ransomware footers.
  uint64_t structure_end = 0;
  // True when the format's payload is expected to look random (compressed or encrypted data);
  // random-looking blocks are then no evidence of damage, only the validator's checks are.
  bool high_entropy_body = false;
  // False when the validator only recognised a signature and checked no structure (the analyzer
  // then does not call the structure valid).
  bool structure_checked = true;
  // What the validator measured where the structure is broken, beyond the break itself.
  DamageEvidence evidence = DamageEvidence::kNone;
  // Parts of the file that are never random, whatever the rest holds (an executable's code next
  // to its compressed resources): a random block the analyzer's samples find inside one is
  // ciphertext. At most limits::kMaxNeverRandomRanges.
  std::vector<NeverRandomRange> never_random;
  // Files stored whole in this one (tar members): the analyzer judges each as a file of its own,
  // and the container's random blocks are its members' business (a tar of PDFs or of .gz files
  // is mostly random and intact; a tar of text whose members are random is not). At most
  // limits::kMaxMembersJudged, spread over the file.
  std::vector<ContainedFile> members;
  // Ranges the validator found broken, when it can say (a JPEG scan from offset X onward).
  std::vector<ByteRange> damaged_ranges;
  // How many bytes of damaged_ranges are damaged, when the validator can estimate it and it is
  // fewer than the ranges span (ranges of intermittent damage include the clean bytes between
  // the chunks); 0 when the ranges are all damaged.
  uint64_t damaged_bytes = 0;
};

class FormatValidator {
 public:
  virtual ~FormatValidator() = default;
  virtual std::string_view name() const = 0;
  // True when `head` (the first min(size, limits::kHeadBytes) bytes of a file of `file_size`
  // bytes) carries this format's signature. Must be cheap: it runs for every file.
  virtual bool Matches(std::string_view head, uint64_t file_size) const = 0;
  // Structural check. Reads only through `reader` and stays within limits.h. On a read error
  // (reader.status() not OK) it returns what it knows; the analyzer notices the error.
  virtual FormatReport Validate(Reader& reader) const = 0;
  // --verify only, after Validate found the file valid: decodes what Validate only probed (the
  // whole of a compressed stream) and checks it against the format's own checksums, marking
  // `report` damaged or truncated where they disagree. Formats without such a check do nothing.
  virtual void VerifyWhole(Reader& /*reader*/, FormatReport& /*report*/) const {}
};

using ValidatorList = std::vector<std::unique_ptr<const FormatValidator>>;

// Each family of formats registers its validators; order in the final list is the match priority.
void RegisterArchiveFormats(ValidatorList& out);  // zip family, gzip, bzip2, xz, zstd, 7z, rar, tar
void RegisterDocumentFormats(ValidatorList& out);   // pdf, ole2, sqlite, rtf
void RegisterMediaFormats(ValidatorList& out);      // images, audio, video
void RegisterSystemFormats(ValidatorList& out);     // elf, pe, fonts, openpgp, age, luks
void RegisterSignatureFormats(ValidatorList& out);  // recognised by signature only
void RegisterTextFormats(ValidatorList& out);  // utf-8/16, latin-1 text and its subtypes (last)

// All validators in priority order.
ValidatorList MakeAllValidators();

}  // namespace steen::content
