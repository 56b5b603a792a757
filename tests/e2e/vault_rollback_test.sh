#!/usr/bin/env bash
# End-to-end test of protective copies and rollback on a real fanotify mark (root only; skipped
# otherwise). For each write pattern (in place, mmap, new file + unlink, move out and back, rename
# first): a share of real files, `steen watch` with its vault, a `steen drill` stopped by it, then
# `steen rollback INCIDENT` while the daemon still runs. Checked: --dry-run changes nothing; after
# the rollback every file is byte-identical to before (sha256) and no other file is left (notes
# and ciphertext copies removed); the vault is listed by `steen vault ls`; a file changed by
# somebody else after the attack is not overwritten (kept aside). No `drill --undo` is used: the
# vault alone brings the share back. Every wait is bounded; every process started is killed.
# Usage: vault_rollback_test.sh /path/to/steen
set -uo pipefail
STEEN=$(realpath "${1:?path to steen}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root (fanotify permission events)"
  exit 0
fi
source "$ROOT/scripts/lib/processes.sh"
WORK=$(mktemp -d /tmp/steen-vault-e2e.XXXXXX)
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

# A profile that renames before it encrypts (Play's layout, rename first).
sed -e 's/^name: play$/name: play-rename-first/' -e 's/^rename: last$/rename: first/' \
  "$ROOT/config/drill/play.yaml" > "$WORK/play-rename-first.yaml"

# case LABEL FAMILY [drill options...]
case_rollback() {
  local label=$1
  if ! attack "$@"; then
    stop_watch
    return
  fi
  tree_sums "$share" > "$dir/after-attack.txt"
  check "! cmp -s '$dir/sums.txt' '$dir/after-attack.txt'" "$label: the drill changed nothing"
  timeout 120 "$STEEN" rollback "$incident" --state-dir "$dir/state" --dry-run > "$dir/dry.txt" 2>&1
  tree_sums "$share" > "$dir/after-dry.txt"
  check "cmp -s '$dir/after-attack.txt' '$dir/after-dry.txt'" "$label: --dry-run changed the share"
  check "grep -q 'would be' '$dir/dry.txt'" "$label: dry run summary: $(tail -2 "$dir/dry.txt")"
  # While the daemon still runs, as an operator would.
  timeout 120 "$STEEN" rollback "$incident" --state-dir "$dir/state" --format jsonl > "$dir/rollback.jsonl" 2>&1
  local rc=$?
  check "[ $rc -eq 0 ]" "$label: rollback exit $rc: $(grep -v '"restored"\|"removed"\|"recreated"\|"renamed_back"' "$dir/rollback.jsonl" | head -5)"
  stop_watch
  tree_sums "$share" > "$dir/after-rollback.txt"
  check "cmp -s '$dir/sums.txt' '$dir/after-rollback.txt'" \
    "$label: share not byte-identical after rollback: $(diff "$dir/sums.txt" "$dir/after-rollback.txt" | head -6)"
  check "grep -q '\"summary\"' '$dir/rollback.jsonl'" "$label: no summary line"
  # A second run finds nothing left to do and changes nothing.
  timeout 120 "$STEEN" rollback "$incident" --state-dir "$dir/state" > "$dir/again.txt" 2>&1
  tree_sums "$share" > "$dir/after-again.txt"
  check "cmp -s '$dir/sums.txt' '$dir/after-again.txt'" "$label: a second rollback changed the share"
}

case_rollback in-place play
case_rollback mmap lockfile
case_rollback new-file-unlink generic-new-file
case_rollback move-out-back generic-move-out
case_rollback rename-first "$WORK/play-rename-first.yaml"

# --- somebody else changes an attacked file after the attack: not overwritten, kept aside.
if attack colleague play; then
  victim=$(grep '"op":"file"' "$dir/m.jsonl" | head -1 | grep -o '"path":"[^"]*"' | head -1 | cut -d'"' -f4)
  # The manifest names the file as the drill found it; after "rename last" it carries .PLAY.
  current=$(find "$share" -path "$share/${victim#./}*" -type f | head -1)
  if [[ -n $current ]]; then
    echo "colleague's edit" > "$current"
    sleep 0.3
    timeout 120 "$STEEN" rollback "$incident" --state-dir "$dir/state" --format jsonl > "$dir/rollback.jsonl" 2>&1
    check "grep -q '\"kept_aside\"' '$dir/rollback.jsonl'" "colleague: nothing kept aside: $(head -c 800 "$dir/rollback.jsonl")"
    check "grep -q \"colleague's edit\" '$current' 2>/dev/null || grep -rlq \"colleague's edit\" '$share'" \
      "colleague: the colleague's edit was overwritten"
  else
    bad "colleague: attacked file not found ($victim)"
  fi
  # steen vault ls lists versions under the share.
  check "'$STEEN' vault ls '$share' --state-dir '$dir/state' | grep -c before_write > /dev/null" \
    "vault ls lists no version: $("$STEEN" vault ls "$share" --state-dir "$dir/state" 2>&1 | head -3)"
  stop_watch
fi

# --- a vault that cannot take a copy never blocks the write: it lets it through and alerts.
dir=$WORK/full
mkdir -p "$dir/share"
head -c 3000000 /dev/urandom > "$dir/share/big.bin"
start_watch "$dir" "$dir/share" -o canaries.enabled=false -o vault.max_bytes=1048576 \
  -o vault.max_file_bytes=1048576
start=$(date +%s%N)
timeout 10 dd if=/dev/zero of="$dir/share/big.bin" bs=1M count=1 conv=notrunc status=none
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
check "[ $rc -eq 0 ] && [ $elapsed_ms -lt 1500 ]" "full vault: write blocked or failed (rc $rc, $elapsed_ms ms)"
sleep 0.5
check "grep -q 'vault-gap' '$dir/alerts.jsonl'" "full vault: no vault-gap alert: $(head -c 600 "$dir/alerts.jsonl")"
stop_watch

# --- kill -9 of steen watch in the middle of a copy: the writer is let through by the kernel, the
# restarted daemon's vault is consistent (no half copy, every version readable) and keeps working.
dir=$WORK/crash
mkdir -p "$dir/share"
head -c 200000000 /dev/urandom > "$dir/share/big.bin"
start_watch "$dir" "$dir/share" -o canaries.enabled=false
timeout 30 dd if=/dev/zero of="$dir/share/big.bin" bs=4k count=1 conv=notrunc status=none &
writer=$!
mid_copy=no
for _ in $(seq 1 500); do  # at most 5 s
  if [ -n "$(ls -A "$dir/state/vault/tmp" 2> /dev/null)" ]; then mid_copy=yes; break; fi
  sleep 0.01
done
kill -KILL "$watch_pid"
wait "$watch_pid" 2> /dev/null
wait "$writer"
check "[ $? -eq 0 ]" "crash: the writer failed after the daemon was killed"
echo "crash: killed $([ $mid_copy = yes ] && echo 'while a copy was in tmp/' || echo 'after the copy (not caught mid-copy)')"
mv "$dir/watch.log" "$dir/watch-killed.log"
start_watch "$dir" "$dir/share" -o canaries.enabled=false
check "[ -z \"\$(ls -A '$dir/state/vault/tmp')\" ]" "crash: half copy left in tmp/ after restart"
for id in $("$STEEN" vault ls "$dir/share" --state-dir "$dir/state" --format jsonl | grep -o '"id":[0-9]*' | cut -d: -f2); do
  check "'$STEEN' vault show $id --state-dir '$dir/state' | grep -c object > /dev/null" "crash: version $id unreadable"
done
echo "after the crash" > "$dir/share/small.txt"
echo "changed" >> "$dir/share/small.txt"
sleep 0.3
check "'$STEEN' vault ls '$dir/share/small.txt' --state-dir '$dir/state' | grep -c before_write > /dev/null" \
  "crash: the restarted daemon keeps no copies"
stop_watch

# --- bad input: unknown incident, missing vault.
"$STEEN" rollback INC-0000-00-00-9999 --state-dir "$WORK/colleague/state" > /dev/null 2> "$WORK/err.txt"
check "[ $? -eq 2 ] && [ -s '$WORK/err.txt' ]" "unknown incident: not a clear exit-2 error"
"$STEEN" vault ls /x --vault-dir "$WORK/nope" > /dev/null 2> "$WORK/err.txt"
check "[ $? -eq 2 ] && grep -q 'no vault' '$WORK/err.txt'" "missing vault: $(cat "$WORK/err.txt")"

echo "vault_rollback_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
