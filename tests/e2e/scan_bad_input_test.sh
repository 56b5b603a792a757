#!/usr/bin/env bash
# End-to-end test of `steen scan` on hostile trees: names that are not UTF-8 or contain newlines,
# empty and sparse files, trees deeper than PATH_MAX and deeper than the depth limit, unreadable
# files, symlink loops. Each gets a clear message and the scan goes on.
# Usage: scan_bad_input_test.sh /path/to/steen
set -uo pipefail

steen=${1:?usage: $0 /path/to/steen}
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tree="$tmp/tree"
mkdir -p "$tree"

printf 'x\n' >"$tree/$(printf 'bad\xff')"
printf 'x\n' >"$tree/$(printf 'new\nline')"
: >"$tree/empty"
truncate -s 1G "$tree/sparse"
ln -s . "$tree/self"
# Deeper than PATH_MAX (30 * 201 bytes) and deeper than the 4096-level limit.
python3 - "$tree" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
for name, levels in (("n" * 200, 30), ("d", 4100)):
    cur = os.dup(fd)
    for _ in range(levels):
        os.mkdir(name, dir_fd=cur)
        nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    f = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=cur)
    os.write(f, b"bottom\n")
    os.close(f)
    os.close(cur)
PY

timeout 120 "$steen" scan --format jsonl "$tree" >"$tmp/out.jsonl" 2>"$tmp/err.txt"
rc=$?
[[ $rc -eq 0 || $rc -eq 1 ]] || fail "exit $rc: $(head -c 500 "$tmp/err.txt")"
python3 - "$tmp/out.jsonl" <<'PY' || fail "jsonl checks"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
s = lines[-1]["summary"]
files = {l["path"].rsplit("/", 1)[-1]: l for l in lines[:-1] if "verdict" in l}
errors = [l for l in lines[:-1] if "error" in l]
assert "bad\\xff" in files and files["bad\\xff"]["path_bytes_hex"].endswith("626164ff"), files.keys()
assert "new\nline" in files
assert files["empty"]["size"] == 0
assert files["sparse"]["size"] == 1 << 30 and files["sparse"]["bytes_read"] < 8 << 20
deep = [l for l in lines[:-1] if l.get("path", "").endswith("/bottom.txt")]
assert len(deep) == 1 and len(deep[0]["path"]) > 4096, [len(l["path"]) for l in deep]
too_deep = [e for e in errors if "more than 4096 directory levels deep" in e["error"]]
assert len(too_deep) == 1, errors[:3]
assert s["skipped_symlinks"] == 1 and s["errors"] == 1, s
PY

# Text output escapes the same way and never breaks a line inside a name.
"$steen" scan "$tree/$(printf 'bad\xff')" "$tree/$(printf 'new\nline')" >"$tmp/out.txt" 2>&1
grep -q '^Scanned 2 files' "$tmp/out.txt" || fail "text report: $(cat "$tmp/out.txt")"

# Unreadable file (root bypasses permissions: run as nobody when possible).
if command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups \
  test -x "$steen" 2>/dev/null; then
  mkdir "$tmp/perm"
  chmod 755 "$tmp/perm"
  printf 'secret\n' >"$tmp/perm/locked"
  chmod 000 "$tmp/perm/locked"
  printf 'open\n' >"$tmp/perm/open"
  chmod 644 "$tmp/perm/open"
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$steen" scan --format jsonl \
    "$tmp/perm" >"$tmp/perm.jsonl" 2>&1
  rc=$?
  [[ $rc -eq 0 ]] || fail "permission denied changed the exit status to $rc"
  grep -qF "\"path\":\"$tmp/perm/locked\",\"error\":\"cannot open: Permission denied\"" \
    "$tmp/perm.jsonl" || fail "permission denied not reported: $(cat "$tmp/perm.jsonl")"
  grep -qF "\"path\":\"$tmp/perm/open\",\"verdict\"" "$tmp/perm.jsonl" ||
    fail "readable file next to an unreadable one not scanned"
else
  echo "scan_bad_input_test: skipping the permission check (cannot run as nobody)"
fi

if [[ $failures -gt 0 ]]; then
  echo "scan_bad_input_test: $failures failure(s)" >&2
  exit 1
fi
echo "scan_bad_input_test: ok"
