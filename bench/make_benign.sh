#!/usr/bin/env bash
# Benign transforms of corpus samples: what people and backup tools do to files every day. None of
# them is damage; a content scan must call each output intact, or (gpg -c, zip -P, 7z -p) a
# legitimate encrypted container, never damaged.
#
# Usage: bench/make_benign.sh [--per-type N] [--max-mb N] [--corpus DIR] [--out DIR]
#   --per-type N  originals per corpus type (default 4; first N in sha256 order, deterministic)
#   --max-mb N    skip originals larger than N MiB (default 4)
# Writes <out>/<tool>/<type>/<name>.<ext> for tool in gzip xz zstd bzip2 zip 7z gpg zip-encrypted
# 7z-encrypted, one archive per type folder for zip/7z/tar-family bundles (<tool>/bundles/), and
# <out>/BENIGN.tsv (tool, expect, path, original, type, size). Rerunnable: <out> is rewritten.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CORPUS=${BENCH_DIR}/corpus
OUT=${BENCH_DIR}/out/benign
PER_TYPE=4
MAX_MB=4
PASSPHRASE=steen-bench  # a legitimate user's password, not a ransom key
while [[ $# -gt 0 ]]; do
  case $1 in
    --per-type) PER_TYPE=$2; shift 2 ;;
    --max-mb) MAX_MB=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "make_benign: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -f ${CORPUS}/MANIFEST.tsv ]] || { echo "make_benign: no ${CORPUS}/MANIFEST.tsv (run build_corpus.sh)" >&2; exit 1; }
for tool in gzip xz zstd bzip2 zip 7z gpg; do
  command -v "${tool}" >/dev/null || { echo "make_benign: ${tool} missing (scripts/install-deps.sh)" >&2; exit 1; }
done

start=$(date +%s)
rm -rf "${OUT}"
mkdir -p "${OUT}"
# gpg keeps its state in a throw-away home, never in the user's.
GNUPGHOME=$(mktemp -d /tmp/steen-bench-gnupg.XXXXXX)
export GNUPGHOME
trap 'gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "${GNUPGHOME}"' EXIT

TSV=${OUT}/BENIGN.tsv
printf 'tool\texpect\tpath\toriginal\ttype\tsize\n' > "${TSV}"
record() {  # tool expect out-path original type
  local size
  size=$(stat -c %s "${OUT}/$3")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${size}" >> "${TSV}"
}

# Deterministic sample: per type, the first PER_TYPE files (by sha256) no larger than MAX_MB.
mapfile -t SAMPLE < <(awk -F'\t' -v max=$((MAX_MB << 20)) 'NR > 1 && $3 <= max {print $1 "\t" $4 "\t" $2}' \
  "${CORPUS}/MANIFEST.tsv" | sort -k1,1 -k2,2 |
  awk -F'\t' -v n="${PER_TYPE}" '{ if (++seen[$1] <= n) print $1 "\t" $3 }')

n=0
for entry in "${SAMPLE[@]}"; do
  type=${entry%%$'\t'*}
  rel=${entry#*$'\t'}
  src=${CORPUS}/${rel}
  name=${rel#*/}; name=${name//\//--}  # <package>--<file>: unique within a type
  for tool in gzip xz zstd bzip2 zip 7z gpg zip-encrypted 7z-encrypted; do
    mkdir -p "${OUT}/${tool}/${type}"
  done
  gzip -n -c "${src}" > "${OUT}/gzip/${type}/${name}.gz" && record gzip intact "gzip/${type}/${name}.gz" "${rel}" "${type}"
  xz -6 -T1 -c "${src}" > "${OUT}/xz/${type}/${name}.xz" && record xz intact "xz/${type}/${name}.xz" "${rel}" "${type}"
  zstd -q -T1 -c "${src}" > "${OUT}/zstd/${type}/${name}.zst" && record zstd intact "zstd/${type}/${name}.zst" "${rel}" "${type}"
  bzip2 -9 -c < "${src}" > "${OUT}/bzip2/${type}/${name}.bz2" && record bzip2 intact "bzip2/${type}/${name}.bz2" "${rel}" "${type}"
  (cd "$(dirname "${src}")" && zip -q -X -9 "${OUT}/zip/${type}/${name}.zip" "$(basename "${rel}")") &&
    record zip intact "zip/${type}/${name}.zip" "${rel}" "${type}"
  7z a -bd -bso0 -mmt=1 "${OUT}/7z/${type}/${name}.7z" "${src}" >/dev/null &&
    record 7z intact "7z/${type}/${name}.7z" "${rel}" "${type}"
  gpg --batch --yes --quiet --pinentry-mode loopback --passphrase "${PASSPHRASE}" -c \
    -o "${OUT}/gpg/${type}/${name}.gpg" "${src}" &&
    record gpg container "gpg/${type}/${name}.gpg" "${rel}" "${type}"
  (cd "$(dirname "${src}")" && zip -q -X -P "${PASSPHRASE}" "${OUT}/zip-encrypted/${type}/${name}.zip" "$(basename "${rel}")") &&
    record zip-encrypted container "zip-encrypted/${type}/${name}.zip" "${rel}" "${type}"
  7z a -bd -bso0 -mmt=1 -p"${PASSPHRASE}" -mhe=on "${OUT}/7z-encrypted/${type}/${name}.7z" "${src}" >/dev/null &&
    record 7z-encrypted container "7z-encrypted/${type}/${name}.7z" "${rel}" "${type}"
  n=$((n + 1))
done

# Multi-file archives: one per corpus type folder sample (what a backup job writes).
mkdir -p "${OUT}/tar-gz/bundles" "${OUT}/tar-xz/bundles" "${OUT}/tar-zst/bundles" "${OUT}/zip/bundles" "${OUT}/7z/bundles"
declare -A files_of
for entry in "${SAMPLE[@]}"; do
  type=${entry%%$'\t'*}
  files_of[${type}]+="${entry#*$'\t'}"$'\n'
done
for type in "${!files_of[@]}"; do
  mapfile -t rels < <(printf '%s' "${files_of[${type}]}")
  tar -C "${CORPUS}" -czf "${OUT}/tar-gz/bundles/${type}.tar.gz" "${rels[@]}" && record tar-gz intact "tar-gz/bundles/${type}.tar.gz" "${type}/*" "${type}"
  tar -C "${CORPUS}" -cJf "${OUT}/tar-xz/bundles/${type}.tar.xz" "${rels[@]}" && record tar-xz intact "tar-xz/bundles/${type}.tar.xz" "${type}/*" "${type}"
  tar -C "${CORPUS}" --zstd -cf "${OUT}/tar-zst/bundles/${type}.tar.zst" "${rels[@]}" && record tar-zst intact "tar-zst/bundles/${type}.tar.zst" "${type}/*" "${type}"
  (cd "${CORPUS}" && zip -q -X "${OUT}/zip/bundles/${type}.zip" "${rels[@]}") && record zip intact "zip/bundles/${type}.zip" "${type}/*" "${type}"
  (cd "${CORPUS}" && 7z a -bd -bso0 -mmt=1 "${OUT}/7z/bundles/${type}.7z" "${rels[@]}" >/dev/null) && record 7z intact "7z/bundles/${type}.7z" "${type}/*" "${type}"
done

echo "make_benign: ${n} originals -> $(($(wc -l < "${TSV}") - 1)) benign files in ${OUT} ($(du -sh "${OUT}" | cut -f1)) after $(( $(date +%s) - start ))s"
awk -F'\t' 'NR > 1 {c[$1]++} END {for (t in c) printf "  %-14s %5d\n", t, c[t]}' "${TSV}" | sort
