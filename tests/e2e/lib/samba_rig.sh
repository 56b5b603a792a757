# shellcheck shell=bash
# A real Samba test rig, sourced by tests (and by benchmarks and the demo): a private smbd on a
# non-standard port with its own smb.conf, state folders, passdb and share inside a folder the
# caller made, plus two client hosts (network namespaces joined by veth pairs) so that an
# attacker and a colleague reach the server from different addresses. Nothing of the machine's
# own Samba (/etc/samba, /var/lib/samba, its smbd) is read or touched.
#
#   source tests/e2e/lib/samba_rig.sh
#   rig_available || { echo "SKIP: $RIG_SKIP_REASON"; exit 0; }
#   trap rig_stop EXIT                       # idempotent; kills smbd, removes netns, veths, users
#   chmod 0711 "$WORK"                       # smbd serves as the user: parents traversable
#   rig_start "$WORK/rig"                    # empty folder; the share is $RIG_SHARE_DIR
#   rig_add_user steentest-a$$ secret        # Unix user + passdb entry; auth file: rig_auth_file
#   rig_client att CMD...                    # CMD in the attacker's namespace (col: colleague's)
#   rig_url att [PATH]                       # smb://SERVER:PORT/share[/PATH] as seen from att
#   rig_sessions                             # smbstatus -b of the rig's smbd
#   rig_wait_no_session ADDR [S]             # until no session comes from ADDR (bounded)
#   rig_restart_smbd                         # Samba restarted: every session ends, same port
#
# After rig_start (slot K in 0..63, chosen free among running rigs):
#   RIG_PORT=4450+K                          smbd's port (127.0.0.1 and the two host ends only)
#   RIG_ATT_NS / RIG_COL_NS                  namespace names (steen-att-K-PID, steen-col-K-PID)
#   RIG_ATT_ADDR=198.18.(2K).2  RIG_ATT_SERVER=198.18.(2K).1     attacker host / its server end
#   RIG_COL_ADDR=198.18.(2K+1).2  RIG_COL_SERVER=198.18.(2K+1).1 colleague host / its server end
#   RIG_SHARE=share  RIG_SHARE_DIR=$RIG/share  RIG_CONF=$RIG/smb.conf  RIG_SMBD_PID  RIG_LOG
# Every address is in 198.18.0.0/15 (RFC 2544 benchmarking range); every wait is bounded.

RIG=""
RIG_SKIP_REASON=""

# Why the rig cannot run here ("" when it can): root, smbd, smbpasswd, ip netns, veth.
rig_available() {
  RIG_SKIP_REASON=""
  if [[ ${EUID} -ne 0 ]]; then
    RIG_SKIP_REASON="samba rig needs root (useradd, netns, smbd)"
  elif ! command -v smbd > /dev/null || ! command -v smbpasswd > /dev/null; then
    RIG_SKIP_REASON="samba is not installed (apt-get install samba smbclient)"
  elif ! command -v ip > /dev/null || ! command -v useradd > /dev/null; then
    RIG_SKIP_REASON="iproute2 or useradd missing"
  else
    local probe="steen-probe-$$"
    if ! ip netns add "$probe" 2> /dev/null; then
      RIG_SKIP_REASON="cannot create network namespaces here"
    else
      if ! ip link add "stp$$h" type veth peer name "stp$$n" 2> /dev/null; then
        RIG_SKIP_REASON="cannot create veth pairs here"
      fi
      ip link del "stp$$h" 2> /dev/null || true
      ip netns del "$probe" 2> /dev/null || true
    fi
  fi
  [[ -z $RIG_SKIP_REASON ]]
}

_rig_log() { echo "samba_rig: $*" >&2; }

# Claims a free slot: a lock folder per slot (atomic mkdir), reclaimed when its owner is gone.
_rig_claim_slot() {
  local k lock owner
  for k in $(seq 0 63); do
    lock="/tmp/steen-samba-rig-slot-$k"
    if [[ -d $lock ]]; then
      owner=$(cat "$lock/pid" 2> /dev/null || echo 0)
      if [[ $owner -gt 0 ]] && kill -0 "$owner" 2> /dev/null; then continue; fi
      rm -rf "$lock"
    fi
    mkdir "$lock" 2> /dev/null || continue
    echo $$ > "$lock/pid"
    if ip -o addr show | grep -c -E "inet 198\.18\.($((2 * k))|$((2 * k + 1)))\.1/" > /dev/null ||
      (exec 3<> "/dev/tcp/127.0.0.1/$((4450 + k))") 2> /dev/null; then
      rm -rf "$lock"
      continue
    fi
    RIG_SLOT=$k
    RIG_SLOT_LOCK=$lock
    return 0
  done
  return 1
}

