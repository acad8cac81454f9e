#!/usr/bin/env python3
"""report.py RESULTS.jsonl OUT_DIR: turns bench.sh's JSON lines into OUT_DIR/tables.md and
OUT_DIR/latency-vs-viewers.png (matplotlib; skipped with a note when it is not installed).

Every figure comes from the run's own results file; nothing is typed in by hand."""

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

TARGETS = ["ours-direct", "ours-nginx", "peer", "peer-nginx", "floor", "floor-nginx"]
NAMES = {
    "ours-direct": "ours, direct to the edges",
    "ours-nginx": "ours, through NGINX",
    "peer": "nats-server WebSocket",
    "peer-nginx": "nats-server WebSocket through NGINX",
    "floor": "floor (minimal broadcaster)",
    "floor-nginx": "floor through the same NGINX",
}


def load(path):
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line:
            rows.append(json.loads(line))
    return rows


def ms(x):
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def num(x):
    return f"{x:,.0f}" if isinstance(x, (int, float)) else str(x)


def ratio(a, b):
    if not a or not b:
        return "–"
    return f"{a / b:.2f}"


def delivered_nothing(r):
    """A phase whose viewers got none of the changes: its latency figures are zeros, not
    measurements (seatbench gives up once nothing new arrives for 3 s)."""
    return r["latency"]["count"] == 0 and r["expected"] > 0


