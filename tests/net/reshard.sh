#!/usr/bin/env bash
# Moving venues' slots to another master under a booking burst (scripts/faults.sh --cluster with
# SCENARIOS=reshard: Redis Cluster 3+3 on this machine, seatfaults' reshard scenario by the Redis
# docs' procedure, with its ledger and 200 viewers), printed as one line "reshard: …; verdict: …"
# for scripts/faults.sh --net.
#
# Usage: tests/net/reshard.sh   Environment: BIN_DIR (release binaries; built when unset).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/net/faults-row.sh
faults_row reshard "Moving a venue's slot" SCENARIOS=reshard JUDGE_SECONDS=20 -- --cluster
