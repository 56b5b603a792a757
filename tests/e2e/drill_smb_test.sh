#!/usr/bin/env bash
# End-to-end test of the remote drill: `steen drill smb://...` from an attacker host (a network
# namespace) against a real smbd (tests/e2e/lib/samba_rig.sh). The drill runs in a mount
# namespace where the rig's folder is hidden under an empty tmpfs, so every change on the server
# can only have been made by smbd; new files must belong to the attacker's Samba user. On the
# server side the changed byte ranges, footers, names and notes must be those the manifest says,
# and `--undo` over SMB must restore the tree byte-exact. Refusals: no marker, wrong password,
# missing auth file, unreachable server. Usage: drill_smb_test.sh /path/to/steen
# STEEN_TEST_KEEP=1 keeps the temporary folder.
set -euo pipefail
STEEN=${1:?path to steen}
STEEN=$(realpath "$STEEN")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib/samba_rig.sh
source "$ROOT/tests/e2e/lib/samba_rig.sh"
if ! rig_available; then
  echo "SKIP: $RIG_SKIP_REASON"
  exit 0
fi
WORK=$(mktemp -d /tmp/steen-drill-smb-e2e.XXXXXX)
cleanup() {
  rig_stop
  if [[ ${STEEN_TEST_KEEP:-0} == 1 ]]; then
    echo "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
chmod 0711 "$WORK"  # smbd serves the share as the Samba user: it must reach $WORK/rig/share
cd "$WORK"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
t0=$(date +%s)

"$ROOT/scripts/gather-demo-files.sh" "$WORK/corpus" 4 > /dev/null 2>&1 || true
if [[ $(find "$WORK/corpus" -type f | wc -l) -lt 20 ]]; then
  echo "SKIP: fewer than 20 corpus files gathered"
  exit 0
fi
# One file above 5 MiB so that Play's first+last layout (and its CBC threshold logic) is used.
head -c $((6 * 1048576)) /dev/urandom > "$WORK/corpus/aaa-big.bin"

rig_start "$WORK/rig" || {
  bad "rig did not start"
  exit 1
}
ATT=steentest-a$$
rig_add_user "$ATT" "att-pass-$$" || bad "rig_add_user $ATT"
mkdir -p auth out
# The drill's mount namespace hides $RIG, auth files included: keep copies outside it.
cp "$(rig_auth_file "$ATT")" auth/att
printf 'username = %s\npassword = wrong\n' "$ATT" > auth/wrong
SHARE=$RIG_SHARE_DIR
T=$SHARE/t

# Runs steen on the attacker host, unable to see the rig's files locally (every exec replaces
# the previous program, so a background run's $! is the drill itself).
HIDE_RIG=(unshare --mount --propagation private
  sh -c 'mount -t tmpfs -o size=1m steen-hidden "$0" && exec "$@"' "$RIG")
remote_steen() { ip netns exec "$RIG_ATT_NS" "${HIDE_RIG[@]}" "$STEEN" "$@"; }
fresh() {  # a populated, marked target folder t/ on the share, and its copy before the attack
  rm -rf "$T" before
  "$STEEN" drill --init "$T" --populate 20 --from corpus > /dev/null
  chmod -R a+rwX "$T"
  cp -a "$T" before
  (cd before && find . -type f | sort | xargs -d '\n' sha256sum) > sums.txt
}
undo_exact() {  # $1 = manifest, $2 = label
  if ! remote_steen drill --undo "$1" --auth-file auth/att > out/undo.log 2>&1; then
    bad "$2: undo failed: $(cat out/undo.log)"
    return
  fi
  check "(cd '$T' && sha256sum -c --quiet '$WORK/sums.txt')" "$2: sha256 after undo"
  local now
  now=$(cd "$T" && find . -type f | wc -l)
  check "[ $now -eq $(wc -l < sums.txt) ]" "$2: leftover files after undo ($now)"
  check "[ ! -e '$SHARE/.steen-drill-stage' ]" "$2: staging folder left on the share"
}

# Server-side verification of a manifest against the copy before the attack: for every file,
# the bytes outside the recorded ranges are intact, the ranges changed, the footer has the
# recorded size, the new name (extension rule) holds the result and the old name is gone (kept
# for new-file-keep); every note exists with the recorded content; new files and notes belong to
# the attacker's user (smbd wrote them on its behalf).
cat > verify.py << 'EOF'
import hashlib, json, os, pwd, sys
manifest, before, target, user = sys.argv[1:5]
uid = pwd.getpwnam(user).pw_uid
problems, files, notes = [], 0, 0
for line in open(manifest):
    e = json.loads(line)
    op = e.get("op")
    if op == "note":
        p = os.path.join(target, e["path"])
        if not os.path.isfile(p):
            problems.append("note missing: " + e["path"]); continue
        if hashlib.sha256(open(p, "rb").read()).hexdigest() != e["sha256"]:
            problems.append("note content: " + e["path"])
        if os.stat(p).st_uid != uid:
            problems.append("note not written by smbd as %s: %s" % (user, e["path"]))
        notes += 1
        continue
    if op != "file":
        continue
    files += 1
    orig = open(os.path.join(before, e["path"]), "rb").read()
    new = os.path.join(target, e["new_path"])
    old = os.path.join(target, e["path"])
    if not os.path.isfile(new):
        problems.append("not under its new name: " + e["new_path"]); continue
    data = open(new, "rb").read()
    if e["new_path"] != e["path"] and os.path.exists(old) and e["pattern"] != "new-file-keep":
        problems.append("old name still there: " + e["path"])
    if e["whole"]:
        if data == orig:
            problems.append("unchanged: " + e["path"])
        if e["pattern"].startswith("new-file") and os.stat(new).st_uid != uid:
            problems.append("new file not written by smbd as %s: %s" % (user, e["new_path"]))
        continue
    if len(data) != e["size"] + e["footer"]:
        problems.append("size %d != %d + footer %d: %s" % (len(data), e["size"], e["footer"], e["path"]))
        continue
    pos, changed, total = 0, 0, 0
    for off, length in e["ranges"]:
        if data[pos:off] != orig[pos:off]:
            problems.append("bytes outside the ranges changed at %d: %s" % (pos, e["path"]))
        changed += sum(1 for a, b in zip(data[off:off + length], orig[off:off + length]) if a != b)
        total += length
        pos = off + length
    if data[pos:e["size"]] != orig[pos:e["size"]]:
        problems.append("bytes after the last range changed: " + e["path"])
    if total and changed < total * 0.95:
        problems.append("ranges not encrypted (%d of %d bytes): %s" % (changed, total, e["path"]))
print("%d files, %d notes checked" % (files, notes))
for p in problems[:20]:
    print("  " + p)
sys.exit(1 if problems or files == 0 else 0)
EOF

URL=$(rig_url att t)
# --- the six families of issue 6, plus the write patterns that need care over SMB -------------
for spec in "play:" "lockbit3:" "black-basta:" "blackcat-dot:" "akira:" "art-ccrypt:" \
  "conti:--pattern move-out-back" "lockfile:" "lockbit2:--rename first" "art-7z:"; do
  fam=${spec%%:*}
  extra=${spec#*:}
  started=$(date +%s.%N)
  fresh
  rm -rf out/m.jsonl out/m.jsonl.d
  # shellcheck disable=SC2086
  if ! remote_steen drill "$URL" --family "$fam" --auth-file auth/att --manifest out/m.jsonl \
    --seed 21 $extra > out/run.log 2>&1; then
    bad "$fam: remote drill failed: $(cat out/run.log)"
    continue
  fi
  n=$(grep -c '"op":"file"' out/m.jsonl || true)
  check "[ $n -ge 5 ]" "$fam: only $n file(s) attacked over SMB"
  check "grep -q '\"target\":\"smb://$RIG_ATT_SERVER:$RIG_PORT/share/t\"' out/m.jsonl" \
    "$fam: the manifest does not record the smb URL"
  python3 verify.py out/m.jsonl before "$T" "$ATT" > out/verify.log ||
    bad "$fam: server-side check: $(cat out/verify.log)"
  case $fam in
    play) check "[ -f '$T/aaa-big.bin.PLAY' ] && [ -f '$T/ReadMe.txt' ]" "play: .PLAY and note" ;;
    art-ccrypt) check "[ -n \"\$(find '$T' -name '*.cpt')\" ]" "art-ccrypt: no .cpt files" ;;
    lockfile)
      check "grep -q 'mmap is impossible over SMB' out/run.log" "lockfile: no mmap fallback line"
      check "grep '\"op\":\"notice\"' out/m.jsonl | grep -c '\"requested_pattern\":\"mmap\"' > /dev/null" \
        "lockfile: fallback not in the manifest"
      ;;
    conti)
      check "grep -q '\"stage\":\"/.steen-drill-stage\"' out/m.jsonl" "conti: stage not outside t/"
      check "[ ! -e '$SHARE/.steen-drill-stage' ]" "conti: staging folder left after the run"
      ;;
  esac
  undo_exact out/m.jsonl "$fam"
  echo "$fam: $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s"
