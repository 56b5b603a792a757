#!/usr/bin/env bash
# Protective copies and rollback over every drill profile and every write pattern (issue 5).
#
# For each profile of `steen drill --list` x each write pattern (pwrite, mmap, new-file-unlink,
# move-out-back, and pwrite with --rename first) x canaries on/off: a fresh share of N real files
# (scripts/gather-demo-files.sh, as tests/e2e/vault_rollback_test.sh), sha256 of every file,
# `steen watch SHARE -o state_dir=...`, the drill at a pace until steen stops it (SIGSTOP: state T)
# or it finishes, then `steen rollback INCIDENT` while the daemon runs, the daemon stopped cleanly
# (SIGTERM: it removes its untouched canaries), and sha256 of every file compared with before:
# same paths, same bytes, no other file. No `drill --undo` is used: the vault alone restores.
#
# Recorded per run (bench/out/vault_matrix/matrix.tsv): files damaged before the stop (the
# manifest's "op":"file" lines naming a file of the share: files the drill opened for writing;
# canaries the drill hit are counted apart), files changed before the stop (files of the share
# missing or with other bytes just after the stop, before the rollback: what was really
# damaged; a file opened and not yet written is not), stopped or not, the rollback's exit
# status and summary, byte-identical yes/no, files lost, vault bytes (its distinct objects by the
# catalog: files in objects/ and ranges of pack files, plus kept links that are an inode's last name), measured after the stop and before the rollback, against
# bytes overwritten = the sizes, before the attack, of the files the drill changed, canaries
# included (for new file + unlink and move out and back too: the originals are what the vault
# must keep, whatever the ciphertext's size).
# Markdown tables on stdout and in matrix.md.
#
# Canaries: "on" is the default configuration (what users run); the extra files it places are
# told apart by name (the configured canary names, from `steen watch --validate`) in the
# comparison made while the daemon runs, and the comparison after the daemon's clean stop has no
# exclusion at all (it removes the canaries it placed). "off" (-o canaries.enabled=false) measures
# content judgement alone, as the e2e test does.
#
# Usage: bench/vault_matrix.sh [--steen PATH] [--files N] [--pace P] [--profiles a,b,...]
#          [--patterns p,q,...] [--canaries on|off|both] [--processes N] [--timeout S]
#          [--out DIR] [--keep] [--watch-option KEY=VALUE]...
# A pattern named "profile" keeps each profile's own write pattern. --processes N splits each
# drill over short-lived worker processes (`steen drill --processes N`: the work of no single
# process is much; issue 4's target covers it). --watch-option passes `-o KEY=VALUE` to every
# `steen watch` (a setting to compare, e.g. nice=-20).
# Root only (fanotify permission events). Everything runs in a mktemp -d folder under /tmp, which
# is removed at the end (--keep leaves it); every process started is killed on exit.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEEN=$ROOT/build/release/steen
FILES=40
PACE=30
PROFILES=""
PATTERNS="pwrite,mmap,new-file-unlink,move-out-back,rename-first"
CANARIES=both
PROCESSES=0
TIMEOUT=30
OUT=$ROOT/bench/out/vault_matrix
KEEP=0
WATCH_OPTIONS=()
usage() { sed -n '/^# Usage:/,/^# Root only/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --steen) STEEN=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --pace) PACE=$2; shift 2 ;;
    --profiles) PROFILES=$2; shift 2 ;;
    --patterns) PATTERNS=$2; shift 2 ;;
    --processes) PROCESSES=$2; shift 2 ;;
    --canaries) CANARIES=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --watch-option) WATCH_OPTIONS+=(-o "$2"); shift 2 ;;
    *) usage ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "vault_matrix: needs root (fanotify permission events)" >&2; exit 2; }
STEEN=$(realpath "$STEEN")
[[ -x $STEEN ]] || { echo "vault_matrix: no steen at $STEEN" >&2; exit 2; }
case $CANARIES in
  on | off) SETTINGS=("$CANARIES") ;;
  both) SETTINGS=(on off) ;;
  *) usage ;;
