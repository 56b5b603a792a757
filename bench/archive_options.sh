#!/usr/bin/env bash
# False positives on archives made with the tools' non-default options: compression levels and
# formats (gzip -1/-9/--rsyncable, xz -0/-9e/--format=lzma/--check=none/multi-block, zstd
# --ultra/--long/--format=gzip|xz|lz4, bzip2, lz4), zip and 7z methods (stored, Deflate64, BZip2,
# LZMA, PPMd, solid), legitimately encrypted containers (zip -P, AES zip, 7z -p with and without
# encrypted headers, gpg -c, openssl enc), tar/pax/v7, tars of compressed files, and archives
# split into volumes (7z -v, zip -s, split, split -d, -d -a 3, --numeric-suffixes=1). None of
# them is damaged: every "damaged" verdict is a false positive. ccrypt's output, which has no
# plaintext header at all, is counted apart.
#
# Usage: bench/archive_options.sh [--steen PATH] [--out DIR]
# Sources: a few files of bench/corpus (run bench/build_corpus.sh first). About a minute on 2 cores.
set -euo pipefail
. "$(dirname "$0")/fp_battery.sh"
fp_options archive_options "$@"
CORPUS=$ROOT/bench/corpus
[[ -d $CORPUS ]] || { echo "archive_options: no corpus at $CORPUS (bench/build_corpus.sh)" >&2; exit 2; }
rm -rf "$OUT"
SRC=$OUT/src
A=$OUT/archives
mkdir -p "$SRC" "$A"

pick() {  # pick TYPE MIN_SIZE NAME: the first corpus file of TYPE at least MIN_SIZE big
  local f
  f=$(find "$CORPUS/$1" -type f -size "+$2" 2> /dev/null | sort | head -1)
  [[ -n $f ]] && cp "$f" "$SRC/$3"
}
pick txt 50k a.txt; pick jpeg 100k b.jpg; pick pdf 200k c.pdf; pick elf 500k d.elf
pick docx 1k e.docx; pick csv 100k f.csv; pick sqlite 100k g.sqlite; pick wav 500k h.wav
PASS=not-a-secret-bench-passphrase
# gpg's keyring and agent in the output folder, not the user's ~/.gnupg (as make_benign.sh does).
export GNUPGHOME=$OUT/gnupg
mkdir -p -m 700 "$GNUPGHOME"
trap 'gpgconf --kill gpg-agent > /dev/null 2>&1 || true' EXIT
q() { "$@" > /dev/null 2>&1 || true; }

