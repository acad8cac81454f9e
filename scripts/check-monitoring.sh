#!/usr/bin/env bash
# check-monitoring.sh: the monitoring files without a running stack. promtool accepts
# monitoring/prometheus.yml and alerts.yml, `promtool test rules` passes and has a case that
# fires every alert, the dashboard and targets files are JSON, and docker compose accepts the
# monitoring profiles (where docker compose or docker-compose is installed). The test command
# runs it before the stacks; tests/monitoring/check_prometheus.py asks the live Prometheus.
#
#   scripts/check-monitoring.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '[monitoring] %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
command -v promtool >/dev/null 2>&1 || fail "promtool not found (apt-get install prometheus)"

promtool check config monitoring/prometheus.yml || fail "promtool check config monitoring/prometheus.yml"
promtool check rules monitoring/alerts.yml || fail "promtool check rules monitoring/alerts.yml"
promtool test rules monitoring/tests/alerts.test.yml || fail "promtool test rules monitoring/tests/alerts.test.yml"

# Every alert has a case that expects it to fire (a non-empty exp_alerts under its name).
python3 - monitoring/alerts.yml monitoring/tests/alerts.test.yml <<'PY' || fail "an alert has no test that fires it"
import re, sys
alerts = re.findall(r"^\s*- alert:\s*(\w+)", open(sys.argv[1]).read(), re.M)
tests = open(sys.argv[2]).read()
firing = set(re.findall(r"alertname:\s*(\w+)\s*\n\s*exp_alerts:\s*\n\s*- exp_labels", tests))
missing = [a for a in alerts if a not in firing]
for a in missing:
    print(f"[monitoring] {a}: no case in {sys.argv[2]} expects it to fire")
print(f"[monitoring] {len(alerts)} alerts, each fired by a test")
sys.exit(1 if missing or not alerts else 0)
PY

for f in monitoring/grafana/seatmap.json monitoring/targets/*.json monitoring/compose/*/*.json; do
  python3 -m json.tool "$f" >/dev/null || fail "$f is not JSON"
done
python3 - monitoring/grafana/seatmap.json <<'PY' || fail "monitoring/grafana/seatmap.json"
import json, sys
dashboard = json.load(open(sys.argv[1]))
panels = [p for p in dashboard["panels"] if p["type"] != "row"]
empty = [p["title"] for p in panels if not all(t.get("expr") for t in p.get("targets", [None]))]
for title in empty:
    print(f"[monitoring] panel '{title}' has a target without a query")
print(f"[monitoring] dashboard '{dashboard['title']}': {len(panels)} panels")
sys.exit(1 if empty or not panels else 0)
PY

compose=()
if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then compose=(docker-compose); fi
if (( ${#compose[@]} )); then
  for profiles in single,monitoring cluster,monitoring-cluster; do
    TOKEN_SECRET=check COMPOSE_PROFILES=$profiles "${compose[@]}" -f docker-compose.yml config -q ||
      fail "${compose[*]} config rejects docker-compose.yml with COMPOSE_PROFILES=$profiles"
  done
  say "${compose[*]} config accepts the monitoring profiles"
else
  say "neither docker compose nor docker-compose is installed: the compose profiles were not checked"
fi
say "ok"
