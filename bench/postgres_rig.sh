# A private PostgreSQL server for the benchmarks (bench/app_data.sh, bench/vault_overhead.sh):
# the cluster in a folder the caller made, its server as the postgres user on a Unix socket in
# another such folder (no TCP), port 54329. Sourced, not run. Nothing is installed: Debian's
# package creates and starts a cluster of its own, so callers skip PostgreSQL where it is absent.
PG_PORT=54329
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -1)
# pg_available: PostgreSQL's programs and its user are there.
pg_available() { [[ -n $PGBIN && -x $PGBIN/pgbench ]] && id postgres > /dev/null 2>&1; }
# pg CMD...: CMD as the postgres user.
pg() { (cd / && runuser -u postgres -- "$@"); }
# pg_start DATA SOCKET_DIR LOG: starts the cluster in DATA and waits until it accepts connections.
pg_start() {
  pg "$PGBIN/pg_ctl" -D "$1" -w -l "$3" \
    -o "-c listen_addresses='' -c unix_socket_directories=$2 -p $PG_PORT" start > /dev/null
}
# pg_stop DATA: stops the cluster in DATA if there is one (fast shutdown, waited for).
# Safe under set -e: a cluster already stopped is no error.
pg_stop() {
  if [[ -n ${1:-} && -d $1 ]]; then
    pg "$PGBIN/pg_ctl" -D "$1" -m fast -w stop > /dev/null 2>&1 || true
  fi
}
