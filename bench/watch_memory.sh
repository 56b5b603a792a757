#!/usr/bin/env bash
# Memory of `steen watch` protecting a share of many files (issue 4: at most 100 MB RSS for one
# million files). Builds the tree in a mktemp -d folder (bench/make_tree.py: 1,000 small text
# files per folder, as bench/memory.sh), starts the daemon with its default configuration (vault,
# canaries, detection) on it, and reads the daemon's VmRSS and VmHWM from /proc:
#   1. once it is watching (every folder marked, canaries placed);
#   2. after a workload over the whole tree: --edits files opened for writing and appended to
#      (each gets a protective copy, a view and a vault row), --reads files read (kept links);
#   3. with --renames N: N files renamed in their folder (one rename(2) each, as fast as Python
#      issues them), and what they cost the daemon once the vault keeps the reads' links: its CPU
#      time and how long after the first rename it was idle again (CPU unchanged for 0.5 s);
# then stops it cleanly (SIGTERM) and removes everything.
#
# Usage: bench/watch_memory.sh [--files 1000000] [--edits 20000] [--reads 20000] [--renames 0]
#                              [--steen build/release/steen] [--keep]
# Root only (fanotify). ~4 GiB of inodes/blocks under /tmp and a few minutes for 1,000,000 files.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "${BENCH_DIR}")
STEEN=${ROOT}/build/release/steen
FILES=1000000
EDITS=20000
READS=20000
RENAMES=0
KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --files) FILES=$2; shift 2 ;;
    --edits) EDITS=$2; shift 2 ;;
    --reads) READS=$2; shift 2 ;;
    --renames) RENAMES=$2; shift 2 ;;
    --steen) STEEN=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "watch_memory: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "watch_memory: needs root (fanotify)" >&2; exit 2; }
[[ -x ${STEEN} ]] || { echo "watch_memory: no steen at ${STEEN}" >&2; exit 2; }
source "${ROOT}/scripts/lib/processes.sh"

WORK=$(mktemp -d /tmp/steen-bench-watch-memory.XXXXXX)
TREE=${WORK}/share
WATCH_PID=""
cleanup() {
  set +e  # the process helpers' kill of a process already gone must not end the clean-up
  [[ -n ${WATCH_PID} ]] && kill_started "${WATCH_PID}"
  [[ ${KEEP} -eq 1 ]] || rm -rf "${WORK}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
python3 "${BENCH_DIR}/make_tree.py" "${TREE}" "${FILES}"
echo "watch_memory: ${FILES} files created in $(($(date +%s) - start)) s" >&2
sync

status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
t0=$(date +%s.%N)
"${STEEN}" watch "${TREE}" -o "state_dir=${WORK}/state" > "${WORK}/alerts.jsonl" 2> "${WORK}/watch.log" &
WATCH_PID=$!
wait_for_line "${WORK}/watch.log" "watching (pid" 6000 "${WATCH_PID}" ||
  { echo "watch failed: $(tail -3 "${WORK}/watch.log")" >&2; exit 1; }
ready_s=$(awk -v a="${t0}" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
rss_ready=$(status_kb "${WATCH_PID}" VmRSS)

start=$(date +%s)
python3 - "${BENCH_DIR}" "${TREE}" "${FILES}" "${EDITS}" "${READS}" <<'EOF'
import random, sys
sys.path.insert(0, sys.argv[1])
from make_tree import path_of
root, total, edits, reads = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(7)
for n in range(edits):
    with open(path_of(root, rng.randrange(total)), "a") as f:
        f.write(f"edited {n}\n")
for n in range(reads):
    with open(path_of(root, rng.randrange(total)), "rb") as f:
        f.read()
EOF
workload_s=$(($(date +%s) - start))
sleep 1
rss_after=$(status_kb "${WATCH_PID}" VmRSS)
hwm=$(status_kb "${WATCH_PID}" VmHWM)
if [[ ${RENAMES} -gt 0 ]]; then
  links=$(sqlite3 "${WORK}/state/vault/catalog.db" "SELECT COUNT(*) FROM links" 2> /dev/null || echo "?")
  cpu0=$(cpu_ticks "${WATCH_PID}")
  t0=$(date +%s.%N)
  python3 - "${BENCH_DIR}" "${TREE}" "${FILES}" "${RENAMES}" <<'EOF'
import os, random, sys
sys.path.insert(0, sys.argv[1])
from make_tree import path_of
root, total, renames = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for n in random.Random(11).sample(range(total), min(renames, total)):
    path = path_of(root, n)
    os.rename(path, path + ".renamed")
EOF
  renames_s=$(awk -v a="${t0}" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
  prev=-1
  while :; do  # idle: no CPU for 0.5 s (bounded: 10 minutes)
    sleep 0.5
    now=$(cpu_ticks "${WATCH_PID}")
    [[ ${now} == "${prev}" ]] && break
    prev=${now}
    awk -v a="${t0}" -v b="$(date +%s.%N)" 'BEGIN {exit !(b - a > 600)}' && break
  done
  idle_s=$(awk -v a="${t0}" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a - 0.5}')
  renames_cpu=$(awk -v a="${cpu0}" -v b="${now}" -v t="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b - a) / t}')
fi
alerts=$(grep -c . "${WORK}/alerts.jsonl" || true)
stop_gracefully "${WATCH_PID}" || true
WATCH_PID=""

folders=$(( (FILES + 999) / 1000 )); (( folders > 1000 )) && folders=1000
echo "### Memory of steen watch on ${FILES} files (${folders} folders)"
echo
echo "| moment | VmRSS MiB | peak (VmHWM) MiB | seconds |"
echo "|---|---:|---:|---:|"
awk -v r="${rss_ready}" -v s="${ready_s}" 'BEGIN {printf "| watching (marks, canaries) | %.1f | | %s |\n", r / 1024, s}'
awk -v r="${rss_after}" -v h="${hwm}" -v e="${EDITS}" -v d="${READS}" -v s="${workload_s}" \
  'BEGIN {printf "| after %d appends + %d reads | %.1f | %.1f | %s |\n", e, d, r / 1024, h / 1024, s}'
if [[ ${RENAMES} -gt 0 ]]; then
  echo
  echo "| renames | kept links before | renames took s | daemon CPU s | daemon idle again after s |"
  echo "|---:|---:|---:|---:|---:|"
  echo "| ${RENAMES} | ${links} | ${renames_s} | ${renames_cpu} | ${idle_s} |"
fi
echo
echo "Alerts during the workload: ${alerts} (a benign workload must raise none)."
