# Attacks made of everyday tools instead of one encryptor, shared by tests/e2e/watch_tools_test.sh
# and bench/tool_attacks.sh (sourced, never run). The sourcing script defines STEEN, WORK, the PIDS
# array and check/bad, gathers $WORK/corpus, and sources scripts/lib/processes.sh and
# tests/e2e/lib/watch_attack.sh.

TOOL_ENC='openssl enc -aes-256-ctr -pass pass:drill -pbkdf2'
TOOL_FILES='find . -type f ! -name .steen-drill-target | sort'
# name -> "user|command" (run in the share, as that user, in a session of its own)
declare -A TOOL_ATTACKS=(
  # The original is never opened for writing: its ciphertext, a valid "Salted__" container, is
  # renamed over it.
  [rename-over]="root|for f in \$($TOOL_FILES); do
     $TOOL_ENC -in \"\$f\" -out \"\$f.tmp\" && mv -f \"\$f.tmp\" \"\$f\"; sleep 0.03; done"
  # A shell, an encryptor and an rm per file, each gone within milliseconds (the rm before its
  # delete is read); only their login session adds up.
  [xargs-rm]="nobody|$TOOL_FILES | xargs -P4 -I{} sh -c '$TOOL_ENC -in \"{}\" -out \"{}.locked\" && rm -f \"{}\"'"
  # A wiper: zeros over the first 4 KiB of each file, one dd per file. Nothing random is written;
  # each file's format is gone.
  [dd-zero-head]="root|for f in \$($TOOL_FILES); do
     dd if=/dev/zero of=\"\$f\" bs=4096 count=1 conv=notrunc status=none; sleep 0.03; done"
  # Each folder into one encrypted archive, then removed: many originals, one new file, and the
  # last deletes read after their folder is gone.
  [tar-rm]="root|for d in \$(find . -mindepth 1 -maxdepth 1 -type d | sort); do
     tar cf - \"\$d\" | $TOOL_ENC -out \"\$d.tar.enc\" && rm -rf \"\$d\"; sleep 0.2; done"
  # `gpg -c` of each file, then `shred -u` of the original: overwritten, truncated, renamed
  # x -> 0000 -> ... -> 0 and unlinked (the delete no longer carries its name).
  # Each file by a double-forked worker: orphaned at once (its parent is init or a subreaper),
  # so no living process it descends from started it; only its login session ties it to the loop.
  [orphans]="root|for f in \$($TOOL_FILES); do
     ( ( $TOOL_ENC -in \"\$f\" -out \"\$f.locked\" && rm -f \"\$f\" ) & ); sleep 0.05; done; wait"
  # Each file's worker in a login session of its own (setsid): no session ties them together,
  # only their parent, the loop.
  [setsid-each]="root|for f in \$($TOOL_FILES); do
     setsid sh -c '$TOOL_ENC -in \"\$0\" -out \"\$0.locked\" && rm -f \"\$0\"' \"\$f\" & sleep 0.05; done; wait"
  # A Python pool of 4 forked workers, each file rewritten in place with a keystream XOR (the
  # bytes of a stream cipher) by whichever worker takes it.
  [py-pool]="root|python3 -c '
import multiprocessing, os, sys
def lock(path):
    with open(path, \"r+b\") as f:
        data = f.read()
        f.seek(0)
        f.write(bytes(a ^ b for a, b in zip(data, os.urandom(len(data)))))
if __name__ == \"__main__\":
    files = sorted(os.path.join(d, n) for d, _, ns in os.walk(\".\") for n in ns
                   if n != \".steen-drill-target\")
    with multiprocessing.Pool(4) as pool:
        pool.map(lock, files, chunksize=1)
'"
  [gpg-shred]="root|for f in \$($TOOL_FILES); do
     gpg --batch --yes --quiet --passphrase drill --pinentry-mode loopback -c \"\$f\" &&
     shred -u \"\$f\"; done"
)
TOOL_ATTACK_NAMES="rename-over xargs-rm dd-zero-head tar-rm gpg-shred orphans setsid-each py-pool"

# run_tool_attack LABEL NAME [watch options...]: a share of 40 real files under `steen watch`
# (canaries off, vault on), attack NAME until steen stops it (at most 30 s), then `steen
# rollback`. Sets: dir share incident changed (names changed, added or gone once the attack
# stood still) rollback_rc identical (yes/no).
run_tool_attack() {
  local label=$1 name=$2
  shift 2
  local spec=${TOOL_ATTACKS[$name]}
  local user=${spec%%|*} command=${spec#*|}
  dir=$WORK/$label
  share=$dir/share
  incident="" changed=0 rollback_rc=-1 identical=no
  mkdir -p "$dir"
  "$STEEN" drill --init "$share" --populate 40 --from "$WORK/corpus" > /dev/null ||
    { bad "$label: drill --init"; return 1; }
  [[ $user == root ]] || chown -R "$user:" "$share"
  tree_sums "$share" > "$dir/sums.txt"
  start_watch "$dir" "$share" -o canaries.enabled=false "$@"
  (cd "$share" && exec setsid timeout 30 setpriv --reuid="$user" --regid="$(id -g "$user")" \
    --clear-groups bash -c "$command") > "$dir/attack.out" 2>&1 &
  local attack_pid=$!
  PIDS+=("$attack_pid")
  for _ in $(seq 1 200); do  # at most 20 s
    incident=$("$STEEN" incidents --state-dir "$dir/state" --format jsonl 2> /dev/null |
      grep -o '"id":"INC-[^"]*"' | head -1 | cut -d'"' -f4)
    [[ -n $incident ]] && break
    sleep 0.1
  done
  sleep 1  # what was in flight settles; a running attack would go on meanwhile
  tree_sums "$share" > "$dir/after-attack.txt"
  changed=$(( $(comm -3 <(awk '{print $2}' "$dir/sums.txt" | sort) \
    <(awk '{print $2}' "$dir/after-attack.txt" | sort) | wc -l) +
    $(join -j 2 <(sort -k2 "$dir/sums.txt") <(sort -k2 "$dir/after-attack.txt") |
      awk '$2 != $3' | wc -l) ))
  kill -KILL -- -"$attack_pid" 2> /dev/null
  wait "$attack_pid" 2> /dev/null
  if [[ -n $incident ]]; then
    timeout 120 "$STEEN" rollback "$incident" --state-dir "$dir/state" > "$dir/rollback.txt" 2>&1
    rollback_rc=$?
  fi
  stop_watch
  tree_sums "$share" > "$dir/after-rollback.txt"
  cmp -s "$dir/sums.txt" "$dir/after-rollback.txt" && identical=yes
  return 0
}
