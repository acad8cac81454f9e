#!/usr/bin/env bash
# redis-cmdstats.sh PORT RESULTS LABEL: appends Redis's INFO commandstats (calls and µs per
# command since the last CONFIG RESETSTAT) as one JSON line {"kind":"redis_cmdstats",…}.
set -euo pipefail
port=$1 results=$2 label=$3
json=$(redis-cli -p "$port" INFO commandstats | tr -d '\r' | awk -F'[:,=]' '/^cmdstat_/ {
  name = substr($1, 9); printf "%s\"%s\":{\"calls\":%s,\"usec\":%s}", sep, name, $3, $5; sep = "," }')
printf '{"kind":"redis_cmdstats","label":"%s","commands":{%s}}\n' "$label" "$json" >>"$results"
