#!/usr/bin/env bash
# End-to-end test of `steen scan`: output formats, exit codes, special files, read-only behaviour.
# Usage: scan_cli_test.sh /path/to/steen
set -uo pipefail

steen=${1:?usage: $0 /path/to/steen}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

tree="$tmp/tree"
mkdir -p "$tree/docs/deeper" "$tree/media" "$tree/loop"
printf 'hello, world\n' >"$tree/docs/readme.txt"
seq 1 20000 >"$tree/docs/deeper/numbers.csv"
: >"$tree/docs/empty"
# A PNG signature followed by random bytes: damaged once the content engine judges PNGs.
{ printf '\x89PNG\r\n\x1a\n'; head -c 1048576 /dev/urandom; } >"$tree/media/photo.png"
printf 'latin-1 name\n' >"$tree/docs/r$(printf '\xe9')sum$(printf '\xe9').txt"
truncate -s 64M "$tree/media/sparse.bin"
mkfifo "$tree/docs/pipe"
ln -s .. "$tree/loop/up"
ln -s ../docs/readme.txt "$tree/media/link.txt"

# Old access times: any read without O_NOATIME would move them (relatime updates atime <= mtime).
find "$tree" -type f -exec touch -a -d '2001-02-03 04:05:06' {} +
stat_all() { find "$tree" -type f -print0 | sort -z | xargs -0 stat -c '%n %X %Y'; }
before=$(stat_all)

# ---- jsonl: one line per regular file, summary last; exit code consistent with the verdicts.
timeout 20 "$steen" scan --format jsonl --no-progress "$tree" >"$tmp/out.jsonl" 2>"$tmp/err.txt"
rc=$?
[[ $rc -eq 124 ]] && fail "scan hung (FIFO opened?)"
expected_files=$(find "$tree" -type f | wc -l)
damaged=$(python3 - "$tmp/out.jsonl" "$tree" "$expected_files" <<'PY'
import json, os, sys
path, tree, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [json.loads(l) for l in open(path, encoding="utf-8")]
assert lines and "summary" in lines[-1], "summary is not the last line"
assert all("summary" not in l for l in lines[:-1]), "summary before the end"
files = [l for l in lines[:-1] if "verdict" in l]
for f in files:
    for key in ("path", "verdict", "kind", "format", "score", "size", "reasons", "bytes_read",
                "ranges_read"):
        assert key in f, f"missing {key} in {f}"
raw = set()
for f in files:
    raw.add(bytes.fromhex(f["path_bytes_hex"]) if "path_bytes_hex" in f else f["path"].encode())
on_disk = set()
for root, dirs, names in os.walk(tree.encode()):
    for n in names:
        p = os.path.join(root, n)
        if os.path.isfile(p) and not os.path.islink(p):
            on_disk.add(p)
assert raw == on_disk, f"reported {sorted(raw)} != on disk {sorted(on_disk)}"
assert len(files) == expected, (len(files), expected)
bad = [f for f in files if "path_bytes_hex" in f]
assert len(bad) == 1 and "\\xe9" in bad[0]["path"], bad
s = lines[-1]["summary"]
assert s["files"] == expected and s["skipped_special"] == 1 and s["skipped_symlinks"] == 2, s
for key in ("bytes", "by_verdict", "by_kind", "by_format", "errors", "elapsed_s", "files_per_s",
            "mb_per_s"):
    assert key in s, key
print(sum(1 for f in files if f["verdict"] == "damaged"))
PY
) || fail "jsonl output check"
if [[ -n $damaged ]]; then
  want=0; [[ $damaged -gt 0 ]] && want=1
  [[ $rc -eq $want ]] || fail "exit status $rc with $damaged damaged files (want $want)"
fi

# ---- nothing modified: atime and mtime of every file unchanged.
after=$(stat_all)
[[ "$before" == "$after" ]] || fail "atime/mtime changed: $(diff <(echo "$before") <(echo "$after"))"

# ---- text report is the default.
timeout 20 "$steen" scan "$tree/docs" >"$tmp/out.txt" 2>&1
rc=$?
[[ $rc -eq 0 || $rc -eq 1 ]] || fail "text scan exit $rc"
grep -q '^Scanned [0-9]* files' "$tmp/out.txt" || fail "text summary missing"
grep -q '^Verdicts: ' "$tmp/out.txt" || fail "verdict line missing"

# ---- missing path: message, exit 2, the other paths are still scanned.
timeout 20 "$steen" scan --format jsonl "$tmp/nope" "$tree/docs" >"$tmp/out2.jsonl" 2>"$tmp/err2.txt"
rc=$?
[[ $rc -eq 2 ]] || fail "missing path: exit $rc, want 2"
grep -qxF "steen scan: $tmp/nope: No such file or directory" "$tmp/err2.txt" ||
  fail "missing path message: $(cat "$tmp/err2.txt")"
tail -n 1 "$tmp/out2.jsonl" | python3 -c 'import json,sys; s=json.load(sys.stdin)["summary"]; assert s["files"] >= 4, s' ||
  fail "other paths not scanned"

# ---- usage errors exit 2.
"$steen" scan >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "no path: want exit 2"
"$steen" scan --format xml "$tree" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "bad format: want exit 2"

# ---- --follow-symlinks: the loop is reported, the scan ends, the linked file is scanned.
timeout 20 "$steen" scan --follow-symlinks --threads 1 --format jsonl "$tree" >"$tmp/out3.jsonl" 2>&1
rc=$?
[[ $rc -eq 124 ]] && fail "--follow-symlinks hung"
grep -q '"error":"not walked: loop back to' "$tmp/out3.jsonl" || fail "loop not reported"
grep -qF "\"path\":\"$tree/media/link.txt\"" "$tmp/out3.jsonl" || fail "symlinked file not scanned"

# ---- --verify: a backup whose middle was replaced by random bytes is intact by default and
# with --deep (the member's first 64 KiB and its end are fine), damaged once decoded whole.
mkdir "$tmp/backup"
python3 - "$tmp/backup/docs.tar.gz" << 'PY'
import gzip, os, random, sys
rng = random.Random(7)
words = [b"city", b"share", b"backup", b"council", b"invoice", b"minutes", b"the", b"of"]
text = b" ".join(rng.choice(words) + str(rng.randrange(10**6)).encode() for _ in range(900000))
data = bytearray(gzip.compress(text, 6))
middle = len(data) // 2
data[middle:middle + 65536] = rng.randbytes(65536)
open(sys.argv[1], "wb").write(data)
PY
"$steen" scan --format jsonl "$tmp/backup" >/dev/null 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "backup, default scan: exit $rc, want 0 (the limit --verify lifts)"
"$steen" scan --deep --format jsonl "$tmp/backup" >/dev/null 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "backup, --deep: exit $rc, want 0"
"$steen" scan --verify --format jsonl "$tmp/backup" >"$tmp/verify.jsonl" 2>&1; rc=$?
[[ $rc -eq 1 ]] || fail "backup, --verify: exit $rc, want 1"
grep -q 'decoded whole, --verify' "$tmp/verify.jsonl" || fail "--verify reason: $(cat "$tmp/verify.jsonl")"

# ---- an empty tree is fine.
mkdir "$tmp/empty"
"$steen" scan "$tmp/empty" >/dev/null 2>&1; [[ $? -eq 0 ]] || fail "empty tree: want exit 0"

if [[ $failures -gt 0 ]]; then
  echo "scan_cli_test: $failures failure(s)" >&2
  exit 1
fi
echo "scan_cli_test: ok"
