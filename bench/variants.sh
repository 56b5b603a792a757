#!/usr/bin/env bash
# Layout variants (step 5b): ~40 drill profiles whose layouts no documented family uses (head only,
# strides, spreads, header kept, tail only, middle only, footers, bit flips, base64/hex), applied by
# damage_corpus to a stratified sample of the corpus and to a sample of its 1-64 MiB files, scanned
# with `steen scan`; detection per variant.
#
#   1. bench/variants/gen_profiles.py  profiles -> OUT/profiles/*.yaml, index.json (the tail/middle
#                                      profiles hold one rule per sampled file size of the corpus)
#   2. bench/variants/sweep.py         OUT/bigcorpus (filtered MANIFEST.tsv + symlinks), damage,
#                                      scan, join -> OUT/summary.tsv, files.jsonl, report.md
#
# Usage: bench/variants.sh [--steen PATH] [--damage-corpus PATH] [--corpus DIR] [--out DIR]
#          [--per-type N] [--max-mb N] [--threads N] [--only a,b] [--deep-misses] [--keep-all]
#          [--reuse]
# Defaults: build/release/steen, build/release/bench/damage_corpus, bench/corpus,
# bench/out/variants, --per-type 4, --max-mb 64. About 1 min on 2 cores with the defaults.
# stdout: an HTML comment (command, date, steen's sha256, git HEAD) and the Markdown table for
# docs/BENCHMARKS.md (also at the top of OUT/report.md); progress on stderr.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STEEN=$ROOT/build/release/steen
DAMAGE=$ROOT/build/release/bench/damage_corpus
CORPUS=$ROOT/bench/corpus
OUT=$ROOT/bench/out/variants
PER_TYPE=4
MAX_MB=64
EXTRA=()
REUSE=0
COMMAND=bench/variants.sh
for arg in "$@"; do  # shown in the HTML comment; quoted only where the shell needs it
  if [[ $arg =~ ^[A-Za-z0-9_./,:=+-]+$ ]]; then COMMAND+=" $arg"; else COMMAND+=" $(printf '%q' "$arg")"; fi
done
usage() { sed -n '/^# Usage:/,/^# docs/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --steen) STEEN=$2; shift 2 ;;
    --damage-corpus) DAMAGE=$2; shift 2 ;;
    --corpus) CORPUS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --per-type) PER_TYPE=$2; shift 2 ;;
    --max-mb) MAX_MB=$2; shift 2 ;;
    --threads | --only) EXTRA+=("$1" "$2"); shift 2 ;;
    --deep-misses | --keep-all) EXTRA+=("$1"); shift ;;
    --reuse) REUSE=1; EXTRA+=("$1"); shift ;;
    -h | --help) usage ;;
    *) echo "variants: unknown argument $1" >&2; usage ;;
  esac
done
[[ -f $CORPUS/MANIFEST.tsv ]] || {
  echo "variants: no corpus at $CORPUS ($CORPUS/MANIFEST.tsv missing: run bench/build_corpus.sh, or pass --corpus)" >&2
  exit 2
}
[[ -x $STEEN ]] || { echo "variants: no steen at $STEEN (release build, or pass --steen)" >&2; exit 2; }
[[ $REUSE -eq 1 || -x $DAMAGE ]] || {
  echo "variants: no damage_corpus at $DAMAGE (release build, or pass --damage-corpus)" >&2
  exit 2
}
mkdir -p "$OUT"
started=$(date +%s)
if [[ $REUSE -eq 0 ]]; then
  python3 "$ROOT/bench/variants/gen_profiles.py" --corpus "$CORPUS" --out "$OUT/profiles" \
    --per-type "$PER_TYPE" --max-mb "$MAX_MB"
fi
python3 "$ROOT/bench/variants/sweep.py" --steen "$STEEN" --damage-corpus "$DAMAGE" --corpus "$CORPUS" \
  --out "$OUT" --profiles "$OUT/profiles" --per-type "$PER_TYPE" --max-mb "$MAX_MB" \
  --command "$COMMAND" ${EXTRA[@]+"${EXTRA[@]}"}
echo "variants: done in $(($(date +%s) - started)) s" >&2
