#!/usr/bin/env bash
# profile-pid.sh NAME PID SECONDS OUT [US_PER_UNIT]: samples a running process with perf
# (cpu-clock, 2999 Hz, DWARF call graphs) for SECONDS and writes, in OUT:
#   flamegraph-NAME.svg   the flamegraph (inferno, when installed)
#   profile-NAME.folded   collapsed stacks
#   profile-NAME.txt      top functions by self time
# and, for edges (NAME starting with "edge"), profile-NAME.md: where the time goes per delivery
# (profile-summary.py; US_PER_UNIT = the edge's CPU µs per delivery).
set -euo pipefail
name=$1 pid=$2 seconds=$3 out=$4 per=${5:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v perf >/dev/null 2>&1 || { echo "[profile] perf is not installed (apt-get install linux-perf)"; exit 0; }
data=$(mktemp /tmp/seatmap-perf.XXXXXX)
perf record -q -e cpu-clock -F 2999 --call-graph dwarf,8192 -m 64M -p "$pid" -o "$data" -- sleep "$seconds" >/dev/null 2>&1 || true
perf report -i "$data" --stdio --no-children --sort symbol -g none --percent-limit 0.5 2>/dev/null |
  grep -v '^#' | sed -e 's/ *$//' -e '/^$/d' >"$out/profile-$name.txt" || true
PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if command -v inferno-collapse-perf >/dev/null 2>&1; then
  perf script -i "$data" 2>/dev/null | inferno-collapse-perf >"$out/profile-$name.folded"
  inferno-flamegraph --title "$name (perf cpu-clock, $seconds s)" --width 1600 \
    <"$out/profile-$name.folded" >"$out/flamegraph-$name.svg"
  echo "[profile] $out/flamegraph-$name.svg ($(awk '{n += $NF} END {print n}' "$out/profile-$name.folded") ns sampled)"
else
  echo "[profile] inferno is not installed (cargo install inferno): no flamegraph; top functions in $out/profile-$name.txt"
fi
rm -f "$data"