def slower_cells(a, ref, n, rate, factor):
    """Where row a is slower than factor × row ref at p50 or p99, as "n@rate/s p50 ×ratio" notes.
    A phase of a that delivered nothing is slower than any; a ref that delivered nothing has no
    latency to compare with, so it adds no note (the latency table shows what it lost)."""
    where = f"{n:,}@{rate:g}/s"
    if delivered_nothing(a):
        return [f"{where} delivered nothing"]
    if delivered_nothing(ref):
        return []
    return [f"{where} {q[:3]} ×{a['latency'][q] / ref['latency'][q]:.2f}"
            for q in ("p50_ms", "p99_ms") if a["latency"][q] > factor * ref["latency"][q]]


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def fanout_tables(rows):
    fan = [r for r in rows if r.get("kind") == "fanout" and r["label"] in TARGETS]
    by = {(r["label"], r["viewers"], r["rate"]): r for r in fan}
    sizes = sorted({r["viewers"] for r in fan})
    rates = sorted({r["rate"] for r in fan})
    out = []
    out.append("### Latency per delivery (API call → viewer reads the frame)\n")
    header = ["viewers", "changes/s", "target", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
              "deliveries", "missing", "out of order", "dup", "resynced", "closed",
              "server CPU ms / 1k deliveries", "client CPU ms / 1k"]
    body = []
    for n in sizes:
        for rate in rates:
            for t in TARGETS:
                r = by.get((t, n, rate))
                if not r:
                    continue
                l = r["latency"]
                cpu = "; ".join(f"{k} {v['per_1000_deliveries_ms']:.1f}" for k, v in r["cpu"].items())
                client = r["client_cpu_ms"] / max(r["delivered"] / 1000, 1e-9) if r["delivered"] else 0
                missing = num(r["missing"])
                if r["missing"] and not r.get("drained", True):
                    missing += f" (still arriving after {r['drain_s']:.0f} s)"
                body.append([num(r["ready"]), num(rate), t, ms(l["p50_ms"]), ms(l["p99_ms"]),
                             ms(l["p999_ms"]), ms(l["max_ms"]), num(r["delivered"]),
                             missing, num(r["out_of_order"]), num(r["duplicates"]),
                             num(r["resynced"]), num(r["closed"]), cpu, f"{client:.1f}"])
    out.append(table(header, body))

    out.append("\n### Ratios (same run, same client): ours ÷ peer and ours ÷ floor\n")
    header = ["viewers", "changes/s", "direct ÷ peer p50", "direct ÷ peer p99", "direct ÷ floor p50",
              "direct ÷ floor p99", "nginx ÷ peer p50", "nginx ÷ peer p99", "nginx ÷ floor p50",
              "nginx ÷ floor p99", "nginx ÷ peer-nginx p50", "nginx ÷ peer-nginx p99",
              "nginx ÷ floor-nginx p50", "nginx ÷ floor-nginx p99"]
    body = []
    for n in sizes:
        for rate in rates:
            d, g, p, pg, f, fg = (by.get((t, n, rate)) for t in TARGETS)
            cell = lambda a, b, q: ratio(a["latency"][q] if a else None, b["latency"][q] if b else None)
            body.append([num(n), num(rate), cell(d, p, "p50_ms"), cell(d, p, "p99_ms"),
                         cell(d, f, "p50_ms"), cell(d, f, "p99_ms"), cell(g, p, "p50_ms"),
                         cell(g, p, "p99_ms"), cell(g, f, "p50_ms"), cell(g, f, "p99_ms"),
                         cell(g, pg, "p50_ms"), cell(g, pg, "p99_ms"),
                         cell(g, fg, "p50_ms"), cell(g, fg, "p99_ms")])
    out.append(table(header, body))

    out.append("\n### The fan-out hop alone (a plain NATS subscriber got the change → viewer)\n")
    header = ["viewers", "changes/s", "API → NATS p50", "API → NATS p99"] + \
             [f"{t} p50 / p99" for t in TARGETS]
    body = []
    for n in sizes:
        for rate in rates:
            cells = [num(n), num(rate)]
            up = next((by[(t, n, rate)].get("upstream") for t in TARGETS if (t, n, rate) in by), None)
            cells += [ms(up["p50_ms"]) if up else "–", ms(up["p99_ms"]) if up else "–"]
            for t in TARGETS:
                r = by.get((t, n, rate))
                h = r.get("hop") if r else None
                cells.append(f"{ms(h['p50_ms'])} / {ms(h['p99_ms'])}" if h and h["count"] else "–")
            body.append(cells)
    out.append(table(header, body))

    out.append("\n### Memory per connection (RSS before connecting, idle with every viewer connected, after the traffic)\n")
    header = ["viewers", "process", "before MiB", "idle MiB", "after MiB", "KiB / idle connection",
              "KiB / connection after traffic"]
    body = []
    for n in sizes:
        for t, proc in [("ours-direct", "edge"), ("ours-nginx", "nginx"), ("peer", "nats"),
                        ("peer-nginx", "nginx"), ("floor", "floor"), ("floor-nginx", "nginx")]:
            rs = [r for r in fan if r["label"] == t and r["viewers"] == n]
            if not rs:
                continue
            m = rs[-1]["memory"].get(proc)
            if not m:
                continue
            body.append([num(n), f"{proc} ({t})", f"{m['rss_before_kib'] / 1024:.1f}",
                         f"{m['rss_idle_kib'] / 1024:.1f}", f"{m['rss_after_kib'] / 1024:.1f}",
                         f"{m['idle_kib_per_connection']:.1f}", f"{m['after_kib_per_connection']:.1f}"])
    out.append(table(header, body))
    return "\n".join(out), by, sizes, rates


