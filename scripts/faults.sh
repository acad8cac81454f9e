#!/usr/bin/env bash
# faults.sh: the fault suite. Starts the seat map with ./start.sh (RESTART=1, spare ports,
# loopback only), runs `seatfaults` against it under live load (kill -9 of a Redis master,
# a NATS node, a booking service, an edge with viewers through NGINX; a stalled and a slow
# viewer; the waiting room under load; with --cluster, venues' slots moved to other Redis
# masters; with --disk, a full disk under Redis's AOF), stops it, and writes the rows to
# docs/reliability.md.
#
#   scripts/faults.sh                 # one machine, the cluster, the waiting room (~8 min)
#   scripts/faults.sh --single        # one Redis, one NATS, one booking service
#   scripts/faults.sh --cluster       # Redis Cluster 3+3, NATS x3, 2 booking services (and
#                                     # a live resharding: SCENARIOS=reshard for it alone)
#   scripts/faults.sh --queue         # MAX_SHOPPERS=20: admission order and delay
#   scripts/faults.sh --net           # faults of a network between test hosts (network
#                                     # namespaces, root): tests/net/ scenarios, each its verdict,
#                                     # their verdict lines written as the network table of OUT;
#                                     # also the disk and resharding scenarios (tests/net/disk-full.sh,
#                                     # tests/net/reshard.sh: --disk and --cluster, one line each)
#   SCENARIOS=edge-nats-cut scripts/faults.sh --net   # some network scenarios only (not written)
#   scripts/faults.sh --disk          # the disk under Redis's AOF fills: Redis's dir on a
#                                     # tmpfs of DISK_MB MiB (default 32; root), unmounted at exit
#   VIEWERS=300 scripts/faults.sh     # fewer viewers in the edge scenario (default 1000)
#   SCENARIOS=edge,slow scripts/faults.sh --single   # some scenarios only
#   OUT=/tmp/rows.md scripts/faults.sh   # write elsewhere (default docs/reliability.md)
#   JUDGE_SECONDS=20 scripts/faults.sh --disk   # seatjudge beside the scenarios: a booking load
#                                     # on venue "load" for that long, its history judged
#
# Uses release binaries (built here unless BIN_DIR is set). Each topology is bounded by
# FAULTS_TIMEOUT seconds (default 600).
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

topologies=(single cluster queue)
case ${1:-} in
  --single) topologies=(single) ;;
  --cluster) topologies=(cluster) ;;
  --queue) topologies=(queue) ;;
  --net) topologies=(net) ;;
  --disk) topologies=(disk) ;;
  '') ;;
  *) echo "faults: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
OUT=${OUT:-$ROOT/docs/reliability.md}
VIEWERS=${VIEWERS:-1000}
SCENARIOS=${SCENARIOS:-all}
FAULTS_TIMEOUT=${FAULTS_TIMEOUT:-600}

if [[ -z ${BIN_DIR:-} ]]; then
  echo "[faults] building release binaries"
  cargo build --release --bins --quiet
  BIN_DIR="$ROOT/target/release"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

