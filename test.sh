#!/usr/bin/env bash
# Runs every test of the project against real servers. Installs what is missing (Debian).
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'USAGE'
Usage: ./test.sh [--help]

Runs every test: formatting and clippy, the Rust unit and integration tests (each test starts
its own redis-server and nats-server on free ports in a temporary directory), then the browser
tests in headless Chromium against the whole stack started by ./start.sh behind NGINX.

Installs missing programs with apt-get (redis-server, nats-server, nginx, chromium, nodejs, npm)
and the browser test dependencies with npm. Fails loudly when something cannot be installed.
USAGE
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  "") ;;
  *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
esac

step() { printf '\n[test] %s\n' "$*"; }
die() { printf '[test] FAILED: %s\n' "$*" >&2; exit 1; }

# --- what the tests need -----------------------------------------------------------------
need_packages=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have redis-server || need_packages+=(redis-server)
have nats-server || need_packages+=(nats-server)
have nginx || need_packages+=(nginx)
have curl || need_packages+=(curl)
have chromium || need_packages+=(chromium)
have node || need_packages+=(nodejs)
have npm || need_packages+=(npm)
if ((${#need_packages[@]})); then
  step "installing ${need_packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo_cmd=(); elif have sudo; then sudo_cmd=(sudo); else
    die "missing ${need_packages[*]} and not root: install them with apt-get"; fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed"
  "${sudo_cmd[@]}" apt-get install -y -qq "${need_packages[@]}" >/dev/null || die "apt-get install ${need_packages[*]} failed"
fi
export PATH="$PATH:/usr/sbin"
results=$(mktemp -d /tmp/seatmap-results.XXXXXX)
have cargo || die "cargo is not installed (https://rustup.rs)"

# --- Rust ----------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check || die "code is not formatted: run cargo fmt --all"
step "cargo clippy (the one build that tests and tools share)"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test --workspace"
cargo test --workspace --locked 2>&1 | tee "$results/cargo.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "cargo test failed"

# --- the whole stack: websocat session and browser tests through NGINX -----------------
if ! have websocat; then
  step "installing websocat (cargo install, about a minute)"
  cargo install websocat --locked --version 1.14.1 --no-default-features --quiet || die "cargo install websocat failed"
fi
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

taken=" "
free_port() { # a free loopback port (and, with an argument n, n consecutive ones)
  # Below Linux's ephemeral range (32768+), so no outgoing connection can take it meanwhile.
  local n=${1:-1} p i ok
  while :; do
    p=$((20000 + RANDOM % 12000)); ok=1
    for ((i = 0; i < n; i++)); do
      if [[ $taken == *" $((p + i)) "* ]] || (exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null; then ok=0; break; fi
    done
    if ((ok)); then for ((i = 0; i < n; i++)); do taken+="$((p + i)) "; done; echo "$p"; return; fi
  done
}
stack_dir=$(mktemp -d /tmp/seatmap-test.XXXXXX)
export RUN_DIR="$stack_dir" BIN_DIR="$PWD/target/debug" HOLD_SECONDS=4 RUST_LOG=info \
  ADMIN_TOKEN="test-admin-$RANDOM$RANDOM" EDGES=2 \
  HTTP_PORT=$(free_port) EDGE_BASE_PORT=$(free_port 2) BOOKING_PORT=$(free_port) \
  REDIS_PORT=$(free_port) NATS_PORT=$(free_port) NATS_MONITOR_PORT=$(free_port)
step "starting the whole stack with ./start.sh (NGINX on $HTTP_PORT, logs in $RUN_DIR/logs)"
./start.sh </dev/null >"$stack_dir/start.out" 2>&1 &
start_pid=$!
stop_stack() {
  if kill -0 "$start_pid" 2>/dev/null; then
    kill -TERM "$start_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$start_pid" 2>/dev/null || break; sleep 0.2; done
  fi
}
trap stop_stack EXIT
for _ in $(seq 1 600); do
  grep -q "the seat map is up" "$stack_dir/start.out" && break
  kill -0 "$start_pid" 2>/dev/null || { cat "$stack_dir/start.out"; die "start.sh exited before the stack was up"; }
  sleep 0.2
done
grep -q "the seat map is up" "$stack_dir/start.out" || { cat "$stack_dir/start.out"; die "the stack did not come up in 120 s"; }

step "websocat session through NGINX"
tests/websocat-session.sh "ws://127.0.0.1:$HTTP_PORT/ws" | tee "$results/websocat.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "websocat session failed"

step "browser tests (headless Chromium through NGINX, two browser contexts)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
chromium_path=$(command -v chromium || echo /usr/bin/chromium)
(
  cd tests/browser
  SEATMAP_URL="http://127.0.0.1:$HTTP_PORT" SEATMAP_ADMIN_TOKEN="$ADMIN_TOKEN" \
    SEATMAP_HOLD_SECONDS="$HOLD_SECONDS" SEATMAP_KILL_EDGE="$PWD/../../scripts/kill-edge.sh" \
    SEATMAP_SCREENSHOT_DIR="$PWD/artifacts" CHROMIUM_PATH="$chromium_path" \
    node --test --test-concurrency=1 --test-reporter=spec seatmap.test.mjs
) 2>&1 | tee "$results/browser.txt"
[ "${PIPESTATUS[0]}" -eq 0 ] || { tail -n 30 "$RUN_DIR"/logs/*.log; die "browser tests failed"; }

step "stopping the stack (Ctrl+C equivalent) and checking nothing is left behind"
pids=$(cat "$RUN_DIR"/pids/*.pid 2>/dev/null || true)
stop_stack
trap - EXIT
kill -0 "$start_pid" 2>/dev/null && die "start.sh did not stop on SIGTERM"
for pid in $pids; do
  kill -0 "$pid" 2>/dev/null && die "process $pid was left running after start.sh stopped"
done
echo "[test] start.sh stopped every process it started"

# --- summary -----------------------------------------------------------------------------
rust_passed=$(grep -oE '^test result: ok\. [0-9]+ passed' "$results/cargo.txt" | awk '{s += $4} END {print s + 0}')
browser_passed=$(awk '$2 == "pass" && $3 ~ /^[0-9]+$/ {n = $3} END {print n + 0}' "$results/browser.txt")
websocat_passed=$(grep -oE '^websocat: [0-9]+ passed' "$results/websocat.txt" | awk '{print $2}')
total=$((rust_passed + ${browser_passed:-0} + ${websocat_passed:-0}))
printf '\n[test] rust %s, websocat %s, browser %s\n' "$rust_passed" "${websocat_passed:-0}" "${browser_passed:-0}"
echo "all: $total passed, 0 failed"
