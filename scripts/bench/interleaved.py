#!/usr/bin/env python3
"""interleaved.py RESULTS.jsonl OUT_DIR: the ratio of ours to the floor, through NGINX and direct,
from bench.sh's interleaved mode (INTERLEAVED=N), written to OUT_DIR/interleaved.md and printed.

The mode labels its fan-out rows ours-PATH-rK and floor-PATH-rK (PATH nginx or direct, round K).
For each path, size and rate: every round's p50 and p99 of both, their ratios (ours ÷ floor), the
median ratio over the rounds and whether it meets MAX_RATIO with nothing lost or out of order in
any round of ours, and what any round lost or delivered out of order. A round where one side is
missing, or delivered nothing, has no ratio and is named as such."""

import json
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

# The target: ours ÷ the floor on the same path at p50 and at p99, as the median of the rounds.
MAX_RATIO = 1.15
LABEL = re.compile(r"^(ours|floor)-(nginx|direct)-r(\d+)$")
# Each path's table: its title and what its two sides are called.
PATHS = {"nginx": ("ours-nginx ÷ floor-nginx", "ours-nginx", "floor-nginx"),
         "direct": ("ours-direct ÷ floor (straight to the broadcasters)", "ours-direct", "floor")}


def load(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def rounds_by_cell(rows):
    """{path: {(viewers, rate): {round: {"ours": row, "floor": row}}}} from the mode's fan-out rows."""
    paths = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    for r in rows:
        m = LABEL.match(r.get("label", "")) if r.get("kind") == "fanout" else None
        if m:
            paths[m.group(2)][(r["viewers"], r["rate"])][int(m.group(3))][m.group(1)] = r
    return paths


def quantile_ratio(ours, floor, q):
    """ours ÷ floor at quantile q ("p50_ms"/"p99_ms"), or None when either delivered nothing."""
    if not ours or not floor:
        return None
    if ours["latency"]["count"] == 0 or floor["latency"]["count"] == 0 or not floor["latency"][q]:
        return None
    return ours["latency"][q] / floor["latency"][q]


def fmt_ms(row, q):
    return "–" if not row or row["latency"]["count"] == 0 else f"{row['latency'][q]:.1f}"


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}"


def losses(row):
    """What a row lost or misordered, in words ("" when nothing)."""
    if not row:
        return "no run"
    notes = [f"{row[k]:,} {w}" for k, w in (("missing", "missing"), ("out_of_order", "out of order"),
                                            ("duplicates", "duplicates"), ("closed", "closed"))
             if row.get(k)]
    if row.get("ready", 0) < row.get("viewers", 0):
        notes.append(f"{row['ready']:,} of {row['viewers']:,} connected")
    return ", ".join(notes)


def cell_lines(viewers, rate, rounds):
    """The rows of one size and rate: one per round, then the medians."""
    lines, p50s, p99s = [], [], []
    for k in sorted(rounds):
        ours, floor = rounds[k].get("ours"), rounds[k].get("floor")
        r50, r99 = quantile_ratio(ours, floor, "p50_ms"), quantile_ratio(ours, floor, "p99_ms")
        if r50 is not None:
            p50s.append(r50)
        if r99 is not None:
            p99s.append(r99)
        lost = "; ".join(f"{side}: {text}" for side, text in (("ours", losses(ours)), ("floor", losses(floor)))
                         if text)
        lines.append([f"{viewers:,}", f"{rate:g}", str(k), f"{fmt_ms(ours, 'p50_ms')} / {fmt_ms(ours, 'p99_ms')}",
                      f"{fmt_ms(floor, 'p50_ms')} / {fmt_ms(floor, 'p99_ms')}", fmt_ratio(r50), fmt_ratio(r99),
                      lost or "none"])
    m50 = statistics.median(p50s) if p50s else None
    m99 = statistics.median(p99s) if p99s else None
    # The target also wants every round of ours whole: nothing lost, nothing out of order.
    whole = all(r.get("ours") and not r["ours"]["missing"] and not r["ours"]["out_of_order"]
                for r in rounds.values())
    met = m50 is not None and m99 is not None and m50 <= MAX_RATIO and m99 <= MAX_RATIO and whole
    verdict = f"≤ {MAX_RATIO} at both, 0 lost: " + ("met" if met else "**missed**")
    lines.append([f"{viewers:,}", f"{rate:g}", f"median of {len(p50s)}", "", "",
                  f"**{fmt_ratio(m50)}**", f"**{fmt_ratio(m99)}**", verdict])
    return lines


def report(rows):
    paths = rounds_by_cell(rows)
    out = []
    for path, (title, ours_name, floor_name) in PATHS.items():
        cells = paths.get(path)
        if not cells:
            continue
        header = ["viewers", "changes/s", "round", f"{ours_name} p50 / p99 ms", f"{floor_name} p50 / p99 ms",
                  "ratio p50", "ratio p99", "lost, out of order"]
        out += [("\n" if out else "") + f"### {title}, interleaved rounds\n",
                "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for (viewers, rate) in sorted(cells):
            out += ["| " + " | ".join(line) + " |" for line in cell_lines(viewers, rate, cells[(viewers, rate)])]
    if not out:
        out.append("(no ours-PATH-rK / floor-PATH-rK rows in this results file)")
    return "\n".join(out) + "\n"


def main():
    rows = load(sys.argv[1])
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    text = report(rows)
    (out_dir / "interleaved.md").write_text(text)
    print(text)
    print(f"written: {out_dir / 'interleaved.md'}")


if __name__ == "__main__":
    main()