def targets_table(rows, by, sizes, rates):
    """Each target of issue 10, met or missed, from this run's own numbers."""
    out = ["### Targets\n"]
    body = []

    def verdict(ok):
        return "met" if ok else "**missed**"

    r = by.get(("ours-nginx", 10000, 10.0))
    if r:
        lost = r["missing"] + r["closed"] + r.get("connect_failed", 0)
        p99 = r["latency"]["p99_ms"]
        where = f"{p99 / 50:.1f}× the target" if p99 > 50 else ""
        bound = by.get(("floor-nginx", 10000, 10.0))
        if bound and not delivered_nothing(bound):
            where += (f"; the floor through the same NGINX: p99 {ms(bound['latency']['p99_ms'])} ms"
                      f" (ours ×{p99 / bound['latency']['p99_ms']:.2f})")
        body.append(["10,000 viewers through NGINX, 10 changes/s: p99 ≤ 50 ms, 0 lost",
                     f"p99 {ms(p99)} ms, {num(lost)} lost", verdict(p99 <= 50 and lost == 0),
                     where.lstrip("; ")])
    def worse_than(t, ref):
        """The cells where t is slower than ref at p50 or p99, and whether any cell had both."""
        worse, compared = [], False
        for n in sizes:
            for rate in rates:
                a, p = by.get((t, n, rate)), by.get((ref, n, rate))
                if a and p:
                    compared = True
                    worse += slower_cells(a, p, n, rate, 1)
        return worse, compared

    for t in ("ours-direct", "ours-nginx"):
        if not any(key[0] == t for key in by):
            continue  # not run (PARTS without fanout, or TARGETS without it): nothing to judge
        worse, _ = worse_than(t, "peer")
        body.append([f"{t} ≤ nats-server's WebSocket listener at p50 and p99, every size",
                     f"worse in {len(worse)} cells", verdict(not worse), "; ".join(worse)])
        if t == "ours-nginx":
            worse, compared = worse_than(t, "peer-nginx")
            if compared:
                body.append(["ours-nginx ≤ nats-server's WebSocket listener through the same NGINX",
                             f"worse in {len(worse)} cells", verdict(not worse), "; ".join(worse)])
        over = []
        for n in sizes:
            for rate in rates:
                a, f = by.get((t, n, rate)), by.get(("floor", n, rate))
                if a and f:
                    over += slower_cells(a, f, n, rate, 2)
        body.append([f"{t} within 2× of the floor", f"over 2× in {len(over)} cells", verdict(not over),
                     "; ".join(over)])
    idle = [r["memory"]["edge"]["idle_kib_per_connection"] for r in rows
            if r.get("kind") == "fanout" and r["label"] == "ours-direct" and "edge" in r["memory"]
            and r["ready"] >= 1000]
    if idle:
        worst = max(idle)
        body.append(["≤ 8 KiB edge RSS per idle connection", f"{min(idle):.1f}–{worst:.1f} KiB",
                     verdict(worst <= 8), f"{worst / 8:.1f}× the target" if worst > 8 else ""])
    api = [r for r in rows if r.get("kind") == "api" and r["label"].startswith("api-direct")]
    if api:
        best = max(api, key=lambda r: r["per_second"])
        ok = best["per_second"] >= 20000 and best["latency"]["p99_ms"] <= 10
        body.append(["booking API ≥ 20,000 select+release requests/s, p99 ≤ 10 ms (direct)",
                     f"{num(best['per_second'])} req/s, p99 {ms(best['latency']['p99_ms'])} ms ({best['label']})",
                     verdict(ok), f"as pairs: {num(best['per_second'] / 2)} select+release pairs/s"])
    body += venue_targets(rows, verdict)
    out.append(table(["target", "measured", "verdict", "by how much / where"], body))
    return "\n".join(out)


