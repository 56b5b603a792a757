#!/usr/bin/env bash
# What protective copies cost benign writers (issue 5): wall time of benign write workloads on a
# temporary folder with and without `steen watch` on it (default configuration: vault, canaries,
# detection), side by side, interleaved (off/on, then on/off, ...), after one untimed warm-up of
# each; medians of --runs (>= 5) and the ratio watch / no watch, plus what the vault holds after
# each run with the daemon (distinct objects + kept links that are an inode's last name), the daemon's CPU
# time and its alerts (a benign workload must raise none; one the daemon stops is reported and
# killed, not waited for).
#
# Workloads (each on fresh files made before the timer starts, the page cache flushed with sync):
#   untar          tar -xf of /usr/include (a real source tree: ~8,000 headers, ~130 MiB)
#   edit-1000      1,000 existing text files of 4-64 KiB edited in place (read, change, write back
#                  through the same fd): each open for writing forces a protective copy
#   overwrite-200M a 200 MiB file rewritten in place: dd if=/dev/zero bs=1M conv=notrunc
#                  (below vault.max_file_bytes, 256 MiB: copied before the write)
#   overwrite-512M the same with 512 MiB (above vault.max_file_bytes: not copied, a vault-gap)
#   append-logs    50 log files of 4-64 KiB, 20 rounds of: open for append, 100 lines, close
#   copy-media     cp -r of a photo and video library into the share (~700 MiB of new files:
#                  120 JPEG photos of 1920x1080, H.264/AAC MP4 and VP8 WebM videos, made once by
#                  ffmpeg outside the share)
#   sqlite-wal     300 write transactions (200 inserts, 50 updates each) on an existing 21 MiB
#                  SQLite database in WAL mode, one connection (an application's data file)
#   sqlite-journal the same with SQLite's default rollback journal (a journal file created and
#                  deleted by every transaction)
#   compile        a C source tree unpacked into the share and built there (make -j2: 60 modules,
#                  their objects with dependency files, a static library, a program; gcc -O2 -g)
#   archive        a documentation folder in the share (a copy of /usr/share/doc: text, gzip,
#                  HTML, images; ~130 MiB) archived into the share by tar+gzip, tar+zstd and 7z
#   rsync          rsync -a --delete of a newer version of that folder over the copy in the
#                  share (every 10th file changed, some removed, some new): rsync writes each
#                  changed file to a temporary name and renames it over the old one
#   gpg-one        one user encrypts one 8 MiB document with gpg -c and deletes the original
#   libreoffice    LibreOffice (headless) converts a batch of documents in the share: the
#                  templates Debian's LibreOffice ships (every second one: 38 text documents, 9
#                  spreadsheets, 11 presentations, ODF) to DOCX, XLSX and PPTX beside them, then
#                  every DOCX there to PDF (its lock files and temporary files are created and
#                  removed in the share; a canary steen placed there is converted too);
#                  only where LibreOffice is installed (scripts/install-deps.sh --bench)
#   postgres       pgbench (TPC-B-like, 2 clients, 1,500 transactions each) on a PostgreSQL cluster
#                  in the share (scale 5, ~80 MiB), server on a Unix socket outside the share
#                  (no TCP), port 54329; only where PostgreSQL is installed (the script does not
#                  install it: Debian's package creates and starts a cluster of its own)
#
# Modes (--modes, default none,watch; ratios are to none):
#   none           nothing watches
#   watch          steen watch, default configuration
#   watch-novault  steen watch -o vault.enabled=false (permission events, no protective copies)
#   floor          bench/perm_floor.c: the least a permission listener can do (a mount mark for
#                  open permission and close-write, every open allowed at once): the kernel's
#                  share of the overhead. Only with --loop (it marks a whole mount).
#
# Usage: bench/vault_overhead.sh [--steen PATH] [--runs N] [--workloads a,b,...] [--out DIR]
#                                [--under DIR | --loop ext4|xfs] [--modes m,n,...]
# Root only (fanotify). Everything runs in a mktemp -d folder under /tmp, or under DIR (another
# filesystem: an XFS or btrfs mount, where protective copies are reflinks), or with --loop on a
# 3 GiB filesystem image made and loop-mounted in that folder; removed (unmounted) at the end;
# every process started is killed on exit; every wait is bounded (--limit seconds per run).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEEN=$ROOT/build/release/steen
RUNS=5
WORKLOADS="untar,edit-1000,overwrite-200M,overwrite-512M,append-logs,copy-media,sqlite-wal,sqlite-journal"
OUT=$ROOT/bench/out/vault_overhead
LIMIT=300
UNDER=/tmp
MODES=none,watch
LOOP_FS=""
usage() { sed -n '/^# Usage:/,/^# Root only/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --steen) STEEN=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --workloads) WORKLOADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --under) UNDER=$2; shift 2 ;;
    --modes) MODES=$2; shift 2 ;;
    --loop) LOOP_FS=$2; shift 2 ;;
    *) usage ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "vault_overhead: needs root (fanotify permission events)" >&2; exit 2; }
