#!/usr/bin/env bash
# End-to-end test of `steen drill`: init + populate, several families and write patterns on a real
# folder, observed changes (ranges, footer, extension, notes), undo byte-exact, kill + undo, pace,
# and refusals. Usage: drill_cli_test.sh /path/to/steen
set -euo pipefail
STEEN=${1:?path to steen}
STEEN=$(realpath "$STEEN")
WORK=$(mktemp -d /tmp/steen-drill-e2e.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
MiB=1048576

# Corpus: random binaries (one > 5 MiB for Play's first+last layout), text, a subfolder.
mkdir -p corpus/sub corpus/deeper/more
head -c $((6 * MiB)) /dev/urandom > corpus/big.bin
head -c 300000 /dev/urandom > corpus/mid.bin
seq 1 40000 > corpus/numbers.txt
seq 1 3000 | sed 's/^/line /' > corpus/sub/doc.txt
head -c 5000 /dev/urandom > corpus/sub/small.pdf
head -c 123457 /dev/urandom > corpus/deeper/more/data.sql
printf 'hello\n' > corpus/deeper/tiny.txt
(cd corpus && find . -type f | sort | xargs sha256sum) > sums.txt

fresh() {  # fresh target + manifest folder
  rm -rf tgt out
  mkdir out
  "$STEEN" drill --init tgt --populate 100 --from corpus > /dev/null
}
undo_exact() {  # $1 = manifest, $2 = label
  "$STEEN" drill --undo "$1" > out/undo.log || { bad "$2: undo failed: $(cat out/undo.log)"; return; }
  check "(cd tgt && sha256sum -c --quiet ../sums.txt)" "$2: sha256 after undo"
  local extra
  extra=$(cd tgt && find . -type f ! -name .steen-drill-target | sort | wc -l)
  check "[ $extra -eq $(wc -l < sums.txt) ]" "$2: leftover files after undo ($extra)"
}
same_range() {  # file1 file2 offset length: the bytes are identical
  cmp -s <(tail -c +$(($3 + 1)) "$1" | head -c "$4") <(tail -c +$(($3 + 1)) "$2" | head -c "$4")
}
changed_bytes() {  # file1 file2 offset length: how many bytes differ
  cmp -l <(tail -c +$(($3 + 1)) "$1" | head -c "$4") <(tail -c +$(($3 + 1)) "$2" | head -c "$4") \
    2>/dev/null | wc -l
}
size() { stat -c %s "$1"; }

# --- list ---
check "[ $("$STEEN" drill --list | wc -l) -ge 30 ]" "--list shows 30 profiles"

# --- Play: footer first, first+last 1 MiB of files > 5 MiB, whole small files, .PLAY, root note
fresh
"$STEEN" drill tgt --family play --manifest out/m.jsonl --seed 7 > /dev/null
B=tgt/big.bin.PLAY
check "[ -f $B ] && [ ! -e tgt/big.bin ]" "play: renamed to .PLAY"
check "[ $(size $B) -eq $((6 * MiB + 1064)) ]" "play: footer +1064"
check "same_range $B corpus/big.bin $MiB $((4 * MiB))" "play: middle 4 MiB intact"
check "[ $(changed_bytes $B corpus/big.bin 0 $MiB) -gt $((MiB * 99 / 100)) ]" "play: first MiB encrypted"
check "[ $(changed_bytes $B corpus/big.bin $((5 * MiB)) $MiB) -gt $((MiB * 99 / 100)) ]" "play: last MiB encrypted"
check "[ $(changed_bytes tgt/mid.bin.PLAY corpus/mid.bin 0 300000) -gt 297000 ]" "play: small file whole"
check "[ -f tgt/ReadMe.txt ] && [ ! -e tgt/sub/ReadMe.txt ]" "play: note at the root only"
check "grep -q '\"op\":\"file\"' out/m.jsonl && grep -q '\"key\"' out/m.jsonl" "play: manifest has keys"
undo_exact out/m.jsonl play

# --- LockBit 2.0: rename first, first 4 KiB only, note in every folder
fresh
"$STEEN" drill tgt --family lockbit2 --manifest out/m.jsonl --seed 8 > /dev/null
check "same_range tgt/big.bin.lockbit corpus/big.bin 4096 $((6 * MiB - 4096))" "lockbit2: only 4 KiB"
check "[ $(changed_bytes tgt/big.bin.lockbit corpus/big.bin 0 4096) -gt 4000 ]" "lockbit2: head changed"
check "[ -f tgt/sub/Restore-My-Files.txt ] && [ -f tgt/deeper/more/Restore-My-Files.txt ]" "lockbit2: notes"
check "[ $(size tgt/deeper/more/data.sql.lockbit) -eq $((123457 + 512)) ]" "lockbit2: footer"
undo_exact out/m.jsonl lockbit2

# --- Black Basta: 64 of every 192 bytes
fresh
"$STEEN" drill tgt --family black-basta --manifest out/m.jsonl --seed 9 > /dev/null
F=$(ls tgt/mid.bin.*)
check "same_range $F corpus/mid.bin 64 128 && same_range $F corpus/mid.bin 256 128" "black-basta: gaps intact"
check "[ $(changed_bytes $F corpus/mid.bin 192 64) -gt 55 ]" "black-basta: 2nd chunk changed"
undo_exact out/m.jsonl black-basta

# --- Infection Monkey: bit flip, non-recursive, .m0nk3y, README.txt
fresh
"$STEEN" drill tgt --family infection-monkey --manifest out/m.jsonl > /dev/null
check "[ $(changed_bytes tgt/numbers.txt.m0nk3y corpus/numbers.txt 0 999999) -eq $(size corpus/numbers.txt) ]" \
  "monkey: every byte flipped"
check "[ -f tgt/sub/doc.txt ] && [ -f tgt/README.txt ]" "monkey: non-recursive, note"
check "[ ! -e tgt/big.bin.m0nk3y ]" "monkey: extension allow-list (.bin not listed)"
undo_exact out/m.jsonl infection-monkey

# --- Babuk Windows through mmap; Conti moved out and back; Azov wipe (no rename)
for spec in "babuk-windows:" "conti:--pattern move-out-back" "azov:" "hunters:" "inc:" "base64:" "hex:"; do
  fam=${spec%%:*}
  extra=${spec#*:}
  fresh
  # shellcheck disable=SC2086
  "$STEEN" drill tgt --family "$fam" --manifest out/m.jsonl --seed 11 $extra > out/run.log ||
    bad "$fam: run failed: $(cat out/run.log)"
  n=$(find tgt -type f ! -name .steen-drill-target -print0 | xargs -0 -r sha256sum | grep -c -v -F -f <(cut -d' ' -f1 sums.txt) || true)
  check "[ $n -ge 5 ]" "$fam: files changed ($n)"
  undo_exact out/m.jsonl "$fam"
done

# --- --rename first|last|none overrides the profile's rename (recorded in the manifest's run line);
# the order of the first rename and the first pwrite64 on a target file is observed with strace.
first_op() {  # trace file: "rename" or "pwrite64", whichever touched the target first
  grep -E -m1 "^[0-9 ]+(pwrite64\([0-9]+<$WORK/tgt/|rename(at2?)?\(.*tgt[/>])" "$1" |
    grep -o -E 'pwrite64|rename' | head -1
}
for when in first last none; do
  fresh
  run=("$STEEN" drill tgt --family play --rename "$when" --threads 1 --manifest out/m.jsonl --seed 12)
  if command -v strace > /dev/null && strace -f -qq -o /dev/null true 2> /dev/null; then
    # LeakSanitizer cannot run under ptrace: an asan build's drill would fail for that alone.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
      strace -f -qq -y -e trace=pwrite64,rename,renameat,renameat2 -o out/trace "${run[@]}" > /dev/null
    case $when in
      first) check "[ \"\$(first_op out/trace)\" = rename ]" "--rename first: first op $(first_op out/trace)" ;;
      last) check "[ \"\$(first_op out/trace)\" = pwrite64 ]" "--rename last: first op $(first_op out/trace)" ;;
    esac
  else
    "${run[@]}" > /dev/null
  fi
  check "grep '\"op\":\"run\"' out/m.jsonl | grep -c '\"rename\":\"$when\"' > /dev/null" "--rename $when: not in the run line"
  if [[ $when == none ]]; then
    check "[ -f tgt/big.bin ] && [ ! -e tgt/big.bin.PLAY ] && ! cmp -s tgt/big.bin corpus/big.bin" \
      "--rename none: not encrypted under its own name"
  else
    check "[ -f tgt/big.bin.PLAY ] && [ ! -e tgt/big.bin ]" "--rename $when: not renamed to .PLAY"
  fi
  undo_exact out/m.jsonl "rename-$when"
