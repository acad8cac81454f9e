# shellcheck shell=bash
# Sourced by start.sh: finding, checking and stopping the processes start.sh runs.
# Needs: PID_DIR, RUN_DIR, STOP_TIMEOUT, say, die, part_comm (parts.sh).
proc_comm() {
  if [[ -r /proc/$1/comm ]]; then cat "/proc/$1/comm" 2>/dev/null
  else ps -o comm= -p "$1" 2>/dev/null; fi
}
# "STATE PPID" of a process (from /proc/PID/stat, after the "(comm)" field).
proc_state_ppid() {
  if [[ -d /proc/$$ ]]; then
    sed -n 's/^.*) \([A-Za-z]\) \([0-9]*\) .*/\1 \2/p' "/proc/$1/stat" 2>/dev/null
  else
    ps -o stat=,ppid= -p "$1" 2>/dev/null
  fi
}
# live PID WANT: PID runs (zombies do not count) and is ours. WANT is either
# "child" (a direct child of this script: its PID cannot have been recycled)
# or the program name the process must have (for PIDs read from pid files).
live() {
  local pid=$1 want=$2 st='' ppid=''
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r st ppid < <(proc_state_ppid "$pid") || true
  [[ -n $st && $st != Z* && $st != X* ]] || return 1
  if [[ $want == child ]]; then [[ $ppid == "$$" ]]
  else [[ "$(proc_comm "$pid")" == "$want" ]]; fi
}
pid_is() { live "$1" "$2"; }

# stop_parts WANT NAME=PID...: TERM them all at once (parts of one kind, e.g.
# every edge, stop in parallel), wait up to STOP_TIMEOUT s, then KILL what is
# left. Only PIDs that pass `live PID WANT` are signalled; WANT "comm" means
# the program name that belongs to NAME.
stop_parts() {
  local want=$1 entry name pid w i j left
  shift
  local -a names=() pids=() wants=()
  for entry in "$@"; do
    name=${entry%%=*} pid=${entry#*=} w=$want
    [[ $want == comm ]] && { w=$(part_comm "$name") || continue; }
    if live "$pid" "$w"; then
      kill -TERM "$pid" 2>/dev/null || true
      names+=("$name") pids+=("$pid") wants+=("$w")
    else
      printf '[stop] %s (pid %s) had already exited\n' "$name" "$pid"
    fi
  done
  (( ${#pids[@]} )) || return 0
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
    left=0
    for j in "${!pids[@]}"; do live "${pids[j]}" "${wants[j]}" && { left=1; break; }; done
    (( left )) || break
    sleep 0.1
  done
  for j in "${!pids[@]}"; do
    if live "${pids[j]}" "${wants[j]}"; then
      printf '[stop] %s (pid %s) still running after %s s: KILL\n' "${names[j]}" "${pids[j]}" "$STOP_TIMEOUT"
      kill -KILL "${pids[j]}" 2>/dev/null || true
    fi
  done
  for j in "${!pids[@]}"; do
    for (( i = 0; i < 20; i++ )); do live "${pids[j]}" "${wants[j]}" || break; sleep 0.1; done
    # Reap our own children here, so none is left as a zombie after we exit.
    [[ $want != child ]] || wait "${pids[j]}" 2>/dev/null || true
    printf '[stop] %s (pid %s) stopped\n' "${names[j]}" "${pids[j]}"
  done
}

# --stop: stop a start.sh running with this RUN_DIR (it stops its parts), or the parts a
# start.sh killed with -9 left behind (as recorded in PID_DIR), newest part first.
stop_previous_run() {
  local stopped=0 spid i group f name pid comm
  local -a parts
  if [[ -f $RUN_DIR/start.pid ]]; then
    spid=$(<"$RUN_DIR/start.pid")
    if [[ $spid =~ ^[0-9]+$ ]] && kill -0 "$spid" 2>/dev/null &&
       tr '\0' ' ' <"/proc/$spid/cmdline" 2>/dev/null | grep -q 'start\.sh'; then
      say "stopping start.sh (pid $spid); it stops its parts"
      kill -TERM "$spid"
      for (( i = 0; i < 400; i++ )); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$spid" 2>/dev/null && die "start.sh (pid $spid) is still running after 40 s"
      stopped=1
    fi
  fi
  # Leftovers of a start.sh that was itself killed with -9, newest part first.
  if [[ -d $PID_DIR ]]; then
    for group in prometheus nginx 'edge-*' 'booking-*' 'nats-*' 'redis-*'; do
      parts=()
      for f in "$PID_DIR"/$group.pid; do
        [[ -f $f ]] || continue
        name=$(basename "$f" .pid)
        pid=$(<"$f")
        if comm=$(part_comm "$name") && pid_is "$pid" "$comm"; then parts+=("$name=$pid"); stopped=1; fi
        rm -f "$f"
      done
      (( ${#parts[@]} == 0 )) || stop_parts comm "${parts[@]}"
    done
  fi
  if (( stopped )); then say "stopped"; else say "nothing to stop (RUN_DIR=$RUN_DIR)"; fi
  exit 0
}