STEEN=$(realpath "$STEEN")
[[ -x $STEEN ]] || { echo "vault_overhead: no steen at $STEEN" >&2; exit 2; }
HELPER=$ROOT/bench/vault_bench.py
source "$ROOT/scripts/lib/processes.sh"
mkdir -p "$OUT"
[[ -d $UNDER ]] || { echo "vault_overhead: --under $UNDER is not a folder" >&2; exit 2; }
IFS=, read -r -a mode_list <<< "$MODES"
for m in "${mode_list[@]}"; do
  case $m in
    none | watch | watch-novault) ;;
    floor) [[ -n $LOOP_FS ]] || { echo "vault_overhead: mode floor marks a whole mount: only with --loop" >&2; exit 2; } ;;
    *) echo "vault_overhead: unknown mode '$m' (none, watch, watch-novault, floor)" >&2; exit 2 ;;
  esac
done
[[ ${mode_list[0]} == none ]] || { echo "vault_overhead: --modes must start with none (the ratios' base)" >&2; exit 2; }
case $LOOP_FS in
  "" | ext4 | xfs) ;;
  *) echo "vault_overhead: --loop ext4 or xfs, not '$LOOP_FS'" >&2; exit 2 ;;
esac
WORK=$(mktemp -d "$UNDER/steen-vault-overhead.XXXXXX")
PIDS=()
cleanup() {
  if declare -F pg_stop > /dev/null; then
    pg_stop "${SHARE:-}/pg"
    pg_stop "$WORK/pgtemplate/data"
  fi
  kill_started "${PIDS[@]}"
  if [[ -n $LOOP_FS ]] && mountpoint -q "$WORK/mnt"; then umount "$WORK/mnt"; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
IFS=, read -r -a workload_list <<< "$WORKLOADS"
for w in "${workload_list[@]}"; do
  case $w in
    untar | edit-1000 | overwrite-200M | overwrite-512M | append-logs | copy-media | sqlite-wal | sqlite-journal | compile | archive | rsync | gpg-one | postgres | libreoffice) ;;
    *) echo "vault_overhead: unknown workload '$w'" >&2; exit 2 ;;
  esac
done
FLOOR=""
if [[ -n $LOOP_FS ]]; then
  mkdir "$WORK/mnt"
  truncate -s 3G "$WORK/fs.img"
  case $LOOP_FS in
    ext4) mkfs.ext4 -q -F "$WORK/fs.img" ;;
    xfs) mkfs.xfs -q -m reflink=1 "$WORK/fs.img" ;;
  esac || { echo "vault_overhead: mkfs.$LOOP_FS failed" >&2; exit 1; }
  mount -o loop "$WORK/fs.img" "$WORK/mnt" || { echo "vault_overhead: loop mount failed" >&2; exit 1; }
  if [[ " ${mode_list[*]} " == *" floor "* ]]; then
    FLOOR=$WORK/perm_floor
    cc -O2 -Wall -o "$FLOOR" "$ROOT/bench/perm_floor.c" || { echo "vault_overhead: cc perm_floor.c failed" >&2; exit 1; }
  fi
fi

