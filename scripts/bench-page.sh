#!/usr/bin/env bash
# The page's browser benchmark: starts a stack with ./start.sh (free ports, its own RUN_DIR, holds
# of an hour so nothing expires under the measurement, per-user limits lifted), then
# scripts/bench-page.mjs in headless Chromium on the arena chart and the 10x10 grid, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/bench-page.sh [--help]

Measures the page in headless Chromium, on the arena (11,888 seats, drawn on a canvas) and on the
10x10 grid (buttons), against one stack from ./start.sh:
  - time until every seat is drawn: performance.mark('seatmap:drawn') after navigation, RUNS loads;
  - change-to-page latency: a change made through the booking API until the page has painted it,
    LATENCY_CHANGES changes 100 ms apart;
  - RATE changes a second for SECONDS: main-thread time per update (its message handler plus its
    share of the next frame's work), p50/p99, and long tasks (over 50 ms);
  - the JS heap after a garbage collection.
Prints the figures as JSON and writes them to OUT.

Environment: BIN_DIR (booking-service and edge-server; default: target/release, built with cargo
build --release when missing), RUNS (3), SECONDS (60), RATE (50), LATENCY_CHANGES (100), PAGE_VENUES
(arena,main), OUT (default /tmp/seatmap-bench-page/results.json), CHROMIUM_PATH.
USAGE
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

say() { printf '[bench-page] %s\n' "$*" >&2; }
export PATH="$PATH:/usr/sbin"

if [[ -z ${BIN_DIR:-} ]]; then
  BIN_DIR="$PWD/target/release"
  if [[ ! -x $BIN_DIR/booking-service || ! -x $BIN_DIR/edge-server ]]; then
    say "building the release binaries"
    cargo build --release --bins --locked
  fi
fi
BIN_DIR=$(cd "$BIN_DIR" && pwd)
CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}
[[ -d tests/browser/node_modules/playwright-core ]] ||
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

source scripts/free-port.sh
source scripts/lib/stack.sh
RUN_DIR=$(mktemp -d /tmp/seatmap-bench-page.XXXXXX)
chmod 755 "$RUN_DIR"
HTTP_PORT=$(free_port) BOOKING_PORT=$(free_port)
trap stack_stop EXIT
say "starting the stack (NGINX on $HTTP_PORT, logs in $RUN_DIR/logs)"
stack_start RUN_DIR="$RUN_DIR" BIN_DIR="$BIN_DIR" HOLD_SECONDS=3600 MAX_HOLDS_PER_USER=1000 \
  USER_RATE_LIMIT=1000 EDGES=2 RUST_LOG=warn ADMIN_TOKEN="bench-$RANDOM$RANDOM" \
  HTTP_PORT="$HTTP_PORT" EDGE_BASE_PORT="$(free_port 2)" BOOKING_PORT="$BOOKING_PORT" \
  REDIS_PORT="$(free_port)" NATS_PORT="$(free_port)" NATS_MONITOR_PORT="$(free_port)" ||
  { say "the stack did not come up"; exit 1; }

OUT=${OUT:-/tmp/seatmap-bench-page/results.json}
mkdir -p "$(dirname "$OUT")"
SEATMAP_URL="http://127.0.0.1:$HTTP_PORT" BOOKING_URL="http://127.0.0.1:$BOOKING_PORT" \
  CHROMIUM_PATH="$CHROMIUM_PATH" OUT="$OUT" node scripts/bench-page.mjs
say "figures in $OUT"
