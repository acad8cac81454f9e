#!/usr/bin/env bash
# An edge cut off from the booking service (not from NATS or its viewers): a viewer's seat
# commands over the WebSocket must each be answered ERROR UNAVAILABLE within the edge's booking
# timeout (connect 1 s, whole request 5 s; docs/architecture.md), none left without an answer,
# the socket open; after the heal the next commands succeed. NATS, Redis with the booking service,
# and the edge each run on a test host of their own (scripts/lib/nethosts.sh); the viewer
# (tests/net/commander.mjs) on the bridge. Prints each answer with its time, the page's words for
# UNAVAILABLE (frontend/js/config.js) and one line "edge-booking-cut: … verdict: …"; exits 1 on
# a broken promise.
#
# Usage: tests/net/edge-booking-cut.sh   (as root)
# Environment: BIN_DIR (booking-service and edge-server; default target/debug).
set -euo pipefail
cd "$(dirname "$0")/../.."
# The edge's booking timeout (edge-server/src/booking.rs), and what a busy machine may add to
# it before an answer counts as late.
TIMEOUT_MS=5000 SLACK_MS=1000
source tests/net/common.sh
net_setup edge-booking-cut booking-service edge-server
net_booking HOLD_SECONDS=120
net_edge "http://$core_ip:8080" "nats://$nats_ip:4222"

mkfifo "$work/commands"
node tests/net/commander.mjs "ws://$edge_ip:3000/ws" <"$work/commands" >"$work/answers.txt" 2>"$work/commander.err" &
exec 3>"$work/commands"
wait_for 10 grep -q READY "$work/answers.txt" || { echo "edge-booking-cut: the viewer got no VENUE_STATE" >&2; exit 1; }

# command ACTION SEAT: sends it and waits for its answer (at most 15 s: longer counts as hung);
# sets `answer` ("OK 12", "UNAVAILABLE 4998") or "none".
sent=0
command() {
  sent=$((sent + 1))
  echo "$1 $2" >&3
  if wait_for 15 grep -q " ANSWER r$sent " "$work/answers.txt"; then
    answer=$(sed -nE "s/^[0-9]+ ANSWER r$sent (.*)$/\\1/p" "$work/answers.txt")
  else
    answer=none
  fi
  echo "[edge-booking-cut] $1 $2: ${answer/ / in } ms"
}

broken=()
command SELECT_SEAT A1
[[ $answer == OK* ]] || broken+=("before the cut SELECT_SEAT A1 was answered $answer")

echo "[edge-booking-cut] cutting the edge from the booking service"
nethost_cut edge core
cut_times=()
for step in "SELECT_SEAT A2" "BOOK_SEAT A1" "SELECT_SEAT A3" "RELEASE_SEAT A1" "SELECT_SEAT A4"; do
  # shellcheck disable=SC2086  # ACTION SEAT
  command $step
  code=${answer% *} ms=${answer#* }
  if [[ $code != UNAVAILABLE ]]; then
    broken+=("during the cut $step was answered $answer")
  elif ((ms > TIMEOUT_MS + SLACK_MS)); then
    broken+=("during the cut $step took $ms ms")
  fi
  cut_times+=("$ms")
done

echo "[edge-booking-cut] healing"
nethost_heal edge core
after=()
for step in "BOOK_SEAT A1" "SELECT_SEAT A5"; do
  # shellcheck disable=SC2086
  command $step
  [[ $answer == OK* ]] || broken+=("after the heal $step was answered $answer")
  after+=("${answer#* }")
done
grep -q CLOSED "$work/answers.txt" && broken+=("the viewer's socket closed")

# What the page shows for that code (the same table the page reads).
words=$(node --input-type=module -e "import { ERROR_TEXT } from './frontend/js/config.js'; console.log(ERROR_TEXT.UNAVAILABLE());")
echo "[edge-booking-cut] the page shows ERROR UNAVAILABLE as: \"$words\""

ms_list() { local IFS=, all; all="$*"; echo "${all//,/ ms, }"; }
verdict=pass
((${#broken[@]} == 0)) || verdict="FAIL: $(IFS=';'; echo "${broken[*]}")"
echo "edge-booking-cut: ${#cut_times[@]} commands during the cut answered UNAVAILABLE in $(ms_list "${cut_times[@]}") ms, in the order sent (bound $((TIMEOUT_MS + SLACK_MS)) ms); the ${#after[@]} after the heal OK in $(ms_list "${after[@]}") ms; verdict: $verdict"
[[ $verdict == pass ]] || { tail -n 15 "$work/edge.log" "$work/answers.txt" | cut -c1-300 >&2; exit 1; }