# Inputs made once (outside the watched folder).
tar -C /usr -cf "$WORK/include.tar" include
head -c $((512 << 20)) /dev/urandom > "$WORK/big-512M.bin"
head -c $((200 << 20)) "$WORK/big-512M.bin" > "$WORK/big-200M.bin"
# make_media DIR: a photo and video library of real encoder output (not random bytes).
make_media() {
  local dir=$1 year
  mkdir -p "$dir/Videos"
  for year in 2023 2024; do
    mkdir -p "$dir/Photos/$year"
    ffmpeg -v error -f lavfi -i "testsrc2=size=1920x1080:rate=25,noise=alls=12:allf=t,hue=h=${year}" \
      -frames:v 60 -q:v 3 "$dir/Photos/$year/IMG_%04d.jpg" || return 1
  done
  ffmpeg -v error -f lavfi -i "testsrc2=size=1280x720:rate=30,noise=alls=8:allf=t" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 12 -c:v libx264 -preset ultrafast \
    -crf 20 -c:a aac -shortest "$dir/Videos/holiday-1.mp4" || return 1
  ffmpeg -v error -f lavfi -i "mandelbrot=size=1280x720:rate=30" -t 10 -c:v libvpx \
    -deadline realtime -cpu-used 8 -b:v 8M "$dir/Videos/talk-1.webm" || return 1
  # More videos of the same encoders' output (the copy's cost is in the bytes, not their variety).
  local k
  for k in 2 3 4 5 6 7 8; do cp "$dir/Videos/holiday-1.mp4" "$dir/Videos/holiday-$k.mp4"; done
  for k in 2 3 4; do cp "$dir/Videos/talk-1.webm" "$dir/Videos/talk-$k.webm"; done
}
# PostgreSQL (bench/postgres_rig.sh): a cluster made and loaded once (a template copied into the
# share for each run); its server runs as the postgres user, so the temporary folders on the way
# are made traversable.
. "$ROOT/bench/postgres_rig.sh"
PGSOCK=$WORK/pgsock
if [[ ",$WORKLOADS," == *,postgres,* ]]; then
  pg_available || { echo "vault_overhead: workload postgres needs PostgreSQL installed" >&2; exit 2; }
  chmod o+x "$WORK"
  mkdir -m 0777 "$PGSOCK" "$WORK/pgtemplate"
  chown postgres "$WORK/pgtemplate"
  pg "$PGBIN/initdb" -D "$WORK/pgtemplate/data" -A trust > /dev/null || exit 1
  pg_start "$WORK/pgtemplate/data" "$PGSOCK" "$PGSOCK/template.log" || exit 1
  pg "$PGBIN/pgbench" -h "$PGSOCK" -p "$PG_PORT" -q -i -s 5 postgres > /dev/null 2>&1
  pg_stop "$WORK/pgtemplate/data"
  printf '#!/bin/sh\nexec runuser -u postgres -- %s -h %s -p %s -n -c 2 -j 2 -t 1500 postgres > /dev/null\n' \
    "$PGBIN/pgbench" "$PGSOCK" "$PG_PORT" > "$WORK/pgbench.sh"
  chmod +x "$WORK/pgbench.sh"
fi
# Scripts for the workloads of more than one command (workload_cmd's output is split on spaces).
script() {  # NAME BODY...: $WORK/NAME.sh running BODY under sh -e
  local name=$1
  shift
  { printf '#!/bin/sh\nset -e\n'; printf '%s\n' "$@"; } > "$WORK/$name.sh"
  chmod +x "$WORK/$name.sh"
}
if [[ ",$WORKLOADS," == *,compile,* ]]; then
  python3 "$HELPER" mkproject "$WORK/proj" 60 8
  tar -C "$WORK/proj" -cf "$WORK/proj.tar" src
fi
if [[ ",$WORKLOADS," == *,archive,* || ",$WORKLOADS," == *,rsync,* ]]; then
  cp -r /usr/share/doc "$WORK/doc-v1"
  # A newer version: every 10th file rewritten, every 50th removed, 40 new ones.
  cp -r "$WORK/doc-v1" "$WORK/doc-v2"
  find "$WORK/doc-v2" -type f | sort | awk 'NR % 10 == 0' | while read -r f; do
    printf '\nrevised %s\n' "$f" >> "$f"
  done
  find "$WORK/doc-v2" -type f | sort | awk 'NR % 50 == 7' | xargs -r rm -f
  python3 "$HELPER" mkfiles "$WORK/doc-v2/new-notes" 40 3 > /dev/null
fi
if [[ ",$WORKLOADS," == *,gpg-one,* ]]; then
  mkdir -m 0700 "$WORK/gnupg"
  python3 "$HELPER" mkfiles "$WORK/gpgdoc" 1 5 --min $((8 << 20)) --max $((8 << 20)) > /dev/null