if [[ ${topologies[*]} == net ]]; then
  # Each scenario builds its own test hosts and removes them, even after a failure, and ends with
  # one line "<name>: …; verdict: pass|FAIL: …".
  net_scenarios=(
    tests/net/edge-nats-cut.sh
    tests/net/slow-links.sh
    tests/net/delay-all-links.sh
    tests/net/edge-booking-cut.sh
    tests/net/vanished-clients.sh
    tests/net/nginx-edge-cut.sh
    tests/net/minority-cut.sh
    # On this machine's loopback, as the --disk and --cluster topologies run them, so that one run
    # covers every fault of docs/reliability.md's network section.
    tests/net/disk-full.sh
    tests/net/reshard.sh
  )
  status=0 net_rows=() ran=0
  for scenario in "${net_scenarios[@]}"; do
    name=$(basename "$scenario" .sh)
    [[ $SCENARIOS == all || ,$SCENARIOS, == *",$name,"* ]] || continue
    ran=$((ran + 1))
    echo "[faults] net: $scenario"
    log=$(mktemp /tmp/seatmap-faults-net.XXXXXX)
    rc=0
    BIN_DIR="$BIN_DIR" VIEWERS="$VIEWERS" timeout "$FAULTS_TIMEOUT" "$scenario" 2>&1 | tee "$log" || rc=$?
    verdict=$(grep -E "^$name: .*verdict: " "$log" | tail -n 1 || true)
    rm -f "$log"
    result=pass
    [[ $rc == 0 && $verdict == *"verdict: pass"* ]] || { result=FAIL; status=1; }
    net_rows+=("| \`$scenario\` | ${verdict:-no verdict line (exit $rc)} | $result |")
  done
  ((ran > 0)) || { echo "faults: no network scenario matches SCENARIOS=$SCENARIOS" >&2; exit 2; }
  if [[ $SCENARIOS == all ]]; then
    # The rows go between two marker lines of OUT's hand-written part; the rest is kept.
    begin='<!-- The rows below are written by scripts/faults.sh --net from its last run. -->'
    end='<!-- End of the rows scripts/faults.sh --net writes. -->'
    grep -qxF "$begin" "$OUT" && grep -qxF "$end" "$OUT" || { echo "faults: $OUT has no network-rows markers" >&2; exit 1; }
    table=$(mktemp)
    {
      echo "Last run: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -sr); every scenario's own verdict line."
      echo
      echo "| Scenario | Verdict line | Result |"
      echo "|---|---|---|"
      printf '%s\n' "${net_rows[@]}"
    } >"$table"
    awk -v begin="$begin" -v end="$end" -v table="$table" '
      $0 == begin { print; while ((getline line < table) > 0) print line; skip = 1; next }
      $0 == end { skip = 0 }
      !skip { print }' "$OUT" >"$OUT.new"
    mv "$OUT.new" "$OUT"
    rm -f "$table"
    echo "[faults] wrote the network rows to $OUT"
  fi
  exit "$status"
fi

