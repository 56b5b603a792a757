#!/usr/bin/env bash
# End-to-end test of the Antwerp scenario (issue 6) on a real Samba share: remote encryption from
# an attacker host (`steen drill smb://...` in a network namespace) while a colleague on another
# host saves office documents and copies photos into the same share. Checked for each attack: the
# alert names the attacker's client address and user, the attacker's smbd sessions are suspended
# after a handful of files, its reconnection is refused while the colleague's session goes on
# unalerted and untouched, `steen kill` then `steen rollback` bring the attacked folder back
# byte-identical (sha256 of every file) and keep every file the colleague saved, and `steen resume`
# releases the block. One attack splits its work over short-lived processes, each with its own
# SMB session (a new smbd pid): they are contained as one client. One attack is followed by a
# restart of Samba: the block survives it and the rollback still works.
# Usage: watch_smb_test.sh /path/to/steen      STEEN_TEST_KEEP=1 keeps the temporary folder;
# STEEN_SMB_CASES="play workers" runs only those attacks.
set -uo pipefail
STEEN=$(realpath "${1:?path to steen}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/e2e/lib/samba_rig.sh"
source "$ROOT/scripts/lib/processes.sh"
if ! rig_available; then
  echo "SKIP: $RIG_SKIP_REASON"
  exit 0
fi
if ! command -v nft > /dev/null || ! nft list tables > /dev/null 2>&1; then
  echo "SKIP: nftables is not usable here (apt-get install nftables)"
  exit 0
fi
WORK=$(mktemp -d /tmp/steen-watch-smb-e2e.XXXXXX)
PIDS=()
TABLE=steen_test_$$
cleanup() {
  rig_stop  # first: kill_started's wait would otherwise wait for the rig's smbd too
  kill_started "${PIDS[@]}"
  nft delete table inet "$TABLE" 2> /dev/null || true
  # A failed run keeps its logs and catalogs for a look (the corpus copy goes).
  if [[ ${STEEN_TEST_KEEP:-0} == 1 || ${fail:-0} -gt 0 ]]; then
    rm -rf "$WORK/corpus"
    echo "kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
pass=0
fail=0
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then pass=$((pass + 1)); else bad "$2"; fi; }
t0=$(date +%s)

"$ROOT/scripts/gather-demo-files.sh" "$WORK/corpus" 8 > /dev/null 2>&1
if [[ $(find "$WORK/corpus" -type f | wc -l) -lt 40 ]]; then
  echo "SKIP: fewer than 40 corpus files gathered"
  exit 0
fi
source "$ROOT/tests/e2e/lib/smb_attack.sh"
smb_rig_up || { bad "rig did not start"; exit 1; }
# Canaries off: the content judgement alone must contain the client. The blocks go to a table of
# this test's own (removed on exit).
smb_watch_up -o canaries.enabled=false -o "smb.nft_table=$TABLE" || exit 1

# The test table's IPv4 blocks, listed until nft answers (a listing can fail while another
# process changes the ruleset: the unit tests' tables come and go in parallel).
blocks() {
  local i out
  for i in 1 2 3 4 5; do
    if out=$(nft list set inet "$TABLE" blocked_ipv4 2> "$WORK/nft.err"); then
      printf '%s\n' "$out"
      return 0
    fi
    sleep 0.2
  done
  echo "nft list failed: $(cat "$WORK/nft.err")" >&2
  return 1
}
# (The listing is read whole first: `grep -q` leaving a pipe early fails the pipeline under
# pipefail.)
blocked() { local out; out=$(blocks) && grep -q -F "$1" <<< "$out"; }
not_blocked() { local out; out=$(blocks) && ! grep -q -F "$1" <<< "$out"; }

# one_attack LABEL FAMILY [drill options...]
one_attack() {
  local label=$1
  smb_attack "$@" || { bad "$label: no incident names the attacker ($RIG_ATT_ADDR): $(tail -5 "$WORK/watch.log")"; return; }
  check "[ $SMB_DAMAGED -le 10 ]" "$label: $SMB_DAMAGED files damaged before containment (at most 10)"
  check "[ '$SMB_ALERT_CLIENT' = '$RIG_ATT_ADDR' ]" "$label: alert client.address '$SMB_ALERT_CLIENT'"
  check "grep -F '\"$RIG_ATT_ADDR\"' '$WORK/alerts.jsonl' | grep -c -F '$SMB_ATT' > /dev/null" \
    "$label: no alert names the attacker's user $SMB_ATT"
  check "[ $SMB_STOPPED = yes ]" "$label: the attacker's smbd sessions were not all suspended"
  check "[ $SMB_REFUSED = yes ]" "$label: a new connection from the attacker was not refused: $(tail -2 "$WORK/$label/reconnect.out")"
  check "[ $SMB_COL_OK = yes ]" "$label: the colleague was interrupted or alerted: $(grep -m3 NT_STATUS "$WORK/$label/colleague.out")"
  check "[ \"\$(cat '$WORK/$label/rollback.rc')\" = 0 ]" "$label: rollback failed: $(tail -3 "$WORK/$label/rollback.jsonl")"
  check "[ $SMB_FOREIGN -eq 0 ]" "$label: the rollback touched $SMB_FOREIGN files outside $label/: $(grep -v -F "/$label/" "$WORK/$label/rollback.jsonl" | head -2)"
  check "[ $SMB_IDENTICAL = yes ]" "$label: not byte-identical after rollback ($SMB_LOST lost): $(diff "$WORK/$label/before.txt" "$WORK/$label/after.txt" | head -4)"
  check "\"$STEEN\" incidents --state-dir '$SMB_STATE' show '$SMB_INCIDENT' | grep -c -F '$RIG_ATT_ADDR' > /dev/null" \
    "$label: incidents show does not name the client"
  # Killed sessions stay refused until the operator releases the client.
  check "blocked '$RIG_ATT_ADDR'" "$label: no block of $RIG_ATT_ADDR in table $TABLE after the kill: $(blocks 2>&1 | tr '\n\t' '  '); $("$STEEN" incidents --state-dir "$SMB_STATE" show "$SMB_INCIDENT" 2>&1 | grep -i -m3 block)"
  "$STEEN" resume "$SMB_INCIDENT" --state-dir "$SMB_STATE" > "$WORK/$label/resume.out" 2>&1
  check "not_blocked '$RIG_ATT_ADDR'" "$label: resume did not release the block: $(cat "$WORK/$label/resume.out")"
  check "rig_client att timeout 10 smbclient '//$RIG_ATT_SERVER/$RIG_SHARE' -p $RIG_PORT -A '$WORK/auth/att' -c ls > /dev/null 2>&1" \
    "$label: the attacker's host cannot connect after resume"
  check "not_blocked '$RIG_COL_ADDR'" "$label: the colleague's address was blocked"
}

# Samba restarted during the incident: every session ends, the block (the kernel's) stays, the
# attacker is still refused and a colleague is served by the new smbd; rollback works as before.
samba_restart() {
  rig_restart_smbd || { bad "restart: smbd did not come back"; return; }
  check "blocked '$RIG_ATT_ADDR'" "restart: the block did not survive Samba's restart"
  check "! rig_client att timeout 8 smbclient '//$RIG_ATT_SERVER/$RIG_SHARE' -p $RIG_PORT -A '$WORK/auth/att' -c ls > /dev/null 2>&1" \
    "restart: the attacker reconnected to the restarted Samba"
  check "rig_client col timeout 10 smbclient '//$RIG_COL_SERVER/$RIG_SHARE' -p $RIG_PORT -A '$WORK/auth/col' -c ls > /dev/null 2>&1" \
    "restart: the colleague cannot connect to the restarted Samba"
  check "\"$STEEN\" incidents --state-dir '$SMB_STATE' show '$SMB_INCIDENT' | grep -c -F '$RIG_ATT_ADDR' > /dev/null" \
    "restart: the incident lost its client"
}

cases=${STEEN_SMB_CASES:-play basta workers restart}  # a subset, when debugging
[[ " $cases " == *" play "* ]] && one_attack play play
[[ " $cases " == *" basta "* ]] && one_attack basta black-basta
[[ " $cases " == *" workers "* ]] && one_attack workers lockbit3 --processes 4
if [[ " $cases " == *" restart "* ]]; then
  SMB_AFTER_CONTAINMENT=samba_restart one_attack restart akira
fi

# Only the attacker's smbd processes were stopped: never the test's own copies into the share
# (a gone SMB session's last events once joined root's user scope with them). The incidents are
# read once: checked here, printed below if anything failed (CI keeps no folders).
incidents_jsonl=$("$STEEN" incidents --state-dir "$SMB_STATE" --format jsonl --all 2> /dev/null)
read_incidents() {  # $1: "others" (stopped processes that are not smbd) or "dump"
  python3 -c '
import json, sys
for line in sys.stdin:
    i = json.loads(line)
    if sys.argv[1] == "dump":
        print(i["id"], i["scope"], i["scope_key"], i["message"][:200])
    for p in i.get("processes", []):
        if sys.argv[1] == "dump":
            print("  ", {k: p.get(k) for k in ("pid", "name", "start_time", "uid", "user", "state", "smb")})
        elif p.get("state") in ("suspended", "killed") and p.get("name") != "smbd":
            print(p.get("pid"), p.get("name"), p.get("exe"), p.get("state"))' "$1" <<< "$incidents_jsonl"
}
others=$(read_incidents others)
check "[ -z '$others' ]" "processes other than smbd were stopped: $others"
if [[ $fail -gt 0 ]]; then
  "$STEEN" incidents --state-dir "$SMB_STATE" --all 2>&1 | head -20 >&2
  read_incidents dump >&2
fi
smb_watch_down
echo "watch smb e2e: $pass passed, $fail failed, $(($(date +%s) - t0)) s"
[[ $fail -eq 0 ]]