fi
LO_TEMPLATES=/usr/lib/libreoffice/share/template/common
if [[ ",$WORKLOADS," == *,libreoffice,* ]]; then
  command -v soffice > /dev/null && [[ -d $LO_TEMPLATES ]] ||
    { echo "vault_overhead: workload libreoffice needs LibreOffice (scripts/install-deps.sh --bench)" >&2; exit 2; }
  # The documents, flat and numbered (template names repeat across folders); the profile LibreOffice
  # makes at its first start lives outside the share and is reused by every run.
  mkdir "$WORK/lodocs"
  n=0
  while IFS= read -r f; do
    n=$((n + 1))
    cp "$f" "$WORK/lodocs/$n-$(basename "$f")"
  done < <(find "$LO_TEMPLATES" -type f \( -name '*.ott' -o -name '*.ots' -o -name '*.otp' \) | sort |
    awk 'NR % 2')
fi
if [[ ",$WORKLOADS," == *,copy-media,* ]]; then
  make_media "$WORK/media" || { echo "vault_overhead: ffmpeg could not make the media library" >&2; exit 1; }
fi

SHARE=$WORK/share  # the watched folder (one per run, recreated)
[[ -n $LOOP_FS ]] && SHARE=$WORK/mnt/share
script compile "tar -xf $WORK/proj.tar -C $SHARE" "make -s -j2 -C $SHARE/src app"
script archive "cd $SHARE" "tar -czf doc.tar.gz doc" "tar --zstd -cf doc.tar.zst doc" \
  "7z a -bd -bso0 -mx=1 -mmt=2 doc.7z doc"
script rsync "rsync -a --delete $WORK/doc-v2/ $SHARE/doc/"
script gpg-one "cd $SHARE" \
  "gpg --batch --quiet --homedir $WORK/gnupg --pinentry-mode loopback --passphrase bench -c report.odt" \
  "rm report.odt"
LO="soffice -env:UserInstallation=file://$WORK/lo-profile --headless"
script libreoffice "cd $SHARE/docs" \
  "$LO --convert-to docx *.ott > /dev/null 2>&1" "$LO --convert-to xlsx *.ots > /dev/null 2>&1" \
  "$LO --convert-to pptx *.otp > /dev/null 2>&1" "$LO --convert-to pdf *.docx > /dev/null 2>&1" \
  'for f in *.ott; do test -s "${f%.ott}.docx" -a -s "${f%.ott}.pdf" || exit 1; done' \
  'for f in *.ots; do test -s "${f%.ots}.xlsx" || exit 1; done' \
  'for f in *.otp; do test -s "${f%.otp}.pptx" || exit 1; done'
# setup WORKLOAD: fresh files in $SHARE (not timed).
setup() {
  pg_stop "$SHARE/pg"
  rm -rf "$SHARE"
  mkdir -p "$SHARE"
  case $1 in
    untar) mkdir "$SHARE/src" ;;
    edit-1000) python3 "$HELPER" mkfiles "$SHARE/docs" 1000 1 > /dev/null ;;
    overwrite-200M) cp "$WORK/big-200M.bin" "$SHARE/disk.img" ;;
    overwrite-512M) cp "$WORK/big-512M.bin" "$SHARE/disk.img" ;;
    append-logs) python3 "$HELPER" mkfiles "$SHARE/logs" 50 2 --ext .log > /dev/null ;;
    copy-media) ;;
    compile) ;;
    archive) cp -r "$WORK/doc-v1" "$SHARE/doc" ;;
    rsync) cp -r "$WORK/doc-v1" "$SHARE/doc" ;;
    gpg-one) cp "$(find "$WORK/gpgdoc" -type f | head -1)" "$SHARE/report.odt" ;;
    libreoffice) cp -r "$WORK/lodocs" "$SHARE/docs" ;;
    sqlite-wal) python3 "$HELPER" mkdb "$SHARE/app.db" 200000 3 --journal wal ;;
    sqlite-journal) python3 "$HELPER" mkdb "$SHARE/app.db" 200000 3 --journal delete ;;
    postgres)
      [[ -n $LOOP_FS ]] && chmod o+x "$WORK/mnt"
      chmod o+x "$SHARE"
      cp -a "$WORK/pgtemplate/data" "$SHARE/pg"
      pg_start "$SHARE/pg" "$PGSOCK" "$PGSOCK/server.log"
      ;;
  esac
  sync
}
# workload WORKLOAD: the timed command.
workload_cmd() {
  case $1 in
    untar) echo tar -xf "$WORK/include.tar" -C "$SHARE/src" ;;
    edit-1000) echo python3 "$HELPER" edit "$SHARE/docs" ;;
    overwrite-200M) echo dd if=/dev/zero of="$SHARE/disk.img" bs=1M count=200 conv=notrunc status=none ;;
    overwrite-512M) echo dd if=/dev/zero of="$SHARE/disk.img" bs=1M count=512 conv=notrunc status=none ;;
    append-logs) echo python3 "$HELPER" append "$SHARE/logs" 20 100 ;;
    copy-media) echo cp -r "$WORK/media" "$SHARE/library" ;;
    sqlite-wal) echo python3 "$HELPER" dbload "$SHARE/app.db" 300 200 --journal wal ;;
    sqlite-journal) echo python3 "$HELPER" dbload "$SHARE/app.db" 300 200 --journal delete ;;
    compile | archive | rsync | gpg-one | libreoffice) echo "$WORK/$1.sh" ;;
    postgres) echo "$WORK/pgbench.sh" ;;
  esac
}

