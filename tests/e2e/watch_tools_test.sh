#!/usr/bin/env bash
# End-to-end test of attacks made of everyday tools instead of one encryptor (root only; skipped
# otherwise): each attack of tests/e2e/lib/tool_attacks.sh (`openssl enc` + `mv -f` over each
# file; `xargs -P4 sh -c 'openssl enc && rm'` as user nobody; workers orphaned by a double
# fork; ...) on a share of 40 real files under `steen watch` (canaries off: content judgement
# alone, vault on). Checked for each: an incident, at most 10 files of the share changed when
# the attack stands still, and `steen rollback` leaves the share byte-identical.
# bench/tool_attacks.sh measures the same attacks.
# Every wait is bounded; every process started is killed.
# Usage: watch_tools_test.sh /path/to/steen
set -uo pipefail
STEEN=$(realpath "${1:?path to steen}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: needs root (fanotify permission events)"
  exit 0
fi
for tool in openssl xargs setpriv gpg shred tar dd python3; do
  command -v "$tool" > /dev/null || { echo "SKIP: $tool missing"; exit 0; }
done
source "$ROOT/scripts/lib/processes.sh"
WORK=$(mktemp -d /tmp/steen-tools-e2e.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  kill_started "${PIDS[@]}"
  # A failed run keeps its shares, logs and catalogs for a look (only the corpus copy goes).
  if [[ $fail -gt 0 ]]; then
    rm -rf "$WORK/corpus"
    echo "watch_tools_test: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
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

source "$ROOT/tests/e2e/lib/tool_attacks.sh"

# What the catalogs say of each file the rollback left different (CI keeps no folders): who
# changed it, whether the vault kept it, which processes the incident named.
explain_difference() {
  command -v sqlite3 > /dev/null || return 0
  local path rel
  while read -r rel; do
    path=$share/${rel#./}
    echo "  $rel: changes (time, op, path, new path, pid, start, exe, uid):" >&2
    sqlite3 "$dir/state/vault/catalog.db" "SELECT time_ns, op, path, new_path, pid, start_time,
      exe, actor_uid FROM changes WHERE path = '$path' OR new_path = '$path' OR
      path LIKE '$path.%' ORDER BY id" 2>&1 | sed 's/^/    /' >&2
    echo "  links: $(sqlite3 "$dir/state/vault/catalog.db" \
      "SELECT count(*) FROM links WHERE path = '$path'" 2>&1)" >&2
  done < <(diff "$dir/sums.txt" "$dir/after-rollback.txt" | awk '/^[<>]/ {print $3}' | sort -u)
  echo "  incident processes (pid, ppid, comm, state, reason):" >&2
  sqlite3 "$dir/state/incidents.db" "SELECT pid, ppid, comm, state, reason FROM processes" 2>&1 |
    sed 's/^/    /' >&2
  grep -m2 'processes:' "$dir/watch.log" | sed 's/^/  /' >&2
}
for name in $TOOL_ATTACK_NAMES; do
  run_tool_attack "$name" "$name" || continue
  echo "$name: $changed names changed, added or gone when the attack stood still, incident $incident"
  check "[ -n '$incident' ]" "$name: no incident: $(tail -3 "$dir/watch.log")"
  # At most 10 files damaged (issue 4), each with its copy or temporary name.
  check "[ $changed -ge 1 ] && [ $changed -le 20 ]" "$name: $changed names changed, added or gone"
  check "[ $rollback_rc -eq 0 ]" "$name: rollback exit $rollback_rc: $(tail -3 "$dir/rollback.txt" 2> /dev/null)"
  check "[ $identical = yes ]" \
    "$name: share not byte-identical after rollback: $(diff "$dir/sums.txt" "$dir/after-rollback.txt" | head -6)"
  [[ $identical = yes ]] || explain_difference
done

echo "watch_tools_test: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