esac
HELPER=$ROOT/bench/vault_bench.py
source "$ROOT/scripts/lib/processes.sh"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/steen-vault-matrix.XXXXXX)
PIDS=()
cleanup() {
  kill_started "${PIDS[@]}"
  if [[ $KEEP -eq 1 ]]; then echo "vault_matrix: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/scripts/gather-demo-files.sh" "$WORK/corpus" 8 > /dev/null 2>&1
corpus_files=$(find "$WORK/corpus" -type f | wc -l)
if [[ $corpus_files -lt $FILES ]]; then
  echo "vault_matrix: only $corpus_files corpus files gathered (need $FILES)" >&2
  exit 1
fi
"$STEEN" watch "$WORK" --validate 2> /dev/null |
  awk '/^canaries:/ {c = 1; next} /^[^ ]/ {c = 0} c && /^    - / {sub(/^    - /, ""); gsub(/^"|"$/, ""); print}' \
    > "$WORK/canary-names.txt"
[[ -n $PROFILES ]] || PROFILES=$("$STEEN" drill --list | awk '{print $1}' | paste -sd, -)
IFS=, read -r -a profile_list <<< "$PROFILES"
IFS=, read -r -a pattern_list <<< "$PATTERNS"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

TSV=$OUT/matrix.tsv
cols=(canaries profile pattern status effective_pattern rename damaged changed canaries_hit stopped stop_ms incident
  alert rollback_rc restored recreated renamed_back removed kept_aside busy failed identical
  identical_running lost extra canaries_left canaries_running vault_bytes vault_disk_bytes
  objects sole_links overwritten_bytes range_bytes ratio differences)
(IFS=$'\t'; echo "${cols[*]}") > "$TSV"

watch_pid=""
stop_watch() {
  [[ -n $watch_pid ]] || return 0
  stop_gracefully "$watch_pid"
  watch_pid=""
}

# run_one SETTING PROFILE PATTERN: one row of the TSV.
run_one() {
  local setting=$1 profile=$2 pattern=$3
  local dir=$WORK/runs/$setting/$profile/$pattern
  local share=$dir/share state=$dir/state
  local -A r=()
  for c in "${cols[@]}"; do r[$c]=-; done
  r[canaries]=$setting r[profile]=$profile r[pattern]=$pattern r[status]=ran
  r[damaged]=0 r[changed]=0 r[canaries_hit]=0 r[stopped]=no r[lost]=0 r[extra]=0 r[canaries_left]=0 r[canaries_running]=0
  r[overwritten_bytes]=0 r[range_bytes]=0 r[vault_bytes]=0 r[vault_disk_bytes]=0
  mkdir -p "$dir"
  local drill_opts=(--pattern "$pattern")
  [[ $pattern == rename-first ]] && drill_opts=(--pattern pwrite --rename first)
  [[ $pattern == profile ]] && drill_opts=()
  [[ $PROCESSES -gt 0 ]] && drill_opts+=(--processes "$PROCESSES")
  "$STEEN" drill --init "$share" --populate "$FILES" --from "$WORK/corpus" > /dev/null
  # A few files at the share's top too: a share has them, and a profile that does not recurse
  # (infection-monkey) attacks only those.
  find "$share" -mindepth 2 -type f | sort | awk 'NR % 10 == 1' | head -4 |
    while read -r f; do mv "$f" "$share/top-$(basename "$f")"; done
  python3 "$HELPER" snapshot "$share" "$dir/before.json"
  local watch_opts=(-o "state_dir=$state" "${WATCH_OPTIONS[@]}")
  [[ $setting == off ]] && watch_opts+=(-o canaries.enabled=false)
  "$STEEN" watch "$share" "${watch_opts[@]}" > "$dir/alerts.jsonl" 2> "$dir/watch.log" &
  watch_pid=$!
  PIDS+=("$watch_pid")
  if ! wait_for_line "$dir/watch.log" "watching (pid" 100 "$watch_pid"; then
    r[status]=watch-failed
    r[differences]=$(tail -1 "$dir/watch.log" | tr '\t' ' ')
    stop_watch
    emit r
    return
  fi
  local t0 pstate="" drill_pid
  t0=$(now_ms)
  "$STEEN" drill "$share" --family "$profile" --pace "$PACE" --manifest "$dir/m.jsonl" \
    "${drill_opts[@]}" > "$dir/drill.out" 2>&1 &
  drill_pid=$!
  PIDS+=("$drill_pid")
  local tries=$((TIMEOUT * 20))
  for _ in $(seq 1 "$tries"); do
    pstate=$(proc_state "$drill_pid")
    [[ $pstate == T || -z $pstate || $pstate == Z ]] && break
    sleep 0.05
  done
  if [[ $pstate == T ]]; then
    r[stopped]=yes
    r[stop_ms]=$(($(now_ms) - t0))
  fi
  kill -KILL "$drill_pid" 2> /dev/null
  wait "$drill_pid" 2> /dev/null
  local drill_rc=$?
  if [[ ${r[stopped]} == no ]] && grep -q "container profiles write new files" "$dir/drill.out"; then
    r[status]=refused
    r[differences]="drill: $(tr '\n\t' '  ' < "$dir/drill.out")"
    stop_watch
    emit r
    return
  fi
  [[ ${r[stopped]} == no && $pstate != T && $drill_rc -ne 0 && ! -s $dir/m.jsonl ]] &&
    r[status]="drill-error:$drill_rc"
  sleep 0.5  # the daemon records the incident after answering the kernel
  IFS=$'\t' read -r "r[damaged]" "r[canaries_hit]" "r[effective_pattern]" "r[rename]" \
    "r[overwritten_bytes]" "r[range_bytes]" \
    < <(python3 "$HELPER" manifest "$dir/m.jsonl" --before "$dir/before.json")
  IFS=$'\t' read -r "r[vault_bytes]" "r[vault_disk_bytes]" "r[objects]" "r[sole_links]" \
    < <(python3 "$HELPER" vault "$state/vault")
  python3 "$HELPER" snapshot "$share" "$dir/after-stop.json"
  r[changed]=$(python3 "$HELPER" changed "$dir/before.json" "$dir/after-stop.json")
  local incident rollback_problems=""
  incident=$("$STEEN" incidents --state-dir "$state" --format jsonl 2> /dev/null |
    grep "\"pid\":${drill_pid}[,}]" | grep -o '"id":"INC-[^"]*"' | head -1 | cut -d'"' -f4)
  r[incident]=${incident:--}
  # The first alert's rule (what stopped it: a canary, or the content judgement).
  r[alert]=$(grep -m1 -o '"rule":{[^}]*"name":"[^"]*"' "$dir/alerts.jsonl" 2> /dev/null |
    grep -o '"name":"[^"]*"' | tail -1 | cut -d'"' -f4)
  [[ -n ${r[alert]} ]] || r[alert]=-
  if [[ -n $incident ]]; then
    timeout 120 "$STEEN" rollback "$incident" --state-dir "$state" --format jsonl \
      > "$dir/rollback.jsonl" 2> "$dir/rollback.err"
    r[rollback_rc]=$?
    local summary
    summary=$(grep '"summary"' "$dir/rollback.jsonl" | tail -1)
    for k in restored recreated renamed_back removed kept_aside busy failed; do
      r[$k]=$(grep -o "\"$k\":[0-9]*" <<< "$summary" | cut -d: -f2)
      [[ -n ${r[$k]} ]] || r[$k]=-
    done
    rollback_problems=$(grep -E '"action":"(failed|busy|kept_aside)"' "$dir/rollback.jsonl" |
      head -3 | tr '\n\t' '  ')
  fi
  # While the daemon runs (its canaries are there, told apart by name) ...
  python3 "$HELPER" snapshot "$share" "$dir/after-running.json"
  local diffs_running
  IFS=$'\t' read -r "r[identical_running]" _ _ "r[canaries_running]" diffs_running \
    < <(python3 "$HELPER" compare "$dir/before.json" "$dir/after-running.json" \
      --canaries "$WORK/canary-names.txt" --root-name share)
  # ... and after its clean stop, with no exclusion.
  stop_watch
  python3 "$HELPER" snapshot "$share" "$dir/after.json"
  IFS=$'\t' read -r "r[identical]" "r[lost]" "r[extra]" "r[canaries_left]" "r[differences]" \
    < <(python3 "$HELPER" compare "$dir/before.json" "$dir/after.json" \
      --canaries "$WORK/canary-names.txt" --root-name share)
  [[ ${r[identical]} == yes ]] || r[identical]=no
  # A canary left after the clean stop is an extra file too (not identical).
  if [[ ${r[canaries_left]} != 0 ]]; then
    r[identical]=no
    r[extra]=$((r[extra] + r[canaries_left]))
  fi
  [[ ${r[identical_running]} == yes || $diffs_running == - ]] || r[differences]+=" running:$diffs_running"
  [[ -z $rollback_problems ]] || r[differences]+=" rollback:$rollback_problems"
  if [[ ${r[overwritten_bytes]} -gt 0 ]]; then
    r[ratio]=$(awk -v v="${r[vault_bytes]}" -v o="${r[overwritten_bytes]}" 'BEGIN{printf "%.3f", v / o}')
  fi
  emit r
}

# emit ASSOC_NAME: one TSV line in the order of cols, and a progress line on stderr.
emit() {
  local -n row=$1
  local line=() c
  for c in "${cols[@]}"; do line+=("${row[$c]//$'\t'/ }"); done
  (IFS=$'\t'; echo "${line[*]}") >> "$TSV"
  echo "vault_matrix: canaries ${row[canaries]} ${row[profile]} / ${row[pattern]}: ${row[status]}," \
    "damaged ${row[damaged]} (changed ${row[changed]}), stopped ${row[stopped]} (${row[stop_ms]} ms), rollback ${row[rollback_rc]}," \
    "identical ${row[identical]}, lost ${row[lost]}, vault ${row[vault_bytes]} / ${row[overwritten_bytes]}" >&2
}

# Columns that a clean run has: stopped yes, rollback exit 0, identical yes.
col() { local i; for i in "${!cols[@]}"; do [[ ${cols[$i]} == "$1" ]] && echo $((i + 1)); done; }
ok_cols="$(col stopped),$(col rollback_rc),$(col identical)"
ok_values=$'yes\t0\tyes'
started=$(date +%s)
for setting in "${SETTINGS[@]}"; do
  for profile in "${profile_list[@]}"; do
    for pattern in "${pattern_list[@]}"; do
      run_one "$setting" "$profile" "$pattern"
      # A run that is not clean is kept in OUT/kept/ (manifest, alerts, logs, rollback report,
      # state with the vault; the share too) for a look afterwards; the others are removed
      # (unless --keep).
      last=$(tail -1 "$TSV")
      if [[ $last != *$'\tran\t'* || $(cut -f "$ok_cols" <<< "$last") != "$ok_values" ]] &&
        [[ $last != *$'\trefused\t'* ]]; then
        rm -rf "$OUT/kept/$setting-$profile-$pattern"
        mkdir -p "$OUT/kept"
        cp -a "$WORK/runs/$setting/$profile/$pattern" "$OUT/kept/$setting-$profile-$pattern"
      fi
      [[ $KEEP -eq 1 ]] || rm -rf "$WORK/runs/$setting/$profile/$pattern"
    done
  done
done
elapsed=$(($(date +%s) - started))

{
  echo "<!-- bench/vault_matrix.sh --files $FILES --pace $PACE --canaries $CANARIES" \
    "--processes $PROCESSES ${WATCH_OPTIONS[*]}; $(nproc) cores;" \
    "$(date -u +%Y-%m-%dT%H:%MZ); ${elapsed} s; $STEEN (sha256 $(sha256sum "$STEEN" | head -c 12))," \
    "scripts at $(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null) -->"
  python3 "$HELPER" matrix "$TSV"
} | tee "$OUT/matrix.md"
echo "vault_matrix: $TSV, $OUT/matrix.md (${elapsed} s)" >&2
