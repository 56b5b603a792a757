#!/usr/bin/env bash
# Builds steen's evaluation corpus from REAL files shipped in Debian packages (files nobody on the
# team wrote): downloads the packages below with `apt-get download` into bench/cache/debs, unpacks
# each with `dpkg-deb -x` into bench/cache/staging/<pkg> (never installed system-wide), selects files
# by type (extension + `file --mime-type`), de-duplicates by sha256, caps per type and copies them into
# bench/corpus/<type>/<pkg>/..., then writes bench/corpus/MANIFEST.tsv and prints a count table.
# Types Debian ships too few of are topped up by converting REAL corpus files with Debian tools
# (ffmpeg, 7z, sqlite3, tar, LibreOffice when installed); the manifest names the source file.
#
# Idempotent: downloads and unpacks only what is missing; the corpus folder is rebuilt each run.
# Usage: bench/build_corpus.sh [--cap N] [--min N] [--max-file-mb N] [--type-mb N] [--no-generate]
#   --cap N          at most N files per type (default 150)
#   --min N          top up types with fewer than N files by conversion (default 30; 0 = never)
#   --max-file-mb N  skip files larger than N MiB (default 48)
#   --type-mb N      at most N MiB per type (default 300)
#   --no-download    use only the packages already in the cache
# Environment: STEEN_BENCH_CACHE, STEEN_BENCH_CORPUS override bench/cache and bench/corpus.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${STEEN_BENCH_CACHE:-${BENCH_DIR}/cache}
CORPUS=${STEEN_BENCH_CORPUS:-${BENCH_DIR}/corpus}
CAP=150
MIN=30
MAX_FILE_MB=48
TYPE_MB=300
DOWNLOAD=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --cap) CAP=$2; shift 2 ;;
    --min) MIN=$2; shift 2 ;;
    --max-file-mb) MAX_FILE_MB=$2; shift 2 ;;
    --type-mb) TYPE_MB=$2; shift 2 ;;
    --no-generate) MIN=0; shift ;;
    --no-download) DOWNLOAD=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build_corpus: unknown argument $1" >&2; exit 2 ;;
  esac
done

