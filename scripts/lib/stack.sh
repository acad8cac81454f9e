# shellcheck shell=bash
# Sourced by test.sh, scripts/bench.sh and scripts/faults.sh: runs ./start.sh in the background,
# waits until it says the seat map is up, stops it as Ctrl+C does, and checks that nothing it
# started is left running. One stack at a time per shell.
#
#   stack_start [VAR=value ...] [start.sh option ...]
#       ./start.sh with the current environment plus the VAR=value settings, its output in
#       $RUN_DIR/start.out (RUN_DIR must be set, here or in the environment). Returns 0 once it
#       prints "the seat map is up"; otherwise (it exited, or STACK_UP_TIMEOUT seconds passed,
#       default 120) prints its output, stops it and returns 1.
#   stack_stop              SIGTERM to start.sh (what Ctrl+C does), then wait for it to exit.
#   stack_stop_and_check    stack_stop, then return 1 (saying which) if start.sh or any part it
#                           started is still running.
# Sets STACK_PID (start.sh's pid, empty when none runs) and STACK_RUN_DIR.

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_PID=
STACK_RUN_DIR=

stack_say() { printf '[stack] %s\n' "$*" >&2; }

stack_start() {
  local -a settings=() options=()
  local arg run_dir=${RUN_DIR:-} i
  for arg in "$@"; do
    if [[ $arg =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
      settings+=("$arg")
      [[ $arg == RUN_DIR=* ]] && run_dir=${arg#RUN_DIR=}
    else
      options+=("$arg")
    fi
  done
  [[ -n $run_dir ]] || { stack_say "stack_start: RUN_DIR is not set"; return 1; }
  [[ -z $STACK_PID ]] || stack_stop
  mkdir -p "$run_dir"
  STACK_RUN_DIR=$run_dir
  env "${settings[@]}" RUN_DIR="$run_dir" "$STACK_ROOT/start.sh" "${options[@]}" \
    </dev/null >"$run_dir/start.out" 2>&1 &
  STACK_PID=$!
  for (( i = 0; i < ${STACK_UP_TIMEOUT:-120} * 5; i++ )); do
    grep -qs "the seat map is up" "$run_dir/start.out" && return 0
    kill -0 "$STACK_PID" 2>/dev/null || break
    sleep 0.2
  done
  cat "$run_dir/start.out" >&2
  if kill -0 "$STACK_PID" 2>/dev/null; then
    stack_say "the stack did not come up within ${STACK_UP_TIMEOUT:-120} s (logs in $run_dir/logs)"
  else
    stack_say "start.sh exited before the stack was up (logs in $run_dir/logs)"
  fi
  stack_stop
  return 1
}

stack_stop() {
  local pid=$STACK_PID i
  [[ -n $pid ]] || return 0
  STACK_PID=
  kill -TERM "$pid" 2>/dev/null || true
  # start.sh stops its parts within STOP_TIMEOUT s each (then KILLs them); a minute is ample.
  for (( i = 0; i < 600; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    stack_say "start.sh (pid $pid) is still running 60 s after SIGTERM"
    return 1
  fi
  wait "$pid" 2>/dev/null || true
}

stack_stop_and_check() {
  local pid=$STACK_PID part_pids left=() p
  [[ -n $pid ]] || return 0
  # Read before stopping: start.sh removes each pid file once that part has stopped.
  part_pids=$(cat "$STACK_RUN_DIR"/pids/*.pid 2>/dev/null || true)
  stack_stop || return 1
  for p in $part_pids; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
  if (( ${#left[@]} )); then
    stack_say "start.sh stopped but left these running: ${left[*]}"
    return 1
  fi
  stack_say "start.sh (pid $pid) stopped every process it started"
}
