// Registration of the archive format validators: ZIP (and OOXML/ODF/EPUB/JAR built on it), gzip,
// bzip2, xz, zstd, 7z, RAR, TAR and cpio. TAR goes late: its v7 form has no magic, only a
// checksum.
#include "content/format.h"
#include "content/formats/zip_util.h"

namespace steen::content {

void RegisterArchiveFormats(ValidatorList& out) {
  out.push_back(archive::MakeZipValidator());
  out.push_back(archive::MakeGzipValidator());
  out.push_back(archive::MakeBzip2Validator());
  out.push_back(archive::MakeXzValidator());
  out.push_back(archive::MakeZstdValidator());
  out.push_back(archive::MakeSevenZipValidator());
  out.push_back(archive::MakeRarValidator());
  out.push_back(archive::MakeTarValidator());
  out.push_back(archive::MakeCpioValidator());
}

}  // namespace steen::content
