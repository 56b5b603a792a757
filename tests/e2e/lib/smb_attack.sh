# shellcheck shell=bash
# The Antwerp scenario on a real Samba share (sourced by tests/e2e/watch_smb_test.sh and
# bench/smb_matrix.sh, never run): `steen watch` protects the share of a private smbd
# (tests/e2e/lib/samba_rig.sh); an attacker host runs `steen drill smb://...` against it while a
# colleague on another host saves office documents and copies photos into the same share over one
# long SMB session; steen must contain the attacker's client (its smbd sessions stopped, its
# reconnection refused) and never touch the colleague's; `steen kill` ends the attacker's
# sessions and `steen rollback` must bring the share back byte-identical with the colleague's
# work kept.
#
# The caller defines STEEN, ROOT, WORK (a mktemp -d folder), the PIDS array and check/bad, sources
# samba_rig.sh and scripts/lib/processes.sh, gathers real files into $WORK/corpus, then:
#   smb_rig_up                    rig, users (attacker, colleague), auth files, colleague files
#   smb_watch_up                  steen watch on the share (state in $WORK/state)
#   smb_attack LABEL FAMILY [drill options...]   one attack at SMB_PACE files/s (default 30);
#                                 sets SMB_* results (below)
#   smb_watch_down                stops the daemon, checks its log for sanitizer reports
# SMB_AFTER_CONTAINMENT=FUNCTION runs FUNCTION DIR after the containment checks and the
# colleague's session, before `steen kill`. Results of smb_attack: SMB_INCIDENT, SMB_DAMAGED (files the drill attacked before it was cut
# off), SMB_STOPPED (yes/no: the attacker's smbd was suspended), SMB_REFUSED (yes/no: a new
# connection from the attacker's address was refused), SMB_COL_OK (yes/no: the colleague's session
# did all its work, unsuspended and unalerted), SMB_IDENTICAL (yes/no after rollback), SMB_LOST
# (files of the share missing or different after rollback), SMB_ALERT_CLIENT (the alert's
# client.address), SMB_FOREIGN (files the rollback touched outside the attacked folder).

SMB_TIMEOUT=${SMB_TIMEOUT:-40}

# Every smbd child serving a client address now: the owners of the established connections from
# that address to the rig's port, as the kernel reports them.
_smb_pids_of() {
  ss -Htnp state established "( sport = :$RIG_PORT )" 2> /dev/null | grep -F " $1:" |
    grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}