done

# --- kill mid-run, then undo over SMB ---------------------------------------------------------
fresh
rm -rf out/k.jsonl out/k.jsonl.d
ip netns exec "$RIG_ATT_NS" "${HIDE_RIG[@]}" "$STEEN" drill "$URL" --family black-basta \
  --auth-file auth/att --manifest out/k.jsonl --pace 5 > /dev/null 2>&1 &
pid=$!
sleep 1.2
check "[ \"\$(cat /proc/$pid/comm 2> /dev/null)\" = steen ]" "kill: \$! is not the drill"
kill -9 "$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
# smbd applies requests the dead client had already sent: undo after its session has ended.
rig_wait_no_session "$RIG_ATT_ADDR" || bad "kill: the attacker's smbd session did not end"
check "[ \$(grep -c '\"op\":\"file\"' out/k.jsonl) -ge 1 ]" "kill: nothing attacked before the kill"
undo_exact out/k.jsonl kill

# --- refusals: nothing touched -----------------------------------------------------------------
fresh
mv "$T/.steen-drill-target" marker.keep
rc=0
remote_steen drill "$URL" --family play --auth-file auth/att --manifest out/r1.jsonl \
  > /dev/null 2> out/err1 || rc=$?
check "[ $rc -eq 3 ] && grep -q 'no .steen-drill-target marker' out/err1" \
  "no marker: rc $rc, $(cat out/err1)"