# One client host: namespace $1, veth host end $2 / namespace end $3, host address $4, own $5.
_rig_add_host() {
  local ns=$1 host_if=$2 ns_if=$3 host_addr=$4 addr=$5
  ip netns add "$ns" || return 1
  echo "ns $ns" >> "$RIG/state"
  ip link add "$host_if" type veth peer name "$ns_if" || return 1
  echo "link $host_if" >> "$RIG/state"
  ip link set "$ns_if" netns "$ns" &&
    ip addr add "$host_addr/24" dev "$host_if" &&
    ip link set "$host_if" up &&
    ip -n "$ns" addr add "$addr/24" dev "$ns_if" &&
    ip -n "$ns" link set "$ns_if" up &&
    ip -n "$ns" link set lo up
}

# rig_start DIR: DIR must be an empty (or new) folder the caller owns.
rig_start() {
  RIG=$(realpath -m "${1:?rig folder}")
  mkdir -p "$RIG"
  if [[ -n $(ls -A "$RIG") ]]; then
    _rig_log "rig folder $RIG is not empty"
    return 1
  fi
  : > "$RIG/state"
  # smbd serves the share as the logged-in user: every folder above it must be traversable.
  local up=$RIG
  while [[ $up != / ]]; do
    up=$(dirname "$up")
    if [[ $(($(stat -c '%a' "$up" | sed 's/^/0/') & 1)) -eq 0 ]]; then
      _rig_log "$up is not traversable by others (chmod o+x it, e.g. a mktemp -d folder)"
      return 1
    fi
  done
  _rig_claim_slot || {
    _rig_log "no free rig slot (64 rigs running?)"
    return 1
  }
  local k=$RIG_SLOT
  RIG_PORT=$((4450 + k))
  RIG_ATT_NS="steen-att-$k-$$"
  RIG_COL_NS="steen-col-$k-$$"
  RIG_ATT_SERVER="198.18.$((2 * k)).1"
  RIG_ATT_ADDR="198.18.$((2 * k)).2"
  RIG_COL_SERVER="198.18.$((2 * k + 1)).1"
  RIG_COL_ADDR="198.18.$((2 * k + 1)).2"
  RIG_SHARE=share
  RIG_SHARE_DIR="$RIG/share"
  RIG_CONF="$RIG/smb.conf"
  RIG_LOG="$RIG/log/smbd.log"
  mkdir -p "$RIG"/{lock,state-dir,cache,private,pid,ncalrpc,log,binddns,usershares} "$RIG_SHARE_DIR"
  chmod 0755 "$RIG"
  chmod 1777 "$RIG_SHARE_DIR"
  _rig_add_host "$RIG_ATT_NS" "steen${k}ah" "steen${k}an" "$RIG_ATT_SERVER" "$RIG_ATT_ADDR" &&
    _rig_add_host "$RIG_COL_NS" "steen${k}ch" "steen${k}cn" "$RIG_COL_SERVER" "$RIG_COL_ADDR" || {
    _rig_log "cannot create the client namespaces"
    return 1
  }
  cat > "$RIG_CONF" << EOF
# steen test rig (tests/e2e/lib/samba_rig.sh): everything lives in $RIG
[global]
  server role = standalone server
  workgroup = STEENTEST
  netbios name = STEENRIG$k
  smb ports = $RIG_PORT
  interfaces = 127.0.0.1 $RIG_ATT_SERVER/24 $RIG_COL_SERVER/24
  bind interfaces only = yes
  disable netbios = yes
  passdb backend = tdbsam:$RIG/private/passdb.tdb
  map to guest = never
  lock directory = $RIG/lock
  state directory = $RIG/state-dir
  cache directory = $RIG/cache
  private dir = $RIG/private
  pid directory = $RIG/pid
  ncalrpc dir = $RIG/ncalrpc
  binddns dir = $RIG/binddns
  usershare path = $RIG/usershares
  usershare max shares = 0
  log file = $RIG_LOG
  max log size = 0
  log level = 1
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  config backend = file

[$RIG_SHARE]
  path = $RIG_SHARE_DIR
  read only = no
  browseable = yes
  create mask = 0644
  directory mask = 0755
EOF
  _rig_launch_smbd
}

# Starts smbd on the rig's config and waits (bounded) until it listens.
_rig_launch_smbd() {
  setsid smbd --foreground --no-process-group --configfile="$RIG_CONF" < /dev/null \
    >> "$RIG/log/smbd.stdout" 2>&1 &
  RIG_SMBD_PID=$!
  echo "smbd $RIG_SMBD_PID" >> "$RIG/state"
  local i
  for i in $(seq 1 100); do  # up to 20 s
    if (exec 3<> "/dev/tcp/127.0.0.1/$RIG_PORT") 2> /dev/null; then return 0; fi
    if ! kill -0 "$RIG_SMBD_PID" 2> /dev/null; then break; fi
    sleep 0.2
  done
  _rig_log "smbd did not start on port $RIG_PORT: $(tail -5 "$RIG/log/smbd.stdout" "$RIG_LOG" 2> /dev/null)"
  return 1
}

