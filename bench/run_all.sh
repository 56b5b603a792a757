#!/usr/bin/env bash
# Reruns steen's whole evaluation, in order, and prints the Markdown for docs/BENCHMARKS.md (also
# saved as bench/out/BENCHMARKS.md):
#   0. scripts/install-deps.sh --bench (+ LibreOffice without GUI: office top-ups, a benign writer)
#   1. release build of steen and the bench tools (cmake --preset release)
#   2. bench/build_corpus.sh      real files from Debian packages -> bench/corpus + MANIFEST.tsv
#   3. bench/make_benign.sh       gzip/xz/zstd/bzip2/zip/7z/gpg copies -> bench/out/benign
#   4. damage_corpus              every drill profile on a stratified sample -> bench/out/damaged
#   5. bench/evaluate.py          detection, false positives, unknown (default and --deep)
#  5b. bench/variants.sh          40 layouts outside the families' (head, stride, spread, tail,
#                                 middle, kept head, bit flips, base64/hex of bit flips)
#   6. bench/throughput.sh        cat vs steen vs yara vs ent vs file; in-memory classifier
#   7. bench/memory.sh            peak RSS on many small files (only with --memory-files N)
#   8. bench/vault_matrix.sh      every drill profile x write pattern: stop, rollback, sha256
#                                 (only with --vault; root)
#   9. bench/vault_overhead.sh    benign writers with and without steen watch (only with --vault)
#
# Usage: bench/run_all.sh [--no-install] [--no-office] [--per-type N] [--cap N]
#                         [--memory-files N] [--runs N] [--vault]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "${BENCH_DIR}")
INSTALL=1
OFFICE=1
PER_TYPE=10
CAP=150
MEMORY_FILES=0
RUNS=5
VAULT=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --no-install) INSTALL=0; shift ;;
    --no-office) OFFICE=0; shift ;;
    --per-type) PER_TYPE=$2; shift 2 ;;
    --cap) CAP=$2; shift 2 ;;
    --memory-files) MEMORY_FILES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --vault) VAULT=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_all: unknown argument $1" >&2; exit 2 ;;
  esac
done
OUT=${BENCH_DIR}/out
mkdir -p "${OUT}"
MD=${OUT}/BENCHMARKS.md
TIMES=${OUT}/step_times.tsv
printf 'step\tseconds\n' > "${TIMES}"
step() {  # name, command...
  local name=$1; shift
  echo "== ${name}" >&2
  local t0; t0=$(date +%s)
  "$@"
  printf '%s\t%s\n' "${name}" "$(( $(date +%s) - t0 ))" >> "${TIMES}"
}

cd "${REPO}"
if [[ ${INSTALL} -eq 1 ]]; then
  if [[ ${OFFICE} -eq 1 ]]; then
    step install-deps bash scripts/install-deps.sh --bench  # + LibreOffice
  else
    step install-deps bash scripts/install-deps.sh
  fi
  step apt-file-update apt-file update
fi
step configure cmake --preset release -DSTEEN_BUILD_BENCH=ON
step build cmake --build --preset release --target steen damage_corpus classifier_throughput
STEEN=${REPO}/build/release/steen

step corpus "${BENCH_DIR}/build_corpus.sh" --cap "${CAP}"
step benign "${BENCH_DIR}/make_benign.sh"
step damage "${REPO}/build/release/bench/damage_corpus" --corpus "${BENCH_DIR}/corpus" \
  --out "${OUT}/damaged" --per-type "${PER_TYPE}"

{
  echo "## Detection (default scan)"
  echo
  step evaluate "${BENCH_DIR}/evaluate.py" --steen "${STEEN}"
  cp "${OUT}/report.json" "${OUT}/report-default.json"
  echo "## Detection (--deep)"
  echo
  step evaluate-deep "${BENCH_DIR}/evaluate.py" --steen "${STEEN}" --deep
  cp "${OUT}/report.json" "${OUT}/report-deep.json"
  echo "## Layouts outside the families'"
  echo
  step variants "${BENCH_DIR}/variants.sh" --steen "${STEEN}"
  echo "## Large gzip files from every encoder"
  echo
  step gzip-encoders "${BENCH_DIR}/gzip_encoders.sh" --steen "${STEEN}"
  echo "## WebP files from libwebp's options"
  echo
  step webp-encoders "${BENCH_DIR}/webp_encoders.sh" --steen "${STEEN}"
  echo "## Speed"
  echo
  step throughput "${BENCH_DIR}/throughput.sh" --steen "${STEEN}" --runs "${RUNS}"
  if [[ ${MEMORY_FILES} -gt 0 ]]; then
    step memory "${BENCH_DIR}/memory.sh" --files "${MEMORY_FILES}" --steen "${STEEN}"
  fi
  if [[ ${VAULT} -eq 1 ]]; then
    echo "## Protective copies and rollback"
    echo
    step vault-matrix "${BENCH_DIR}/vault_matrix.sh" --steen "${STEEN}"
    step vault-overhead "${BENCH_DIR}/vault_overhead.sh" --steen "${STEEN}" --runs "${RUNS}"
  fi
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release && echo "${PRETTY_NAME}"); steen $(git -C "${REPO}" rev-parse --short HEAD)."
} | tee "${MD}"
echo >&2
echo "run_all: step times (s):" >&2
column -t "${TIMES}" >&2