done
fresh
check "! \"$STEEN\" drill tgt --family play --rename sometimes --manifest out/n4.jsonl > /dev/null 2> out/err.txt" \
  "--rename sometimes accepted"
check "grep -q 'first, last or none' out/err.txt" "--rename error unclear: $(cat out/err.txt)"
check "(cd tgt && sha256sum -c --quiet ../sums.txt)" "--rename sometimes changed the target"

fresh
"$STEEN" drill tgt --family hunters --manifest out/m.jsonl --seed 3 > /dev/null
check "same_range tgt/mid.bin.locked corpus/mid.bin 0 62" "hunters: first 62 bytes intact"
check "[ -f tgt/big.bin ] || [ -f tgt/big.bin.locked ]" "hunters: file present"
undo_exact out/m.jsonl hunters-2
fresh
"$STEEN" drill tgt --family azov --manifest out/m.jsonl > /dev/null
check "[ -f tgt/mid.bin ] && same_range tgt/mid.bin corpus/mid.bin 666 666" "azov: no rename, 666 kept"
undo_exact out/m.jsonl azov-2

# --- ART tools: new-file formats readable by the real tools when installed
fresh
"$STEEN" drill tgt --family art-ccrypt --manifest out/m.jsonl > /dev/null
check "[ ! -e tgt/numbers.txt ] && [ $(size tgt/numbers.txt.cpt) -eq $(($(size corpus/numbers.txt) + 32)) ]" \
  "art-ccrypt: new file +32, original unlinked"