descendants() {  # PID: PID and every process below it (workloads run scripts that run tools)
  local p
  echo "$1"
  for p in $(pgrep -P "$1"); do descendants "$p"; done
}
stopped_below() {  # PID: a process in PID's tree is stopped (state T)
  local p
  for p in $(descendants "$1"); do
    [[ $(awk '{print $3}' "/proc/$p/stat" 2> /dev/null) == T ]] && return 0
  done
  return 1
}

TSV=$OUT/overhead.tsv
printf 'workload\tmode\trun\tseconds\trc\tstopped\talerts\talert_names\tvault_bytes\tvault_disk_bytes\tobjects\tdaemon_cpu_s\n' > "$TSV"
TICK=$(getconf CLK_TCK)

# one WORKLOAD MODE RUN (RUN 0 = warm-up, not recorded)
one() {
  local w=$1 mode=$2 run=$3 state=$WORK/state watch_pid="" cpu0=0
  # On the loop filesystem the vault shares the share's filesystem (links and reflinks work).
  [[ -n $LOOP_FS ]] && state=$WORK/mnt/state
  setup "$w"
  rm -rf "$state"
  : > "$WORK/alerts.jsonl"
  if [[ $mode == floor ]]; then
    "$FLOOR" "$WORK/mnt" > "$WORK/floor.out" 2> "$WORK/watch.log" &
    watch_pid=$!
    PIDS+=("$watch_pid")
    wait_for_line "$WORK/watch.log" "marked" 50 "$watch_pid" ||
      { echo "perm_floor failed: $(cat "$WORK/watch.log")" >&2; exit 1; }
    cpu0=$(cpu_ticks "$watch_pid")
  elif [[ $mode == watch* ]]; then
    local opts=()
    [[ $mode == watch-novault ]] && opts=(-o vault.enabled=false)
    "$STEEN" watch "$SHARE" -o "state_dir=$state" "${opts[@]}" > "$WORK/alerts.jsonl" 2> "$WORK/watch.log" &
    watch_pid=$!
    PIDS+=("$watch_pid")
    wait_for_line "$WORK/watch.log" "watching (pid" 100 "$watch_pid" ||
      { echo "watch failed: $(cat "$WORK/watch.log")" >&2; exit 1; }
    cpu0=$(cpu_ticks "$watch_pid")
  fi
  local cmd
  read -r -a cmd <<< "$(workload_cmd "$w")"
  python3 "$HELPER" timeit "$WORK/time.txt" -- "${cmd[@]}" &
  local pid=$! stopped=no
  PIDS+=("$pid")
  for _ in $(seq 1 $((LIMIT * 20))); do
    kill -0 "$pid" 2> /dev/null || break
    if [[ -s $WORK/alerts.jsonl ]] && stopped_below "$pid"; then
      stopped=yes
      break
    fi
    sleep 0.05
  done
  if kill -0 "$pid" 2> /dev/null; then  # stopped by steen or over the limit: killed
    [[ $stopped == yes ]] || stopped=limit
    for p in $(descendants "$pid"); do kill -CONT "$p"; kill -KILL "$p"; done 2> /dev/null
  fi
  wait "$pid" 2> /dev/null
  local seconds=- rc=-
  [[ -s $WORK/time.txt ]] && IFS=$'\t' read -r seconds rc < "$WORK/time.txt"
  rm -f "$WORK/time.txt"
  local vb=- vd=- obj=- cpu=- alerts=0 names=-
  if [[ $mode == floor ]]; then
    cpu=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$watch_pid")" -v t="$TICK" 'BEGIN{printf "%.2f", (b - a) / t}')
    stop_gracefully "$watch_pid"
  elif [[ $mode == watch* ]]; then
    sleep 0.3  # the last closes are judged after the writer is answered
    cpu=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$watch_pid")" -v t="$TICK" 'BEGIN{printf "%.2f", (b - a) / t}')
    [[ $mode == watch ]] && IFS=$'\t' read -r vb vd obj _ < <(python3 "$HELPER" vault "$state/vault")
    stop_gracefully "$watch_pid"
    alerts=$(grep -c . "$WORK/alerts.jsonl")
    names=$(grep -o '"rule":{[^}]*"name":"[^"]*"' "$WORK/alerts.jsonl" | grep -o '"name":"[^"]*"' |
      cut -d'"' -f4 | sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? "," : ""), $2, $1}')
    [[ -n $names ]] || names=-
  fi
  echo "vault_overhead: $w $mode run $run: ${seconds}s rc $rc stopped $stopped alerts $alerts ($names) vault $vb" >&2
  [[ $run -eq 0 ]] && return
  printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$mode" "$run" "$seconds" "$rc" \
    "$stopped" "$alerts" "$names" "$vb" "$vd" "$obj" "$cpu" >> "$TSV"
}

