# Shared by the vault end-to-end tests (sourced, never run): a share of real files watched by
# `steen watch` with its vault, attacked by `steen drill` until steen stops it.
# The sourcing script defines STEEN, WORK, the PIDS array and check/bad, gathers $WORK/corpus and
# sources scripts/lib/processes.sh.

# start_watch DIR SHARE [watch options...]: `steen watch` on SHARE with its state in DIR/state,
# alerts in DIR/alerts.jsonl. Sets watch_pid; waits (bounded) until it watches.
start_watch() {
  local wdir=$1 wshare=$2
  shift 2
  "$STEEN" watch "$wshare" -o "state_dir=$wdir/state" "$@" >> "$wdir/alerts.jsonl" 2>> "$wdir/watch.log" &
  watch_pid=$!
  PIDS+=("$watch_pid")
  check "wait_for_line '$wdir/watch.log' 'watching (pid' 100 $watch_pid" \
    "watch did not start in $wdir: $(tail -3 "$wdir/watch.log" 2> /dev/null)"
}

tree_sums() { (cd "$1" && find . -type f ! -name .steen-drill-target -print0 | sort -z | xargs -0 -r sha256sum); }

# attack LABEL FAMILY [drill options...]: populates, watches, attacks until the drill is stopped.
# Sets: dir share watch_pid drill_pid incident
attack() {
  local label=$1 family=$2
  shift 2
  dir=$WORK/$label
  share=$dir/share
  mkdir -p "$dir"
  "$STEEN" drill --init "$share" --populate 40 --from "$WORK/corpus" > /dev/null ||
    { bad "$label: drill --init"; return 1; }
  tree_sums "$share" > "$dir/sums.txt"
  start_watch "$dir" "$share" -o canaries.enabled=false
  "$STEEN" drill "$share" --family "$family" --pace 30 --manifest "$dir/m.jsonl" "$@" \
    > "$dir/drill.out" 2>&1 &
  drill_pid=$!
  PIDS+=("$drill_pid")
  local state=""
  for _ in $(seq 1 300); do  # at most 30 s
    state=$(proc_state "$drill_pid")
    [[ $state == T || -z $state ]] && break
    sleep 0.1
  done
  check "[ '$state' = T ]" "$label: drill not stopped (state '$state'): $(tail -3 "$dir/watch.log")"
  kill -KILL "$drill_pid" 2> /dev/null
  wait "$drill_pid" 2> /dev/null
  sleep 0.5  # the daemon records the incident after answering the kernel
  incident=$("$STEEN" incidents --state-dir "$dir/state" --format jsonl 2> /dev/null |
    grep "\"pid\":$drill_pid" | grep -o '"id":"INC-[^"]*"' | head -1 | cut -d'"' -f4)
  check "[ -n '$incident' ]" "$label: no incident names the drill"
  local damaged
  damaged=$(grep -c '"op":"file"' "$dir/m.jsonl" 2> /dev/null)
  echo "$label: ${damaged:-0} files damaged before the stop, incident $incident"
  [[ -n $incident ]]
}

stop_watch() {
  stop_gracefully "$watch_pid"
  # Sanitizer builds report on stderr.
  check "! grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' '$dir/watch.log'" \
    "sanitizer report in $dir/watch.log: $(grep -m3 'ERROR\|runtime error' "$dir/watch.log")"
  # The rollback's own temporary files are no vault gap.
  check "! grep -q 'steen-restore-[^ ]* opened for writing.*without a protective copy' '$dir/watch.log'" \
    "a vault gap for the rollback's own file: $(grep -m1 'without a protective copy' "$dir/watch.log")"
}