# Ends every process of the rig's smbd family: SIGTERM, up to 5 s, then SIGKILL.
_rig_kill_smbd() {
  local i pids
  if [[ -n ${RIG_SMBD_PID:-} ]]; then
    kill -TERM -- "-$RIG_SMBD_PID" 2> /dev/null || kill -TERM "$RIG_SMBD_PID" 2> /dev/null || true
  fi
  for i in $(seq 1 50); do
    pids=$(_rig_pids)
    [[ -z $pids ]] && break
    # shellcheck disable=SC2086
    if [[ $i -eq 1 ]]; then kill -TERM $pids 2> /dev/null || true; fi
    sleep 0.1
  done
  pids=$(_rig_pids)
  # shellcheck disable=SC2086
  if [[ -n $pids ]]; then kill -KILL $pids 2> /dev/null || true; fi
  wait "$RIG_SMBD_PID" 2> /dev/null || true
}

# rig_restart_smbd: Samba restarted (every session ends, a new smbd takes the same port).
rig_restart_smbd() {
  _rig_kill_smbd
  _rig_launch_smbd
}

# rig_add_user NAME PASSWORD: a Unix user without home or shell, in the rig's passdb only, and
# an auth file for it (rig_auth_file NAME). Names must start with "steentest".
rig_add_user() {
  local name=${1:?user} password=${2:?password}
  if [[ $name != steentest* ]]; then
    _rig_log "user names must start with steentest: $name"
    return 1
  fi
  if ! id "$name" > /dev/null 2>&1; then
    useradd --no-create-home --no-user-group --gid nogroup --shell /usr/sbin/nologin "$name" ||
      return 1
    echo "user $name" >> "$RIG/state"
  fi
  printf '%s\n%s\n' "$password" "$password" |
    smbpasswd -c "$RIG_CONF" -a -s "$name" > /dev/null || return 1
  printf 'username = %s\npassword = %s\ndomain = STEENTEST\n' "$name" "$password" \
    > "$RIG/auth-$name"
  chmod 0600 "$RIG/auth-$name"
}

rig_auth_file() { echo "$RIG/auth-${1:?user}"; }

# rig_url att|col|local [PATH]: the share's URL from that client's side.
rig_url() {
  local server
  case ${1:?att, col or local} in
    att) server=$RIG_ATT_SERVER ;;
    col) server=$RIG_COL_SERVER ;;
    local) server=127.0.0.1 ;;
    *) return 1 ;;
  esac
  echo "smb://$server:$RIG_PORT/$RIG_SHARE${2:+/$2}"
}

# rig_client att|col CMD...: runs CMD on that client host (its network namespace).
rig_client() {
  local ns
  case ${1:?att or col} in
    att) ns=$RIG_ATT_NS ;;
    col) ns=$RIG_COL_NS ;;
    *) return 1 ;;
  esac
  shift
  ip netns exec "$ns" "$@"
}

# rig_sessions: smbd's session list (smbstatus -b against the rig's own config).
rig_sessions() { smbstatus --configfile="$RIG_CONF" -b 2> /dev/null; }

# rig_wait_no_session ADDR [SECONDS]: waits (default 10 s) until no TCP connection from ADDR to
# smbd is left (the client's smbd has then applied everything it was sent, and exited).
rig_wait_no_session() {
  local addr=${1:?address} i
  for i in $(seq 1 $((${2:-10} * 10))); do
    ss -Htn state established "( sport = :$RIG_PORT )" 2> /dev/null | grep -c -F "$addr:" > /dev/null ||
      return 0
    sleep 0.1
  done
  return 1
}

# Pids of every process started with the rig's smb.conf (smbd, its per-client children and any
# helper it spawned): matched on our own config path, never on a program name.
_rig_pids() {
  local p cmdline
  for p in /proc/[0-9]*; do
    cmdline=$(tr '\0' ' ' 2> /dev/null < "$p/cmdline") || continue
    if [[ $cmdline == *"$RIG_CONF"* ]]; then echo "${p#/proc/}"; fi
  done
  return 0
}

# Stops everything rig_start and rig_add_user made; safe to call twice or after a failed start.
rig_stop() {
  [[ -n $RIG && -f $RIG/state ]] || return 0
  local kind value
  _rig_kill_smbd
  while read -r kind value; do
    case $kind in
      ns) ip netns del "$value" 2> /dev/null || true ;;
      link) ip link del "$value" 2> /dev/null || true ;;
      user) userdel "$value" 2> /dev/null || true ;;
    esac
  done < <(tac "$RIG/state")
  : > "$RIG/state"
  if [[ -n ${RIG_SLOT_LOCK:-} ]]; then rm -rf "$RIG_SLOT_LOCK"; fi
  RIG_SLOT_LOCK=""
  return 0
}
