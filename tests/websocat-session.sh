#!/usr/bin/env bash
# A scripted websocat session, as an operator would run it by hand: get an identity from
# POST /api/session, take it on in a WebSocket with CONNECT, select a seat; a second
# connection (through the same URL, possibly another edge) sees the update.
# Usage: tests/websocat-session.sh ws://127.0.0.1:PORT/ws [SEAT]
set -euo pipefail
ws="${1:?usage: tests/websocat-session.sh ws://host:port/ws [seat]}"
seat="${2:-J1}"
unset RUST_LOG # websocat would log its own internals at info
command -v websocat >/dev/null || { echo "websocat is not installed (./test.sh installs it)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# The identity, issued by the system (ws://host/ws -> http://host/api/session).
http="${ws/#ws:/http:}"; http="${http/#wss:/https:}"; http="${http%/ws}"
curl -sS --max-time 5 -X POST "$http/api/session" >"$out/session.json"
token=$(sed -n 's/.*"token":"\([A-Za-z0-9_.-]*\)".*/\1/p' "$out/session.json")
user=$(sed -n 's/.*"user_id":"\(u-[0-9a-f]*\)".*/\1/p' "$out/session.json")

# The watcher listens for 4 seconds.
(sleep 4) | websocat --text "$ws" >"$out/watcher.txt" &
watcher=$!
sleep 1
# The actor takes on the identity, sends one command and stays a second for the answer.
{
  printf '{"type":"CONNECT","data":{"token":"%s","venue":"main"}}\n' "$token"
  sleep 0.5
  printf '{"type":"SELECT_SEAT","data":{"seat_id":"%s","req_id":"ws-1"}}\n' "$seat"
  sleep 1
} | websocat --text "$ws" >"$out/actor.txt"
wait "$watcher"

failed=0 passed=0
check() { # description, command...
  if "${@:2}"; then echo "ok   - $1"; passed=$((passed + 1)); else echo "FAIL - $1"; failed=$((failed + 1)); fi
}
check "POST /api/session issues a token and its user id" \
  test -n "$token" -a -n "$user"
check "the actor is greeted with WELCOME first, and gets a VENUE_STATE" \
  bash -c "head -n1 '$out/actor.txt' | grep -q '\"type\":\"WELCOME\"' && grep -q '\"type\":\"VENUE_STATE\"' '$out/actor.txt'"
check "CONNECT with the session's token is answered WELCOME as $user" \
  grep -q "\"type\":\"WELCOME\".*\"user_id\":\"$user\",\"token\":\"$token\"" "$out/actor.txt"
check "the actor's SELECT_SEAT $seat is answered OK with its req_id, held by $user" \
  grep -q "\"type\":\"OK\".*\"req_id\":\"ws-1\".*\"seat_id\":\"$seat\".*\"held_by\":\"$user\"" "$out/actor.txt"
check "the watcher sees SEAT_UPDATE $seat held by $user" \
  grep -q "\"type\":\"SEAT_UPDATE\".*\"seat_id\":\"$seat\",\"status\":1,\"held_by\":\"$user\"" "$out/watcher.txt"
if ((failed)); then
  echo "--- session"; cat "$out/session.json"; echo
  echo "--- actor"; cut -c1-300 "$out/actor.txt"; echo "--- watcher"; cut -c1-300 "$out/watcher.txt"
fi
echo "websocat: $passed passed, $failed failed"
exit $((failed > 0))
