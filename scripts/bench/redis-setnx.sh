#!/usr/bin/env bash
# redis-setnx.sh PORT CONCURRENCY RESULTS REDIS_PID [REQUESTS]: redis-benchmark's SET NX EX on the
# stack's own Redis (same redis.conf: AOF, appendfsync always) at the same concurrency as the API
# run; appends {"kind":"redis_benchmark",…} with throughput, latency and Redis's CPU.
set -euo pipefail
port=$1 conc=$2 results=$3 pid=$4 n=${5:-200000}
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu "$pid"); t0=$(date +%s.%N)
line=$(redis-benchmark -p "$port" -c "$conc" -n "$n" -r 100000000 --csv SET 'bench:__rand_int__' x NX EX 60 2>/dev/null | tail -n 1)
t1=$(date +%s.%N); c1=$(cpu "$pid")
IFS=, read -r _ rps avg min p50 p95 p99 max <<<"$(tr -d '"' <<<"$line")"
cores=$(awk -v c="$((c1 - c0))" -v t="$ticks" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", c / t / (b - a)}')
printf '{"kind":"redis_benchmark","command":"SET key x NX EX 60","concurrency":%s,"requests":%s,"per_second":%s,"latency":{"mean_ms":%s,"p50_ms":%s,"p95_ms":%s,"p99_ms":%s,"max_ms":%s},"redis_cores":%s}\n' \
  "$conc" "$n" "$rps" "$avg" "$p50" "$p95" "$p99" "$max" "$cores" >>"$results"
printf '[redis-benchmark] SET NX EX, %s clients: %s req/s, p50 %s ms, p99 %s ms, max %s ms; redis %s cores\n' "$conc" "$rps" "$p50" "$p99" "$max" "$cores"
