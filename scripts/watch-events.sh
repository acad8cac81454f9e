#!/usr/bin/env bash
# watch-events.sh: print every seat change published on NATS, one line each, like
# `nats sub 'seats.>'` (which it runs when the nats CLI is installed).
#
#   scripts/watch-events.sh                 # NATS at 127.0.0.1:4222
#   NATS_PORT=24222 scripts/watch-events.sh
#   scripts/watch-events.sh 'seats.main.booked'   # only bookings
#
# Without the nats CLI it speaks the NATS text protocol over bash's /dev/tcp: no install needed.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
subject=${1:-seats.>}
host=${NATS_HOST:-127.0.0.1}
port=${NATS_PORT:-4222}
if command -v nats >/dev/null 2>&1; then
  exec nats --server "nats://$host:$port" sub "$subject"
fi
exec 3<>"/dev/tcp/$host/$port" || { echo "watch-events: cannot reach NATS at $host:$port" >&2; exit 1; }
printf 'CONNECT {"verbose":false,"name":"watch-events"}\r\nSUB %s 1\r\n' "$subject" >&3
echo "watch-events: listening on $subject at $host:$port (Ctrl+C to stop)" >&2
current=
while IFS= read -r line <&3; do
  line=${line%$'\r'}
  case $line in
    PING) printf 'PONG\r\n' >&3 ;;
    MSG\ *) set -- $line; current=$2 ;;
    INFO\ * | +OK | PONG) ;;
    -ERR*) echo "watch-events: NATS says $line" >&2 ;;
    *) printf '%s %s\n' "$current" "$line" ;;
  esac
done
echo "watch-events: NATS closed the connection" >&2
