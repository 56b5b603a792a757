#!/usr/bin/env bash
# Large gzip files from every encoder at hand, intact and damaged past their first 64 KiB: what
# the end check of a gzip member finds (docs/design/content.md, "A large gzip file's end").
# Sources are tars of corpus files (text, pictures, executables; bench/corpus) and a 300 KB slice;
# encoders gzip -1/-6/-9, pigz, pigz -i, libdeflate -1/-6/-12, bgzip, 7-Zip, python's zlib and
# zopfli (those installed; scripts/install-deps.sh --bench installs them). Layouts: intact, zero
# padding, a 1,064-byte footer (Play's size), a cut at 3/4, ciphertext over the last 300 B, 4 KiB
# and 64 KiB, 64 KiB at the middle, 64 B 200 KiB before the end, everything after 64 KiB or
# 1 MiB. The random bytes come from a seeded generator: the same files on every run.
#
# Usage: bench/gzip_encoders.sh [--steen PATH] [--old PATH] [--out DIR]
#   --old PATH  also scan with another steen binary, side by side (before/after a change)
set -euo pipefail
. "$(dirname "$0")/fp_battery.sh"
fp_options gzip_encoders "$@"
CORPUS=$ROOT/bench/corpus
[[ -d $CORPUS ]] || { echo "gzip_encoders: no corpus (bench/build_corpus.sh)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/src" "$OUT/gz"

# Sources: up to 30 MB of text, the corpus's pictures, up to 16 MB of executables.
tar_of() {  # tar_of NAME MAX_BYTES TYPE...
  local name=$1 max=$2
  shift 2
  (cd "$CORPUS" && for t in "$@"; do find "$t" -type f; done | sort) |
    tar -C "$CORPUS" -cf - -T - 2> /dev/null | head -c "$max" > "$OUT/src/$name.tar" || true
}
tar_of text 30000000 txt html source xml csv man
tar_of media 8000000 jpeg png
tar_of bin 16000000 elf
head -c 300000 "$OUT/src/text.tar" > "$OUT/src/slice.tar"
ls -l "$OUT"/src/*.tar | awk '{print "source: " $NF ", " $5 " bytes"}' >&2

ENCODERS=()
encode() {  # encode NAME COMMAND (reads $src, writes stdout)
  local name=$1 cmd=$2 src
  for src in "$OUT"/src/*.tar; do
    local base
    base=$(basename "$src" .tar)
    if ! (export src; bash -c "$cmd" > "$OUT/gz/$base.$name.gz") 2> /dev/null; then
      rm -f "$OUT/gz/$base.$name.gz"
      return
    fi
  done
  ENCODERS+=("$name")
}
encode gzip1 'gzip -1 -c "$src"'
encode gzip6 'gzip -6 -c "$src"'
encode gzip9 'gzip -9 -c "$src"'
command -v pigz > /dev/null && encode pigz 'pigz -c "$src"'
command -v pigz > /dev/null && encode pigz-i 'pigz -i -c "$src"'
for l in 1 6 12; do
  command -v libdeflate-gzip > /dev/null && encode "libdeflate$l" "libdeflate-gzip -$l -c \"\$src\""
done
command -v bgzip > /dev/null && encode bgzip 'bgzip -c "$src"'
command -v 7z > /dev/null && encode 7zip '7z a -tgzip -bd -so dummy "$src"'
encode zlib 'python3 -c "import gzip,sys; sys.stdout.buffer.write(gzip.compress(open(sys.argv[1],\"rb\").read(), 5))" "$src"'
# zopfli is slow: its own 1.5 MB slice of the executables.
if command -v zopfli > /dev/null; then
  head -c 1500000 "$OUT/src/bin.tar" > "$OUT/zopfli-src"
  zopfli -c "$OUT/zopfli-src" > "$OUT/gz/bin.zopfli.gz" && ENCODERS+=(zopfli)
  rm -f "$OUT/zopfli-src"
fi

python3 - "$OUT" << 'EOF'
import os, random, sys
out = sys.argv[1]
gz, dmg = os.path.join(out, 'gz'), os.path.join(out, 'files')
os.makedirs(dmg, exist_ok=True)
rng = random.Random(1486)
def noise(n):
    return rng.randbytes(n)
for name in sorted(os.listdir(gz)):
    b = open(os.path.join(gz, name), 'rb').read()
    n = len(b)
    layouts = {
        'intact': b,
        'zeros-4k': b + bytes(4096),
        'footer-1064': b + noise(1064),
        'cut-3/4': b[:n * 3 // 4],
        'tail-300': b[:-300] + noise(300),
        'tail-4k': b[:-4096] + noise(4096),
        'tail-64k': b[:-65536] + noise(65536),
        'mid-64k': b[:n // 2] + noise(65536) + b[n // 2 + 65536:],
        'keep-64k': b[:65536] + noise(n - 65536),
    }
    if n > 300000:
        layouts['64B-200k-before-end'] = b[:n - 200000] + noise(64) + b[n - 200000 + 64:]
    if n > (1 << 20) + 65536:
        layouts['keep-1m'] = b[:1 << 20] + noise(n - (1 << 20))
    for layout, data in layouts.items():
        d = os.path.join(dmg, layout.replace('/', '_'))
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, name), 'wb').write(data)
EOF

scan() {  # scan BINARY OUTPUT: scan time in seconds on stderr-free stdout
  local start end
  start=$(date +%s.%N)
  "$1" scan --format jsonl "$OUT/files" > "$2" || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
new_time=$(scan "$STEEN" "$OUT/scan.jsonl")
old_time=
[[ -n $OLD ]] && old_time=$(scan "$OLD" "$OUT/scan-old.jsonl")

python3 - "$OUT" "$new_time" "$old_time" "${ENCODERS[*]}" << 'EOF'
import collections, json, os, sys
out, new_time, old_time, encoders = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def load(path):
    rows = {}
    if not os.path.exists(path):
        return rows
    for line in open(path):
        o = json.loads(line)
        if 'verdict' in o:
            rows[o['path']] = o
    return rows
new, old = load(os.path.join(out, 'scan.jsonl')), load(os.path.join(out, 'scan-old.jsonl'))
order = ['intact', 'zeros-4k', 'footer-1064', 'cut-3_4', 'tail-300', 'tail-4k', 'tail-64k',
         'mid-64k', '64B-200k-before-end', 'keep-64k', 'keep-1m']
expect = {'intact': 'intact', 'zeros-4k': 'intact', 'cut-3_4': 'unknown'}
def tally(rows):
    t = collections.defaultdict(collections.Counter)
    for path, o in rows.items():
        t[path.split('/')[-2]][o['verdict']] += 1
    return t
tn, to = tally(new), tally(old)
print(f'Encoders: {encoders}. Scan of all files: {float(new_time):.2f} s'
      + (f' (before: {float(old_time):.2f} s)' if old_time else '') + '.')
print()
cols = '| layout | expected | files | damaged | unknown | intact |'
print(cols + (' before: damaged / unknown / intact |' if old else ''))
print('|---|---|---:|---:|---:|---:|' + ('---|' if old else ''))
for layout in order:
    if layout not in tn:
        continue
    c = tn[layout]
    row = (f'| {layout.replace("_", "/")} | {expect.get(layout, "damaged")} | {sum(c.values())} '
           f'| {c["damaged"]} | {c["unknown"]} | {c["intact"]} |')
    if old:
        o = to[layout]
        row += f' {o["damaged"]} / {o["unknown"]} / {o["intact"]} |'
    print(row)
EOF
