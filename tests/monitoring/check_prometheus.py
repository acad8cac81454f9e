#!/usr/bin/env python3
"""Asks a running Prometheus (./start.sh --monitoring) what an operator would check first:

- every target the run's targets files name is scraped, and up, after the traffic the tests made;
- every metric a panel of monitoring/grafana/seatmap.json or a loaded alert rule uses has series;
- every one of those expressions evaluates without an error.

Usage: check_prometheus.py PROMETHEUS_URL TARGETS_DIR DASHBOARD_JSON
Standard library only. Exits 1 naming what is wrong.
"""

import json
from datetime import datetime
import re
import sys
import time
import urllib.parse
import urllib.request

# PromQL words that look like metric names but are not.
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on",
            "ignoring", "group_left", "group_right", "le"}
# A scrape every 5 s (monitoring/prometheus.yml): two intervals and a margin for a slow machine.
SCRAPE_WAIT_S = 15


def api(base, path, **params):
    url = f"{base}/api/v1/{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {body}")
    return body["data"]


def metric_names(expr):
    """The metric names an expression reads: what is left once strings, label matchers, ranges,
    grouping clauses and function calls are taken out."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.add(name)
    return names


def dashboard_exprs(path):
    with open(path, encoding="utf-8") as f:
        dashboard = json.load(f)
    exprs = []

    def walk(panels):
        for panel in panels:
            for target in panel.get("targets", []):
                exprs.append((f"panel '{panel.get('title')}'", target["expr"]))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    return exprs


def expected_targets(targets_dir):
    expected = set()
    for name in ("booking.json", "edge.json"):
        with open(f"{targets_dir}/{name}", encoding="utf-8") as f:
            for group in json.load(f):
                expected.update(group["targets"])
    return expected


def check_targets(base, expected, since):
    """Waits for a scrape of every expected target that began after `since`; returns problems."""
    deadline = time.time() + SCRAPE_WAIT_S
    while True:
        active = api(base, "targets", state="active")["activeTargets"]
        by_instance = {t["labels"]["instance"]: t for t in active}
        fresh = {i: t for i, t in by_instance.items()
                 if t["lastScrape"] and parse_time(t["lastScrape"]) > since}
        if set(fresh) >= expected or time.time() > deadline:
            break
        time.sleep(0.5)
    problems = []
    for instance in sorted(expected - set(by_instance)):
        problems.append(f"target {instance} is not among Prometheus's targets")
    for instance in sorted(expected & set(by_instance)):
        target = by_instance[instance]
        if instance not in fresh:
            problems.append(f"target {instance} not scraped in the {SCRAPE_WAIT_S} s after the traffic")
        elif target["health"] != "up":
            problems.append(f"target {instance} ({target['labels'].get('part')}) is {target['health']}: {target['lastError']}")
    for instance in sorted(set(by_instance) - expected):
        problems.append(f"target {instance} is scraped but no targets file names it")
    return problems


def parse_time(stamp):
    """Unix seconds of an RFC 3339 time such as 2026-12-06T04:55:10.971048988Z."""
    match = re.fullmatch(r"([^.Z]+)(\.\d+)?Z", stamp)
    fraction = (match.group(2) or ".0")[:7]
    return datetime.fromisoformat(f"{match.group(1)}{fraction}+00:00").timestamp()


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, targets_dir, dashboard = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    since = time.time()
    problems = check_targets(base, expected_targets(targets_dir), since)

    exprs = dashboard_exprs(dashboard)
    rules = api(base, "rules", type="alert")["groups"]
    alert_rules = [(f"alert {r['name']}", r["query"]) for g in rules for r in g["rules"]]
    if not alert_rules:
        problems.append("Prometheus loaded no alert rules")
    exprs += alert_rules

    used = {}
    for where, expr in exprs:
        result = api(base, "query", query=expr)
        if result.get("resultType") not in ("vector", "scalar"):
            problems.append(f"{where}: {expr} gives a {result.get('resultType')}")
        for name in metric_names(expr):
            used.setdefault(name, []).append(where)
    for name in sorted(used):
        series = api(base, "query", query=f'count({{__name__="{name}"}})')["result"]
        if not series:
            problems.append(f"metric {name} has no series (used by {', '.join(sorted(set(used[name])))})")

    print(f"prometheus: {len(expected_targets(targets_dir))} targets, {len(exprs)} expressions "
          f"({len(alert_rules)} alert rules), {len(used)} metrics checked")
    for problem in problems:
        print(f"prometheus: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
