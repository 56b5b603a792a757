#!/usr/bin/env bash
# steen's whole story in one command, inside a temporary folder:
#   1. a demo share of real files (copies of files Debian packages installed);
#   2. `steen watch` protects it (fanotify, canaries, content judgement of every write);
#   3. `steen drill --family play` attacks it like Play ransomware (real ciphers, undoable);
#   4. the alert (ECS JSON) and the suspended attacker (state T), with how few files it reached;
#   5. the incident, the attacker killed, and `steen rollback INCIDENT` restoring every file from
#      steen's vault (protective copies): the share is byte-identical to before the attack;
#   6. `steen scan` of other simulated attacks: the after-the-fact damage assessment.
# Needs root (fanotify permission events, SIGSTOP of other processes).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${EUID} -ne 0 ]]; then exec sudo --preserve-env=STEEN_DEMO_KEEP "$0" "$@"; fi

./scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target steen >/dev/null
steen=$PWD/build/release/steen

work=$(mktemp -d /tmp/steen-demo.XXXXXX)
keep=${STEEN_DEMO_KEEP:-0}
watch_pid=""
drill_pid=""
cleanup() {
  [[ -n $drill_pid ]] && { kill -CONT "$drill_pid" 2>/dev/null; kill -KILL "$drill_pid" 2>/dev/null; } || true
  [[ -n $watch_pid ]] && kill -TERM "$watch_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [[ $keep == 1 ]]; then echo "demo files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

echo "== 1. Gathering real files installed by Debian packages (copies)"
./scripts/gather-demo-files.sh "$work/corpus" 30 >/dev/null
share=$work/share
"$steen" drill --init "$share/finance" --populate 80 --from "$work/corpus" >/dev/null
echo "   $share/finance: $(find "$share/finance" -type f | wc -l) files"
sums() { (cd "$1" && find . -type f ! -name .steen-drill-target -print0 | sort -z | xargs -0 sha256sum); }
sums "$share/finance" >"$work/before.sha256"

echo "== 2. steen watch $share/finance (alerts: one JSON line each on stdout; vault in $work/state/vault)"
"$steen" watch "$share/finance" -o "state_dir=$work/state" >"$work/alerts.jsonl" 2>"$work/watch.log" &
watch_pid=$!
for _ in $(seq 1 100); do grep -q "watching (pid" "$work/watch.log" && break; sleep 0.1; done
sed 's/^/   /' "$work/watch.log"

echo "== 3. steen drill $share/finance --family play --pace 30 (simulated Play ransomware)"
"$steen" drill "$share/finance" --family play --pace 30 --manifest "$work/play.jsonl" \
  >"$work/drill.log" 2>&1 &
drill_pid=$!
for _ in $(seq 1 300); do
  s=$(state "$drill_pid")
  [[ $s == T || -z $s ]] && break
  sleep 0.1
done
sleep 0.5

echo "== 4. The alert and the suspended attacker"
python3 - "$work/alerts.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    if a.get("event", {}).get("kind") != "alert":
        continue
    s = a.get("steen", {})
    print(f"   rule      {a['rule']['name']} ({s.get('severity')}, score {s.get('score')})")
    print(f"   message   {a.get('message')}")
    print(f"   process   pid {a.get('process', {}).get('pid')} {a.get('process', {}).get('executable')}")
    print(f"   action    {s.get('action')}: {s.get('action_detail')}")
    print(f"   incident  {s.get('incident_id')}")
    break
PY
echo "   ps: $(ps -o pid=,stat=,args= -p "$drill_pid" || echo "drill $drill_pid has exited")"
echo "   files the drill reached before it was stopped: $(grep -c '"op":"file"' "$work/play.jsonl" || true)" \
  "of $(find "$share/finance" -type f | wc -l)"

echo "== 5. Incident, kill, rollback from the vault"
"$steen" incidents --state-dir "$work/state" 2>/dev/null | sed 's/^/   /' || true
incident=$("$steen" incidents --state-dir "$work/state" --format jsonl 2>/dev/null |
  grep "\"pid\":$drill_pid" | grep -o '"id":"INC-[^"]*"' | head -1 | cut -d'"' -f4 || true)
kill -KILL "$drill_pid" 2>/dev/null || true
wait "$drill_pid" 2>/dev/null || true
drill_pid=""
echo "   steen rollback $incident (the daemon still runs, as on a live server)"
"$steen" rollback "$incident" --state-dir "$work/state" | sed 's/^/   /' || true
kill -TERM "$watch_pid"
wait "$watch_pid" 2>/dev/null || true
watch_pid=""
sums "$share/finance" >"$work/after.sha256"
if cmp -s "$work/before.sha256" "$work/after.sha256"; then
  echo "   the share is byte-identical to before the attack ($(wc -l <"$work/before.sha256") files, sha256)"
else
  echo "   NOT identical after rollback:"; diff "$work/before.sha256" "$work/after.sha256" | head | sed 's/^/   /'
fi
status=0
"$steen" scan --format text "$share/finance" >/dev/null || status=$?
echo "   steen scan after rollback: exit status $status (0 = no damage)"

echo "== 6. After the fact: steen scan of a share hit by other simulated attacks (no watch)"
declare -A attack=(
  [hr]=lockbit3 [photos]=hunters [projects]=black-basta [legal]=base64 [archive]=infection-monkey
)
for dept in "${!attack[@]}" clean-1; do
  "$steen" drill --init "$share/$dept" --populate 40 --from "$work/corpus" >/dev/null
done
cp -r "$work/corpus/archives" "$share/clean-1/backups"
for dept in "${!attack[@]}"; do
  "$steen" drill "$share/$dept" --family "${attack[$dept]}" --manifest "$work/$dept.jsonl" >/dev/null
  echo "   $dept: ${attack[$dept]}"
done
status=0
"$steen" scan --format text "$share" || status=$?
echo "(steen scan exit status: $status; 1 = damage found)"
for dept in "${!attack[@]}"; do "$steen" drill --undo "$work/$dept.jsonl" >/dev/null; done
