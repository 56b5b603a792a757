#!/usr/bin/env bash
# False positives on the files a Debian system carries itself: `steen scan` (default reads) over
# /usr, /etc, /var/lib/dpkg and the apt cache, which nobody encrypted. Every "damaged" verdict is
# a false positive or a file that is random by nature (encrypted test data, signature-less
# compressed streams such as brotli); the report groups them by reason with examples.
# Complements bench/evaluate.py, whose corpus is chosen by type: this one takes whatever the
# machine has installed (other scripts, legacy encodings, caches, bitcode, keys...).
#
# Usage: bench/system_fp.sh [--steen PATH] [--out DIR] [DIR...]
# Reads only; writes DIR/system_fp.jsonl (default bench/out/system_fp). A few minutes on 2 cores.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEEN=$ROOT/build/release/steen
OUT=$ROOT/bench/out/system_fp
DIRS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --steen) STEEN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "system_fp: unknown option $1" >&2; exit 2 ;;
    *) DIRS+=("$1"); shift ;;
  esac
done
[[ -x $STEEN ]] || { echo "system_fp: no steen at $STEEN" >&2; exit 2; }
if [[ ${#DIRS[@]} -eq 0 ]]; then
  for d in /usr/share /usr/lib /usr/bin /usr/include /etc /var/lib/dpkg /var/cache/apt/archives; do
    [[ -d $d ]] && DIRS+=("$d")
  done
fi
mkdir -p "$OUT"
start=$(date +%s)
# Exit status 1 only says damage was found; 2 is a real failure.
rc=0
"$STEEN" scan --format jsonl --no-progress "${DIRS[@]}" > "$OUT/system_fp.jsonl" 2> "$OUT/stderr.txt" || rc=$?
[[ $rc -le 1 ]] || { echo "system_fp: steen scan exited $rc: $(tail -3 "$OUT/stderr.txt")" >&2; exit 2; }
elapsed=$(($(date +%s) - start))
python3 - "$OUT/system_fp.jsonl" "$elapsed" "$(sha256sum "$STEEN" | cut -c1-12)" \
  "$(git -C "$ROOT" rev-parse --short HEAD 2> /dev/null || echo unknown)" "${DIRS[*]}" << 'EOF'
import collections, json, sys
path, elapsed, sha, rev, dirs = sys.argv[1:6]
summary, damaged = {}, []
for line in open(path, encoding="utf-8", errors="replace"):
    try:
        rec = json.loads(line)
    except ValueError:
        continue
    if "summary" in rec:
        summary = rec["summary"]
    elif rec.get("verdict") == "damaged":
        damaged.append(rec)
files = summary.get("files", 0)
print(f"<!-- bench/system_fp.sh {dirs}; {elapsed} s; steen sha256 {sha}; git {rev} -->")
print(f"Files scanned: {files:,}; reported damaged: {len(damaged)} "
      f"({100.0 * len(damaged) / files if files else 0:.3f}%); unknown: "
      f"{summary.get('by_verdict', {}).get('unknown', 0)}.")
print()
groups = collections.defaultdict(list)
for rec in damaged:
    groups[(rec.get("kind"), rec.get("format"), (rec.get("reasons") or [""])[0][:60])].append(rec)
if groups:
    print("| files | kind | format | first reason | examples |")
    print("|---:|---|---|---|---|")
    for (kind, fmt, reason), recs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        examples = ", ".join(f"`{r['path']}`" for r in recs[:2])
        print(f"| {len(recs)} | {kind} | {fmt} | {reason} | {examples} |")
EOF
