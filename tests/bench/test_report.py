"""scripts/bench/report.py on rows a run can produce, including a phase whose viewers got none
of the changes (an overloaded target at 20,000 viewers): the tables are still written, and such
a phase counts against the target that had it, never for it."""

import contextlib
import importlib.util
import io
import json
import tempfile
import unittest
from pathlib import Path
from unittest import mock

REPORT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "report.py"
spec = importlib.util.spec_from_file_location("report", REPORT)
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def summary(p50, p99, count):
    return {"count": count, "mean_ms": p50, "p50_ms": p50, "p90_ms": p99, "p99_ms": p99,
            "p999_ms": p99, "max_ms": p99}


def fanout(label, viewers, p50, p99, delivered=True):
    expected = viewers * 60
    got = expected if delivered else 0
    latency = summary(p50, p99, got) if delivered else summary(0.0, 0.0, 0)
    return {"kind": "fanout", "label": label, "protocol": "seatmap", "viewers": viewers,
            "ready": viewers, "connect_failed": 0, "connect_error": None, "connect_s": 1.0,
            "join_p50_ms": 1.0, "join_p99_ms": 2.0, "rate": 10.0, "changes": 60,
            "change_failures": 0, "achieved_rate": 10.0, "drain_s": 0.1 if delivered else 3.0,
            "drained": delivered, "latency": latency, "upstream": summary(1.0, 2.0, 60),
            "hop": latency, "state_bytes": 4047, "delivered": got, "expected": expected,
            "missing": expected - got, "resynced": 0, "duplicates": 0, "out_of_order": 0,
            "closed": 0, "close_reasons": [],
            "cpu": {"edge": {"ms": 100, "per_1000_deliveries_ms": 1.0 if delivered else 0.0}},
            "client_cpu_ms": 100, "memory": {}}


def targets(rows):
    """The Targets table as {target: (measured, verdict, where)}."""
    with tempfile.TemporaryDirectory() as out:
        results = Path(out) / "results.jsonl"
        results.write_text("".join(json.dumps(r) + "\n" for r in rows))
        with mock.patch.object(report.sys, "argv", ["report.py", str(results), out]), \
                contextlib.redirect_stdout(io.StringIO()):
            report.main()
        tables = (Path(out) / "tables.md").read_text()
    section = tables.split("### Targets")[1].split("###")[0]
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return {c[0]: tuple(c[1:]) for c in cells[1:]}


NGINX_10K = "10,000 viewers through NGINX, 10 changes/s: p99 ≤ 50 ms, 0 lost"
DIRECT_PEER = "ours-direct ≤ nats-server's WebSocket listener at p50 and p99, every size"
DIRECT_FLOOR = "ours-direct within 2× of the floor"


class ReportTest(unittest.TestCase):
    def test_a_reference_that_delivered_nothing_is_not_compared(self):
        rows = [fanout("ours-direct", 10000, 20.0, 40.0), fanout("ours-nginx", 10000, 30.0, 45.0),
                fanout("peer", 10000, 0.0, 0.0, delivered=False),
                fanout("floor", 10000, 0.0, 0.0, delivered=False),
                fanout("floor-nginx", 10000, 0.0, 0.0, delivered=False)]
        got = targets(rows)
        self.assertEqual(got[NGINX_10K], ("p99 45.0 ms, 0 lost", "met", ""))
        self.assertEqual(got[DIRECT_PEER], ("worse in 0 cells", "met", ""))
        self.assertEqual(got[DIRECT_FLOOR], ("over 2× in 0 cells", "met", ""))

    def test_a_target_that_delivered_nothing_misses(self):
        rows = [fanout("ours-direct", 10000, 0.0, 0.0, delivered=False),
                fanout("ours-nginx", 10000, 0.0, 0.0, delivered=False),
                fanout("peer", 10000, 25.0, 50.0), fanout("floor", 10000, 10.0, 20.0),
                fanout("floor-nginx", 10000, 12.0, 30.0)]
        got = targets(rows)
        self.assertEqual(got[NGINX_10K][:2], ("p99 0.00 ms, 600,000 lost", "**missed**"))
        self.assertEqual(got[DIRECT_PEER],
                         ("worse in 1 cells", "**missed**", "10,000@10/s delivered nothing"))
        self.assertEqual(got[DIRECT_FLOOR],
                         ("over 2× in 1 cells", "**missed**", "10,000@10/s delivered nothing"))

    def test_slower_cells_name_the_ratio(self):
        got = targets([fanout("ours-direct", 1000, 30.0, 90.0), fanout("peer", 1000, 20.0, 100.0),
                       fanout("floor", 1000, 10.0, 40.0)])
        self.assertEqual(got[DIRECT_PEER], ("worse in 1 cells", "**missed**", "1,000@10/s p50 ×1.50"))
        self.assertEqual(got[DIRECT_FLOOR],
                         ("over 2× in 2 cells", "**missed**", "1,000@10/s p50 ×3.00; 1,000@10/s p99 ×2.25"))


if __name__ == "__main__":
    unittest.main()