undo_exact out/m.jsonl art-ccrypt
fresh
"$STEEN" drill tgt --family art-7z --manifest out/m.jsonl > /dev/null
check "[ -f tgt/numbers.txt ] && [ -f tgt/numbers.txt.zip ]" "art-7z: new zip, original kept"
if command -v unzip > /dev/null; then
  check "unzip -P passwd -p tgt/numbers.txt.zip | cmp -s - corpus/numbers.txt" "art-7z: unzip -P decrypts"
fi
undo_exact out/m.jsonl art-7z
fresh
"$STEEN" drill tgt --family art-openssl --manifest out/m.jsonl > /dev/null
if command -v openssl > /dev/null; then
  check "openssl enc -d -aes-256-cbc -pbkdf2 -pass pass:passwd -in tgt/sub/doc.txt.enc | cmp -s - corpus/sub/doc.txt" \
    "art-openssl: openssl decrypts"
fi
undo_exact out/m.jsonl art-openssl
fresh
"$STEEN" drill tgt --family art-gpg --manifest out/m.jsonl --max-files 2 > /dev/null
if command -v gpg > /dev/null; then
  G=$(ls tgt/*.gpg | head -1)
  export GNUPGHOME="$WORK/gnupg"
  mkdir -p -m 700 "$GNUPGHOME"
  check "gpg --batch --quiet --passphrase passwd -d $G 2>/dev/null | cmp -s - corpus/$(basename "${G%.gpg}")" \
    "art-gpg: gpg decrypts"
fi
"$STEEN" drill --undo out/m.jsonl > /dev/null
check "[ -z \"\$(ls tgt/*.gpg 2>/dev/null)\" ]" "art-gpg: undo removes .gpg"

# --- kill at any moment: pace 4 files/s, kill -9 mid-run, undo restores everything
fresh
"$STEEN" drill tgt --family conti --manifest out/m.jsonl --pace 4 --threads 1 > /dev/null &
pid=$!
sleep 0.9
kill -9 $pid 2> /dev/null || true
wait $pid 2> /dev/null || true
undo_exact out/m.jsonl kill

# --- pace: 11 files at 10 files/s are written 0.1 s apart. Measured from the files' own
# modification times: the median gap between consecutive writes (start-up, and a loaded machine
# stalling the drill once, do not count: only the drill's schedule does), and the whole span
# within twice the schedule's 1.0 s.
rm -rf tgt out && mkdir out && "$STEEN" drill --init tgt > /dev/null
for i in $(seq 1 11); do echo "file $i" > tgt/f$i.txt; done
sleep 0.05
"$STEEN" drill tgt --family inc --pace 10 --threads 2 --manifest out/m.jsonl > /dev/null
times=$(find tgt -type f ! -name .steen-drill-target ! -name '*.txt' -printf '%T@\n' | sort -n)
gaps=$(awk 'NR > 1 {printf "%.6f\n", $1 - prev} {prev = $1}' <<< "$times" | sort -n)
pace="$(sed -n '5p;6p' <<< "$gaps" | awk '{s += $1} END {printf "%.3f", s / 2}') $(
  awk 'NR == 1 {a = $1} {b = $1} END {printf "%.3f", b - a}' <<< "$times")"
[[ $(grep -c . <<< "$times") -eq 11 ]] || pace="0 99"
check "awk -v m=${pace% *} -v s=${pace#* } 'BEGIN{exit !(m >= 0.09 && m <= 0.11 && s <= 2.0)}'" \
  "pace 10 f/s: median gap and span '$pace' s (0.1 s +- 10 %, span <= 2 s)"
"$STEEN" drill --undo out/m.jsonl > /dev/null

# --- every built-in profile: run on a populated folder, then undo byte-exact
for fam in $("$STEEN" drill --list | awk '{print $1}'); do
  fresh
  "$STEEN" drill tgt --family "$fam" --manifest out/m.jsonl --pace 0 > out/run.log 2>&1 ||
    bad "$fam: run failed: $(cat out/run.log)"
  check "grep -q '\"op\":\"file\"' out/m.jsonl" "$fam: attacked at least one file"
  undo_exact out/m.jsonl "all-$fam"
done

# --- refusals
mkdir -p nomarker && echo x > nomarker/a.txt
check "! \"$STEEN\" drill nomarker --family play --manifest out/n1.jsonl > /dev/null 2>&1" "refuses without marker"
check "[ \"\$(cat nomarker/a.txt)\" = x ]" "no-marker folder untouched"
check "! \"$STEEN\" drill / --family play --manifest out/n2.jsonl > /dev/null 2>&1" "refuses /"
check "! \"$STEEN\" drill --init / > /dev/null 2>&1" "refuses --init /"
check "! \"$STEEN\" drill \"\$HOME\" --family play --manifest out/n3.jsonl > /dev/null 2>&1" "refuses home"
fresh
check "! \"$STEEN\" drill tgt --family play --manifest tgt/m.jsonl > /dev/null 2>&1" "refuses manifest inside target"
mkdir -p outside && echo secret > outside/victim.txt && echo secret2 > outside/v2.txt
ln -s "$WORK/outside/victim.txt" tgt/link.txt
ln -s "$WORK/outside" tgt/linkdir
"$STEEN" drill tgt --family play --manifest out/m.jsonl > /dev/null
check "[ \"\$(cat outside/victim.txt)\" = secret ] && [ \"\$(cat outside/v2.txt)\" = secret2 ]" \
  "symlinks out of the target not followed"
check "[ -L tgt/link.txt ] && [ -L tgt/linkdir ]" "symlinks left as they were"
check "[ \"\$(ls outside | wc -l)\" -eq 2 ]" "nothing written outside"
rm tgt/link.txt tgt/linkdir
undo_exact out/m.jsonl symlink-run

echo "drill e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
