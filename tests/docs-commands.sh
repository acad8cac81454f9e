#!/usr/bin/env bash
# shellcheck disable=SC2016  # the docs' commands are matched as written, $(…) and all
# The curl and websocat commands README.md and DEMO.md show, run as written against a running
# stack, so the docs cannot drift from what the system does. Each fenced ```sh block and each
# inline `curl …` that reaches the API or /ws is taken from the docs as it stands; only
# localhost and .run/ are replaced by the stack's URL and RUN_DIR. Every command must exit 0,
# and its answers must say what the docs say they say (the checks below, one per command).
# A command the docs gain without a check here fails the run, as does a checked one they lose.
# The commands printed by start.sh itself (a new identity, the reset) run too.
#
# Usage: tests/docs-commands.sh http://127.0.0.1:PORT RUN_DIR [--waiting-room]
#   --waiting-room: the stack runs with MAX_SHOPPERS=1 and nothing else in its waiting room;
#                   then only the waiting-room commands (DEMO.md section 7) run.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: tests/docs-commands.sh http://127.0.0.1:PORT RUN_DIR [--waiting-room]}
run_dir=${2:?usage: tests/docs-commands.sh http://127.0.0.1:PORT RUN_DIR [--waiting-room]}
room=0
[[ ${3:-} == --waiting-room ]] && room=1
hostport=${base#http://}
unset RUST_LOG   # websocat would log its own internals at info
for p in curl websocat; do command -v "$p" >/dev/null || { echo "docs: $p is not installed" >&2; exit 1; }; done
work=$(mktemp -d /tmp/seatmap-docs.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0
ok() { echo "ok   - $1"; passed=$((passed + 1)); }
fail() { echo "FAIL - $1"; failed=$((failed + 1)); }

# ---------------------------------------------------------------- the commands in the docs
# blocks FILE: every fenced ```sh block of FILE as "FILE:LINE<TAB>text", its lines joined by
# the ASCII unit separator (0x1f).
blocks() {
  awk -v f="$1" '
    /^```sh$/ { inside = 1; line = NR + 1; text = ""; next }
    /^```/ && inside { inside = 0; gsub(/\t/, " ", text); printf "%s:%d\t%s\n", f, line, text; next }
    inside { text = text (text == "" ? "" : "\037") $0 }
  ' "$1"
}
# inline FILE: every inline `curl …` span of FILE (prose and tables).
inline() {
  grep -n -o '`curl [^`]*`' "$1" | sed -E "s|^([0-9]+):\`(.*)\`$|$1:\\1\t\\2|"
}
# Only what reaches the API or /ws of the running system.
{ blocks README.md; blocks DEMO.md; inline README.md; inline DEMO.md; } |
  grep -E $'\t.*(curl|websocat) .*localhost' >"$work/commands" || true

# as_run TEXT: the command with this stack's address and run dir.
as_run() {
  local text=$1
  text=${text//http:\/\/localhost/http://$hostport}
  text=${text//ws:\/\/localhost/ws://$hostport}
  text=${text// localhost\// $hostport/}
  text=${text//.run\//$run_dir/}
  printf '%s' "$text"
}
# run NAME TEXT [INPUT-FILE]: runs TEXT with bash (20 s at most), its output in $work/NAME.out.
# With INPUT-FILE its lines are typed in, and the input stays open 1.5 s longer for the answers.
run() {
  local name=$1 text=$2 input=${3:-} rc=0
  printf '%s\n' "$text" >"$work/$name.sh"
  if [[ -n $input ]]; then
    { cat "$input"; sleep 1.5; } | timeout 20 bash -o pipefail "$work/$name.sh" >"$work/$name.out" 2>&1 || rc=$?
  else
    timeout 20 bash -o pipefail "$work/$name.sh" </dev/null >"$work/$name.out" 2>&1 || rc=$?
  fi
  if (( rc != 0 )); then
    fail "$name exits 0 (status $rc): $(head -c 300 "$work/$name.out")"
    return 1
  fi
}
has() { grep -qE -- "$2" "$work/$1.out"; }    # has NAME REGEX: NAME's output matches
expect() { # expect NAME DESCRIPTION REGEX...: every REGEX is in NAME's output
  local name=$1 what=$2 re
  shift 2
  for re in "$@"; do
    has "$name" "$re" || { fail "$what: no /$re/ in: $(head -c 400 "$work/$name.out")"; return; }
  done
  ok "$what"
}

# The checks, by the command's first line; each is run only where the docs show it.
declare -A seen=()
check_command() { # check_command WHERE TEXT
  local where=$1 text first
  text=${2//$'\x1f'/$'\n'}
  first=${text%%$'\n'*}
  case $first in
    'curl localhost/health')
      (( room )) && return 0
      run health "$(as_run "$text")" &&
        expect health "$where: curl localhost/health answers the booking service's health" '"status":"ok"' ;;
    'curl -X POST -H "Authorization: Bearer $(cat .run/admin_token)" localhost/api/admin/reset' | \
    'curl -s -X POST -H "Authorization: Bearer $(cat .run/admin_token)" http://localhost/api/admin/reset; echo')
      (( room )) && return 0
      run "reset-${where##*:}" "$(as_run "$text")" &&
        expect "reset-${where##*:}" "$where: the admin reset with .run/admin_token answers ok" '"ok":true' ;;
    'websocat ws://localhost/ws')
      (( room )) && return 0
      # What DEMO.md section 5 has the reader type, taken from the blocks that follow it.
      awk 'f && /^\{"type"/ { print } /^websocat ws:\/\/localhost\/ws$/ { f = 1 } /^## 6/ { f = 0 }' DEMO.md >"$work/typed"
      [[ $(wc -l <"$work/typed") -ge 2 ]] || { fail "$where: the lines DEMO.md has the reader type"; return; }
      run websocat "$(as_run "$text")" "$work/typed" &&
        expect websocat "$where: websocat gets WELCOME and VENUE_STATE; SELECT_SEAT B2 is OK and B2's SEAT_UPDATE arrives; Z99 answers ERROR UNKNOWN_SEAT" \
          '^\{"type":"WELCOME".*"user_id":"u-' '"type":"VENUE_STATE"' \
          '"type":"OK","data":\{"req_id":"1","action":"select","seat_id":"B2"' \
          '"type":"SEAT_UPDATE".*"seat_id":"B2","status":1' '"type":"ERROR".*"code":"UNKNOWN_SEAT"' ;;
    'curl -s -X POST http://localhost/api/session; echo')
      (( room )) && return 0
      run session "$(as_run "$text")" &&
        expect session "$where: POST /api/session answers {\"token\":\"v1.…\",\"user_id\":\"u-…\"}" \
          '^\{"token":"v1\.[^"]+","user_id":"u-[0-9a-f]+"\}$' ;;
    "token() { curl -s -X POST http://localhost/api/session | sed -E 's/.*\"token\":\"([^\"]+)\".*/\\1/'; }")
      (( room )) && return 0
      run two-people "$(as_run "$text")" || return 0
      expect two-people "$where: the venue reads as JSON; Alice selects and books C3 (status 2); Bob's select answers SEAT_BOOKED" \
        '^\{"venue":"main"' '^\{"ok":true,"seat":\{"id":"C3",[^}]*"status":1,' '^\{"ok":true,"seat":\{"id":"C3",[^}]*"status":2[,}]' \
        '\{"ok":false,"error":\{"code":"SEAT_BOOKED","message":"C3 is already booked"\}\}' ;;
    "join() { curl -s -X POST http://localhost/api/queue/join -H 'Content-Type: application/json' \\")
      (( room )) || return 0
      # DEMO.md says to use section 6's token and seat helpers with it.
      local helpers
      # The function definitions of section 6's block (a definition may go on over lines ending in \).
      helpers=$(grep -m1 $'\ttoken() {' "$work/commands" | cut -f2 | tr '\037' '\n' |
        awk '/^[a-z]+\(\) \{/ { f = 1 } f { print } f && !/\\$/ { f = 0 }')
      run waiting-room "$(as_run "$helpers"$'\n'"$text")" || return 0
      # The answers in the order of the block's comments: admitted, places 1 and 2, NOT_ADMITTED,
      # (Alice books), after 11 s Bob admitted and Carol at place 1.
      awk '/"state"|"error"/' "$work/waiting-room.out" >"$work/waiting-room.answers"
      local want=('"state":"admitted"' '"state":"waiting".*"position":1,' '"state":"waiting".*"position":2,'
                  '"code":"NOT_ADMITTED"' '"state":"admitted"' '"state":"waiting".*"position":1,')
      local i=0 line good=1
      while IFS= read -r line; do
        [[ $line == *'"ok":true'* ]] && continue
        if (( i >= ${#want[@]} )) || ! [[ $line =~ ${want[i]} ]]; then good=0; break; fi
        i=$((i + 1))
      done <"$work/waiting-room.answers"
      if (( good && i == ${#want[@]} )); then
        ok "$where: the waiting room with curl answers as the comments say (admitted, places 1 and 2, NOT_ADMITTED, then Bob admitted and Carol at 1)"
      else
        fail "$where: the waiting room answers, in order, ${want[*]}; got: $(cat "$work/waiting-room.out")"
      fi ;;
    *) fail "$where: a command the docs show has no check in tests/docs-commands.sh: $first"; return ;;
  esac
  seen[$first]=1
}

while IFS=$'\t' read -r where text; do
  check_command "$where" "$text"
done <"$work/commands"

# What start.sh prints for people to copy (DEMO.md section 1 shows the reset line).
if (( ! room )); then
  for what in 'A new identity' 'Reset the demo'; do
    line=$(grep -m1 "^  $what:" "$run_dir/start.out" | sed -E "s/^  $what: +//; s/   \(.*//")
    name=printed-${what// /-}
    run "$name" "${line//localhost:/127.0.0.1:}; echo" &&
      expect "$name" "start.sh's printed '$what' command works" \
        "$([[ $what == Reset* ]] && echo '"ok":true' || echo '"token":"v1\.')"
  done
fi

# Every command the checks expect is still in the docs.
if (( room )); then expected=1; else expected=6; fi
if (( ${#seen[@]} != expected )); then
  fail "the docs show $expected checked command(s) here, found ${#seen[@]}: ${!seen[*]}"
fi
echo "docs: $passed passed, $failed failed"
exit $((failed > 0))