def storm(calm_p99, during_p99, rejoined=10000, last_s=5.0, missing=0, peak_kib=3.0):
    def deliveries(p99, missing=0):
        return {"latency": summary(p99 / 4, p99, 1000), "before_join": 0, "expected": 1000,
                "delivered": 1000 - missing, "missing": missing, "resynced": 0, "duplicates": 0,
                "out_of_order": 0, "closed": 0, "drained": True}
    return {"kind": "storm", "label": "storm-arena", "venue": "arena", "compact": True,
            "steady": 1000, "storm": 10000, "within_s": 2.0, "rate": 10.0, "state_bytes": 23000,
            "calm": deliveries(calm_p99), "during": deliveries(during_p99),
            "rejoined": rejoined, "rejoin_failed": 10000 - rejoined, "rejoin": summary(900, 2400, rejoined),
            "all_rejoined_s": last_s, "rejoin_error": None, "storm_updates": deliveries(0, missing),
            "rss_empty_kib": 1, "rss_joined_kib": 2, "rss_peak_kib": 3,
            "peak_kib_per_connection": peak_kib}


STORM_ALL = "10,000 viewers reconnecting within 2 s: every one has the state within 10 s, 0 lost"
STORM_STEADY = "1,000 steady viewers during the storm: p99 ≤ 2× their p99 without it"
STORM_MEMORY = "edge memory per connection at the storm's peak ≤ 16 KiB"
COMPACT_SIZE = "compact VENUE_STATE of the arena, 5 % held and 50 % booked, ≤ 32 KB"


class StormTargets(unittest.TestCase):
    def test_a_storm_within_its_bounds_meets_every_target(self):
        fill = {"kind": "fill", "venue": "arena", "seats": 11888, "held": 594, "booked": 5945,
                "failed": 0, "seconds": 3.0}
        compact = dict(fanout("venue-arena-compact", 200, 2.0, 5.0), state_bytes=23651)
        got = targets([fill, compact, storm(400, 700)])
        self.assertEqual(got[COMPACT_SIZE][1], "met")
        self.assertEqual(got[STORM_ALL][1], "met")
        self.assertEqual(got[STORM_STEADY][1], "met")
        self.assertIn("×1.75", got[STORM_STEADY][0])
        self.assertEqual(got[STORM_MEMORY][1], "met")

    def test_each_bound_crossed_is_a_miss(self):
        got = targets([storm(100, 250, rejoined=9990, peak_kib=20.0)])
        self.assertEqual(got[STORM_ALL][1], "**missed**")
        self.assertEqual(got[STORM_STEADY][1], "**missed**")
        self.assertEqual(got[STORM_MEMORY][1], "**missed**")
        self.assertEqual(targets([storm(100, 150, last_s=11.0)])[STORM_ALL][1], "**missed**")
        self.assertEqual(targets([storm(100, 150, missing=1)])[STORM_ALL][1], "**missed**")


class TogetherTables(unittest.TestCase):
    def test_seats_together_and_the_rush_have_their_tables(self):
        redis = {"calls": 10, "usec_per_call": 80.0, "p50_usec": 60.0, "p99_usec": 400.0, "p999_usec": 900.0}
        api = {"kind": "api", "label": "together-best", "mode": "best", "concurrency": 64, "requests": 200,
               "seconds": 10.0, "per_second": 20.0, "errors": {}, "latency": summary(2.0, 9.0, 200),
               "select": summary(3.0, 10.0, 100), "release": summary(1.0, 4.0, 100), "cpu": {}, "redis": redis}
        rush = {"kind": "best_rush", "label": "best-rush", "venue": "arena", "concurrency": 64, "asks": 2000,
                "seconds": 4.0, "per_second": 500.0, "latency": summary(5.0, 30.0, 2000),
                "codes": {"OK": 1990, "NO_SEATS_TOGETHER": 10}, "seats_held": 5970, "violations": 0}
        out = report.together_tables([api, rush])
        self.assertIn("| together-best | 64 | 10 | 3.00 | 10.0 | 4.00 | 0 | 80 | 60 | 400 |", out)
        self.assertIn("| best-rush | arena | 2,000 | 64 | 500 |", out)
        self.assertIn("| – | – | – |", out, "a rush without --redis shows dashes")
        self.assertEqual(report.together_tables([]), "")


class SecureTables(unittest.TestCase):
    def test_each_plain_run_stands_beside_the_secure_run_of_its_round(self):
        def api(label, per_second, p50, p99):
            return {"kind": "api", "label": label, "concurrency": 64, "requests": 100, "seconds": 10.0,
                    "per_second": per_second, "errors": {}, "latency": summary(p50, p99, 100),
                    "cpu": {"booking": {"ms": 1, "cores": 0.5, "us_per_request": 20.0}}}
        rows = [fanout("secure0-direct-r1", 1000, 5.0, 10.0), fanout("secure1-direct-r1", 1000, 6.0, 15.0),
                fanout("secure0-nginx-r1", 1000, 8.0, 20.0),   # its SECURE=1 run is missing: no row
                api("secure0-api-nginx-pool4-r1", 20000.0, 2.0, 5.0),
                api("secure1-api-nginx-pool4-r1", 15000.0, 3.0, 6.0),
                {"kind": "syscalls", "label": "secure1-api-nginx-pool4-r1", "process": "redis", "seconds": 2,
                 "counts": {"fdatasync": 7500, "fsync": 0}}]
        out = report.secure_tables(rows)
        self.assertIn("| 1,000 | 10 | direct | 1 | 5.00 / 6.00 | 10.0 / 15.0 | 1.20 | 1.50 | 1.00 / 1.00 |", out)
        self.assertNotIn("| 10 | nginx |", out)
        self.assertIn("| nginx-pool4 | 1 | 20,000 / 15,000 | 0.75 | 2.00 / 3.00 | 5.00 / 6.00 | – / 4.0 |", out)
        self.assertEqual(report.secure_tables([fanout("ours-direct", 1000, 5.0, 10.0)]), "")
