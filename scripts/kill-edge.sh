#!/usr/bin/env bash
# kill-edge.sh: kill -9 one edge server that start.sh started, to show (or
# test) that its clients reconnect through NGINX to another edge.
#
#   scripts/kill-edge.sh edge-3000            # RUN_DIR from the environment or <repo>/.run
#   scripts/kill-edge.sh edge-3001 /tmp/run   # RUN_DIR as second argument
#   scripts/kill-edge.sh 3000                 # same as edge-3000
#   SIGNAL=TERM scripts/kill-edge.sh edge-3000   # a clean stop instead of a crash
#
# Reads the PID from $RUN_DIR/pids/<edge id>.pid (written by start.sh) and
# kills it only if that PID is still an edge-server process. start.sh reports
# the exit and keeps the rest of the system running (with RESTART=1 it starts
# the edge again).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

usage() { sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

case ${1:-} in
  -h|--help) usage; exit 0 ;;
  '') usage >&2; exit 2 ;;
esac

id=$1
[[ $id =~ ^[0-9]+$ ]] && id="edge-$id"
[[ $id =~ ^edge-[0-9]+$ ]] || { echo "kill-edge: '$1' is not an edge id like edge-3000" >&2; exit 2; }

run_dir=${2:-${RUN_DIR:-$ROOT/.run}}
signal=${SIGNAL:-KILL}
pid_file="$run_dir/pids/$id.pid"

if [[ ! -f $pid_file ]]; then
  running=
  for f in "$run_dir"/pids/edge-*.pid; do [[ -f $f ]] && running+="$(basename "$f" .pid) "; done
  echo "kill-edge: no $pid_file (is start.sh running with RUN_DIR=$run_dir?)${running:+ running edges: $running}" >&2
  exit 1
fi
pid=$(<"$pid_file")
if ! [[ $pid =~ ^[0-9]+$ ]] || [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != edge-server ]]; then
  echo "kill-edge: $id (pid ${pid:-?}) is not running" >&2
  exit 1
fi

# Process state from /proc/PID/stat (after the "(comm)" field); empty once gone.
# A zombie (Z: exited, not yet reaped by start.sh) no longer serves anything.
state() { sed -n 's/^.*) \([A-Za-z]\).*/\1/p' "/proc/$pid/stat" 2>/dev/null || true; }

kill "-$signal" "$pid"
for (( i = 0; i < 100; i++ )); do   # up to 10 s (a TERMed edge drains its sockets first)
  st=$(state)
  [[ -z $st || $st == Z ]] && break
  sleep 0.1
done
st=$(state)
if [[ -n $st && $st != Z ]]; then
  echo "kill-edge: $id (pid $pid) is still running after SIG$signal" >&2
  exit 1
fi
echo "kill-edge: killed $id (pid $pid) with SIG$signal"
