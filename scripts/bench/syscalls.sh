#!/usr/bin/env bash
# syscalls.sh LABEL NAME PIDS SECONDS RESULTS: counts a process's system calls for SECONDS with
# perf's syscall tracepoints (no ptrace, so the process runs at full speed) and appends one JSON
# line {"kind":"syscalls",…} to RESULTS. PIDS is comma-separated. Prints nothing and writes nothing
# when perf or the tracepoints are unavailable.
set -uo pipefail
label=$1 name=$2 pids=$3 seconds=$4 results=$5
command -v perf >/dev/null 2>&1 || exit 0
events=(fdatasync fsync write writev sendto sendmsg read readv recvfrom recvmsg epoll_wait epoll_pwait futex)
spec=$(printf 'syscalls:sys_enter_%s,' "${events[@]}")
out=$(perf stat -x, -e "${spec%,}" -p "$pids" -- sleep "$seconds" 2>&1 >/dev/null) || exit 0
json=$(printf '%s\n' "$out" | awk -F, '$3 ~ /^syscalls:sys_enter_/ && $1 ~ /^[0-9]+$/ {sub("syscalls:sys_enter_", "", $3); printf "%s\"%s\":%s", sep, $3, $1; sep=","}')
[[ -n $json ]] || exit 0
printf '{"kind":"syscalls","label":"%s","process":"%s","seconds":%s,"counts":{%s}}\n' "$label" "$name" "$seconds" "$json" >>"$results"
