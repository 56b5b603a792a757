#!/usr/bin/env bash
# Peak memory of `steen scan` on a tree of many small files (bounded memory is a design goal: the
# scanner must not keep per-file state). Builds the tree in /tmp (1,000 files per folder; small text
# files of varied content), measures with /usr/bin/time -v, removes the tree unless --keep.
#
# Usage: bench/memory.sh [--files 1000000] [--steen build/release/steen] [--threads N] [--keep]
# 1,000,000 files need ~4 GiB of inodes/blocks in /tmp and a few minutes to create and scan.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STEEN=$(dirname "${BENCH_DIR}")/build/release/steen
FILES=1000000
THREADS=$(nproc)
KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) FILES=$2; shift 2 ;;
    --steen) STEEN=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "memory: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x ${STEEN} ]] || { echo "memory: no steen at ${STEEN}" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "memory: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }

TREE=$(mktemp -d /tmp/steen-bench-memory.XXXXXX)
[[ ${KEEP} -eq 1 ]] || trap 'rm -rf "${TREE}"' EXIT
start=$(date +%s)
python3 "${BENCH_DIR}/make_tree.py" "${TREE}" "${FILES}"
made=$(( $(date +%s) - start ))
echo "memory: ${FILES} files created in ${made}s under ${TREE}" >&2

measure() {  # label, extra args...
  local label=$1; shift
  local log; log=$(mktemp)
  /usr/bin/time -v "${STEEN}" scan --format jsonl --no-progress --threads "${THREADS}" "$@" "${TREE}" \
    >/dev/null 2>"${log}" || true
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "${log}")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "${log}")
  awk -v l="${label}" -v n="${FILES}" -v w="${wall}" -v r="${rss:-0}" \
    'BEGIN {printf "| %s | %s | %s | %.1f |\n", l, n, w, r / 1024}'
  rm -f "${log}"
}
echo "### Peak memory of steen scan (${FILES} small files, ${THREADS} threads)"
echo
echo "| mode | files | wall clock | peak RSS MiB |"
echo "|---|---:|---:|---:|"
measure default
measure deep --deep
echo