def venue_targets(rows, verdict):
    """The large-venue targets: the compact arena state's size and the reconnect storm."""
    body = []
    compact = [r for r in rows if r.get("kind") == "fanout" and r["label"] == "venue-arena-compact"]
    fill = next((r for r in rows if r.get("kind") == "fill" and r["venue"] == "arena"), None)
    if compact and fill:
        size = compact[-1].get("state_bytes", 0)
        body.append(["compact VENUE_STATE of the arena, 5 % held and 50 % booked, ≤ 32 KB",
                     f"{num(size)} bytes ({num(fill['held'])} held, {num(fill['booked'])} booked)",
                     verdict(0 < size <= 32_000), ""])
    for r in (r for r in rows if r.get("kind") == "storm"):
        n, last = r["storm"], r["all_rejoined_s"]
        body.append([f"{num(n)} viewers reconnecting within {r['within_s']:g} s: every one has the state "
                     "within 10 s, 0 lost",
                     f"{num(r['rejoined'])} of {num(n)}, the last {last:.1f} s after the storm began; "
                     f"{num(r['storm_updates']['missing'])} updates missing",
                     verdict(r["rejoined"] == n and last <= 10 and r["storm_updates"]["missing"] == 0), ""])
        calm, during = r["calm"]["latency"]["p99_ms"], r["during"]["latency"]["p99_ms"]
        ratio = during / calm if calm else float("inf")
        body.append([f"{num(r['steady'])} steady viewers during the storm: p99 ≤ 2× their p99 without it",
                     f"p99 {ms(during)} ms during, {ms(calm)} ms before (×{ratio:.2f})",
                     verdict(ratio <= 2 and r["during"]["missing"] == 0), ""])
        body.append(["edge memory per connection at the storm's peak ≤ 16 KiB",
                     f"{r['peak_kib_per_connection']:.1f} KiB", verdict(r["peak_kib_per_connection"] <= 16), ""])
    return body


def venue_tables(rows):
    ven = [r for r in rows if r.get("kind") == "fanout" and r["label"].startswith("venue-")]
    if not ven:
        return ""
    snaps = {r["venue"]: r for r in rows if r.get("kind") == "venue_snapshot"}
    fills = {r["venue"]: r for r in rows if r.get("kind") == "fill"}
    header = ["venue", "seats", "filled", "snapshot bytes (HTTP)", "state form", "viewers asked",
              "got VENUE_STATE", "VENUE_STATE bytes", "join p50 ms",
              "join p99 ms", "edge KiB / connection", "deliveries", "missing", "resynced",
              "failed to join", "why"]
    body = []
    for r in ven:
        m = r["memory"].get("edge", {})
        name, _, form = r["label"][6:].rpartition("-")
        if form not in ("full", "compact"):
            name, form = r["label"][6:], "full"
        snap = snaps.get(name, {})
        fill = fills.get(name)
        filled = f"{num(fill['booked'])} booked, {num(fill['held'])} held" if fill else "empty"
        body.append([name, num(snap.get("seats", 0)), filled, num(snap.get("bytes", 0)), form,
                     num(r["viewers"]), num(r["ready"]), num(r.get("state_bytes", 0)),
                     ms(r["join_p50_ms"]), ms(r["join_p99_ms"]),
                     f"{m.get('idle_kib_per_connection', 0):.1f}", num(r["delivered"]),
                     num(r["missing"]), num(r["resynced"]), num(r.get("connect_failed", 0)),
                     (r.get("connect_error") or "; ".join(r.get("close_reasons", [])))[:120]])
    return "### Large venues\n\n" + table(header, body)


def storm_tables(rows):
    storms = [r for r in rows if r.get("kind") == "storm"]
    if not storms:
        return ""
    header = ["run", "venue", "state", "steady", "storm", "within s", "state bytes",
              "steady p50 / p99 ms, calm", "steady p50 / p99 ms, storm", "p99 ratio",
              "rejoined", "rejoin p50 / p99 / max ms", "last rejoined s", "storm viewers' missing",
              "steady missing", "edge peak KiB / connection"]
    body = []
    for r in storms:
        calm, during, rejoin = r["calm"]["latency"], r["during"]["latency"], r["rejoin"]
        ratio = during["p99_ms"] / calm["p99_ms"] if calm["p99_ms"] else float("nan")
        body.append([r["label"], r["venue"], "compact" if r["compact"] else "full", num(r["steady"]),
                     num(r["storm"]), f"{r['within_s']:g}", num(r["state_bytes"]),
                     f"{ms(calm['p50_ms'])} / {ms(calm['p99_ms'])}",
                     f"{ms(during['p50_ms'])} / {ms(during['p99_ms'])}", f"{ratio:.2f}",
                     f"{num(r['rejoined'])} of {num(r['storm'])}",
                     f"{ms(rejoin['p50_ms'])} / {ms(rejoin['p99_ms'])} / {ms(rejoin['max_ms'])}",
                     f"{r['all_rejoined_s']:.1f}", num(r["storm_updates"]["missing"]),
                     num(r["calm"]["missing"] + r["during"]["missing"]),
                     f"{r['peak_kib_per_connection']:.1f}"])
    return "### Reconnect storm\n\n" + table(header, body)