for f in "$SRC"/*; do
  n=$(basename "$f")
  for l in 1 9; do gzip -"$l" -n -c "$f" > "$A/$n.gz$l"; done
  gzip --rsyncable -n -c "$f" > "$A/$n.rsync.gz"
  for o in "-0" "-9e" "--check=none" "--check=sha256" "--format=lzma" "-T2 --block-size=65536" \
    "--x86 --lzma2=preset=6"; do
    t=$(echo "$o" | tr -d ' =-')
    # shellcheck disable=SC2086
    xz $o -c "$f" > "$A/$n.$t.xz" 2> /dev/null || rm -f "$A/$n.$t.xz"
  done
  for o in "-1" "-19" "--ultra -22" "--long=27" "-T2 -B65536" "--no-check" "--format=gzip" \
    "--format=xz" "--format=lzma" "--format=lz4" "--rsyncable"; do
    t=$(echo "$o" | tr -d ' =-')
    # shellcheck disable=SC2086
    zstd -q $o -c "$f" > "$A/$n.$t.zst" 2> /dev/null || rm -f "$A/$n.$t.zst"
  done
  for l in 1 9; do bzip2 -"$l" -c "$f" > "$A/$n.bz$l"; done
  lz4 -q -c "$f" > "$A/$n.lz4"; lz4 -q -9 --content-size -c "$f" > "$A/$n.9.lz4"
  lz4 -q -l -c "$f" > "$A/$n.legacy.lz4"
  q zip -q -0 -j "$A/$n.store.zip" "$f"; q zip -q -9 -j "$A/$n.9.zip" "$f"
  q zip -q -j -P "$PASS" "$A/$n.zipcrypto.zip" "$f"
  q 7z a -bd -tzip -mem=AES256 -p"$PASS" "$A/$n.aes.zip" "$f"
  for m in Deflate64 BZip2 LZMA; do q 7z a -bd -tzip -mm=$m "$A/$n.$m.zip" "$f"; done
  q 7z a -bd -mx=0 "$A/$n.mx0.7z" "$f"; q 7z a -bd -mx=9 -mmt=2 "$A/$n.mx9.7z" "$f"
  for m in PPMd BZip2 Deflate; do q 7z a -bd -m0=$m "$A/$n.$m.7z" "$f"; done
  q 7z a -bd -p"$PASS" "$A/$n.enc.7z" "$f"; q 7z a -bd -p"$PASS" -mhe=on "$A/$n.enche.7z" "$f"
  q 7z a -bd -ttar "$A/$n.7z.tar" "$f"; q 7z a -bd -twim "$A/$n.wim" "$f"
  gpg --batch --yes -q --pinentry-mode loopback --passphrase "$PASS" -c -o "$A/$n.gpg" "$f"
  gpg --batch --yes -q --pinentry-mode loopback --passphrase "$PASS" -c -a -o "$A/$n.asc" "$f"
  gpg --batch --yes -q --pinentry-mode loopback --passphrase "$PASS" -c --compress-algo none \
    -o "$A/$n.nocomp.gpg" "$f"
  openssl enc -aes-256-cbc -pbkdf2 -pass pass:"$PASS" -in "$f" -out "$A/$n.ossl.enc"
  openssl enc -aes-256-cbc -pbkdf2 -a -pass pass:"$PASS" -in "$f" -out "$A/$n.ossl.b64"
  ccrypt -e -K "$PASS" < "$f" > "$A/$n.cpt" 2> /dev/null || rm -f "$A/$n.cpt"
done
tar -C "$SRC" -czf "$A/all.tar.gz" .; tar -C "$SRC" -cJf "$A/all.tar.xz" .
tar -C "$SRC" --zstd -cf "$A/all.tar.zst" .; tar -C "$SRC" -cjf "$A/all.tar.bz2" .
for fmt in posix gnu v7; do tar -C "$SRC" --format=$fmt -cf "$A/all.$fmt.tar" .; done
# Tars of compressed files (a backup of .gz, .xz, PDFs): mostly random bytes, and intact.
tar -C "$A" -cf "$OUT/compressed-members.tar" $(cd "$A" && ls | grep -E '\.(gz1|xz|bz9)$' | head -20)
mv "$OUT/compressed-members.tar" "$A/"
q 7z a -bd -mx=9 -ms=on "$A/all.solid.7z" "$SRC"
mkdir -p "$A/volumes"
q 7z a -bd -v1m "$A/volumes/all.7z" "$SRC"
(cd "$A/volumes" && q zip -q -s 1m -r all.zip ../../src)
split -b 300k "$A/all.tar.gz" "$A/volumes/all.tar.gz."
split -d -b 300k "$A/all.tar.xz" "$A/volumes/all.tar.xz."
split -b 300k "$A/all.tar.bz2" "$A/volumes/all.tar.bz2.part"
split -d -a 3 -b 300k "$A/all.tar.xz" "$A/volumes/all.tar.xz.a3."        # counted from 000
split --numeric-suffixes=1 -b 300k "$A/all.tar.gz" "$A/volumes/all.tar.gz.n1."  # from 01

# ccrypt writes no plaintext header (its magic number is inside the first encrypted block): its
# output cannot be told from ransomware's by content (docs/LIMITS.md).
fp_scan "$A" .cpt "ccrypt: no plaintext header"
