#!/usr/bin/env bash
# profile-edge.sh NAME EDGE_PID OUT SECONDS -- SEATBENCH-FANOUT-COMMAND…
# Runs the fan-out command (its --label must be NAME); once its viewers are ready, samples the
# edge with perf (cpu-clock, 2999 Hz, DWARF call graphs) for SECONDS while the changes flow, and
# counts its system calls over the same seconds (RESULTS=file to keep them). Writes, in OUT:
#   flamegraph-edge-NAME.svg   the flamegraph (inferno)
#   profile-edge-NAME.folded   collapsed stacks
#   profile-edge-NAME.md       where the time goes, per delivery (profile-summary.py)
#   profile-edge-NAME.txt      top functions by self time
set -euo pipefail
name=$1 pid=$2 out=$3 seconds=$4; shift 4
[[ ${1:-} == -- ]] && shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v perf >/dev/null 2>&1 || { echo "[profile] perf is not installed (apt-get install linux-perf)"; exit 0; }
log=$(mktemp /tmp/seatmap-profile.XXXXXX)
"$@" >"$log" 2>&1 &
load=$!
until grep -q ' ready, ' "$log"; do
  kill -0 "$load" 2>/dev/null || { cat "$log"; echo "[profile] the load ended before its viewers were ready"; exit 1; }
  sleep 0.2
done
sleep 1.5   # seatbench settles for 1 s, then the changes start
data=$(mktemp /tmp/seatmap-perf.XXXXXX)
"$here/syscalls.sh" "$name" edge "$pid" "$seconds" "${RESULTS:-/dev/null}" &
counting=$!
perf record -q -e cpu-clock -F 2999 --call-graph dwarf,8192 -m 64M -p "$pid" -o "$data" -- sleep "$seconds" >/dev/null 2>&1 || true
wait "$load" || true
wait "$counting" || true
cat "$log"
perf report -i "$data" --stdio --no-children --sort symbol -g none --percent-limit 0.5 2>/dev/null |
  grep -v '^#' | sed -e 's/ *$//' -e '/^$/d' >"$out/profile-edge-$name.txt" || true
PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if command -v inferno-collapse-perf >/dev/null 2>&1; then
  perf script -i "$data" 2>/dev/null | inferno-collapse-perf >"$out/profile-edge-$name.folded"
  inferno-flamegraph --title "edge-server, $name (perf cpu-clock, $seconds s)" --width 1600 \
    <"$out/profile-edge-$name.folded" >"$out/flamegraph-edge-$name.svg"
  # µs of edge CPU per delivery, from the run's own row.
  us=$(grep "\"label\":\"$name\"" "${RESULTS:-/dev/null}" 2>/dev/null | tail -n 1 |
       python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r["cpu"]["edge"]["per_1000_deliveries_ms"])' 2>/dev/null || true)
  python3 "$here/profile-summary.py" "$out/profile-edge-$name.folded" ${us:+"$us"} >"$out/profile-edge-$name.md"
  cat "$out/profile-edge-$name.md"
  echo "[profile] $out/flamegraph-edge-$name.svg"
else
  echo "[profile] inferno is not installed (cargo install inferno): no flamegraph; top functions in $out/profile-edge-$name.txt"
fi
rm -f "$data" "$log"
