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
if ((${#need_packages[@]})); then
  step "installing ${need_packages[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo_cmd=(); elif have sudo; then sudo_cmd=(sudo); else
    die "missing ${need_packages[*]} and not root: install them with apt-get"; fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed"
  "${sudo_cmd[@]}" apt-get install -y -qq "${need_packages[@]}" >/dev/null || die "apt-get install ${need_packages[*]} failed"
fi
export PATH="$PATH:/usr/sbin"
have cargo || die "cargo is not installed (https://rustup.rs)"

# --- Rust ----------------------------------------------------------------------------------
step "cargo fmt --check"
cargo fmt --all -- --check || die "code is not formatted: run cargo fmt --all"
step "cargo clippy (the one build that tests and tools share)"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test --workspace"
cargo test --workspace --locked