smb_rig_up() {
  chmod 0711 "$WORK"  # smbd serves the share as the Samba user: parents must be traversable
  rig_start "$WORK/rig" || return 1
  SMB_ATT=steentest-a$$
  SMB_COL=steentest-c$$
  rig_add_user "$SMB_ATT" "att-pass-$$" && rig_add_user "$SMB_COL" "col-pass-$$" || return 1
  mkdir -p "$WORK/auth" "$WORK/colleague-files"
  # The drill's mount namespace hides the rig (so only smbd can write the share): copies outside.
  cp "$(rig_auth_file "$SMB_ATT")" "$WORK/auth/att"
  cp "$(rig_auth_file "$SMB_COL")" "$WORK/auth/col"
  # The colleague's work: office documents (OOXML and ODF are ZIP containers, made here with
  # Python's zipfile as an office suite would, deflated XML) and photos from the corpus.
  python3 - "$WORK/colleague-files" << 'EOF'
import os, random, sys, zipfile
out = sys.argv[1]
rnd = random.Random(6)
words = "budget council meeting school road permit invoice tender library park report".split()
def text(n):
    return " ".join(rnd.choice(words) for _ in range(n))
for i in range(8):
    with zipfile.ZipFile(os.path.join(out, "minutes-%d.docx" % i), "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        body = "".join("<w:p><w:r><w:t>%s</w:t></w:r></w:p>" % text(40) for _ in range(200 + 50 * i))
        z.writestr("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>%s</w:body></w:document>' % body)
    with zipfile.ZipFile(os.path.join(out, "plan-%d.ods" % i), "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        rows = "".join("<table:table-row><table:table-cell><text:p>%s</text:p></table:table-cell></table:table-row>" % text(12) for _ in range(300 + 40 * i))
        z.writestr("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table>%s</table:table></office:spreadsheet></office:body></office:document-content>' % rows, zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>', zipfile.ZIP_DEFLATED)
EOF
  local n=0 f
  while IFS= read -r f; do
    n=$((n + 1))
    cp "$f" "$WORK/colleague-files/photo-$n.${f##*.}"
  done < <(find "$WORK/corpus" -type f \( -name '*.jpg' -o -name '*.jpeg' -o -name '*.png' \) | sort | head -12)
}

# smb_watch_up [watch options...]: the daemon on the share, reconnection blocked on the rig's
# port; alerts in $WORK/alerts.jsonl, log in $WORK/watch.log.
smb_watch_up() {
  SMB_STATE=$WORK/state
  : > "$WORK/alerts.jsonl"
  "$STEEN" watch "$RIG_SHARE_DIR" -o "state_dir=$SMB_STATE" -o "smb.ports=[$RIG_PORT]" "$@" \
    >> "$WORK/alerts.jsonl" 2>> "$WORK/watch.log" &
  SMB_WATCH_PID=$!
  PIDS+=("$SMB_WATCH_PID")
  wait_for_line "$WORK/watch.log" "watching (pid" 150 "$SMB_WATCH_PID" && return 0
  bad "steen watch did not start: $(tail -3 "$WORK/watch.log")"
  return 1
}

smb_watch_down() {
  stop_gracefully "$SMB_WATCH_PID"
  check "! grep -q 'ERROR: AddressSanitizer\|ERROR: LeakSanitizer\|runtime error:' '$WORK/watch.log'" \
    "sanitizer report in watch.log: $(grep -m3 'ERROR\|runtime error' "$WORK/watch.log")"
}

# Incident ids, newest first; with an address, only those naming it.
_smb_incidents() {
  "$STEEN" incidents --state-dir "$SMB_STATE" --format jsonl 2> /dev/null |
    grep -F "${1:+\"$1\"}" | grep -o '"id":"INC-[^"]*"' | cut -d'"' -f4
}

_smb_tree_sums() {
  (cd "$1" && find . -type f ! -name .steen-drill-target -print0 | sort -z | xargs -0 -r sha256sum)
}

# The colleague's session: one smbclient that saves every document the way office suites do
# (write a temporary file, rename the old version aside, rename the new one in, delete the old)
# and copies the photos, a command every 0.2 s. Expected sha256 of its files in $1/expected.txt.
_smb_colleague() {
  local dir=$1 folder=$2 f name
  (cd "$WORK/colleague-files" && sha256sum -- *) | sed "s|  |  ./$folder/|" > "$dir/expected.txt"
  {
    echo "mkdir $folder"
    echo "cd $folder"
    for f in "$WORK"/colleague-files/*; do
      name=$(basename "$f")
      case $name in
        *.docx | *.ods)
          echo "put $f ~\$tmp-$name"
          sleep 0.2
          echo "rename ~\$tmp-$name $name"
          # Saved twice: the second save replaces the first through the backup dance.
          sleep 0.2
          echo "put $f ~\$tmp2-$name"
          echo "rename $name ~\$bak-$name"
          echo "rename ~\$tmp2-$name $name"
          echo "del ~\$bak-$name"
          ;;
        *) echo "put $f $name" ;;
      esac
      sleep 0.2
    done
    echo "ls"
    echo "exit"
  } | rig_client col timeout "$SMB_TIMEOUT" smbclient "//$RIG_COL_SERVER/$RIG_SHARE" \
    -p "$RIG_PORT" -A "$WORK/auth/col" > "$dir/colleague.out" 2>&1
  echo $? > "$dir/colleague.rc"
}

# smb_attack LABEL FAMILY [drill options...]
smb_attack() {
  local label=$1 family=$2
  shift 2
  local dir=$WORK/$label target=$RIG_SHARE_DIR/$label folder=$label-colleague
  SMB_INCIDENT="" SMB_DAMAGED=0 SMB_STOPPED=no SMB_REFUSED=no SMB_COL_OK=no SMB_IDENTICAL=no
  SMB_LOST=-1 SMB_ALERT_CLIENT="" SMB_FOREIGN=0
  mkdir -p "$dir"
  # Populated while steen watches the share: bounded, in case steen stops the copy (SIGCONT
  # follows timeout's signal).
  timeout 60 "$STEEN" drill --init "$target" --populate 40 --from "$WORK/corpus" > /dev/null ||
    { bad "$label: drill --init (stopped by steen?)"; return 1; }
  chmod -R a+rwX "$target"
  _smb_tree_sums "$RIG_SHARE_DIR" > "$dir/before-share.txt"
  _smb_tree_sums "$target" > "$dir/before.txt"
  local alerts_before known
  alerts_before=$(wc -l < "$WORK/alerts.jsonl")
  known=$(_smb_incidents | tr '\n' ' ')

  _smb_colleague "$dir" "$folder" &
  local colleague=$!
  PIDS+=("$colleague")
  sleep 1  # the colleague is at work when the attack starts
  local hide=(unshare --mount --propagation private
    sh -c 'mount -t tmpfs -o size=1m steen-hidden "$0" && exec "$@"' "$RIG")
  ip netns exec "$RIG_ATT_NS" "${hide[@]}" "$STEEN" drill "$(rig_url att "$label")" \
    --family "$family" --auth-file "$WORK/auth/att" --manifest "$dir/m.jsonl" --pace "${SMB_PACE:-30}" "$@" \
    > "$dir/drill.out" 2>&1 &
  local drill=$!
  PIDS+=("$drill")

  # Until an incident names the attacker's address, or the drill ends on its own.
  local i
  for i in $(seq 1 $((SMB_TIMEOUT * 10))); do
    for SMB_INCIDENT in $(_smb_incidents "$RIG_ATT_ADDR") ""; do
      [[ " $known " == *" $SMB_INCIDENT "* ]] || break
    done
    [[ -n $SMB_INCIDENT ]] && break
    kill -0 "$drill" 2> /dev/null || break
    sleep 0.1
  done
  if [[ -z $SMB_INCIDENT ]] && ! kill -0 "$drill" 2> /dev/null; then
    wait "$drill"
    local drill_rc=$?
    [[ $drill_rc -eq 0 ]] || bad "$label: the drill failed (exit $drill_rc): $(head -3 "$dir/drill.out")"
  fi
  sleep 0.5  # the response follows the incident record
  local pids pid
  pids=$(_smb_pids_of "$RIG_ATT_ADDR")
  if [[ -n $pids ]]; then
    SMB_STOPPED=yes
    for pid in $pids; do [[ $(proc_state "$pid") == T ]] || SMB_STOPPED=no; done
  fi
  # A new connection from the attacker's host must be refused; one from the colleague's works.
  if ! rig_client att timeout 8 smbclient "//$RIG_ATT_SERVER/$RIG_SHARE" -p "$RIG_PORT" \
    -A "$WORK/auth/att" -c ls > "$dir/reconnect.out" 2>&1; then
    SMB_REFUSED=yes
  fi
  # The drill's own manifest and, with --processes, its workers' parts.
  SMB_DAMAGED=$(cat "$dir/m.jsonl" "$dir"/m.jsonl.d/part-*.jsonl 2> /dev/null | grep -c '"op":"file"')
  SMB_ALERT_CLIENT=$(tail -n +"$((alerts_before + 1))" "$WORK/alerts.jsonl" |
    jq -r 'select(.event.kind == "alert") | .client.address // empty' 2> /dev/null | head -1)

  # The colleague takes ~10 s; one still at work after 20 s is stuck: what each smbd waits on.
  for i in $(seq 1 200); do
    kill -0 "$colleague" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$colleague" 2> /dev/null; then
    { ps -eo pid,ppid,stat,wchan:32,etime,args | grep -E '[s]mbd|[s]mbclient'; cat /proc/locks; } \
      > "$dir/stuck.txt" 2>&1
    echo "$label: the colleague is still at work after 20 s: $(grep -c ' T' "$dir/stuck.txt") stopped processes; $dir/stuck.txt" >&2
    # CI keeps no folders: what each smbd waited on, and the locks, go to the log too.
    sed 's/^/  /' "$dir/stuck.txt" >&2
  fi
  wait "$colleague"
  local col_rc
  col_rc=$(cat "$dir/colleague.rc" 2> /dev/null || echo 99)
  if [[ $col_rc -eq 0 ]] && ! grep -q NT_STATUS "$dir/colleague.out" &&
    ! tail -n +"$((alerts_before + 1))" "$WORK/alerts.jsonl" | grep -c -F "\"$RIG_COL_ADDR\"" > /dev/null; then
    SMB_COL_OK=yes
  fi

  # A caller's step between containment and the operator's decision (e.g. Samba restarted).
  if [[ -n ${SMB_AFTER_CONTAINMENT:-} ]]; then "$SMB_AFTER_CONTAINMENT" "$dir"; fi

  # The operator ends the attacker's sessions (nothing it sent is applied), then rolls back.
  if [[ -n $SMB_INCIDENT ]]; then
    "$STEEN" kill "$SMB_INCIDENT" --state-dir "$SMB_STATE" > "$dir/kill.out" 2>&1
  fi
  kill -KILL "$drill" 2> /dev/null
  wait "$drill" 2> /dev/null
  for pid in $(_smb_pids_of "$RIG_ATT_ADDR"); do kill -KILL "$pid" 2> /dev/null; done
  rig_wait_no_session "$RIG_ATT_ADDR" 10 || bad "$label: the attacker's session did not end"
  if [[ -n $SMB_INCIDENT ]]; then
    timeout 120 "$STEEN" rollback "$SMB_INCIDENT" --state-dir "$SMB_STATE" --format jsonl \
      > "$dir/rollback.jsonl" 2>&1
    echo $? > "$dir/rollback.rc"
    # Only this attack's folder: an earlier attack of the same client is its own incident's.
    SMB_FOREIGN=$(jq -r 'select(.path != null) | .path' "$dir/rollback.jsonl" 2> /dev/null |
      grep -c -v -F "$target/")
  fi
  _smb_tree_sums "$target" > "$dir/after.txt"
  if cmp -s "$dir/before.txt" "$dir/after.txt"; then SMB_IDENTICAL=yes; fi
  SMB_LOST=$(comm -23 <(sort "$dir/before.txt") <(sort "$dir/after.txt") | wc -l)
  # The colleague's files are there, as the colleague saved them (never rolled back).
  if ! (cd "$RIG_SHARE_DIR" && sha256sum -c --quiet "$dir/expected.txt" > /dev/null 2>&1); then
    SMB_COL_OK=no
    echo "$label: colleague's files differ: $(cd "$RIG_SHARE_DIR" && sha256sum -c --quiet "$dir/expected.txt" 2>&1 | head -3)" >&2
  fi
  echo "$label ($family): damaged $SMB_DAMAGED, incident ${SMB_INCIDENT:-none}," \
    "stopped $SMB_STOPPED, reconnection refused $SMB_REFUSED, colleague ok $SMB_COL_OK," \
    "byte-identical $SMB_IDENTICAL, lost $SMB_LOST"
  [[ -n $SMB_INCIDENT ]]
}
