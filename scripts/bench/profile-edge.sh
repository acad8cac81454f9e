#!/usr/bin/env bash
# profile-edge.sh NAME EDGE_PID OUT SECONDS -- SEATBENCH-FANOUT-COMMAND…
# Runs the fan-out command (its --label must be NAME); once its viewers are ready and the changes
# flow, profiles the edge for SECONDS (profile-pid.sh, files named edge-NAME) and counts its system
# calls over the same seconds (RESULTS=file to keep them); then splits the profile into where the
# time goes per delivery (OUT/profile-edge-NAME.md).
set -euo pipefail
name=$1 pid=$2 out=$3 seconds=$4; shift 4
[[ ${1:-} == -- ]] && shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log=$(mktemp /tmp/seatmap-profile.XXXXXX)
"$@" >"$log" 2>&1 &
load=$!
until grep -q ' ready, ' "$log"; do
  kill -0 "$load" 2>/dev/null || { cat "$log"; echo "[profile] the load ended before its viewers were ready"; exit 1; }
  sleep 0.2
done
sleep 1.5   # seatbench settles for 1 s, then the changes start
"$here/syscalls.sh" "$name" edge "$pid" "$seconds" "${RESULTS:-/dev/null}" &
counting=$!
"$here/profile-pid.sh" "edge-$name" "$pid" "$seconds" "$out"
wait "$load" || true
wait "$counting" || true
cat "$log"
rm -f "$log"
if [[ -f $out/profile-edge-$name.folded ]]; then
  # µs of edge CPU per delivery, from the run's own row.
  us=$(python3 -c 'import json,sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print([r for r in rows if r.get("kind") == "fanout" and r["label"] == sys.argv[2]][-1]["cpu"]["edge"]["per_1000_deliveries_ms"])' \
       "${RESULTS:-/dev/null}" "$name" 2>/dev/null || true)
  python3 "$here/profile-summary.py" "$out/profile-edge-$name.folded" ${us:+"$us"} >"$out/profile-edge-$name.md"
  cat "$out/profile-edge-$name.md"
fi