# stack_start, stack_stop_and_check: ./start.sh in the background, up and down.
source scripts/lib/stack.sh
# The disk topology's tmpfs, unmounted once the stack is down, also after a failure.
DISK_MOUNT=
cleanup() {
  stack_stop
  if [[ -n $DISK_MOUNT ]] && mountpoint -q "$DISK_MOUNT"; then
    umount "$DISK_MOUNT" || umount -l "$DISK_MOUNT"
    echo "[faults] disk: unmounted $DISK_MOUNT"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rows=$(mktemp /tmp/seatmap-faults-rows.XXXXXX)
run_topology() {
  local topology=$1 run_dir secret flag=() extra=() status=0 scenarios=$SCENARIOS
  run_dir=$(mktemp -d /tmp/seatmap-faults.XXXXXX)
  [[ $topology == cluster ]] && flag=(--cluster)
  if [[ $topology == queue ]]; then
    export MAX_SHOPPERS=20 SHOPPING_SECONDS=3
    extra=(--max-shoppers 20 --queue-viewers 200)
    scenarios=queue
  elif [[ $topology == disk ]]; then
    (( EUID == 0 )) || { echo "[faults] disk: mounting a tmpfs needs root" >&2; return 1; }
    # start.sh keeps the one-machine Redis's data in $RUN_DIR/redis.
    DISK_MOUNT="$run_dir/redis"
    mkdir -p "$DISK_MOUNT"
    mount -t tmpfs -o "size=${DISK_MB:-32}m,mode=700" seatmap-faults-disk "$DISK_MOUNT"
    echo "[faults] disk: Redis's dir $DISK_MOUNT is a tmpfs of ${DISK_MB:-32} MiB"
    unset MAX_SHOPPERS SHOPPING_SECONDS
    scenarios=disk
  else
    unset MAX_SHOPPERS SHOPPING_SECONDS
  fi
  secret=$(od -An -tx8 -N16 /dev/urandom | tr -d ' \n')
  # Spare ports, far from the defaults; the cluster uses REDIS_PORT..+5 (+10000 for the bus),
  # NATS_PORT..+2, BOOKING_PORT..+1.
  export RUN_DIR="$run_dir" BIN_DIR RESTART=1 RUST_LOG=warn EDGES=2 HOLD_SECONDS=6 \
    VENUES=main:10x10,rush:26x300,load:20x20 USER_RATE_LIMIT=1000 \
    HTTP_PORT=28680 EDGE_BASE_PORT=23600 BOOKING_PORT=28690 REDIS_PORT=17400 \
    NATS_PORT=24600 NATS_MONITOR_PORT=28610 NATS_CLUSTER_PORT=28620 \
    LIMIT_WS_PER_SEC=2000 LIMIT_WS_BURST=2000 LIMIT_WS_CONN=5000 \
    TOKEN_SECRET="faults-$secret"
  echo "[faults] $topology: starting the stack (logs in $run_dir/logs)"
  if ! stack_start "${flag[@]}"; then
    echo "[faults] $topology: the stack did not come up" >&2; return 1
  fi
  local bookings nats
  if [[ $topology == cluster ]]; then
    bookings="http://127.0.0.1:$BOOKING_PORT,http://127.0.0.1:$((BOOKING_PORT + 1))"
    nats="nats://127.0.0.1:$NATS_PORT,nats://127.0.0.1:$((NATS_PORT + 1)),nats://127.0.0.1:$((NATS_PORT + 2))"
  else
    bookings="http://127.0.0.1:$BOOKING_PORT"
    nats="nats://127.0.0.1:$NATS_PORT"
  fi
  # With JUDGE_SECONDS, seatjudge books venue "load" beside the scenarios for that long and judges
  # the history of its commands and of seats.> (the scenarios reset only their own venues).
  local judge_pid=
  if (( ${JUDGE_SECONDS:-0} > 0 )); then
    "$BIN_DIR/seatjudge" --booking "$bookings" --nats "$nats" --venue load --seconds "$JUDGE_SECONDS" \
      --drain-seconds 15 --out "$run_dir/judge.json" >"$run_dir/judge.txt" 2>&1 &
    judge_pid=$!
  fi
  timeout "$FAULTS_TIMEOUT" "$BIN_DIR/seatfaults" --http "http://127.0.0.1:$HTTP_PORT" \
    --booking "$bookings" --nats "$nats" --redis-port "$REDIS_PORT" "${flag[@]}" \
    --hold-seconds "$HOLD_SECONDS" --viewers "$VIEWERS" --scenarios "$scenarios" \
    --rush rush:26x300 "${extra[@]}" --out "$rows" || status=$?
  if [[ -n $judge_pid ]]; then
    wait "$judge_pid" || status=1
    echo "[faults] $topology: $(grep -m1 '^judge: ' "$run_dir/judge.txt" || echo "judge: verdict FAIL: no verdict line")"
  fi
  echo "[faults] $topology: stopping the stack"
  stack_stop_and_check || status=1
  if [[ -n $DISK_MOUNT ]]; then
    umount "$DISK_MOUNT" || { echo "[faults] disk: could not unmount $DISK_MOUNT" >&2; status=1; }
    DISK_MOUNT=
  fi
  return "$status"
}

overall=0
for topology in "${topologies[@]}"; do
  run_topology "$topology" || overall=1
done

machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(uname -sr)"
# The written-by-hand part of the file (from its marker line on) is kept as it is.
marker='<!-- Everything above is written by scripts/faults.sh; it keeps what follows this line. -->'
kept=$(mktemp)
if [[ -f $OUT ]]; then
  awk -v marker="$marker" 'found || $0 == marker { found = 1; print }' "$OUT" >"$kept"
fi
{
  cat <<HEADER
# Reliability

What happens when a part of the seat map dies, measured by \`scripts/faults.sh\` with
\`seatfaults\` (in \`faults/\`): it starts the stack with \`./start.sh\` (\`RESTART=1\`, so a killed
part is started again), keeps live load on it, kills one part at a time with \`kill -9\` (with
\`--cluster\` it also moves venues' slots to other Redis masters), and checks what a user
would: every booking answered OK is still booked by the same user (a ledger of every OK), no
booking appears that was never answered (phantom), a \`seats.>\` subscriber sees every seq, and
every viewer through NGINX shows the true state again.

Reproduce: \`scripts/faults.sh\` (one machine, the cluster, the waiting room), \`--single\`, \`--cluster\` or
\`--queue\` for one of them; one scenario: \`SCENARIOS=edge scripts/faults.sh --single\`.
The cluster test in the test command (\`edge-server/tests/cluster.rs\`) runs the master-failover
case on every CI run; the outbox tests (\`booking-service/tests/outbox.rs\`) run the booking
service and NATS cases on one machine.

Machine: $machine. Everything (Redis, NATS, the services, NGINX and the load) shares it.
Generated on $(date -u '+%Y-%m-%d %H:%M UTC').
HEADER
  cat "$rows"
  if [[ -s $kept ]]; then echo; cat "$kept"; fi
} >"$OUT.new"
mv "$OUT.new" "$OUT"
rm -f "$rows" "$kept"
echo "[faults] wrote $OUT"
exit "$overall"
