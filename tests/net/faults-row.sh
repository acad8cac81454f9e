# shellcheck shell=bash
# Sourced by tests/net/disk-full.sh and tests/net/reshard.sh: runs one scripts/faults.sh topology
# (on this machine's loopback, not on test hosts) with its rows written to a file of its own, and
# prints its row and seatjudge's verdict (JUDGE_SECONDS: its load on venue "load" beside the
# scenario) as one line "<name>: <what was observed>; <figures>; judge: …; verdict: pass|FAIL",
# the form every scenario of scripts/faults.sh --net ends with.
#
#   faults_row NAME ROW_PREFIX [VAR=value…] -- FAULTS_ARGS…
faults_row() {
  local name=$1 prefix=$2 settings=() out log rc=0 row judge observed figures result
  shift 2
  while [[ $# -gt 0 && $1 != -- ]]; do settings+=("$1"); shift; done
  shift
  out=$(mktemp /tmp/seatmap-faults-row.XXXXXX)
  log=$(mktemp /tmp/seatmap-faults-log.XXXXXX)
  env SCENARIOS=all "${settings[@]}" OUT="$out" scripts/faults.sh "$@" 2>&1 | tee "$log" || rc=$?
  row=$(grep -m1 -F "| $prefix" "$out" || true)
  judge=$(grep -m1 -oE 'judge: verdict .*' "$log" || echo "judge: verdict FAIL: no verdict line")
  rm -f "$out" "$log"
  if [[ -z $row ]]; then
    echo "$name: no row from scripts/faults.sh $* (exit $rc); verdict: FAIL: no row"
    return 1
  fi
  # | Scenario | What was done | What was observed | Figures | Result |
  observed=$(awk -F ' [|] ' '{print $3}' <<<"$row")
  figures=$(awk -F ' [|] ' '{print $4}' <<<"$row")
  result=$(awk -F ' [|] ' '{print $5}' <<<"$row" | sed 's/ *|$//')
  [[ $rc == 0 && $result == pass && $judge == "judge: verdict pass"* ]] ||
    { echo "$name: $observed; $figures; $judge; verdict: FAIL: ${result:-exit $rc}, exit $rc"; return 1; }
  echo "$name: $observed; $figures; $judge; verdict: pass"
}
