#!/usr/bin/env bash
# A scripted websocat session, as an operator would run it by hand: one connection selects a
# seat, a second connection (through the same URL, possibly another edge) sees the update.
# Usage: tests/websocat-session.sh ws://127.0.0.1:PORT/ws [SEAT]
set -euo pipefail
ws="${1:?usage: tests/websocat-session.sh ws://host:port/ws [seat]}"
seat="${2:-J1}"
unset RUST_LOG # websocat would log its own internals at info
command -v websocat >/dev/null || { echo "websocat is not installed (./test.sh installs it)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The watcher listens for 4 seconds.
(sleep 4) | websocat --text "$ws" >"$out/watcher.txt" &
watcher=$!
sleep 1
# The actor sends one command and stays a second for the answer.
{ printf '{"type":"SELECT_SEAT","data":{"seat_id":"%s","req_id":"ws-1"}}\n' "$seat"; sleep 1; } \
  | websocat --text "$ws" >"$out/actor.txt"
wait "$watcher"

failed=0
check() { # description, command...
  if "${@:2}"; then echo "ok   - $1"; else echo "FAIL - $1"; failed=$((failed + 1)); fi
}
actor_id=$(grep -o '"user_id":"u-[0-9a-f]*"' "$out/actor.txt" | head -n1 | cut -d'"' -f4)
check "the actor gets WELCOME then VENUE_STATE" \
  bash -c "head -n1 '$out/actor.txt' | grep -q '\"type\":\"WELCOME\"' && sed -n 2p '$out/actor.txt' | grep -q '\"type\":\"VENUE_STATE\"'"
check "the actor's SELECT_SEAT $seat is answered OK with its req_id" \
  grep -q "\"type\":\"OK\".*\"req_id\":\"ws-1\".*\"seat_id\":\"$seat\"" "$out/actor.txt"
check "the watcher sees SEAT_UPDATE $seat held by the actor ($actor_id)" \
  grep -q "\"type\":\"SEAT_UPDATE\".*\"seat_id\":\"$seat\",\"status\":1,\"held_by\":\"$actor_id\"" "$out/watcher.txt"
if ((failed)); then
  echo "--- actor"; cat "$out/actor.txt"; echo "--- watcher"; cat "$out/watcher.txt"
fi
echo "websocat: $((3 - failed)) passed, $failed failed"
exit $((failed > 0))
