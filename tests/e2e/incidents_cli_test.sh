#!/usr/bin/env bash
# End-to-end test of `steen incidents`, `steen resume` and `steen kill` on real processes: an
# incident is recorded through the library by the test helper record_incident
# ($STEEN_RECORD_INCIDENT), then the CLI lists it, resumes the stopped process (/proc state T -> S)
# and kills the processes. Unknown ids exit 2.
# Usage: incidents_cli_test.sh /path/to/steen   (STEEN_RECORD_INCIDENT=/path/to/record_incident)
set -euo pipefail
STEEN=$(realpath "${1:?path to steen}")
RECORD=${STEEN_RECORD_INCIDENT:?path to the record_incident test helper}
WORK=$(mktemp -d /tmp/steen-incidents-e2e.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo gone; }

# No database yet: a message, exit 0, empty jsonl.
out=$("$STEEN" incidents --state-dir "$WORK/state" --format jsonl 2>"$WORK/err")
check "[ -z \"\$out\" ]" "jsonl output without a database: $out"
check "grep -q 'no incidents recorded' '$WORK/err'" "missing-database message"

sleep 1000 & a=$!
sleep 1000 & b=$!
pids+=("$a" "$b")
kill -STOP "$a"
sleep 0.2
check "[ \"$(state_of "$a")\" = T ]" "sleep $a not stopped"
id=$("$RECORD" "$WORK/state" "$a" "$b")
check "[[ '$id' == INC-* ]]" "incident id: $id"

"$STEEN" incidents --state-dir "$WORK/state" --format jsonl > "$WORK/list.jsonl"
check "[ \$(wc -l < '$WORK/list.jsonl') -eq 1 ]" "one incident listed"
check "jq -e --arg id '$id' '.id == \$id and .state == \"suspended\" and .process.pid == $a and (.files.count == 2) and (.time | test(\"Z$\"))' '$WORK/list.jsonl' >/dev/null" "jsonl fields: $(cat "$WORK/list.jsonl")"
"$STEEN" incidents --state-dir "$WORK/state" > "$WORK/list.txt"
check "grep -q \"$id.*suspended.*(pid $a)\" '$WORK/list.txt'" "text table: $(cat "$WORK/list.txt")"
"$STEEN" incidents --state-dir "$WORK/state" show "$id" > "$WORK/show.json"
check "jq -e '.alerts | length == 1' '$WORK/show.json' >/dev/null" "show has the alert"

"$STEEN" resume --state-dir "$WORK/state" "$id" > "$WORK/resume.log" 2>&1 || bad "resume exit $?: $(cat "$WORK/resume.log")"
sleep 0.2
check "[ \"$(state_of "$a")\" = S ]" "sleep $a not resumed: $(state_of "$a")"
"$STEEN" incidents --state-dir "$WORK/state" show "$id" > "$WORK/show.json"
check "jq -e '.state == \"resumed\" and any(.actions[]; .who | startswith(\"operator uid\"))' '$WORK/show.json' >/dev/null" "resumed state and operator in history"

"$STEEN" kill --state-dir "$WORK/state" "$id" > "$WORK/kill.log" 2>&1 || bad "kill exit $?: $(cat "$WORK/kill.log")"
sleep 0.3
check "! kill -0 $a 2>/dev/null || [ \"$(state_of "$a")\" = Z ]" "sleep $a still alive after kill"
check "! kill -0 $b 2>/dev/null || [ \"$(state_of "$b")\" = Z ]" "sleep $b still alive after kill"

set +e
"$STEEN" resume --state-dir "$WORK/state" INC-1999-01-01-0001 > /dev/null 2>&1; rc=$?
set -e
check "[ $rc -eq 2 ]" "unknown id exit $rc (want 2)"
set +e
"$STEEN" resume --state-dir "$WORK/state" "$id" > /dev/null 2>&1; rc=$?
set -e
check "[ $rc -eq 2 ]" "resume of a killed incident exit $rc (want 2)"

echo "incidents_cli_test: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
