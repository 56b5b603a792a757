#!/usr/bin/env bash
# End-to-end test of `steen watch` on a real fanotify mark (root only; skipped otherwise): a demo
# share populated with real files, the daemon started on it, `steen drill --family play` run
# against it. Checked: the drill process ends up stopped (state T), the JSON alert on stdout names
# it, at most 10 files were damaged before the stop, the incident is recorded, and after
# `steen drill --undo` the share is whole again. Run three times: with canaries (the default),
# without them (content judgement alone), and with the work split over worker processes (all of
# them stopped with the first). The daemon's nice value is checked too. Every wait is bounded; every process started is killed on exit.
# Usage: watch_drill_test.sh /path/to/steen
set -uo pipefail
STEEN=$(realpath "${1:?path to steen}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root (fanotify permission events)"
  exit 0
fi
source "$ROOT/scripts/lib/processes.sh"
WORK=$(mktemp -d /tmp/steen-watch-e2e.XXXXXX)
PIDS=()
cleanup() {
  # Drill workers (fresh-exec children of the drill) may have been stopped too.
  kill_started "${PIDS[@]}" $(cat "$WORK"/*.drill-children 2>/dev/null)
  rm -rf "$WORK"
}
trap cleanup EXIT
pass=0
fail=0
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then pass=$((pass + 1)); else bad "$2"; fi; }

"$ROOT/scripts/gather-demo-files.sh" "$WORK/corpus" 8 > /dev/null 2>&1
if [[ $(find "$WORK/corpus" -type f | wc -l) -lt 40 ]]; then
  echo "SKIP: fewer than 40 corpus files gathered"
  exit 0
fi

# run LABEL [watch options...]
run() {
  local label=$1
  shift
  local dir=$WORK/$label share=$WORK/$label/share
  mkdir -p "$dir"
  "$STEEN" drill --init "$share" --populate 60 --from "$WORK/corpus" > /dev/null ||
    { bad "$label: drill --init"; return; }
  (cd "$share" && find . -type f ! -name .steen-drill-target -print0 | sort -z | xargs -0 sha256sum) \
    > "$dir/sums.txt"
  "$STEEN" watch "$share" -o "state_dir=$dir/state" "$@" > "$dir/alerts.jsonl" 2> "$dir/watch.log" &
  local watch_pid=$!
  PIDS+=("$watch_pid")
  # Ready when it says so on stderr (bounded).
  check "wait_for_line '$dir/watch.log' 'watching (pid' 100 $watch_pid" \
    "$label: watch did not start: $(cat "$dir/watch.log" 2> /dev/null)"

  # The daemon runs at the configured nice value (default -10), set before its threads start.
  local nice
  nice=$(sed 's/.*) //' "/proc/$watch_pid/stat" | awk '{print $17}')
  check "[ '$nice' = '${EXPECT_NICE:--10}' ]" "$label: daemon nice '$nice', expected ${EXPECT_NICE:--10}"

  # shellcheck disable=SC2086  # DRILL_ARGS: extra drill options, word-split on purpose
  "$STEEN" drill "$share" --family play --pace 30 ${DRILL_ARGS:-} --manifest "$dir/m.jsonl" \
    > "$dir/drill.out" 2>&1 &
  local drill_pid=$!
  PIDS+=("$drill_pid")
  local state=""
  for _ in $(seq 1 300); do  # at most 30 s
    state=$(proc_state "$drill_pid")
    [[ $state == T || -z $state ]] && break
    sleep 0.1
  done
  check "[ '$state' = T ]" "$label: drill $drill_pid not stopped (state '$state'): $(tail -3 "$dir/watch.log")"
  if [[ -n ${DRILL_ARGS:-} ]]; then
    # Work split over worker processes: the workers whose first files are not due yet (the pace
    # is global: the last worker's come ~1.5 s in) are stopped with the first one, not left to
    # start (state T, or Z once exited).
    # Checked once, 0.2 s after the drill was seen stopped: the workers are stopped with it, not
    # one by one as their own files come up. A worker inside fsync (state D) has the stop pending
    # and stops when it returns; R or S is a worker left to go on.
    sleep 0.2
    local workers=0 running=""
    for child in $(pgrep -P "$drill_pid"); do
      workers=$((workers + 1))
      local cs
      cs=$(proc_state "$child")
      [[ $cs == R || $cs == S ]] && running+=" $child:$cs"
    done
    echo "$label: $workers workers, still running:${running:- none}"
    check "[ $workers -ge 2 ] && [ -z '$running' ]" \
      "$label: workers of the stopped drill still running:$running ($workers workers)"
  fi
  sleep 0.5  # the alert is written by the output thread
  check "grep -q '\"kind\":\"alert\"' '$dir/alerts.jsonl'" "$label: no alert on stdout"
  check "grep '\"action\":\"suspended\"' '$dir/alerts.jsonl' | grep -c '\"pid\":$drill_pid' > /dev/null" \
    "$label: no suspended alert naming pid $drill_pid: $(head -c 1500 "$dir/alerts.jsonl")"
  local rule
  rule=$(grep -o '"rule":{"name":"[a-z-]*"' "$dir/alerts.jsonl" | head -1)
  echo "$label: first alert $rule"
  # Damaged files: the drill's manifest lists the files it changed (one line per file; worker
  # processes write theirs into parts next to it).
  local damaged
  damaged=$(cat "$dir/m.jsonl" "$dir"/m.jsonl.d/part-*.jsonl 2>/dev/null | grep -c '"op":"file"')
  damaged=${damaged:-0}
  echo "$label: files damaged before the stop: $damaged"
  check "[ $damaged -le 10 ]" "$label: $damaged files damaged before the stop (> 10)"
  check "grep '\"action\":\"suspended\"' '$dir/alerts.jsonl' | grep -c '\"incident_id\":\"INC-' > /dev/null" \
    "$label: suspended alert without incident id"
  if "$STEEN" incidents --help 2>&1 | grep -c "not available" > /dev/null; then
    echo "$label: steen incidents not available in this build: checked the database file only"
    check "[ -s '$dir/state/incidents.db' ]" "$label: no incident database"
  else
    check "'$STEEN' incidents --state-dir '$dir/state' --format jsonl 2>/dev/null | grep -c '$drill_pid' > /dev/null" \
      "$label: incident not listed: $("$STEEN" incidents --state-dir "$dir/state" --format jsonl 2>&1 | head -c 600)"
  fi

  # Kill the drill (it is stopped), stop the daemon cleanly, undo.
  kill -KILL "$drill_pid" 2>/dev/null
  wait "$drill_pid" 2>/dev/null
  kill -TERM "$watch_pid"
  local stopped=no
  for _ in $(seq 1 100); do
    kill -0 "$watch_pid" 2>/dev/null || { stopped=yes; break; }
    sleep 0.1
  done
  check "[ $stopped = yes ]" "$label: watch did not stop on SIGTERM"
  wait "$watch_pid" 2>/dev/null
  check "grep -q 'stopped:' '$dir/watch.log'" "$label: no clean stop summary"
  "$STEEN" drill --undo "$dir/m.jsonl" > "$dir/undo.log" 2>&1 || bad "$label: undo: $(cat "$dir/undo.log")"
  check "(cd '$share' && sha256sum -c --quiet '$dir/sums.txt')" "$label: share not whole after undo"
}

run canaries
EXPECT_NICE=-5 run content -o canaries.enabled=false -o nice=-5
# Work split over 8 fresh worker processes (60 files: ~8 each, at the global pace).
DRILL_ARGS="--processes 8" run processes -o canaries.enabled=false

# Bad input: a malformed override and a missing path give a clear error and exit 2, fast.
timeout 10 "$STEEN" watch "$WORK/nope" -o "state_dir=$WORK/s" > /dev/null 2> "$WORK/err.log"
check "[ $? -eq 2 ]" "missing path: exit 2 ($(cat "$WORK/err.log"))"
timeout 10 "$STEEN" watch "$WORK" -o "detect.alert_score=-1" > /dev/null 2> "$WORK/err.log"
check "[ $? -eq 2 ] && grep -q alert_score '$WORK/err.log'" "bad override: $(cat "$WORK/err.log")"

echo "watch_drill_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
