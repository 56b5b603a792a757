#!/usr/bin/env bash
# Throughput, side by side in one run on the same tree with a warm page cache (hyperfine):
#   cat        find DIR -type f -exec cat {} +            (issue 2's yardstick: every byte once)
#   read-floor bench/read_floor DIR                       (every byte once, one reused buffer: what
#                                                          reading costs without cat's per-file buffer)
#   steen      steen scan --format jsonl -j N             (default: head, tail and samples)
#   steen-deep steen scan --format jsonl --deep -j N      (every byte)
#   yara       yara -p N -r rule.yar DIR                   (rule: math.entropy(0, filesize) >= 7.9)
#   ent        ent on every file (one process per file, as a script would do it)
#   file       file on every file (one process for many files)
# then the in-memory classifier micro-benchmark (bench/classifier_throughput) on random data and a
# few real corpus files. Prints a Markdown table (medians; ratio = median / median of cat).
#
# Usage: bench/throughput.sh [--dir bench/corpus] [--steen build/release/steen] [--threads N]
#                            [--runs 5] [--warmup 1] [--no-ent] [--micro PATH|--no-micro]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "${BENCH_DIR}")
DIR=${BENCH_DIR}/corpus
STEEN=${REPO}/build/release/steen
MICRO=${REPO}/build/release/bench/classifier_throughput
READ_FLOOR=${REPO}/build/release/bench/read_floor
THREADS=$(nproc)
RUNS=5
WARMUP=1
ENT=1
OUT=${BENCH_DIR}/out
while [[ $# -gt 0 ]]; do
  case $1 in
    --dir) DIR=$2; shift 2 ;;
    --steen) STEEN=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --no-ent) ENT=0; shift ;;
    --micro) MICRO=$2; shift 2 ;;
    --no-micro) MICRO=; shift ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "throughput: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in hyperfine yara ent file; do
  command -v "${tool}" >/dev/null || { echo "throughput: ${tool} missing (scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x ${STEEN} ]] || { echo "throughput: no steen at ${STEEN}" >&2; exit 1; }
[[ -x ${READ_FLOOR} ]] || { echo "throughput: no ${READ_FLOOR} (cmake --build --preset release)" >&2; exit 1; }
[[ -d ${DIR} ]] || { echo "throughput: no tree at ${DIR}" >&2; exit 1; }
DIR=$(cd "${DIR}" && pwd)
mkdir -p "${OUT}"

RULE=${OUT}/high_entropy.yar
cat > "${RULE}" <<'EOF'
import "math"
rule high_entropy { condition: math.entropy(0, filesize) >= 7.9 }
EOF

files=$(find "${DIR}" -type f | wc -l)
bytes=$(find "${DIR}" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
echo "throughput: ${files} files, $((bytes >> 20)) MiB in ${DIR}; ${THREADS} threads; warming the page cache" >&2
find "${DIR}" -type f -exec cat {} + >/dev/null

q() { printf '%q' "$1"; }
cmds=(
  -n cat "find $(q "${DIR}") -type f -exec cat {} + >/dev/null"
  -n read-floor "$(q "${READ_FLOOR}") $(q "${DIR}") >/dev/null"
  -n steen "$(q "${STEEN}") scan --format jsonl --no-progress --threads ${THREADS} $(q "${DIR}") >/dev/null"
  -n steen-deep "$(q "${STEEN}") scan --format jsonl --no-progress --deep --threads ${THREADS} $(q "${DIR}") >/dev/null"
  -n yara-entropy "yara -p ${THREADS} -r $(q "${RULE}") $(q "${DIR}") >/dev/null 2>&1"
  -n file "find $(q "${DIR}") -type f -exec file {} + >/dev/null"
)
if [[ ${ENT} -eq 1 ]]; then
  cmds+=(-n ent "find $(q "${DIR}") -type f -exec ent {} \\; >/dev/null")
fi
# -i: steen exits 1 when it finds damage, yara when a file is unreadable; neither is a failure here.
hyperfine -i --style basic --warmup "${WARMUP}" --runs "${RUNS}" --export-json "${OUT}/throughput.json" \
  "${cmds[@]}" >&2

python3 - "${OUT}/throughput.json" "${files}" "${bytes}" "${THREADS}" "${DIR}" <<'EOF'
import json, statistics, sys
data = json.load(open(sys.argv[1]))
files, nbytes, threads, tree = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
results = {r["command"]: r for r in data["results"]}
base = statistics.median(results["cat"]["times"])
print(f"### Throughput ({files} files, {nbytes / 2**20:.0f} MiB, warm page cache, {threads} threads, "
      f"median of {len(results['cat']['times'])} runs)\n")
floor = statistics.median(results["read-floor"]["times"])
print("| tool | median s | MB/s | files/s | × cat | × read-floor |")
print("|---|---:|---:|---:|---:|---:|")
for name, r in results.items():
    m = statistics.median(r["times"])
    print(f"| {name} | {m:.3f} | {nbytes / 1e6 / m:.0f} | {files / m:.0f} | {m / base:.2f} "
          f"| {m / floor:.2f} |")
print()
EOF

if [[ -n ${MICRO} && -x ${MICRO} ]]; then
  # A few real files: the largest of some types (stable choice, from the manifest when present).
  samples=()
  if [[ -f ${DIR}/MANIFEST.tsv ]]; then
    for type in pdf jpeg mp4 elf zip sqlite; do
      f=$(awk -F'\t' -v t="${type}" '$1 == t {print $3 "\t" $2}' "${DIR}/MANIFEST.tsv" | sort -n | tail -1 | cut -f2)
      [[ -n ${f} ]] && samples+=("${DIR}/${f}")
    done
  fi
  echo "### Classifier in memory (one core, median of 7 runs)"
  echo
  echo '```'
  "${MICRO}" --mib 64 --repeat 7 "${samples[@]}" 2>"${OUT}/classifier_throughput.jsonl"
  echo '```'
  echo
fi