def api_tables(rows):
    api = [r for r in rows if r.get("kind") == "api" and r["label"].startswith("api")]
    if not api:
        return ""
    out = ["### Booking API: select + release\n"]
    header = ["run", "connections", "requests/s", "pairs/s", "p50 ms", "p90 ms", "p99 ms",
              "p99.9 ms", "max ms", "errors", "CPU µs per request"]
    body = []
    for r in api:
        l = r["latency"]
        cpu = "; ".join(f"{k} {v['us_per_request']:.1f}" for k, v in r["cpu"].items())
        body.append([r["label"], num(r["concurrency"]), num(r["per_second"]), num(r["per_second"] / 2),
                     ms(l["p50_ms"]), ms(l["p90_ms"]), ms(l["p99_ms"]), ms(l["p999_ms"]),
                     ms(l["max_ms"]), json.dumps(r["errors"]) if r["errors"] else "0", cpu])
    out.append(table(header, body))
    rb = [r for r in rows if r.get("kind") == "redis_benchmark"]
    if rb:
        out.append("\nredis-benchmark on the same Redis (same redis.conf, appendfsync always), same concurrency, right after each API run:\n")
        header = ["after", "command", "clients", "requests/s", "p50 ms", "p99 ms", "max ms",
                  "Redis cores", "API ÷ redis-benchmark (throughput)"]
        body = []
        apis = [r for r in api if r["label"].startswith("api-direct")]
        for i, r in enumerate(rb):
            a = apis[i] if i < len(apis) else None
            body.append([a["label"] if a else "", r["command"], num(r["concurrency"]),
                         num(r["per_second"]), ms(r["latency"]["p50_ms"]), ms(r["latency"]["p99_ms"]),
                         ms(r["latency"]["max_ms"]), f"{r['redis_cores']:.2f}",
                         ratio(a["per_second"], r["per_second"]) if a else "–"])
        out.append(table(header, body))
    cs = {r["label"]: r for r in rows if r.get("kind") == "redis_cmdstats"}
    sc = defaultdict(dict)
    for r in rows:
        if r.get("kind") == "syscalls":
            sc[r["label"]][r["process"]] = r
    lines = []
    for r in api:
        label = r["label"]
        total = r["per_second"] * (r["seconds"] + 2.0)  # the stats cover the warm-up too
        if label in cs:
            cmds = cs[label]["commands"]
            per = ", ".join(f"{k} {v['calls'] / total:.3f} ({v['usec'] / max(v['calls'], 1):.1f} µs)"
                            for k, v in sorted(cmds.items(), key=lambda kv: -kv[1]["calls"])
                            if v["calls"] / total >= 0.001)
            lines.append(f"- `{label}`: Redis commands per API request (µs inside Redis per call): {per}")
        for proc, s in sorted(sc.get(label, {}).items()):
            reqs = r["per_second"] * s["seconds"]
            c = s["counts"]
            per = ", ".join(f"{k} {v / reqs:.3f}" for k, v in c.items() if v)
            lines.append(f"- `{label}`: {proc} system calls per API request: {per}")
            syncs = c.get("fdatasync", 0) + c.get("fsync", 0)
            if proc == "redis" and syncs:
                lines.append(f"  → {reqs / syncs:.1f} API requests per AOF fsync (group commit); "
                             f"{reqs / max(c.get('epoll_wait', 1), 1):.1f} per event-loop iteration")
    if lines:
        out.append("\nWhere the time goes:\n\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


def together_tables(rows):
    """Seats together on the arena: one seat, a group, best available (each then released),
    with Redis's own EVALSHA time; then the best-available rush."""
    api = [r for r in rows if r.get("kind") == "api" and r["label"].startswith("together-")]
    rush = [r for r in rows if r.get("kind") == "best_rush"]
    if not api and not rush:
        return ""
    out = ["### Seats together: one seat, a group, best available\n"]
    redis_cells = lambda x: ([f"{x['usec_per_call']:.0f}", f"{x['p50_usec']:.0f}", f"{x['p99_usec']:.0f}"]
                             if x else ["–", "–", "–"])
    if api:
        header = ["run", "connections", "holds/s", "hold p50 ms", "hold p99 ms", "release p99 ms",
                  "errors", "Redis µs/script mean", "p50", "p99"]
        body = []
        for r in api:
            body.append([r["label"], num(r["concurrency"]), num(r["per_second"] / 2),
                         ms(r["select"]["p50_ms"]), ms(r["select"]["p99_ms"]), ms(r["release"]["p99_ms"]),
                         json.dumps(r["errors"]) if r["errors"] else "0"] + redis_cells(r.get("redis")))
        out.append(table(header, body))
    if rush:
        out.append("\nBest-available rush (each identity asks once for 2-4 seats; nothing released):\n")
        header = ["run", "venue", "asks", "connections", "asks/s", "p50 ms", "p99 ms", "answers",
                  "seats held", "wrong", "Redis µs/script mean", "p50", "p99"]
        body = []
        for r in rush:
            l = r["latency"]
            body.append([r["label"], r["venue"], num(r["asks"]), num(r["concurrency"]), num(r["per_second"]),
                         ms(l["p50_ms"]), ms(l["p99_ms"]), json.dumps(r["codes"]), num(r["seats_held"]),
                         num(r["violations"])] + redis_cells(r.get("redis")))
        out.append(table(header, body))
    return "\n".join(out) + "\n"


def plot(by, sizes, rates, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib): no plot"
    if not rates:
        return "no fan-out rows: no plot"
    fig, axes = plt.subplots(1, len(rates), figsize=(6.5 * len(rates), 4.8), squeeze=False)
    colors = {"ours-direct": "tab:blue", "ours-nginx": "tab:cyan", "peer": "tab:orange",
              "peer-nginx": "tab:red", "floor": "tab:green", "floor-nginx": "tab:olive"}
    for ax, rate in zip(axes[0], rates):
        for t in TARGETS:
            pts = [(n, by[(t, n, rate)]) for n in sizes if (t, n, rate) in by]
            if not pts:
                continue
            xs = [r["ready"] for _, r in pts]
            ax.plot(xs, [r["latency"]["p50_ms"] for _, r in pts], "o-", color=colors[t],
                    label=f"{NAMES[t]} p50")
            ax.plot(xs, [r["latency"]["p99_ms"] for _, r in pts], "s--", color=colors[t],
                    label=f"{NAMES[t]} p99", alpha=0.8)
        if rate == 10:
            ax.axhline(50, color="red", lw=0.8, ls=":", label="target: p99 ≤ 50 ms at 10,000 viewers")
        ax.set_xscale("log")
        ax.set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("viewers")
        ax.set_ylabel("API call → viewer, ms")
        ax.set_title(f"{rate:g} changes/s")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Fan-out latency vs viewers (seatbench, one 2-core machine)")
    fig.tight_layout()
    path = Path(out_dir) / "latency-vs-viewers.png"
    fig.savefig(path, dpi=110)
    return f"plot: {path}"


def secure_tables(rows):
    """PARTS=secure: each plain run beside the SECURE=1 run of the same round, and the ratio."""
    runs = {}
    for r in rows:
        m = re.fullmatch(r"secure([01])-([a-z0-9-]+)-r(\d+)", r.get("label", ""))
        if m and r.get("kind") in ("fanout", "api"):
            runs[(m[2], r.get("viewers"), r.get("rate"), int(m[3]), m[1])] = r
    fsyncs = {r["label"]: r for r in rows if r.get("kind") == "syscalls" and r["process"] == "redis"}
    if not runs:
        return ""
    both = sorted({k[:4] for k in runs if (*k[:4], "0") in runs and (*k[:4], "1") in runs},
                  key=lambda k: (k[0].startswith("api"), k[0], k[1] or 0, k[2] or 0, k[3]))
    cpu = lambda r, unit: "; ".join(f"{k} {v[unit]:.1f}" for k, v in r["cpu"].items())
    pair = lambda a, b: f"{a} / {b}"
    out = ["### SECURE=1 beside plain (same run, stacks in turn)\n"]
    header = ["viewers", "changes/s", "path", "round", "p50 ms plain / SECURE=1", "p99 ms plain / SECURE=1",
              "p50 ×", "p99 ×", "API → NATS p50 ms", "CPU ms / 1k deliveries, plain", "SECURE=1"]
    body = []
    for path, n, rate, rnd in (k for k in both if not k[0].startswith("api")):
        a, b = runs[(path, n, rate, rnd, "0")], runs[(path, n, rate, rnd, "1")]
        la, lb = a["latency"], b["latency"]
        up = lambda r: ms(r["upstream"]["p50_ms"]) if r.get("upstream") else "–"
        body.append([num(n), num(rate), path, rnd, pair(ms(la["p50_ms"]), ms(lb["p50_ms"])),
                     pair(ms(la["p99_ms"]), ms(lb["p99_ms"])), ratio(lb["p50_ms"], la["p50_ms"]),
                     ratio(lb["p99_ms"], la["p99_ms"]), pair(up(a), up(b)),
                     cpu(a, "per_1000_deliveries_ms"), cpu(b, "per_1000_deliveries_ms")])
    out.append(table(header, body))
    def per_fsync(r):
        s = fsyncs.get(r["label"])
        done = s and s["counts"].get("fdatasync", 0) + s["counts"].get("fsync", 0)
        return f"{r['per_second'] * s['seconds'] / done:.1f}" if done else "–"
    header = ["API", "round", "requests/s plain / SECURE=1", "÷", "p50 ms", "p99 ms",
              "requests per fsync", "CPU µs / request, plain", "SECURE=1"]
    body = []
    for path, n, rate, rnd in (k for k in both if k[0].startswith("api")):
        a, b = runs[(path, n, rate, rnd, "0")], runs[(path, n, rate, rnd, "1")]
        la, lb = a["latency"], b["latency"]
        body.append([path[4:], rnd, pair(num(a["per_second"]), num(b["per_second"])),
                     ratio(b["per_second"], a["per_second"]), pair(ms(la["p50_ms"]), ms(lb["p50_ms"])),
                     pair(ms(la["p99_ms"]), ms(lb["p99_ms"])), pair(per_fsync(a), per_fsync(b)),
                     cpu(a, "us_per_request"), cpu(b, "us_per_request")])
    out += ["\nThe booking API, select + release:\n", table(header, body)]
    return "\n".join(out)


def main():
    rows = load(sys.argv[1])
    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = next((r for r in rows if r.get("kind") == "machine"), None)
    parts = []
    if machine:
        parts.append(f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['mem_gib']} GiB, "
                     f"{machine['kernel']}; redis {machine['redis']}, nats-server {machine['nats']}, "
                     f"nginx {machine['nginx']}; fd limit {machine['fd_limit']}.\n")
    fan, by, sizes, rates = fanout_tables(rows)
    parts += [targets_table(rows, by, sizes, rates), fan, venue_tables(rows), storm_tables(rows),
              api_tables(rows), together_tables(rows), secure_tables(rows)]
    (out_dir / "tables.md").write_text("\n".join(p for p in parts if p))
    print(plot(by, sizes, rates, out_dir))
    print(f"tables: {out_dir / 'tables.md'}")


if __name__ == "__main__":
    main()
