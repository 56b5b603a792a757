#!/usr/bin/env bash
# End-to-end test of `steen drill --processes` and `--pace`, observed from outside:
#  * worker processes are seen in /proc while the drill runs (fresh execs of the steen binary,
#    children of the drill), and the pids the manifest parts record are among them;
#  * the pace is measured on the files' modification times (global rate over threads and
#    processes): never more than 10 % faster than asked, and late by at most half the run (a
#    loaded machine, e.g. CI running an ASan build beside other tests, starts workers late; a
#    drill that is late is still honouring its pace, one that is early is not);
#    `--pace 1/60` (one file a minute) is accepted and honoured;
#  * killing the drill kills its workers, and --undo restores everything byte-exact;
#  * budgets and the mount-point refusal through the CLI.
# Usage: drill_processes_test.sh /path/to/steen
set -euo pipefail
STEEN=$(realpath "${1:?path to steen}")
WORK=$(mktemp -d /tmp/steen-drill-proc.XXXXXX)
MNT="$WORK/mnt"
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
check() { if eval "$1"; then ok; else bad "$2"; fi; }

N=40
fresh() {  # a target with N small files (+ checksums), empty manifest folder
  rm -rf tgt out
  mkdir out
  "$STEEN" drill --init tgt > /dev/null
  for i in $(seq -w 1 $N); do head -c $((2000 + 10#$i * 37)) /dev/urandom > "tgt/f$i.docx"; done
  (cd tgt && find . -type f ! -name .steen-drill-target | sort | xargs sha256sum) > sums.txt
}
undo_exact() {  # $1 = label
  "$STEEN" drill --undo out/m.jsonl > out/undo.log 2>&1 || bad "$1: undo failed: $(cat out/undo.log)"
  check "(cd tgt && sha256sum -c --quiet ../sums.txt)" "$1: sha256 after undo"
  local n
  n=$(find tgt -type f ! -name .steen-drill-target | wc -l)
  check "[ $n -eq $N ]" "$1: $n files after undo"
}
spread() {  # seconds between the first and the last attacked file's last write
  find tgt -type f -name "$1" -printf '%T@\n' | sort -n | awk 'NR==1{a=$1}{b=$1}END{printf "%.3f", b-a}'
}
paced() {  # $1 measured, $2 expected: not faster than 90 %, at most 50 % late
  awk -v m="$1" -v e="$2" 'BEGIN{exit !(m >= 0.9 * e && m <= 1.5 * e)}'
}

# --- processes + global pace: 40 files at 20 files/s over 4 concurrent workers of 5 files each.
fresh
"$STEEN" drill tgt --family inc --manifest out/m.jsonl --pace 20 --threads 1 \
  --processes 4 --files-per-process 5 > out/run.log 2>&1 &
parent=$!
: > out/seen.txt
while kill -0 $parent 2> /dev/null; do
  for p in $(pgrep -f -- "--worker $WORK/" || true); do
    exe=$(readlink "/proc/$p/exe" 2> /dev/null || true)
    ppid=$(awk '{print $4}' "/proc/$p/stat" 2> /dev/null || true)
    # Both read before the worker exits (a vanished process gives empty values; one caught in
    # the middle of its exit shows ppid 0: the kernel no longer names a parent).
    [ -n "$exe" ] && [ -n "$ppid" ] && [ "$ppid" != 0 ] && echo "$p $exe $ppid" >> out/seen.txt
  done
  sleep 0.02
done
wait $parent || bad "processes run failed: $(cat out/run.log)"
sort -u out/seen.txt > out/seen.sorted
observed=$(cut -d' ' -f1 out/seen.sorted | sort -u | wc -l)
logged=$(cat out/m.jsonl.d/part-*.jsonl | grep '"op":"file"' | grep -o '"pid":[0-9]*' | cut -d: -f2 | sort -u)
nlogged=$(echo "$logged" | wc -l)
check "[ $observed -ge 4 ]" "processes: only $observed worker processes seen in /proc"
check "[ $nlogged -ge 4 ]" "processes: manifest names only $nlogged writer pids"
check "! echo \"\$logged\" | grep -cx $parent > /dev/null" "processes: the parent itself wrote files"
for p in $logged; do
  check "grep -q \"^$p \" out/seen.sorted" "processes: writer pid $p never seen in /proc"
done
check "[ -z \"\$(awk -v s=\"$STEEN\" '\$2 != s' out/seen.sorted)\" ]" "processes: a worker is not a fresh exec of steen"
# Every worker is the drill's child. A process whose parent is itself a worker is not a worker:
# an ASan build's LeakSanitizer clones a tracer task (same exe and command line) at each worker's
# exit. The writers the manifest names must all be the drill's children.
not_child=$(awk -v pp=$parent 'NR == FNR {seen[$1] = 1; next} $3 != pp && !($3 in seen)' \
  out/seen.sorted out/seen.sorted)
for p in $logged; do
  check "awk -v p=$p -v pp=$parent '\$1 == p && \$3 == pp {f = 1} END {exit !f}' out/seen.sorted" \
    "processes: writer pid $p was not seen as the drill's child"
done
check "[ -z \"\$not_child\" ]" "processes: a worker is not the drill's child (pid exe ppid: $not_child)"
check "[ $(find tgt -name '*.INC' | wc -l) -eq $N ]" "processes: all $N files attacked"
s=$(spread '*.INC')
check "paced $s 1.95" "processes: pace 20 f/s over 40 files took $s s (expected 1.95, -10 % .. +50 %)"
undo_exact processes

# --- the same, traced: which pids issued the pwrite64 calls on the target's files (strace -f -y
# prints each fd's path). Skipped when strace or ptrace is unavailable.
if command -v strace > /dev/null && strace -f -qq -o /dev/null true 2> /dev/null; then
  fresh
  # LeakSanitizer cannot run under ptrace: an asan build's drill would fail for that alone.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -qq -y -e trace=execve,pwrite64 -o out/trace \
    "$STEEN" drill tgt --family inc --manifest out/m.jsonl --pace 0 --processes 4 \
    --files-per-process 5 --threads 1 > /dev/null  # one thread: strace's pid is the process
  root=$(awk 'NR == 1 {print $1}' out/trace)
  # The data files (f*.docx); the notes are the drill's own writes.
  writers=$(grep "pwrite64([0-9]*<$WORK/tgt/f" out/trace | awk '{print $1}' | sort -u)
  check "[ $(echo "$writers" | grep -c .) -ge 4 ]" "strace: fewer than 4 pids wrote the files"
  check "! echo \"\$writers\" | grep -cx $root > /dev/null" "strace: the drill process wrote files itself"
  # Workers are started as /proc/self/exe of the drill (the /proc check above saw it is steen).
  # strace pads the pid column ("%-5d "), so the pid is matched as the line's first field.
  worker_exec='execve("/proc/self/exe", ["/proc/self/exe", "drill", "--worker", "'
  is_worker_exec() {
    awk -v p="$1" -v w="$worker_exec" '$1 == p && index($0, w) {found = 1} END {exit !found}' \
      out/trace
  }
  for p in $writers; do
    check "is_worker_exec $p" "strace: writer $p is not a fresh exec (drill --worker)"
  done
  undo_exact strace
else
  echo "note: strace unavailable; pwrite pids checked through /proc and the manifest only"
fi

# --- pace, one process: single thread, then three threads (the rate is global).
for threads in 1 3; do
  fresh
  "$STEEN" drill tgt --family inc --manifest out/m.jsonl --pace 20 --threads $threads > /dev/null
  s=$(spread '*.INC')
  check "paced $s 1.95" "pace threads=$threads: $s s (expected 1.95, -10 % .. +50 %)"
  undo_exact "pace-$threads"
done

# --- one file a minute is accepted: after 1.5 s exactly one file is done. Killing the drill
# kills its waiting worker (it dies with its parent); undo restores.
fresh
"$STEEN" drill tgt --family inc --manifest out/m.jsonl --pace 1/60 --processes 2 \
  --files-per-process 1 > out/run.log 2>&1 &
parent=$!
sleep 1.5
check "[ $(find tgt -name '*.INC' | wc -l) -eq 1 ]" "pace 1/60: not exactly one file after 1.5 s"
check "[ -n \"\$(pgrep -f -- \"--worker $WORK/\" || true)\" ]" "pace 1/60: no worker waiting"
kill -9 $parent
wait $parent 2> /dev/null || true
sleep 0.3
check "[ -z \"\$(pgrep -f -- \"--worker $WORK/\" || true)\" ]" "workers outlived the killed drill"
undo_exact pace-1/60
check "! \"$STEEN\" drill tgt --family inc --manifest out/x.jsonl --pace abc > /dev/null 2>&1" \
  "a bad --pace is refused"

# --- budgets through the CLI
fresh
"$STEEN" drill tgt --family inc --manifest out/m.jsonl --max-files 3 --processes 2 > /dev/null
check "[ $(find tgt -name '*.INC' | wc -l) -eq 3 ]" "--max-files 3"
undo_exact max-files
fresh
"$STEEN" drill tgt --family inc --manifest out/m.jsonl --max-bytes 10000 > /dev/null
b=$(find tgt -name '*.INC' -printf '%s\n' | awk '{s += $1 - 35} END {print s + 0}')
n=$(find tgt -name '*.INC' | wc -l)
check "[ $b -le 10000 ] && [ $n -ge 3 ] && [ $n -lt $N ]" "--max-bytes 10000 ($n files, $b bytes)"
undo_exact max-bytes

# --- a mount point is refused even with a marker (needs mount rights; skipped otherwise)
mkdir -p "$MNT"
if mount -t tmpfs -o size=1m steen-drill-test "$MNT" 2> /dev/null; then
  echo marker > "$MNT/.steen-drill-target"
  echo data > "$MNT/a.docx"
  set +e
  "$STEEN" drill "$MNT" --family inc --manifest out/mnt.jsonl > out/mnt.log 2>&1
  rc=$?
  set -e
  check "[ $rc -eq 3 ] && grep -q 'mount point' out/mnt.log" "mount point not refused (rc $rc)"
  check "[ \"\$(cat $MNT/a.docx)\" = data ]" "mount point file changed"
  umount "$MNT"
else
  echo "note: cannot mount tmpfs here; mount-point refusal checked by the unit tests only"
fi

echo "drill processes e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