# One package a line, with what it contributes. Found with `apt-file search -x '\.EXT$'` (counts are
# Debian 12 "bookworm"). Packages over ~50 MB that add little were left out on purpose
# (libreoffice-dev-doc 565 MB, hydrogen-drumkits, tuxpaint-stamps-default, wesnoth-1.16-data,
# texlive-latex-base-doc, opencv-doc, castle-game-engine-doc, unknown-horizons).
PACKAGES=(
  # --- test-data packages with many formats at once
  golang-github-gabriel-vasile-mimetype-dev  # mimetype's testdata: docx xlsx pptx odp xls ppt 7z mp4 webm mkv mov tar ...
  forensics-samples-files                    # forensic samples: docx odt mp4 avi mp3 ...
  clamav-testfiles                           # ClamAV test files: PE exe, ppt, 7z, rtf (harmless test signatures)
  libimage-exiftool-perl                     # ExifTool test images: tiff, jpeg, png, many raw/metadata formats
  python3-imageio                            # imageio: mp4 and image samples
  afl++-doc                                  # AFL++ testcases: rar, mp4, webp, rtf, tar
  libgdata-tests                             # libgdata tests: odt, ppt, xls
  # --- office documents
  r-cran-officer                             # officer templates: docx pptx xlsx
  r-cran-openxlsx                            # openxlsx: xlsx test and example workbooks
  r-cran-readxl                              # readxl: xlsx and xls examples
  r-cran-gdata                               # gdata: xls and xlsx examples
  r-cran-kutils                              # kutils: xlsx examples
  r-cran-samr                                # samr: xlsx examples
  r-cran-sm                                  # sm: doc files
  xlsx2csv                                   # xlsx2csv test workbooks (xlsx) and expected csv
  toppic-common                              # TopPIC: docx manuals, woff fonts
  finalcif                                   # FinalCif: docx templates
  python3-docx                               # python-docx: default docx template
  fonts-texgyre-math                         # TeX Gyre math fonts: docx docs, otf
  libreoffice-dmaths                         # Dmaths: odt, docx and many bmp
  dynare                                     # Dynare: xlsx and xls examples
  octave-io                                  # Octave io: xlsx/ods test files
  python3-anndata                            # anndata: xlsx test data
  python3-canmatrix                          # canmatrix: xlsx test data
  opa-fastfabric                             # Omni-Path tools: xlsx sheets
  live-manual-odf                            # Debian Live manual in odt
  live-manual-epub                           # Debian Live manual in epub
  calligrawords-data                         # Calligra Words templates (odt)
  calligrastage-data                         # Calligra Stage templates (odp)
  jfractionlab                               # JFractionLab worksheets (odt)
  python3-relatorio                          # relatorio: odt ods odp templates
  libreoffice-help-common                    # LibreOffice help: ods, svg, png
  libreoffice-help-de                        # LibreOffice help (de): ods
  libreoffice-help-fr                        # LibreOffice help (fr): ods
  libreoffice-help-es                        # LibreOffice help (es): ods
  libreoffice-help-it                        # LibreOffice help (it): ods
  libreoffice-help-ca                        # LibreOffice help (ca): ods (10)
  libmapsforge-java-doc                      # mapsforge docs: odp
  python-py7zr-doc                           # py7zr docs: odp
  libsystemc-doc                             # SystemC docs: ppt slides (11)
  libspreadsheet-parseexcel-perl             # Spreadsheet::ParseExcel test xls files
  libspreadsheet-writeexcel-perl             # Spreadsheet::WriteExcel example xls files
  libdbd-excel-perl                          # DBD::Excel example xls
  libole-storage-lite-perl                   # OLE::Storage_Lite sample (OLE2)
  scilab-doc                                 # Scilab docs: xls, pdf
  aplus-fsf-doc                              # A+ docs: doc, gif
  # --- PDF
  texlive-latex-recommended-doc              # LaTeX package manuals (pdf, ~155)
  debian-history                             # Debian history: pdf, epub
  debmake-doc                                # debmake guide: pdf, epub, html
  # --- images
  gimp-help-en                               # GIMP manual: jpeg, png, html, woff2
  nagios-images                              # Nagios logos: jpeg, gif, png
  famfamfam-flag-gif                         # flag icons: gif
  desktop-base                               # Debian desktop backgrounds: png, svg, jpeg
  gnome-backgrounds                          # GNOME wallpapers: webp, jpeg, png
  shotcut-data                               # Shotcut filters/ui: webp (93), png
  golang-golang-x-image-dev                  # golang.org/x/image testdata: webp tiff bmp png gif
  gnustep-icons                              # GNUstep icons: tiff
  checkit-tiff                               # checkit_tiff test images: tiff
  wmaker-data                                # Window Maker icons: tiff, xpm
  lmarbles                                   # LMarbles game graphics: bmp
  atlc-examples                              # atlc example bitmaps: bmp
  nsis-common                                # NSIS: bmp, PE exe and dll stubs
  gnome-user-docs                            # GNOME help: svg (many), webm screencasts (42), png
  gnome-icon-theme                           # GNOME icons: png, svg
  # --- audio
  sound-theme-freedesktop                    # freedesktop sound theme: oga (35)
  yaru-theme-sound                           # Yaru sound theme: oga (18)
  sonic-pi-samples                           # Sonic Pi samples: flac (165)
  triplea                                    # TripleA game: mp3 (126)
  scratch                                    # Scratch: mp3, wav, gif, sqlite-ish .db
  wims-help                                  # WIMS help: mp3 (37)
  asterisk-core-sounds-en-wav                # Asterisk prompts: wav (568)
  ktuberling-data                            # KTuberling: ogg (1376), wav
  lebiniou-data                              # Le Biniou: mp4 (12), flac
  # --- video
  planetblupi-common                         # Planet Blupi: mkv (14), wav
  linphone-common                            # Linphone: mkv (8), wav
  python3-mecavideo                          # MecaVideo: avi (6), mp4
  mkvtoolnix-gui                             # MKVToolNix GUI: webm
  gem-doc                                    # Gem (Pd) examples: mov, avi
  node-opencv                                # node-opencv examples: mov, avi
  coccinella                                 # Coccinella: mov
  pd-extendedview                            # Pd extendedview: mov
  libjs-dojo-dojox                           # dojox: mov, swf, gif
  kphotoalbum                                # KPhotoAlbum demo: avi, jpeg
  tupi-data                                  # Tupi: avi
  mrpt-common                                # MRPT datasets: avi
  hollywood                                  # hollywood: mp4
  janus-demos                                # Janus demos: mp4, webp
  # --- archives
  golang-github-klauspost-compress-dev       # klauspost/compress testdata: zip (54), zst, gz, bz2
  golang-github-xi2-xz-dev                   # xi2/xz testdata: xz (68)
  golang-github-vbatts-tar-split-dev         # tar-split testdata: tar (42)
  golang-1.19-src                            # Go sources: tar zip gz bz2 testdata, go source, txt
  systemd-tests                              # systemd tests: zst
  selinux-policy-default                     # SELinux modules: bz2 (331)
  libxmlb-tests                              # libxmlb tests: zst
  pcp-testsuite                              # PCP QA archives: xz (111), xlsx
  debian-edu-doc-en                          # Debian Edu manual: epub, pdf
  openjdk-17-demo                            # OpenJDK demos: jar, zip
  libcommons-lang3-java                      # Apache Commons Lang: jar
  junit4                                     # JUnit 4: jar
  manpages                                   # Linux man pages (gz; decompressed copies = man type)
  manpages-dev                               # Linux man pages, sections 2/3 (gz)
  # --- databases
  pychess                                    # PyChess: sqlite databases (31)
  bibledit-cloud-data                        # Bibledit: sqlite databases
  r-cran-sf                                  # sf: sqlite/gpkg test data
  mariadb-test-data                          # MariaDB test data: sqlite3, xls
  dokuwiki                                   # DokuWiki: sqlite3, txt, png, gif
  # --- executables and libraries (ELF, PE/EFI)
  coreutils                                  # ELF executables
  util-linux                                 # ELF executables
  busybox                                    # ELF static executable
  libssl3                                    # ELF shared libraries
  libicu72                                   # ELF shared libraries (large)
  libgtk-3-0                                 # ELF shared library
  python3.11-minimal                         # ELF executable
  libevas-loaders                            # EFL loaders: ELF .so
  grub-efi-amd64-bin                         # GRUB EFI images (PE), modules (ELF)
  shim-unsigned                              # shim: EFI PE
  refind                                     # rEFInd: EFI PE, png, bmp
  efitools                                   # efitools: EFI PE
  ipxe                                       # iPXE: EFI PE
  systemd-boot-efi                           # systemd-boot: EFI PE
  gcc-mingw-w64-x86-64-win32-runtime         # mingw runtime DLLs (PE)
  # --- fonts
  fonts-dejavu-core                          # DejaVu: ttf
  fonts-noto-core                            # Noto: ttf (268)
  fonts-lmodern                              # Latin Modern: otf (73)
  fonts-texgyre                              # TeX Gyre: otf
  fonts-roboto-fontface                      # Roboto: ttf woff woff2
  fonts-dejavu-web                           # DejaVu web fonts: woff woff2
  fonts-katex                                # KaTeX: ttf woff woff2
  fonts-mathjax                              # MathJax: otf woff
  fonts-inter                                # Inter: otf, woff2
  # --- text, structured text, mail, source
  gdal-data                                  # GDAL: csv, json, xml
  libbusiness-edi-perl                       # Business::EDI: csv (240)
  osinfo-db                                  # osinfo: xml
  node-mdn-browser-compat-data               # MDN compat data: json
  cxref-doc                                  # cxref docs: rtf, html
  gworkspace-common                          # GWorkspace: rtf, tiff
  sc3-plugins-language                       # SuperCollider plugins help: rtf
  golang-github-gatherstars-com-jwz-dev      # jwz threading testdata: eml (2403)
  python3-cryptography-vectors               # cryptography test vectors: eml, txt, pem
)

