#!/usr/bin/env bash
# End-to-end test of attacks made of everyday tools instead of one encryptor (root only; skipped
# otherwise): each a shell one-liner on a share of 40 real files under `steen watch` (canaries
# off: content judgement alone, vault on). Checked for each: an incident, at most 10 files of the
# share changed when the attack stands still, and `steen rollback` leaves the share byte-identical.
#   rename-over   `openssl enc -pass` of each file into FILE.tmp, then `mv -f FILE.tmp FILE`: the
#                 original is never opened for writing, its ciphertext (a valid "Salted__"
#                 container) is renamed over it.
#   xargs-rm      `xargs -P4 sh -c 'openssl enc -in F -out F.locked && rm -f F'` as user nobody:
#                 a shell, an encryptor and an rm per file, each gone within milliseconds (the rm
#                 before its delete is read), only their login session adding up.
# Every wait is bounded; every process started is killed.
# Usage: watch_tools_test.sh /path/to/steen
set -uo pipefail
STEEN=$(realpath "${1:?path to steen}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root (fanotify permission events)"
  exit 0
fi
for tool in openssl xargs setpriv; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool missing"; exit 0; }
done
source "$ROOT/scripts/lib/processes.sh"
WORK=$(mktemp -d /tmp/steen-tools-e2e.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  kill_started "${PIDS[@]}"
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
source "$ROOT/tests/e2e/lib/watch_attack.sh"

# case LABEL USER COMMAND: COMMAND runs in the share as USER (root or nobody), in a session of
# its own, until steen stops it (at most 30 s).
case_tool() {
  local label=$1 user=$2 command=$3
  dir=$WORK/$label
  share=$dir/share
  mkdir -p "$dir"
  "$STEEN" drill --init "$share" --populate 40 --from "$WORK/corpus" > /dev/null ||
    { bad "$label: drill --init"; return; }
  [[ $user == root ]] || chown -R "$user:" "$share"
  tree_sums "$share" > "$dir/sums.txt"
  start_watch "$dir" "$share" -o canaries.enabled=false
  (cd "$share" && exec setsid timeout 30 setpriv --reuid="$user" --regid="$(id -g "$user")" \
    --clear-groups bash -c "$command") > "$dir/attack.out" 2>&1 &
  local attack_pid=$!
  PIDS+=("$attack_pid")
  incident=""
  for _ in $(seq 1 200); do  # at most 20 s
    incident=$("$STEEN" incidents --state-dir "$dir/state" --format jsonl 2> /dev/null |
      grep -o '"id":"INC-[^"]*"' | head -1 | cut -d'"' -f4)
    [[ -n $incident ]] && break
    sleep 0.1
  done
  check "[ -n '$incident' ]" "$label: no incident: $(tail -3 "$dir/watch.log")"
  sleep 1  # what was in flight settles; a running attack would go on meanwhile
  tree_sums "$share" > "$dir/after-attack.txt"
  local changed
  changed=$(comm -3 <(awk '{print $2}' "$dir/sums.txt" | sort) \
    <(awk '{print $2}' "$dir/after-attack.txt" | sort) | wc -l)
  changed=$((changed + $(join -j 2 <(sort -k2 "$dir/sums.txt") <(sort -k2 "$dir/after-attack.txt") |
    awk '$2 != $3' | wc -l)))
  echo "$label: $changed names changed, added or gone when the attack stood still, incident $incident"
  check "[ $changed -ge 1 ] && [ $changed -le 20 ]" \
    "$label: $changed names changed, added or gone (at most 10 files, each with its copy)"
  kill -KILL -- -"$attack_pid" 2> /dev/null
  wait "$attack_pid" 2> /dev/null
  if [[ -n $incident ]]; then
    timeout 120 "$STEEN" rollback "$incident" --state-dir "$dir/state" > "$dir/rollback.txt" 2>&1
    local rc=$?
    check "[ $rc -eq 0 ]" "$label: rollback exit $rc: $(tail -3 "$dir/rollback.txt")"
  fi
  stop_watch
  tree_sums "$share" > "$dir/after-rollback.txt"
  check "cmp -s '$dir/sums.txt' '$dir/after-rollback.txt'" \
    "$label: share not byte-identical after rollback: $(diff "$dir/sums.txt" "$dir/after-rollback.txt" | head -6)"
}

enc='openssl enc -aes-256-ctr -pass pass:drill -pbkdf2'
case_tool rename-over root \
  "for f in \$(find . -type f ! -name .steen-drill-target | sort); do
     $enc -in \"\$f\" -out \"\$f.tmp\" && mv -f \"\$f.tmp\" \"\$f\"; sleep 0.03; done"
case_tool xargs-rm nobody \
  "find . -type f ! -name .steen-drill-target | sort |
     xargs -P4 -I{} sh -c '$enc -in \"{}\" -out \"{}.locked\" && rm -f \"{}\"'"

echo "watch_tools_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
