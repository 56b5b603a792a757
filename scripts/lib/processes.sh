# Process helpers shared by the end-to-end tests and the benchmarks (sourced, never run).

# proc_state PID: the one-letter state from /proc/PID/stat (T = stopped), empty when gone.
proc_state() { awk '{print $3}' "/proc/$1/stat" 2> /dev/null; }

# cpu_ticks PID: user + system CPU time of PID in clock ticks (getconf CLK_TCK), 0 when gone.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2> /dev/null || echo 0; }

# kill_started PID...: kills processes this script started, suspended ones included (steen may
# have stopped them), and reaps them.
kill_started() {
  local pid
  for pid in "$@"; do
    kill -CONT "$pid" 2> /dev/null
    kill -KILL "$pid" 2> /dev/null
  done
  wait 2> /dev/null
}

# wait_for_line FILE TEXT TRIES [PID]: polls FILE every 0.1 s, at most TRIES times, until it
# contains TEXT (a daemon's "ready" line); gives up early once PID (the daemon) has exited.
# Status 0 when the line came.
wait_for_line() {
  local file=$1 text=$2 tries=$3 pid=${4:-}
  for _ in $(seq 1 "$tries"); do
    grep -q -F -- "$text" "$file" 2> /dev/null && return 0
    [[ -z $pid ]] || kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  grep -q -F -- "$text" "$file" 2> /dev/null
}

# stop_gracefully PID: SIGTERM, up to 10 s to exit (a daemon's clean stop), then SIGKILL; reaps it.
stop_gracefully() {
  local pid=$1
  kill -TERM "$pid" 2> /dev/null
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
}
