#!/usr/bin/env bash
# Attacks made of everyday tools (tests/e2e/lib/tool_attacks.sh: `openssl enc` + `mv -f` over
# each file, `xargs -P4 sh -c 'openssl enc && rm'` as nobody, ...) against `steen watch`, canaries
# off, one or more steen binaries alternated run by run. Per run: incident or not, names of the
# share changed, added or gone once the attack stood still (a file and its copy count two),
# rollback exit status, byte-identical after the rollback. A table on stdout.
# Usage: bench/tool_attacks.sh [--steen PATH[,PATH...]] [--runs N] [--attacks a,b]
# Root only. Everything runs in a mktemp -d folder under /tmp, removed at the end.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARIES=$ROOT/build/release/steen
RUNS=3
ATTACKS=""
usage() { sed -n '/^# Usage:/,/^# Root only/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --steen) BINARIES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --attacks) ATTACKS=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "tool_attacks: needs root" >&2; exit 2; }
source "$ROOT/scripts/lib/processes.sh"
WORK=$(mktemp -d /tmp/steen-tool-attacks.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  kill_started "${PIDS[@]}"
  rm -rf "$WORK"
}
trap cleanup EXIT
bad() { echo "tool_attacks: $*" >&2; }
check() { eval "$1" || bad "$2"; }
"$ROOT/scripts/gather-demo-files.sh" "$WORK/corpus" 8 > /dev/null 2>&1
source "$ROOT/tests/e2e/lib/watch_attack.sh"
source "$ROOT/tests/e2e/lib/tool_attacks.sh"
[[ -n $ATTACKS ]] || ATTACKS=${TOOL_ATTACK_NAMES// /,}

echo "| attack | steen | run | incident | names changed before the stop | rollback | byte-identical |"
echo "|---|---|---:|---|---:|---|---|"
for name in ${ATTACKS//,/ }; do
  for run in $(seq 1 "$RUNS"); do
    for binary in ${BINARIES//,/ }; do
      STEEN=$(realpath "$binary")
      label="$name-$run-$(basename "$(dirname "$(dirname "$(dirname "$STEEN")")")")"
      run_tool_attack "$label" "$name" > /dev/null 2>&1
      echo "| $name | $binary | $run | ${incident:-none} | $changed | $rollback_rc | $identical |"
      [[ -n ${STEEN_KEEP:-} ]] && cp -r "$dir" "$STEEN_KEEP/" 2> /dev/null
      rm -rf "$dir"
    done
  done
done
