#!/usr/bin/env bash
# crowd.sh: simulated fans on a running seat map, for demos and for a quick look at a stack under
# human-paced use. Each fan connects straight to an edge from a 127.0.0.x address of its own
# (so NGINX's per-IP limits stay as shipped for real visitors), looks for a while, holds a free
# seat (or a few at once, or the best block available), then books each, releases it or lets the
# hold lapse; it waits its turn when the waiting room is on. Progress every 5 s; Ctrl+C stops it.
#
# Usage: scripts/crowd.sh [FANS] [VENUE] [seatbench crowd options, e.g. --seconds 60 --pace-ms 500-2000]
#        scripts/crowd.sh --help
#
# FANS defaults to 50 and VENUE to main (the arena: scripts/crowd.sh 50 arena). The edges are
# EDGES (2) edges from EDGE_BASE_PORT (3000), as ./start.sh runs them. seatbench is taken from
# SEATBENCH, else target/release or target/debug, else built (cargo build -p loadgen).
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fans=50 venue=main
if [[ ${1:-} =~ ^[0-9]+$ ]]; then fans=$1; shift; fi
if [[ -n ${1:-} && ${1:0:1} != - ]]; then venue=$1; shift; fi
edges=${EDGES:-2} base=${EDGE_BASE_PORT:-3000} urls=
for (( i = 0; i < edges; i++ )); do urls+="${urls:+,}ws://127.0.0.1:$((base + i))/ws"; done
seatbench=${SEATBENCH:-}
for candidate in "$ROOT/target/release/seatbench" "$ROOT/target/debug/seatbench"; do
  [[ -n $seatbench ]] && break
  [[ -x $candidate ]] && seatbench=$candidate
done
if [[ -z $seatbench ]]; then
  echo "[crowd] building seatbench (cargo build -p loadgen)" >&2
  (cd "$ROOT" && cargo build --quiet -p loadgen --bin seatbench)
  seatbench="$ROOT/target/debug/seatbench"
fi
exec "$seatbench" crowd --fans "$fans" --venue "$venue" --urls "$urls" "$@"