check "[ ! -e out/r1.jsonl ]" "no marker: a manifest was made"
mv marker.keep "$T/.steen-drill-target"
rc=0
remote_steen drill "$URL" --family play --auth-file auth/wrong --manifest out/r2.jsonl \
  > /dev/null 2> out/err2 || rc=$?
check "[ $rc -eq 2 ] && grep -q 'wrong user name or password' out/err2" \
  "wrong password: rc $rc, $(cat out/err2)"
rc=0
remote_steen drill "$URL" --family play --auth-file auth/missing --manifest out/r3.jsonl \
  > /dev/null 2> out/err3 || rc=$?
check "[ $rc -eq 2 ] && grep -q 'cannot read auth file' out/err3" "no auth file: rc $rc, $(cat out/err3)"
rc=0
remote_steen drill "$URL" --family play --manifest out/r4.jsonl > /dev/null 2> out/err4 || rc=$?
check "[ $rc -eq 2 ] && grep -q 'needs --auth-file' out/err4" "no --auth-file: rc $rc, $(cat out/err4)"
rc=0
remote_steen drill "smb://$RIG_ATT_SERVER:$((RIG_PORT + 100))/share/t" --family play \
  --auth-file auth/att --manifest out/r5.jsonl > /dev/null 2> out/err5 || rc=$?
check "[ $rc -eq 2 ] && grep -q 'cannot reach SMB server' out/err5" "unreachable: rc $rc, $(cat out/err5)"
rc=0
remote_steen drill "smb://$ATT:pw@$RIG_ATT_SERVER:$RIG_PORT/share/t" --family play \
  --auth-file auth/att --manifest out/r6.jsonl > /dev/null 2> out/err6 || rc=$?
check "[ $rc -eq 2 ] && grep -q 'credentials belong in --auth-file' out/err6" \
  "credentials in the URL: rc $rc, $(cat out/err6)"
check "(cd '$T' && sha256sum -c --quiet '$WORK/sums.txt')" "a refused run changed the target"
check "[ \$(ls out/r*.jsonl 2> /dev/null | wc -l) -eq 0 ]" "a refused run made a manifest"

echo "drill smb e2e: $pass passed, $fail failed, $(($(date +%s) - t0)) s"
[[ $fail -eq 0 ]]