log() { printf 'build_corpus: %s\n' "$*" >&2; }
start=$(date +%s)
mkdir -p "${CACHE}/debs" "${CACHE}/staging" "${CORPUS}"

# 1. Download (only what is missing) in one `apt-get download` call (one call per package costs
#    seconds of CPU each). It aborts on an unknown name, so names are first checked with apt-cache.
if [[ ${DOWNLOAD} -eq 1 ]]; then
  missing=()
  for pkg in "${PACKAGES[@]}"; do
    compgen -G "${CACHE}/debs/${pkg}_*.deb" >/dev/null || missing+=("${pkg}")
  done
  if [[ ${#missing[@]} -gt 0 ]]; then
    mapfile -t available < <(apt-cache show --no-all-versions "${missing[@]}" 2>/dev/null |
                             sed -n 's/^Package: //p' | sort -u)
    for pkg in "${missing[@]}"; do
      [[ " ${available[*]} " == *" ${pkg} "* ]] || log "warning: ${pkg} is not in this Debian release"
    done
    if [[ ${#available[@]} -gt 0 ]]; then
      log "downloading ${#available[@]} packages into ${CACHE}/debs"
      (cd "${CACHE}/debs" && apt-get download -q "${available[@]}" >/dev/null) ||
        log "warning: apt-get download failed for some packages"
    fi
  fi
fi
log "download done after $(( $(date +%s) - start ))s"

# 2. Unpack each .deb once (marker file per package).
for deb in "${CACHE}"/debs/*.deb; do
  [[ -e ${deb} ]] || continue
  pkg=$(basename "${deb}"); pkg=${pkg%%_*}
  dest="${CACHE}/staging/${pkg}"
  [[ -e "${dest}/.unpacked" ]] && continue
  rm -rf "${dest}"; mkdir -p "${dest}"
  if dpkg-deb -x "${deb}" "${dest}"; then touch "${dest}/.unpacked"; else log "warning: cannot unpack ${deb}"; fi
done
log "unpack done after $(( $(date +%s) - start ))s"

# 3. Select, de-duplicate, cap, copy, top up, write the manifest and print the table.
python3 "${BENCH_DIR}/corpus_select.py" --staging "${CACHE}/staging" --corpus "${CORPUS}" \
  --generated "${CACHE}/generated" --cap "${CAP}" --min "${MIN}" --max-file-mb "${MAX_FILE_MB}" \
  --type-mb "${TYPE_MB}"
log "corpus ready in ${CORPUS} after $(( $(date +%s) - start ))s"
