#!/usr/bin/env bash
# Remote encryption of a Samba share, contained per client and rolled back (issue 6).
#
# A private smbd (tests/e2e/lib/samba_rig.sh) with an attacker host and a colleague host (network
# namespaces, 198.18.0.0/15), `steen watch` on its share. For each profile x repetition
# (tests/e2e/lib/smb_attack.sh): a fresh folder of N real files, the drill over SMB from the
# attacker host at a pace while the colleague saves office documents and copies photos over one
# long session; recorded: files damaged before containment (the manifest's "op":"file" lines),
# the attacker's sessions suspended, its reconnection refused, the colleague unalerted and
# uninterrupted with every file it saved intact after the rollback, `steen rollback` leaving the
# attacked folder byte-identical (sha256 of every file), files lost. Then `steen resume` releases
# the client. Results: OUT/matrix.tsv and a markdown table (median and max damaged per profile)
# on stdout and in OUT/matrix.md.
#
# Usage: bench/smb_matrix.sh [--steen PATH] [--profiles a,b,...] [--runs R] [--pace P]
#          [--canaries on|off] [--out DIR] [--keep]
# Root only (fanotify, network namespaces, nftables). Everything runs in a mktemp -d folder under
# /tmp, removed at the end (--keep leaves it); every process and namespace started is removed.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEEN=$ROOT/build/release/steen
PROFILES=play,lockbit3,black-basta,blackcat-dot,akira,art-ccrypt
RUNS=3
PACE=30
CANARIES=off
OUT=$ROOT/bench/out/smb_matrix
KEEP=0
usage() { sed -n '/^# Usage:/,/^# Root only/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --steen) STEEN=$2; shift 2 ;;
    --profiles) PROFILES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --pace) PACE=$2; shift 2 ;;
    --canaries) CANARIES=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) usage ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "smb_matrix: needs root" >&2; exit 2; }
[[ $CANARIES == on || $CANARIES == off ]] || usage
STEEN=$(realpath "$STEEN")
[[ -x $STEEN ]] || { echo "smb_matrix: no steen at $STEEN" >&2; exit 2; }
source "$ROOT/tests/e2e/lib/samba_rig.sh"
source "$ROOT/scripts/lib/processes.sh"
rig_available || { echo "smb_matrix: $RIG_SKIP_REASON" >&2; exit 2; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/steen-smb-matrix.XXXXXX)
PIDS=()
TABLE=steen_bench_$$
cleanup() {
  rig_stop  # first: kill_started's wait would otherwise wait for the rig's smbd too
  kill_started "${PIDS[@]}"
  nft delete table inet "$TABLE" 2> /dev/null || true
  if [[ $KEEP -eq 1 ]]; then echo "smb_matrix: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bad() { echo "smb_matrix: $*" >&2; }
check() { eval "$1" || bad "$2"; }

"$ROOT/scripts/gather-demo-files.sh" "$WORK/corpus" 8 > /dev/null 2>&1
source "$ROOT/tests/e2e/lib/smb_attack.sh"
smb_rig_up || exit 1
smb_watch_up -o "canaries.enabled=$([[ $CANARIES == on ]] && echo true || echo false)" \
  -o "smb.nft_table=$TABLE" || exit 1

tsv=$OUT/matrix.tsv
printf 'profile\trun\tdamaged\tstopped\trefused\tcolleague_ok\tidentical\tlost\tforeign\n' > "$tsv"
IFS=, read -r -a profiles <<< "$PROFILES"
for profile in "${profiles[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    label=$(echo "$profile-$run" | tr -c 'a-z0-9\n-' '-')
    if SMB_PACE=$PACE smb_attack "$label" "$profile" --seed "$run" >&2; then
      "$STEEN" resume "$SMB_INCIDENT" --state-dir "$SMB_STATE" > /dev/null 2>&1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$profile" "$run" "$SMB_DAMAGED" "$SMB_STOPPED" \
      "$SMB_REFUSED" "$SMB_COL_OK" "$SMB_IDENTICAL" "$SMB_LOST" "$SMB_FOREIGN" >> "$tsv"
  done
done
smb_watch_down

python3 - "$tsv" << 'EOF' | tee "$OUT/matrix.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print("| profile | runs | damaged median | damaged max | suspended | reconnection refused | colleague untouched | byte-identical | files lost | rolled back elsewhere |")
print("|---|---:|---:|---:|---|---|---|---|---:|---:|")
def share(rs, key):
    return "%d/%d" % (sum(r[key] == "yes" for r in rs), len(rs))
for profile in dict.fromkeys(r["profile"] for r in rows):
    rs = [r for r in rows if r["profile"] == profile]
    dmg = [int(r["damaged"] or 0) for r in rs]
    print("| %s | %d | %g | %d | %s | %s | %s | %s | %d | %d |" % (
        profile, len(rs), statistics.median(dmg), max(dmg), share(rs, "stopped"),
        share(rs, "refused"), share(rs, "colleague_ok"), share(rs, "identical"),
        sum(max(0, int(r["lost"])) for r in rs), sum(int(r["foreign"] or 0) for r in rs)))
dmg = [int(r["damaged"] or 0) for r in rows]
print("\nAll runs: %d, damaged median %g, max %d." % (len(rows), statistics.median(dmg), max(dmg)))
EOF
# Where the attacker's smbd sessions stopped (docs/design/smb.md "Stopping a session where it
# holds no lock").
grep -h -o "smbd stops: .*" "$WORK/watch.log" | tee -a "$OUT/matrix.md"