started=$(date +%s)
for w in "${workload_list[@]}"; do
  for m in "${mode_list[@]}"; do one "$w" "$m" 0; done
  # Interleaved: the modes in order on odd runs, in reverse on even ones.
  for run in $(seq 1 "$RUNS"); do
    if ((run % 2)); then
      for m in "${mode_list[@]}"; do one "$w" "$m" "$run"; done
    else
      for ((k = ${#mode_list[@]} - 1; k >= 0; k--)); do one "$w" "${mode_list[k]}" "$run"; done
    fi
  done
done
elapsed=$(($(date +%s) - started))

python3 - "$TSV" "$RUNS" "$elapsed" "$(nproc)" "$(findmnt -no FSTYPE --target "$SHARE")" << 'EOF' | tee "$OUT/overhead.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
print(f"<!-- bench/vault_overhead.sh --runs {sys.argv[2]}; {sys.argv[4]} cores; {sys.argv[3]} s; "
      f"filesystem {sys.argv[5]} -->")
print("| workload | mode | no watch, median s | with it, median s | ratio | runs (each) "
      "| vault after a run (median) | listener CPU s (median) | alerts |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|")
def mib(b):
    return "-" if b != b else f"{b / 1048576:.1f} MiB"
def first_seen(key):
    seen = []
    for r in rows:
        if r[key] not in seen:
            seen.append(r[key])
    return seen
for w in first_seen("workload"):
    sel = [r for r in rows if r["workload"] == w]
    def med(mode, key="seconds"):
        vals = [float(r[key]) for r in sel if r["mode"] == mode and r[key] not in ("-", "")]
        return statistics.median(vals) if vals else float("nan")
    none = med("none")
    for mode in first_seen("mode"):
        if mode == "none":
            continue
        mine = [r for r in sel if r["mode"] == mode]
        t = med(mode)
        alerts = sorted({r["alert_names"] for r in mine if r["alert_names"] != "-"})
        stopped = sum(1 for r in mine if r["stopped"] != "no")
        note = "; ".join(alerts) if alerts else "none"
        if stopped:
            note += f" ({stopped} run(s) stopped by steen or over the limit)"
        print(f"| {w} | {mode} | {none:.3f} | {t:.3f} | {t / none:.2f} | {len(mine)} "
              f"| {mib(med(mode, 'vault_bytes'))} | {med(mode, 'daemon_cpu_s'):.2f} | {note} |")
EOF
echo "vault_overhead: $TSV, $OUT/overhead.md (${elapsed} s)" >&2
