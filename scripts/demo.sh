#!/usr/bin/env bash
# steen's main job on a demo: a damage assessment of a share of real files, parts of which were
# hit by simulated ransomware (Play, LockBit 3, Black Basta, Hunters International, base64
# evasion, Infection Monkey bit flip). Everything happens inside a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${EUID} -eq 0 ]]; then ./scripts/install-deps.sh; else sudo ./scripts/install-deps.sh; fi
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target steen >/dev/null
steen=$PWD/build/release/steen

work=$(mktemp -d /tmp/steen-demo.XXXXXX)
keep=${STEEN_DEMO_KEEP:-0}
cleanup() { if [[ $keep == 1 ]]; then echo "demo files kept in $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

echo "== 1. Gathering real files installed by Debian packages (copies)"
./scripts/gather-demo-files.sh "$work/corpus" 30 >/dev/null

echo "== 2. A demo share: six departments, each a marked drill target"
share=$work/share
mkdir -p "$share" "$work/manifests"
declare -A attack=(
  [finance]=play [hr]=lockbit3 [photos]=hunters [projects]=black-basta [legal]=base64
  [archive]=infection-monkey
)
for dept in finance hr photos projects legal archive clean-1 clean-2; do
  "$steen" drill --init "$share/$dept" --populate 40 --from "$work/corpus" >/dev/null
done
cp -r "$work/corpus/archives" "$share/clean-1/backups"

echo "== 3. Simulated attacks (real ciphers, manifests kept outside the share)"
for dept in "${!attack[@]}"; do
  family=${attack[$dept]}
  "$steen" drill "$share/$dept" --family "$family" --manifest "$work/manifests/$dept.jsonl" \
    >/dev/null
  echo "   $dept: $family"
done

echo "== 4. steen scan $share"
status=0
"$steen" scan --format text "$share" || status=$?
echo "(steen scan exit status: $status; 1 = damage found)"

echo "== 5. Undo the drills and scan again"
for dept in "${!attack[@]}"; do
  "$steen" drill --undo "$work/manifests/$dept.jsonl" >/dev/null
done
status=0
"$steen" scan --format text "$share" >/dev/null || status=$?
echo "(after undo: exit status $status; 0 = no damage)"
