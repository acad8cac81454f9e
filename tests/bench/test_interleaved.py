"""scripts/bench/interleaved.py on rows bench.sh's interleaved mode writes: each round's ratio
ours ÷ floor on each path (through NGINX, direct), the median over the rounds against the 1.15
target, and a round where a side delivered nothing has no ratio (it neither helps nor hides)."""

import contextlib
import importlib.util
import io
import json
import sys
import tempfile
import unittest
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "interleaved.py"
spec = importlib.util.spec_from_file_location("interleaved", SCRIPT)
interleaved = importlib.util.module_from_spec(spec)
spec.loader.exec_module(interleaved)


def row(label, viewers, p50, p99, delivered=True, missing=0):
    count = viewers * 60 if delivered else 0
    return {"kind": "fanout", "label": label, "viewers": viewers, "ready": viewers, "rate": 10.0,
            "latency": {"count": count, "p50_ms": p50 if delivered else 0.0, "p99_ms": p99 if delivered else 0.0},
            "missing": missing, "out_of_order": 0, "duplicates": 0, "closed": 0}


def medians(text, viewers, title="### ours-nginx"):
    """The two median ratios printed for a size, in the table whose title starts with `title`."""
    table = text[text.index(title):].split("\n\n### ")[0]
    line = next(l for l in table.splitlines() if l.startswith(f"| {viewers:,} |") and "median" in l)
    cells = [c.strip() for c in line.strip("|").split("|")]
    return cells[5].strip("*"), cells[6].strip("*"), cells[7]


class InterleavedReport(unittest.TestCase):
    def test_each_round_and_the_median(self):
        rows = [row("ours-nginx-r1", 1000, 11.0, 22.0), row("floor-nginx-r1", 1000, 10.0, 20.0),
                row("floor-nginx-r2", 1000, 10.0, 20.0), row("ours-nginx-r2", 1000, 13.0, 30.0),
                row("ours-nginx-r3", 1000, 10.0, 21.0), row("floor-nginx-r3", 1000, 10.0, 20.0),
                row("ours-nginx", 1000, 99.0, 99.0)]  # a normal run's row: not a round
        text = interleaved.report(rows)
        self.assertIn("| 1,000 | 10 | 2 | 13.0 / 30.0 | 10.0 / 20.0 | 1.30 | 1.50 | none |", text)
        self.assertEqual(medians(text, 1000), ("1.10", "1.10", "≤ 1.15 at both, 0 lost: met"))

    def test_a_round_that_delivered_nothing_has_no_ratio(self):
        rows = [row("ours-nginx-r1", 5000, 50.0, 120.0), row("floor-nginx-r1", 5000, 40.0, 100.0),
                row("ours-nginx-r2", 5000, 0, 0, delivered=False, missing=300000),
                row("floor-nginx-r2", 5000, 40.0, 100.0)]
        text = interleaved.report(rows)
        self.assertIn("| 5,000 | 10 | 2 | – / – | 40.0 / 100.0 | – | – | ours: 300,000 missing |", text)
        p50, p99, verdict = medians(text, 5000)
        self.assertEqual((p50, p99), ("1.25", "1.20"))
        self.assertIn("missed", verdict)
        self.assertIn("median of 1", text)

    def test_a_loss_misses_the_target_whatever_the_ratios(self):
        rows = [row("ours-nginx-r1", 1000, 10.0, 20.0, missing=3), row("floor-nginx-r1", 1000, 10.0, 20.0)]
        text = interleaved.report(rows)
        self.assertIn("| 1,000 | 10 | 1 | 10.0 / 20.0 | 10.0 / 20.0 | 1.00 | 1.00 | ours: 3 missing |", text)
        self.assertEqual(medians(text, 1000), ("1.00", "1.00", "≤ 1.15 at both, 0 lost: **missed**"))

    def test_each_path_has_its_own_table(self):
        rows = [row("ours-nginx-r1", 1000, 11.0, 22.0), row("floor-nginx-r1", 1000, 10.0, 20.0),
                row("ours-direct-r1", 1000, 5.0, 13.0), row("floor-direct-r1", 1000, 5.0, 10.0),
                row("floor-direct-r2", 1000, 5.0, 10.0), row("ours-direct-r2", 1000, 5.5, 10.0)]
        text = interleaved.report(rows)
        self.assertLess(text.index("### ours-nginx ÷ floor-nginx"), text.index("### ours-direct ÷ floor"))
        self.assertEqual(medians(text, 1000), ("1.10", "1.10", "≤ 1.15 at both, 0 lost: met"))
        self.assertIn("| 1,000 | 10 | 1 | 5.0 / 13.0 | 5.0 / 10.0 | 1.00 | 1.30 | none |", text)
        self.assertEqual(medians(text, 1000, "### ours-direct"),
                         ("1.05", "1.15", "≤ 1.15 at both, 0 lost: met"))
        self.assertIn("| floor p50 / p99 ms |", text)

    def test_main_writes_the_table(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "results.jsonl"
            results.write_text("\n".join(json.dumps(r) for r in [
                {"kind": "machine"}, row("ours-nginx-r1", 1000, 10.0, 20.0), row("floor-nginx-r1", 1000, 10.0, 20.0)]))
            argv = sys.argv
            sys.argv = ["interleaved.py", str(results), tmp]
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    interleaved.main()
            finally:
                sys.argv = argv
            self.assertIn("| 1,000 | 10 | 1 | 10.0 / 20.0 | 10.0 / 20.0 | 1.00 | 1.00 | none |",
                          (Path(tmp) / "interleaved.md").read_text())


if __name__ == "__main__":
    unittest.main()
