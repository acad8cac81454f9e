#!/usr/bin/env bash
# The disk under Redis's AOF fills, then space is freed (scripts/faults.sh --disk: the one-machine
# stack with Redis's dir on a small tmpfs, seatfaults' disk scenario with its ledger), printed as
# one line "disk-full: …; verdict: …" for scripts/faults.sh --net. Root (the tmpfs).
#
# Usage: tests/net/disk-full.sh   Environment: BIN_DIR (release binaries; built when unset).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/net/faults-row.sh
faults_row disk-full "The disk under Redis's AOF fills" JUDGE_SECONDS=25 -- --disk
