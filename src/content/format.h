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
  // True when the validator measured its damaged ranges as random (ciphertext), not only found
  // the structure broken there: evidence enough, whatever the block map's samples saw.
  bool damage_is_random = false;
  // Ranges the validator found broken, when it can say (a JPEG scan from offset X onward).
  std::vector<ByteRange> damaged_ranges;
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
